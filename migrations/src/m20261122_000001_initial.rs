//! The whole data model: users and teams, projects and what they contain, builds and
//! deployments with their steps and logs, tokens, sessions and the audit log. Constraints follow
//! the data model: uniqueness, checks on closed sets and ranges, and for each foreign key the
//! rule of what happens when its parent goes (cascade, set null, restrict).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn uuid_pk<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().primary_key().take()
}
fn uuid_col<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().not_null().take()
}
fn uuid_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).uuid().null().take()
}
fn text<T: IntoIden>(c: T, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).not_null().take()
}
fn text_null<T: IntoIden>(c: T, len: u32) -> ColumnDef {
    ColumnDef::new(c).string_len(len).null().take()
}
fn long_text_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).text().null().take()
}
fn ts<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}
fn ts_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).timestamp_with_time_zone().null().take()
}
fn json<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).json_binary().not_null().take()
}
fn blob_null<T: IntoIden>(c: T) -> ColumnDef {
    ColumnDef::new(c).blob().null().take()
}
/// A text column restricted to a closed set of values.
fn one_of<T: IntoIden + Copy + 'static>(c: T, values: &[&str]) -> ColumnDef {
    ColumnDef::new(c)
        .string_len(32)
        .not_null()
        .check(Expr::col(c).is_in(values.iter().copied()))
        .take()
}
fn fk(
    name: &str,
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(uuid_pk(Users::Id))
                .col(text(Users::Username, 50).unique_key())
                .col(text(Users::Email, 254).unique_key())
                .col(text(Users::PasswordHash, 255))
                .col(one_of(
                    Users::Role,
                    &["super_admin", "admin", "developer", "viewer"],
                ))
                .col(json(Users::Preferences))
                .col(ts(Users::CreatedAt))
                .col(ts(Users::UpdatedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_users_role")
                .table(Users::Table)
                .col(Users::Role)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Teams::Table)
                .col(uuid_pk(Teams::Id))
                .col(text(Teams::Name, 100).unique_key())
                .col(long_text_null(Teams::Description))
                .col(json(Teams::Settings))
                .col(ts(Teams::CreatedAt))
                .col(ts(Teams::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TeamMembers::Table)
                .col(uuid_pk(TeamMembers::Id))
                .col(uuid_col(TeamMembers::TeamId))
                .col(uuid_col(TeamMembers::UserId))
                .col(one_of(
                    TeamMembers::Role,
                    &["owner", "admin", "member", "viewer"],
                ))
                .col(ts(TeamMembers::JoinedAt))
                .foreign_key(&mut fk(
                    "fk_team_members_team",
                    (TeamMembers::Table, TeamMembers::TeamId),
                    (Teams::Table, Teams::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_team_members_user",
                    (TeamMembers::Table, TeamMembers::UserId),
                    (Users::Table, Users::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_team_members_team_user")
                .table(TeamMembers::Table)
                .col(TeamMembers::TeamId)
                .col(TeamMembers::UserId)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_team_members_user")
                .table(TeamMembers::Table)
                .col(TeamMembers::UserId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(uuid_pk(Projects::Id))
                .col(text(Projects::Name, 100))
                .col(long_text_null(Projects::Description))
                .col(uuid_col(Projects::OwnerId))
                .col(uuid_null(Projects::TeamId))
                .col(json(Projects::Metadata))
                .col(ts(Projects::CreatedAt))
                .col(ts(Projects::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_projects_owner",
                    (Projects::Table, Projects::OwnerId),
                    (Users::Table, Users::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_projects_team",
                    (Projects::Table, Projects::TeamId),
                    (Teams::Table, Teams::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_projects_owner_name")
                .table(Projects::Table)
                .col(Projects::OwnerId)
                .col(Projects::Name)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_projects_team")
                .table(Projects::Table)
                .col(Projects::TeamId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Applications::Table)
                .col(uuid_pk(Applications::Id))
                .col(uuid_col(Applications::ProjectId))
                .col(text(Applications::Name, 63))
                .col(long_text_null(Applications::Description))
                .col(one_of(Applications::Kind, &["docker", "git", "compose"]))
                .col(one_of(
                    Applications::Status,
                    &["stopped", "deploying", "running", "failed", "scaling"],
                ))
                .col(one_of(
                    Applications::SourceType,
                    &["git", "image", "compose"],
                ))
                .col(json(Applications::SourceConfig))
                .col(json(Applications::DockerConfig))
                .col(
                    ColumnDef::new(Applications::Replicas)
                        .integer()
                        .not_null()
                        .check(Expr::col(Applications::Replicas).gte(0)),
                )
                .col(ts(Applications::CreatedAt))
                .col(ts(Applications::UpdatedAt))
                .col(ts_null(Applications::DeletedAt))
                .foreign_key(&mut fk(
                    "fk_applications_project",
                    (Applications::Table, Applications::ProjectId),
                    (Projects::Table, Projects::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        // Names are unique among the applications of a project that are not deleted, so a name
        // can be used again once its application is gone.
        m.create_index(
            Index::create()
                .name("uq_applications_project_name")
                .table(Applications::Table)
                .col(Applications::ProjectId)
                .col(Applications::Name)
                .unique()
                .and_where(Expr::col(Applications::DeletedAt).is_null())
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_status")
                .table(Applications::Table)
                .col(Applications::Status)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GitSources::Table)
                .col(uuid_pk(GitSources::Id))
                .col(uuid_col(GitSources::ApplicationId).unique_key())
                .col(one_of(
                    GitSources::Provider,
                    &["github", "gitlab", "gitea", "bitbucket", "git"],
                ))
                .col(text(GitSources::Repository, 2048))
                .col(text(GitSources::Branch, 255))
                .col(text_null(GitSources::CommitSha, 64))
                .col(blob_null(GitSources::CredentialsEncrypted))
                .col(blob_null(GitSources::WebhookSecretEncrypted))
                .col(ts(GitSources::CreatedAt))
                .col(ts(GitSources::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_git_sources_application",
                    (GitSources::Table, GitSources::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(EnvVars::Table)
                .col(uuid_pk(EnvVars::Id))
                .col(uuid_col(EnvVars::ApplicationId))
                .col(text(EnvVars::Key, 255))
                .col(long_text_null(EnvVars::Value))
                .col(blob_null(EnvVars::SecretValue))
                .col(ColumnDef::new(EnvVars::IsSecret).boolean().not_null())
                .col(ts(EnvVars::CreatedAt))
                .col(ts(EnvVars::UpdatedAt))
                // A secret has only its encrypted value; a plain variable only its plain one.
                .check(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(Expr::col(EnvVars::IsSecret).eq(true))
                                .add(Expr::col(EnvVars::SecretValue).is_not_null())
                                .add(Expr::col(EnvVars::Value).is_null()),
                        )
                        .add(
                            Condition::all()
                                .add(Expr::col(EnvVars::IsSecret).eq(false))
                                .add(Expr::col(EnvVars::Value).is_not_null())
                                .add(Expr::col(EnvVars::SecretValue).is_null()),
                        )
                        .into(),
                )
                .foreign_key(&mut fk(
                    "fk_env_vars_application",
                    (EnvVars::Table, EnvVars::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_env_vars_application_key")
                .table(EnvVars::Table)
                .col(EnvVars::ApplicationId)
                .col(EnvVars::Key)
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Databases::Table)
                .col(uuid_pk(Databases::Id))
                .col(uuid_col(Databases::ProjectId))
                .col(text(Databases::Name, 63))
                .col(one_of(
                    Databases::Kind,
                    &["postgresql", "mysql", "mongodb", "redis"],
                ))
                .col(one_of(
                    Databases::Status,
                    &["initializing", "running", "stopped", "failed"],
                ))
                .col(text(Databases::Version, 50))
                .col(json(Databases::Config))
                .col(blob_null(Databases::ConnectionStringEncrypted))
                .col(ts(Databases::CreatedAt))
                .col(ts(Databases::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_databases_project",
                    (Databases::Table, Databases::ProjectId),
                    (Projects::Table, Projects::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_databases_project_name")
                .table(Databases::Table)
                .col(Databases::ProjectId)
                .col(Databases::Name)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_databases_kind")
                .table(Databases::Table)
                .col(Databases::Kind)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Volumes::Table)
                .col(uuid_pk(Volumes::Id))
                .col(text(Volumes::Name, 128).unique_key())
                .col(one_of(Volumes::Kind, &["docker_volume", "bind"]))
                .col(text(Volumes::MountPath, 1024))
                .col(
                    ColumnDef::new(Volumes::SizeGb)
                        .integer()
                        .not_null()
                        .check(Expr::col(Volumes::SizeGb).gt(0)),
                )
                .col(uuid_null(Volumes::ApplicationId))
                .col(uuid_null(Volumes::DatabaseId))
                .col(ts(Volumes::CreatedAt))
                // A volume belongs to exactly one application or database.
                .check(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(Expr::col(Volumes::ApplicationId).is_not_null())
                                .add(Expr::col(Volumes::DatabaseId).is_null()),
                        )
                        .add(
                            Condition::all()
                                .add(Expr::col(Volumes::ApplicationId).is_null())
                                .add(Expr::col(Volumes::DatabaseId).is_not_null()),
                        )
                        .into(),
                )
                .foreign_key(&mut fk(
                    "fk_volumes_application",
                    (Volumes::Table, Volumes::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_volumes_database",
                    (Volumes::Table, Volumes::DatabaseId),
                    (Databases::Table, Databases::Id),
                    Restrict,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_volumes_application")
                .table(Volumes::Table)
                .col(Volumes::ApplicationId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_volumes_database")
                .table(Volumes::Table)
                .col(Volumes::DatabaseId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Domains::Table)
                .col(uuid_pk(Domains::Id))
                .col(uuid_col(Domains::ProjectId))
                .col(text(Domains::Host, 253).unique_key())
                .col(uuid_null(Domains::ApplicationId))
                .col(uuid_null(Domains::DatabaseId))
                .col(ColumnDef::new(Domains::Tls).boolean().not_null())
                .col(ts(Domains::CreatedAt))
                .col(ts(Domains::UpdatedAt))
                // A domain routes to exactly one application or database.
                .check(
                    Condition::any()
                        .add(
                            Condition::all()
                                .add(Expr::col(Domains::ApplicationId).is_not_null())
                                .add(Expr::col(Domains::DatabaseId).is_null()),
                        )
                        .add(
                            Condition::all()
                                .add(Expr::col(Domains::ApplicationId).is_null())
                                .add(Expr::col(Domains::DatabaseId).is_not_null()),
                        )
                        .into(),
                )
                .foreign_key(&mut fk(
                    "fk_domains_project",
                    (Domains::Table, Domains::ProjectId),
                    (Projects::Table, Projects::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_domains_application",
                    (Domains::Table, Domains::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_domains_database",
                    (Domains::Table, Domains::DatabaseId),
                    (Databases::Table, Databases::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_domains_project")
                .table(Domains::Table)
                .col(Domains::ProjectId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_domains_application")
                .table(Domains::Table)
                .col(Domains::ApplicationId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_domains_database")
                .table(Domains::Table)
                .col(Domains::DatabaseId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Certificates::Table)
                .col(uuid_pk(Certificates::Id))
                .col(uuid_col(Certificates::DomainId))
                .col(text(Certificates::Issuer, 255))
                .col(
                    ColumnDef::new(Certificates::CertificatePem)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Certificates::PrivateKeyEncrypted)
                        .blob()
                        .not_null(),
                )
                .col(ts(Certificates::ExpiresAt))
                .col(ts(Certificates::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_certificates_domain",
                    (Certificates::Table, Certificates::DomainId),
                    (Domains::Table, Domains::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_certificates_domain")
                .table(Certificates::Table)
                .col(Certificates::DomainId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_certificates_expires")
                .table(Certificates::Table)
                .col(Certificates::ExpiresAt)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Backups::Table)
                .col(uuid_pk(Backups::Id))
                .col(uuid_col(Backups::DatabaseId))
                .col(one_of(Backups::Kind, &["full", "incremental", "snapshot"]))
                .col(one_of(
                    Backups::Status,
                    &["pending", "running", "success", "failed"],
                ))
                .col(text_null(Backups::StoragePath, 1024))
                .col(ColumnDef::new(Backups::SizeBytes).big_integer().null())
                .col(ts(Backups::CreatedAt))
                .col(ts_null(Backups::CompletedAt))
                .foreign_key(&mut fk(
                    "fk_backups_database",
                    (Backups::Table, Backups::DatabaseId),
                    (Databases::Table, Databases::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_backups_database_created")
                .table(Backups::Table)
                .col(Backups::DatabaseId)
                .col((Backups::CreatedAt, IndexOrder::Desc))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_backups_status")
                .table(Backups::Table)
                .col(Backups::Status)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ServiceTokens::Table)
                .col(uuid_pk(ServiceTokens::Id))
                .col(uuid_col(ServiceTokens::ApplicationId))
                .col(text(ServiceTokens::Name, 100))
                .col(text(ServiceTokens::Origin, 100))
                .col(text(ServiceTokens::TokenHash, 64).unique_key())
                .col(uuid_null(ServiceTokens::CreatedBy))
                .col(ts(ServiceTokens::CreatedAt))
                .col(ts_null(ServiceTokens::LastUsedAt))
                .col(ts_null(ServiceTokens::RevokedAt))
                .foreign_key(&mut fk(
                    "fk_service_tokens_application",
                    (ServiceTokens::Table, ServiceTokens::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_service_tokens_creator",
                    (ServiceTokens::Table, ServiceTokens::CreatedBy),
                    (Users::Table, Users::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_service_tokens_application")
                .table(ServiceTokens::Table)
                .col(ServiceTokens::ApplicationId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Builds::Table)
                .col(uuid_pk(Builds::Id))
                .col(uuid_col(Builds::ApplicationId))
                .col(one_of(
                    Builds::Status,
                    &["pending", "in_progress", "succeeded", "failed"],
                ))
                .col(text_null(Builds::CommitSha, 64))
                .col(long_text_null(Builds::CommitMessage))
                .col(text_null(Builds::Image, 512))
                .col(text_null(Builds::ImageId, 128))
                .col(long_text_null(Builds::Message))
                .col(ts(Builds::CreatedAt))
                .col(ts_null(Builds::StartedAt))
                .col(ts_null(Builds::FinishedAt))
                .foreign_key(&mut fk(
                    "fk_builds_application",
                    (Builds::Table, Builds::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_builds_application_created")
                .table(Builds::Table)
                .col(Builds::ApplicationId)
                .col((Builds::CreatedAt, IndexOrder::Desc))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_builds_status")
                .table(Builds::Table)
                .col(Builds::Status)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Deployments::Table)
                .col(uuid_pk(Deployments::Id))
                .col(uuid_col(Deployments::ApplicationId))
                .col(uuid_null(Deployments::BuildId))
                .col(uuid_null(Deployments::TriggeredBy))
                .col(uuid_null(Deployments::ServiceTokenId))
                .col(one_of(
                    Deployments::Trigger,
                    &["manual", "webhook", "service_token", "rollback", "redeploy"],
                ))
                .col(one_of(
                    Deployments::Status,
                    &[
                        "pending",
                        "building",
                        "deploying",
                        "success",
                        "failed",
                        "rolled_back",
                        "cancelled",
                    ],
                ))
                .col(text_null(Deployments::CommitSha, 64))
                .col(long_text_null(Deployments::Message))
                .col(json(Deployments::ConfigSnapshot))
                .col(uuid_null(Deployments::RollbackOf))
                .col(ts(Deployments::CreatedAt))
                .col(ts_null(Deployments::StartedAt))
                .col(ts_null(Deployments::FinishedAt))
                .foreign_key(&mut fk(
                    "fk_deployments_application",
                    (Deployments::Table, Deployments::ApplicationId),
                    (Applications::Table, Applications::Id),
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_deployments_build",
                    (Deployments::Table, Deployments::BuildId),
                    (Builds::Table, Builds::Id),
                    SetNull,
                ))
                .foreign_key(&mut fk(
                    "fk_deployments_user",
                    (Deployments::Table, Deployments::TriggeredBy),
                    (Users::Table, Users::Id),
                    SetNull,
                ))
                .foreign_key(&mut fk(
                    "fk_deployments_service_token",
                    (Deployments::Table, Deployments::ServiceTokenId),
                    (ServiceTokens::Table, ServiceTokens::Id),
                    SetNull,
                ))
                .foreign_key(&mut fk(
                    "fk_deployments_rollback_of",
                    (Deployments::Table, Deployments::RollbackOf),
                    (Deployments::Table, Deployments::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_application_created")
                .table(Deployments::Table)
                .col(Deployments::ApplicationId)
                .col((Deployments::CreatedAt, IndexOrder::Desc))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_status")
                .table(Deployments::Table)
                .col(Deployments::Status)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_triggered_by")
                .table(Deployments::Table)
                .col(Deployments::TriggeredBy)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_build")
                .table(Deployments::Table)
                .col(Deployments::BuildId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DeploymentSteps::Table)
                .col(uuid_pk(DeploymentSteps::Id))
                .col(uuid_col(DeploymentSteps::DeploymentId))
                .col(
                    ColumnDef::new(DeploymentSteps::Position)
                        .integer()
                        .not_null(),
                )
                .col(one_of(
                    DeploymentSteps::Name,
                    &["clone", "build", "release", "rollout", "verify"],
                ))
                .col(one_of(
                    DeploymentSteps::State,
                    &[
                        "pending",
                        "running",
                        "success",
                        "failed",
                        "skipped",
                        "cancelled",
                    ],
                ))
                .col(long_text_null(DeploymentSteps::Message))
                .col(ts_null(DeploymentSteps::StartedAt))
                .col(ts_null(DeploymentSteps::FinishedAt))
                .foreign_key(&mut fk(
                    "fk_deployment_steps_deployment",
                    (DeploymentSteps::Table, DeploymentSteps::DeploymentId),
                    (Deployments::Table, Deployments::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_deployment_steps_position")
                .table(DeploymentSteps::Table)
                .col(DeploymentSteps::DeploymentId)
                .col(DeploymentSteps::Position)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_deployment_steps_name")
                .table(DeploymentSteps::Table)
                .col(DeploymentSteps::DeploymentId)
                .col(DeploymentSteps::Name)
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DeploymentLogs::Table)
                .col(
                    ColumnDef::new(DeploymentLogs::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_col(DeploymentLogs::DeploymentId))
                .col(ColumnDef::new(DeploymentLogs::Seq).big_integer().not_null())
                .col(text_null(DeploymentLogs::Step, 32))
                .col(one_of(
                    DeploymentLogs::Level,
                    &["debug", "info", "warn", "error"],
                ))
                .col(ColumnDef::new(DeploymentLogs::Message).text().not_null())
                .col(ts(DeploymentLogs::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_deployment_logs_deployment",
                    (DeploymentLogs::Table, DeploymentLogs::DeploymentId),
                    (Deployments::Table, Deployments::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_deployment_logs_seq")
                .table(DeploymentLogs::Table)
                .col(DeploymentLogs::DeploymentId)
                .col(DeploymentLogs::Seq)
                .unique()
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployment_logs_created")
                .table(DeploymentLogs::Table)
                .col(DeploymentLogs::CreatedAt)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(uuid_pk(ApiTokens::Id))
                .col(uuid_col(ApiTokens::UserId))
                .col(text(ApiTokens::Name, 100))
                .col(text(ApiTokens::TokenHash, 64).unique_key())
                .col(ts(ApiTokens::CreatedAt))
                .col(ts_null(ApiTokens::ExpiresAt))
                .col(ts_null(ApiTokens::LastUsedAt))
                .col(ts_null(ApiTokens::RevokedAt))
                .foreign_key(&mut fk(
                    "fk_api_tokens_user",
                    (ApiTokens::Table, ApiTokens::UserId),
                    (Users::Table, Users::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_api_tokens_user")
                .table(ApiTokens::Table)
                .col(ApiTokens::UserId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(uuid_pk(Sessions::Id))
                .col(uuid_col(Sessions::UserId))
                .col(text(Sessions::TokenHash, 64).unique_key())
                .col(ts(Sessions::CreatedAt))
                .col(ts(Sessions::ExpiresAt))
                .col(ts_null(Sessions::RevokedAt))
                .col(text_null(Sessions::IpAddress, 64))
                .col(long_text_null(Sessions::UserAgent))
                .foreign_key(&mut fk(
                    "fk_sessions_user",
                    (Sessions::Table, Sessions::UserId),
                    (Users::Table, Users::Id),
                    Cascade,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sessions_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(
                    ColumnDef::new(AuditLog::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(uuid_null(AuditLog::UserId))
                .col(text(AuditLog::Action, 100))
                .col(text(AuditLog::ResourceType, 50))
                .col(text_null(AuditLog::ResourceId, 64))
                .col(json(AuditLog::Details))
                .col(text_null(AuditLog::IpAddress, 64))
                .col(long_text_null(AuditLog::UserAgent))
                .col(ts(AuditLog::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_audit_log_user",
                    (AuditLog::Table, AuditLog::UserId),
                    (Users::Table, Users::Id),
                    SetNull,
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_user_created")
                .table(AuditLog::Table)
                .col(AuditLog::UserId)
                .col((AuditLog::CreatedAt, IndexOrder::Desc))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_resource")
                .table(AuditLog::Table)
                .col(AuditLog::ResourceType)
                .col(AuditLog::ResourceId)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_action")
                .table(AuditLog::Table)
                .col(AuditLog::Action)
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_created")
                .table(AuditLog::Table)
                .col((AuditLog::CreatedAt, IndexOrder::Desc))
                .take(),
        )
        .await?;

        if m.get_database_backend() == DbBackend::Postgres {
            // JSON metadata is searched by containment on Postgres.
            m.get_connection()
                .execute_unprepared(
                    "CREATE INDEX idx_projects_metadata ON projects USING GIN (metadata)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            Sessions::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            DeploymentLogs::Table.into_iden(),
            DeploymentSteps::Table.into_iden(),
            Deployments::Table.into_iden(),
            Builds::Table.into_iden(),
            ServiceTokens::Table.into_iden(),
            Backups::Table.into_iden(),
            Certificates::Table.into_iden(),
            Domains::Table.into_iden(),
            Volumes::Table.into_iden(),
            Databases::Table.into_iden(),
            EnvVars::Table.into_iden(),
            GitSources::Table.into_iden(),
            Applications::Table.into_iden(),
            Projects::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    Role,
    Preferences,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Teams {
    Table,
    Id,
    Name,
    Description,
    Settings,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum TeamMembers {
    Table,
    Id,
    TeamId,
    UserId,
    Role,
    JoinedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
    Name,
    Description,
    OwnerId,
    TeamId,
    Metadata,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Applications {
    Table,
    Id,
    ProjectId,
    Name,
    Description,
    Kind,
    Status,
    SourceType,
    SourceConfig,
    DockerConfig,
    Replicas,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum GitSources {
    Table,
    Id,
    ApplicationId,
    Provider,
    Repository,
    Branch,
    CommitSha,
    CredentialsEncrypted,
    WebhookSecretEncrypted,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum EnvVars {
    Table,
    Id,
    ApplicationId,
    Key,
    Value,
    SecretValue,
    IsSecret,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Databases {
    Table,
    Id,
    ProjectId,
    Name,
    Kind,
    Status,
    Version,
    Config,
    ConnectionStringEncrypted,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Volumes {
    Table,
    Id,
    Name,
    Kind,
    MountPath,
    SizeGb,
    ApplicationId,
    DatabaseId,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Domains {
    Table,
    Id,
    ProjectId,
    Host,
    ApplicationId,
    DatabaseId,
    Tls,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Certificates {
    Table,
    Id,
    DomainId,
    Issuer,
    CertificatePem,
    PrivateKeyEncrypted,
    ExpiresAt,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Backups {
    Table,
    Id,
    DatabaseId,
    Kind,
    Status,
    StoragePath,
    SizeBytes,
    CreatedAt,
    CompletedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum ServiceTokens {
    Table,
    Id,
    ApplicationId,
    Name,
    Origin,
    TokenHash,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Builds {
    Table,
    Id,
    ApplicationId,
    Status,
    CommitSha,
    CommitMessage,
    Image,
    ImageId,
    Message,
    CreatedAt,
    StartedAt,
    FinishedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Deployments {
    Table,
    Id,
    ApplicationId,
    BuildId,
    TriggeredBy,
    ServiceTokenId,
    Trigger,
    Status,
    CommitSha,
    Message,
    ConfigSnapshot,
    RollbackOf,
    CreatedAt,
    StartedAt,
    FinishedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum DeploymentSteps {
    Table,
    Id,
    DeploymentId,
    Position,
    Name,
    State,
    Message,
    StartedAt,
    FinishedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum DeploymentLogs {
    Table,
    Id,
    DeploymentId,
    Seq,
    Step,
    Level,
    Message,
    CreatedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}
#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    IpAddress,
    UserAgent,
}
#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    UserId,
    Action,
    ResourceType,
    ResourceId,
    Details,
    IpAddress,
    UserAgent,
    CreatedAt,
}

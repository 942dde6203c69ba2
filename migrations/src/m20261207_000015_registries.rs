//! Registries berth pulls from with credentials: a team's (for its projects) or the
//! installation's (every project; also the admins' listing of a registry users may name by its
//! address). The password is encrypted. `credentialed_registry_hosts` remembers every registry
//! berth ever held credentials for, after the credentials are gone: an image from such a
//! registry may have been pulled with someone's credentials, so it is pulled again, with the
//! deploying team's, before anyone runs it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Registries {
    Table,
    Id,
    TeamId,
    Host,
    Username,
    PasswordEncrypted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CredentialedRegistryHosts {
    Table,
    Host,
    Since,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
}

/// One entry per registry and owner; partial indexes, since the installation's have no team.
const UNIQUE: &str = r#"
CREATE UNIQUE INDEX "registries_team_host" ON "registries" ("team_id", "host")
  WHERE "team_id" IS NOT NULL;
CREATE UNIQUE INDEX "registries_installation_host" ON "registries" ("host")
  WHERE "team_id" IS NULL;
"#;

/// Everyone signed in sees the installation's registries (without credentials: what they may
/// name) and their teams'; team owners and admins change their team's; admins everything.
/// The remembered hosts are host names only, read by berth's own work (no endpoint shows them);
/// an insert that meets one already there reads it, so signed-in users may too.
const POLICIES: &str = r#"
ALTER TABLE registries ENABLE ROW LEVEL SECURITY;
ALTER TABLE registries FORCE ROW LEVEL SECURITY;
CREATE POLICY registries_select ON registries FOR SELECT USING (
  berth_unrestricted() OR team_id IS NULL OR team_id = ANY (berth_teams('viewer')));
CREATE POLICY registries_insert ON registries FOR INSERT WITH CHECK (
  berth_unrestricted() OR team_id = ANY (berth_teams('admin')));
CREATE POLICY registries_update ON registries FOR UPDATE
  USING (berth_unrestricted() OR team_id = ANY (berth_teams('admin')))
  WITH CHECK (berth_unrestricted() OR team_id = ANY (berth_teams('admin')));
CREATE POLICY registries_delete ON registries FOR DELETE USING (
  berth_unrestricted() OR team_id = ANY (berth_teams('admin')));
ALTER TABLE credentialed_registry_hosts ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentialed_registry_hosts FORCE ROW LEVEL SECURITY;
CREATE POLICY credentialed_registry_hosts_select ON credentialed_registry_hosts FOR SELECT
  USING (berth_user_id() IS NOT NULL OR berth_is_system());
CREATE POLICY credentialed_registry_hosts_insert ON credentialed_registry_hosts FOR INSERT
  WITH CHECK (berth_user_id() IS NOT NULL OR berth_is_system());
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Registries::Table)
                    .col(
                        ColumnDef::new(Registries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Registries::TeamId).uuid().null())
                    .col(ColumnDef::new(Registries::Host).string_len(261).not_null())
                    .col(ColumnDef::new(Registries::Username).string_len(255).null())
                    .col(ColumnDef::new(Registries::PasswordEncrypted).blob().null())
                    .col(
                        ColumnDef::new(Registries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Registries::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Registries::Table, Registries::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CredentialedRegistryHosts::Table)
                    .col(
                        ColumnDef::new(CredentialedRegistryHosts::Host)
                            .string_len(261)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(CredentialedRegistryHosts::Since)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(UNIQUE).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(POLICIES).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(CredentialedRegistryHosts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Registries::Table).to_owned())
            .await
    }
}

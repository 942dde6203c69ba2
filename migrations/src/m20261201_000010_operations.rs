//! Operations on a running application (start, stop, restart, scale, delete) are records with a
//! status, queued and run in the background like deployments, under the same one-at-a-time rule
//! per application; and a deployment carries a cancel request any berth process can make and
//! the one running it sees.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Operations {
    Table,
    Id,
    ApplicationId,
    Kind,
    Status,
    Replicas,
    DeleteVolumes,
    RequestedBy,
    Message,
    CreatedAt,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    CancelRequested,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Operations::Table)
                    .col(
                        ColumnDef::new(Operations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Operations::ApplicationId).uuid().not_null())
                    .col(ColumnDef::new(Operations::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Operations::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Operations::Replicas).integer().null())
                    .col(
                        ColumnDef::new(Operations::DeleteVolumes)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Operations::RequestedBy).uuid().null())
                    .col(ColumnDef::new(Operations::Message).text().null())
                    .col(
                        ColumnDef::new(Operations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Operations::StartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Operations::FinishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Operations::Table, Operations::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Operations::Table, Operations::RequestedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("operations_application_created")
                    .table(Operations::Table)
                    .col(Operations::ApplicationId)
                    .col(Operations::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("operations_status")
                    .table(Operations::Table)
                    .col(Operations::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .add_column(
                        ColumnDef::new(Deployments::CancelRequested)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE operations ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE operations FORCE ROW LEVEL SECURITY;
                     CREATE POLICY operations_select ON operations FOR SELECT
                       USING (application_id IN (SELECT id FROM applications));
                     CREATE POLICY operations_insert ON operations FOR INSERT
                       WITH CHECK (berth_application_writable(application_id));
                     CREATE POLICY operations_update ON operations FOR UPDATE
                       USING (berth_application_writable(application_id))
                       WITH CHECK (berth_application_writable(application_id));
                     CREATE POLICY operations_delete ON operations FOR DELETE
                       USING (berth_application_writable(application_id));",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .drop_column(Deployments::CancelRequested)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Operations::Table).to_owned())
            .await
    }
}

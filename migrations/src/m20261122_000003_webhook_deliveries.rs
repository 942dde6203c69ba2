//! Webhook deliveries already received, so a git host's retry of the same delivery is ignored.
//! Only berth's own work (the webhook handler acts as the system) reads or writes them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    ApplicationId,
    DeliveryId,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(
                        ColumnDef::new(WebhookDeliveries::ApplicationId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveryId)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(WebhookDeliveries::ApplicationId)
                            .col(WebhookDeliveries::DeliveryId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_received_at")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
                     CREATE POLICY webhook_deliveries_system ON webhook_deliveries
                       USING (berth_is_system()) WITH CHECK (berth_is_system());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}

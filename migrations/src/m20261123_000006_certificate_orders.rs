//! The certificate orders made lately, by subject (a domain's id, or `host:<name>` for berth's
//! own hosts), so the hourly limit of orders per domain holds across restarts. Only berth's
//! own work reads or writes them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CertificateOrders {
    Table,
    Subject,
    OrderedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CertificateOrders::Table)
                    .col(
                        ColumnDef::new(CertificateOrders::Subject)
                            .string_len(300)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CertificateOrders::OrderedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(CertificateOrders::Subject)
                            .col(CertificateOrders::OrderedAt),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("certificate_orders_ordered_at")
                    .table(CertificateOrders::Table)
                    .col(CertificateOrders::OrderedAt)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE certificate_orders ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE certificate_orders FORCE ROW LEVEL SECURITY;
                     CREATE POLICY certificate_orders_system ON certificate_orders
                       USING (berth_is_system()) WITH CHECK (berth_is_system());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CertificateOrders::Table).to_owned())
            .await
    }
}

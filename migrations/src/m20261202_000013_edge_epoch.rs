//! The edge epoch: one number that every change to what the edge router serves moves (a
//! domain created, changed or deleted; an application's status, ports or existence changed; a
//! certificate stored, deleted, failed or asked to renew), in the same transaction. A router in
//! a process of its own reads it every second and reads the domains and certificates again
//! only when it moved, so an idle installation costs the same at any size.
//! It holds no tenant data, so it has no row-level security (like `auth_epoch`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EdgeEpoch {
    Table,
    Id,
    Epoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EdgeEpoch::Table)
                    .col(
                        ColumnDef::new(EdgeEpoch::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(EdgeEpoch::Id).eq(1)),
                    )
                    .col(
                        ColumnDef::new(EdgeEpoch::Epoch)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(EdgeEpoch::Table)
                    .columns([EdgeEpoch::Id, EdgeEpoch::Epoch])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EdgeEpoch::Table).to_owned())
            .await
    }
}

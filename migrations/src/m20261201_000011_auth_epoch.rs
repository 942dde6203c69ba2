//! The auth epoch: one number that every change to who a bearer token stands for moves (a
//! session or token revoked, sign-ins ended, a user's role or password changed, a user or an
//! application deleted), in the same transaction. Each berth process remembers tokens that
//! checked out for a few seconds and forgets them when it sees the number move. It holds no
//! tenant data, so it has no row-level security (like `users`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthEpoch {
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
                    .table(AuthEpoch::Table)
                    .col(
                        ColumnDef::new(AuthEpoch::Id)
                            .integer()
                            .not_null()
                            .primary_key()
                            .check(Expr::col(AuthEpoch::Id).eq(1)),
                    )
                    .col(
                        ColumnDef::new(AuthEpoch::Epoch)
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
                    .into_table(AuthEpoch::Table)
                    .columns([AuthEpoch::Id, AuthEpoch::Epoch])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthEpoch::Table).to_owned())
            .await
    }
}

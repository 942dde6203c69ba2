//! A volume's Docker name is berth's (`berth-vol-<id>`), kept beside the user's name. Volumes
//! made before keep their own name as the engine's, so their data stays where it is.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Volumes {
    Table,
    EngineName,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Volumes::Table)
                    .add_column(ColumnDef::new(Volumes::EngineName).string_len(128).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("volumes_engine_name")
                    .table(Volumes::Table)
                    .col(Volumes::EngineName)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Volumes::Table)
                    .drop_column(Volumes::EngineName)
                    .to_owned(),
            )
            .await
    }
}

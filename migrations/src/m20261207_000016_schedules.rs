//! Scheduled jobs: one scheduler for everything berth runs by itself on a timetable. The next
//! run is a row (`schedules.next_run_at`); each run is a row of `schedule_runs`, unique per
//! schedule and due time, so a run is never recorded (or run) twice. Schedules of berth's own
//! (retention) belong to no tenant: admins read them; row-level security lets berth and admins
//! through.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    Kind,
    Cron,
    Enabled,
    NextRunAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    Id,
    ScheduleId,
    DueAt,
    StartedAt,
    FinishedAt,
    Status,
    Message,
}

const POLICIES: &str = r#"
ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedules FORCE ROW LEVEL SECURITY;
CREATE POLICY schedules_all ON schedules USING (berth_unrestricted()) WITH CHECK (berth_unrestricted());
ALTER TABLE schedule_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE schedule_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY schedule_runs_all ON schedule_runs USING (berth_unrestricted()) WITH CHECK (berth_unrestricted());
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(
                        ColumnDef::new(Schedules::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Schedules::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Schedules::Cron).string_len(200).not_null())
                    .col(ColumnDef::new(Schedules::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Schedules::NextRunAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Schedules::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Schedules::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleRuns::Table)
                    .col(
                        ColumnDef::new(ScheduleRuns::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ScheduleRuns::ScheduleId).uuid().not_null())
                    .col(
                        ColumnDef::new(ScheduleRuns::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ScheduleRuns::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ScheduleRuns::FinishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ScheduleRuns::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScheduleRuns::Message).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScheduleRuns::Table, ScheduleRuns::ScheduleId)
                            .to(Schedules::Table, Schedules::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Berth's own schedules: one per kind. A run per schedule and due time.
        let db = manager.get_connection();
        db.execute_unprepared(
            r#"CREATE UNIQUE INDEX "schedules_kind" ON "schedules" ("kind");
               CREATE UNIQUE INDEX "schedule_runs_due" ON "schedule_runs" ("schedule_id", "due_at");"#,
        )
        .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(POLICIES).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScheduleRuns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Schedules::Table).to_owned())
            .await
    }
}

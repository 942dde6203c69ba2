//! Scheduled jobs and their runs (berth's own: admins see them; berth runs them).

use berth_domain::*;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Select};

use super::{fetch_page, found, now, parse_col};
use crate::entity::{schedule_runs, schedules};
use crate::{Scope, StoreError};

fn schedule_from(m: schedules::Model) -> Result<Schedule, StoreError> {
    Ok(Schedule {
        id: ScheduleId::from_uuid(m.id),
        kind: parse_col(&m.kind)?,
        cron: parse_col(&m.cron)?,
        enabled: m.enabled,
        next_run_at: m.next_run_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn run_from(m: schedule_runs::Model) -> Result<ScheduleRun, StoreError> {
    Ok(ScheduleRun {
        id: ScheduleRunId::from_uuid(m.id),
        schedule_id: ScheduleId::from_uuid(m.schedule_id),
        due_at: m.due_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        status: parse_col(&m.status)?,
        message: m.message,
    })
}

/// A change to a schedule; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ScheduleChanges {
    pub cron: Option<CronSchedule>,
    pub enabled: Option<bool>,
    pub next_run_at: Option<Timestamp>,
}

impl Scope {
    /// The schedules the actor sees: berth's own are for berth and admins.
    fn visible_schedules(&self) -> Select<schedules::Entity> {
        let select = schedules::Entity::find();
        if self.is_unrestricted() {
            select
        } else {
            select.filter(schedules::Column::Id.is_null())
        }
    }

    /// berth's schedule of `kind`, made with `cron` and its first run at `first_run` when there
    /// is none yet (what an admin changed stays).
    pub async fn ensure_schedule(
        &self,
        kind: ScheduleKind,
        cron: &CronSchedule,
        first_run: Timestamp,
    ) -> Result<Schedule, StoreError> {
        let t = now();
        schedules::Entity::insert(schedules::ActiveModel {
            id: Set(ScheduleId::new().as_uuid()),
            kind: Set(kind.as_str().to_owned()),
            cron: Set(cron.as_str().to_owned()),
            enabled: Set(true),
            next_run_at: Set(first_run),
            created_at: Set(t),
            updated_at: Set(t),
        })
        .on_conflict(
            OnConflict::column(schedules::Column::Kind)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(self.connection())
        .await?;
        let m = self
            .visible_schedules()
            .filter(schedules::Column::Kind.eq(kind.as_str()))
            .one(self.connection())
            .await?;
        schedule_from(found(m, "schedule")?)
    }

    /// Every schedule with its newest run, by kind.
    pub async fn list_schedules(&self) -> Result<Vec<(Schedule, Option<ScheduleRun>)>, StoreError> {
        let mut out = Vec::new();
        for m in self
            .visible_schedules()
            .order_by_asc(schedules::Column::Kind)
            .all(self.connection())
            .await?
        {
            let schedule = schedule_from(m)?;
            let last = self.last_schedule_run(schedule.id).await?;
            out.push((schedule, last));
        }
        Ok(out)
    }

    /// A schedule's newest run, if it ran.
    pub async fn last_schedule_run(
        &self,
        id: ScheduleId,
    ) -> Result<Option<ScheduleRun>, StoreError> {
        schedule_runs::Entity::find()
            .filter(schedule_runs::Column::ScheduleId.eq(id.as_uuid()))
            .order_by_desc(schedule_runs::Column::DueAt)
            .one(self.connection())
            .await?
            .map(run_from)
            .transpose()
    }

    pub async fn schedule(&self, id: ScheduleId) -> Result<Schedule, StoreError> {
        let m = self
            .visible_schedules()
            .filter(schedules::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        schedule_from(found(m, "schedule")?)
    }

    pub async fn update_schedule(
        &self,
        id: ScheduleId,
        changes: ScheduleChanges,
    ) -> Result<Schedule, StoreError> {
        self.schedule(id).await?;
        let mut m = schedules::ActiveModel {
            id: Set(id.as_uuid()),
            updated_at: Set(now()),
            ..Default::default()
        };
        if let Some(c) = changes.cron {
            m.cron = Set(c.as_str().to_owned());
        }
        if let Some(e) = changes.enabled {
            m.enabled = Set(e);
        }
        if let Some(n) = changes.next_run_at {
            m.next_run_at = Set(n);
        }
        schedules::Entity::update(m).exec(self.connection()).await?;
        self.schedule(id).await
    }

    /// The enabled schedules whose next run is due at `now`.
    pub async fn due_schedules(&self, now: Timestamp) -> Result<Vec<Schedule>, StoreError> {
        self.visible_schedules()
            .filter(schedules::Column::Enabled.eq(true))
            .filter(schedules::Column::NextRunAt.lte(now))
            .order_by_asc(schedules::Column::NextRunAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(schedule_from)
            .collect()
    }

    /// Claims the due run of `schedule`: moves its next run to `next` only if no one else
    /// moved it meanwhile, and records the run, in this transaction; `None` when another
    /// process claimed it first.
    pub async fn claim_schedule_run(
        &self,
        schedule: &Schedule,
        next: Timestamp,
        started: Timestamp,
    ) -> Result<Option<ScheduleRun>, StoreError> {
        let moved = schedules::Entity::update_many()
            .col_expr(schedules::Column::NextRunAt, Expr::value(next))
            .filter(schedules::Column::Id.eq(schedule.id.as_uuid()))
            .filter(schedules::Column::NextRunAt.eq(schedule.next_run_at))
            .exec(self.connection())
            .await?;
        if moved.rows_affected != 1 {
            return Ok(None);
        }
        let m = schedule_runs::Model {
            id: ScheduleRunId::new().as_uuid(),
            schedule_id: schedule.id.as_uuid(),
            due_at: schedule.next_run_at,
            started_at: started,
            finished_at: None,
            status: ScheduleRunStatus::Running.as_str().to_owned(),
            message: None,
        };
        schedule_runs::Entity::insert(schedule_runs::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        Ok(Some(run_from(m)?))
    }

    /// Ends a run with its outcome.
    pub async fn finish_schedule_run(
        &self,
        run: ScheduleRunId,
        status: ScheduleRunStatus,
        message: Option<String>,
        finished: Timestamp,
    ) -> Result<(), StoreError> {
        schedule_runs::Entity::update(schedule_runs::ActiveModel {
            id: Set(run.as_uuid()),
            status: Set(status.as_str().to_owned()),
            message: Set(message),
            finished_at: Set(Some(finished)),
            ..Default::default()
        })
        .exec(self.connection())
        .await?;
        Ok(())
    }

    /// A schedule's runs, newest first.
    pub async fn schedule_runs(
        &self,
        id: ScheduleId,
        page: Page,
    ) -> Result<Paginated<ScheduleRun>, StoreError> {
        self.schedule(id).await?;
        let select = schedule_runs::Entity::find()
            .filter(schedule_runs::Column::ScheduleId.eq(id.as_uuid()))
            .order_by_desc(schedule_runs::Column::DueAt)
            .order_by_desc(schedule_runs::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter().map(run_from).collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    /// Ends the runs a stopped berth left running, as failed with `message`; how many.
    pub async fn end_interrupted_schedule_runs(
        &self,
        message: &str,
        finished: Timestamp,
    ) -> Result<u64, StoreError> {
        let r = schedule_runs::Entity::update_many()
            .col_expr(
                schedule_runs::Column::Status,
                Expr::value(ScheduleRunStatus::Failed.as_str()),
            )
            .col_expr(schedule_runs::Column::Message, Expr::value(message))
            .col_expr(schedule_runs::Column::FinishedAt, Expr::value(finished))
            .filter(schedule_runs::Column::Status.eq(ScheduleRunStatus::Running.as_str()))
            .exec(self.connection())
            .await?;
        Ok(r.rows_affected)
    }
}

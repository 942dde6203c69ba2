//! Scheduled jobs and their runs.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleRunView {
    pub id: uuid::Uuid,
    pub schedule_id: uuid::Uuid,
    /// When it was due (a run missed while berth was down runs once, late).
    pub due_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `success` or `failed`.
    pub status: String,
    /// What it did, or why it failed.
    pub message: Option<String>,
}

impl From<ScheduleRun> for ScheduleRunView {
    fn from(r: ScheduleRun) -> Self {
        Self {
            id: r.id.as_uuid(),
            schedule_id: r.schedule_id.as_uuid(),
            due_at: r.due_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status.as_str().into(),
            message: r.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleView {
    pub id: uuid::Uuid,
    /// What it runs: `retention` (prunes old logs, deployments, deliveries, audit entries).
    pub kind: String,
    /// Five fields: minute hour day-of-month month day-of-week.
    pub cron: String,
    /// The installation's time zone, in which `cron` is read.
    pub time_zone: String,
    pub enabled: bool,
    pub next_run_at: DateTime<Utc>,
    pub last_run: Option<ScheduleRunView>,
}

impl ScheduleView {
    pub fn new(s: Schedule, last: Option<ScheduleRun>, zone: TimeZone) -> Self {
        Self {
            id: s.id.as_uuid(),
            kind: s.kind.as_str().into(),
            cron: s.cron.as_str().into(),
            time_zone: zone.name().into(),
            enabled: s.enabled,
            next_run_at: s.next_run_at,
            last_run: last.map(ScheduleRunView::from),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    /// Five fields: minute hour day-of-month month day-of-week, like `30 2 * * SUN`; each a
    /// value, a range, `*`, with an optional step `/n`, or a list; names for months and
    /// weekdays; Sunday is 0 or 7.
    pub cron: Option<String>,
    pub enabled: Option<bool>,
}

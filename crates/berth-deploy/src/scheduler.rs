//! The scheduler: one mechanism for everything berth runs by itself on a timetable. A schedule
//! is a row with a cron expression and its next run (`next_run_at`), read by the pipeline's
//! clock in the installation's time zone. Every `schedule_poll` the due schedules are claimed:
//! the next run moves to the first time after *now* (so runs missed while berth was down
//! become one run, not many) in the same transaction that records the run, and only if no
//! other process moved it first, so no run happens twice. The run then does its job and ends
//! `success` or `failed` with what it did or why; one a stopped berth left `running` is ended
//! `failed` by recovery.
//!
//! Jobs: `retention` (prunes old history; [`crate::retention`]), made at the first start to
//! run then and every six hours after.

use berth_domain::{CronSchedule, Schedule, ScheduleKind, ScheduleRunStatus};
use berth_events::CancelToken;
use berth_store::{Actor, StoreError};

use crate::Pipeline;

/// When retention runs unless an admin changes it: every six hours.
pub const RETENTION_CRON: &str = "0 */6 * * *";

impl Pipeline {
    pub(crate) async fn schedule_loop(self, shutdown: CancelToken) {
        if let Err(e) = self.ensure_schedules().await {
            tracing::warn!(error = %e, "the schedules cannot be made; nothing scheduled runs");
            return;
        }
        loop {
            if let Err(e) = self.run_due_schedules().await {
                tracing::warn!(error = %e, "scheduled jobs skipped this round");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.inner.settings.schedule_poll) => {}
                _ = self.inner.schedule_wake.notified() => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// The first time after now, by the pipeline's clock and in the installation's time zone,
    /// that `cron` runs; `None` if it never does.
    pub fn next_run(&self, cron: &CronSchedule) -> Option<chrono::DateTime<chrono::Utc>> {
        cron.next_after(self.inner.clock.now(), self.inner.settings.time_zone)
    }

    /// The pipeline's now (the scheduler's clock).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    /// The time zone schedules are read in.
    pub fn time_zone(&self) -> berth_domain::TimeZone {
        self.inner.settings.time_zone
    }

    /// Looks for due schedules now (a run was asked for).
    pub fn wake_scheduler(&self) {
        self.inner.schedule_wake.notify_one();
    }

    /// berth's own schedules, made the first time it starts: retention, due at once.
    pub async fn ensure_schedules(&self) -> Result<(), StoreError> {
        let scope = self.inner.store.scope(Actor::System).await?;
        let cron = CronSchedule::parse(RETENTION_CRON).map_err(StoreError::Validation)?;
        scope
            .ensure_schedule(ScheduleKind::Retention, &cron, self.inner.clock.now())
            .await?;
        scope.commit().await
    }

    /// Runs every schedule due by the pipeline's clock, once each however many of its times
    /// went by; how many ran.
    pub async fn run_due_schedules(&self) -> Result<usize, StoreError> {
        let now = self.inner.clock.now();
        let due = {
            let scope = self.inner.store.scope(Actor::System).await?;
            scope.due_schedules(now).await?
        };
        let mut ran = 0;
        for schedule in due {
            // A schedule that never comes again (`0 0 31 2 *`) is refused when it is set; one
            // that somehow is keeps its next run a century away rather than running each round.
            let next = schedule
                .cron
                .next_after(now, self.inner.settings.time_zone)
                .unwrap_or(now + chrono::Duration::days(36_500));
            let scope = self.inner.store.scope(Actor::System).await?;
            let Some(run) = scope.claim_schedule_run(&schedule, next, now).await? else {
                continue;
            };
            scope.commit().await?;
            let outcome = self.run_job(&schedule).await;
            let (status, message) = match outcome {
                Ok(done) => (ScheduleRunStatus::Success, done),
                Err(why) => {
                    tracing::warn!(kind = %schedule.kind, error = %why, "a scheduled job failed");
                    (ScheduleRunStatus::Failed, why)
                }
            };
            let scope = self.inner.store.scope(Actor::System).await?;
            scope
                .finish_schedule_run(run.id, status, Some(message), self.inner.clock.now())
                .await?;
            scope.commit().await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Does one schedule's job: what it did, or why it failed.
    async fn run_job(&self, schedule: &Schedule) -> Result<String, String> {
        match schedule.kind {
            ScheduleKind::Retention => self
                .prune()
                .await
                .map(|(lines, deployments)| {
                    format!("pruned {lines} log lines and {deployments} deployments")
                })
                .map_err(|e| e.to_string()),
        }
    }
}

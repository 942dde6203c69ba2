//! Old history goes: deployment log lines and ended deployments past their retention (each
//! application's newest successful deployment always stays, a rollback's target), and webhook
//! delivery ids after a week (git hosts retry within hours), and audit entries past theirs (a
//! year by default; on Postgres a month at a time, by dropping its partition, and the partitions
//! of the months ahead are made in the same round). It runs as the scheduler's `retention`
//! schedule (every six hours by default; [`crate::scheduler`]).

use std::time::Duration;

use berth_store::{Actor, StoreError};

use crate::Pipeline;

impl Pipeline {
    /// Deletes what the retention settings say is too old, by the pipeline's clock; returns
    /// the lines and deployments that went.
    pub async fn prune(&self) -> Result<(u64, u64), StoreError> {
        let now = self.inner.clock.now();
        let ago =
            |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        // Whole months of the audit log first (a partition dropped on Postgres), each in a
        // short transaction of its own; the rows left past retention go below.
        let months = self
            .inner
            .store
            .maintain_partitions(now, Some(ago(self.inner.settings.audit_retention)))
            .await?;
        let scope = self.inner.store.scope(Actor::System).await?;
        let pruned = scope
            .prune_history(
                ago(self.inner.settings.log_retention),
                ago(self.inner.settings.deployment_retention),
            )
            .await?;
        scope
            .prune_webhook_deliveries(ago(Duration::from_secs(7 * 24 * 3600)))
            .await?;
        let audit = months.dropped_entries
            + scope
                .prune_audit(ago(self.inner.settings.audit_retention))
                .await?;
        scope.commit().await?;
        if audit > 0 {
            tracing::info!(entries = audit, "old audit entries pruned");
        }
        if pruned != (0, 0) {
            tracing::info!(
                log_lines = pruned.0,
                deployments = pruned.1,
                "old deployment history pruned"
            );
        }
        Ok(pruned)
    }
}

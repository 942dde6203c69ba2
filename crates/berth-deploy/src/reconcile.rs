//! The reconciler: every application's status follows what the orchestrator runs, except while
//! a deployment or an operation of it is in progress (that one sets it).

use berth_domain::{ApplicationId, ApplicationStatus};
use berth_events::CancelToken;
use berth_store::Actor;

use crate::changes::Changes;
use crate::{DeployError, Pipeline};

impl Pipeline {
    pub(crate) async fn reconcile_loop(self, shutdown: CancelToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.inner.settings.reconcile_every) => {}
                _ = shutdown.cancelled() => return,
            }
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "reconciliation skipped");
            }
        }
    }

    /// Compares every application that has a service with what the orchestrator runs, and sets
    /// its status (running, stopped, failed) when it differs. Returns how many changed.
    pub async fn reconcile(&self) -> Result<usize, DeployError> {
        let services = self.engines()?.orchestrator.list_managed().await?;
        let scope = self.inner.store.scope(Actor::System).await?;
        let busy: Vec<ApplicationId> = scope
            .unfinished_deployments()
            .await?
            .into_iter()
            .map(|d| d.application_id)
            .chain(
                scope
                    .running_operations()
                    .await?
                    .into_iter()
                    .map(|o| o.application_id),
            )
            .collect();
        let mut changes = Changes::new();
        let mut changed = 0;
        for s in services {
            let Some(id) = s
                .application_id
                .as_deref()
                .and_then(|a| uuid::Uuid::parse_str(a).ok())
            else {
                continue;
            };
            let id = ApplicationId::from_uuid(id);
            if busy.contains(&id) {
                continue;
            }
            let Ok(app) = scope.application(id).await else {
                continue;
            };
            let status = match (s.desired, s.running) {
                (0, _) => ApplicationStatus::Stopped,
                (d, r) if r >= d => ApplicationStatus::Running,
                (_, 0) => ApplicationStatus::Failed,
                _ => ApplicationStatus::Running,
            };
            if app.status != status {
                changes.application(&scope, id, status).await?;
                changed += 1;
            }
        }
        changes.commit(scope, &self.inner.bus).await?;
        Ok(changed)
    }
}

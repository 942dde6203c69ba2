//! The reconciler: every application's status follows what the orchestrator runs, except while
//! a deployment or an operation of it is in progress (that one sets it).

use std::collections::{HashMap, HashSet};

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
        let busy: HashSet<ApplicationId> = scope
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
        // The applications of every managed service, in one read.
        let managed: Vec<(ApplicationId, &berth_swarm::ManagedService)> = services
            .iter()
            .filter_map(|s| {
                let id = uuid::Uuid::parse_str(s.application_id.as_deref()?).ok()?;
                Some((ApplicationId::from_uuid(id), s))
            })
            .filter(|(id, _)| !busy.contains(id))
            .collect();
        let ids: Vec<ApplicationId> = managed.iter().map(|(id, _)| *id).collect();
        let statuses: HashMap<ApplicationId, ApplicationStatus> = scope
            .applications_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.status))
            .collect();
        let mut changes = Changes::new();
        let mut changed = 0;
        for (id, s) in managed {
            let Some(current) = statuses.get(&id) else {
                continue;
            };
            let status = match (s.desired, s.running) {
                (0, _) => ApplicationStatus::Stopped,
                (d, r) if r >= d => ApplicationStatus::Running,
                (_, 0) => ApplicationStatus::Failed,
                _ => ApplicationStatus::Running,
            };
            if *current != status {
                changes.application(&scope, id, status).await?;
                changed += 1;
            }
        }
        changes.commit(scope, &self.inner.bus).await?;
        Ok(changed)
    }
}

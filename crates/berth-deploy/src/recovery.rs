//! What a stopped server left: deployments and operations in progress end `failed`, with their
//! steps and build; temporary files, release jobs and half-built layers are removed.

use berth_domain::{BuildStatus, DeploymentStatus, OperationStatus, StepState};
use berth_store::{Actor, StoreError};

use crate::changes::Changes;
use crate::{Pipeline, INTERRUPTED, JOURNALS};

impl Pipeline {
    /// Ends every deployment and operation a stopped server left in progress as `failed`, with
    /// their steps and build, and removes the temporary files it left. Pending work stays
    /// queued. Returns how many deployments it ended.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let tmp = self.inner.settings.work_dir.join("tmp");
        if tmp.exists() {
            if let Err(e) = std::fs::remove_dir_all(&tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "temporary files kept");
            }
        }
        let scope = self.inner.store.scope(Actor::System).await?;
        let mut changes = Changes::new();
        let mut ended = 0;
        for d in scope.unfinished_deployments().await? {
            if d.status == DeploymentStatus::Pending {
                continue;
            }
            let d = changes
                .deployment(&scope, d.id, DeploymentStatus::Failed, Some(INTERRUPTED))
                .await?;
            for step in scope.deployment_steps(d.id).await? {
                if !step.state.is_final() {
                    let state = if step.state == StepState::Running {
                        StepState::Failed
                    } else {
                        StepState::Skipped
                    };
                    scope
                        .set_step_state(d.id, step.name, state, Some(INTERRUPTED))
                        .await?;
                }
            }
            if let Some(b) = d.build_id {
                if !scope.build(b).await?.status.is_final() {
                    scope
                        .transition_build(b, BuildStatus::Failed, Some(INTERRUPTED))
                        .await?;
                }
            }
            tracing::warn!(deployment = %d.id, "{INTERRUPTED}");
            ended += 1;
        }
        for op in scope.running_operations().await? {
            changes
                .end_operation(&scope, &op, OperationStatus::Failed, INTERRUPTED)
                .await?;
            tracing::warn!(operation = %op.id, "{INTERRUPTED}");
        }
        let runs = scope
            .end_interrupted_schedule_runs(
                "interrupted: the server stopped during this run",
                self.inner.clock.now(),
            )
            .await?;
        if runs > 0 {
            tracing::warn!(runs, "scheduled runs interrupted by a stop ended as failed");
        }
        changes.commit(scope, &self.inner.bus).await?;
        Ok(ended)
    }

    /// Removes what the engines kept of work a stopped server left halfway: release jobs of
    /// this installation's applications (other installations' jobs on a shared engine are
    /// left alone) and the layers of builds whose journals remain.
    pub(crate) async fn remove_leftovers(&self) {
        if let Err(e) = self.remove_leftover_jobs().await {
            tracing::warn!(error = %e, "leftover release jobs were not removed");
        }
        self.remove_leftover_layers().await;
    }

    async fn remove_leftover_jobs(&self) -> Result<(), crate::DeployError> {
        let orchestrator = self.engines()?.orchestrator.clone();
        let jobs = orchestrator.list_jobs().await?;
        let scope = self.inner.store.read_scope(Actor::System).await?;
        let mut mine = Vec::new();
        for (name, app) in jobs {
            let Some(id) = app.as_deref().and_then(|a| uuid::Uuid::parse_str(a).ok()) else {
                continue;
            };
            if scope
                .application(berth_domain::ApplicationId::from_uuid(id))
                .await
                .is_ok()
            {
                mine.push(name);
            }
        }
        drop(scope);
        for name in &mine {
            orchestrator.remove(name).await?;
            tracing::warn!(job = %name, "a release job the last run left was removed");
        }
        Ok(())
    }

    async fn remove_leftover_layers(&self) {
        let Ok(engines) = self.engines() else { return };
        let dir = self.inner.settings.work_dir.join(JOURNALS);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match engines.builder.clean_journal(&path).await {
                Ok(removed) => tracing::warn!(
                    journal = %path.display(),
                    removed,
                    "the layers of a build the last run left halfway were removed"
                ),
                Err(e) => {
                    tracing::warn!(journal = %path.display(), error = %e, "build journal kept")
                }
            }
        }
    }
}

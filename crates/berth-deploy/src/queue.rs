//! The use cases that queue work (a deployment, a rollback, an operation), cancellation, and
//! the worker that takes queued work off the store one piece at a time per application.

use berth_domain::{
    Application, ApplicationId, CommitSha, Deployment, DeploymentId, DeploymentStatus,
    DeploymentTrigger, Operation, OperationKind, ServiceTokenId, UserId,
};
use berth_events::CancelToken;
use berth_store::{Actor, NewDeployment, NewOperation, Scope, StoreError};

use crate::changes::Changes;
use crate::{DeployError, Pipeline};

/// Who asks for a deployment of the application's current configuration, and of which commit.
#[derive(Debug, Clone)]
pub struct DeploymentRequest {
    pub trigger: DeploymentTrigger,
    pub user: Option<UserId>,
    pub token: Option<ServiceTokenId>,
    /// Deploy this commit instead of the tracked branch's tip (for a push: the commit it made
    /// the tip).
    pub commit: Option<CommitSha>,
}

impl Pipeline {
    /// Queues a deployment of the application's configuration and environment as they are now,
    /// in `scope` (which the caller may have written its audit entry to), and commits it. Any
    /// older deployment of the application still waiting ends `cancelled`, superseded.
    pub async fn enqueue(
        &self,
        scope: Scope,
        app: &Application,
        request: DeploymentRequest,
    ) -> Result<Deployment, DeployError> {
        let new = NewDeployment {
            trigger: request.trigger,
            triggered_by: request.user,
            service_token_id: request.token,
            commit_sha: request.commit,
            build_id: None,
            snapshot: scope.snapshot(app.id).await?,
            rollback_of: None,
        };
        self.queue(scope, app.id, new).await
    }

    /// Queues a redeploy: the application's newest successful build again, with its
    /// configuration and environment as they are now, without cloning or building (after an
    /// environment change, say). An application built from an image just deploys it.
    pub async fn redeploy(
        &self,
        scope: Scope,
        app: &Application,
        user: Option<UserId>,
    ) -> Result<Deployment, DeployError> {
        let build = match &app.source {
            berth_domain::ApplicationSource::Git(_) => {
                let Some(b) = scope.latest_successful_build(app.id).await? else {
                    return Err(DeployError::RollbackNotPossible(
                        "the application has no successful build to deploy again: deploy it instead",
                    ));
                };
                Some(b)
            }
            berth_domain::ApplicationSource::Image { .. } => None,
        };
        let new = NewDeployment {
            trigger: DeploymentTrigger::Redeploy,
            triggered_by: user,
            service_token_id: None,
            commit_sha: build.as_ref().and_then(|b| b.commit_sha.clone()),
            build_id: build.map(|b| b.id),
            snapshot: scope.snapshot(app.id).await?,
            rollback_of: None,
        };
        self.queue(scope, app.id, new).await
    }

    /// Queues `target`, an earlier successful deployment, again: its build (or image) and its
    /// snapshot, environment included, without building.
    pub async fn rollback(
        &self,
        scope: Scope,
        target: &Deployment,
        user: Option<UserId>,
    ) -> Result<Deployment, DeployError> {
        if target.status != DeploymentStatus::Success {
            return Err(DeployError::RollbackNotPossible(
                "only a successful deployment can be deployed again",
            ));
        }
        if target.snapshot.env.is_none() {
            return Err(DeployError::RollbackNotPossible(
                "that deployment predates recorded environments: deploy the application again instead",
            ));
        }
        // A git deployment deploys its build's image again; an image deployment names its
        // image in the snapshot.
        if target.build_id.is_none()
            && target.snapshot.source.kind() == berth_domain::ApplicationKind::Git
        {
            return Err(DeployError::RollbackNotPossible(
                "that deployment has no build to deploy again: deploy the application instead",
            ));
        }
        let new = NewDeployment {
            trigger: DeploymentTrigger::Rollback,
            triggered_by: user,
            service_token_id: None,
            commit_sha: target.commit_sha.clone(),
            build_id: target.build_id,
            snapshot: target.snapshot.clone(),
            rollback_of: Some(target.id),
        };
        self.queue(scope, target.application_id, new).await
    }

    async fn queue(
        &self,
        scope: Scope,
        application: ApplicationId,
        new: NewDeployment,
    ) -> Result<Deployment, DeployError> {
        let d = scope.create_deployment(application, new).await?;
        let mut changes = Changes::new();
        for old in scope.supersede_pending(application, d.id).await? {
            changes.deployment_changed(&scope.deployment(old).await?);
        }
        changes.deployment_changed(&d);
        changes.commit(scope, &self.inner.bus).await?;
        self.wake();
        Ok(d)
    }

    /// Cancels a deployment: a queued one at once; a running one by recording the request,
    /// which the process running it (this one or another on the same database) sees within
    /// [`crate::PipelineSettings::cancel_poll`] and stops its clone, build, release or
    /// rollout (it then ends `cancelled`). Refused once it has ended.
    pub async fn cancel(&self, scope: Scope, d: &Deployment) -> Result<Deployment, DeployError> {
        if d.status.is_final() {
            return Err(DeployError::NotCancellable(d.status));
        }
        if d.status == DeploymentStatus::Pending {
            let mut changes = Changes::new();
            let d = changes
                .deployment(&scope, d.id, DeploymentStatus::Cancelled, Some("cancelled"))
                .await?;
            changes.commit(scope, &self.inner.bus).await?;
            return Ok(d);
        }
        if !scope.request_cancel(d.id).await? {
            // It ended between the read and the request.
            let now = scope.deployment(d.id).await?;
            return Err(DeployError::NotCancellable(now.status));
        }
        let d = scope.deployment(d.id).await?;
        scope.commit().await?;
        // Here at once; elsewhere by the watch.
        self.cancel_here(d.id);
        Ok(d)
    }

    /// Stops a deployment if this process runs it (else the process that does sees the
    /// request in the store).
    fn cancel_here(&self, id: DeploymentId) {
        let token = self
            .inner
            .running
            .lock()
            .ok()
            .and_then(|r| r.get(&id).cloned());
        if let Some(t) = token {
            t.cancel();
        }
    }

    /// Queues an operation on the application, in `scope` (with the caller's audit entry), and
    /// commits it. Deleting an application that has volumes needs `delete_volumes`.
    pub async fn request(
        &self,
        scope: Scope,
        app: &Application,
        new: NewOperation,
    ) -> Result<Operation, DeployError> {
        if new.kind == OperationKind::Delete && !new.delete_volumes {
            let volumes = scope.list_volumes(app.id).await?;
            if !volumes.is_empty() {
                return Err(DeployError::ApplicationHasVolumes(
                    volumes.into_iter().map(|v| v.name.into_inner()).collect(),
                ));
            }
        }
        let op = scope.create_operation(app.id, new).await?;
        let mut changes = Changes::new();
        changes.operation_changed(&op);
        changes.commit(scope, &self.inner.bus).await?;
        self.wake();
        Ok(op)
    }

    /// The worker: takes queued work until there is none (or the limit runs), then waits to be
    /// woken or for the next poll.
    pub(crate) async fn work(self, shutdown: CancelToken) {
        loop {
            while !shutdown.is_cancelled() {
                match self.claim().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    // Closing the store at shutdown is not an error worth a line.
                    Err(_) if shutdown.is_cancelled() => return,
                    Err(e) => {
                        tracing::error!(error = %e, "the queue cannot be read");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(self.inner.settings.poll) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Takes one operation, or else one deployment, off the queue and starts it; `false` when
    /// there is none to take.
    async fn claim(&self) -> Result<bool, StoreError> {
        let scope = self.inner.store.scope(Actor::System).await?;
        if let Some(op) = scope.claim_next_operation().await? {
            let mut changes = Changes::new();
            changes.operation_changed(&op);
            changes.commit(scope, &self.inner.bus).await?;
            let pipeline = self.clone();
            tokio::spawn(async move {
                crate::operations::run(&pipeline.inner, op).await;
                pipeline.wake();
            });
            return Ok(true);
        }
        let Some((deployment, superseded)) = scope
            .claim_next_deployment(self.inner.settings.concurrency)
            .await?
        else {
            return Ok(false);
        };
        let mut changes = Changes::new();
        for d in superseded.iter().chain(std::iter::once(&deployment)) {
            changes.deployment_changed(d);
        }
        changes.commit(scope, &self.inner.bus).await?;
        let token = CancelToken::new();
        if let Ok(mut r) = self.inner.running.lock() {
            r.insert(deployment.id, token.clone());
        }
        let pipeline = self.clone();
        tokio::spawn(async move {
            let id = deployment.id;
            crate::run::run(&pipeline.inner, deployment, token).await;
            if let Ok(mut r) = pipeline.inner.running.lock() {
                r.remove(&id);
            }
            pipeline.wake();
        });
        Ok(true)
    }

    /// Stops the deployments of this process that someone asked to cancel, wherever the
    /// request reached berth.
    pub(crate) async fn cancel_watch(self, shutdown: CancelToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.inner.settings.cancel_poll) => {}
                _ = shutdown.cancelled() => return,
            }
            let ids: Vec<DeploymentId> = match self.inner.running.lock() {
                Ok(r) => r.keys().copied().collect(),
                Err(_) => continue,
            };
            if ids.is_empty() {
                continue;
            }
            let asked = match self.inner.store.read_scope(Actor::System).await {
                Ok(scope) => scope.cancel_requested(&ids).await,
                Err(e) => Err(e),
            };
            match asked {
                Ok(asked) => {
                    for id in asked {
                        self.cancel_here(id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cancel requests were not read"),
            }
        }
    }
}

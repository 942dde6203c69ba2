//! The deployment pipeline: takes pending deployments off the durable queue (the `pending`
//! rows), runs each through its steps (clone, build, roll out, verify) with the build engine
//! and the orchestrator, writes every line of its log, and moves its status through the
//! domain's state machine. Before it starts, it ends what a stopped server left in progress; a
//! reconciler keeps each application's status in line with what Swarm runs.
//!
//! Architecture invariant: the only crate that drives the engines for a deployment; it talks to
//! the store and the bus, never to HTTP users.

mod logger;
pub use logger::LogLimits;
mod run;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_build::Engine;
use berth_domain::{ApplicationStatus, DeploymentId, DeploymentStatus};
use berth_events::{CancelToken, Event, EventBus};
use berth_store::{Actor, Store, StoreError};

/// The folder of the work directory where running builds keep their journals (see
/// [`berth_build::BuildSpec::journal`]).
pub(crate) const JOURNALS: &str = "journal";
use berth_swarm::Swarm;
use tokio::sync::{Notify, OnceCell};

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Deployments that run at once, across applications (one per application at most).
    pub concurrency: usize,
    /// Checkouts (kept between deployments, so a fetch is incremental) and temporary files.
    pub work_dir: PathBuf,
    /// Directories under which git repositories on this machine may be fetched; none: only
    /// network repositories.
    pub git_local_roots: Vec<PathBuf>,
    /// The most a repository's checkout may take (the fetch, and the commit's files).
    pub max_checkout_bytes: u64,
    /// The most a build context may hold after `.dockerignore`.
    pub max_context_bytes: u64,
    /// The most a deployment's stored log holds.
    pub log_limits: LogLimits,
    pub build_timeout: Duration,
    pub rollout_timeout: Duration,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll: Duration,
    /// How often applications' status is compared with what Swarm runs.
    pub reconcile_every: Duration,
    /// Deployment log lines are kept this long.
    pub log_retention: Duration,
    /// Ended deployments are kept this long (each application's newest successful one always).
    pub deployment_retention: Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            concurrency: 2,
            work_dir: PathBuf::from("data/work"),
            git_local_roots: Vec::new(),
            max_checkout_bytes: 2048 << 20,
            max_context_bytes: 1024 << 20,
            log_limits: LogLimits::default(),
            build_timeout: Duration::from_secs(30 * 60),
            rollout_timeout: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(2),
            reconcile_every: Duration::from_secs(30),
            log_retention: Duration::from_secs(30 * 24 * 3600),
            deployment_retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// The engines a deployment needs.
#[derive(Debug, Clone)]
pub struct Engines {
    pub build: Engine,
    pub swarm: Swarm,
}

/// The pipeline's handle. Cheap to clone; the API holds one to wake the worker, cancel a
/// deployment and reach the orchestrator.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) bus: EventBus,
    pub(crate) settings: PipelineSettings,
    /// The engines, or why they cannot be used; set once by [`Pipeline::start`].
    pub(crate) engines: OnceCell<Result<Engines, String>>,
    pub(crate) running: Mutex<HashMap<DeploymentId, CancelToken>>,
    wake: Notify,
}

/// The message a deployment interrupted by a stopped server ends with.
pub const INTERRUPTED: &str = "interrupted: the server stopped during this deployment";

impl Pipeline {
    pub fn new(store: Store, bus: EventBus, settings: PipelineSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                bus,
                settings,
                engines: OnceCell::new(),
                running: Mutex::new(HashMap::new()),
                wake: Notify::new(),
            }),
        }
    }

    /// Starts the worker and the reconciler; call [`Self::recover`] first, before anything
    /// can queue or claim work. With no engines (`Err` says why), queued deployments fail with
    /// that reason instead of waiting forever.
    pub fn start(&self, engines: Result<Engines, String>, shutdown: CancelToken) {
        let _ = self.inner.engines.set(engines);
        let worker = self.clone();
        let cleaner = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            // Release jobs a stopped server left running go before any new one starts.
            if let Err(e) = cleaner.remove_leftover_jobs().await {
                tracing::warn!(error = %e, "leftover release jobs were not removed");
            }
            cleaner.remove_leftover_layers().await;
            worker.work(stop).await
        });
        let reconciler = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move { reconciler.reconcile_loop(stop).await });
        let pruner = self.clone();
        tokio::spawn(async move { pruner.retention_loop(shutdown).await });
    }

    /// Removes the release jobs of this installation's applications (recovery has just ended
    /// every deployment that could own one); other installations' jobs on a shared engine are
    /// left alone.
    async fn remove_leftover_jobs(&self) -> Result<(), String> {
        let swarm = self.swarm()?;
        let jobs = swarm.list_jobs().await.map_err(|e| e.to_string())?;
        let scope = self
            .inner
            .store
            .read_scope(Actor::System)
            .await
            .map_err(|e| e.to_string())?;
        let mut mine = Vec::new();
        for (name, app) in jobs {
            let Some(id) = app.as_deref().and_then(|a| uuid::Uuid::parse_str(a).ok()) else {
                continue;
            };
            let id = berth_domain::ApplicationId::from_uuid(id);
            if scope.application(id).await.is_ok() {
                mine.push(name);
            }
        }
        drop(scope);
        for name in &mine {
            swarm.remove(name, false).await.map_err(|e| e.to_string())?;
            tracing::warn!(job = %name, "a release job the last run left was removed");
        }
        Ok(())
    }

    /// Removes the image layers of builds a stopped server left halfway, as their journals
    /// (`work/journal/<build id>`) say.
    async fn remove_leftover_layers(&self) {
        let Ok(engines) = self.engines() else { return };
        let dir = self.inner.settings.work_dir.join(JOURNALS);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match engines.build.clean_journal(&path).await {
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

    /// The orchestrator, when Swarm can be used.
    pub fn swarm(&self) -> Result<&Swarm, String> {
        self.engines().map(|e| &e.swarm)
    }

    /// The build engine and the orchestrator, when the Docker engine can be used.
    pub fn engines(&self) -> Result<&Engines, String> {
        match self.inner.engines.get() {
            Some(Ok(e)) => Ok(e),
            Some(Err(why)) => Err(why.clone()),
            None => Err("the Docker engine is still being prepared".into()),
        }
    }

    /// Something was queued: look at the queue now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Stops a running deployment's clone, build or rollout (the deployment then ends
    /// `cancelled`); `false` when it is not running in this process.
    pub fn cancel_running(&self, id: DeploymentId) -> bool {
        let running = self.inner.running.lock().map(|r| r.get(&id).cloned());
        match running {
            Ok(Some(token)) => {
                token.cancel();
                true
            }
            _ => false,
        }
    }

    /// Ends every deployment a stopped server left in progress as `failed`, with its steps and
    /// build, and removes the temporary files it left. Pending deployments stay queued.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let tmp = self.inner.settings.work_dir.join("tmp");
        if tmp.exists() {
            if let Err(e) = std::fs::remove_dir_all(&tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "temporary files kept");
            }
        }
        let scope = self.inner.store.scope(Actor::System).await?;
        let mut ended = Vec::new();
        for d in scope.unfinished_deployments().await? {
            if d.status == DeploymentStatus::Pending {
                continue;
            }
            let d = scope
                .transition_deployment(d.id, DeploymentStatus::Failed, Some(INTERRUPTED))
                .await?;
            for step in scope.deployment_steps(d.id).await? {
                if !step.state.is_final() {
                    scope
                        .set_step_state(
                            d.id,
                            step.name,
                            if step.state == berth_domain::StepState::Running {
                                berth_domain::StepState::Failed
                            } else {
                                berth_domain::StepState::Skipped
                            },
                            Some(INTERRUPTED),
                        )
                        .await?;
                }
            }
            if let Some(b) = d.build_id {
                let build = scope.build(b).await?;
                if !build.status.is_final() {
                    scope
                        .transition_build(b, berth_domain::BuildStatus::Failed, Some(INTERRUPTED))
                        .await?;
                }
            }
            ended.push(d);
        }
        scope.commit().await?;
        for d in &ended {
            tracing::warn!(deployment = %d.id, "{INTERRUPTED}");
            self.inner.bus.publish(Event::DeploymentStatusChanged {
                deployment_id: d.id,
                application_id: d.application_id,
                status: d.status,
            });
        }
        Ok(ended.len())
    }

    async fn work(self, shutdown: CancelToken) {
        loop {
            while !shutdown.is_cancelled() {
                match self.claim().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    // Closing the store at shutdown is not an error worth a line.
                    Err(_) if shutdown.is_cancelled() => return,
                    Err(e) => {
                        tracing::error!(error = %e, "the deployment queue cannot be read");
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

    /// Takes one deployment off the queue and starts it; `false` when there is none to take.
    async fn claim(&self) -> Result<bool, StoreError> {
        let scope = self.inner.store.scope(Actor::System).await?;
        let Some((deployment, superseded)) = scope
            .claim_next_deployment(self.inner.settings.concurrency)
            .await?
        else {
            return Ok(false);
        };
        scope.commit().await?;
        for d in superseded.iter().chain(std::iter::once(&deployment)) {
            self.inner.bus.publish(Event::DeploymentStatusChanged {
                deployment_id: d.id,
                application_id: d.application_id,
                status: d.status,
            });
        }
        let token = CancelToken::new();
        if let Ok(mut r) = self.inner.running.lock() {
            r.insert(deployment.id, token.clone());
        }
        let inner = self.inner.clone();
        let pipeline = self.clone();
        tokio::spawn(async move {
            let id = deployment.id;
            run::run(&inner, deployment, token).await;
            if let Ok(mut r) = inner.running.lock() {
                r.remove(&id);
            }
            pipeline.wake();
        });
        Ok(true)
    }

    /// Applies the retention settings now and every six hours; webhook delivery ids are
    /// forgotten after a week (git hosts retry within hours).
    async fn retention_loop(self, shutdown: CancelToken) {
        loop {
            if let Err(e) = self.prune().await {
                tracing::warn!(error = %e, "retention skipped");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(6 * 3600)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Deletes what the retention settings say is too old; returns the lines and deployments
    /// that went.
    pub async fn prune(&self) -> Result<(u64, u64), StoreError> {
        let now = chrono::Utc::now();
        let ago =
            |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
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
        scope.commit().await?;
        if pruned != (0, 0) {
            tracing::info!(
                log_lines = pruned.0,
                deployments = pruned.1,
                "old deployment history pruned"
            );
        }
        Ok(pruned)
    }

    async fn reconcile_loop(self, shutdown: CancelToken) {
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

    /// Compares every application that has a service with what Swarm runs, and sets its status
    /// (running, stopped, failed) when it differs, publishing the change. Applications with a
    /// deployment in progress are left to it.
    pub async fn reconcile(&self) -> Result<usize, String> {
        let swarm = self.swarm()?;
        let services = swarm.list_managed().await.map_err(|e| e.to_string())?;
        let scope = self
            .inner
            .store
            .scope(Actor::System)
            .await
            .map_err(|e| e.to_string())?;
        let busy: Vec<_> = scope
            .unfinished_deployments()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|d| d.application_id)
            .collect();
        let mut changed = Vec::new();
        for s in services {
            let Some(id) = s
                .application_id
                .as_deref()
                .and_then(|a| uuid::Uuid::parse_str(a).ok())
            else {
                continue;
            };
            let id = berth_domain::ApplicationId::from_uuid(id);
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
                scope
                    .set_application_status(id, status)
                    .await
                    .map_err(|e| e.to_string())?;
                changed.push((id, status));
            }
        }
        scope.commit().await.map_err(|e| e.to_string())?;
        for (application_id, status) in &changed {
            self.inner.bus.publish(Event::ApplicationStatusChanged {
                application_id: *application_id,
                status: *status,
            });
        }
        Ok(changed.len())
    }
}

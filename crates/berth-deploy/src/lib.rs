//! The use cases of berth: every operation on an application's deployments and on what runs.
//! Queueing a deployment (from the API, a webhook, a service token, a redeploy), cancelling it,
//! rolling back, and starting, stopping, restarting, scaling and deleting an application are
//! each recorded in the store (a deployment or an operation row), answered at once, and run in
//! the background by the worker, one at a time per application.
//!
//! The worker takes pending deployments and operations off the durable queue (their `pending`
//! rows), runs each deployment through its steps (clone, build, release, roll out, verify) with
//! the build engine and the orchestrator, writes every line of its log, and moves its status
//! through the domain's state machine. Before it starts, recovery ends what a stopped server
//! left in progress; a reconciler keeps each application's status in line with what the
//! orchestrator runs; the scheduler runs what is due on a timetable (retention, which prunes
//! old history, first).
//!
//! Modules: [`queue`] (the use cases that queue work, the worker, cancellation), [`run`] (one
//! deployment), [`operations`] (one operation), [`recovery`], [`reconcile`], [`retention`], [`scheduler`],
//! [`runtime`] (what runs, for the API), [`ports`] (the engines' traits) and [`engines`] (their
//! real implementations), [`changes`] (the one place statuses are written and announced).
//!
//! Architecture invariant: the only crate that drives the engines; it reaches them through its
//! own ports, talks to the store and the bus, and never to HTTP users.

mod changes;
pub mod engines;
mod error;
mod logger;
pub mod operations;
pub mod ports;
pub mod queue;
pub mod reconcile;
pub mod recovery;
pub mod retention;
mod run;
pub mod runtime;
pub mod scheduler;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_domain::DeploymentId;
use berth_events::{CancelToken, EventBus};
use berth_store::Store;
use tokio::sync::{Notify, OnceCell};

/// What the orchestrator says runs, as the API shows it.
pub use berth_swarm::{LogLine, LogOptions, LogStream, ReplicaUsage, ServiceStatus, TaskInfo};
pub use engines::{Engines, SystemClock};
pub use error::DeployError;
pub use logger::LogLimits;
pub use ports::{Builder, Clock, Orchestrator};
pub use queue::DeploymentRequest;

/// The folder of the work directory where running builds keep their journals (see
/// [`berth_build::BuildSpec::journal`]).
pub(crate) const JOURNALS: &str = "journal";

/// The message a deployment or operation interrupted by a stopped server ends with.
pub const INTERRUPTED: &str = "interrupted: the server stopped during this deployment";

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
    /// How long a rollout, a release job or an operation may take.
    pub rollout_timeout: Duration,
    /// How often the queue is looked at when nothing wakes the worker.
    pub poll: Duration,
    /// How often running deployments' cancel requests are looked for (a cancel that reached
    /// another process).
    pub cancel_poll: Duration,
    /// How often applications' status is compared with what the orchestrator runs.
    pub reconcile_every: Duration,
    /// Deployment log lines are kept this long.
    pub log_retention: Duration,
    /// Ended deployments are kept this long (each application's newest successful one always).
    pub deployment_retention: Duration,
    /// Audit entries are kept this long.
    pub audit_retention: Duration,
    /// The installation's time zone, in which schedules are read.
    pub time_zone: berth_domain::TimeZone,
    /// How often due schedules are looked for.
    pub schedule_poll: Duration,
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
            cancel_poll: Duration::from_secs(1),
            reconcile_every: Duration::from_secs(30),
            log_retention: Duration::from_secs(30 * 24 * 3600),
            deployment_retention: Duration::from_secs(90 * 24 * 3600),
            audit_retention: Duration::from_secs(365 * 24 * 3600),
            time_zone: berth_domain::TimeZone::UTC,
            schedule_poll: Duration::from_secs(10),
        }
    }
}

/// The pipeline's handle. Cheap to clone; the API holds one to ask for work and to read what
/// runs.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) bus: EventBus,
    pub(crate) settings: PipelineSettings,
    pub(crate) clock: Arc<dyn Clock>,
    /// The engines, or why they cannot be used; set once by [`Pipeline::start`].
    pub(crate) engines: OnceCell<Result<Engines, String>>,
    /// The deployments this process runs, with what stops each.
    pub(crate) running: Mutex<HashMap<DeploymentId, CancelToken>>,
    pub(crate) wake: Notify,
    /// Wakes the scheduler (a run asked for now).
    pub(crate) schedule_wake: Notify,
}

impl Pipeline {
    pub fn new(store: Store, bus: EventBus, settings: PipelineSettings) -> Self {
        Self::with_clock(store, bus, settings, Arc::new(SystemClock))
    }

    pub fn with_clock(
        store: Store,
        bus: EventBus,
        settings: PipelineSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                bus,
                settings,
                clock,
                engines: OnceCell::new(),
                running: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                schedule_wake: Notify::new(),
            }),
        }
    }

    /// Starts the worker, the cancel watch, the reconciler and the scheduler; call
    /// [`Self::recover`] first, before anything can queue or claim work. With no engines (`Err`
    /// says why), queued work fails with that reason instead of waiting forever.
    pub fn start(&self, engines: Result<Engines, String>, shutdown: CancelToken) {
        let _ = self.inner.engines.set(engines);
        let worker = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            // What a stopped server left on the engines goes before any new work starts.
            worker.remove_leftovers().await;
            worker.work(stop).await
        });
        let watcher = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move { watcher.cancel_watch(stop).await });
        let reconciler = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move { reconciler.reconcile_loop(stop).await });
        let scheduler = self.clone();
        tokio::spawn(async move { scheduler.schedule_loop(shutdown).await });
    }

    /// Something was queued: look at the queue now.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) fn engines(&self) -> Result<&Engines, DeployError> {
        self.inner.engines()
    }
}

impl Inner {
    pub(crate) fn engines(&self) -> Result<&Engines, DeployError> {
        match self.engines.get() {
            Some(Ok(e)) => Ok(e),
            Some(Err(why)) => Err(DeployError::EnginesUnavailable(format!(
                "the Docker engine cannot be used: {why}"
            ))),
            None => Err(DeployError::EnginesUnavailable(
                "the Docker engine is still being prepared".into(),
            )),
        }
    }
}

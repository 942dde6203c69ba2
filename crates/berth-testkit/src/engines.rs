//! In-process implementations of berth-deploy's ports, for fast tests of the pipeline's own
//! logic and of the API's use of it. They keep what a real engine would (services with their
//! specification, images, volumes, networks), can be told how the next build, rollout or
//! release ends, and record every call. They never replace the tests against the real engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use berth_build::{BuildError, BuildSpec, BuiltImage, CommitInfo, GitRef, SourceSpec};
use berth_deploy::ports::{Builder, Clock, Orchestrator};
use berth_deploy::{Engines, LogLine, LogOptions, ServiceStatus, TaskInfo};
use berth_domain::{ImageReference, ServiceSpec};
use berth_events::CancelToken;
use berth_swarm::{Change, DeployOutcome, Endpoint, JobOutcome, ManagedService, SwarmError};
use futures_util::stream::BoxStream;

/// How the next rollouts end.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Rollout {
    /// Every replica runs.
    #[default]
    Converge,
    /// The new version fails its health check; the previous one keeps serving.
    RollBack(String),
    /// The orchestrator fails.
    Fail(String),
    /// The rollout does not end until it is cancelled.
    Hang,
}

/// A service as the fake orchestrator keeps it.
#[derive(Debug, Clone)]
pub struct FakeService {
    pub spec: ServiceSpec,
    pub previous: Option<ServiceSpec>,
    pub desired: u32,
    pub running: u32,
}

#[derive(Debug, Default)]
struct State {
    services: BTreeMap<String, FakeService>,
    images: BTreeSet<String>,
    /// Registry images the engine does not have (pulled on demand); any other is there.
    missing_images: BTreeSet<String>,
    volumes: BTreeSet<String>,
    /// Branch → the commit its tip is.
    tips: BTreeMap<String, String>,
    builds: u32,
    fail_builds: Option<String>,
    hold_builds: bool,
    rollout: Rollout,
    release_exit: i64,
    endpoints: Vec<SocketAddr>,
    calls: Vec<String>,
}

/// The build engine and the orchestrator, in memory.
#[derive(Debug, Default)]
pub struct FakeEngines {
    state: Mutex<State>,
}

impl FakeEngines {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Both ports, for `Pipeline::start`.
    pub fn engines(self: &Arc<Self>) -> Engines {
        Engines {
            builder: self.clone(),
            orchestrator: self.clone(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    fn call(&self, what: String) {
        self.with(|s| s.calls.push(what));
    }

    /// The branch's tip is this commit (40 hex digits).
    pub fn set_tip(&self, branch: &str, sha: &str) {
        self.with(|s| s.tips.insert(branch.to_owned(), sha.to_owned()));
    }

    /// Builds fail with this message (`None`: they succeed).
    pub fn fail_builds(&self, why: Option<&str>) {
        self.with(|s| s.fail_builds = why.map(str::to_owned));
    }

    /// Builds wait until they are cancelled.
    pub fn hold_builds(&self, hold: bool) {
        self.with(|s| s.hold_builds = hold);
    }

    pub fn set_rollout(&self, rollout: Rollout) {
        self.with(|s| s.rollout = rollout);
    }

    pub fn set_release_exit(&self, code: i64) {
        self.with(|s| s.release_exit = code);
    }

    /// Where every service's replicas answer (for the verify step's HTTP check).
    pub fn set_endpoints(&self, endpoints: Vec<SocketAddr>) {
        self.with(|s| s.endpoints = endpoints);
    }

    pub fn service(&self, name: &str) -> Option<FakeService> {
        self.with(|s| s.services.get(name).cloned())
    }

    pub fn services(&self) -> Vec<String> {
        self.with(|s| s.services.keys().cloned().collect())
    }

    pub fn add_volume(&self, name: &str) {
        self.with(|s| s.volumes.insert(name.to_owned()));
    }

    pub fn volumes(&self) -> Vec<String> {
        self.with(|s| s.volumes.iter().cloned().collect())
    }

    pub fn images(&self) -> Vec<String> {
        self.with(|s| s.images.iter().cloned().collect())
    }

    /// How many images were built.
    pub fn builds(&self) -> u32 {
        self.with(|s| s.builds)
    }

    /// Every call, in order, as `name argument`.
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    fn require(&self, name: &str) -> Result<(), SwarmError> {
        if self.with(|s| s.services.contains_key(name)) {
            Ok(())
        } else {
            Err(SwarmError::NotFound(name.to_owned()))
        }
    }

    fn set_running(&self, name: &str, replicas: u32) {
        self.with(|s| {
            if let Some(svc) = s.services.get_mut(name) {
                svc.desired = replicas;
                svc.running = replicas;
            }
        });
    }
}

#[async_trait]
impl Builder for FakeEngines {
    async fn checkout(
        &self,
        source: SourceSpec,
        _dir: &Path,
        _events: berth_build::EventSink,
        cancel: CancelToken,
    ) -> Result<CommitInfo, BuildError> {
        self.call(format!("checkout {}", source.repository));
        if cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        let sha = match &source.reference {
            GitRef::Commit(sha) => sha.to_string(),
            GitRef::Branch(b) => self
                .with(|s| s.tips.get(b.as_str()).cloned())
                .unwrap_or_else(|| "1".repeat(40)),
            GitRef::Tag(t) => {
                return Err(BuildError::MissingRef {
                    what: "tag",
                    name: t.to_string(),
                })
            }
        };
        Ok(CommitInfo {
            sha,
            message: "a commit".into(),
            author: "dev".into(),
            host_key: None,
        })
    }

    async fn build(
        &self,
        spec: &BuildSpec,
        _events: &berth_build::EventSink,
        cancel: &CancelToken,
    ) -> Result<BuiltImage, BuildError> {
        self.call(format!("build {}:{}", spec.repository, spec.tag));
        if self.with(|s| s.hold_builds) {
            cancel.cancelled().await;
            return Err(BuildError::Cancelled);
        }
        if let Some(why) = self.with(|s| s.fail_builds.clone()) {
            return Err(BuildError::Failed {
                step: "RUN make".into(),
                message: why,
            });
        }
        let n = self.with(|s| {
            s.builds += 1;
            s.builds
        });
        let image_id = format!("sha256:{n:064x}");
        self.with(|s| s.images.insert(image_id.clone()));
        Ok(BuiltImage {
            image_id,
            tags: vec![format!("{}:{}", spec.repository, spec.tag)],
            dropped_events: 0,
        })
    }

    /// Built images while they are kept; a registry's image (a name, not an id) unless the
    /// test made it missing, as an engine that had it pulled before.
    async fn has_image(&self, image: &str) -> bool {
        self.with(|s| {
            s.images.contains(image)
                || (!image.starts_with("sha256:") && !s.missing_images.contains(image))
        })
    }

    async fn pull(
        &self,
        image: &ImageReference,
        credentials: Option<&berth_domain::RegistryCredentials>,
        _events: &berth_build::EventSink,
        _cancel: &CancelToken,
    ) -> Result<String, BuildError> {
        let name = image.for_engine();
        match credentials {
            Some(c) => self.call(format!("pull {name} as {}", c.username)),
            None => self.call(format!("pull {name}")),
        }
        self.with(|s| s.missing_images.remove(&name));
        Ok(format!("sha256:{:064x}", name.len()))
    }

    async fn clean_journal(&self, _journal: &Path) -> Result<usize, BuildError> {
        Ok(0)
    }

    async fn prune(&self, repository: &str, keep: usize) -> Result<Vec<String>, BuildError> {
        self.call(format!("prune {repository} {keep}"));
        Ok(Vec::new())
    }
}

#[async_trait]
impl Orchestrator for FakeEngines {
    async fn deploy(
        &self,
        spec: &ServiceSpec,
        _events: &berth_swarm::EventSink,
        cancel: &CancelToken,
        _timeout: Duration,
    ) -> Result<DeployOutcome, SwarmError> {
        let name = spec.name.to_string();
        self.call(format!("deploy {name} {}", spec.image));
        match self.with(|s| s.rollout.clone()) {
            Rollout::Converge => {}
            Rollout::RollBack(reason) => {
                return Ok(DeployOutcome::RolledBack {
                    reason,
                    dropped_events: 0,
                })
            }
            Rollout::Fail(why) => return Err(SwarmError::Failed { reason: why }),
            Rollout::Hang => {
                cancel.cancelled().await;
                return Err(SwarmError::Cancelled);
            }
        }
        let replicas = spec.replicas.get();
        let change = self.with(|s| match s.services.get_mut(&name) {
            Some(svc) if svc.spec == *spec => Change::Unchanged,
            Some(svc) => {
                svc.previous = Some(std::mem::replace(&mut svc.spec, spec.clone()));
                svc.desired = replicas;
                svc.running = replicas;
                Change::Updated
            }
            None => {
                s.services.insert(
                    name.clone(),
                    FakeService {
                        spec: spec.clone(),
                        previous: None,
                        desired: replicas,
                        running: replicas,
                    },
                );
                Change::Created
            }
        });
        Ok(DeployOutcome::Converged {
            running: replicas,
            change,
            dropped_events: 0,
        })
    }

    async fn rollback(&self, name: &str, _timeout: Duration) -> Result<(), SwarmError> {
        self.call(format!("rollback {name}"));
        self.with(|s| {
            let svc = s
                .services
                .get_mut(name)
                .ok_or_else(|| SwarmError::NotFound(name.to_owned()))?;
            let previous = svc
                .previous
                .take()
                .ok_or_else(|| SwarmError::NothingToRollBack(name.to_owned()))?;
            svc.spec = previous;
            Ok(())
        })
    }

    async fn remove(&self, name: &str) -> Result<(), SwarmError> {
        self.call(format!("remove {name}"));
        self.with(|s| s.services.remove(name))
            .map(drop)
            .ok_or_else(|| SwarmError::NotFound(name.to_owned()))
    }

    async fn run_job(
        &self,
        spec: &ServiceSpec,
        command: &[String],
        _cancel: &CancelToken,
        _timeout: Duration,
    ) -> Result<JobOutcome, SwarmError> {
        self.call(format!("job {} {}", spec.image, command.join(" ")));
        Ok(JobOutcome {
            exit_code: self.with(|s| s.release_exit),
            output: Vec::new(),
        })
    }

    async fn list_jobs(&self) -> Result<Vec<(String, Option<String>)>, SwarmError> {
        Ok(Vec::new())
    }

    async fn status(&self, name: &str) -> Result<ServiceStatus, SwarmError> {
        let svc = self
            .service(name)
            .ok_or_else(|| SwarmError::NotFound(name.to_owned()))?;
        Ok(ServiceStatus {
            id: format!("fake-{name}"),
            name: name.to_owned(),
            desired: svc.desired,
            running: svc.running,
            spec_id: None,
            update: None,
            last_error: None,
            labels: Default::default(),
            tasks: (0..svc.running)
                .map(|i| TaskInfo {
                    id: format!("{name}-task-{i}"),
                    slot: Some(i64::from(i) + 1),
                    node_id: "fake-node".into(),
                    state: "running".into(),
                    desired: "running".into(),
                    message: String::new(),
                    error: None,
                    spec_id: None,
                    image: svc.spec.image.clone(),
                    host_ports: Vec::new(),
                    updated_at: None,
                    container_id: None,
                    exit_code: None,
                })
                .collect(),
        })
    }

    async fn list_managed(&self) -> Result<Vec<ManagedService>, SwarmError> {
        Ok(self.with(|s| {
            s.services
                .iter()
                .map(|(name, svc)| ManagedService {
                    name: name.clone(),
                    application_id: Some(svc.spec.application_id.to_string()),
                    deployment_id: svc.spec.deployment_id.map(|d| d.to_string()),
                    desired: svc.desired,
                    running: svc.running,
                    update_state: None,
                })
                .collect()
        }))
    }

    async fn endpoints(&self, name: &str, port: u16) -> Result<Vec<Endpoint>, SwarmError> {
        self.require(name)?;
        Ok(self.with(|s| {
            s.endpoints
                .iter()
                .enumerate()
                .map(|(i, a)| Endpoint {
                    task_id: format!("{name}-task-{i}"),
                    node_id: "fake-node".into(),
                    addr: SocketAddr::new(a.ip(), if a.port() == 0 { port } else { a.port() }),
                })
                .collect()
        }))
    }

    async fn start(&self, name: &str, _timeout: Duration) -> Result<u32, SwarmError> {
        self.call(format!("start {name}"));
        self.require(name)?;
        let n = self
            .service(name)
            .map_or(1, |s| s.spec.replicas.get().max(1));
        self.set_running(name, n);
        Ok(n)
    }

    async fn stop(&self, name: &str, _timeout: Duration) -> Result<(), SwarmError> {
        self.call(format!("stop {name}"));
        self.require(name)?;
        self.set_running(name, 0);
        Ok(())
    }

    async fn restart(&self, name: &str, _timeout: Duration) -> Result<u32, SwarmError> {
        self.call(format!("restart {name}"));
        self.require(name)?;
        Ok(self.service(name).map_or(0, |s| s.running))
    }

    async fn scale(
        &self,
        name: &str,
        replicas: u32,
        _timeout: Duration,
    ) -> Result<u32, SwarmError> {
        self.call(format!("scale {name} {replicas}"));
        self.require(name)?;
        self.set_running(name, replicas);
        Ok(replicas)
    }

    async fn logs(
        &self,
        name: &str,
        _options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine, SwarmError>>, SwarmError> {
        self.require(name)?;
        Ok(Box::pin(futures_util::stream::empty()))
    }

    async fn remove_volume(&self, name: &str) -> Result<(), SwarmError> {
        self.call(format!("remove-volume {name}"));
        self.with(|s| s.volumes.remove(name));
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<(), SwarmError> {
        self.call(format!("remove-network {name}"));
        Ok(())
    }

    /// Each running replica uses one percent of a core and 1 MiB more per slot.
    async fn usage(&self, name: &str) -> Result<Vec<berth_swarm::ReplicaUsage>, SwarmError> {
        let svc = self
            .service(name)
            .ok_or_else(|| SwarmError::NotFound(name.to_owned()))?;
        Ok((0..svc.running)
            .map(|i| berth_swarm::ReplicaUsage {
                task_id: format!("{name}-task-{i}"),
                slot: Some(i64::from(i) + 1),
                cpu_percent: 1.0,
                memory_bytes: (u64::from(i) + 1) << 20,
                memory_limit_bytes: Some(64 << 20),
            })
            .collect())
    }
}

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FakeClock(Mutex<chrono::DateTime<chrono::Utc>>);

impl FakeClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(chrono::Utc::now())))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

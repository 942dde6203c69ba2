//! The operations on one service, each idempotent, and the wait for the engine to converge.
//!
//! Convergence is read from the engine, never assumed: every container carries the id of the
//! task template it runs ([`crate::spec::SPEC_LABEL`]), so a rollout counts the new version's
//! running tasks, and Swarm's own update status tells whether it completed, paused or rolled
//! back (and which task failed).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use berth_domain::service::labels;
use berth_domain::ServiceSpec;
use berth_events::CancelToken;
use bollard::models::{Service, ServiceUpdateStatusStateEnum, Task, TaskState};
use bollard::query_parameters::{
    ListContainersOptions, ListSecretsOptions, ListServicesOptions, ListTasksOptions,
};

use crate::error::is_not_found;
use crate::raw::check_name;
use crate::spec::{SERVICE_LABEL, SPEC_LABEL};
use crate::{EventSink, Swarm, SwarmError, SwarmEvent};

/// How a deploy ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Every replica of the new version runs (and passed its health check).
    Converged {
        running: u32,
        change: Change,
        dropped_events: u64,
    },
    /// The new version failed and Swarm went back to the previous one, which kept serving.
    RolledBack { reason: String, dropped_events: u64 },
}

/// What a deploy did to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The service did not exist; it was created.
    Created,
    /// Its specification changed; the replicas were replaced (or rescaled).
    Updated,
    /// The same specification was deployed again: nothing was replaced.
    Unchanged,
}

/// One task (one replica's container, current or past) as berth shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub slot: Option<i64>,
    pub node_id: String,
    pub state: String,
    pub desired: String,
    pub message: String,
    pub error: Option<String>,
    /// The task template it runs (see [`ServiceStatus::spec_id`]).
    pub spec_id: Option<String>,
    pub image: String,
    /// `(container port, host port)` for ports published in host mode.
    pub host_ports: Vec<(u16, u16)>,
    pub updated_at: Option<String>,
    pub container_id: Option<String>,
    pub exit_code: Option<i64>,
}

/// A replica that is running (and healthy) and where this host reaches a container port of it:
/// its address on the engine's `docker_gwbridge` bridge, which only this host can reach (the
/// bridge forwards no new connection from another machine, and none between two containers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub task_id: String,
    pub node_id: String,
    pub addr: std::net::SocketAddr,
}

/// The bridge every Swarm task's container is attached to for traffic leaving its node.
pub const GATEWAY_BRIDGE: &str = "docker_gwbridge";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub id: String,
    pub name: String,
    pub desired: u32,
    pub running: u32,
    /// The task template the service is asked to run now.
    pub spec_id: Option<String>,
    /// Swarm's rolling-update state and message, if an update ever ran.
    pub update: Option<(String, String)>,
    /// The most recent error a task reported.
    pub last_error: Option<String>,
    /// Tasks berth's labels say which application and deployment the service belongs to.
    pub labels: HashMap<String, String>,
    pub tasks: Vec<TaskInfo>,
}

/// A service berth manages, for reconciliation against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedService {
    pub name: String,
    pub application_id: Option<String>,
    pub deployment_id: Option<String>,
    pub desired: u32,
    pub running: u32,
    pub update_state: Option<String>,
}

/// What a wait for convergence saw.
enum Waited {
    Converged(u32),
    RolledBack(String),
    Failed(String),
    TimedOut(Vec<String>),
    Cancelled,
}

/// What to wait for.
struct Goal<'a> {
    replicas: u32,
    /// Count only tasks of this template.
    spec_id: Option<&'a str>,
    /// A rolling update (or rollback) must start after `since` and end.
    expect_update: bool,
    since: Option<String>,
    /// Stop at the first failed task of the new template (a service that did not exist).
    fail_fast: bool,
}

/// The label berth keeps the replica count under while a service is stopped.
const STOPPED_REPLICAS: &str = "berth.stopped-replicas";
const POLL: Duration = Duration::from_millis(200);

impl Swarm {
    /// Creates the service or updates it to `spec`, then waits until it converges. An update
    /// is a start-first rolling update gated by the health check (as `spec.update` says);
    /// Swarm rolls back a version whose tasks fail and the outcome says why. A new service that
    /// fails to start, does not converge in `timeout` or is cancelled is removed again; an
    /// update in those cases is rolled back to the previous specification.
    pub async fn deploy(
        &self,
        spec: &ServiceSpec,
        events: &EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<DeployOutcome, SwarmError> {
        let name = spec.name.as_str();
        let replicas = spec.replicas.get();
        match self.service(name).await? {
            None => {
                let (engine, spec_id) = self.engine_spec(spec, None).await?;
                if let Err(e) = self.docker.create_service(engine, None).await {
                    self.remove_secrets(name, &HashSet::new()).await;
                    return Err(e.into());
                }
                let goal = Goal {
                    replicas,
                    spec_id: Some(&spec_id),
                    expect_update: false,
                    since: None,
                    fail_fast: true,
                };
                let waited = self.converge(name, &goal, events, cancel, timeout).await;
                match waited {
                    Ok(Waited::Converged(running)) => Ok(DeployOutcome::Converged {
                        running,
                        change: Change::Created,
                        dropped_events: events.dropped(),
                    }),
                    other => {
                        // Nothing served before: leave nothing behind.
                        self.remove(name, false).await?;
                        let published = spec.ports.iter().filter_map(|p| p.published);
                        Err(failure(other?, timeout, published.map(|p| p.get())))
                    }
                }
            }
            Some(current) => {
                let template = current.spec.as_ref().and_then(|s| s.task_template.as_ref());
                let force = template.and_then(|t| t.force_update);
                let current_id = template
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.labels.as_ref())
                    .and_then(|l| l.get(SPEC_LABEL).cloned());
                let current_image = template
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.image.clone());
                let (engine, spec_id) = self.engine_spec(spec, force).await?;
                let since = update_started(&current);
                let image = engine
                    .task_template
                    .as_ref()
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.image.clone());
                // The digest says whether berth's own specification changed; the image is
                // compared too, so a service someone re-pointed by hand is put right.
                let changed =
                    current_id.as_deref() != Some(spec_id.as_str()) || current_image != image;
                let engine =
                    serde_json::to_value(&engine).map_err(|e| SwarmError::Engine(e.to_string()))?;
                self.update_with(
                    name,
                    |s| {
                        if changed {
                            s.clone_from(&engine);
                        } else {
                            // Same tasks: keep the engine's own form of the template and
                            // ports (sending ours again would replace every replica).
                            for key in ["Labels", "Mode", "UpdateConfig", "RollbackConfig"] {
                                s[key] = engine[key].clone();
                            }
                        }
                    },
                    None,
                )
                .await?;
                let goal = Goal {
                    replicas,
                    spec_id: Some(&spec_id),
                    expect_update: changed && replicas > 0,
                    since,
                    fail_fast: false,
                };
                match self.converge(name, &goal, events, cancel, timeout).await? {
                    Waited::Converged(running) => {
                        self.prune_secrets(name).await;
                        Ok(DeployOutcome::Converged {
                            running,
                            change: if changed {
                                Change::Updated
                            } else {
                                Change::Unchanged
                            },
                            dropped_events: events.dropped(),
                        })
                    }
                    Waited::RolledBack(reason) => Ok(DeployOutcome::RolledBack {
                        reason,
                        dropped_events: events.dropped(),
                    }),
                    Waited::Failed(reason) => Err(SwarmError::Failed { reason }),
                    other => {
                        // Back to what served before, bounded so a stuck engine cannot hold us.
                        let _ = self
                            .rollback(name, events, &CancelToken::new(), timeout)
                            .await;
                        Err(failure(other, timeout, std::iter::empty()))
                    }
                }
            }
        }
    }

    /// Sets the number of replicas and waits until that many run.
    pub async fn scale(
        &self,
        name: &str,
        replicas: u32,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        self.require(name).await?;
        self.update_with(name, |s| set_replicas(s, replicas), None)
            .await?;
        self.converge_simply(name, replicas, events, timeout).await
    }

    /// Stops every replica (replicas 0); volumes, secrets and the specification are kept, and
    /// [`Self::start`] brings back as many replicas as ran before.
    pub async fn stop(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<(), SwarmError> {
        let service = self.require(name).await?;
        let current = replicas_of(&service);
        if current > 0 {
            self.update_with(
                name,
                |s| {
                    s["Labels"][STOPPED_REPLICAS] = current.to_string().into();
                    set_replicas(s, 0);
                },
                None,
            )
            .await?;
        }
        self.converge_simply(name, 0, events, timeout)
            .await
            .map(|_| ())
    }

    /// Starts a stopped service with the replicas it had; a running one is left as it is.
    pub async fn start(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let mut replicas = replicas_of(&service);
        if replicas == 0 {
            replicas = service
                .spec
                .as_ref()
                .and_then(|s| s.labels.as_ref())
                .and_then(|l| l.get(STOPPED_REPLICAS))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            self.update_with(
                name,
                |s| {
                    if let Some(l) = s["Labels"].as_object_mut() {
                        l.remove(STOPPED_REPLICAS);
                    }
                    set_replicas(s, replicas);
                },
                None,
            )
            .await?;
        }
        self.converge_simply(name, replicas, events, timeout).await
    }

    /// Replaces every replica with a fresh one of the same specification, as a rolling update
    /// (start-first: no downtime).
    pub async fn restart(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let replicas = replicas_of(&service);
        let since = update_started(&service);
        self.update_with(
            name,
            |s| {
                let force = s["TaskTemplate"]["ForceUpdate"].as_u64().unwrap_or(0);
                s["TaskTemplate"]["ForceUpdate"] = (force + 1).into();
            },
            None,
        )
        .await?;
        let goal = Goal {
            replicas,
            spec_id: None,
            expect_update: replicas > 0,
            since,
            fail_fast: false,
        };
        match self
            .converge(name, &goal, events, &CancelToken::new(), timeout)
            .await?
        {
            Waited::Converged(n) => Ok(n),
            Waited::RolledBack(reason) | Waited::Failed(reason) => {
                Err(SwarmError::Failed { reason })
            }
            other => Err(failure(other, timeout, std::iter::empty())),
        }
    }

    /// Goes back to the specification the service ran before its last update. Refused when
    /// Swarm already rolled that update back (its "previous" is then the failed version) or
    /// the service was never updated.
    pub async fn rollback(
        &self,
        name: &str,
        events: &EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let state = service.update_status.as_ref().and_then(|u| u.state);
        if matches!(
            state,
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)
                | Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED)
        ) {
            return Err(SwarmError::NothingToRollBack(format!(
                "the last update of {name} was already rolled back"
            )));
        }
        let since = update_started(&service);
        if let Err(e) = self.update_with(name, |_| {}, Some("previous")).await {
            return Err(match e {
                SwarmError::Engine(m) if m.contains("previous spec") => {
                    SwarmError::NothingToRollBack(format!("{name} was never updated"))
                }
                other => other,
            });
        }
        let after = self.require(name).await?;
        let goal = Goal {
            replicas: replicas_of(&after),
            spec_id: None,
            expect_update: replicas_of(&after) > 0,
            since,
            fail_fast: false,
        };
        match self.converge(name, &goal, events, cancel, timeout).await? {
            Waited::Converged(n) => Ok(n),
            Waited::RolledBack(_) => Ok(replicas_of(&after)),
            Waited::Failed(reason) => Err(SwarmError::Failed { reason }),
            other => Err(failure(other, timeout, std::iter::empty())),
        }
    }

    /// Removes the service and waits until its containers are gone; its secrets go with it.
    /// Named volumes are kept unless `remove_volumes`. Removing what is not there succeeds.
    pub async fn remove(&self, name: &str, remove_volumes: bool) -> Result<(), SwarmError> {
        let Some(service) = self.service(name).await? else {
            self.remove_secrets(name, &HashSet::new()).await;
            return Ok(());
        };
        let volumes: Vec<String> = service
            .spec
            .as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.mounts.as_ref())
            .into_iter()
            .flatten()
            .filter(|m| m.typ == Some(bollard::models::MountTypeEnum::VOLUME))
            .filter_map(|m| m.source.clone())
            .collect();
        match self.docker.delete_service(name).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("com.docker.swarm.service.name={name}")],
        )]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = self
                .docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    filters: Some(filters.clone()),
                    ..Default::default()
                }))
                .await?;
            if left.is_empty() {
                break;
            }
            // Containers that have ended (a job's, or ones Swarm is slow to reap) are ours to
            // remove; running ones get the grace period to stop, then are removed too (Swarm
            // does not stop a running job's container when the job goes).
            let overdue = Instant::now() + Duration::from_secs(40) > deadline;
            for c in &left {
                use bollard::models::ContainerSummaryStateEnum as State;
                let ended = matches!(c.state, Some(State::EXITED | State::CREATED | State::DEAD));
                if let (true, Some(id)) = (ended || overdue, &c.id) {
                    let _ = self
                        .docker
                        .remove_container(
                            id,
                            Some(bollard::query_parameters::RemoveContainerOptions {
                                force: true,
                                ..Default::default()
                            }),
                        )
                        .await;
                }
            }
            if Instant::now() > deadline {
                return Err(SwarmError::Engine(format!(
                    "the service {name} was removed but {} of its containers are still there after 60s",
                    left.len()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
        self.remove_secrets(name, &HashSet::new()).await;
        if remove_volumes {
            for v in volumes {
                match self
                    .docker
                    .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Desired and running replicas, the update state, the last task error and every task the
    /// engine still remembers.
    pub async fn status(&self, name: &str) -> Result<ServiceStatus, SwarmError> {
        let service = self.require(name).await?;
        let tasks = self.tasks(&service).await?;
        Ok(status_of(&service, &tasks))
    }

    /// Where this host reaches `container_port` on each running replica: the replica's
    /// address on [`GATEWAY_BRIDGE`], whether or not the port is published. A replica on
    /// another node, or one not attached to the bridge yet, is not listed.
    pub async fn endpoints(
        &self,
        name: &str,
        container_port: u16,
    ) -> Result<Vec<Endpoint>, SwarmError> {
        self.endpoints_on(name, container_port, None).await
    }

    /// [`Self::endpoints`] with the bridge's addresses read already (by
    /// [`Self::bridge_addresses`]), so a caller asking for many services reads them once.
    pub async fn endpoints_on(
        &self,
        name: &str,
        container_port: u16,
        bridge: Option<&HashMap<String, std::net::IpAddr>>,
    ) -> Result<Vec<Endpoint>, SwarmError> {
        let status = self.status(name).await?;
        let running: Vec<TaskInfo> = status
            .tasks
            .into_iter()
            .filter(|t| t.desired == "running" && t.state == "running")
            .collect();
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let read;
        let bridge = match bridge {
            Some(b) => b,
            None => {
                read = self.bridge_addresses().await?;
                &read
            }
        };
        Ok(running
            .into_iter()
            .filter_map(|t| {
                let ip = *bridge.get(t.container_id.as_deref()?)?;
                Some(Endpoint {
                    task_id: t.id,
                    node_id: t.node_id,
                    addr: std::net::SocketAddr::new(ip, container_port),
                })
            })
            .collect())
    }

    /// Container id -> its IPv4 address on [`GATEWAY_BRIDGE`], on this node.
    pub async fn bridge_addresses(&self) -> Result<HashMap<String, std::net::IpAddr>, SwarmError> {
        let network = match self
            .docker
            .inspect_network(
                GATEWAY_BRIDGE,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => n,
            // No task has run on this node yet: the engine makes the bridge with the first.
            Err(e) if is_not_found(&e) => return Ok(HashMap::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(network
            .containers
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, c)| {
                let cidr = c.ipv4_address?;
                let ip = cidr.split('/').next()?.parse().ok()?;
                Some((id, ip))
            })
            .collect())
    }

    /// Every service berth manages, with desired replicas and those running (and healthy) as
    /// the service's own tasks, not counting old ones still draining after an update.
    pub async fn list_managed(&self) -> Result<Vec<ManagedService>, SwarmError> {
        let services = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(HashMap::from([(
                    "label".to_owned(),
                    vec![format!("{}=true", labels::MANAGED)],
                )])),
                status: None,
            }))
            .await?;
        let tasks = self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([(
                    "desired-state".to_owned(),
                    vec!["running".to_owned()],
                )])),
            }))
            .await?;
        let mut running: HashMap<String, u32> = HashMap::new();
        for t in &tasks {
            let is_running = t
                .status
                .as_ref()
                .and_then(|s| s.state)
                .is_some_and(|s| s == TaskState::RUNNING);
            if let (true, Some(id)) = (is_running, &t.service_id) {
                *running.entry(id.clone()).or_default() += 1;
            }
        }
        Ok(services
            .into_iter()
            .map(|s| {
                let label = |k: &str| {
                    s.spec
                        .as_ref()
                        .and_then(|sp| sp.labels.as_ref())
                        .and_then(|l| l.get(k).cloned())
                };
                ManagedService {
                    name: s
                        .spec
                        .as_ref()
                        .and_then(|sp| sp.name.clone())
                        .unwrap_or_default(),
                    application_id: label(labels::APPLICATION),
                    deployment_id: label(labels::DEPLOYMENT),
                    desired: replicas_of(&s),
                    running: s
                        .id
                        .as_ref()
                        .and_then(|id| running.get(id).copied())
                        .unwrap_or(0),
                    update_state: s
                        .update_status
                        .as_ref()
                        .and_then(|u| u.state)
                        .map(|st| st.to_string()),
                }
            })
            .collect())
    }

    pub(crate) async fn service(&self, name: &str) -> Result<Option<Service>, SwarmError> {
        match self
            .docker
            .inspect_service(
                name,
                None::<bollard::query_parameters::InspectServiceOptions>,
            )
            .await
        {
            Ok(s) => Ok(Some(s)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn require(&self, name: &str) -> Result<Service, SwarmError> {
        self.service(name)
            .await?
            .ok_or_else(|| SwarmError::NotFound(name.to_owned()))
    }

    async fn tasks(&self, service: &Service) -> Result<Vec<Task>, SwarmError> {
        let id = service.id.clone().unwrap_or_default();
        Ok(self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([("service".to_owned(), vec![id])])),
            }))
            .await?)
    }

    /// Applies `change` to the service's current specification, as the engine's own JSON, and
    /// sends it back, retrying when another writer updated the service in between.
    async fn update_with(
        &self,
        name: &str,
        change: impl Fn(&mut serde_json::Value),
        rollback: Option<&str>,
    ) -> Result<(), SwarmError> {
        let name = check_name(name)?;
        let mut attempts = 0;
        loop {
            let current = self
                .raw_json(hyper::Method::GET, &format!("/services/{name}"), None)
                .await?;
            let id = current["ID"].as_str().unwrap_or(name).to_owned();
            let version = current["Version"]["Index"].as_u64().unwrap_or(0);
            let mut spec = current["Spec"].clone();
            change(&mut spec);
            let mut path = format!("/services/{}/update?version={version}", check_name(&id)?);
            if let Some(r) = rollback {
                path.push_str("&rollback=");
                path.push_str(r);
            }
            match self.raw_json(hyper::Method::POST, &path, Some(&spec)).await {
                Ok(_) => return Ok(()),
                Err(SwarmError::Engine(m)) if m.contains("out of sequence") && attempts < 5 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn converge_simply(
        &self,
        name: &str,
        replicas: u32,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let goal = Goal {
            replicas,
            spec_id: None,
            expect_update: false,
            since: None,
            fail_fast: false,
        };
        match self
            .converge(name, &goal, events, &CancelToken::new(), timeout)
            .await?
        {
            Waited::Converged(n) => Ok(n),
            other => Err(failure(other, timeout, std::iter::empty())),
        }
    }

    /// Watches the service until it reaches `goal`, reporting every task change.
    async fn converge(
        &self,
        name: &str,
        goal: &Goal<'_>,
        events: &EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<Waited, SwarmError> {
        let started = Instant::now();
        let mut seen: HashMap<String, (String, String, Option<String>)> = HashMap::new();
        let mut last_update: Option<(String, String)> = None;
        loop {
            if cancel.is_cancelled() {
                return Ok(Waited::Cancelled);
            }
            let service = self.require(name).await?;
            let tasks = self.tasks(&service).await?;
            let infos: Vec<TaskInfo> = tasks.iter().map(task_info).collect();
            let current = |t: &TaskInfo| match goal.spec_id {
                Some(id) => t.spec_id.as_deref() == Some(id),
                None => true,
            };
            for t in &infos {
                let now = (t.state.clone(), t.desired.clone(), t.error.clone());
                if seen.get(&t.id) != Some(&now) {
                    events.emit(SwarmEvent::Task {
                        task_id: t.id.clone(),
                        slot: t.slot,
                        state: t.state.clone(),
                        desired: t.desired.clone(),
                        current: current(t),
                        message: t.message.clone(),
                        error: t.error.clone(),
                    });
                    seen.insert(t.id.clone(), now);
                }
            }

            // Swarm's rolling update, if one started after we asked.
            let mut update_done = !goal.expect_update;
            if goal.expect_update && update_started(&service) != goal.since {
                if let Some(u) = &service.update_status {
                    let state = u.state.unwrap_or(ServiceUpdateStatusStateEnum::EMPTY);
                    let message = u.message.clone().unwrap_or_default();
                    let pair = (state.to_string(), message.clone());
                    if last_update.as_ref() != Some(&pair) {
                        events.emit(SwarmEvent::Update {
                            state: pair.0.clone(),
                            message: message.clone(),
                        });
                        last_update = Some(pair);
                    }
                    match state {
                        ServiceUpdateStatusStateEnum::COMPLETED => update_done = true,
                        ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED => {
                            return Ok(Waited::RolledBack(
                                self.failure_reason(&message, &infos, goal.spec_id).await,
                            ))
                        }
                        ServiceUpdateStatusStateEnum::PAUSED => {
                            return Ok(Waited::Failed(format!(
                                "the update paused: {}",
                                self.failure_reason(&message, &infos, goal.spec_id).await
                            )))
                        }
                        ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED => {
                            return Ok(Waited::Failed(format!("the rollback paused: {message}")))
                        }
                        _ => {}
                    }
                }
            }

            if goal.fail_fast {
                if let Some(t) = infos.iter().find(|t| current(t) && ended(t)) {
                    return Ok(Waited::Failed(self.explain(t).await));
                }
            }

            let running = infos
                .iter()
                .filter(|t| t.desired == "running" && t.state == "running" && current(t))
                .count() as u32;
            let wanted = infos.iter().filter(|t| t.desired == "running").count() as u32;
            if update_done
                && running == goal.replicas
                && wanted == goal.replicas
                && self
                    .containers_agree(infos.iter().filter(|t| t.state == "running" && current(t)))
                    .await
            {
                return Ok(Waited::Converged(running));
            }
            if started.elapsed() >= timeout {
                return Ok(Waited::TimedOut(describe(&infos)));
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = cancel.cancelled() => {}
            }
        }
    }

    /// Whether the containers of tasks Swarm calls running are running, and healthy when they
    /// have a health check. A busy engine can report a task running a moment after its
    /// container was stopped for failing its health check. Containers of other nodes are
    /// unknown to this engine and taken on Swarm's word.
    async fn containers_agree(&self, running: impl Iterator<Item = &TaskInfo>) -> bool {
        for t in running {
            let Some(id) = &t.container_id else { continue };
            let inspected = self
                .docker
                .inspect_container(
                    id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await;
            let Ok(c) = inspected else { continue };
            let Some(state) = c.state else { continue };
            if state.running != Some(true) {
                return false;
            }
            let health = state.health.and_then(|h| h.status);
            if health.is_some_and(|h| {
                matches!(
                    h,
                    bollard::models::HealthStatusEnum::UNHEALTHY
                        | bollard::models::HealthStatusEnum::STARTING
                )
            }) {
                return false;
            }
        }
        true
    }

    /// Why Swarm stopped an update: what happened to the task it names, or to the latest task
    /// of the new version that ended.
    async fn failure_reason(
        &self,
        message: &str,
        tasks: &[TaskInfo],
        spec_id: Option<&str>,
    ) -> String {
        let named = message
            .split_whitespace()
            .last()
            .and_then(|id| tasks.iter().find(|t| t.id == id));
        let latest = || {
            tasks
                .iter()
                .filter(|t| spec_id.is_none() || t.spec_id.as_deref() == spec_id)
                .filter(|t| ended(t) || t.error.is_some())
                .max_by(|a, b| a.updated_at.cmp(&b.updated_at))
        };
        match named.or_else(latest) {
            Some(t) => self.explain(t).await,
            None if message.is_empty() => "the new version failed".to_owned(),
            None => message.to_owned(),
        }
    }

    /// What went wrong with a task that ended: a failed health check (with the check's last
    /// output, read from its container), the engine's error, or the exit.
    async fn explain(&self, t: &TaskInfo) -> String {
        if let Some(id) = &t.container_id {
            if let Ok(c) = self
                .docker
                .inspect_container(
                    id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
            {
                let health = c.state.and_then(|s| s.health);
                if let Some(h) = health
                    .filter(|h| h.status == Some(bollard::models::HealthStatusEnum::UNHEALTHY))
                {
                    let output = h
                        .log
                        .unwrap_or_default()
                        .into_iter()
                        .last()
                        .and_then(|l| l.output)
                        .unwrap_or_default();
                    let output = output.trim();
                    return if output.is_empty() {
                        "the new version failed its health check".to_owned()
                    } else {
                        format!("the new version failed its health check: {output}")
                    };
                }
            }
        }
        match (&t.error, t.exit_code) {
            (Some(e), _) if e.contains("unhealthy") => {
                format!("the new version failed its health check ({e})")
            }
            (Some(e), _) => format!("the new version failed: {e}"),
            (None, Some(code)) => format!(
                "the new version's container exited with code {code} ({})",
                t.message
            ),
            (None, None) => format!("the new version's task ended: {}", t.message),
        }
    }

    /// Deletes the service's secrets that no task of it (current or remembered, which covers
    /// the specification a rollback returns to) refers to.
    async fn prune_secrets(&self, name: &str) {
        let Ok(Some(service)) = self.service(name).await else {
            return;
        };
        let mut keep = HashSet::new();
        let templates = self
            .tasks(&service)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.spec)
            .chain(service.spec.and_then(|s| s.task_template));
        for t in templates {
            for s in t.container_spec.and_then(|c| c.secrets).unwrap_or_default() {
                keep.extend(s.secret_name);
            }
        }
        self.remove_secrets(name, &keep).await;
    }

    /// Deletes the secrets berth made for service `name`, but those in `keep`. Best effort: the
    /// engine refuses to delete a secret a task still uses, and that is right.
    async fn remove_secrets(&self, name: &str, keep: &HashSet<String>) {
        let filters =
            HashMap::from([("label".to_owned(), vec![format!("{SERVICE_LABEL}={name}")])]);
        let Ok(secrets) = self
            .docker
            .list_secrets(Some(ListSecretsOptions {
                filters: Some(filters),
            }))
            .await
        else {
            return;
        };
        for s in secrets {
            let secret_name = s.spec.and_then(|sp| sp.name).unwrap_or_default();
            if keep.contains(&secret_name) {
                continue;
            }
            if let Some(id) = s.id {
                if let Err(e) = self.docker.delete_secret(&id).await {
                    tracing::debug!(secret = %secret_name, error = %e, "secret kept");
                }
            }
        }
    }
}

fn failure(waited: Waited, timeout: Duration, ports: impl Iterator<Item = u16>) -> SwarmError {
    match waited {
        Waited::TimedOut(tasks) => SwarmError::NotConverged {
            waited: timeout,
            tasks,
        },
        Waited::Cancelled => SwarmError::Cancelled,
        Waited::Failed(reason) | Waited::RolledBack(reason) => {
            if reason.contains("address already in use") {
                let ports: Vec<u16> = ports.collect();
                if let Some(&port) = ports.iter().find(|p| reason.contains(&format!(":{p}"))) {
                    return SwarmError::PortTaken {
                        port,
                        by: format!("another process on the node ({reason})"),
                    };
                }
            }
            SwarmError::Failed { reason }
        }
        Waited::Converged(_) => SwarmError::Failed {
            reason: "converged".into(),
        },
    }
}

fn replicas_of(service: &Service) -> u32 {
    service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .unwrap_or(0)
        .max(0) as u32
}

fn set_replicas(spec: &mut serde_json::Value, replicas: u32) {
    spec["Mode"]["Replicated"]["Replicas"] = replicas.into();
}

/// When the service's latest rolling update started, as the engine wrote it.
fn update_started(service: &Service) -> Option<String> {
    service
        .update_status
        .as_ref()
        .and_then(|u| u.started_at.as_ref())
        .map(|t| format!("{t:?}"))
}

fn task_info(t: &Task) -> TaskInfo {
    let status = t.status.clone().unwrap_or_default();
    let container = t.spec.as_ref().and_then(|s| s.container_spec.as_ref());
    TaskInfo {
        id: t.id.clone().unwrap_or_default(),
        slot: t.slot,
        node_id: t.node_id.clone().unwrap_or_default(),
        state: status.state.map(|s| s.to_string()).unwrap_or_default(),
        desired: t.desired_state.unwrap_or(TaskState::NEW).to_string(),
        message: status.message.unwrap_or_default(),
        error: status.err.filter(|e| !e.is_empty()),
        spec_id: container
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(SPEC_LABEL).cloned()),
        image: container.and_then(|c| c.image.clone()).unwrap_or_default(),
        host_ports: status
            .port_status
            .and_then(|p| p.ports)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some((
                    u16::try_from(p.target_port?).ok()?,
                    u16::try_from(p.published_port?).ok()?,
                ))
            })
            .collect(),
        updated_at: t.updated_at.as_ref().map(|d| format!("{d:?}")),
        container_id: status
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.clone()),
        exit_code: status.container_status.as_ref().and_then(|c| c.exit_code),
    }
}

/// Whether a task ended on its own (a replicated service's tasks should run until told not to).
fn ended(t: &TaskInfo) -> bool {
    matches!(t.state.as_str(), "failed" | "rejected" | "complete")
}

fn status_of(service: &Service, tasks: &[Task]) -> ServiceStatus {
    let infos: Vec<TaskInfo> = tasks.iter().map(task_info).collect();
    let spec = service.spec.clone().unwrap_or_default();
    let last_error = infos
        .iter()
        .filter(|t| t.error.is_some())
        .max_by(|a, b| a.updated_at.cmp(&b.updated_at))
        .and_then(|t| t.error.clone());
    ServiceStatus {
        id: service.id.clone().unwrap_or_default(),
        name: spec.name.clone().unwrap_or_default(),
        desired: replicas_of(service),
        running: infos
            .iter()
            .filter(|t| t.desired == "running" && t.state == "running")
            .count() as u32,
        spec_id: spec
            .task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(SPEC_LABEL).cloned()),
        update: service.update_status.as_ref().map(|u| {
            (
                u.state.map(|s| s.to_string()).unwrap_or_default(),
                u.message.clone().unwrap_or_default(),
            )
        }),
        last_error,
        labels: spec.labels.unwrap_or_default(),
        tasks: infos,
    }
}

/// What the tasks that should run but do not say, for a timeout's message.
fn describe(tasks: &[TaskInfo]) -> Vec<String> {
    let mut lines: Vec<String> = tasks
        .iter()
        .filter(|t| t.desired == "running" && t.state != "running")
        .map(|t| {
            let why = t.error.as_deref().unwrap_or(&t.message);
            format!(
                "task {} (slot {}): {} ({why})",
                &t.id[..t.id.len().min(12)],
                t.slot.unwrap_or(0),
                t.state
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push(
            "every task that should run is running, but the rolling update had not finished".into(),
        );
    }
    lines
}

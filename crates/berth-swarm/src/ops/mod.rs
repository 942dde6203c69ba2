//! The operations on one service, each idempotent, and the wait for the engine to converge.
//!
//! Convergence is read from the engine, never assumed: every container carries the id of the
//! task template it runs ([`crate::spec::SPEC_LABEL`]), so a rollout counts the new version's
//! running tasks, and Swarm's own update status tells whether it completed, paused or rolled
//! back (and which task failed).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use berth_events::CancelToken;
use bollard::models::{Service, ServiceUpdateStatusStateEnum, Task, TaskState};
use bollard::query_parameters::{ListSecretsOptions, ListTasksOptions};

use crate::error::is_not_found;
use crate::raw::check_name;
use crate::spec::{SERVICE_LABEL, SPEC_LABEL};
use crate::{EventSink, Swarm, SwarmError, SwarmEvent};

mod lifecycle;
mod queries;
mod rollout;

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

/// What one running replica uses, as the engine measured it over about a second.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaUsage {
    pub task_id: String,
    pub slot: Option<i64>,
    /// Busy time of the container's processes over the interval, in percent of one core (200:
    /// two cores busy the whole time).
    pub cpu_percent: f64,
    /// Memory in use, not counting the page cache the kernel may take back (as `docker stats`).
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none).
    pub memory_limit_bytes: Option<u64>,
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

//! What runs: an application's replicas and their output.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One replica (Swarm task) of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaView {
    pub task_id: String,
    pub slot: Option<i64>,
    /// `running`, `starting`, `failed`, `shutdown`...
    pub state: String,
    /// What Swarm wants it to be: `running` or `shutdown`.
    pub desired: String,
    pub error: Option<String>,
    /// `[container port, host port]` pairs published in host mode.
    pub host_ports: Vec<[u16; 2]>,
    pub node_id: String,
}

/// What one running replica uses.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaUsageView {
    pub task_id: String,
    pub slot: Option<i64>,
    /// Busy time over about a second, in percent of one core (200: two cores busy).
    pub cpu_percent: f64,
    /// Memory in use, without the page cache the kernel may take back (as `docker stats`).
    pub memory_bytes: u64,
    /// The container's memory limit.
    pub memory_limit_bytes: Option<u64>,
}

/// What an application's running replicas on this server use now.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// When it was measured.
    pub at: DateTime<Utc>,
    /// By slot.
    pub replicas: Vec<ReplicaUsageView>,
}

impl UsageView {
    pub fn new(mut replicas: Vec<berth_deploy::ReplicaUsage>, at: DateTime<Utc>) -> Self {
        replicas.sort_by_key(|r| r.slot);
        Self {
            at,
            replicas: replicas
                .into_iter()
                .map(|r| ReplicaUsageView {
                    task_id: r.task_id,
                    slot: r.slot,
                    // Two decimals are all a reading of one second carries.
                    cpu_percent: (r.cpu_percent * 100.0).round() / 100.0,
                    memory_bytes: r.memory_bytes,
                    memory_limit_bytes: r.memory_limit_bytes,
                })
                .collect(),
        }
    }
}

/// An application's service as Swarm runs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuntimeView {
    pub service: String,
    pub desired: u32,
    pub running: u32,
    /// The rolling update's state (`updating`, `completed`, `rollback_completed`...), if any.
    pub update_state: Option<String>,
    pub update_message: Option<String>,
    pub last_error: Option<String>,
    /// Current tasks first; the engine also remembers a few past ones.
    pub replicas: Vec<ReplicaView>,
}

impl From<berth_deploy::ServiceStatus> for RuntimeView {
    fn from(s: berth_deploy::ServiceStatus) -> Self {
        let (update_state, update_message) = match s.update {
            Some((state, message)) => (Some(state), Some(message).filter(|m| !m.is_empty())),
            None => (None, None),
        };
        let mut replicas: Vec<ReplicaView> = s
            .tasks
            .into_iter()
            .map(|t| ReplicaView {
                task_id: t.id,
                slot: t.slot,
                state: t.state,
                desired: t.desired,
                error: t.error,
                host_ports: t.host_ports.into_iter().map(|(c, h)| [c, h]).collect(),
                node_id: t.node_id,
            })
            .collect();
        replicas.sort_by_key(|r| (r.desired != "running", r.slot));
        Self {
            service: s.name,
            desired: s.desired,
            running: s.running,
            update_state,
            update_message,
            last_error: s.last_error,
            replicas,
        }
    }
}

/// One line an application's replica printed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuntimeLogLine {
    pub at: Option<DateTime<Utc>>,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub task_id: Option<String>,
    pub text: String,
}

impl From<berth_deploy::LogLine> for RuntimeLogLine {
    fn from(l: berth_deploy::LogLine) -> Self {
        Self {
            at: l.at,
            stream: match l.stream {
                berth_deploy::LogStream::Stdout => "stdout",
                berth_deploy::LogStream::Stderr => "stderr",
            }
            .into(),
            task_id: l.task_id,
            text: l.text,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RuntimeLogQuery {
    /// The last lines of each replica only (default 200, at most 10000; 0 for none).
    #[param(maximum = 10000)]
    pub tail: Option<u32>,
    /// Only lines written at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}

/// The most lines `tail` asks of each replica.
pub const MAX_LOG_TAIL: u32 = 10_000;

impl RuntimeLogQuery {
    pub fn options(&self, follow: bool) -> Result<berth_deploy::LogOptions, crate::ApiError> {
        let tail = self.tail.unwrap_or(200);
        if tail > MAX_LOG_TAIL {
            return Err(crate::ApiError::invalid(
                "tail",
                &format!("must be at most {MAX_LOG_TAIL}"),
            ));
        }
        Ok(berth_deploy::LogOptions {
            follow,
            tail: Some(tail),
            since: self.since,
        })
    }
}

//! What a rollout tells while it runs.

/// One step of a rollout, as Swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmEvent {
    /// A task (one replica) changed state: `new`, `pending`, `preparing`, `starting` (running,
    /// health check not yet passed), `running` (and healthy, when the image has a health
    /// check), `failed`, `shutdown`, `rejected`... `error` is what the engine said went wrong.
    Task {
        task_id: String,
        slot: Option<i64>,
        state: String,
        desired: String,
        /// Whether the task runs the specification being rolled out (not the one it replaces).
        current: bool,
        message: String,
        error: Option<String>,
    },
    /// Swarm's rolling update changed state: `updating`, `paused`, `completed`,
    /// `rollback_started`, `rollback_paused`, `rollback_completed`.
    Update { state: String, message: String },
}

pub type EventSink = berth_events::Sink<SwarmEvent>;

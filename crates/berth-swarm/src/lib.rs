//! berth's orchestrator: runs each application as a Docker Swarm service through the engine's
//! API (bollard) and makes the engine match a [`berth_domain::ServiceSpec`]: create or update
//! with start-first rolling updates gated by the health check, automatic rollback, scale,
//! stop, start, restart, remove, status, runtime logs, and the list of what berth manages for
//! reconciliation. Progress is reported as [`SwarmEvent`]s.
//!
//! Architecture invariant: knows nothing of the database or HTTP users; never runs the docker
//! command-line tool. It is the only part of berth that talks to the Swarm API.

mod error;
mod events;
mod job;
mod logs;
mod ops;
mod raw;
mod setup;
mod spec;

pub use error::SwarmError;
pub use events::{EventSink, SwarmEvent};
pub use job::{job_name, JobOutcome};
pub use logs::{LogLine, LogOptions, LogStream};
pub use ops::{
    Change, DeployOutcome, Endpoint, ManagedService, ReplicaUsage, ServiceStatus, TaskInfo,
    GATEWAY_BRIDGE,
};
pub use setup::{JoinTokens, NodeInfo, RoutingMesh, Swarm, SwarmInfo, SwarmSettings};

use std::time::Duration;

use berth_domain::ValidationError;

/// Why an orchestrator operation did not do what was asked. Messages are for people: they say
/// what was wrong and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The engine could not be reached or answered with an error berth has no better name for.
    #[error("Docker engine: {0}")]
    Engine(String),
    /// Swarm cannot be used on this engine; the message says why.
    #[error("Swarm is not available: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("the image {0} is not on the engine (berth runs only images it built or was given; nothing is pulled)")]
    ImageNotFound(String),
    #[error("the bind mount {path} is outside the directories the operator allowed ({allowed})")]
    BindMountNotAllowed { path: String, allowed: String },
    #[error("port {port} cannot be published in ingress mode: {why}; publish it in host mode")]
    RoutingMeshUnavailable { port: u16, why: String },
    #[error("port {port} is already taken by {by}")]
    PortTaken { port: u16, by: String },
    #[error("no service named {0}")]
    NotFound(String),
    /// The new version did not run, and why: a new service was removed again; an update was
    /// paused by Swarm (failure action `pause`); a job could not start.
    #[error("{reason}")]
    Failed { reason: String },
    /// The service did not converge in time. An update was rolled back to the previous
    /// specification; a service that did not exist before was removed.
    #[error("the service did not converge within {}s; {}", waited.as_secs(), tasks.join("; "))]
    NotConverged {
        waited: Duration,
        tasks: Vec<String>,
    },
    /// There is no earlier specification to go back to (a new service, or the last update was
    /// already rolled back, which makes Swarm's "previous" the failed one).
    #[error("nothing to roll back to: {0}")]
    NothingToRollBack(String),
    #[error("cancelled")]
    Cancelled,
    /// A volume is still mounted by a container (running or stopped).
    #[error("the volume {0} is still mounted by a container")]
    VolumeInUse(String),
}

impl From<bollard::errors::Error> for SwarmError {
    fn from(e: bollard::errors::Error) -> Self {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => {
                if status_code == 404 {
                    Self::NotFound(message)
                } else {
                    Self::Engine(format!("{message} (HTTP {status_code})"))
                }
            }
            other => Self::Engine(other.to_string()),
        }
    }
}

/// Whether the engine answered 404 for the thing asked about.
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

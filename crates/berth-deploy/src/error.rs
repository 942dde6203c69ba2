//! Why a use case refused or failed, typed so the API can answer each with its own code.

use berth_domain::{DeploymentStatus, ErrorCode};
use berth_store::StoreError;
use berth_swarm::SwarmError;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engines cannot be used (not connected yet, or not at all); why.
    #[error("{0}")]
    EnginesUnavailable(String),
    /// The orchestrator refused or failed.
    #[error(transparent)]
    Orchestrator(SwarmError),
    /// The application has no service yet.
    #[error("the application has not been deployed yet")]
    NotDeployed,
    #[error("the deployment has already ended ({})", .0.as_str())]
    NotCancellable(DeploymentStatus),
    /// Why this deployment cannot be deployed again.
    #[error("{0}")]
    RollbackNotPossible(&'static str),
    /// The application has volumes and their deletion was not asked for; their names.
    #[error("the application has volumes ({}); delete them first, or delete the application with delete_volumes=true, which removes their data too", .0.join(", "))]
    ApplicationHasVolumes(Vec<String>),
}

impl DeployError {
    /// The stable code a caller acts on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Store(StoreError::NotFound(_)) => ErrorCode::NotFound,
            Self::Store(StoreError::Conflict { code, .. }) => *code,
            Self::Store(StoreError::Validation(_)) => ErrorCode::InvalidInput,
            Self::Store(StoreError::Transition(_)) => ErrorCode::InvalidTransition,
            Self::Store(_) => ErrorCode::InternalError,
            Self::EnginesUnavailable(_) => ErrorCode::EngineUnavailable,
            Self::Orchestrator(e) => match e {
                SwarmError::NotConverged { .. } => ErrorCode::EngineTimeout,
                SwarmError::RoutingMeshUnavailable { .. } => ErrorCode::RoutingMeshUnavailable,
                SwarmError::PortTaken { .. } => ErrorCode::PortTaken,
                SwarmError::ImageNotFound(_) => ErrorCode::ImageNotFound,
                SwarmError::VolumeInUse(_) => ErrorCode::VolumeInUse,
                SwarmError::Invalid(_) => ErrorCode::InvalidInput,
                _ => ErrorCode::EngineUnavailable,
            },
            Self::NotDeployed => ErrorCode::NotDeployed,
            Self::NotCancellable(_) => ErrorCode::DeploymentNotCancellable,
            Self::RollbackNotPossible(_) => ErrorCode::RollbackNotPossible,
            Self::ApplicationHasVolumes(_) => ErrorCode::ApplicationHasVolumes,
        }
    }
}

impl From<SwarmError> for DeployError {
    fn from(e: SwarmError) -> Self {
        match e {
            SwarmError::NotFound(_) => Self::NotDeployed,
            other => Self::Orchestrator(other),
        }
    }
}

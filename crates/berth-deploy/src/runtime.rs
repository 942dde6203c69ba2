//! What runs, for the API to show: an application's replicas and their output; and removing
//! what berth made on the engines for a volume or a project once the store let go of it.

use berth_domain::{Application, ProjectId, Volume};
use berth_swarm::{LogLine, LogOptions, ReplicaUsage, ServiceStatus, SwarmError};
use futures_util::stream::BoxStream;

use crate::{DeployError, Pipeline};

/// Why a volume's data was not removed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeRemoval {
    /// A container still mounts it.
    #[error("the volume {0} is still mounted by a container of its application; stop the application (or delete it) first")]
    InUse(String),
    #[error(transparent)]
    Failed(DeployError),
}

impl Pipeline {
    /// The application's service as the orchestrator runs it.
    pub async fn runtime(&self, app: &Application) -> Result<ServiceStatus, DeployError> {
        Ok(self
            .engines()?
            .orchestrator
            .status(app.service_name().as_str())
            .await?)
    }

    /// What each of the application's running replicas on this node uses now.
    pub async fn usage(&self, app: &Application) -> Result<Vec<ReplicaUsage>, DeployError> {
        Ok(self
            .engines()?
            .orchestrator
            .usage(app.service_name().as_str())
            .await?)
    }

    /// What the application's replicas printed; with `follow`, the lines to come too.
    pub async fn logs(
        &self,
        app: &Application,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine, SwarmError>>, DeployError> {
        Ok(self
            .engines()?
            .orchestrator
            .logs(app.service_name().as_str(), options)
            .await?)
    }

    /// Removes a volume's data from the engine, once no container mounts it.
    pub async fn remove_volume_data(&self, volume: &Volume) -> Result<(), VolumeRemoval> {
        let engines = self.engines().map_err(VolumeRemoval::Failed)?;
        match engines
            .orchestrator
            .remove_volume(volume.engine_name.as_str())
            .await
        {
            Ok(()) => Ok(()),
            Err(SwarmError::VolumeInUse(_)) => Err(VolumeRemoval::InUse(volume.name.to_string())),
            Err(e) => Err(VolumeRemoval::Failed(e.into())),
        }
    }

    /// Removes a deleted project's network (no application of it is left to use it); what is
    /// left behind is logged, not an error.
    pub async fn remove_project_network(&self, project: ProjectId) {
        let Ok(engines) = self.engines() else { return };
        let network = berth_domain::service::project_network(project);
        if let Err(e) = engines.orchestrator.remove_network(&network).await {
            tracing::warn!(%network, error = %e, "the deleted project's network was not removed");
        }
    }
}

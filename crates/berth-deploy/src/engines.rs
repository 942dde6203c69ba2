//! The real implementations of the ports: berth-build's engine, berth-swarm's orchestrator and
//! the system clock. berth-server connects them and hands them to [`crate::Pipeline::start`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_build::{BuildError, BuildSpec, BuiltImage, CommitInfo, Engine, SourceSpec};
use berth_domain::{ImageReference, ServiceSpec};
use berth_events::CancelToken;
use berth_swarm::{
    DeployOutcome, Endpoint, JobOutcome, LogLine, LogOptions, ManagedService, ServiceStatus, Swarm,
    SwarmError,
};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use crate::ports::{Builder, Clock, Orchestrator};

/// The engines a pipeline drives.
#[derive(Debug, Clone)]
pub struct Engines {
    pub builder: Arc<dyn Builder>,
    pub orchestrator: Arc<dyn Orchestrator>,
}

impl Engines {
    /// The Docker engine as builder and Swarm as orchestrator.
    pub fn docker(build: Engine, swarm: Swarm) -> Self {
        Self {
            builder: Arc::new(build),
            orchestrator: Arc::new(swarm),
        }
    }
}

#[async_trait]
impl Builder for Engine {
    async fn checkout(
        &self,
        source: SourceSpec,
        dir: &Path,
        events: berth_build::EventSink,
        cancel: CancelToken,
    ) -> Result<CommitInfo, BuildError> {
        let dir = dir.to_owned();
        // git2 blocks: its own thread, so the runtime keeps serving.
        tokio::task::spawn_blocking(move || berth_build::checkout(&source, &dir, &events, &cancel))
            .await
            .unwrap_or_else(|e| {
                Err(BuildError::Io {
                    doing: "checking out",
                    source: std::io::Error::other(e.to_string()),
                })
            })
    }

    async fn build(
        &self,
        spec: &BuildSpec,
        events: &berth_build::EventSink,
        cancel: &CancelToken,
    ) -> Result<BuiltImage, BuildError> {
        Engine::build(self, spec, events, cancel).await
    }

    async fn has_image(&self, image: &str) -> bool {
        self.docker().inspect_image(image).await.is_ok()
    }

    async fn pull(
        &self,
        image: &ImageReference,
        credentials: Option<&berth_domain::RegistryCredentials>,
        events: &berth_build::EventSink,
        cancel: &CancelToken,
    ) -> Result<String, BuildError> {
        Engine::pull(self, image, credentials, events, cancel).await
    }

    async fn clean_journal(&self, journal: &Path) -> Result<usize, BuildError> {
        Engine::clean_journal(self, journal).await
    }

    async fn prune(&self, repository: &str, keep: usize) -> Result<Vec<String>, BuildError> {
        Engine::prune(self, repository, keep).await
    }
}

#[async_trait]
impl Orchestrator for Swarm {
    async fn deploy(
        &self,
        spec: &ServiceSpec,
        events: &berth_swarm::EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<DeployOutcome, SwarmError> {
        Swarm::deploy(self, spec, events, cancel, timeout).await
    }

    async fn rollback(&self, name: &str, timeout: Duration) -> Result<(), SwarmError> {
        Swarm::rollback(
            self,
            name,
            &berth_swarm::EventSink::discard(),
            &CancelToken::new(),
            timeout,
        )
        .await
        .map(drop)
    }

    async fn remove(&self, name: &str) -> Result<(), SwarmError> {
        Swarm::remove(self, name, false).await
    }

    async fn run_job(
        &self,
        spec: &ServiceSpec,
        command: &[String],
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<JobOutcome, SwarmError> {
        Swarm::run_job(self, spec, command, cancel, timeout).await
    }

    async fn list_jobs(&self) -> Result<Vec<(String, Option<String>)>, SwarmError> {
        Swarm::list_jobs(self).await
    }

    async fn status(&self, name: &str) -> Result<ServiceStatus, SwarmError> {
        Swarm::status(self, name).await
    }

    async fn list_managed(&self) -> Result<Vec<ManagedService>, SwarmError> {
        Swarm::list_managed(self).await
    }

    async fn endpoints(&self, name: &str, port: u16) -> Result<Vec<Endpoint>, SwarmError> {
        Swarm::endpoints(self, name, port).await
    }

    async fn start(&self, name: &str, timeout: Duration) -> Result<u32, SwarmError> {
        Swarm::start(self, name, &berth_swarm::EventSink::discard(), timeout).await
    }

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), SwarmError> {
        Swarm::stop(self, name, &berth_swarm::EventSink::discard(), timeout).await
    }

    async fn restart(&self, name: &str, timeout: Duration) -> Result<u32, SwarmError> {
        Swarm::restart(self, name, &berth_swarm::EventSink::discard(), timeout).await
    }

    async fn scale(&self, name: &str, replicas: u32, timeout: Duration) -> Result<u32, SwarmError> {
        Swarm::scale(
            self,
            name,
            replicas,
            &berth_swarm::EventSink::discard(),
            timeout,
        )
        .await
    }

    async fn logs(
        &self,
        name: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine, SwarmError>>, SwarmError> {
        Ok(Swarm::logs(self, name, options).await?.boxed())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), SwarmError> {
        Swarm::remove_volume(self, name).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), SwarmError> {
        Swarm::remove_network(self, name).await
    }

    async fn usage(&self, name: &str) -> Result<Vec<berth_swarm::ReplicaUsage>, SwarmError> {
        Swarm::usage(self, name).await
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

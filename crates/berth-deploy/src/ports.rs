//! The ports through which the pipeline reaches the world outside the store: the build engine,
//! the orchestrator and the clock. berth-deploy owns the traits; berth-server wires the real
//! implementations (berth-build's `Engine`, berth-swarm's `Swarm`, the system clock, all in
//! [`crate::engines`]), and the pipeline's own tests wire in-process ones.
//!
//! The traits speak the engines' vocabulary (`BuildSpec`, `ServiceSpec`, `DeployOutcome`, the
//! engines' errors): the pipeline decides what to do, the engines know how.

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use berth_build::{BuildError, BuildSpec, BuiltImage, CommitInfo, SourceSpec};
use berth_domain::{ImageReference, ServiceSpec};
use berth_events::CancelToken;
use berth_swarm::{
    DeployOutcome, Endpoint, JobOutcome, LogLine, LogOptions, ManagedService, ReplicaUsage,
    ServiceStatus, SwarmError,
};
use futures_util::stream::BoxStream;

/// The build engine: checkouts and image builds.
#[async_trait]
pub trait Builder: Send + Sync + Debug {
    /// Fetches `source` into `dir` and checks out the commit it names (see
    /// [`berth_build::checkout`]).
    async fn checkout(
        &self,
        source: SourceSpec,
        dir: &Path,
        events: berth_build::EventSink,
        cancel: CancelToken,
    ) -> Result<CommitInfo, BuildError>;

    async fn build(
        &self,
        spec: &BuildSpec,
        events: &berth_build::EventSink,
        cancel: &CancelToken,
    ) -> Result<BuiltImage, BuildError>;

    /// Whether the engine still has the image (an earlier build of the same commit).
    async fn has_image(&self, image: &str) -> bool;

    /// Pulls an image from the registry its reference names, with the credentials given,
    /// telling its progress; its id
    /// (see [`berth_build::Engine::pull`]).
    async fn pull(
        &self,
        image: &ImageReference,
        credentials: Option<&berth_domain::RegistryCredentials>,
        events: &berth_build::EventSink,
        cancel: &CancelToken,
    ) -> Result<String, BuildError>;

    /// Removes what a build that died left, as its journal says; how many layers went.
    async fn clean_journal(&self, journal: &Path) -> Result<usize, BuildError>;

    /// Removes the repository's images but the newest `keep`; the ones removed.
    async fn prune(&self, repository: &str, keep: usize) -> Result<Vec<String>, BuildError>;
}

/// The orchestrator: services, jobs, volumes and networks on Swarm.
#[async_trait]
pub trait Orchestrator: Send + Sync + Debug {
    async fn deploy(
        &self,
        spec: &ServiceSpec,
        events: &berth_swarm::EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<DeployOutcome, SwarmError>;

    async fn rollback(&self, name: &str, timeout: Duration) -> Result<(), SwarmError>;

    async fn remove(&self, name: &str) -> Result<(), SwarmError>;

    async fn run_job(
        &self,
        spec: &ServiceSpec,
        command: &[String],
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<JobOutcome, SwarmError>;

    /// Release jobs on the engine: name and the application they belong to.
    async fn list_jobs(&self) -> Result<Vec<(String, Option<String>)>, SwarmError>;

    async fn status(&self, name: &str) -> Result<ServiceStatus, SwarmError>;

    async fn list_managed(&self) -> Result<Vec<ManagedService>, SwarmError>;

    /// Where this host reaches `port` on each running replica.
    async fn endpoints(&self, name: &str, port: u16) -> Result<Vec<Endpoint>, SwarmError>;

    async fn start(&self, name: &str, timeout: Duration) -> Result<u32, SwarmError>;

    async fn stop(&self, name: &str, timeout: Duration) -> Result<(), SwarmError>;

    async fn restart(&self, name: &str, timeout: Duration) -> Result<u32, SwarmError>;

    async fn scale(&self, name: &str, replicas: u32, timeout: Duration) -> Result<u32, SwarmError>;

    async fn logs(
        &self,
        name: &str,
        options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine, SwarmError>>, SwarmError>;

    async fn remove_volume(&self, name: &str) -> Result<(), SwarmError>;

    async fn remove_network(&self, name: &str) -> Result<(), SwarmError>;

    /// What each running replica on this node uses now (CPU over about a second, memory).
    async fn usage(&self, name: &str) -> Result<Vec<ReplicaUsage>, SwarmError>;
}

/// The time, for what the pipeline decides by age (retention).
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

//! Connecting to the engine, making sure it is a Swarm manager, the overlay networks berth's
//! applications share, and what a second machine needs to join.

use std::collections::HashMap;
use std::path::Path;

use berth_domain::{HostPath, SecretString};
use bollard::models::{LocalNodeState, NetworkCreateRequest, SwarmInitRequest};
use bollard::Docker;

use crate::error::is_not_found;
use crate::SwarmError;

/// What the operator decides about Swarm (berth-server reads it from its settings).
#[derive(Debug, Clone)]
pub struct SwarmSettings {
    /// Initialise a single-node swarm when the engine is in none.
    pub init: bool,
    /// The address other nodes reach this manager at (`docker swarm init --advertise-addr`).
    pub advertise_addr: String,
    /// Where the manager listens for other nodes.
    pub listen_addr: String,
    /// The shared attachable overlay network, for a service that names no network of its
    /// own; an application joins its project's network instead.
    pub network: String,
    /// Bind mounts are allowed only inside these directories; none by default.
    pub bind_roots: Vec<HostPath>,
    /// The memory limit (MiB) of every service and job whose specification sets none.
    pub default_memory_mb: Option<u32>,
    /// The process limit of every service and job whose specification sets none, so a fork
    /// bomb in one container cannot exhaust the machine's.
    pub default_pids: Option<u32>,
}

impl Default for SwarmSettings {
    fn default() -> Self {
        Self {
            init: true,
            advertise_addr: "127.0.0.1".into(),
            listen_addr: "0.0.0.0:2377".into(),
            network: "berth".into(),
            bind_roots: Vec::new(),
            default_memory_mb: Some(1024),
            default_pids: Some(2048),
        }
    }
}

/// Whether Swarm's routing mesh (ingress-published ports, virtual IPs) can work: it needs the
/// kernel's IPVS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingMesh {
    Available,
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct JoinTokens {
    pub worker: SecretString,
    pub manager: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    /// `ready`, `down`, `disconnected` or `unknown`.
    pub state: String,
    pub addr: String,
    pub leader: bool,
}

/// The swarm as a second machine needs it: `docker swarm join --token <worker> <manager_addr>`.
#[derive(Debug, Clone)]
pub struct SwarmInfo {
    pub node_id: String,
    pub manager_addr: String,
    pub join_tokens: JoinTokens,
    pub nodes: Vec<NodeInfo>,
    pub routing_mesh: RoutingMesh,
    /// Whether [`Swarm::setup`] initialised the swarm (it was in none before).
    pub initialised: bool,
}

/// A connection to a Swarm manager.
#[derive(Debug, Clone)]
pub struct Swarm {
    pub(crate) docker: Docker,
    pub(crate) settings: SwarmSettings,
    pub(crate) routing_mesh: RoutingMesh,
}

impl Swarm {
    /// Connects to the local engine (`DOCKER_HOST` or its default socket), negotiating the API
    /// version down to what the engine speaks.
    pub async fn connect(settings: SwarmSettings) -> Result<Self, SwarmError> {
        let docker =
            Docker::connect_with_local_defaults().map_err(|e| SwarmError::Engine(e.to_string()))?;
        let docker = docker.negotiate_version().await?;
        docker.ping().await?;
        Ok(Self {
            docker,
            settings,
            routing_mesh: detect_routing_mesh(),
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn settings(&self) -> &SwarmSettings {
        &self.settings
    }

    pub fn routing_mesh(&self) -> &RoutingMesh {
        &self.routing_mesh
    }

    /// Makes sure the engine is a Swarm manager (initialising a single-node swarm when allowed)
    /// and the shared overlay network exists. Idempotent; says exactly why when Swarm cannot
    /// be used.
    pub async fn setup(&self) -> Result<SwarmInfo, SwarmError> {
        let mut initialised = false;
        let state = self.settled_state().await?;
        match state {
            (LocalNodeState::ACTIVE, true) => {}
            (LocalNodeState::ACTIVE, false) => {
                return Err(SwarmError::Unavailable(
                    "this engine is a Swarm worker; berth must talk to a manager (point DOCKER_HOST at one, or promote this node with `docker node promote`)".into(),
                ))
            }
            (LocalNodeState::INACTIVE, _) if self.settings.init => {
                let request = SwarmInitRequest {
                    listen_addr: Some(self.settings.listen_addr.clone()),
                    advertise_addr: Some(self.settings.advertise_addr.clone()),
                    ..Default::default()
                };
                match self.docker.init_swarm(request).await {
                    Ok(_) => initialised = true,
                    // Another caller initialised it meanwhile.
                    Err(e) if self.local_state().await?.1 => {
                        tracing::debug!(error = %e, "swarm initialised concurrently")
                    }
                    Err(e) => {
                        return Err(SwarmError::Unavailable(format!(
                            "initialising a swarm advertised at {} failed: {e}",
                            self.settings.advertise_addr
                        )))
                    }
                }
            }
            (LocalNodeState::INACTIVE, _) => {
                return Err(SwarmError::Unavailable(
                    "the engine is in no swarm and berth is configured not to create one; run `docker swarm init` or allow berth to".into(),
                ))
            }
            (other, _) => {
                return Err(SwarmError::Unavailable(format!(
                    "the engine's swarm is {other}; it must be active"
                )))
            }
        }
        self.ensure_network(&self.settings.network.clone(), HashMap::new())
            .await?;
        let mut info = self.info().await?;
        info.initialised = initialised;
        Ok(info)
    }

    /// The node's state once it is not `pending` (a swarm being created or joined, by
    /// another berth starting at the same moment for example), waiting up to 30 s for that.
    async fn settled_state(&self) -> Result<(LocalNodeState, bool), SwarmError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let state = self.local_state().await?;
            if state.0 != LocalNodeState::PENDING || tokio::time::Instant::now() >= deadline {
                return Ok(state);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    async fn local_state(&self) -> Result<(LocalNodeState, bool), SwarmError> {
        let info = self.docker.info().await?;
        let swarm = info.swarm.unwrap_or_default();
        if let Some(error) = swarm.error.filter(|e| !e.is_empty()) {
            tracing::warn!(%error, "the engine reports a swarm error");
        }
        Ok((
            swarm.local_node_state.unwrap_or(LocalNodeState::INACTIVE),
            swarm.control_available.unwrap_or(false),
        ))
    }

    /// The join tokens, the manager's address and the nodes.
    pub async fn info(&self) -> Result<SwarmInfo, SwarmError> {
        let swarm = self.docker.inspect_swarm().await?;
        let info = self.docker.info().await?;
        let tokens = swarm.join_tokens.unwrap_or_default();
        let nodes = self
            .docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await?;
        let s = info.swarm.unwrap_or_default();
        let manager_addr = s
            .remote_managers
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.node_id == s.node_id)
            .and_then(|m| m.addr)
            .unwrap_or_else(|| format!("{}:2377", self.settings.advertise_addr));
        Ok(SwarmInfo {
            node_id: s.node_id.unwrap_or_default(),
            manager_addr,
            join_tokens: JoinTokens {
                worker: SecretString::new(tokens.worker.unwrap_or_default()),
                manager: SecretString::new(tokens.manager.unwrap_or_default()),
            },
            nodes: nodes
                .into_iter()
                .map(|n| {
                    let spec = n.spec.unwrap_or_default();
                    let status = n.status.unwrap_or_default();
                    NodeInfo {
                        id: n.id.unwrap_or_default(),
                        hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                        role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
                        availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
                        state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                        addr: status.addr.unwrap_or_default(),
                        leader: n.manager_status.and_then(|m| m.leader).unwrap_or(false),
                    }
                })
                .collect(),
            routing_mesh: self.routing_mesh.clone(),
            initialised: false,
        })
    }

    /// Creates the attachable overlay network `name` unless it exists (a project's own network
    /// is made the same way). Idempotent.
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
    ) -> Result<(), SwarmError> {
        match self
            .docker
            .inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>)
            .await
        {
            Ok(n) if n.driver.as_deref() == Some("overlay") => return Ok(()),
            // A swarm network created a moment ago can show no driver yet: it is there.
            Ok(n) if n.driver.as_deref().unwrap_or("").is_empty() => return Ok(()),
            Ok(n) => {
                return Err(SwarmError::Unavailable(format!(
                    "a network named {name} exists with the {} driver; berth needs an overlay network of that name",
                    n.driver.unwrap_or_default()
                )))
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let mut labels = labels;
        labels.insert(berth_domain::service::labels::MANAGED.into(), "true".into());
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            labels: Some(labels),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Created concurrently: fine if it is there now.
            Err(e) => match self
                .docker
                .inspect_network(
                    name,
                    None::<bollard::query_parameters::InspectNetworkOptions>,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(_) => Err(e.into()),
            },
        }
    }

    /// Removes a named volume and its data. `VolumeInUse` while a running container mounts
    /// it; the ended containers Swarm keeps as task history (a stopped application's) are
    /// removed first, as they hold the volume too. A volume that is not there is no error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), SwarmError> {
        let remove = || async {
            match self
                .docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await
            {
                Ok(()) => Ok(true),
                Err(e) if is_not_found(&e) => Ok(true),
                // In use: by a container, running or ended.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => Ok(false),
                Err(e) => Err(SwarmError::from(e)),
            }
        };
        if remove().await? {
            return Ok(());
        }
        let holders = self
            .docker
            .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([(
                    "volume".to_owned(),
                    vec![name.to_owned()],
                )])),
                ..Default::default()
            }))
            .await?;
        use bollard::models::ContainerSummaryStateEnum as State;
        let ended = |c: &bollard::models::ContainerSummary| {
            matches!(c.state, Some(State::EXITED | State::CREATED | State::DEAD))
        };
        if !holders.iter().all(ended) {
            return Err(SwarmError::VolumeInUse(name.to_owned()));
        }
        for c in holders.iter().filter_map(|c| c.id.as_deref()) {
            match self
                .docker
                .remove_container(c, None::<bollard::query_parameters::RemoveContainerOptions>)
                .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if remove().await? {
            Ok(())
        } else {
            Err(SwarmError::VolumeInUse(name.to_owned()))
        }
    }

    /// Removes a network berth made (a project's), if no service uses it any more.
    pub async fn remove_network(&self, name: &str) -> Result<(), SwarmError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether this kernel has IPVS, which Swarm's routing mesh needs. Read from this machine,
/// which is the engine's when berth talks to it over its local socket.
fn detect_routing_mesh() -> RoutingMesh {
    if Path::new("/proc/net/ip_vs").exists() {
        return RoutingMesh::Available;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = release.trim();
    let ipvs_dir = format!("/lib/modules/{release}/kernel/net/netfilter/ipvs");
    if Path::new(&ipvs_dir).exists() {
        // A module the engine loads when it needs it.
        return RoutingMesh::Available;
    }
    let config = std::fs::read_to_string(format!("/boot/config-{release}")).unwrap_or_default();
    if config
        .lines()
        .any(|l| l == "CONFIG_IP_VS=y" || l == "CONFIG_IP_VS=m")
    {
        return RoutingMesh::Available;
    }
    RoutingMesh::Unavailable(format!(
        "the kernel ({release}) has no IPVS (no /proc/net/ip_vs and no ip_vs module), so Swarm's routing mesh cannot balance ingress-published ports or service virtual IPs"
    ))
}

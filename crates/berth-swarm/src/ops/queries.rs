//! What runs: a service's status, where its replicas are reached, the managed services.

use crate::error::is_not_found;
use crate::{Swarm, SwarmError};
use berth_domain::service::labels;
use bollard::models::TaskState;
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};
use std::collections::HashMap;

use super::*;

impl Swarm {
    /// Desired and running replicas, the update state, the last task error and every task the
    /// engine still remembers.
    pub async fn status(&self, name: &str) -> Result<ServiceStatus, SwarmError> {
        let service = self.require(name).await?;
        let tasks = self.tasks(&service).await?;
        Ok(status_of(&service, &tasks))
    }

    /// Where this host reaches `container_port` on each running replica: the replica's
    /// address on [`GATEWAY_BRIDGE`], whether or not the port is published. A replica on
    /// another node, or one not attached to the bridge yet, is not listed.
    pub async fn endpoints(
        &self,
        name: &str,
        container_port: u16,
    ) -> Result<Vec<Endpoint>, SwarmError> {
        let status = self.status(name).await?;
        let running: Vec<TaskInfo> = status
            .tasks
            .into_iter()
            .filter(|t| t.desired == "running" && t.state == "running")
            .collect();
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let bridge = self.bridge_addresses().await?;
        Ok(running
            .into_iter()
            .filter_map(|t| {
                let ip = *bridge.get(t.container_id.as_deref()?)?;
                Some(Endpoint {
                    task_id: t.id,
                    node_id: t.node_id,
                    addr: std::net::SocketAddr::new(ip, container_port),
                })
            })
            .collect())
    }

    /// What each running replica of the service on this node uses now: CPU over the second
    /// the engine samples it and memory, all replicas measured at once. A replica on another
    /// node, or one that stopped meanwhile, is not listed.
    pub async fn usage(&self, name: &str) -> Result<Vec<ReplicaUsage>, SwarmError> {
        let status = self.status(name).await?;
        let running = status
            .tasks
            .into_iter()
            .filter(|t| t.desired == "running" && t.state == "running");
        let measured = running.filter_map(|t| {
            let container = t.container_id.clone()?;
            Some(async move {
                let options = bollard::query_parameters::StatsOptionsBuilder::new()
                    .stream(false)
                    .one_shot(false)
                    .build();
                let mut stats = self.docker.stats(&container, Some(options));
                let sample = futures_util::StreamExt::next(&mut stats).await?.ok()?;
                Some(usage_of(&t, &sample))
            })
        });
        Ok(futures_util::future::join_all(measured)
            .await
            .into_iter()
            .flatten()
            .collect())
    }

    /// For every service berth manages: where this host reaches its running replicas (their
    /// addresses on [`GATEWAY_BRIDGE`], as [`Self::endpoints`] gives them for one service). Three
    /// requests to the engine however many services there are: the managed services, the
    /// tasks meant to run, the bridge. A service with no replica reachable here is absent.
    pub async fn local_replicas(
        &self,
    ) -> Result<HashMap<String, Vec<std::net::IpAddr>>, SwarmError> {
        let names: HashMap<String, String> = self
            .managed_services()
            .await?
            .into_iter()
            .filter_map(|s| Some((s.id?, s.spec?.name?)))
            .collect();
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let tasks = self.tasks_meant_to_run().await?;
        let bridge = self.bridge_addresses().await?;
        let mut replicas: HashMap<String, Vec<std::net::IpAddr>> = HashMap::new();
        for t in &tasks {
            let Some(name) = t.service_id.as_ref().and_then(|id| names.get(id)) else {
                continue;
            };
            let info = task_info(t);
            if info.desired != "running" || info.state != "running" {
                continue;
            }
            if let Some(ip) = info.container_id.as_ref().and_then(|c| bridge.get(c)) {
                replicas.entry(name.clone()).or_default().push(*ip);
            }
        }
        for ips in replicas.values_mut() {
            ips.sort();
        }
        Ok(replicas)
    }

    /// Container id -> its IPv4 address on [`GATEWAY_BRIDGE`], on this node.
    pub async fn bridge_addresses(&self) -> Result<HashMap<String, std::net::IpAddr>, SwarmError> {
        let network = match self
            .docker
            .inspect_network(
                GATEWAY_BRIDGE,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(n) => n,
            // No task has run on this node yet: the engine makes the bridge with the first.
            Err(e) if is_not_found(&e) => return Ok(HashMap::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(network
            .containers
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, c)| {
                let cidr = c.ipv4_address?;
                let ip = cidr.split('/').next()?.parse().ok()?;
                Some((id, ip))
            })
            .collect())
    }

    /// Every service berth manages, with desired replicas and those running (and healthy) as
    /// the service's own tasks, not counting old ones still draining after an update.
    pub async fn list_managed(&self) -> Result<Vec<ManagedService>, SwarmError> {
        let services = self.managed_services().await?;
        let tasks = self.tasks_meant_to_run().await?;
        let mut running: HashMap<String, u32> = HashMap::new();
        for t in &tasks {
            let is_running = t
                .status
                .as_ref()
                .and_then(|s| s.state)
                .is_some_and(|s| s == TaskState::RUNNING);
            if let (true, Some(id)) = (is_running, &t.service_id) {
                *running.entry(id.clone()).or_default() += 1;
            }
        }
        Ok(services
            .into_iter()
            .map(|s| {
                let label = |k: &str| {
                    s.spec
                        .as_ref()
                        .and_then(|sp| sp.labels.as_ref())
                        .and_then(|l| l.get(k).cloned())
                };
                ManagedService {
                    name: s
                        .spec
                        .as_ref()
                        .and_then(|sp| sp.name.clone())
                        .unwrap_or_default(),
                    application_id: label(labels::APPLICATION),
                    deployment_id: label(labels::DEPLOYMENT),
                    desired: replicas_of(&s),
                    running: s
                        .id
                        .as_ref()
                        .and_then(|id| running.get(id).copied())
                        .unwrap_or(0),
                    update_state: s
                        .update_status
                        .as_ref()
                        .and_then(|u| u.state)
                        .map(|st| st.to_string()),
                }
            })
            .collect())
    }

    /// The services berth manages (by their label).
    async fn managed_services(&self) -> Result<Vec<Service>, SwarmError> {
        Ok(self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(HashMap::from([(
                    "label".to_owned(),
                    vec![format!("{}=true", labels::MANAGED)],
                )])),
                status: None,
            }))
            .await?)
    }

    /// Every task of every service whose desired state is running.
    async fn tasks_meant_to_run(&self) -> Result<Vec<Task>, SwarmError> {
        Ok(self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([(
                    "desired-state".to_owned(),
                    vec!["running".to_owned()],
                )])),
            }))
            .await?)
    }
}

/// A replica's usage from one sample of the engine's stats (the figures `docker stats` shows).
fn usage_of(task: &TaskInfo, s: &bollard::models::ContainerStatsResponse) -> ReplicaUsage {
    let total = |c: &Option<bollard::models::ContainerCpuStats>| {
        let c = c.as_ref();
        (
            c.and_then(|c| c.cpu_usage.as_ref()?.total_usage)
                .unwrap_or(0),
            c.and_then(|c| c.system_cpu_usage).unwrap_or(0),
        )
    };
    let (cpu, system) = total(&s.cpu_stats);
    let (pre_cpu, pre_system) = total(&s.precpu_stats);
    let cores = s
        .cpu_stats
        .as_ref()
        .and_then(|c| c.online_cpus)
        .unwrap_or(1)
        .max(1);
    let cpu_delta = cpu.saturating_sub(pre_cpu) as f64;
    let system_delta = system.saturating_sub(pre_system) as f64;
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * f64::from(cores) * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.as_ref();
    let cache = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    ReplicaUsage {
        task_id: task.id.clone(),
        slot: task.slot,
        cpu_percent,
        memory_bytes: memory
            .and_then(|m| m.usage)
            .unwrap_or(0)
            .saturating_sub(cache),
        memory_limit_bytes: memory.and_then(|m| m.limit),
    }
}

//! From a domain [`ServiceSpec`] to the engine's service specification, with the checks the
//! engine would otherwise fail late or not at all (image present, bind mounts allowed, ports
//! free, routing mesh usable).

use std::collections::HashMap;

use berth_domain::service::labels;
use berth_domain::{
    FailureAction, HealthCheck, MountSource, PortProtocol, PublishMode, RestartCondition,
    ServiceSpec, UpdateOrder, UpdatePolicy,
};
use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountTypeEnum,
    MountVolumeOptions, NetworkAttachmentConfig, ResourceObject, SecretSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use sha2::{Digest, Sha256};

use crate::error::is_not_found;
use crate::{RoutingMesh, Swarm, SwarmError};

/// The label on every container of a service naming the specification it runs, so a rollout
/// can tell new tasks from the ones they replace.
pub(crate) const SPEC_LABEL: &str = "berth.spec";
/// The label on a Docker secret naming the service it belongs to.
pub(crate) const SERVICE_LABEL: &str = "berth.service";
/// Where secret variables appear inside a container.
pub(crate) const SECRETS_DIR: &str = "/run/secrets";

const NS: i64 = 1_000_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Swarm {
    /// Checks `spec` against the engine and this installation, creates the Docker secrets it
    /// needs, and returns the engine's specification and the id of the task template.
    pub(crate) async fn engine_spec(
        &self,
        spec: &ServiceSpec,
        force_update: Option<u64>,
    ) -> Result<(bollard::models::ServiceSpec, String), SwarmError> {
        spec.validate().map_err(SwarmError::Invalid)?;
        self.check_ports(spec).await?;
        for m in &spec.mounts {
            if let MountSource::Bind(path) = &m.source {
                if !self.settings.bind_roots.iter().any(|r| path.is_inside(r)) {
                    let allowed = if self.settings.bind_roots.is_empty() {
                        "none are".to_owned()
                    } else {
                        self.settings
                            .bind_roots
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(SwarmError::BindMountNotAllowed {
                        path: path.to_string(),
                        allowed,
                    });
                }
            }
        }
        let image = match self.docker.inspect_image(&spec.image).await {
            Ok(i) => i.id.unwrap_or_else(|| spec.image.clone()),
            Err(e) if is_not_found(&e) => {
                return Err(SwarmError::ImageNotFound(spec.image.clone()))
            }
            Err(e) => return Err(e.into()),
        };
        // A project's network is made with its first service (the shared one at setup).
        for network in &spec.networks {
            let project =
                HashMap::from([(labels::PROJECT.to_owned(), spec.project_id.to_string())]);
            self.ensure_network(network, project).await?;
        }
        let secrets = self.ensure_secrets(spec).await?;
        let all_labels: HashMap<String, String> = spec.all_labels().into_iter().collect();

        let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.extend(
            spec.secrets
                .iter()
                .map(|(k, _)| format!("{k}_FILE={SECRETS_DIR}/{k}")),
        );
        let mounts = spec
            .mounts
            .iter()
            .map(|m| match &m.source {
                MountSource::Volume { engine, label } => Mount {
                    typ: Some(MountTypeEnum::VOLUME),
                    source: Some(engine.to_string()),
                    target: Some(m.target.to_string()),
                    read_only: Some(m.read_only),
                    volume_options: Some(MountVolumeOptions {
                        labels: Some(HashMap::from([
                            (labels::MANAGED.to_owned(), "true".to_owned()),
                            (
                                labels::APPLICATION.to_owned(),
                                spec.application_id.to_string(),
                            ),
                            (labels::VOLUME.to_owned(), label.to_string()),
                        ])),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                MountSource::Bind(path) => Mount {
                    typ: Some(MountTypeEnum::BIND),
                    source: Some(path.to_string()),
                    target: Some(m.target.to_string()),
                    read_only: Some(m.read_only),
                    ..Default::default()
                },
            })
            .collect();
        let amount = |a: &berth_domain::ResourceAmount| {
            (
                a.cpus.map(|c| (c * NS as f64).round() as i64),
                a.memory_mb.map(|m| i64::from(m) * 1024 * 1024),
            )
        };
        let (limit_cpu, limit_mem) = amount(&spec.resources.limits);
        let (res_cpu, res_mem) = amount(&spec.resources.reservations);

        let mut template = TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image),
                labels: Some(all_labels.clone()),
                command: spec.entrypoint.clone(),
                args: spec.command.clone(),
                env: Some(env),
                mounts: Some(mounts),
                stop_grace_period: Some(i64::from(spec.stop_grace_period_s) * NS),
                health_check: spec.health_check.as_ref().map(health_config),
                secrets: Some(secrets),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: limit_cpu,
                    memory_bytes: limit_mem.or(self
                        .settings
                        .default_memory_mb
                        .map(|mb| i64::from(mb) * 1024 * 1024)),
                    pids: spec
                        .resources
                        .limits
                        .pids
                        .or(self.settings.default_pids)
                        .map(i64::from),
                }),
                reservations: Some(ResourceObject {
                    nano_cpus: res_cpu,
                    memory_bytes: res_mem,
                    generic_resources: None,
                }),
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(match spec.restart.condition {
                    RestartCondition::None => TaskSpecRestartPolicyConditionEnum::NONE,
                    RestartCondition::OnFailure => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                    RestartCondition::Any => TaskSpecRestartPolicyConditionEnum::ANY,
                }),
                delay: Some(i64::from(spec.restart.delay_s) * NS),
                max_attempts: Some(spec.restart.max_attempts.map_or(0, i64::from)),
                window: Some(i64::from(spec.restart.window_s) * NS),
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(spec.constraints.clone()),
                ..Default::default()
            }),
            // A project's services join its network alone: never one shared with another
            // project (docs/architecture.md, "Reaching applications").
            networks: Some(
                networks_of(spec, &self.settings.network)
                    .map(|n| NetworkAttachmentConfig {
                        target: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        let ingress = spec.ports.iter().any(|p| p.mode == PublishMode::Ingress);
        let endpoint = EndpointSpec {
            // DNS round robin needs no IPVS; the routing mesh's virtual IP is only used
            // when a port is published in ingress mode, which requires it.
            mode: Some(if ingress {
                EndpointSpecModeEnum::VIP
            } else {
                EndpointSpecModeEnum::DNSRR
            }),
            ports: Some(
                spec.ports
                    .iter()
                    .map(|p| EndpointPortConfig {
                        protocol: Some(match p.protocol {
                            PortProtocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
                            PortProtocol::Udp => EndpointPortConfigProtocolEnum::UDP,
                        }),
                        target_port: Some(i64::from(p.container.get())),
                        published_port: p.published.map(|n| i64::from(n.get())),
                        publish_mode: Some(match p.mode {
                            PublishMode::Ingress => EndpointPortConfigPublishModeEnum::INGRESS,
                            PublishMode::Host => EndpointPortConfigPublishModeEnum::HOST,
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
        let spec_id = spec_id(&template, &endpoint)?;
        if let Some(c) = template.container_spec.as_mut() {
            c.labels
                .get_or_insert_with(HashMap::new)
                .insert(SPEC_LABEL.into(), spec_id.clone());
        }
        template.force_update = force_update;
        let engine = bollard::models::ServiceSpec {
            name: Some(spec.name.to_string()),
            labels: Some(all_labels),
            task_template: Some(template),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(i64::from(spec.replicas.get())),
                }),
                ..Default::default()
            }),
            update_config: Some(update_config(&spec.update)),
            rollback_config: Some(rollback_config(&spec.rollback)),
            endpoint_spec: Some(endpoint),
            ..Default::default()
        };
        Ok((engine, spec_id))
    }

    /// Refuses ports the routing mesh cannot publish here and ports another service publishes.
    async fn check_ports(&self, spec: &ServiceSpec) -> Result<(), SwarmError> {
        if spec.ports.is_empty() {
            return Ok(());
        }
        if let RoutingMesh::Unavailable(why) = &self.routing_mesh {
            if let Some(p) = spec.ports.iter().find(|p| p.mode == PublishMode::Ingress) {
                return Err(SwarmError::RoutingMeshUnavailable {
                    port: p.published.map_or(p.container.get(), |n| n.get()),
                    why: why.clone(),
                });
            }
        }
        let services = self
            .docker
            .list_services(None::<bollard::query_parameters::ListServicesOptions>)
            .await?;
        for service in services {
            let Some(s) = service.spec else { continue };
            if s.name.as_deref() == Some(spec.name.as_str()) {
                continue;
            }
            let theirs = s.endpoint_spec.and_then(|e| e.ports).unwrap_or_default();
            for p in &spec.ports {
                let Some(published) = p.published else {
                    continue;
                };
                let clash = theirs.iter().any(|t| {
                    t.published_port == Some(i64::from(published.get()))
                        && matches!(
                            (t.protocol, p.protocol),
                            (Some(EndpointPortConfigProtocolEnum::UDP), PortProtocol::Udp)
                                | (
                                    None | Some(EndpointPortConfigProtocolEnum::TCP),
                                    PortProtocol::Tcp
                                )
                        )
                });
                if clash {
                    return Err(SwarmError::PortTaken {
                        port: published.get(),
                        by: format!("the service {}", s.name.as_deref().unwrap_or("(unnamed)")),
                    });
                }
            }
        }
        Ok(())
    }

    /// Makes one Docker secret per secret variable, named after the service and a digest of its
    /// key and value (a secret cannot change; a new value is a new secret), and returns the
    /// references that mount each at `/run/secrets/<KEY>`.
    async fn ensure_secrets(
        &self,
        spec: &ServiceSpec,
    ) -> Result<Vec<TaskSpecContainerSpecSecrets>, SwarmError> {
        let mut refs = Vec::new();
        for (key, value) in &spec.secrets {
            let mut h = Sha256::new();
            h.update(spec.name.as_str());
            h.update([0]);
            h.update(key.as_str());
            h.update([0]);
            h.update(value.expose());
            let digest = hex(&h.finalize());
            let base = &spec.name.as_str()[..spec.name.as_str().len().min(40)];
            let name = format!("{base}.{}", &digest[..16]);
            let id = match self.docker.inspect_secret(&name).await {
                Ok(s) => s.id.unwrap_or_default(),
                Err(e) if is_not_found(&e) => {
                    let created = self
                        .docker
                        .create_secret(SecretSpec {
                            name: Some(name.clone()),
                            labels: Some(HashMap::from([
                                (labels::MANAGED.to_owned(), "true".to_owned()),
                                (SERVICE_LABEL.to_owned(), spec.name.to_string()),
                            ])),
                            data: Some(base64_encode(value.expose().as_bytes())),
                            ..Default::default()
                        })
                        .await;
                    match created {
                        Ok(r) => r.id,
                        // Made concurrently by another deploy of the same value.
                        Err(_) => self
                            .docker
                            .inspect_secret(&name)
                            .await?
                            .id
                            .unwrap_or_default(),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            refs.push(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(key.to_string()),
                    uid: Some("0".into()),
                    gid: Some("0".into()),
                    mode: Some(0o444),
                }),
                secret_id: Some(id),
                secret_name: Some(name),
            });
        }
        Ok(refs)
    }
}

/// A short digest of what makes Swarm replace tasks (the task template and the published
/// ports), which every task carries as a label. The engine rewrites parts of what it is sent
/// (network names become ids), so comparing this digest is how berth knows whether a deploy
/// changes anything.
fn spec_id(template: &TaskSpec, endpoint: &EndpointSpec) -> Result<String, SwarmError> {
    let value = serde_json::to_value((template, endpoint))
        .map_err(|e| SwarmError::Engine(e.to_string()))?;
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    Ok(hex(&Sha256::digest(canonical.as_bytes()))[..16].to_owned())
}

/// JSON with object keys sorted, so equal specifications give equal digests whatever order
/// their maps iterate in.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A health check in the engine's terms. An HTTP path is probed from inside the container with
/// `wget` (busybox and Alpine images have it; others should give a command), never through a
/// shell.
fn health_config(h: &HealthCheck) -> HealthConfig {
    let test = match (&h.command, &h.http_path) {
        (Some(cmd), _) => std::iter::once("CMD".to_owned())
            .chain(cmd.iter().cloned())
            .collect(),
        (None, Some(path)) => vec![
            "CMD".into(),
            "wget".into(),
            "-q".into(),
            "-O".into(),
            "/dev/null".into(),
            format!("http://127.0.0.1:{}{path}", h.port.map_or(80, |p| p.get())),
        ],
        (None, None) => vec!["NONE".into()],
    };
    HealthConfig {
        test: Some(test),
        interval: Some(i64::from(h.interval_s) * NS),
        timeout: Some(i64::from(h.timeout_s) * NS),
        retries: Some(i64::from(h.retries)),
        start_period: Some(i64::from(h.start_period_s) * NS),
        start_interval: None,
    }
}

fn update_config(p: &UpdatePolicy) -> ServiceSpecUpdateConfig {
    ServiceSpecUpdateConfig {
        parallelism: Some(i64::from(p.parallelism)),
        delay: Some(i64::from(p.delay_s) * NS),
        failure_action: Some(match p.failure_action {
            FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
            FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
        }),
        monitor: Some(i64::from(p.monitor_s) * NS),
        max_failure_ratio: Some(p.max_failure_ratio),
        order: Some(match p.order {
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    }
}

fn rollback_config(p: &UpdatePolicy) -> ServiceSpecRollbackConfig {
    ServiceSpecRollbackConfig {
        parallelism: Some(i64::from(p.parallelism)),
        delay: Some(i64::from(p.delay_s) * NS),
        failure_action: Some(match p.failure_action {
            FailureAction::Continue => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            // Validation refuses Rollback here.
            FailureAction::Pause | FailureAction::Rollback => {
                ServiceSpecRollbackConfigFailureActionEnum::PAUSE
            }
        }),
        monitor: Some(i64::from(p.monitor_s) * NS),
        max_failure_ratio: Some(p.max_failure_ratio),
        order: Some(match p.order {
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The networks `spec` joins: its own, or the shared one when it names none.
pub(crate) fn networks_of<'a>(
    spec: &'a ServiceSpec,
    shared: &'a String,
) -> impl Iterator<Item = &'a String> {
    let shared = spec.networks.is_empty().then_some(shared);
    shared.into_iter().chain(spec.networks.iter())
}

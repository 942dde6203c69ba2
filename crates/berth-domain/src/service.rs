//! What berth asks the orchestrator to run: one application as one Swarm service, described
//! completely, so the orchestrator needs nothing else to make the engine match it.
//!
//! [`ServiceSpec::for_application`] fills it from an application and its configuration with the
//! defaults below; every field can then be changed before it is validated and deployed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Validator;
use crate::{
    Application, ApplicationId, DeploymentId, EnvKey, HealthCheck, HostPath, MountPath,
    PortMapping, ProjectId, Replicas, SecretString, ServiceName, ValidationError, VolumeName,
};

/// Where a mount comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "source", rename_all = "snake_case")]
pub enum MountSource {
    /// A named Docker volume; created by the engine on first use and kept when the service is
    /// removed unless the caller asks otherwise. `engine` is the engine's name for it (berth's,
    /// `Volume::engine_name`); `label` is the name its user gave it, kept as a label only.
    Volume {
        engine: VolumeName,
        label: VolumeName,
    },
    /// A path on the node; only under the directories the operator allowed.
    Bind(HostPath),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: MountSource,
    pub target: MountPath,
    #[serde(default)]
    pub read_only: bool,
}

/// CPU (in cores, fractions allowed) and memory, as a limit or as a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ResourceAmount {
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
    /// Processes (and threads) at most; a limit only.
    #[serde(default)]
    pub pids: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceResources {
    #[serde(default)]
    pub limits: ResourceAmount,
    #[serde(default)]
    pub reservations: ResourceAmount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartCondition {
    None,
    OnFailure,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    pub condition: RestartCondition,
    pub delay_s: u32,
    /// `None`: no limit.
    pub max_attempts: Option<u32>,
    /// How long after a start a restart still counts against `max_attempts`; 0: unbounded.
    pub window_s: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            condition: RestartCondition::Any,
            delay_s: 5,
            max_attempts: None,
            window_s: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOrder {
    /// The new task starts and must be healthy before the old one stops: no downtime.
    StartFirst,
    /// The old task stops first: for applications that cannot run twice at once.
    StopFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    Rollback,
    Pause,
    Continue,
}

/// How Swarm replaces tasks, for an update or for a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UpdatePolicy {
    pub order: UpdateOrder,
    /// Tasks replaced at once; 0: all.
    pub parallelism: u32,
    pub delay_s: u32,
    /// How long each new task is watched for failure before the next is replaced.
    pub monitor_s: u32,
    pub failure_action: FailureAction,
    /// The fraction of tasks that may fail before `failure_action` applies.
    pub max_failure_ratio: f64,
}

impl UpdatePolicy {
    /// Updates: start-first one task at a time, each watched 5 s, rolled back on failure.
    pub fn update_default() -> Self {
        Self {
            order: UpdateOrder::StartFirst,
            parallelism: 1,
            delay_s: 0,
            monitor_s: 5,
            failure_action: FailureAction::Rollback,
            max_failure_ratio: 0.0,
        }
    }

    /// Rollbacks: start-first, all tasks at once (the old version is known good), paused if
    /// even that fails.
    pub fn rollback_default() -> Self {
        Self {
            parallelism: 0,
            failure_action: FailureAction::Pause,
            ..Self::update_default()
        }
    }

    fn validate(&self, v: &mut Validator, field: &str, is_rollback: bool) {
        if self.parallelism > 100 {
            v.push(format!("{field}.parallelism"), "must be at most 100");
        }
        for (name, value) in [("delay_s", self.delay_s), ("monitor_s", self.monitor_s)] {
            if value > 3600 {
                v.push(format!("{field}.{name}"), "must be at most 3600");
            }
        }
        if !(0.0..=1.0).contains(&self.max_failure_ratio) {
            v.push(format!("{field}.max_failure_ratio"), "must be from 0 to 1");
        }
        if is_rollback && self.failure_action == FailureAction::Rollback {
            v.push(
                format!("{field}.failure_action"),
                "a rollback can only pause or continue on failure",
            );
        }
    }
}

/// Label keys berth sets on every service and container it manages.
pub mod labels {
    /// Present on everything berth manages; its value is `"true"`.
    pub const MANAGED: &str = "berth.managed";
    pub const APPLICATION: &str = "berth.application";
    pub const PROJECT: &str = "berth.project";
    pub const DEPLOYMENT: &str = "berth.deployment";
    /// The image as the caller named it (the service runs it by id).
    pub const IMAGE: &str = "berth.image";
    /// On a volume: the name its user gave it (the engine's name is berth's).
    pub const VOLUME: &str = "berth.volume";
    /// Every key under this prefix is berth's; users' labels may not use it.
    pub const PREFIX: &str = "berth.";
}

/// One application as a Swarm service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: ServiceName,
    pub application_id: ApplicationId,
    pub project_id: ProjectId,
    pub deployment_id: Option<DeploymentId>,
    /// An image present on the engine, by tag or id. The service runs it by id, so the engine
    /// never tries to pull it and a moved tag never changes what runs.
    pub image: String,
    pub replicas: Replicas,
    pub env: Vec<(EnvKey, String)>,
    /// Secret variables: each reaches the container as the file `/run/secrets/<KEY>`, named by
    /// `<KEY>_FILE` in its environment, never as a value in the service's definition.
    pub secrets: Vec<(EnvKey, SecretString)>,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command (the entrypoint's arguments).
    pub command: Option<Vec<String>>,
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<Mount>,
    pub resources: ServiceResources,
    /// `None`: the image's own health check, if it has one.
    pub health_check: Option<HealthCheck>,
    /// The user's labels; berth adds its own under [`labels::PREFIX`].
    pub labels: BTreeMap<String, String>,
    pub restart: RestartPolicy,
    /// Swarm placement constraints such as `node.role==worker`.
    pub constraints: Vec<String>,
    pub stop_grace_period_s: u32,
    pub update: UpdatePolicy,
    pub rollback: UpdatePolicy,
    /// The overlay networks the service joins (an application's: its project's network,
    /// [`project_network`]); none means the orchestrator's own shared network, which only
    /// services outside any project use.
    pub networks: Vec<String>,
}

/// The overlay network of a project, which every service of the project joins and no service of
/// another project does: `berth-p-<project id>`. Berth names it; no user value is part of it.
pub fn project_network(project: ProjectId) -> String {
    format!("berth-p-{}", project.as_uuid().simple())
}

impl ServiceSpec {
    /// The service of `application` running `image`, with the defaults above.
    pub fn for_application(application: &Application, image: impl Into<String>) -> Self {
        let runtime = &application.runtime;
        let limits = runtime
            .resources
            .as_ref()
            .map(|r| ResourceAmount {
                cpus: r.cpus,
                memory_mb: r.memory_mb,
                pids: None,
            })
            .unwrap_or_default();
        Self {
            name: application.service_name(),
            application_id: application.id,
            project_id: application.project_id,
            deployment_id: None,
            image: image.into(),
            replicas: application.replicas,
            env: Vec::new(),
            secrets: Vec::new(),
            entrypoint: None,
            command: runtime.command.clone(),
            ports: runtime.ports.clone(),
            mounts: Vec::new(),
            resources: ServiceResources {
                limits,
                reservations: ResourceAmount::default(),
            },
            health_check: runtime.health_check.clone(),
            labels: BTreeMap::new(),
            restart: RestartPolicy::default(),
            constraints: Vec::new(),
            stop_grace_period_s: 10,
            update: UpdatePolicy::update_default(),
            rollback: UpdatePolicy::rollback_default(),
            networks: vec![project_network(application.project_id)],
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        if self.image.is_empty()
            || self.image.len() > 512
            || self
                .image
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            v.push("image", "must be an image name or id without spaces");
        }
        let mut keys = std::collections::HashSet::new();
        for (i, (key, value)) in self.env.iter().enumerate() {
            if !keys.insert(key.as_str()) {
                v.push(format!("env.{i}"), format!("{key} is set twice"));
            }
            if value.contains('\0') {
                v.push(format!("env.{i}"), "must not contain NUL characters");
            }
        }
        for (i, (key, _)) in self.secrets.iter().enumerate() {
            if !keys.insert(key.as_str()) {
                v.push(format!("secrets.{i}"), format!("{key} is set twice"));
            }
            let file_key = format!("{key}_FILE");
            if self.env.iter().any(|(k, _)| k.as_str() == file_key) {
                v.push(
                    format!("secrets.{i}"),
                    format!("{file_key} is set by berth for the secret {key}"),
                );
            }
        }
        for (field, cmd) in [("entrypoint", &self.entrypoint), ("command", &self.command)] {
            if let Some(c) = cmd {
                if c.iter().any(|a| a.contains('\0')) {
                    v.push(field, "must not contain NUL characters");
                }
            }
        }
        let mut targets = std::collections::HashSet::new();
        for (i, m) in self.mounts.iter().enumerate() {
            if !targets.insert(m.target.as_str()) {
                v.push(format!("mounts.{i}.target"), "is mounted twice");
            }
        }
        for (name, amount) in [
            ("limits", &self.resources.limits),
            ("reservations", &self.resources.reservations),
        ] {
            if let Some(c) = amount.cpus {
                if !(c.is_finite() && c > 0.0 && c <= 1024.0) {
                    v.push(
                        format!("resources.{name}.cpus"),
                        "must be more than 0 and at most 1024",
                    );
                }
            }
            if let Some(m) = amount.memory_mb {
                if !(6..=4_194_304).contains(&m) {
                    v.push(
                        format!("resources.{name}.memory_mb"),
                        "must be from 6 to 4194304 (Docker's minimum is 6 MiB)",
                    );
                }
            }
        }
        let (l, r) = (&self.resources.limits, &self.resources.reservations);
        if matches!((l.cpus, r.cpus), (Some(l), Some(r)) if r > l) {
            v.push("resources.reservations.cpus", "must not exceed the limit");
        }
        if matches!((l.memory_mb, r.memory_mb), (Some(l), Some(r)) if r > l) {
            v.push(
                "resources.reservations.memory_mb",
                "must not exceed the limit",
            );
        }
        if let Some(h) = &self.health_check {
            v.check("health_check", h.validate());
        }
        for (key, value) in &self.labels {
            if key.is_empty() || key.starts_with(labels::PREFIX) {
                v.push(
                    format!("labels.{key}"),
                    "must be a non-empty key outside the reserved prefix 'berth.'",
                );
            }
            if key.chars().chain(value.chars()).any(char::is_control) {
                v.push(
                    format!("labels.{key}"),
                    "must not contain control characters",
                );
            }
        }
        for (i, c) in self.constraints.iter().enumerate() {
            let ok = ["==", "!="].iter().any(|op| {
                c.split_once(op)
                    .is_some_and(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
            });
            if !ok || c.chars().any(char::is_control) {
                v.push(
                    format!("constraints.{i}"),
                    "must be '<attribute>==<value>' or '<attribute>!=<value>'",
                );
            }
        }
        if self.stop_grace_period_s > 3600 {
            v.push("stop_grace_period_s", "must be at most 3600");
        }
        if self.restart.delay_s > 3600 || self.restart.window_s > 86_400 {
            v.push(
                "restart",
                "delay must be at most 3600 s and window at most 86400 s",
            );
        }
        self.update.validate(&mut v, "update", false);
        self.rollback.validate(&mut v, "rollback", true);
        for (i, n) in self.networks.iter().enumerate() {
            if VolumeName::parse(n).is_err() {
                v.push(format!("networks.{i}"), "must be a Docker network name");
            }
        }
        v.finish()
    }

    /// Labels berth puts on the service and its containers: the user's and its own.
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let mut all = self.labels.clone();
        all.insert(labels::MANAGED.into(), "true".into());
        all.insert(labels::APPLICATION.into(), self.application_id.to_string());
        all.insert(labels::PROJECT.into(), self.project_id.to_string());
        if let Some(d) = self.deployment_id {
            all.insert(labels::DEPLOYMENT.into(), d.to_string());
        }
        all.insert(labels::IMAGE.into(), self.image.clone());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ApplicationKind, ApplicationSource, ApplicationStatus, ResourceName, RuntimeConfig,
    };

    fn app(name: &str) -> Application {
        let now = chrono::Utc::now();
        Application {
            id: ApplicationId::new(),
            project_id: ProjectId::new(),
            name: ResourceName::parse(name).unwrap(),
            description: None,
            kind: ApplicationKind::Git,
            status: ApplicationStatus::Stopped,
            source: ApplicationSource::Image {
                image: crate::ImageReference::parse("web:1").unwrap(),
            },
            runtime: RuntimeConfig::default(),
            replicas: Replicas::default(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_service_name_fits_a_dns_label_and_differs_between_applications() {
        let long = "a".repeat(63);
        let a = app(&long);
        let name = ServiceName::for_application(&a.name, a.id);
        assert_eq!(name.as_str().len(), 63);
        assert!(ServiceName::parse(name.as_str()).is_ok());
        let b = app(&long);
        assert_ne!(name, ServiceName::for_application(&b.name, b.id));
    }

    #[test]
    fn defaults_validate_and_bad_fields_are_named() {
        let a = app("web");
        let mut spec = ServiceSpec::for_application(&a, "berth/web:abc");
        spec.validate().unwrap();
        spec.env.push((EnvKey::parse("A").unwrap(), "1".into()));
        spec.secrets
            .push((EnvKey::parse("A").unwrap(), SecretString::new("s")));
        spec.labels.insert("berth.managed".into(), "no".into());
        spec.constraints.push("node.role".into());
        spec.rollback.failure_action = FailureAction::Rollback;
        spec.resources.limits.memory_mb = Some(64);
        spec.resources.reservations.memory_mb = Some(128);
        spec.image = "two words".into();
        let fields: Vec<String> = spec
            .validate()
            .unwrap_err()
            .errors
            .into_iter()
            .map(|f| f.field)
            .collect();
        for f in [
            "image",
            "secrets.0",
            "labels.berth.managed",
            "constraints.0",
            "rollback.failure_action",
            "resources.reservations.memory_mb",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn a_bind_path_is_inside_a_root_by_whole_components() {
        let root = HostPath::parse("/srv/data").unwrap();
        assert!(HostPath::parse("/srv/data").unwrap().is_inside(&root));
        assert!(HostPath::parse("/srv/data/app/x").unwrap().is_inside(&root));
        assert!(!HostPath::parse("/srv/data2").unwrap().is_inside(&root));
        assert!(!HostPath::parse("/srv").unwrap().is_inside(&root));
        assert!(HostPath::parse("/srv/data/../etc").is_err());
    }
}

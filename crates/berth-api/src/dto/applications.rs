//! Applications: their source, runtime configuration, and how they are shown.

use std::collections::BTreeMap;

use berth_domain::error::Validator;
use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;

/// Where the application comes from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceInput {
    Git {
        /// `github`, `gitlab`, `gitea`, `bitbucket` or `git`.
        #[schema(schema_with = schema::git_provider)]
        provider: String,
        repository: String,
        branch: String,
        /// Write-only: `{ "token" }` or `{ "ssh_key", "known_host" }`.
        #[schema(value_type = Option<CredentialsInput>)]
        credentials: Option<Obj<CredentialsInput>>,
        dockerfile: Option<String>,
        context: Option<String>,
        #[serde(default)]
        build_args: BTreeMap<String, String>,
        target: Option<String>,
        #[serde(default)]
        submodules: bool,
    },
    Image {
        image: String,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum CredentialsInput {
    Token {
        token: String,
    },
    SshKey {
        ssh_key: String,
        known_host: Option<String>,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortInput {
    #[schema(minimum = 1, maximum = 65535)]
    pub container: i64,
    #[schema(minimum = 1, maximum = 65535)]
    pub published: Option<i64>,
    /// `tcp` (default) or `udp`.
    #[schema(schema_with = schema::port_protocol_or_null)]
    pub protocol: Option<String>,
    /// `ingress` (default) or `host`.
    #[schema(schema_with = schema::publish_mode_or_null)]
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    #[schema(
        pattern = r"^/[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f]*$"
    )]
    pub http_path: Option<String>,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<i64>,
    pub command: Option<Vec<String>>,
    /// Seconds between checks (default 5).
    #[schema(minimum = 1, maximum = 3600)]
    pub interval_s: Option<u32>,
    /// Seconds a check may take (default 3).
    #[schema(minimum = 1, maximum = 3600)]
    pub timeout_s: Option<u32>,
    /// Failed checks in a row that make a replica unhealthy (default 3).
    #[schema(maximum = 100)]
    pub retries: Option<u32>,
    /// Seconds after start when failures do not count (default 0).
    #[schema(maximum = 3600)]
    pub start_period_s: Option<u32>,
}

/// The verify step's HTTP check: every replica must answer `GET http_path` on the published
/// container `port` with 2xx within `timeout_s` (default 30), or the deployment is rolled back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput {
    #[schema(
        pattern = r"^/[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f]*$"
    )]
    pub http_path: String,
    #[schema(minimum = 1, maximum = 65535)]
    pub port: i64,
    #[schema(minimum = 1, maximum = 600)]
    pub timeout_s: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesInput {
    /// CPUs a replica may use, such as `0.5`.
    #[schema(exclusive_minimum = 0, maximum = 1024)]
    pub cpus: Option<f64>,
    /// Memory a replica may use, in MiB (Docker's least is 6).
    #[schema(minimum = 6, maximum = 4194304)]
    pub memory_mb: Option<u32>,
}

/// An application's settings. On create, `name` and `source` are required; on PATCH every
/// field is optional and absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    #[schema(pattern = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    #[schema(value_type = Option<SourceInput>)]
    pub source: Option<Obj<SourceInput>>,
    #[schema(minimum = 0, maximum = 100)]
    pub replicas: Option<i64>,
    #[schema(value_type = Option<Vec<PortInput>>)]
    pub ports: Option<Vec<Obj<PortInput>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<HealthCheckInput>)]
    pub health_check: Option<Option<Obj<HealthCheckInput>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<ResourcesInput>)]
    pub resources: Option<Option<Obj<ResourcesInput>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub command: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub release_command: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<VerifyInput>)]
    pub verify: Option<Option<Obj<VerifyInput>>>,
}

fn parse_source(
    v: &mut Validator,
    s: &SourceInput,
) -> Option<(ApplicationSource, Option<GitCredentials>)> {
    match s {
        SourceInput::Image { image } => v
            .check("source.image", ImageReference::parse(image))
            .map(|image| (ApplicationSource::Image { image }, None)),
        SourceInput::Git {
            provider,
            repository,
            branch,
            credentials,
            dockerfile,
            context,
            build_args,
            target,
            submodules,
        } => {
            let provider = v.check("source.provider", GitProvider::parse(provider));
            let repository = v.check("source.repository", RepositoryUrl::parse(repository));
            let branch = v.check("source.branch", BranchName::parse(branch));
            let dockerfile = v.check(
                "source.dockerfile",
                RelativePath::parse(dockerfile.as_deref().unwrap_or("Dockerfile")),
            );
            let context = v.check(
                "source.context",
                RelativePath::parse(context.as_deref().unwrap_or(".")),
            );
            let creds = credentials.as_deref().and_then(|c| match c {
                CredentialsInput::Token { token } if !patterns::GIT_TOKEN.allows(token) => {
                    v.push("source.credentials.token", "must be 1 to 4096 characters");
                    None
                }
                CredentialsInput::Token { token } => Some(GitCredentials::Token {
                    token: SecretString::new(token.clone()),
                }),
                CredentialsInput::SshKey { ssh_key, .. } if !patterns::SSH_KEY.allows(ssh_key) => {
                    v.push(
                        "source.credentials.ssh_key",
                        "must be a private key in PEM or OpenSSH format",
                    );
                    None
                }
                CredentialsInput::SshKey {
                    ssh_key,
                    known_host,
                } => Some(GitCredentials::SshKey {
                    ssh_key: SecretString::new(ssh_key.clone()),
                    known_host: known_host.clone(),
                }),
            });
            let (provider, repository, branch, dockerfile, context) =
                (provider?, repository?, branch?, dockerfile?, context?);
            let spec = GitSourceSpec {
                provider,
                repository,
                branch,
                dockerfile,
                context,
                build_args: build_args.clone(),
                target: target.clone(),
                submodules: *submodules,
            };
            v.check("source", spec.validate())?;
            Some((ApplicationSource::Git(spec), creds))
        }
    }
}

fn parse_ports(v: &mut Validator, ports: &[Obj<PortInput>]) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let f = |name: &str| format!("ports.{i}.{name}");
        let container = v.check(&f("container"), PortNumber::parse(p.container));
        let published = match p.published {
            Some(n) => v.check(&f("published"), PortNumber::parse(n)).map(Some),
            None => Some(None),
        };
        let protocol = match p.protocol.as_deref() {
            None | Some("tcp") => Some(PortProtocol::Tcp),
            Some("udp") => Some(PortProtocol::Udp),
            Some(_) => {
                v.push(f("protocol"), "must be tcp or udp");
                None
            }
        };
        let mode = match p.mode.as_deref() {
            None | Some("ingress") => Some(PublishMode::Ingress),
            Some("host") => Some(PublishMode::Host),
            Some(_) => {
                v.push(f("mode"), "must be ingress or host");
                None
            }
        };
        if let (Some(container), Some(published), Some(protocol), Some(mode)) =
            (container, published, protocol, mode)
        {
            out.push(PortMapping {
                container,
                published,
                protocol,
                mode,
            });
        }
    }
    out
}

fn parse_health(v: &mut Validator, h: &HealthCheckInput) -> Option<HealthCheck> {
    let port = match h.port {
        Some(p) => v
            .check("health_check.port", PortNumber::parse(p))
            .map(Some)?,
        None => None,
    };
    let hc = HealthCheck {
        http_path: h.http_path.clone(),
        port,
        command: h.command.clone(),
        interval_s: h.interval_s.unwrap_or(5),
        timeout_s: h.timeout_s.unwrap_or(3),
        retries: h.retries.unwrap_or(3),
        start_period_s: h.start_period_s.unwrap_or(0),
    };
    v.check("health_check", hc.validate()).map(|_| hc)
}

/// A parsed application body.
#[derive(Debug)]
pub struct ParsedApplication {
    pub changes: berth_store::ApplicationChanges,
    /// Runtime fields given in the body, applied over the current configuration.
    pub ports: Option<Vec<PortMapping>>,
    pub health_check: Option<Option<HealthCheck>>,
    pub resources: Option<Option<Resources>>,
    pub command: Option<Option<Vec<String>>>,
    pub release_command: Option<Option<Vec<String>>>,
    pub verify: Option<Option<HttpVerify>>,
}

impl ParsedApplication {
    /// The runtime configuration after applying this body to `current`, unchecked: see
    /// [`RuntimeConfig::validate`].
    pub fn runtime_over(&self, current: &RuntimeConfig) -> RuntimeConfig {
        let mut rc = current.clone();
        if let Some(p) = &self.ports {
            rc.ports = p.clone();
        }
        if let Some(h) = &self.health_check {
            rc.health_check = h.clone();
        }
        if let Some(r) = &self.resources {
            rc.resources = r.clone();
        }
        if let Some(c) = &self.command {
            rc.command = c.clone();
        }
        if let Some(c) = &self.release_command {
            rc.release_command = c.clone();
        }
        if let Some(c) = &self.verify {
            rc.verify = c.clone();
        }
        rc
    }

    pub fn touches_runtime(&self) -> bool {
        self.ports.is_some()
            || self.health_check.is_some()
            || self.resources.is_some()
            || self.command.is_some()
            || self.release_command.is_some()
            || self.verify.is_some()
    }
}

impl ApplicationInput {
    /// Parses every field given; on create, `name` and `source` must be there.
    pub fn parse(&self, creating: bool) -> Result<ParsedApplication, ValidationError> {
        let mut v = Validator::new();
        if creating {
            if self.name.is_none() {
                v.push("name", "is required");
            }
            if self.source.is_none() {
                v.push("source", "is required");
            }
        }
        let name = self
            .name
            .as_deref()
            .and_then(|n| v.check("name", ResourceName::parse(n)).map(Some))
            .flatten();
        let description = match &self.description {
            Some(d) => parse_opt_description(&mut v, "description", d),
            None => None,
        };
        let replicas = self
            .replicas
            .and_then(|r| v.check("replicas", Replicas::parse(r)));
        let source = self.source.as_ref().and_then(|s| parse_source(&mut v, s));
        let ports = self.ports.as_ref().map(|p| parse_ports(&mut v, p));
        let health_check = self
            .health_check
            .as_ref()
            .map(|h| h.as_ref().and_then(|h| parse_health(&mut v, h)));
        let resources = self.resources.as_ref().map(|r| {
            r.as_ref().and_then(|r| {
                let res = Resources {
                    cpus: r.cpus,
                    memory_mb: r.memory_mb,
                };
                v.check("resources", res.validate()).map(|_| res)
            })
        });
        let verify = self.verify.as_ref().map(|c| {
            c.as_ref().and_then(|c| {
                let port = v.check("verify.port", PortNumber::parse(c.port))?;
                let check = HttpVerify {
                    http_path: c.http_path.clone(),
                    port,
                    timeout_s: c.timeout_s.unwrap_or(30),
                };
                v.check("verify", check.validate()).map(|_| check)
            })
        });
        let parsed = ParsedApplication {
            changes: berth_store::ApplicationChanges {
                name,
                description,
                credentials: source.as_ref().and_then(|(_, c)| c.clone().map(Some)),
                source: source.map(|(s, _)| s),
                runtime: None,
                replicas,
            },
            ports,
            health_check,
            resources,
            command: self.command.clone(),
            release_command: self.release_command.clone(),
            verify,
        };
        // Runtime fields are checked together once assembled; on PATCH, over the current
        // configuration (see `runtime_over`), by the caller.
        if creating {
            v.check(
                "",
                parsed.runtime_over(&RuntimeConfig::default()).validate(),
            );
        }
        v.finish()?;
        Ok(parsed)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: uuid::Uuid,
    pub project_id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `docker`, `git` or `compose`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `stopped`, `deploying`, `running`, `failed` or `scaling`.
    pub status: String,
    /// The source as given, without credentials.
    #[schema(value_type = Object)]
    pub source: serde_json::Value,
    /// Whether credentials are stored for the repository (they are never shown).
    pub has_credentials: bool,
    pub replicas: u32,
    #[schema(value_type = Vec<Object>)]
    pub ports: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub health_check: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub resources: serde_json::Value,
    pub command: Option<Vec<String>>,
    pub release_command: Option<Vec<String>>,
    /// The verify step's HTTP check, if any.
    #[schema(value_type = Option<Object>)]
    pub verify: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApplicationView {
    pub fn new(a: Application, has_credentials: bool) -> Self {
        Self {
            id: a.id.as_uuid(),
            project_id: a.project_id.as_uuid(),
            name: a.name.into_inner(),
            description: a.description.map(Description::into_inner),
            kind: a.kind.as_str().into(),
            status: a.status.as_str().into(),
            source: serde_json::to_value(&a.source).unwrap_or_default(),
            has_credentials,
            replicas: a.replicas.get(),
            ports: serde_json::to_value(&a.runtime.ports).unwrap_or_default(),
            health_check: serde_json::to_value(&a.runtime.health_check).unwrap_or_default(),
            resources: serde_json::to_value(&a.runtime.resources).unwrap_or_default(),
            command: a.runtime.command,
            release_command: a.runtime.release_command,
            verify: serde_json::to_value(&a.runtime.verify).unwrap_or_default(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteApplicationQuery {
    /// Remove the application's volumes and their data with it (default false: an application
    /// that has volumes is not deleted, 409).
    pub delete_volumes: Option<bool>,
}

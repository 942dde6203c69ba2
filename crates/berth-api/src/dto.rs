//! The API's own request and response types. Domain types carry no HTTP or schema concerns;
//! these do, and convert explicitly. Request bodies reject unknown fields, and their values are
//! parsed by the domain's constructors so every invalid field is reported at once.

use std::collections::BTreeMap;

use berth_domain::error::Validator;
use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T: ToSchema> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl<T: ToSchema> PageOf<T> {
    pub fn from<D>(p: Paginated<D>, f: impl FnMut(D) -> T) -> Self {
        let p = p.map(f);
        Self {
            items: p.items,
            total: p.total,
            limit: p.limit,
            offset: p.offset,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1 to 100, default 20).
    pub limit: Option<i64>,
    /// Skip this many items.
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ValidationError> {
        Page::parse(self.limit, self.offset)
    }
}

/// Deserialises a field that may be absent (leave as is), `null` (clear) or a value.
pub(crate) fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH description: absent (keep), `null` (clear) or a new value.
pub fn parse_description_change(
    v: &mut Validator,
    d: &Option<Option<String>>,
) -> Option<Option<Description>> {
    match d {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => v.check("description", Description::parse(text)).map(Some),
    }
}

fn parse_opt_description(
    v: &mut Validator,
    field: &str,
    d: &Option<String>,
) -> Option<Option<Description>> {
    match d {
        None => Some(None),
        Some(s) => v.check(field, Description::parse(s)).map(Some),
    }
}

// ---------------------------------------------------------------- users and authentication

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub username: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email.
    pub login: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session token: send it as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub username: String,
    pub email: String,
    /// `super_admin`, `admin`, `developer` or `viewer`.
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            username: u.username.into_inner(),
            email: u.email.into_inner(),
            role: u.role.as_str().into(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub username: String,
    pub email: String,
    pub password: String,
    /// Default `developer`.
    pub role: Option<String>,
}

/// The parsed fields of a new account.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub role: PlatformRole,
}

pub fn parse_account(
    username: &str,
    email: &str,
    password: &str,
    role: Option<&str>,
) -> Result<NewAccount, ValidationError> {
    let mut v = Validator::new();
    let username = v.check("username", Username::parse(username));
    let email = v.check("email", Email::parse(email));
    let password = v.check("password", Password::parse(password));
    let role = v.check(
        "role",
        role.map_or(Ok(PlatformRole::Developer), PlatformRole::parse),
    );
    v.finish()?;
    match (username, email, password, role) {
        (Some(username), Some(email), Some(password), Some(role)) => Ok(NewAccount {
            username,
            email,
            password,
            role,
        }),
        _ => Err(ValidationError::field("body", "invalid")),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// A new platform role (admins only).
    pub role: Option<String>,
    /// A new password.
    pub password: Option<String>,
    /// The caller's current password, required when changing their own.
    pub current_password: Option<String>,
    /// With a new password: revoke every API token of the user too (sessions end anyway).
    pub revoke_tokens: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    pub name: String,
    /// When the token stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.into_inner(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once: send it as `Authorization: Bearer <token>`.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

// ---------------------------------------------------------------- teams

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamCreate {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.into_inner(),
            description: t.description.map(Description::into_inner),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

pub fn parse_team(
    name: &str,
    description: &Option<String>,
) -> Result<(TeamName, Option<Description>), ValidationError> {
    let mut v = Validator::new();
    let name = v.check("name", TeamName::parse(name));
    let description = parse_opt_description(&mut v, "description", description);
    v.finish()?;
    Ok((
        name.ok_or_else(|| ValidationError::field("name", "invalid"))?,
        description.flatten(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    pub user_id: uuid::Uuid,
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: uuid::Uuid,
    pub username: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

impl From<(TeamMember, Username)> for MemberView {
    fn from((m, name): (TeamMember, Username)) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            username: name.into_inner(),
            role: m.role.as_str().into(),
            joined_at: m.joined_at,
        }
    }
}

// ---------------------------------------------------------------- projects

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreate {
    pub name: String,
    pub description: Option<String>,
    /// A team of the caller's that manages the project with them.
    pub team_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub team_id: Option<Option<uuid::Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: uuid::Uuid,
    pub team_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Project> for ProjectView {
    fn from(p: Project) -> Self {
        Self {
            id: p.id.as_uuid(),
            name: p.name.into_inner(),
            description: p.description.map(Description::into_inner),
            owner_id: p.owner_id.as_uuid(),
            team_id: p.team_id.map(|t| t.as_uuid()),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

// ---------------------------------------------------------------- applications

/// Where the application comes from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceInput {
    Git {
        /// `github`, `gitlab`, `gitea`, `bitbucket` or `git`.
        provider: String,
        repository: String,
        branch: String,
        /// Write-only: `{ "token" }` or `{ "ssh_key", "known_host" }`.
        credentials: Option<CredentialsInput>,
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
    pub container: i64,
    pub published: Option<i64>,
    /// `tcp` (default) or `udp`.
    pub protocol: Option<String>,
    /// `ingress` (default) or `host`.
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckInput {
    pub http_path: Option<String>,
    pub port: Option<i64>,
    pub command: Option<Vec<String>>,
    pub interval_s: Option<u32>,
    pub timeout_s: Option<u32>,
    pub retries: Option<u32>,
    pub start_period_s: Option<u32>,
}

/// The verify step's HTTP check: every replica must answer `GET http_path` on the published
/// container `port` with 2xx within `timeout_s` (default 30), or the deployment is rolled back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput {
    pub http_path: String,
    pub port: i64,
    pub timeout_s: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcesInput {
    pub cpus: Option<f64>,
    pub memory_mb: Option<u32>,
}

/// An application's settings. On create, `name` and `source` are required; on PATCH every
/// field is optional and absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub source: Option<SourceInput>,
    pub replicas: Option<i64>,
    pub ports: Option<Vec<PortInput>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<HealthCheckInput>)]
    pub health_check: Option<Option<HealthCheckInput>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<ResourcesInput>)]
    pub resources: Option<Option<ResourcesInput>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub command: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub release_command: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<VerifyInput>)]
    pub verify: Option<Option<VerifyInput>>,
}

fn parse_source(
    v: &mut Validator,
    s: &SourceInput,
) -> Option<(ApplicationSource, Option<GitCredentials>)> {
    match s {
        SourceInput::Image { image } => v
            .check("source.image", ImageReference::parse_runnable(image))
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
            let creds = credentials.as_ref().and_then(|c| match c {
                CredentialsInput::Token { token } if token.is_empty() || token.len() > 4096 => {
                    v.push("source.credentials.token", "must be 1 to 4096 characters");
                    None
                }
                CredentialsInput::Token { token } => Some(GitCredentials::Token {
                    token: SecretString::new(token.clone()),
                }),
                CredentialsInput::SshKey { ssh_key, .. } if !ssh_key.contains("PRIVATE KEY") => {
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

fn parse_ports(v: &mut Validator, ports: &[PortInput]) -> Vec<PortMapping> {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvSet {
    pub value: String,
    /// Secret values are encrypted and never shown again.
    #[serde(default)]
    pub is_secret: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvView {
    pub key: String,
    /// `null` for secrets.
    pub value: Option<String>,
    pub is_secret: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<EnvVar> for EnvView {
    fn from(e: EnvVar) -> Self {
        Self {
            key: e.key.into_inner(),
            value: e.value,
            is_secret: e.is_secret,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeCreate {
    pub name: String,
    pub mount_path: String,
    pub size_gb: i64,
    /// `docker_volume` (default) or `bind`.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeView {
    pub id: uuid::Uuid,
    pub name: String,
    /// The Docker volume's name, berth's own (`berth-vol-<id>`).
    pub engine_name: String,
    pub kind: String,
    pub mount_path: String,
    pub size_gb: u32,
    pub application_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Volume> for VolumeView {
    fn from(v: Volume) -> Self {
        Self {
            id: v.id.as_uuid(),
            name: v.name.into_inner(),
            engine_name: v.engine_name.into_inner(),
            kind: v.kind.as_str().into(),
            mount_path: v.mount_path.into_inner(),
            size_gb: v.size_gb.get(),
            application_id: match v.owner {
                VolumeOwner::Application(a) => Some(a.as_uuid()),
                VolumeOwner::Database(_) => None,
            },
            created_at: v.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainCreate {
    pub host: String,
    /// Serve over HTTPS with a certificate (default true).
    pub tls: Option<bool>,
    /// How the edge router serves it; absent fields take their defaults.
    pub routing: Option<DomainRoutingInput>,
}

/// How the edge router serves a domain. On PATCH, absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRoutingInput {
    /// Only requests under this path reach the application (default `/`).
    pub path_prefix: Option<String>,
    /// The container port requests go to (default: the application's first listed port,
    /// else 80); `null` returns to the default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub port: Option<Option<i64>>,
    /// Plain HTTP redirects to HTTPS when the domain has TLS (default true).
    pub https_redirect: Option<bool>,
    /// HTTPS answers carry `Strict-Transport-Security: max-age=31536000` (default false).
    pub hsts: Option<bool>,
    /// `none` (default), `to_apex` (`www.<domain>` redirects to the domain) or `to_www` (the
    /// domain is `www.<apex>`; `<apex>` redirects to it).
    pub www_redirect: Option<String>,
    /// Basic authentication: the full list of users. A user already there may leave out
    /// `password` to keep theirs. Empty: no authentication.
    pub basic_auth: Option<Vec<BasicAuthInput>>,
    /// Request bodies over this many MiB are refused with 413 (default 100).
    pub max_body_mb: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthInput {
    pub username: String,
    /// Write-only: stored as a bcrypt hash, never shown.
    pub password: Option<String>,
}

/// A domain's routing as shown: basic-auth users by name only.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainRoutingView {
    pub path_prefix: String,
    pub port: Option<u16>,
    pub https_redirect: bool,
    pub hsts: bool,
    /// `none`, `to_apex` or `to_www`.
    pub www_redirect: String,
    pub basic_auth_users: Vec<String>,
    pub max_body_mb: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainUpdate {
    pub tls: Option<bool>,
    /// Route the domain to another application of the same project.
    pub application_id: Option<uuid::Uuid>,
    pub routing: Option<DomainRoutingInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    pub id: uuid::Uuid,
    pub project_id: uuid::Uuid,
    pub host: String,
    pub application_id: Option<uuid::Uuid>,
    pub tls: bool,
    pub routing: DomainRoutingView,
    /// The certificate served, if any (until the first, a self-signed one is).
    pub certificate: Option<CertificateView>,
    /// How ordering its certificate went lately.
    pub certificate_attempts: CertificateAttemptsView,
    /// Requests the edge router answered for this domain since berth started, and how many
    /// of them with a 5xx status; `null` when this process runs no router.
    pub traffic: Option<TrafficView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrafficView {
    pub requests: u64,
    pub errors: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub issuer: String,
    pub expires_at: DateTime<Utc>,
    /// `acme` (renewed by berth) or `custom` (uploaded; replaces ACME for the domain).
    pub source: String,
    /// When berth renews it (ACME only).
    pub renew_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateAttemptsView {
    /// Failed orders in a row.
    pub failures: u32,
    pub last_error: Option<String>,
    /// No order is made before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A custom certificate: the chain (leaf first) and its private key, in PEM. The key is
/// write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateUpload {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

impl DomainView {
    pub fn new(d: Domain, certificate: Option<Certificate>, traffic: Option<TrafficView>) -> Self {
        Self {
            traffic,
            id: d.id.as_uuid(),
            project_id: d.project_id.as_uuid(),
            host: d.host.into_inner(),
            application_id: match d.target {
                DomainTarget::Application(a) => Some(a.as_uuid()),
                DomainTarget::Database(_) => None,
            },
            tls: d.tls,
            routing: DomainRoutingView {
                path_prefix: d.routing.path_prefix,
                port: d.routing.port.map(|p| p.get()),
                https_redirect: d.routing.https_redirect,
                hsts: d.routing.hsts,
                www_redirect: serde_json::to_value(d.routing.www_redirect)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                basic_auth_users: d
                    .routing
                    .basic_auth
                    .into_iter()
                    .map(|u| u.username)
                    .collect(),
                max_body_mb: d.routing.max_body_mb,
            },
            certificate: certificate.map(|c| CertificateView {
                issuer: c.issuer,
                expires_at: c.expires_at,
                source: c.source.as_str().into(),
                renew_at: c.renew_at,
                created_at: c.created_at,
            }),
            certificate_attempts: CertificateAttemptsView {
                failures: d.certificate.failures,
                last_error: d.certificate.last_error,
                retry_at: d.certificate.retry_at,
            },
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenCreate {
    pub name: String,
    /// Who uses the token, for example `github` or `gitlab-ci`.
    pub origin: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTokenView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    pub name: String,
    pub origin: String,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ServiceToken> for ServiceTokenView {
    fn from(t: ServiceToken) -> Self {
        Self {
            id: t.id.as_uuid(),
            application_id: t.application_id.as_uuid(),
            name: t.name.into_inner(),
            origin: t.origin.into_inner(),
            created_by: t.created_by.map(|u| u.as_uuid()),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceToken {
    /// The secret, shown this once.
    pub token: String,
    #[serde(flatten)]
    pub info: ServiceTokenView,
}

// ---------------------------------------------------------------- builds and deployments

#[derive(Debug, Serialize, ToSchema)]
pub struct BuildView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    /// `pending`, `in_progress`, `succeeded` or `failed`.
    pub status: String,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Build> for BuildView {
    fn from(b: Build) -> Self {
        Self {
            id: b.id.as_uuid(),
            application_id: b.application_id.as_uuid(),
            status: b.status.as_str().into(),
            commit_sha: b.commit_sha.map(CommitSha::into_inner),
            commit_message: b.commit_message,
            image: b.image,
            image_id: b.image_id,
            message: b.message,
            created_at: b.created_at,
            started_at: b.started_at,
            finished_at: b.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub name: String,
    /// `pending`, `running`, `success`, `failed`, `skipped` or `cancelled`.
    pub state: String,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeploymentStep> for StepView {
    fn from(s: DeploymentStep) -> Self {
        Self {
            name: s.name.as_str().into(),
            state: s.state.as_str().into(),
            message: s.message,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

/// An operation on an application: what it does, where it is, how it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    /// `start`, `stop`, `restart`, `scale` or `delete`.
    pub kind: String,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// For `scale`.
    pub replicas: Option<u32>,
    /// For `delete`: the volumes and their data go too.
    pub delete_volumes: bool,
    pub requested_by: Option<uuid::Uuid>,
    /// How it ended (or why it failed).
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Operation> for OperationView {
    fn from(o: Operation) -> Self {
        Self {
            id: o.id.as_uuid(),
            application_id: o.application_id.as_uuid(),
            kind: o.kind.as_str().into(),
            status: o.status.as_str().into(),
            replicas: o.replicas.map(|r| r.get()),
            delete_volumes: o.delete_volumes,
            requested_by: o.requested_by.map(|u| u.as_uuid()),
            message: o.message,
            created_at: o.created_at,
            started_at: o.started_at,
            finished_at: o.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    pub build_id: Option<uuid::Uuid>,
    pub triggered_by: Option<uuid::Uuid>,
    /// `manual`, `webhook`, `service_token`, `rollback` or `redeploy`.
    pub trigger: String,
    /// `pending`, `building`, `deploying`, `success`, `failed`, `rolled_back` or `cancelled`.
    pub status: String,
    pub commit_sha: Option<String>,
    pub message: Option<String>,
    pub rollback_of: Option<uuid::Uuid>,
    /// Someone asked for it to stop; it ends `cancelled` shortly.
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Deployment> for DeploymentView {
    fn from(d: Deployment) -> Self {
        Self {
            id: d.id.as_uuid(),
            application_id: d.application_id.as_uuid(),
            build_id: d.build_id.map(|b| b.as_uuid()),
            triggered_by: d.triggered_by.map(|u| u.as_uuid()),
            trigger: d.trigger.as_str().into(),
            status: d.status.as_str().into(),
            commit_sha: d.commit_sha.map(CommitSha::into_inner),
            message: d.message,
            rollback_of: d.rollback_of.map(|r| r.as_uuid()),
            cancel_requested: d.cancel_requested,
            created_at: d.created_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentDetailView {
    #[serde(flatten)]
    pub deployment: DeploymentView,
    pub build: Option<BuildView>,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteApplicationQuery {
    /// Remove the application's volumes and their data with it (default false: an application
    /// that has volumes is not deleted, 409).
    pub delete_volumes: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only lines with a sequence number above this (default 0).
    pub after: Option<i64>,
    /// At most this many lines (1 to 1000, default 500).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    pub seq: i64,
    pub step: Option<String>,
    pub level: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

impl From<LogLine> for LogLineView {
    fn from(l: LogLine) -> Self {
        Self {
            seq: l.seq,
            step: l.step.map(|s| s.as_str().into()),
            level: l.level.as_str().into(),
            message: l.message,
            created_at: l.created_at,
        }
    }
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub user_id: Option<uuid::Uuid>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub user_id: Option<uuid::Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id.map(|u| u.as_uuid()),
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            details: e.details,
            ip_address: e.ip_address,
            user_agent: e.user_agent,
            created_at: e.created_at,
        }
    }
}

/// Where a git host sends pushes, and (only when just made or rotated) the secret it signs them
/// with.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    /// `github`, `gitlab`, `gitea` or `bitbucket`: the path's last part says which checks apply.
    pub provider: String,
    /// Shown once; `null` afterwards.
    pub secret: Option<String>,
    /// Set this as the webhook's content type on the git host.
    pub content_type: String,
}

impl WebhookView {
    pub fn new(base: &str, app: &Application, provider: &str, secret: Option<String>) -> Self {
        let provider = match provider {
            "git" => "github",
            p => p,
        };
        Self {
            url: format!(
                "{}/api/v1/webhooks/{}/{provider}",
                base.trim_end_matches('/'),
                app.id
            ),
            provider: provider.to_owned(),
            secret,
            content_type: "application/json".into(),
        }
    }
}

/// One replica (Swarm task) of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaView {
    pub task_id: String,
    pub slot: Option<i64>,
    /// `running`, `starting`, `failed`, `shutdown`...
    pub state: String,
    /// What Swarm wants it to be: `running` or `shutdown`.
    pub desired: String,
    pub error: Option<String>,
    /// `[container port, host port]` pairs published in host mode.
    pub host_ports: Vec<[u16; 2]>,
    pub node_id: String,
}

/// An application's service as Swarm runs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuntimeView {
    pub service: String,
    pub desired: u32,
    pub running: u32,
    /// The rolling update's state (`updating`, `completed`, `rollback_completed`...), if any.
    pub update_state: Option<String>,
    pub update_message: Option<String>,
    pub last_error: Option<String>,
    /// Current tasks first; the engine also remembers a few past ones.
    pub replicas: Vec<ReplicaView>,
}

impl From<berth_deploy::ServiceStatus> for RuntimeView {
    fn from(s: berth_deploy::ServiceStatus) -> Self {
        let (update_state, update_message) = match s.update {
            Some((state, message)) => (Some(state), Some(message).filter(|m| !m.is_empty())),
            None => (None, None),
        };
        let mut replicas: Vec<ReplicaView> = s
            .tasks
            .into_iter()
            .map(|t| ReplicaView {
                task_id: t.id,
                slot: t.slot,
                state: t.state,
                desired: t.desired,
                error: t.error,
                host_ports: t.host_ports.into_iter().map(|(c, h)| [c, h]).collect(),
                node_id: t.node_id,
            })
            .collect();
        replicas.sort_by_key(|r| (r.desired != "running", r.slot));
        Self {
            service: s.name,
            desired: s.desired,
            running: s.running,
            update_state,
            update_message,
            last_error: s.last_error,
            replicas,
        }
    }
}

/// One line an application's replica printed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuntimeLogLine {
    pub at: Option<DateTime<Utc>>,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub task_id: Option<String>,
    pub text: String,
}

impl From<berth_deploy::LogLine> for RuntimeLogLine {
    fn from(l: berth_deploy::LogLine) -> Self {
        Self {
            at: l.at,
            stream: match l.stream {
                berth_deploy::LogStream::Stdout => "stdout",
                berth_deploy::LogStream::Stderr => "stderr",
            }
            .into(),
            task_id: l.task_id,
            text: l.text,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RuntimeLogQuery {
    /// The last lines of each replica only (default 200, at most 10000; 0 for none).
    pub tail: Option<u32>,
    /// Only lines written at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
}

/// The most lines `tail` asks of each replica.
pub const MAX_LOG_TAIL: u32 = 10_000;

impl RuntimeLogQuery {
    pub fn options(&self, follow: bool) -> Result<berth_deploy::LogOptions, crate::ApiError> {
        let tail = self.tail.unwrap_or(200);
        if tail > MAX_LOG_TAIL {
            return Err(crate::ApiError::invalid(
                "tail",
                &format!("must be at most {MAX_LOG_TAIL}"),
            ));
        }
        Ok(berth_deploy::LogOptions {
            follow,
            tail: Some(tail),
            since: self.since,
        })
    }
}

/// Where DNS-01 answers go: the primary DNS server taking RFC 2136 updates, its zone, and the
/// TSIG key (HMAC-SHA256) allowed to update it. `key_secret` is write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcmeDnsInput {
    /// `address:port`, such as `192.0.2.1:53`.
    pub server: String,
    pub zone: String,
    pub key_name: String,
    /// Base64, as `tsig-keygen` prints it.
    pub key_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcmeDnsView {
    /// Whether a setting is stored here (otherwise the server's `acme_dns_*` settings apply).
    pub configured: bool,
    pub server: Option<String>,
    pub zone: Option<String>,
    pub key_name: Option<String>,
}

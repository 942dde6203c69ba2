//! The entities berth keeps. Fields hold parsed values; the storage layer turns rows into these
//! and nothing else constructs them from untrusted input without going through the parsers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Validator;
use crate::*;

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Email,
    pub role: PlatformRole,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: TeamId,
    pub name: TeamName,
    pub description: Option<Description>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamMember {
    pub id: TeamMemberId,
    pub team_id: TeamId,
    pub user_id: UserId,
    pub role: TeamRole,
    pub joined_at: Timestamp,
}

/// A change to a team's membership, checked against the rule that a team always keeps at least
/// one owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    SetRole(UserId, TeamRole),
    Remove(UserId),
}

/// Fails when `change` would leave the team with no owner.
pub fn check_team_keeps_an_owner(
    members: &[(UserId, TeamRole)],
    change: MemberChange,
) -> Result<(), ValidationError> {
    let owners_after = members
        .iter()
        .filter_map(|(user, role)| match change {
            MemberChange::Remove(u) if u == *user => None,
            MemberChange::SetRole(u, r) if u == *user => Some(r),
            _ => Some(*role),
        })
        .filter(|r| *r == TeamRole::Owner)
        .count();
    if owners_after == 0 {
        Err(ValidationError::field(
            "role",
            "a team must keep at least one owner",
        ))
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub name: ProjectName,
    pub description: Option<Description>,
    pub owner_id: UserId,
    pub team_id: Option<TeamId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How many applications a project has, by status (deleted ones not counted); `total` counts
/// every status, also those deploying or scaling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApplicationCounts {
    pub total: u64,
    pub running: u64,
    pub stopped: u64,
    pub failed: u64,
}

/// Where an application's code or image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApplicationSource {
    Git(GitSourceSpec),
    Image { image: ImageReference },
}

impl ApplicationSource {
    pub fn kind(&self) -> ApplicationKind {
        match self {
            Self::Git(_) => ApplicationKind::Git,
            Self::Image { .. } => ApplicationKind::Docker,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Git(_) => "git",
            Self::Image { .. } => "image",
        }
    }
}

/// A git source: where the repository is, which branch to follow, and how to build it.
/// Credentials are not part of it: they are write-only and kept encrypted apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSourceSpec {
    pub provider: GitProvider,
    pub repository: RepositoryUrl,
    pub branch: BranchName,
    #[serde(default = "default_dockerfile")]
    pub dockerfile: RelativePath,
    #[serde(default = "default_context")]
    pub context: RelativePath,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub submodules: bool,
}

fn default_dockerfile() -> RelativePath {
    RelativePath::parse("Dockerfile").unwrap_or_else(|_| unreachable!())
}

fn default_context() -> RelativePath {
    RelativePath::parse(".").unwrap_or_else(|_| unreachable!())
}

impl GitSourceSpec {
    /// Build argument names follow the rules of environment variable names.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        for key in self.build_args.keys() {
            v.check(&format!("build_args.{key}"), EnvKey::parse(key));
        }
        if let Some(t) = &self.target {
            if !patterns::BUILD_TARGET.allows(t) {
                v.push(
                    "target",
                    "must be a build stage name of letters, digits, '_', '-' or '.'",
                );
            }
        }
        v.finish()
    }
}

/// Credentials for a private repository, write-only: a token for HTTPS, or a deploy key for SSH
/// with the host key it must present.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum GitCredentials {
    Token {
        token: SecretString,
    },
    SshKey {
        ssh_key: SecretString,
        known_host: Option<String>,
    },
}

impl GitCredentials {
    /// The JSON that is encrypted at rest. Only the storage layer calls this.
    pub fn to_secret_json(&self) -> String {
        let v = match self {
            Self::Token { token } => serde_json::json!({ "token": token.expose() }),
            Self::SshKey {
                ssh_key,
                known_host,
            } => {
                serde_json::json!({ "ssh_key": ssh_key.expose(), "known_host": known_host })
            }
        };
        v.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortProtocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishMode {
    Ingress,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub container: PortNumber,
    #[serde(default)]
    pub published: Option<PortNumber>,
    #[serde(default = "tcp")]
    pub protocol: PortProtocol,
    #[serde(default = "ingress")]
    pub mode: PublishMode,
}

fn tcp() -> PortProtocol {
    PortProtocol::Tcp
}
fn ingress() -> PublishMode {
    PublishMode::Ingress
}

/// A health check: an HTTP path probed on a port, or a command run in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default)]
    pub http_path: Option<String>,
    #[serde(default)]
    pub port: Option<PortNumber>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default = "five")]
    pub interval_s: u32,
    #[serde(default = "three")]
    pub timeout_s: u32,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(default)]
    pub start_period_s: u32,
}

fn five() -> u32 {
    5
}
fn three() -> u32 {
    3
}

/// What a command must be, as its error says.
const COMMAND_RULE: &str =
    "must name a program: one or more words, none empty or holding a NUL character";

impl HealthCheck {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        match (&self.http_path, &self.command) {
            (Some(_), Some(_)) => v.push("", "give either http_path or command, not both"),
            (None, None) => v.push("", "give http_path or command"),
            (Some(p), None) => {
                if !p.starts_with('/') || p.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    v.push(
                        "http_path",
                        "must be a path starting with '/' without spaces",
                    );
                }
                if self.port.is_none() {
                    v.push("port", "is required with http_path");
                }
            }
            (None, Some(c)) => {
                if !patterns::command_allowed(c) {
                    v.push("command", COMMAND_RULE);
                }
            }
        }
        for (field, value, max) in [
            ("interval_s", self.interval_s, 3600),
            ("timeout_s", self.timeout_s, 3600),
            ("retries", self.retries, 100),
            ("start_period_s", self.start_period_s, 3600),
        ] {
            if value > max {
                v.push(field, format!("must be at most {max}"));
            }
        }
        if self.interval_s == 0 || self.timeout_s == 0 {
            v.push(
                "interval_s",
                "interval and timeout must be at least 1 second",
            );
        }
        v.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
}

impl Resources {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        if let Some(c) = self.cpus {
            if !(c.is_finite() && c > 0.0 && c <= 1024.0) {
                v.push("cpus", "must be more than 0 and at most 1024");
            }
        }
        if let Some(m) = self.memory_mb {
            if !(6..=4_194_304).contains(&m) {
                v.push(
                    "memory_mb",
                    "must be from 6 to 4194304 (Docker's minimum is 6 MiB)",
                );
            }
        }
        v.finish()
    }
}

/// How an application runs: what a deployment snapshots, beside its image.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub release_command: Option<Vec<String>>,
    /// Checked from outside once a rollout converged: every replica must answer 2xx.
    #[serde(default)]
    pub verify: Option<HttpVerify>,
}

/// The verify step's HTTP check: `GET http_path` on a published container port of every
/// replica must answer 2xx within `timeout_s`, or the deployment is rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpVerify {
    pub http_path: String,
    pub port: PortNumber,
    #[serde(default = "thirty")]
    pub timeout_s: u32,
}

fn thirty() -> u32 {
    30
}

impl HttpVerify {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        if !self.http_path.starts_with('/')
            || self
                .http_path
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            v.push(
                "http_path",
                "must be a path starting with '/' without spaces",
            );
        }
        if !(1..=600).contains(&self.timeout_s) {
            v.push("timeout_s", "must be from 1 to 600");
        }
        v.finish()
    }
}

impl RuntimeConfig {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        if let Some(h) = &self.health_check {
            v.check("health_check", h.validate());
        }
        if let Some(r) = &self.resources {
            v.check("resources", r.validate());
        }
        for (field, cmd) in [
            ("command", &self.command),
            ("release_command", &self.release_command),
        ] {
            if let Some(c) = cmd {
                if !patterns::command_allowed(c) {
                    v.push(field, COMMAND_RULE);
                }
            }
        }
        if let Some(check) = &self.verify {
            v.check("verify", check.validate());
        }
        v.finish()
    }

    /// The settings that contradict each other (each valid alone): a host port published
    /// twice for one protocol.
    pub fn conflicts(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        let mut published = std::collections::HashSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            if let Some(pp) = p.published {
                if !published.insert((pp, p.protocol as u8)) {
                    v.push(format!("ports.{i}.published"), "is published twice");
                }
            }
        }
        v.finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    pub id: ApplicationId,
    pub project_id: ProjectId,
    pub name: ResourceName,
    pub description: Option<Description>,
    pub kind: ApplicationKind,
    pub status: ApplicationStatus,
    pub source: ApplicationSource,
    pub runtime: RuntimeConfig,
    pub replicas: Replicas,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Application {
    /// The name of its service on the orchestrator (the one place it is made).
    pub fn service_name(&self) -> ServiceName {
        ServiceName::for_application(&self.name, self.id)
    }

    /// The image repository its builds are tagged in (the one place it is made).
    pub fn image_repository(&self) -> String {
        format!("berth/{}", self.service_name())
    }
}

/// The git side of an application: what it tracks and the last commit deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitSource {
    pub id: GitSourceId,
    pub application_id: ApplicationId,
    pub provider: GitProvider,
    pub repository: RepositoryUrl,
    pub branch: BranchName,
    pub last_deployed_commit: Option<CommitSha>,
    pub has_credentials: bool,
}

/// An environment variable as it may be shown: a secret's value never is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    pub id: EnvVarId,
    pub application_id: ApplicationId,
    pub key: EnvKey,
    /// `None` for secrets.
    pub value: Option<String>,
    pub is_secret: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who a volume belongs to: an application or a database; either keeps the volume from being
/// deleted while it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum VolumeOwner {
    Application(ApplicationId),
    Database(DatabaseId),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub id: VolumeId,
    /// The user's name for it, unique in its application.
    pub name: VolumeName,
    /// The Docker volume's name: berth's, derived from the id (`berth-vol-<id>`), so no name a
    /// user chooses ever reaches the engine.
    pub engine_name: VolumeName,
    pub kind: VolumeKind,
    pub mount_path: MountPath,
    pub size_gb: SizeGb,
    pub owner: VolumeOwner,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum DomainTarget {
    Application(ApplicationId),
    Database(DatabaseId),
}

impl DomainTarget {
    pub fn kind(&self) -> DomainTargetKind {
        match self {
            Self::Application(_) => DomainTargetKind::Application,
            Self::Database(_) => DomainTargetKind::Database,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    pub id: DomainId,
    pub project_id: ProjectId,
    pub host: DomainName,
    pub target: DomainTarget,
    pub tls: bool,
    pub routing: DomainRouting,
    /// How getting its certificate went lately.
    pub certificate: CertificateAttempts,
    pub created_at: Timestamp,
}

/// The state of a domain's certificate orders: failures in a row, the last error, and when
/// the next attempt may be made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CertificateAttempts {
    pub failures: u32,
    pub last_error: Option<String>,
    pub retry_at: Option<Timestamp>,
}

/// Where DNS-01 answers are written (RFC 2136 with a TSIG key), as the installation keeps it
/// (encrypted, under [`AcmeDnsSetting::NAME`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeDnsSetting {
    pub server: String,
    pub zone: String,
    pub key_name: String,
    pub key_secret: String,
}

impl AcmeDnsSetting {
    pub const NAME: &'static str = "acme_dns";
}

impl std::fmt::Debug for AcmeDnsSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeDnsSetting")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .field("key_name", &self.key_name)
            .field("key_secret", &"[redacted]")
            .finish()
    }
}

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    /// Issued by the ACME CA and renewed by berth.
    Acme,
    /// Uploaded by a user; replaces ACME for its domain.
    Custom,
}

impl CertificateSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acme => "acme",
            Self::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "acme" => Some(Self::Acme),
            "custom" => Some(Self::Custom),
            _ => None,
        }
    }
}

/// Redirects between a domain and its `www.` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WwwRedirect {
    #[default]
    None,
    /// `www.<host>` redirects to the domain.
    ToApex,
    /// The domain is `www.<apex>`; `<apex>` redirects to it.
    ToWww,
}

/// A user of a domain's basic authentication; the password is kept as a bcrypt hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthEntry {
    pub username: String,
    pub password_hash: String,
}

/// How the edge router serves a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainRouting {
    /// Only requests under this path go to the application (`/`: all).
    #[serde(default = "root_path")]
    pub path_prefix: String,
    /// The container port requests go to; `None`: the application's first listed port, or 80.
    #[serde(default)]
    pub port: Option<PortNumber>,
    /// Plain HTTP redirects to HTTPS (when the domain has TLS).
    #[serde(default = "yes")]
    pub https_redirect: bool,
    /// HTTPS answers carry `Strict-Transport-Security`.
    #[serde(default)]
    pub hsts: bool,
    #[serde(default)]
    pub www_redirect: WwwRedirect,
    #[serde(default)]
    pub basic_auth: Vec<BasicAuthEntry>,
    /// Request bodies over this many MiB are refused (413).
    #[serde(default = "hundred")]
    pub max_body_mb: u32,
}

fn root_path() -> String {
    "/".into()
}
fn yes() -> bool {
    true
}
fn hundred() -> u32 {
    100
}

impl Default for DomainRouting {
    fn default() -> Self {
        Self {
            path_prefix: root_path(),
            port: None,
            https_redirect: true,
            hsts: false,
            www_redirect: WwwRedirect::None,
            basic_auth: Vec::new(),
            max_body_mb: hundred(),
        }
    }
}

impl DomainRouting {
    /// The container port the domain's requests go to: its own, else the first port the
    /// application lists, else 80.
    pub fn target_port(&self, runtime: &RuntimeConfig) -> PortNumber {
        self.port
            .or_else(|| runtime.ports.first().map(|p| p.container))
            .unwrap_or(PortNumber::HTTP)
    }

    /// Checks each option alone (see [`Self::conflicts`] for those that depend on each other).
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        let p = &self.path_prefix;
        if !patterns::PATH_PREFIX.allows(p) {
            v.push(
                "path_prefix",
                "must be a path starting with '/', at most 200 characters, without spaces, '?', '#', '%' or '//'",
            );
        }
        for (i, u) in self.basic_auth.iter().enumerate() {
            if !patterns::BASIC_AUTH_USER.allows(&u.username) {
                v.push(
                    format!("basic_auth.{i}.username"),
                    "must be 1 to 64 characters without ':'",
                );
            }
        }
        if !(1..=10_240).contains(&self.max_body_mb) {
            v.push("max_body_mb", "must be from 1 to 10240");
        }
        v.finish()
    }

    /// The options that contradict each other or the domain's host (each valid alone): a www
    /// redirect the host cannot have, a basic-auth user listed twice.
    pub fn conflicts(&self, host: &DomainName) -> Result<(), ValidationError> {
        let mut v = Validator::new();
        if self.www_redirect == WwwRedirect::ToWww && !host.as_str().starts_with("www.") {
            v.push(
                "www_redirect",
                "to_www needs a domain that starts with www.",
            );
        }
        if self.www_redirect != WwwRedirect::None && host.as_str().starts_with("*.") {
            v.push("www_redirect", "a wildcard domain has no www form");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, u) in self.basic_auth.iter().enumerate() {
            if !seen.insert(u.username.as_str()) {
                v.push(format!("basic_auth.{i}.username"), "is listed twice");
            }
        }
        v.finish()
    }
}

/// A certificate for a domain; its private key is kept encrypted and is not part of this view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub id: CertificateId,
    pub domain_id: DomainId,
    pub issuer: String,
    pub certificate_pem: String,
    pub expires_at: Timestamp,
    pub source: CertificateSource,
    /// When berth renews it (ACME only).
    pub renew_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Certificate {
    /// A certificate is only accepted while it is still valid.
    pub fn check_not_expired(expires_at: Timestamp, now: Timestamp) -> Result<(), ValidationError> {
        if expires_at <= now {
            Err(ValidationError::field("certificate", "has expired"))
        } else {
            Ok(())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Database {
    pub id: DatabaseId,
    pub project_id: ProjectId,
    pub name: ResourceName,
    pub kind: DatabaseKind,
    pub status: DatabaseStatus,
    pub version: String,
    pub config: serde_json::Value,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    pub id: BackupId,
    pub database_id: DatabaseId,
    pub kind: BackupKind,
    pub status: BackupStatus,
    pub storage_path: Option<String>,
    pub size_bytes: Option<i64>,
    pub created_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

/// One image build, kept apart from the deployments that roll it out (a rollback deploys an
/// old build again; a redeploy of the same commit reuses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    pub id: BuildId,
    pub application_id: ApplicationId,
    pub status: BuildStatus,
    pub commit_sha: Option<CommitSha>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub message: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// An operation on a running application, recorded and run in the background one at a time per
/// application, after the deployment or operation before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub id: OperationId,
    pub application_id: ApplicationId,
    pub kind: OperationKind,
    pub status: OperationStatus,
    /// For `scale`: how many replicas to run.
    pub replicas: Option<Replicas>,
    /// For `delete`: the application's volumes and their data go too.
    pub delete_volumes: bool,
    pub requested_by: Option<UserId>,
    pub message: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub application_id: ApplicationId,
    pub build_id: Option<BuildId>,
    pub triggered_by: Option<UserId>,
    pub service_token_id: Option<ServiceTokenId>,
    pub trigger: DeploymentTrigger,
    pub status: DeploymentStatus,
    pub commit_sha: Option<CommitSha>,
    pub message: Option<String>,
    /// What this deployment rolls out besides its image, frozen when it was queued so that a
    /// rollback deploys exactly the same thing again.
    pub snapshot: DeploymentSnapshot,
    pub rollback_of: Option<DeploymentId>,
    /// Someone asked for it to stop; the process running it sees this and stops it.
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStep {
    pub id: StepId,
    pub deployment_id: DeploymentId,
    pub position: i32,
    pub name: StepName,
    pub state: StepState,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// One line of a deployment's log, ordered by `seq` within the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub deployment_id: DeploymentId,
    pub seq: i64,
    pub step: Option<StepName>,
    pub level: LogLevel,
    pub message: String,
    pub created_at: Timestamp,
}

/// A token that lets one outside party (a CI job, a git host) deploy one application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceToken {
    pub id: ServiceTokenId,
    pub application_id: ApplicationId,
    pub name: Label,
    pub origin: Label,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Credentials berth uses to pull from one registry: a team's (for its projects) or the
/// installation's (for every project, and the admins' way of letting users name a registry
/// by its address). The password is write-only: it is never read back, only handed to the
/// engine for a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    pub id: RegistryId,
    /// `None`: the installation's.
    pub team_id: Option<TeamId>,
    pub host: RegistryHost,
    /// `None`: no credentials, only the admins' listing of the registry (anonymous pulls).
    pub username: Option<RegistryUser>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A job berth runs by itself at the times a cron expression names, in the installation's time
/// zone. The next run is a row (`next_run_at`): a run missed while berth was down runs once when
/// it starts, and a run is claimed by moving `next_run_at` on in the same transaction that
/// records it, so no two processes run it twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub id: ScheduleId,
    pub kind: ScheduleKind,
    pub cron: CronSchedule,
    pub enabled: bool,
    pub next_run_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One run of a schedule: when it was due, when it ran, how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRun {
    pub id: ScheduleRunId,
    pub schedule_id: ScheduleId,
    pub due_at: Timestamp,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: ScheduleRunStatus,
    /// What it did, or why it failed.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: Label,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// One line of the audit log. `details` never holds a secret value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub user_id: Option<UserId>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub details: serde_json::Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_keeps_an_owner() {
        let (a, b) = (UserId::new(), UserId::new());
        let members = [(a, TeamRole::Owner), (b, TeamRole::Member)];
        assert!(check_team_keeps_an_owner(&members, MemberChange::Remove(a)).is_err());
        assert!(
            check_team_keeps_an_owner(&members, MemberChange::SetRole(a, TeamRole::Admin)).is_err()
        );
        assert!(check_team_keeps_an_owner(&members, MemberChange::Remove(b)).is_ok());
        assert!(
            check_team_keeps_an_owner(&members, MemberChange::SetRole(b, TeamRole::Owner)).is_ok()
        );
    }

    #[test]
    fn application_source_parses_and_validates() {
        let src: ApplicationSource = serde_json::from_value(serde_json::json!({
            "type": "git", "provider": "github", "repository": "https://github.com/acme/web.git",
            "branch": "main", "build_args": { "NODE_ENV": "production" }
        }))
        .unwrap();
        let ApplicationSource::Git(g) = &src else {
            panic!("git source expected")
        };
        assert_eq!(g.dockerfile.as_str(), "Dockerfile");
        assert_eq!(src.kind(), ApplicationKind::Git);

        let bad = serde_json::from_value::<ApplicationSource>(serde_json::json!({
            "type": "git", "provider": "github", "repository": "https://x/y",
            "branch": "main; touch /tmp/pwned"
        }));
        assert!(bad.is_err());
        let bad = serde_json::from_value::<ApplicationSource>(serde_json::json!({
            "type": "image", "image": "busybox", "extra": 1
        }));
        assert!(bad.is_err(), "unknown fields are rejected");
    }

    #[test]
    fn runtime_config_validation_names_fields() {
        let rc: RuntimeConfig = serde_json::from_value(serde_json::json!({
            "health_check": { "http_path": "/health" },
            "resources": { "cpus": -1.0 },
            "command": []
        }))
        .unwrap();
        let e = rc.validate().unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["health_check.port", "resources.cpus", "command"]);
        assert!(serde_json::from_value::<RuntimeConfig>(serde_json::json!({
            "ports": [{ "container": 0 }]
        }))
        .is_err());
    }

    #[test]
    fn expired_certificates_are_refused() {
        let now = Utc::now();
        assert!(Certificate::check_not_expired(now, now).is_err());
        assert!(Certificate::check_not_expired(now + chrono::Duration::days(1), now).is_ok());
    }
}

/// What the edge router reports of itself, for the control plane to show: which process, since
/// when, the routing table it serves (its version counts the tables it installed) and the
/// certificates it loaded. Written by the router every few seconds while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeStatus {
    pub pid: u32,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    pub table_version: u64,
    pub routes: usize,
    pub certificates: usize,
    pub certificates_loaded_at: Option<Timestamp>,
    /// Per route (a domain's id) that served a request since the router process started:
    /// requests served and how many of them answered 5xx (a route absent served none).
    #[serde(default)]
    pub traffic: BTreeMap<String, (u64, u64)>,
}

impl EdgeStatus {
    /// The installation setting it is kept in.
    pub const NAME: &'static str = "edge_status";
    /// How often the router reports; a report older than three of these means it is gone.
    pub const EVERY_S: i64 = 2;

    pub fn connected(&self, now: Timestamp) -> bool {
        now - self.updated_at <= chrono::Duration::seconds(3 * Self::EVERY_S)
    }
}

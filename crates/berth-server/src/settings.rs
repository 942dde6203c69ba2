//! One typed `Settings`, layered: built-in defaults, then an optional TOML file, then `BERTH_*`
//! environment variables, then command-line flags. Every setting has a default, so `berth
//! serve` runs with none.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use berth_domain::{DomainName, HostPath, SecretString};

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Where berth keeps its SQLite database, its generated secret key and its work files.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; SQLite in the data directory when unset.
    pub database_url: Option<SecretString>,
    /// The key that encrypts secrets at rest (32 bytes, base64); generated into
    /// `<data_dir>/secret.key` on first start when unset.
    pub secret_key: Option<SecretString>,
    /// A tracing filter: `info`, `debug`, `berth_store=debug,info`, …
    pub log_level: String,
    /// One JSON object per log line instead of text.
    pub log_json: bool,
    /// bcrypt cost of new password hashes (4 to 31).
    pub bcrypt_cost: u32,
    /// How long a login session lasts, in hours.
    pub session_ttl_hours: u32,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Initialise a single-node swarm when the Docker engine is in none.
    pub swarm_init: bool,
    /// Where the edge router runs: inside `berth serve` (`embedded`), or as `berth edge` in a
    /// process of its own that outlives the control plane (`process`: `serve` starts one
    /// unless one is connected already; `external`: a service manager runs it).
    pub edge: EdgeMode,
    /// The address other machines reach this Swarm manager at.
    pub swarm_advertise_addr: String,
    /// The shared attachable overlay network, for a service that names no network of its
    /// own; an application joins its project's network instead.
    pub swarm_network: String,
    /// Directories under which applications may bind-mount host paths; none by default.
    pub swarm_bind_roots: Vec<HostPath>,
    /// The most a repository's checkout may take, in MiB (the fetch and the commit's files).
    pub build_max_checkout_mb: u64,
    /// The most a build context may hold after `.dockerignore`, in MiB.
    pub build_max_context_mb: u64,
    /// Live streams (Server-Sent Events) open at once, in all and per user.
    pub live_streams_max: usize,
    pub live_streams_per_user: usize,
    /// The most lines a deployment's stored log keeps.
    pub deployment_log_max_lines: usize,
    /// The most a deployment's stored log keeps, in MiB.
    pub deployment_log_max_mb: usize,
    /// Memory limit (MiB) of every service and job whose application sets none; 0: none.
    pub default_memory_mb: u32,
    /// Process (pids) limit of every service and job whose application sets none; 0: none.
    pub default_pids: u32,
    /// Directories under which git repositories on this machine may be fetched (`file://` or
    /// a path, by any user); none by default: only network repositories.
    pub git_local_roots: Vec<HostPath>,
    /// The address users and git hosts reach berth at (for the webhook URLs it shows);
    /// `http://<listen>` when unset.
    pub public_url: Option<String>,
    /// Deployments that run at once (one per application at most).
    pub deploy_concurrency: usize,
    /// Days deployment log lines are kept.
    pub log_retention_days: u32,
    /// Days ended deployments are kept (each application's newest successful one always).
    pub deployment_retention_days: u32,
    /// Days audit entries are kept.
    pub audit_retention_days: u32,
    /// The time zone schedules are read in, by its IANA name (`UTC`, `Europe/Berlin`).
    pub time_zone: String,
    /// Where the edge router serves plain HTTP (`off`: not at all).
    pub proxy_http: Option<SocketAddr>,
    /// Where the edge router serves HTTPS (`off`: not at all).
    pub proxy_https: Option<SocketAddr>,
    /// The HTTPS port users reach (for redirects); the `proxy_https` port when unset.
    pub proxy_https_public_port: Option<u16>,
    /// Hosts on which the edge router serves berth's own API and dashboard; none by default.
    pub api_hosts: Vec<DomainName>,
    /// Addresses of proxies in front of berth whose `X-Forwarded-For` names the client (for
    /// the login throttle and the audit log); none by default. berth's own router is trusted
    /// when it serves the API.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The ACME CA's directory URL (`off`: no ACME, domains keep self-signed certificates).
    pub acme_directory: Option<String>,
    /// The contact of berth's ACME account.
    pub acme_email: Option<String>,
    /// A PEM root to trust for the CA's own HTTPS (a private CA); the system's roots otherwise.
    pub acme_ca_root: Option<PathBuf>,
    /// DNS-01 (wildcard domains): the primary DNS server taking RFC 2136 updates, its zone, and
    /// the TSIG key (HMAC-SHA256) that may update it. All four, or none.
    pub acme_dns: Option<AcmeDns>,
}

/// Where DNS-01 answers are written.
#[derive(Debug, Clone)]
pub struct AcmeDns {
    pub server: SocketAddr,
    pub zone: String,
    pub key_name: String,
    pub key_secret: SecretString,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            secret_key: None,
            log_level: "info".into(),
            log_json: false,
            bcrypt_cost: 12,
            session_ttl_hours: 24 * 7,
            body_limit_bytes: 1024 * 1024,
            swarm_init: true,
            edge: EdgeMode::Embedded,
            swarm_advertise_addr: "127.0.0.1".into(),
            swarm_network: "berth".into(),
            swarm_bind_roots: Vec::new(),
            build_max_checkout_mb: 2048,
            build_max_context_mb: 1024,
            live_streams_max: 256,
            live_streams_per_user: 8,
            deployment_log_max_lines: 10_000,
            deployment_log_max_mb: 4,
            default_memory_mb: 1024,
            default_pids: 2048,
            git_local_roots: Vec::new(),
            public_url: None,
            deploy_concurrency: 2,
            log_retention_days: 30,
            audit_retention_days: 365,
            time_zone: "UTC".into(),
            deployment_retention_days: 90,
            proxy_http: Some(SocketAddr::from(([0, 0, 0, 0], 80))),
            proxy_https: Some(SocketAddr::from(([0, 0, 0, 0], 443))),
            proxy_https_public_port: None,
            api_hosts: Vec::new(),
            trusted_proxies: Vec::new(),
            acme_directory: Some(berth_acme::LETS_ENCRYPT.to_owned()),
            acme_email: None,
            acme_ca_root: None,
            acme_dns: None,
        }
    }
}

/// The settings file: every key optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    secret_key: Option<String>,
    log_level: Option<String>,
    log_json: Option<bool>,
    bcrypt_cost: Option<u32>,
    session_ttl_hours: Option<u32>,
    body_limit_bytes: Option<usize>,
    swarm_init: Option<bool>,
    edge: Option<String>,
    swarm_advertise_addr: Option<String>,
    swarm_network: Option<String>,
    swarm_bind_roots: Option<Vec<String>>,
    default_memory_mb: Option<u32>,
    default_pids: Option<u32>,
    build_max_checkout_mb: Option<u64>,
    build_max_context_mb: Option<u64>,
    live_streams_max: Option<usize>,
    live_streams_per_user: Option<usize>,
    deployment_log_max_lines: Option<usize>,
    deployment_log_max_mb: Option<usize>,
    git_local_roots: Option<Vec<String>>,
    public_url: Option<String>,
    deploy_concurrency: Option<usize>,
    log_retention_days: Option<u32>,
    deployment_retention_days: Option<u32>,
    audit_retention_days: Option<u32>,
    time_zone: Option<String>,
    proxy_http: Option<String>,
    proxy_https: Option<String>,
    proxy_https_public_port: Option<u16>,
    api_hosts: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    acme_directory: Option<String>,
    acme_email: Option<String>,
    acme_ca_root: Option<PathBuf>,
    acme_dns_server: Option<SocketAddr>,
    acme_dns_zone: Option<String>,
    acme_dns_key_name: Option<String>,
    acme_dns_key_secret: Option<String>,
}

/// Values given on the command line (each overrides everything else).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Flags {
    /// Settings file (TOML); also `BERTH_CONFIG`.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000]; also `BERTH_LISTEN`.
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    /// Data directory [default: ./data]; also `BERTH_DATA_DIR`.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL [default: SQLite in the data directory]; also `BERTH_DATABASE_URL`.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Log filter [default: info]; also `BERTH_LOG_LEVEL`.
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// Log JSON lines; also `BERTH_LOG_JSON=true`.
    #[arg(long, global = true)]
    pub log_json: bool,
}

fn bind_roots<'a>(paths: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<HostPath>> {
    paths
        .map(|p| {
            HostPath::parse(p.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "{p:?} {}",
                    e.errors
                        .first()
                        .map_or("is not valid", |f| f.message.as_str())
                )
            })
        })
        .collect()
}

/// An address to listen on, or `off`.
fn listener(name: &str, v: &str) -> anyhow::Result<Option<SocketAddr>> {
    if v.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    v.trim()
        .parse()
        .map(Some)
        .with_context(|| format!("{name} must be an address like 0.0.0.0:80, or off, not {v:?}"))
}

fn hosts<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<DomainName>> {
    values
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            DomainName::parse(h).map_err(|e| {
                anyhow::anyhow!(
                    "{name}: {h:?} {}",
                    e.errors
                        .first()
                        .map_or("is not a host name", |f| f.message.as_str())
                )
            })
        })
        .collect()
}

/// The four DNS-01 settings, all given or none.
/// IP addresses, blanks skipped.
fn addresses<'a>(
    name: &str,
    items: impl Iterator<Item = &'a str>,
) -> anyhow::Result<Vec<std::net::IpAddr>> {
    items
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse()
                .with_context(|| format!("{name}: {a:?} is not an IP address"))
        })
        .collect()
}

fn acme_dns(name: &str, parts: [Option<String>; 4]) -> anyhow::Result<Option<AcmeDns>> {
    match parts {
        [None, None, None, None] => Ok(None),
        [Some(server), Some(zone), Some(key_name), Some(secret)] => {
            let server = server.trim().parse().with_context(|| {
                format!(
                    "{name}: the DNS server must be an address like 192.0.2.1:53, not {server:?}"
                )
            })?;
            // Checked once here so a mistake shows at start, not at the first wildcard.
            berth_acme::Rfc2136::new(server, &zone, &key_name, &secret)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            Ok(Some(AcmeDns {
                server,
                zone,
                key_name,
                key_secret: SecretString::new(secret),
            }))
        }
        _ => anyhow::bail!("{name}: give the DNS server, zone, key name and key secret together"),
    }
}

fn parse_bool(name: &str, v: &str) -> anyhow::Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => anyhow::bail!("{name} must be true or false, not {v:?}"),
    }
}

impl Settings {
    /// Builds the settings from every layer. `env` is the process environment (passed in so
    /// tests can give their own).
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut s = Settings::default();

        let file = flags
            .config
            .clone()
            .or_else(|| env("BERTH_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            s.apply_file(&path)?;
        }

        if let Some(v) = env("BERTH_LISTEN") {
            s.listen = v.parse().with_context(|| {
                format!("BERTH_LISTEN must be an address like 127.0.0.1:3000, not {v:?}")
            })?;
        }
        if let Some(v) = env("BERTH_DATA_DIR") {
            s.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("BERTH_DATABASE_URL") {
            s.database_url = Some(SecretString::new(v));
        }
        if let Some(v) = env("BERTH_SECRET_KEY") {
            s.secret_key = Some(SecretString::new(v));
        }
        if let Some(v) = env("BERTH_LOG_LEVEL") {
            s.log_level = v;
        }
        if let Some(v) = env("BERTH_LOG_JSON") {
            s.log_json = parse_bool("BERTH_LOG_JSON", &v)?;
        }
        if let Some(v) = env("BERTH_BCRYPT_COST") {
            s.bcrypt_cost = v
                .parse()
                .with_context(|| format!("BERTH_BCRYPT_COST must be a number, not {v:?}"))?;
        }
        if let Some(v) = env("BERTH_SESSION_TTL_HOURS") {
            s.session_ttl_hours = v
                .parse()
                .with_context(|| format!("BERTH_SESSION_TTL_HOURS must be a number, not {v:?}"))?;
        }
        if let Some(v) = env("BERTH_BODY_LIMIT_BYTES") {
            s.body_limit_bytes = v
                .parse()
                .with_context(|| format!("BERTH_BODY_LIMIT_BYTES must be a number, not {v:?}"))?;
        }
        for (name, slot) in [
            ("BERTH_BUILD_MAX_CHECKOUT_MB", &mut s.build_max_checkout_mb),
            ("BERTH_BUILD_MAX_CONTEXT_MB", &mut s.build_max_context_mb),
        ] {
            if let Some(v) = env(name) {
                *slot = v
                    .parse()
                    .with_context(|| format!("{name} must be a number, not {v:?}"))?;
            }
        }
        for (name, slot) in [
            (
                "BERTH_DEPLOYMENT_LOG_MAX_LINES",
                &mut s.deployment_log_max_lines,
            ),
            ("BERTH_DEPLOYMENT_LOG_MAX_MB", &mut s.deployment_log_max_mb),
            ("BERTH_LIVE_STREAMS_MAX", &mut s.live_streams_max),
            ("BERTH_LIVE_STREAMS_PER_USER", &mut s.live_streams_per_user),
        ] {
            if let Some(v) = env(name) {
                *slot = v
                    .parse()
                    .with_context(|| format!("{name} must be a number, not {v:?}"))?;
            }
        }
        if let Some(v) = env("BERTH_DEFAULT_MEMORY_MB") {
            s.default_memory_mb = v
                .parse()
                .with_context(|| format!("BERTH_DEFAULT_MEMORY_MB must be a number, not {v:?}"))?;
        }
        if let Some(v) = env("BERTH_DEFAULT_PIDS") {
            s.default_pids = v
                .parse()
                .with_context(|| format!("BERTH_DEFAULT_PIDS must be a number, not {v:?}"))?;
        }
        if let Some(v) = env("BERTH_EDGE") {
            s.edge = EdgeMode::parse("BERTH_EDGE", &v)?;
        }
        if let Some(v) = env("BERTH_SWARM_INIT") {
            s.swarm_init = parse_bool("BERTH_SWARM_INIT", &v)?;
        }
        if let Some(v) = env("BERTH_SWARM_ADVERTISE_ADDR") {
            s.swarm_advertise_addr = v;
        }
        if let Some(v) = env("BERTH_SWARM_NETWORK") {
            s.swarm_network = v;
        }
        if let Some(v) = env("BERTH_SWARM_BIND_ROOTS") {
            s.swarm_bind_roots = bind_roots(v.split(',').filter(|p| !p.is_empty()))
                .context("BERTH_SWARM_BIND_ROOTS")?;
        }
        if let Some(v) = env("BERTH_GIT_LOCAL_ROOTS") {
            s.git_local_roots = bind_roots(v.split(',').filter(|p| !p.is_empty()))
                .context("BERTH_GIT_LOCAL_ROOTS")?;
        }
        if let Some(v) = env("BERTH_PUBLIC_URL") {
            s.public_url = Some(v);
        }
        if let Some(v) = env("BERTH_TIME_ZONE") {
            s.time_zone = v;
        }
        for (name, field) in [
            ("BERTH_LOG_RETENTION_DAYS", &mut s.log_retention_days),
            (
                "BERTH_DEPLOYMENT_RETENTION_DAYS",
                &mut s.deployment_retention_days,
            ),
            ("BERTH_AUDIT_RETENTION_DAYS", &mut s.audit_retention_days),
        ] {
            if let Some(v) = env(name) {
                *field = v
                    .parse()
                    .with_context(|| format!("{name} must be a number of days, not {v:?}"))?;
            }
        }
        if let Some(v) = env("BERTH_PROXY_HTTP") {
            s.proxy_http = listener("BERTH_PROXY_HTTP", &v)?;
        }
        if let Some(v) = env("BERTH_PROXY_HTTPS") {
            s.proxy_https = listener("BERTH_PROXY_HTTPS", &v)?;
        }
        if let Some(v) = env("BERTH_PROXY_HTTPS_PUBLIC_PORT") {
            s.proxy_https_public_port = Some(v.parse().with_context(|| {
                format!("BERTH_PROXY_HTTPS_PUBLIC_PORT must be a port number, not {v:?}")
            })?);
        }
        if let Some(v) = env("BERTH_API_HOSTS") {
            s.api_hosts = hosts("BERTH_API_HOSTS", v.split(','))?;
        }
        if let Some(v) = env("BERTH_TRUSTED_PROXIES") {
            s.trusted_proxies = addresses("BERTH_TRUSTED_PROXIES", v.split(','))?;
        }
        if let Some(v) = env("BERTH_ACME_DIRECTORY") {
            s.acme_directory = (!v.trim().eq_ignore_ascii_case("off")).then(|| v.trim().to_owned());
        }
        if let Some(v) = env("BERTH_ACME_EMAIL") {
            s.acme_email = Some(v);
        }
        if let Some(v) = env("BERTH_ACME_CA_ROOT") {
            s.acme_ca_root = Some(PathBuf::from(v));
        }
        let dns = [
            "BERTH_ACME_DNS_SERVER",
            "BERTH_ACME_DNS_ZONE",
            "BERTH_ACME_DNS_KEY_NAME",
            "BERTH_ACME_DNS_KEY_SECRET",
        ]
        .map(env);
        if let Some(d) = acme_dns("BERTH_ACME_DNS_*", dns)? {
            s.acme_dns = Some(d);
        }
        if let Some(v) = env("BERTH_DEPLOY_CONCURRENCY") {
            s.deploy_concurrency = v
                .parse()
                .with_context(|| format!("BERTH_DEPLOY_CONCURRENCY must be a number, not {v:?}"))?;
        }

        if let Some(v) = flags.listen {
            s.listen = v;
        }
        if let Some(v) = &flags.data_dir {
            s.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            s.database_url = Some(SecretString::new(v.clone()));
        }
        if let Some(v) = &flags.log_level {
            s.log_level = v.clone();
        }
        if flags.log_json {
            s.log_json = true;
        }
        if !(4..=31).contains(&s.bcrypt_cost) {
            anyhow::bail!("bcrypt_cost must be from 4 to 31, not {}", s.bcrypt_cost);
        }
        if s.session_ttl_hours == 0 {
            anyhow::bail!("session_ttl_hours must be at least 1");
        }
        if s.log_retention_days == 0
            || s.deployment_retention_days == 0
            || s.audit_retention_days == 0
        {
            anyhow::bail!("retention must be at least 1 day");
        }
        if !(1..=64).contains(&s.deploy_concurrency) {
            anyhow::bail!(
                "deploy_concurrency must be from 1 to 64, not {}",
                s.deploy_concurrency
            );
        }
        if berth_domain::parse_time_zone(&s.time_zone).is_err() {
            anyhow::bail!(
                "time_zone must be a time zone's IANA name, like UTC or Europe/Berlin, not {:?}",
                s.time_zone
            );
        }
        if let Some(u) = &s.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                anyhow::bail!("public_url must start with http:// or https://, not {u:?}");
            }
        }
        if s.body_limit_bytes < 1024 {
            anyhow::bail!("body_limit_bytes must be at least 1024");
        }
        Ok(s)
    }

    fn apply_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the settings file {}", path.display()))?;
        let f: FileSettings = toml::from_str(&text)
            .with_context(|| format!("invalid settings file {}", path.display()))?;
        if let Some(v) = f.listen {
            self.listen = v;
        }
        if let Some(v) = f.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = f.database_url {
            self.database_url = Some(SecretString::new(v));
        }
        if let Some(v) = f.secret_key {
            self.secret_key = Some(SecretString::new(v));
        }
        if let Some(v) = f.log_level {
            self.log_level = v;
        }
        if let Some(v) = f.log_json {
            self.log_json = v;
        }
        if let Some(v) = f.bcrypt_cost {
            self.bcrypt_cost = v;
        }
        if let Some(v) = f.session_ttl_hours {
            self.session_ttl_hours = v;
        }
        if let Some(v) = f.body_limit_bytes {
            self.body_limit_bytes = v;
        }
        if let Some(v) = f.swarm_init {
            self.swarm_init = v;
        }
        if let Some(v) = f.edge {
            self.edge = EdgeMode::parse("edge", &v)?;
        }
        if let Some(v) = f.build_max_checkout_mb {
            self.build_max_checkout_mb = v;
        }
        if let Some(v) = f.build_max_context_mb {
            self.build_max_context_mb = v;
        }
        if let Some(v) = f.live_streams_max {
            self.live_streams_max = v;
        }
        if let Some(v) = f.live_streams_per_user {
            self.live_streams_per_user = v;
        }
        if let Some(v) = f.deployment_log_max_lines {
            self.deployment_log_max_lines = v;
        }
        if let Some(v) = f.deployment_log_max_mb {
            self.deployment_log_max_mb = v;
        }
        if let Some(v) = f.default_memory_mb {
            self.default_memory_mb = v;
        }
        if let Some(v) = f.default_pids {
            self.default_pids = v;
        }
        if let Some(v) = f.swarm_advertise_addr {
            self.swarm_advertise_addr = v;
        }
        if let Some(v) = f.swarm_network {
            self.swarm_network = v;
        }
        if let Some(v) = f.public_url {
            self.public_url = Some(v);
        }
        if let Some(v) = f.deploy_concurrency {
            self.deploy_concurrency = v;
        }
        if let Some(v) = f.log_retention_days {
            self.log_retention_days = v;
        }
        if let Some(v) = f.deployment_retention_days {
            self.deployment_retention_days = v;
        }
        if let Some(v) = f.audit_retention_days {
            self.audit_retention_days = v;
        }
        if let Some(v) = f.time_zone {
            self.time_zone = v;
        }
        if let Some(v) = f.proxy_http {
            self.proxy_http = listener("proxy_http", &v)?;
        }
        if let Some(v) = f.proxy_https {
            self.proxy_https = listener("proxy_https", &v)?;
        }
        if let Some(v) = f.proxy_https_public_port {
            self.proxy_https_public_port = Some(v);
        }
        if let Some(v) = f.trusted_proxies {
            self.trusted_proxies = addresses("trusted_proxies", v.iter().map(String::as_str))?;
        }
        if let Some(v) = f.api_hosts {
            self.api_hosts = hosts("api_hosts", v.iter().map(String::as_str))?;
        }
        if let Some(v) = f.acme_directory {
            self.acme_directory =
                (!v.trim().eq_ignore_ascii_case("off")).then(|| v.trim().to_owned());
        }
        if let Some(v) = f.acme_email {
            self.acme_email = Some(v);
        }
        if let Some(v) = f.acme_ca_root {
            self.acme_ca_root = Some(v);
        }
        let dns = [
            f.acme_dns_server.map(|a| a.to_string()),
            f.acme_dns_zone,
            f.acme_dns_key_name,
            f.acme_dns_key_secret,
        ];
        if let Some(d) = acme_dns("acme_dns_*", dns)? {
            self.acme_dns = Some(d);
        }
        if let Some(v) = f.swarm_bind_roots {
            self.swarm_bind_roots = bind_roots(v.iter().map(String::as_str))
                .with_context(|| format!("swarm_bind_roots in {}", path.display()))?;
        }
        if let Some(v) = f.git_local_roots {
            self.git_local_roots = bind_roots(v.iter().map(String::as_str))
                .with_context(|| format!("git_local_roots in {}", path.display()))?;
        }
        Ok(())
    }

    /// `git_local_roots` as paths.
    pub fn git_local_roots(&self) -> Vec<PathBuf> {
        self.git_local_roots
            .iter()
            .map(|p| PathBuf::from(p.as_str()))
            .collect()
    }

    /// The database URL in force: the configured one, or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("berth.db").display()
            ),
        }
    }
}

/// Where the edge router runs (the `edge` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeMode {
    /// Inside `berth serve`: it stops with the control plane.
    Embedded,
    /// `berth edge`, started by `berth serve` in a process group of its own (unless one is
    /// connected already) and left running when `serve` stops or dies.
    Process,
    /// `berth edge`, run by a service manager (deploy/berth-edge.service); `serve` runs none.
    External,
}

impl EdgeMode {
    fn parse(name: &str, v: &str) -> anyhow::Result<Self> {
        match v {
            "embedded" => Ok(Self::Embedded),
            "process" => Ok(Self::Process),
            "external" => Ok(Self::External),
            other => anyhow::bail!("{name} must be embedded, process or external, not {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_nothing() {
        let s = Settings::load(&Flags::default(), &env_of(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.database_url(), "sqlite://data/berth.db?mode=rwc");
        assert!(!s.log_json);
    }

    #[test]
    fn the_edge_router_can_be_moved_or_turned_off() {
        let s = Settings::load(&Flags::default(), &env_of(&[])).unwrap();
        assert_eq!(s.proxy_http.unwrap().to_string(), "0.0.0.0:80");
        assert_eq!(s.proxy_https.unwrap().to_string(), "0.0.0.0:443");
        let s = Settings::load(
            &Flags::default(),
            &env_of(&[
                ("BERTH_PROXY_HTTP", "off"),
                ("BERTH_PROXY_HTTPS", "127.0.0.1:8443"),
                ("BERTH_API_HOSTS", "Berth.Example.com, admin.example.com"),
            ]),
        )
        .unwrap();
        assert_eq!(s.proxy_http, None);
        assert_eq!(s.proxy_https.unwrap().port(), 8443);
        let hosts: Vec<&str> = s.api_hosts.iter().map(|h| h.as_str()).collect();
        assert_eq!(hosts, ["berth.example.com", "admin.example.com"]);
        assert_eq!(s.edge, EdgeMode::Embedded);
        let s = Settings::load(&Flags::default(), &env_of(&[("BERTH_EDGE", "process")])).unwrap();
        assert_eq!(s.edge, EdgeMode::Process);
        for (k, v) in [
            ("BERTH_PROXY_HTTP", "port 80"),
            ("BERTH_API_HOSTS", "10.0.0.1"),
            ("BERTH_EDGE", "sidecar"),
        ] {
            let e = Settings::load(&Flags::default(), &env_of(&[(k, v)])).unwrap_err();
            assert!(format!("{e:#}").contains(k), "{e:#}");
        }
    }

    #[test]
    fn layers_override_in_order_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:4000\"\nlog_level = \"debug\"\ndata_dir = \"/var/lib/berth\"\nlog_json = true\n").unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            ..Default::default()
        };

        let s = Settings::load(&flags, &env_of(&[])).unwrap();
        assert_eq!(
            (s.listen.port(), s.log_level.as_str(), s.log_json),
            (4000, "debug", true)
        );

        let env = env_of(&[
            ("BERTH_LISTEN", "127.0.0.1:5000"),
            ("BERTH_LOG_JSON", "false"),
        ]);
        let s = Settings::load(&flags, &env).unwrap();
        assert_eq!(
            (s.listen.port(), s.log_level.as_str(), s.log_json),
            (5000, "debug", false)
        );
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/berth"));

        let flags = Flags {
            listen: Some("127.0.0.1:6000".parse().unwrap()),
            log_level: Some("warn".into()),
            ..flags
        };
        let s = Settings::load(&flags, &env).unwrap();
        assert_eq!((s.listen.port(), s.log_level.as_str()), (6000, "warn"));
    }

    #[test]
    fn swarm_settings_layer_and_bind_roots_are_checked() {
        let s = Settings::load(
            &Flags::default(),
            &env_of(&[
                ("BERTH_SWARM_INIT", "false"),
                ("BERTH_SWARM_BIND_ROOTS", "/srv/data,/mnt/shared"),
            ]),
        )
        .unwrap();
        assert!(!s.swarm_init);
        assert_eq!(s.swarm_bind_roots.len(), 2);
        assert_eq!(s.swarm_network, "berth");
        let e = Settings::load(
            &Flags::default(),
            &env_of(&[("BERTH_SWARM_BIND_ROOTS", "relative/dir")]),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("BERTH_SWARM_BIND_ROOTS"), "{e:#}");
    }

    #[test]
    fn bad_values_are_named() {
        let e =
            Settings::load(&Flags::default(), &env_of(&[("BERTH_LISTEN", "nope")])).unwrap_err();
        assert!(e.to_string().contains("BERTH_LISTEN"), "{e}");
        let e =
            Settings::load(&Flags::default(), &env_of(&[("BERTH_LOG_JSON", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("BERTH_LOG_JSON"), "{e}");
        let e = Settings::load(
            &Flags::default(),
            &env_of(&[("BERTH_TIME_ZONE", "Mars/Olympus")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("time_zone"), "{e}");
        let s = Settings::load(
            &Flags::default(),
            &env_of(&[("BERTH_TIME_ZONE", "Europe/Berlin")]),
        )
        .unwrap();
        assert_eq!(s.time_zone, "Europe/Berlin");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Settings::load(
            &Flags {
                config: Some(file),
                ..Default::default()
            },
            &env_of(&[]),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("unknown field"), "{e:#}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::load(
            &Flags::default(),
            &env_of(&[
                ("BERTH_DATABASE_URL", "postgres://u:pw@h/d"),
                ("BERTH_SECRET_KEY", "k"),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("pw@") && !shown.contains("\"k\""),
            "{shown}"
        );
    }
}

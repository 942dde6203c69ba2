//! The `berth` binary's library half: settings, wiring and the commands. `main.rs` only parses
//! the command line and calls in here.
//!
//! Architecture invariant: the only crate that reads configuration, the environment and the
//! command line, and the only one that picks concrete adapters for the other crates.

pub mod settings;

use std::time::Instant;

use anyhow::Context;
use berth_store::{redact_url, MasterKey, Store};
pub use settings::{EdgeMode, Flags, Settings};

/// Sets up logging as the settings ask: text or JSON lines, filtered by `log_level`.
pub fn init_tracing(settings: &Settings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .with_context(|| format!("invalid log level {:?}", settings.log_level))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = if settings.log_json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Opens the database (creating the data directory and the secret key as needed).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    create_private_dir(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let key = match &settings.secret_key {
        Some(k) => MasterKey::from_base64(k.expose()).context("BERTH_SECRET_KEY")?,
        None => {
            let path = settings.data_dir.join("secret.key");
            MasterKey::load_or_create(&path)?
        }
    };
    let url = settings.database_url();
    let store = Store::connect(&url, &key)
        .await?
        .with_reserved_hosts(settings.api_hosts.iter().map(|h| h.to_string()));
    tracing::info!(database = %redact_url(&url), "connected to the database");
    Ok(store)
}

/// Creates a directory (and its parents) that only berth's user can enter, as the data
/// directory holds the database and the secret key.
fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// The API's shared state as the settings configure it.
pub fn app_state(settings: &Settings, store: Store) -> berth_api::AppState {
    let mut state = berth_api::AppState::new(store);
    state.auth.bcrypt_cost = settings.bcrypt_cost;
    state.auth.session_ttl = chrono::Duration::hours(i64::from(settings.session_ttl_hours));
    state.body_limit = settings.body_limit_bytes;
    state.git_local_roots = settings.git_local_roots();
    state.acme = berth_api::dto::AcmeView {
        enabled: settings.acme_directory.is_some(),
        directory: settings.acme_directory.clone(),
        email: settings.acme_email.clone(),
        custom_ca_root: settings.acme_ca_root.is_some(),
        dns_01_from_server_settings: settings.acme_dns.is_some(),
    };
    state.auth.trusted_proxies = settings.trusted_proxies.clone();
    state.streams = berth_api::streams::StreamLimits::new(
        settings.live_streams_max,
        settings.live_streams_per_user,
    );
    if !settings.api_hosts.is_empty() {
        // berth's own router reaches the API over loopback and names the client.
        state.auth.trusted_proxies.extend([
            std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ]);
    }
    state.reserved_ports = [
        Some(settings.listen),
        settings.proxy_http,
        settings.proxy_https,
    ]
    .into_iter()
    .flatten()
    .map(|a| a.port())
    .collect();
    state.public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.listen));
    state
}

/// `berth user create`: creates an account from the command line, for a first admin or to
/// recover access. The password is read from `BERTH_USER_PASSWORD` or the first line of
/// standard input, never from an argument (which other users of the host could see).
pub async fn create_user(
    settings: &Settings,
    username: &str,
    email: &str,
    admin: bool,
) -> anyhow::Result<()> {
    use berth_domain::PlatformRole;
    let password = match std::env::var("BERTH_USER_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let role = if admin {
        PlatformRole::SuperAdmin
    } else {
        PlatformRole::Developer
    };
    let account = berth_api::dto::parse_account(username, email, &password, Some(role.as_str()))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = open_store(settings).await?;
    store.migrate().await.context("applying migrations")?;
    let hash =
        berth_api::auth::hash_password(account.password.expose().to_owned(), settings.bcrypt_cost)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let scope = store.scope(berth_store::Actor::System).await?;
    let user = scope
        .create_user(berth_store::NewUser {
            username: account.username,
            email: account.email,
            password_hash: hash,
            role,
        })
        .await?;
    scope
        .append_audit(berth_store::NewAuditEntry {
            user_id: None,
            action: "user.create".into(),
            resource_type: "user".into(),
            resource_id: Some(user.id.to_string()),
            details: serde_json_details(&user),
            ip_address: None,
            user_agent: Some("berth user create".into()),
        })
        .await?;
    scope.commit().await?;
    tracing::info!(user = %user.username, role = %user.role, "user created");
    store.close().await?;
    Ok(())
}

fn serde_json_details(user: &berth_domain::User) -> serde_json::Value {
    serde_json::json!({ "username": user.username, "role": user.role, "via": "command line" })
}

/// `berth openapi`: the OpenAPI document of the REST API.
#[allow(clippy::print_stdout)]
pub fn print_openapi() {
    println!("{}", berth_api::openapi::document());
}

/// `berth migrate`: applies pending migrations and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate().await.context("applying migrations")?;
    tracing::info!("the database schema is up to date");
    store.close().await?;
    Ok(())
}

/// `berth serve`: migrates, then serves HTTP until SIGTERM or SIGINT, finishing the requests in
/// flight before it exits.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = open_store(&settings).await?;
    store.migrate().await.context("applying migrations")?;
    let mut state = app_state(&settings, store.clone());
    let pipeline = berth_deploy::Pipeline::new(
        store.clone(),
        state.bus.clone(),
        berth_deploy::PipelineSettings {
            concurrency: settings.deploy_concurrency,
            work_dir: settings.data_dir.join("work"),
            git_local_roots: settings.git_local_roots(),
            max_checkout_bytes: settings.build_max_checkout_mb << 20,
            max_context_bytes: settings.build_max_context_mb << 20,
            log_limits: berth_deploy::LogLimits {
                max_lines: settings.deployment_log_max_lines.max(10),
                max_bytes: settings.deployment_log_max_mb.max(1) << 20,
            },
            log_retention: std::time::Duration::from_secs(
                u64::from(settings.log_retention_days) * 24 * 3600,
            ),
            deployment_retention: std::time::Duration::from_secs(
                u64::from(settings.deployment_retention_days) * 24 * 3600,
            ),
            audit_retention: std::time::Duration::from_secs(
                u64::from(settings.audit_retention_days) * 24 * 3600,
            ),
            time_zone: berth_domain::parse_time_zone(&settings.time_zone)
                .unwrap_or(berth_domain::TimeZone::UTC),
            ..Default::default()
        },
    );
    state.pipeline = pipeline.clone();
    // Before anything is served: nothing a stopped server left in progress stays so.
    match pipeline
        .recover()
        .await
        .context("recovering interrupted deployments")?
    {
        0 => {}
        n => tracing::warn!(
            interrupted = n,
            "deployments the last run left in progress ended as failed"
        ),
    }
    let shutdown = berth_events::CancelToken::new();
    let bus = state.bus.clone();
    let swarm = berth_edge::SwarmCell::default();
    let mut edge_settings = edge_settings(&settings);
    // The router runs here only when it is embedded; otherwise `berth edge` runs it.
    let router = match settings.edge {
        EdgeMode::Embedded => berth_edge::Edge::router(&edge_settings)?,
        EdgeMode::Process | EdgeMode::External => None,
    };
    state.router = router.clone();
    let server = actix_web::HttpServer::new(move || berth_api::build_app(state.clone()))
        .workers(2)
        .shutdown_timeout(30)
        .bind(settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addrs = server.addrs();
    edge_settings.api = addrs.first().copied();
    if let Some(router) = router {
        start_router(
            &settings,
            &edge_settings,
            RouterParts {
                router,
                store: store.clone(),
                bus: bus.clone(),
                swarm: swarm.clone(),
                status: berth_edge::StatusCell::new(),
                certs_poll: None,
                shutdown: shutdown.clone(),
            },
            Vec::new(),
        )
        .await
        .context("starting the edge router")?;
    }
    if settings.edge == EdgeMode::Process {
        ensure_edge_process(&settings, &store, addrs.first().copied())
            .await
            .context("starting the edge router's process")?;
    }
    let server = server.run();
    tokio::spawn(prepare_engines(
        settings.clone(),
        pipeline,
        swarm,
        shutdown.clone(),
    ));
    for addr in addrs {
        tracing::info!(%addr, startup_ms = started.elapsed().as_millis() as u64, "berth is listening");
        // A line on stdout that scripts and tests wait for.
        println_listening(addr);
    }
    server.await.context("the HTTP server failed")?;
    shutdown.cancel();
    tracing::info!("stopped; closing the database");
    store.close().await?;
    Ok(())
}

/// Connects to the Docker engine, makes it a Swarm manager with berth's network, and starts the
/// deployment pipeline, saying at start exactly what works and what does not. berth serves its
/// API either way; without the engine, queued deployments fail with the reason.
async fn prepare_engines(
    settings: Settings,
    pipeline: berth_deploy::Pipeline,
    router_swarm: berth_edge::SwarmCell,
    shutdown: berth_events::CancelToken,
) {
    let swarm_settings = swarm_settings(&settings);
    let setup = async {
        let swarm = berth_swarm::Swarm::connect(swarm_settings)
            .await
            .map_err(|e| e.to_string())?;
        let info = swarm.setup().await.map_err(|e| e.to_string())?;
        let build = berth_build::Engine::connect()
            .await
            .map_err(|e| e.to_string())?;
        let _ = router_swarm.set(swarm.clone());
        Ok::<_, String>((berth_deploy::Engines::docker(build, swarm), info))
    };
    let engines = match setup.await {
        Ok((engines, info)) => {
            tracing::info!(
                node = %info.node_id,
                manager = %info.manager_addr,
                nodes = info.nodes.len(),
                initialised = info.initialised,
                network = %settings.swarm_network,
                "swarm manager ready"
            );
            if let berth_swarm::RoutingMesh::Unavailable(why) = info.routing_mesh {
                tracing::warn!(
                    "{why}; applications can publish ports in host mode only; the edge router reaches replicas at their own addresses and needs neither"
                );
            }
            Ok(engines)
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "Swarm cannot be used, so applications cannot be deployed until this is fixed"
            );
            Err(e)
        }
    };
    pipeline.start(engines, shutdown);
    tracing::info!("deployment pipeline started");
}

/// `berth edge`: the edge router alone (listeners, TLS, the routing table and certificates kept
/// current from the store and Swarm, ACME challenge answers), until SIGTERM or SIGINT; then it
/// stops accepting and lets the requests in flight finish. It keeps serving the last table it
/// built while the store or Swarm cannot be reached, and reports itself to the store
/// (`EdgeStatus`) every two seconds.
pub async fn edge(settings: Settings) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    let mut es = edge_settings(&settings);
    let router = berth_edge::Edge::router(&es)?
        .context("the edge router is off: set proxy_http or proxy_https")?;
    let shutdown = berth_events::CancelToken::new();
    let swarm = berth_edge::SwarmCell::default();
    // Swarm first (for a few seconds at most), so the first table already has the replicas;
    // then on in the background if it was not reached.
    let first = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        connect_router_swarm(settings.clone(), swarm.clone(), shutdown.clone()),
    )
    .await;
    if first.is_err() {
        tokio::spawn(connect_router_swarm(
            settings.clone(),
            swarm.clone(),
            shutdown.clone(),
        ));
    }
    // The control plane's address for `api_hosts`: the one the `serve` that started this
    // process bound, else the configured one.
    es.api = Some(
        std::env::var(EDGE_API_ENV)
            .ok()
            .and_then(|a| a.parse().ok())
            .unwrap_or(settings.listen),
    );
    // A router that runs already hands over its sockets; else they are bound here.
    let handover_path = settings.data_dir.join("edge.sock");
    let taken = berth_edge::handover::take(&handover_path)
        .context("asking the running router for its sockets")?;
    let inherited = taken
        .as_ref()
        .map(|t| {
            t.listeners
                .iter()
                .filter_map(|(s, l)| Some((*s, l.try_clone().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    let listeners = start_router(
        &settings,
        &es,
        RouterParts {
            router,
            store: store.clone(),
            // Nothing in this process announces changes: the loops follow the store's edge
            // epoch instead.
            bus: berth_events::EventBus::new(16),
            swarm,
            status: berth_edge::StatusCell::new(),
            // Certificates another process stores are looked for every two seconds.
            certs_poll: Some(std::time::Duration::from_secs(2)),
            shutdown: shutdown.clone(),
        },
        inherited,
    )
    .await?;
    // A service manager learns which process is the router now before the one before goes.
    notify_service_manager(&format!("READY=1\nMAINPID={}\n", std::process::id()));
    if let Some(taken) = taken {
        taken.serving().context("confirming the handover")?;
        tracing::info!("serving the listening sockets of the router before; it finishes its requests and stops");
    }
    let handed = berth_events::CancelToken::new();
    berth_edge::handover::offer(
        handover_path,
        listeners.sockets()?,
        handed.clone(),
        shutdown.clone(),
    )
    .context("offering the sockets to the next router")?;
    let pid_file = settings.data_dir.join("edge.pid");
    if let Err(e) = std::fs::write(&pid_file, format!("{}\n", std::process::id())) {
        tracing::warn!(path = %pid_file.display(), error = %e, "the router's pid file was not written");
    }
    tracing::info!(pid = std::process::id(), "the edge router runs on its own");
    // SIGHUP: start the binary at the path this one was started from (an upgrade replaced
    // it) with the same arguments; it takes the sockets over, and this one then stops.
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("listening for SIGHUP")?;
    let replaced = loop {
        tokio::select! {
            () = stop_signal() => break false,
            () = handed.cancelled() => break true,
            _ = hangup.recv() => match start_successor() {
                Ok(pid) => tracing::info!(successor = pid, "SIGHUP: a new router starts and takes over"),
                Err(e) => tracing::error!(error = %e, "SIGHUP: no new router could be started; this one keeps serving"),
            },
        }
    };
    if !replaced {
        // The socket is the newest router's once one took over; else it goes with this one.
        let _ = std::fs::remove_file(settings.data_dir.join("edge.sock"));
    }
    // The pid file is the newest router's: a replaced one leaves it.
    if std::fs::read_to_string(&pid_file)
        .ok()
        .map(|p| p.trim().to_owned())
        == Some(std::process::id().to_string())
    {
        let _ = std::fs::remove_file(&pid_file);
    }
    tracing::info!("stopping: no new connections; the requests in flight finish");
    shutdown.cancel();
    listeners.stopped().await;
    store.close().await?;
    Ok(())
}

/// What the router's loops share, embedded in `serve` or in `berth edge`.
struct RouterParts {
    router: berth_proxy::Proxy,
    store: Store,
    bus: berth_events::EventBus,
    swarm: berth_edge::SwarmCell,
    status: berth_edge::StatusCell,
    /// How often certificates are looked for without an event announcing them.
    certs_poll: Option<std::time::Duration>,
    shutdown: berth_events::CancelToken,
}

/// Starts the router: certificates first, then the listeners (`inherited` from a router that
/// hands its sockets over, else bound) and the routing table, so HTTPS is served with the
/// real certificates from the first handshake; then its report to the store.
async fn start_router(
    settings: &Settings,
    edge: &berth_edge::EdgeSettings,
    p: RouterParts,
    inherited: Vec<(berth_edge::handover::Scheme, std::net::TcpListener)>,
) -> anyhow::Result<berth_edge::Listeners> {
    let mut certs = cert_settings(settings)?;
    certs.poll = p.certs_poll;
    berth_edge::Certs::start(
        certs,
        p.store.clone(),
        p.bus.clone(),
        p.router.clone(),
        p.status.clone(),
        p.shutdown.clone(),
    )
    .await;
    let listeners = berth_edge::Edge::start(
        edge,
        p.router.clone(),
        p.store.clone(),
        &p.bus,
        p.swarm,
        p.status.clone(),
        inherited,
        p.shutdown.clone(),
    )
    .await?;
    tokio::spawn(berth_edge::status::report(
        p.store, p.status, p.router, p.shutdown,
    ));
    Ok(listeners)
}

/// Spawns `cmd` and a thread that reaps it when it ends (so it leaves no zombie while this
/// process lives); returns its pid.
fn spawn_reaped(cmd: &mut std::process::Command) -> std::io::Result<u32> {
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// Starts this program again from the path it was started as, with the same arguments and
/// environment, its output where this one's goes; returns its pid.
fn start_successor() -> anyhow::Result<u32> {
    let mut args = std::env::args_os();
    let program = args.next().context("no program name")?;
    spawn_reaped(
        std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null()),
    )
    .context("cannot start the new router")
}

/// Tells the service manager (systemd's `NOTIFY_SOCKET`, when it set one) how the service is:
/// `READY=1`, `MAINPID=<pid>`. Nothing happens without one.
fn notify_service_manager(state: &str) {
    use std::os::linux::net::SocketAddrExt as _;
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|socket| {
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
        match bytes.strip_prefix(b"@") {
            Some(name) => {
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                socket.send_to_addr(state.as_bytes(), &addr)
            }
            None => socket.send_to(state.as_bytes(), &path),
        }
    });
    if let Err(e) = sent {
        tracing::warn!(error = %e, "the service manager was not told the router's state");
    }
}

/// The variable through which `serve` tells the `edge` it starts where the API listens.
const EDGE_API_ENV: &str = "BERTH_EDGE_API_ADDR";

/// SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers there is nothing to wait for but the end of time.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Connects the router to Swarm (to find replicas), retrying until it can.
async fn connect_router_swarm(
    settings: Settings,
    cell: berth_edge::SwarmCell,
    shutdown: berth_events::CancelToken,
) {
    loop {
        match berth_swarm::Swarm::connect(swarm_settings(&settings)).await {
            Ok(swarm) => {
                let _ = cell.set(swarm);
                return;
            }
            Err(e) => tracing::warn!(error = %e, "Swarm cannot be reached yet; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Starts `berth edge` in a process group of its own, unless a router reported itself
/// within the last seconds and its process lives. The child is not stopped with this process:
/// it keeps serving while the control plane restarts. Its output goes to `<data>/edge.log`.
async fn ensure_edge_process(
    settings: &Settings,
    store: &Store,
    api: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    if settings.proxy_http.is_none() && settings.proxy_https.is_none() {
        tracing::info!("the edge router is off (proxy_http and proxy_https are off)");
        return Ok(());
    }
    if let Some(s) = berth_edge::status::read(store).await? {
        let alive = std::path::Path::new(&format!("/proc/{}", s.pid)).exists();
        if alive && s.connected(chrono::Utc::now()) {
            tracing::info!(
                pid = s.pid,
                "an edge router is connected already; it keeps serving"
            );
            return Ok(());
        }
    }
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some(at) = args.iter().position(|a| a == "serve") else {
        anyhow::bail!("the command line names no serve to turn into edge");
    };
    args[at] = "edge".into();
    let log_path = settings.data_dir.join("edge.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own group: a Ctrl-C or a signal to this one's group does not reach it.
        .process_group(0);
    if let Some(api) = api {
        cmd.env(EDGE_API_ENV, api.to_string());
    }
    let pid = spawn_reaped(&mut cmd).context("cannot start berth edge")?;
    tracing::info!(pid, log = %log_path.display(), "the edge router started in a process of its own");
    Ok(())
}

fn swarm_settings(settings: &Settings) -> berth_swarm::SwarmSettings {
    berth_swarm::SwarmSettings {
        init: settings.swarm_init,
        advertise_addr: settings.swarm_advertise_addr.clone(),
        listen_addr: "0.0.0.0:2377".into(),
        network: settings.swarm_network.clone(),
        default_memory_mb: (settings.default_memory_mb > 0).then_some(settings.default_memory_mb),
        default_pids: (settings.default_pids > 0).then_some(settings.default_pids),
        bind_roots: settings.swarm_bind_roots.clone(),
    }
}

/// The router's part of the settings.
fn edge_settings(settings: &Settings) -> berth_edge::EdgeSettings {
    berth_edge::EdgeSettings {
        proxy_http: settings.proxy_http,
        proxy_https: settings.proxy_https,
        https_public_port: settings.proxy_https_public_port,
        api_hosts: api_hosts(settings),
        api: None,
    }
}

/// The certificates' part of the settings.
fn cert_settings(settings: &Settings) -> anyhow::Result<berth_edge::CertSettings> {
    let dns = match &settings.acme_dns {
        Some(d) => Some(
            berth_acme::Rfc2136::new(d.server, &d.zone, &d.key_name, d.key_secret.expose())
                .context("acme_dns_*")?,
        ),
        None => None,
    };
    Ok(berth_edge::CertSettings {
        acme: settings
            .acme_directory
            .as_ref()
            .map(|url| berth_acme::AcmeSettings {
                directory_url: url.clone(),
                contact_email: settings.acme_email.clone(),
                ca_root: settings.acme_ca_root.clone(),
            }),
        dns,
        api_hosts: api_hosts(settings),
        poll: None,
    })
}

fn api_hosts(settings: &Settings) -> Vec<String> {
    settings
        .api_hosts
        .iter()
        .map(|h| h.as_str().to_owned())
        .collect()
}

#[allow(clippy::print_stdout)]
fn println_listening(addr: std::net::SocketAddr) {
    println!("listening on http://{addr}");
}

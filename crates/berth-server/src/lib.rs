//! The `berth` binary's library half: settings, wiring and the commands. `main.rs` only parses
//! the command line and calls in here.
//!
//! Architecture invariant: the only crate that reads configuration, the environment and the
//! command line, and the only one that picks concrete adapters for the other crates.

pub mod settings;

use std::time::Instant;

use anyhow::Context;
use berth_store::{redact_url, MasterKey, Store};
pub use settings::{Flags, Settings};

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
    let edge_settings = edge_settings(&settings);
    let router = berth_edge::Edge::router(&edge_settings)?;
    state.router = router.clone();
    let server = actix_web::HttpServer::new(move || berth_api::build_app(state.clone()))
        .workers(2)
        .shutdown_timeout(30)
        .bind(settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addrs = server.addrs();
    if let Some(router) = router {
        berth_edge::Edge::start(
            &edge_settings,
            router.clone(),
            store.clone(),
            &bus,
            swarm.clone(),
            addrs.first().copied(),
            shutdown.clone(),
        )
        .await
        .context("starting the edge router")?;
        berth_edge::Certs::start(
            cert_settings(&settings)?,
            store.clone(),
            bus.clone(),
            router,
            shutdown.clone(),
        );
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
    let swarm_settings = berth_swarm::SwarmSettings {
        init: settings.swarm_init,
        advertise_addr: settings.swarm_advertise_addr.clone(),
        listen_addr: "0.0.0.0:2377".into(),
        network: settings.swarm_network.clone(),
        default_memory_mb: (settings.default_memory_mb > 0).then_some(settings.default_memory_mb),
        default_pids: (settings.default_pids > 0).then_some(settings.default_pids),
        bind_roots: settings.swarm_bind_roots.clone(),
    };
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

/// The router's part of the settings.
fn edge_settings(settings: &Settings) -> berth_edge::EdgeSettings {
    berth_edge::EdgeSettings {
        proxy_http: settings.proxy_http,
        proxy_https: settings.proxy_https,
        https_public_port: settings.proxy_https_public_port,
        api_hosts: api_hosts(settings),
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

//! The router's listeners, and its routing table made from the store's domains and
//! applications and the replicas the orchestrator runs: the replicas listed every second (one
//! listing for every service, so replicas a rolling update adds or retires are followed), the
//! store read again only when its edge epoch moved or an event announced a change; a table
//! is made only when one of them changed, and swapped in only when it differs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use berth_domain::{Application, ApplicationId, ApplicationStatus, Domain, DomainTarget};
use berth_events::{CancelToken, Event, EventBus};
use berth_proxy::{BasicAuthUser, Proxy, ProxySettings, Route, Target, Upstreams, WwwRedirect};
use berth_store::{Actor, Store};

use std::os::fd::AsFd;

use crate::handover::Scheme;
use crate::status::StatusCell;

/// What the router listens on and which hosts are berth's own.
#[derive(Debug, Clone, Default)]
pub struct EdgeSettings {
    pub proxy_http: Option<SocketAddr>,
    pub proxy_https: Option<SocketAddr>,
    /// The HTTPS port clients use (for redirects), when it is not the listener's.
    pub https_public_port: Option<u16>,
    /// Hosts that reach berth's own API through the router.
    pub api_hosts: Vec<String>,
    /// Where berth's API listens, for those hosts.
    pub api: Option<SocketAddr>,
}

/// Where the router finds the orchestrator once berth-server connected it.
pub type SwarmCell = std::sync::Arc<tokio::sync::OnceCell<berth_swarm::Swarm>>;

/// How often the replicas are listed and the edge epoch read, without an event.
const REFRESH: Duration = Duration::from_secs(1);

/// How often the domains are read again even when the edge epoch stood still.
const REREAD: Duration = Duration::from_secs(30);

/// The listeners' tasks (each ends once shutdown came and its open requests finished) and
/// their sockets.
#[derive(Debug)]
pub struct Listeners {
    serving: Vec<tokio::task::JoinHandle<()>>,
    sockets: Vec<(Scheme, std::os::fd::OwnedFd)>,
}

impl Listeners {
    /// Copies of the listening sockets, for [`crate::handover::offer`].
    pub fn sockets(&self) -> std::io::Result<Vec<(Scheme, std::os::fd::OwnedFd)>> {
        self.sockets
            .iter()
            .map(|(s, fd)| Ok((*s, fd.try_clone()?)))
            .collect()
    }

    /// Waits until every listener stopped and drained.
    pub async fn stopped(self) {
        for l in self.serving {
            let _ = l.await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Edge {
    proxy: Proxy,
    store: Store,
    /// The orchestrator, once the engines are prepared (until then no replica is known).
    swarm: SwarmCell,
    /// Where berth's own API listens, for the hosts configured to reach it.
    api: Option<SocketAddr>,
    api_hosts: Vec<String>,
    https: bool,
    status: StatusCell,
}

impl Edge {
    /// The router the settings ask for (`None` when both listeners are off).
    pub fn router(settings: &EdgeSettings) -> anyhow::Result<Option<Proxy>> {
        if settings.proxy_http.is_none() && settings.proxy_https.is_none() {
            tracing::info!("the edge router is off (proxy_http and proxy_https are off)");
            return Ok(None);
        }
        let https_port = settings
            .https_public_port
            .or(settings.proxy_https.map(|a| a.port()))
            .unwrap_or(443);
        Ok(Some(Proxy::new(ProxySettings {
            https_port,
            ..ProxySettings::default()
        })?))
    }

    /// Binds the router's listeners (a listener that cannot be bound is reported and left
    /// out; berth's API keeps serving), or serves the ones `inherited` from the router before
    /// (see [`crate::handover`]), then serves them and keeps the table current until
    /// `shutdown`.
    #[allow(clippy::too_many_arguments)] // each is one of the router's inputs
    pub async fn start(
        settings: &EdgeSettings,
        proxy: Proxy,
        store: Store,
        bus: &EventBus,
        swarm: SwarmCell,
        status: StatusCell,
        mut inherited: Vec<(Scheme, std::net::TcpListener)>,
        shutdown: CancelToken,
    ) -> anyhow::Result<Listeners> {
        let mut https = false;
        let mut serving = Vec::new();
        let mut sockets = Vec::new();
        let mut bound_listeners = Vec::new();
        for (addr, secure) in [(settings.proxy_http, false), (settings.proxy_https, true)] {
            let Some(addr) = addr else { continue };
            let scheme = if secure { Scheme::Https } else { Scheme::Http };
            let taken = inherited
                .iter()
                .position(|(s, _)| *s == scheme)
                .map(|i| inherited.swap_remove(i).1);
            let bound = match taken {
                Some(l) => l
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::TcpListener::from_std(l)),
                None => tokio::net::TcpListener::bind(addr).await,
            };
            let listener = match bound {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(
                        %addr,
                        error = %e,
                        "the edge router cannot listen here; set {} to a free address, or off",
                        if secure { "proxy_https" } else { "proxy_http" }
                    );
                    continue;
                }
            };
            let bound = listener.local_addr()?;
            tracing::info!(addr = %bound, scheme = if secure { "https" } else { "http" }, "edge router listening");
            // A copy of the socket, to hand to the router that replaces this one.
            sockets.push((scheme, listener.as_fd().try_clone_to_owned()?));
            https |= secure;
            bound_listeners.push((listener, secure));
        }
        let edge = Edge {
            proxy: proxy.clone(),
            store,
            swarm,
            api: settings.api.map(|a| match a.ip().is_unspecified() {
                true => SocketAddr::from(([127, 0, 0, 1], a.port())),
                false => a,
            }),
            api_hosts: settings.api_hosts.clone(),
            https,
            status,
        };
        // The first table before the first request: a router that takes over from another
        // serves what that one served from its first connection on.
        let subscription = bus.subscribe();
        let mut view = None;
        let mut watch = crate::StoreWatch::new(REREAD);
        // Always due: it records the epoch the first table is read at.
        watch.due(&edge.store, None).await;
        let installed = match edge.rebuild(&mut view, true).await {
            Ok(Some(routes)) => {
                edge.proxy.install(routes.clone());
                edge.status.table(routes.len());
                Some(routes)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the first routing table was not built");
                None
            }
        };
        for (listener, secure) in bound_listeners {
            let (p, stop) = (proxy.clone(), shutdown.clone());
            if secure {
                serving.push(tokio::spawn(async move {
                    if let Err(e) = p.serve_https(listener, stop).await {
                        tracing::error!(error = %e, "the HTTPS listener failed");
                    }
                }));
            } else {
                serving.push(tokio::spawn(
                    async move { p.serve_http(listener, stop).await },
                ));
            }
        }
        tokio::spawn(edge.keep_current(watch, view, installed, subscription, shutdown));
        Ok(Listeners { serving, sockets })
    }

    /// Keeps the table current: every second the replicas the engine runs (one listing for
    /// all services), and the domains and applications when `watch` says (the store's edge
    /// epoch moved, an event announced a change, or [`REREAD`] passed), so an idle router's
    /// cost does not grow with the number of domains.
    async fn keep_current(
        self,
        mut watch: crate::StoreWatch,
        mut view: Option<StoreView>,
        mut installed: Option<Vec<Route>>,
        mut events: berth_events::Subscription,
        shutdown: CancelToken,
    ) {
        // The table was made at start: the first round reads the store only if it changed.
        let mut round = Some(crate::Round::Timer);
        loop {
            let reread = watch.due(&self.store, round).await;
            match self.rebuild(&mut view, reread).await {
                Ok(Some(routes)) if installed.as_ref() != Some(&routes) => {
                    tracing::debug!(routes = routes.len(), "routing table replaced");
                    self.proxy.install(routes.clone());
                    self.status.table(routes.len());
                    installed = Some(routes);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the routing table was not rebuilt"),
            }
            let wake = |e: &Event| {
                matches!(
                    e,
                    Event::DomainsChanged { .. }
                        | Event::ApplicationStatusChanged { .. }
                        | Event::DeploymentStatusChanged { .. }
                )
            };
            round = crate::next_round(&mut events, &shutdown, REFRESH, wake).await;
            if round.is_none() {
                return;
            }
        }
    }

    /// The table, when something it is made of changed since `view` was last made into one
    /// (the domains and applications, read again when `reread` or when there is no `view`
    /// yet; the replicas the engine runs), else `None`.
    async fn rebuild(
        &self,
        view: &mut Option<StoreView>,
        reread: bool,
    ) -> Result<Option<Vec<Route>>, String> {
        let started = std::time::Instant::now();
        let reread = reread || view.is_none();
        if reread {
            *view = Some(StoreView::read(&self.store).await?);
        }
        let Some(v) = view.as_mut() else {
            return Ok(None);
        };
        let replicas = match self.swarm.get() {
            Some(swarm) => swarm.local_replicas().await.map_err(|e| e.to_string())?,
            None => HashMap::new(),
        };
        if !reread && v.replicas.as_ref() == Some(&replicas) {
            return Ok(None);
        }
        v.replicas = Some(replicas);
        let routes = self.routes(v);
        tracing::debug!(
            routes = routes.len(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "routing table rebuilt"
        );
        Ok(Some(routes))
    }

    /// The table the store's view and the replicas make.
    fn routes(&self, v: &StoreView) -> Vec<Route> {
        let none = HashMap::new();
        let replicas = v.replicas.as_ref().unwrap_or(&none);
        let mut routes = Vec::with_capacity(v.domains.len() + self.api_hosts.len());
        for d in &v.domains {
            let DomainTarget::Application(app_id) = d.target else {
                continue;
            };
            let Some(app) = v.apps.get(&app_id) else {
                continue;
            };
            let port = d.routing.target_port(&app.runtime).get();
            let service = app.service_name().to_string();
            let target = if app.status == ApplicationStatus::Stopped {
                Target::Stopped { name: service }
            } else {
                let addrs = replicas
                    .get(&service)
                    .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                    .unwrap_or_default();
                Target::Service {
                    name: service,
                    upstreams: Upstreams::Addrs(addrs),
                }
            };
            routes.push(route_of(d, target, self.https));
        }
        if let Some(api) = self.api {
            for host in &self.api_hosts {
                routes.push(Route {
                    id: format!("berth-api:{host}"),
                    host: host.clone(),
                    path_prefix: "/".into(),
                    target: Target::Service {
                        name: "berth".into(),
                        upstreams: Upstreams::Addrs(vec![api]),
                    },
                    https_redirect: self.https,
                    hsts: false,
                    www: WwwRedirect::None,
                    basic_auth: Vec::new(),
                    max_body_bytes: 16 * 1024 * 1024,
                    berth: true,
                });
            }
        }
        routes
    }
}

/// What the table is made of from the store, as last read.
#[derive(Debug)]
struct StoreView {
    domains: Vec<Domain>,
    apps: HashMap<ApplicationId, Application>,
    /// The replicas the engine ran at the last round (`None` before the first).
    replicas: Option<HashMap<String, Vec<std::net::IpAddr>>>,
}

impl StoreView {
    async fn read(store: &Store) -> Result<Self, String> {
        let scope = store
            .read_scope(Actor::System)
            .await
            .map_err(|e| e.to_string())?;
        let domains = scope.all_domains().await.map_err(|e| e.to_string())?;
        let apps = scope
            .routed_applications()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        Ok(Self {
            domains,
            apps,
            replicas: None,
        })
    }
}

fn route_of(d: &Domain, target: Target, https: bool) -> Route {
    let r = &d.routing;
    Route {
        id: d.id.to_string(),
        host: d.host.as_str().to_owned(),
        path_prefix: r.path_prefix.clone(),
        target,
        https_redirect: https && d.tls && r.https_redirect,
        hsts: d.tls && r.hsts,
        www: match r.www_redirect {
            berth_domain::WwwRedirect::None => WwwRedirect::None,
            berth_domain::WwwRedirect::ToApex => WwwRedirect::ToApex,
            berth_domain::WwwRedirect::ToWww => WwwRedirect::ToWww,
        },
        basic_auth: r
            .basic_auth
            .iter()
            .map(|u| BasicAuthUser {
                username: u.username.clone(),
                bcrypt_hash: u.password_hash.clone(),
            })
            .collect(),
        max_body_bytes: u64::from(r.max_body_mb) * 1024 * 1024,
        berth: false,
    }
}

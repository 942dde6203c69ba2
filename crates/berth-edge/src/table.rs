//! The router's listeners, and its routing table rebuilt
//! from the store and the orchestrator whenever a domain, a deployment or an application's
//! state changes (and checked every second, so replicas a rolling update adds or retires are
//! followed), swapped in only when it differs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use berth_domain::{ApplicationStatus, Domain, DomainTarget};
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

/// How often the table is rebuilt without an event.
const REFRESH: Duration = Duration::from_secs(1);

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
        let installed = match edge.routes().await {
            Ok(routes) => {
                edge.proxy.install(routes.clone());
                edge.status.table(routes.len());
                Some(routes)
            }
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
        tokio::spawn(edge.keep_current(installed, subscription, shutdown));
        Ok(Listeners { serving, sockets })
    }

    async fn keep_current(
        self,
        mut installed: Option<Vec<Route>>,
        mut events: berth_events::Subscription,
        shutdown: CancelToken,
    ) {
        loop {
            match self.routes().await {
                Ok(routes) => {
                    if installed.as_ref() != Some(&routes) {
                        tracing::debug!(routes = routes.len(), "routing table replaced");
                        self.proxy.install(routes.clone());
                        self.status.table(routes.len());
                        installed = Some(routes);
                    }
                }
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
            if !crate::next_round(&mut events, &shutdown, REFRESH, wake).await {
                return;
            }
        }
    }

    /// Where this host reaches `port` on the running replicas of `service`; `bridge` is the
    /// engine's bridge addresses, read once per round on first need.
    async fn replicas(
        &self,
        service: &str,
        port: u16,
        bridge: &mut Option<HashMap<String, std::net::IpAddr>>,
    ) -> Result<Vec<SocketAddr>, String> {
        let Some(swarm) = self.swarm.get() else {
            return Ok(Vec::new());
        };
        if bridge.is_none() {
            *bridge = Some(swarm.bridge_addresses().await.map_err(|e| e.to_string())?);
        }
        match swarm.endpoints_on(service, port, bridge.as_ref()).await {
            Ok(e) => Ok(e.into_iter().map(|e| e.addr).collect()),
            Err(berth_swarm::SwarmError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The table as the store and the orchestrator say now.
    async fn routes(&self) -> Result<Vec<Route>, String> {
        let scope = self
            .store
            .read_scope(Actor::System)
            .await
            .map_err(|e| e.to_string())?;
        let domains = scope.all_domains().await.map_err(|e| e.to_string())?;
        let app_ids: Vec<_> = domains
            .iter()
            .filter_map(|d| match d.target {
                DomainTarget::Application(id) => Some(id),
                _ => None,
            })
            .collect();
        let apps: HashMap<_, _> = scope
            .applications_by_ids(&app_ids)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let mut routes = Vec::with_capacity(domains.len() + self.api_hosts.len());
        // Domains of one application on one port share its replicas: asked once per round.
        let mut replicas: HashMap<(String, u16), Vec<SocketAddr>> = HashMap::new();
        let mut bridge = None;
        for d in domains {
            let DomainTarget::Application(app_id) = d.target else {
                continue;
            };
            let Some(app) = apps.get(&app_id) else {
                continue;
            };
            let port = d.routing.target_port(&app.runtime).get();
            let service = app.service_name().to_string();
            let target = if app.status == ApplicationStatus::Stopped {
                Target::Stopped { name: service }
            } else {
                let key = (service.clone(), port);
                let addrs = match replicas.get(&key) {
                    Some(a) => a.clone(),
                    None => {
                        let found = self.replicas(&service, port, &mut bridge).await?;
                        replicas.insert(key, found.clone());
                        found
                    }
                };
                Target::Service {
                    name: service,
                    upstreams: Upstreams::Addrs(addrs),
                }
            };
            routes.push(route_of(&d, target, self.https));
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
        Ok(routes)
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

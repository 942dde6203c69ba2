//! The routing table: which route answers a host and path. Built whole by the caller and
//! swapped in atomically ([`crate::Proxy::install`]); a request keeps the table it started with.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a route's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An application's replicas.
    Service { name: String, upstreams: Upstreams },
    /// The application is stopped on purpose: a 503 page says so.
    Stopped { name: String },
}

/// How a service's replicas are reached; both modes are resolved the same way when a request
/// comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstreams {
    /// Addresses known to the caller: on a host, the ports the engine published for each
    /// running (and healthy) replica.
    Addrs(Vec<SocketAddr>),
    /// A name resolved by DNS, such as `tasks.<service>` on the overlay network when berth
    /// runs inside Swarm; answers are kept for a second.
    Dns { name: String, port: u16 },
}

/// Redirects between a domain and its `www.` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WwwRedirect {
    #[default]
    None,
    /// `www.<host>` answers with a redirect to `<host>`.
    ToApex,
    /// `<host>` is the apex and answers with a redirect to `www.<host>`, where the route lives.
    ToWww,
}

/// A user of a route's basic authentication: the password as a bcrypt hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuthUser {
    pub username: String,
    pub bcrypt_hash: String,
}

/// One domain (and path prefix) and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// A stable id (the domain's), naming the route in logs and counters.
    pub id: String,
    /// Lower case; `*.example.com` matches exactly one more label.
    pub host: String,
    /// `/` or a prefix such as `/api` (matched on whole segments).
    pub path_prefix: String,
    pub target: Target,
    /// Plain HTTP answers with a redirect to HTTPS (ACME challenges excepted).
    pub https_redirect: bool,
    /// HTTPS answers carry `Strict-Transport-Security`.
    pub hsts: bool,
    pub www: WwwRedirect,
    /// Empty: no authentication.
    pub basic_auth: Vec<BasicAuthUser>,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: u64,
    /// berth's own route (its API): its host, the `www` form of it and every name under it
    /// answer berth alone; a domain's route or alias there is left out of the table.
    pub berth: bool,
}

/// Requests and errors of one route since the process started.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    /// Answers with a 5xx status, the router's own included.
    pub errors: AtomicU64,
}

/// A route as installed: with its counters (kept across tables) and balancing state.
#[derive(Debug)]
pub(crate) struct Installed {
    pub route: Route,
    pub counters: Arc<Counters>,
    next: AtomicUsize,
    dns: Mutex<Option<(Instant, Vec<SocketAddr>)>>,
}

/// What a host and path lead to.
pub(crate) enum Found<'a> {
    Route(&'a Arc<Installed>),
    /// A `www` alias: redirect to this host.
    Redirect(&'a str),
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Host -> routes, longest path prefix first.
    routes: HashMap<String, Vec<Arc<Installed>>>,
    /// Alias host -> the host to redirect to.
    aliases: HashMap<String, String>,
}

impl Table {
    pub fn build(routes: Vec<Route>, counters: &mut HashMap<String, Arc<Counters>>) -> Self {
        let mut table = Table::default();
        let mut kept = HashMap::new();
        let berth_hosts: Vec<String> = routes
            .iter()
            .filter(|r| r.berth)
            .map(|r| r.host.to_ascii_lowercase())
            .collect();
        // The one rule for what berth's own hosts reserve, as domains are refused by it.
        let reserved = |name: &str| berth_domain::hosts::reserved_by(name, &berth_hosts).is_some();
        for mut route in routes {
            route.host = route.host.to_ascii_lowercase();
            if !route.berth && reserved(&route.host) {
                tracing::warn!(route = %route.id, host = %route.host, "a domain on berth's own host is not served");
                continue;
            }
            if !route.path_prefix.starts_with('/') {
                route.path_prefix.insert(0, '/');
            }
            let c = counters.get(&route.id).cloned().unwrap_or_default();
            kept.insert(route.id.clone(), c.clone());
            match route.www {
                WwwRedirect::None => {}
                WwwRedirect::ToApex => {
                    let alias = format!("www.{}", route.host);
                    if !reserved(&alias) {
                        table.aliases.insert(alias, route.host.clone());
                    }
                }
                WwwRedirect::ToWww => {
                    if let Some(apex) = route.host.strip_prefix("www.") {
                        if !reserved(apex) {
                            table.aliases.insert(apex.to_owned(), route.host.clone());
                        }
                    }
                }
            }
            table
                .routes
                .entry(route.host.clone())
                .or_default()
                .push(Arc::new(Installed {
                    route,
                    counters: c,
                    next: AtomicUsize::new(0),
                    dns: Mutex::new(None),
                }));
        }
        for list in table.routes.values_mut() {
            list.sort_by_key(|r| std::cmp::Reverse(r.route.path_prefix.len()));
        }
        *counters = kept;
        table
    }

    /// Every host the table answers, aliases included.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.routes
            .keys()
            .chain(self.aliases.keys())
            .map(String::as_str)
    }

    /// The route for `host` and `path`: an exact host first (berth's own hosts hold theirs
    /// alone), then a `www` alias, then a wildcard, so no alias or wildcard shadows a name
    /// that is some domain's own host.
    pub fn find(&self, host: &str, path: &str) -> Option<Found<'_>> {
        let list = match self.routes.get(host) {
            Some(list) => list,
            None => {
                if let Some(to) = self.aliases.get(host) {
                    return Some(Found::Redirect(to));
                }
                let (_, parent) = host.split_once('.')?;
                self.routes.get(&format!("*.{parent}"))?
            }
        };
        list.iter()
            .find(|r| prefix_matches(&r.route.path_prefix, path))
            .map(Found::Route)
    }
}

/// `/api` matches `/api`, `/api/` and `/api/x`, never `/apix`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// How long a replica that refused a connection is passed over.
const EJECTED_FOR: Duration = Duration::from_secs(5);

impl Installed {
    /// The replicas to try, in order: round robin, those that failed lately last.
    pub async fn candidates(
        &self,
        ejected: &Mutex<HashMap<SocketAddr, Instant>>,
        count: &AtomicUsize,
    ) -> Vec<SocketAddr> {
        let Target::Service { upstreams, .. } = &self.route.target else {
            return Vec::new();
        };
        let mut addrs = match upstreams {
            Upstreams::Addrs(a) => a.clone(),
            Upstreams::Dns { name, port } => self.resolve(name, *port).await,
        };
        if addrs.is_empty() {
            return addrs;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % addrs.len();
        addrs.rotate_left(start);
        if count.load(Ordering::Relaxed) > 0 {
            if let Ok(mut e) = ejected.lock() {
                let now = Instant::now();
                e.retain(|_, until| *until > now);
                count.store(e.len(), Ordering::Relaxed);
                if !e.is_empty() {
                    addrs.sort_by_key(|a| e.contains_key(a));
                }
            }
        }
        addrs
    }

    async fn resolve(&self, name: &str, port: u16) -> Vec<SocketAddr> {
        if let Ok(cache) = self.dns.lock() {
            if let Some((at, addrs)) = cache.as_ref() {
                if at.elapsed() < Duration::from_secs(1) {
                    return addrs.clone();
                }
            }
        }
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((name, port)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                tracing::warn!(name, error = %e, "upstream name did not resolve");
                Vec::new()
            }
        };
        if let Ok(mut cache) = self.dns.lock() {
            *cache = Some((Instant::now(), addrs.clone()));
        }
        addrs
    }
}

/// Passes `addr` over for a while after it refused a connection.
pub(crate) fn eject(
    ejected: &Mutex<HashMap<SocketAddr, Instant>>,
    count: &AtomicUsize,
    addr: SocketAddr,
) {
    if let Ok(mut e) = ejected.lock() {
        e.insert(addr, Instant::now() + EJECTED_FOR);
        count.store(e.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, host: &str, prefix: &str) -> Route {
        Route {
            id: id.into(),
            host: host.into(),
            path_prefix: prefix.into(),
            target: Target::Stopped { name: id.into() },
            https_redirect: false,
            hsts: false,
            www: WwwRedirect::None,
            basic_auth: Vec::new(),
            max_body_bytes: 1,
            berth: false,
        }
    }

    #[test]
    fn berth_hosts_come_first_then_exact_hosts_then_aliases_then_wildcards() {
        let mut api = route("berth-api", "berth.test", "/");
        api.berth = true;
        let mut takeover = route("takeover", "berth.test", "/api/v1/auth");
        takeover.www = WwwRedirect::ToApex;
        let mut alias_of_api = route("alias", "www.berth.test", "/");
        alias_of_api.www = WwwRedirect::ToWww;
        let mut apex = route("apex", "shop.test", "/");
        apex.www = WwwRedirect::ToApex;
        let t = Table::build(
            vec![
                takeover,
                alias_of_api,
                route("under", "x.berth.test", "/"),
                route("over", "*.test", "/"),
                api,
                apex,
                route("other-tenant", "www.shop.test", "/"),
                route("wild", "*.apps.test", "/"),
                route("exact", "a.apps.test", "/"),
            ],
            &mut HashMap::new(),
        );
        assert_eq!(id(t.find("berth.test", "/api/v1/auth/login")), "berth-api");
        assert_eq!(id(t.find("www.berth.test", "/")), "none");
        assert_eq!(id(t.find("x.berth.test", "/")), "none");
        assert_eq!(id(t.find("www.shop.test", "/")), "other-tenant");
        assert_eq!(id(t.find("a.apps.test", "/")), "exact");
        assert_eq!(id(t.find("b.apps.test", "/")), "wild");
    }

    fn id(found: Option<Found<'_>>) -> String {
        match found {
            Some(Found::Route(r)) => r.route.id.clone(),
            Some(Found::Redirect(to)) => format!("-> {to}"),
            None => "none".into(),
        }
    }

    #[test]
    fn the_longest_prefix_on_whole_segments_wins_and_wildcards_match_one_label() {
        let mut www = route("www", "Example.com", "/");
        www.www = WwwRedirect::ToApex;
        let t = Table::build(
            vec![
                www,
                route("api", "example.com", "/api"),
                route("wild", "*.apps.example.com", "/"),
            ],
            &mut HashMap::new(),
        );
        assert_eq!(id(t.find("example.com", "/api/users")), "api");
        assert_eq!(id(t.find("example.com", "/api")), "api");
        assert_eq!(id(t.find("example.com", "/apix")), "www");
        assert_eq!(id(t.find("www.example.com", "/")), "-> example.com");
        assert_eq!(id(t.find("shop.apps.example.com", "/")), "wild");
        assert_eq!(id(t.find("a.shop.apps.example.com", "/")), "none");
        assert_eq!(id(t.find("apps.example.com", "/")), "none");
        assert_eq!(id(t.find("other.com", "/")), "none");
    }

    #[test]
    fn counters_outlive_a_table_and_leave_with_their_route() {
        let mut counters = HashMap::new();
        let t = Table::build(vec![route("a", "a.test", "/")], &mut counters);
        if let Some(Found::Route(r)) = t.find("a.test", "/") {
            r.counters.requests.fetch_add(3, Ordering::Relaxed);
        }
        let t = Table::build(
            vec![route("a", "a.test", "/"), route("b", "b.test", "/")],
            &mut counters,
        );
        match t.find("a.test", "/") {
            Some(Found::Route(r)) => assert_eq!(r.counters.requests.load(Ordering::Relaxed), 3),
            _ => panic!("a.test is routed"),
        }
        Table::build(vec![route("b", "b.test", "/")], &mut counters);
        assert!(!counters.contains_key("a"));
    }
}

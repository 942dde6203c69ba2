//! berth's edge router: HTTP and HTTPS listeners inside the `berth` binary that route each
//! request by host (and path prefix) to an application's replicas, with TLS by rustls.
//!
//! Architecture invariant: knows nothing of the database, Docker or ACME. The caller builds
//! the routing table ([`Route`]s) and hands over certificates ([`CertStore`]) and ACME
//! HTTP-01 answers ([`Proxy::set_challenge`]); the router only serves them.

mod pages;
mod proxy;
mod table;
pub mod tls;
mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;

pub use table::{BasicAuthUser, Counters, Route, Target, Upstreams, WwwRedirect};
pub use tls::{CertError, CertInfo, CertStore};

/// Errors inside bodies, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every body the router sends or forwards.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body with nothing in it.
pub(crate) fn empty() -> Body {
    use http_body_util::BodyExt as _;
    http_body_util::Empty::new().map_err(|e| match e {}).boxed()
}

/// A body of these bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    use http_body_util::BodyExt as _;
    http_body_util::Full::new(bytes.into())
        .map_err(|e| match e {})
        .boxed()
}

/// Limits and timeouts of the router.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// The port HTTPS redirects point to (left out of the URL when 443).
    pub https_port: u16,
    /// Connecting to a replica.
    pub connect_timeout: Duration,
    /// From sending a request to a replica until its response headers.
    pub response_timeout: Duration,
    /// A client has this long to send a request's headers, and to finish a TLS handshake.
    pub header_read_timeout: Duration,
    /// Threads serving each listener, each with a runtime, a connection pool and an accept
    /// loop of its own (0: one per CPU).
    pub workers: usize,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            https_port: 443,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(30),
            workers: 0,
        }
    }
}

/// Requests and errors of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStats {
    pub route: String,
    pub requests: u64,
    pub errors: u64,
}

/// The router. Cheap to clone; every clone serves the same table.
#[derive(Debug, Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    table: ArcSwap<table::Table>,
    counters: Mutex<HashMap<String, Arc<Counters>>>,
    certs: Arc<CertStore>,
    /// ACME HTTP-01: token -> key authorization.
    challenges: Mutex<HashMap<String, String>>,
    ejected: Mutex<HashMap<SocketAddr, Instant>>,
    /// How many replicas are in `ejected`, read without the lock on every request.
    ejected_count: std::sync::atomic::AtomicUsize,
    /// Basic-auth credentials that passed lately (a digest of route and header), so bcrypt
    /// runs once per user and password, not per request.
    passed: Mutex<HashMap<[u8; 32], Instant>>,
    /// Failed basic-auth attempts in the current window, per (client address, route) and per
    /// route, so guessing is slowed and bcrypt is not run for a flood.
    auth_failures: Mutex<proxy::AuthFailures>,
    settings: ProxySettings,
}

impl Proxy {
    pub fn new(settings: ProxySettings) -> Result<Self, CertError> {
        Ok(Self {
            inner: Arc::new(Inner {
                table: ArcSwap::from_pointee(table::Table::default()),
                counters: Mutex::new(HashMap::new()),
                certs: Arc::new(CertStore::new()?),
                challenges: Mutex::new(HashMap::new()),
                ejected: Mutex::new(HashMap::new()),
                ejected_count: std::sync::atomic::AtomicUsize::new(0),
                passed: Mutex::new(HashMap::new()),
                auth_failures: Mutex::new(proxy::AuthFailures::default()),
                settings,
            }),
        })
    }

    /// Replaces the routing table at once; requests in flight finish on the old one.
    pub fn install(&self, routes: Vec<Route>) {
        let Ok(mut counters) = self.inner.counters.lock() else {
            return;
        };
        let table = table::Table::build(routes, &mut counters);
        self.inner
            .certs
            .set_known(table.hosts().map(str::to_owned).collect());
        self.inner.table.store(Arc::new(table));
        if let Ok(mut passed) = self.inner.passed.lock() {
            passed.clear();
        }
    }

    /// The certificates the HTTPS listener serves.
    pub fn certs(&self) -> &Arc<CertStore> {
        &self.inner.certs
    }

    /// Answers `GET /.well-known/acme-challenge/<token>` over HTTP with `key_authorization`.
    pub fn set_challenge(&self, token: &str, key_authorization: &str) {
        if let Ok(mut c) = self.inner.challenges.lock() {
            c.insert(token.to_owned(), key_authorization.to_owned());
        }
    }

    pub fn remove_challenge(&self, token: &str) {
        if let Ok(mut c) = self.inner.challenges.lock() {
            c.remove(token);
        }
    }

    /// Requests and errors per route since the process started.
    pub fn stats(&self) -> Vec<RouteStats> {
        let Ok(counters) = self.inner.counters.lock() else {
            return Vec::new();
        };
        let mut out: Vec<RouteStats> = counters
            .iter()
            .map(|(route, c)| RouteStats {
                route: route.clone(),
                requests: c.requests.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by(|a, b| a.route.cmp(&b.route));
        out
    }

    /// Serves plain HTTP on `listener` until `shutdown`, then lets open requests finish (up
    /// to 10 s). The listener is served by [`ProxySettings::workers`] threads of the router's
    /// own, apart from the caller's runtime.
    pub async fn serve_http(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: berth_events::CancelToken,
    ) {
        proxy::serve(self.inner.clone(), listener, None, shutdown).await
    }

    /// Serves HTTPS on `listener` (certificates from [`Self::certs`]) until `shutdown`.
    pub async fn serve_https(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: berth_events::CancelToken,
    ) -> Result<(), rustls::Error> {
        let config = tls::server_config(self.inner.certs.clone())?;
        proxy::serve(
            self.inner.clone(),
            listener,
            Some(tokio_rustls::TlsAcceptor::from(config)),
            shutdown,
        )
        .await;
        Ok(())
    }
}

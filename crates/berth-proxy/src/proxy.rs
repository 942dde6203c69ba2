//! Accepting connections and forwarding each request.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};

use crate::table::{eject, Found, Installed, Target};
use crate::{pages, Body, Inner};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

use crate::upstream::{Answer, Pool, RequestFraming, SendError};

/// Serves `listener` on worker threads, each with a current-thread runtime, its own accept
/// loop on the shared socket and its own connection pool: no lock or wake-up crosses threads
/// on the way of a request. Returns once every worker has stopped.
pub(crate) async fn serve(
    inner: Arc<Inner>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: berth_events::CancelToken,
) {
    let listener = match listener.into_std() {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the router's listener cannot be handed to its workers");
            return;
        }
    };
    let workers = match inner.settings.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut stopped = Vec::with_capacity(workers);
    for i in 0..workers {
        let socket = match listener.try_clone() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "a router worker cannot share the listener");
                continue;
            }
        };
        let (inner, tls, shutdown) = (inner.clone(), tls.clone(), shutdown.clone());
        let (done, wait) = tokio::sync::oneshot::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name(format!("berth-router-{i}"))
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(worker(inner, socket, tls, shutdown)),
                    Err(e) => tracing::error!(error = %e, "a router worker has no runtime"),
                }
                let _ = done.send(());
            });
        match spawned {
            Ok(_) => stopped.push(wait),
            Err(e) => tracing::error!(error = %e, "a router worker could not start"),
        }
    }
    for wait in stopped {
        let _ = wait.await;
    }
}

/// How long a stopping router still lets connections it accepted read their first request
/// before it closes those between requests.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

async fn worker(
    inner: Arc<Inner>,
    socket: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: berth_events::CancelToken,
) {
    let listener = match socket
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(socket))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "a router worker cannot listen");
            return;
        }
    };
    // Cloned per request: its reference count stays on this worker's core.
    let ctx = Arc::new(Worker {
        pool: Pool::new(inner.settings.connect_timeout),
        inner: inner.clone(),
    });
    // A timer that is always due within a second: tokio wakes its own driver (a write to an
    // eventfd) whenever a timer is set earlier than every other, which the per-request
    // timeouts (30 s, 60 s) would otherwise do each time the worker's last one ended.
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(inner.settings.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = Arc::new(builder);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        let peer = Peer::new(addr);
        let builder = builder.clone();
        let tls = tls.clone();
        let tls_used = tls.is_some();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let handshake = ctx.inner.settings.header_read_timeout;
            let service = hyper::service::service_fn(move |req| {
                let scheme = if tls_used {
                    Scheme::Https
                } else {
                    Scheme::Http
                };
                handle(ctx.clone(), req, peer.clone(), scheme)
            });
            match tls {
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = watcher.watch(conn).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    // A connection accepted just now has not read its request yet, and a graceful shutdown
    // closes a connection that is between requests: its client would get no answer. Give the
    // newest a moment to read theirs (requests in progress then finish, up to 10 s).
    tokio::time::sleep(FIRST_REQUEST_GRACE).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

/// The host a request is for: its authority (HTTP/2, or an HTTP/1.1 absolute-form target) or
/// `Host` header, lower case, without port or trailing dot; and the port the client used, if
/// it gave one. A request whose authority and `Host` name different hosts has none: it is
/// routed and forwarded by one authority, so the two may not disagree (RFC 9112, 3.2.2).
fn host_of(req: &Request<Incoming>) -> Result<(String, Option<u16>), &'static str> {
    let header = match req.headers().get(header::HOST) {
        Some(v) => Some(v.to_str().map_err(|_| "The Host header is not text.")?),
        None => None,
    };
    let (raw, other) = match (req.uri().authority(), header) {
        (Some(a), h) => (a.as_str(), h),
        (None, Some(h)) => (h, None),
        (None, None) => return Err("The request names no host."),
    };
    let host = split_host(raw).ok_or("The request names no host.")?;
    if let Some(other) = other {
        if split_host(other).map(|(h, _)| h).as_deref() != Some(host.0.as_str()) {
            return Err("The request's target and its Host header name different hosts.");
        }
    }
    Ok(host)
}

/// `host[:port]` or `[v6][:port]` into a lower-case host without trailing dot, and the port.
fn split_host(raw: &str) -> Option<(String, Option<u16>)> {
    let raw = raw.trim();
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match raw.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    let host = host.trim_end_matches('.');
    if host.is_empty()
        || host.contains(['/', '@', ' ', '?', '#'])
        || host.chars().any(|c| c.is_control())
    {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// The client a connection comes from, and its address as a header value (made once per
/// connection).
#[derive(Clone)]
struct Peer {
    addr: SocketAddr,
    ip: Option<HeaderValue>,
}

impl Peer {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            ip: HeaderValue::try_from(addr.ip().to_string()).ok(),
        }
    }
}

/// What one worker's requests share.
struct Worker {
    inner: Arc<Inner>,
    pool: Arc<Pool>,
}

async fn handle(
    ctx: Arc<Worker>,
    req: Request<Incoming>,
    peer: Peer,
    scheme: Scheme,
) -> Result<Response<Body>, std::convert::Infallible> {
    let (inner, client) = (&ctx.inner, &ctx.pool);
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let (host, port) = match host_of(&req) {
        Ok(h) => h,
        Err(why) => return Ok(pages::bad_request(why)),
    };
    if scheme == Scheme::Http {
        if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
            let answer = inner
                .challenges
                .lock()
                .ok()
                .and_then(|c| c.get(token).cloned());
            if let Some(answer) = answer {
                tracing::info!(target: "berth::access", %host, %path, status = 200, "acme challenge");
                let mut r = Response::new(crate::full(answer));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                return Ok(r);
            }
        }
    }
    let table = inner.table.load_full();
    let route = match table.find(&host, &path) {
        None => {
            tracing::info!(target: "berth::access", %host, %method, %path, status = 404, peer = %peer.addr.ip(), "no route");
            return Ok(pages::not_found());
        }
        Some(Found::Redirect(to)) => {
            let location = format!(
                "{}://{}{}{}",
                scheme.as_str(),
                to,
                port.map(|p| format!(":{p}")).unwrap_or_default(),
                path_and_query(&req)
            );
            return Ok(pages::redirect(&location, true));
        }
        Some(Found::Route(r)) => r,
    };
    route.counters.requests.fetch_add(1, Ordering::Relaxed);
    let (mut response, upstream) =
        route_request(inner, client, route, req, &peer, scheme, &host).await;
    let status = response.status();
    if status.is_server_error() {
        route.counters.errors.fetch_add(1, Ordering::Relaxed);
    }
    if scheme == Scheme::Https && route.route.hsts {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    tracing::info!(
        target: "berth::access",
        route = %route.route.id,
        %host,
        %method,
        %path,
        status = status.as_u16(),
        upstream = upstream.map(|u| u.to_string()).unwrap_or_default(),
        ms = started.elapsed().as_millis() as u64,
        peer = %peer.addr.ip(),
        scheme = scheme.as_str(),
    );
    Ok(response)
}

fn path_and_query(req: &Request<Incoming>) -> &str {
    req.uri().path_and_query().map_or("/", |p| p.as_str())
}

/// A route's answer: a redirect, a refusal, a page, or the replica's response.
async fn route_request(
    inner: &Arc<Inner>,
    client: &Arc<Pool>,
    route: &Arc<Installed>,
    mut req: Request<Incoming>,
    peer: &Peer,
    scheme: Scheme,
    host: &str,
) -> (Response<Body>, Option<SocketAddr>) {
    let r = &route.route;
    if scheme == Scheme::Http && r.https_redirect {
        let port = match inner.settings.https_port {
            443 => String::new(),
            p => format!(":{p}"),
        };
        let location = format!("https://{host}{port}{}", path_and_query(&req));
        return (pages::redirect(&location, true), None);
    }
    if !r.basic_auth.is_empty() {
        match authorized(inner, route, req.headers(), peer.addr.ip()).await {
            Auth::Passed => {}
            Auth::Denied => return (pages::unauthorized(host), None),
            Auth::Throttled(wait) => return (pages::too_many_attempts(wait), None),
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > r.max_body_bytes) {
        return (pages::too_large(), None);
    }
    let name = match &r.target {
        Target::Stopped { .. } => return (pages::stopped(), None),
        Target::Service { name, .. } => name.as_str(),
    };
    let candidates = route.candidates(&inner.ejected, &inner.ejected_count).await;
    if candidates.is_empty() {
        return (pages::no_replica(), None);
    }
    let upgrade = is_upgrade(req.headers());
    let bodiless =
        declared.unwrap_or(0) == 0 && !req.headers().contains_key(header::TRANSFER_ENCODING);
    let retryable = bodiless
        && !upgrade
        && matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let headers = forwarded_headers(
        std::mem::take(&mut parts.headers),
        parts.uri.authority(),
        peer,
        scheme,
        upgrade,
    );
    // Framing is decided once, the same for an upgrade: a body the request declares is sent
    // (the replica expects it whatever it answers), never left for the next request to fill.
    let framing = if bodiless {
        RequestFraming::None
    } else if declared.is_some() {
        RequestFraming::Length
    } else {
        RequestFraming::Chunked
    };
    // Only a request without a body is ever sent twice.
    let mut body = (framing != RequestFraming::None)
        .then(|| Limited::new(body, r.max_body_bytes as usize).boxed());
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let attempts = if retryable {
        candidates.len().min(2)
    } else {
        1
    };
    let mut last_error = None;
    for addr in candidates.iter().take(attempts) {
        let sent = tokio::time::timeout(
            inner.settings.response_timeout,
            client.send(*addr, &parts.method, path, &headers, body.take(), framing),
        )
        .await;
        match sent {
            Err(_) => {
                tracing::warn!(service = %name, upstream = %addr, "the replica did not answer in time");
                return (pages::gateway_timeout(), Some(*addr));
            }
            Ok(Ok(Answer::Upgrade(response, conn))) => {
                if let Some(client) = client_upgrade {
                    tokio::spawn(async move {
                        let Ok(c) = client.await else { return };
                        let mut c = TokioIo::new(c);
                        let (mut s, early) = conn.into_parts();
                        // What the replica sent right after its 101 goes first.
                        if tokio::io::AsyncWriteExt::write_all(&mut c, &early)
                            .await
                            .is_ok()
                        {
                            let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                        }
                    });
                }
                let mut out = response.map(|()| crate::empty());
                strip_hop_by_hop(out.headers_mut(), true);
                return (out, Some(*addr));
            }
            Ok(Ok(Answer::Response(mut out))) => {
                strip_hop_by_hop(out.headers_mut(), false);
                return (out, Some(*addr));
            }
            Ok(Err(e)) => {
                let connect = matches!(e, SendError::Connect(_));
                if connect {
                    eject(&inner.ejected, &inner.ejected_count, *addr);
                }
                if let SendError::Body(e) = &e {
                    if too_large(e.as_ref()) {
                        return (pages::too_large(), Some(*addr));
                    }
                }
                tracing::warn!(service = %name, upstream = %addr, error = %e, "forwarding failed");
                last_error = Some(*addr);
                if !connect {
                    break;
                }
            }
        }
    }
    (pages::bad_gateway(), last_error)
}

/// Whether the body limit stopped the request body.
fn too_large(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers meant for one connection only.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    // The router answers `Expect: 100-continue` itself and sends the body at once.
    header::EXPECT,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes headers meant for one connection only (and those `Connection` names); an upgrade
/// keeps `Connection: upgrade` and `Upgrade`.
fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    // Most messages carry none of them: one look at each name is cheaper than a lookup of each.
    if !headers
        .keys()
        .any(|k| *k == header::UPGRADE || HOP_BY_HOP.contains(k))
    {
        return;
    }
    let upgrade_to = headers.remove(header::UPGRADE);
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        if headers.contains_key(&name) {
            headers.remove(name);
        }
    }
    if upgrade {
        if let Some(to) = upgrade_to {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, to);
        }
    }
}

/// The client's headers as the replica gets them: hop-by-hop headers gone, the `Host` header
/// (from the HTTP/2 authority when the client sent none), and the `X-Forwarded-*` headers set
/// by the router alone (a client's own are dropped).
fn forwarded_headers(
    mut headers: HeaderMap,
    authority: Option<&hyper::http::uri::Authority>,
    peer: &Peer,
    scheme: Scheme,
    upgrade: bool,
) -> HeaderMap {
    strip_hop_by_hop(&mut headers, upgrade);
    let theirs = [
        X_FORWARDED_PROTO,
        X_FORWARDED_HOST,
        X_REAL_IP,
        X_FORWARDED_FOR,
        header::FORWARDED,
    ];
    if headers.keys().any(|k| theirs.contains(k)) {
        for name in theirs {
            headers.remove(name);
        }
    }
    if !headers.contains_key(header::HOST) {
        // HTTP/2 carries the host as the authority: HTTP/1.1 needs it as a header.
        if let Some(v) = authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            headers.insert(header::HOST, v);
        }
    }
    if let Some(ip) = &peer.ip {
        headers.insert(X_FORWARDED_FOR, ip.clone());
        headers.insert(X_REAL_IP, ip.clone());
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(scheme.as_str()));
    if let Some(host) = headers.get(header::HOST).cloned() {
        if !host.is_empty() {
            headers.insert(X_FORWARDED_HOST, host);
        }
    }
    headers
}

/// Failed basic-auth attempts per client and route, and per route, in fixed windows.
#[derive(Debug, Default)]
pub(crate) struct AuthFailures {
    window: Option<Instant>,
    by_client: std::collections::HashMap<(std::net::IpAddr, String), u32>,
    by_route: std::collections::HashMap<String, u32>,
}

/// How long one window of counted failures lasts.
const AUTH_WINDOW: Duration = Duration::from_secs(60);
/// Failed attempts one client may make at one domain in a window.
const AUTH_FAILURES_PER_CLIENT: u32 = 10;
/// Failed attempts all clients together may make at one domain in a window.
const AUTH_FAILURES_PER_ROUTE: u32 = 100;

impl AuthFailures {
    /// Seconds until the window ends when `client` may not try `route` now.
    fn throttled(&mut self, client: std::net::IpAddr, route: &str) -> Option<u64> {
        let now = Instant::now();
        let start = *self.window.get_or_insert(now);
        if now.duration_since(start) >= AUTH_WINDOW {
            *self = Self {
                window: Some(now),
                ..Self::default()
            };
            return None;
        }
        let over = self
            .by_client
            .get(&(client, route.to_owned()))
            .is_some_and(|n| *n >= AUTH_FAILURES_PER_CLIENT)
            || self
                .by_route
                .get(route)
                .is_some_and(|n| *n >= AUTH_FAILURES_PER_ROUTE);
        over.then(|| (AUTH_WINDOW - now.duration_since(start)).as_secs().max(1))
    }

    fn failed(&mut self, client: std::net::IpAddr, route: &str) {
        // Bounded: a window never holds more clients than this.
        if self.by_client.len() < 100_000 {
            *self
                .by_client
                .entry((client, route.to_owned()))
                .or_default() += 1;
        }
        *self.by_route.entry(route.to_owned()).or_default() += 1;
    }
}

enum Auth {
    Passed,
    Denied,
    /// Too many failures lately: try again after this many seconds.
    Throttled(u64),
}

/// Checks `Authorization: Basic` against the route's users (bcrypt); a pair that passed is
/// remembered for five minutes. An unknown user costs a bcrypt check too (against a known
/// user's hash, so with the same cost), so timing does not tell which users exist; failures
/// are counted per client and per route, and past the limits the answer is 429 with no check.
async fn authorized(
    inner: &Arc<Inner>,
    route: &Arc<Installed>,
    headers: &HeaderMap,
    client: std::net::IpAddr,
) -> Auth {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Auth::Denied;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Auth::Denied;
    };
    let digest: [u8; 32] = Sha256::new()
        .chain_update(route.route.id.as_bytes())
        .chain_update([0])
        .chain_update(encoded.trim().as_bytes())
        .finalize()
        .into();
    if let Ok(passed) = inner.passed.lock() {
        if passed
            .get(&digest)
            .is_some_and(|until| *until > Instant::now())
        {
            return Auth::Passed;
        }
    }
    let route_id = route.route.id.as_str();
    if let Some(wait) = inner
        .auth_failures
        .lock()
        .ok()
        .and_then(|mut f| f.throttled(client, route_id))
    {
        return Auth::Throttled(wait);
    }
    let (user, password) = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|d| d.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
        .unwrap_or_default();
    let users = &route.route.basic_auth;
    let known = users.iter().find(|u| u.username == user);
    // The decoy: the first user's hash, checked and then refused.
    let Some(hash) = known.or(users.first()).map(|u| u.bcrypt_hash.clone()) else {
        return Auth::Denied;
    };
    let verified = tokio::task::spawn_blocking(move || {
        let input = berth_domain::Password::bcrypt_input(&password);
        bcrypt::verify(input.as_bytes(), &hash).unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    let ok = verified && known.is_some();
    if !ok {
        if let Ok(mut f) = inner.auth_failures.lock() {
            f.failed(client, route_id);
        }
        return Auth::Denied;
    }
    {
        if let Ok(mut passed) = inner.passed.lock() {
            let now = Instant::now();
            passed.retain(|_, until| *until > now);
            if passed.len() < 10_000 {
                passed.insert(digest, now + Duration::from_secs(300));
            }
        }
    }
    Auth::Passed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_with_or_without_a_port() {
        assert_eq!(split_host("Shop.Test."), Some(("shop.test".into(), None)));
        assert_eq!(
            split_host("shop.test:8443"),
            Some(("shop.test".into(), Some(8443)))
        );
        assert_eq!(split_host("[::1]:80"), Some(("::1".into(), Some(80))));
        assert_eq!(split_host("shop.test:http"), None);
        assert_eq!(split_host("user@shop.test"), None);
        assert_eq!(split_host(""), None);
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::ACCEPT));
    }

    #[test]
    fn forwarded_headers_come_from_the_router_alone() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("shop.test:8443"));
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let out = forwarded_headers(
            h,
            None,
            &Peer::new("10.0.0.7:5555".parse().unwrap()),
            Scheme::Http,
            false,
        );
        assert_eq!(out["x-forwarded-for"], "10.0.0.7");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-forwarded-host"], "shop.test:8443");
    }
}

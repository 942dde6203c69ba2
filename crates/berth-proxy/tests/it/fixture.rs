//! Replicas, a router and clients for the tests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_events::CancelToken;
use berth_proxy::{Proxy, ProxySettings, Route, Target, Upstreams, WwwRedirect};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

pub type TestBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(s: impl Into<Bytes>) -> TestBody {
    Full::new(s.into()).boxed()
}

/// A replica named `name` on a free loopback port. It answers:
/// - `/slow`: after a second; `/never`: not at all;
/// - `/sse`: three events 300 ms apart;
/// - `/ws` with `Upgrade`: 101, then echoes bytes;
/// - anything else: `<name> <METHOD> <path> host=<Host> xff=<X-Forwarded-For>
///   xfp=<X-Forwarded-Proto> xfh=<X-Forwarded-Host> len=<body bytes>`.
pub async fn replica(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(name, req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn answer(name: &str, mut req: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    let path = req.uri().path().to_owned();
    match path.as_str() {
        "/slow" => tokio::time::sleep(Duration::from_secs(1)).await,
        "/never" => tokio::time::sleep(Duration::from_secs(3600)).await,
        "/sse" => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            tokio::spawn(async move {
                for i in 0..3 {
                    let _ = tx
                        .send(Ok(Frame::data(Bytes::from(format!("data: {i}\n\n")))))
                        .await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|f| (f, rx))
            });
            let mut r = Response::new(StreamBody::new(stream).boxed());
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            return Ok(r);
        }
        "/ws" if req.headers().contains_key("upgrade") => {
            let upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(io) = upgrade.await {
                    let mut io = TokioIo::new(io);
                    let (mut r, mut w) = tokio::io::split(&mut io);
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
            let mut r = Response::new(full(""));
            *r.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            r.headers_mut().insert("upgrade", "echo".parse().unwrap());
            return Ok(r);
        }
        _ => {}
    }
    let h = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned()
    };
    let head = format!(
        "{name} {} {path} host={} xff={} xfp={} xfh={}",
        req.method(),
        h("host"),
        h("x-forwarded-for"),
        h("x-forwarded-proto"),
        h("x-forwarded-host")
    );
    let len = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().len(),
        Err(_) => 0,
    };
    Ok(Response::new(full(format!("{head} len={len}"))))
}

/// A port nothing listens on.
pub async fn dead_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

pub fn route(id: &str, host: &str, addrs: Vec<SocketAddr>) -> Route {
    Route {
        id: id.into(),
        host: host.into(),
        path_prefix: "/".into(),
        target: Target::Service {
            name: id.into(),
            upstreams: Upstreams::Addrs(addrs),
        },
        https_redirect: false,
        hsts: false,
        www: WwwRedirect::None,
        basic_auth: Vec::new(),
        max_body_bytes: 1024 * 1024,
        berth: false,
    }
}

/// A router listening on loopback for HTTP and HTTPS.
pub struct Router {
    pub proxy: Proxy,
    pub http: SocketAddr,
    pub https: SocketAddr,
    stop: CancelToken,
}

impl Router {
    pub async fn start(tune: impl FnOnce(&mut ProxySettings)) -> Self {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (http_addr, https_addr) = (http.local_addr().unwrap(), https.local_addr().unwrap());
        let mut settings = ProxySettings {
            https_port: https_addr.port(),
            ..ProxySettings::default()
        };
        tune(&mut settings);
        let proxy = Proxy::new(settings).unwrap();
        let stop = CancelToken::new();
        let (p, s) = (proxy.clone(), stop.clone());
        tokio::spawn(async move { p.serve_http(http, s).await });
        let (p, s) = (proxy.clone(), stop.clone());
        tokio::spawn(async move { p.serve_https(https, s).await.unwrap() });
        Self {
            proxy,
            http: http_addr,
            https: https_addr,
            stop,
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// The answer, read to its end.
pub async fn collect(r: Response<Incoming>) -> Answer {
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// One HTTP/1.1 request over a new connection to `addr`.
pub async fn http(addr: SocketAddr, req: Request<TestBody>) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    collect(sender.send_request(req).await.unwrap()).await
}

pub fn get(host: &str, path: &str) -> Request<TestBody> {
    Request::get(path)
        .header("host", host)
        .body(full(""))
        .unwrap()
}

/// A TLS connection to the router.
pub struct Tls {
    pub stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Tls {
    pub async fn connect(
        addr: SocketAddr,
        sni: &str,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> Result<Self, std::io::Error> {
        let mut config = rustls::ClientConfig::builder_with_provider(berth_proxy::tls::provider())
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(berth_testkit::acme::AnyCert))
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).unwrap();
        let stream = connector.connect(name, tcp).await?;
        Ok(Self { stream })
    }

    /// The DNS names of the certificate served.
    pub fn names(&self) -> Vec<String> {
        let (_, conn) = self.stream.get_ref();
        let leaf = &conn.peer_certificates().unwrap()[0];
        berth_proxy::tls::info_of_der(leaf.as_ref()).unwrap().names
    }

    pub fn version(&self) -> rustls::ProtocolVersion {
        self.stream.get_ref().1.protocol_version().unwrap()
    }

    pub fn alpn(&self) -> Option<Vec<u8>> {
        self.stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
    }

    /// Sends requests over this connection, by HTTP/2 when ALPN chose it.
    pub async fn sender(self) -> Sender {
        if self.alpn().as_deref() == Some(b"h2") {
            let (s, conn) = hyper::client::conn::http2::handshake(
                TokioExecutor::new(),
                TokioIo::new(self.stream),
            )
            .await
            .unwrap();
            tokio::spawn(conn);
            Sender::H2(s)
        } else {
            let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(self.stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            Sender::H1(s)
        }
    }
}

pub enum Sender {
    H1(hyper::client::conn::http1::SendRequest<TestBody>),
    H2(hyper::client::conn::http2::SendRequest<TestBody>),
}

impl Sender {
    pub async fn send(&mut self, req: Request<TestBody>) -> Answer {
        let r = match self {
            Sender::H1(s) => s.send_request(req).await.unwrap(),
            Sender::H2(s) => s.send_request(req).await.unwrap(),
        };
        collect(r).await
    }
}

/// A certificate authority of the test's own, and leaf certificates it signs.
pub struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub pem: String,
}

impl Ca {
    pub fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// (chain PEM: leaf then this CA, key PEM) for `names`, valid from `from` to `to` days
    /// from now.
    pub fn leaf(&self, names: &[&str], from: i64, to: i64) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(from);
        params.not_after = now + time::Duration::days(to);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (format!("{}{}", cert.pem(), self.pem), key.serialize_pem())
    }
}

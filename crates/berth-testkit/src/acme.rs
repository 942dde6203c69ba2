//! A certificate authority and a DNS server on loopback, for the tests of certificates:
//! Debian's `pebble` (Let's Encrypt's test CA) and `named` from Debian's `bind9`, each started
//! in a temporary directory of its own and stopped when dropped. `make test` installs both
//! (`scripts/install-deps.sh`); a test that runs without them fails and says so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A port nothing listens on right now (TCP and UDP).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = tcp.local_addr().expect("an address").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn wait_for_tcp(addr: SocketAddr, what: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before it listened on {addr}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {addr} within 20 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(program: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("a log file");
    let err = out.try_clone().expect("a log file");
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {program} ({e}): install it with `make test` (scripts/install-deps.sh)"
        )
    })
}

/// `named` serving the zone `test` on loopback: every name in it resolves to 127.0.0.1, and it
/// takes dynamic updates signed with the TSIG key `key_name`/`secret` (HMAC-SHA256).
#[derive(Debug)]
pub struct Bind {
    child: Child,
    _dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub zone: String,
    pub key_name: String,
    pub secret: String,
}

impl Bind {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = free_port();
        let secret = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
        };
        let d = dir.path().display();
        let conf = format!(
            r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify no;
}};
key "berth-test" {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "test" {{
  type primary;
  file "{d}/db.test";
  journal "{d}/db.test.jnl";
  allow-update {{ key "berth-test"; }};
}};
"#
        );
        std::fs::write(dir.path().join("named.conf"), conf).expect("named.conf");
        let zone = "$TTL 60\n@ IN SOA ns.test. admin.test. 1 60 60 600 60\n@ IN NS ns.test.\n@ IN A 127.0.0.1\n* IN A 127.0.0.1\n";
        std::fs::write(dir.path().join("db.test"), zone).expect("the zone file");
        let conf = dir.path().join("named.conf");
        let log = dir.path().join("named.log");
        let mut child = spawn(
            "/usr/sbin/named",
            &["-g", "-c", conf.to_str().unwrap_or_default()],
            &[],
            &log,
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for_tcp(addr, "named", &mut child, &log);
        Self {
            child,
            _dir: dir,
            addr,
            zone: "test".into(),
            key_name: "berth-test".into(),
            secret,
        }
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority of the test's own, for Pebble's HTTPS.
fn local_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        rcgen::DnType::CommonName,
        "berth test CA for Pebble's own HTTPS",
    );
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let ca_cert = ca.self_signed(&ca_key).expect("the CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let mut leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    leaf.subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = leaf.signed_by(&key, &issuer).expect("the certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("ca.pem");
    std::fs::write(&paths.1, cert.pem()).expect("cert.pem");
    std::fs::write(&paths.2, key.serialize_pem()).expect("key.pem");
    paths
}

/// Pebble on loopback. It validates HTTP-01 on `http_port` of 127.0.0.1 (names resolved by
/// `dns`), and issues certificates valid for `validity` (Pebble's default when `None`).
#[derive(Debug)]
pub struct Pebble {
    child: Option<Child>,
    dir: tempfile::TempDir,
    args: Vec<String>,
    /// The ACME directory URL.
    pub directory: String,
    /// The root Pebble's own HTTPS is signed by (not the root of what it issues).
    pub tls_root: PathBuf,
    pub management: SocketAddr,
    pub listen: SocketAddr,
}

impl Pebble {
    pub fn start(http_port: u16, dns: SocketAddr, validity: Option<Duration>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca, cert, key) = local_tls(dir.path());
        let (port, mgmt) = (free_port(), free_port());
        let mut pebble = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(v) = validity {
            pebble["certificateValidityPeriod"] = v.as_secs().into();
        }
        let config = dir.path().join("pebble.json");
        std::fs::write(&config, serde_json::json!({ "pebble": pebble }).to_string())
            .expect("pebble.json");
        let args = vec![
            "-config".to_owned(),
            config.display().to_string(),
            "-dnsserver".to_owned(),
            dns.to_string(),
        ];
        let mut p = Self {
            child: None,
            dir,
            args,
            directory: format!("https://localhost:{port}/dir"),
            tls_root: ca,
            management: SocketAddr::from(([127, 0, 0, 1], mgmt)),
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        p.resume();
        p
    }

    /// Stops the CA (a CA that is down).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again, same addresses (a new root: Pebble makes one per start).
    pub fn resume(&mut self) {
        let log = self.dir.path().join("pebble.log");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut child = spawn(
            "/usr/bin/pebble",
            &args,
            &[("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_WFE_NONCEREJECT", "0")],
            &log,
        );
        wait_for_tcp(self.listen, "pebble", &mut child, &log);
        wait_for_tcp(self.management, "pebble", &mut child, &log);
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// The root the certificates Pebble issues chain to (PEM), from its management API.
    pub fn issuing_root(&self) -> String {
        self.management_get("/roots/0")
    }

    fn management_get(&self, path: &str) -> String {
        self.https_get(self.management, path)
    }

    /// `GET path` of Pebble's HTTPS at `addr`, the body as text.
    fn https_get(&self, addr: SocketAddr, path: &str) -> String {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&self.tls_root).expect("the TLS root");
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            roots.add(cert.expect("PEM")).expect("a root");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS");
        let tcp = TcpStream::connect(addr).expect("pebble");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        write!(
            tls,
            "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            addr.port()
        )
        .expect("a request");
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (_, body) = text.split_once("\r\n\r\n").expect("an answer");
        body.to_owned()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

/// ACME Renewal Information (RFC 9773) in front of Pebble, whose Debian build does not offer
/// it: an HTTPS directory that is Pebble's own (every other URL still points at Pebble) plus a
/// `renewalInfo` endpoint answering the window the test sets, in the RFC's wire format. It
/// records the certificate identifiers clients ask about.
#[derive(Debug)]
pub struct RenewalInfo {
    /// The directory URL to give clients instead of Pebble's.
    pub directory: String,
    /// The suggested window served (RFC 3339 start and end).
    pub window: Arc<std::sync::Mutex<(String, String)>>,
    /// The certificate identifiers asked for, in order.
    pub asked: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    addr: SocketAddr,
}

impl RenewalInfo {
    pub fn start(pebble: &Pebble, window: (&str, &str)) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = listener.local_addr().expect("an address");
        let mut directory: serde_json::Value =
            serde_json::from_str(&pebble.https_get(pebble.listen, "/dir")).expect("the directory");
        directory["renewalInfo"] = format!("https://localhost:{}/renewal-info", addr.port()).into();
        let directory = directory.to_string();
        let dir = pebble.dir.path();
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("cert.pem"))
            .expect("cert.pem")
            .map(|c| c.expect("PEM"))
            .collect();
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("key.pem")).expect("key");
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the certificate"),
        );
        let window = Arc::new(std::sync::Mutex::new((
            window.0.to_owned(),
            window.1.to_owned(),
        )));
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (w, a, st) = (window.clone(), asked.clone(), stop.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if st.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let (config, w, a, directory) =
                    (config.clone(), w.clone(), a.clone(), directory.clone());
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match tls.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let (status, body, extra) = if path == "/dir" {
                        ("200 OK", directory, "")
                    } else if let Some(id) = path.strip_prefix("/renewal-info/") {
                        a.lock().expect("asked").push(id.to_owned());
                        let (start, end) = w.lock().expect("window").clone();
                        let body = serde_json::json!({
                            "suggestedWindow": { "start": start, "end": end }
                        });
                        ("200 OK", body.to_string(), "Retry-After: 21600\r\n")
                    } else {
                        ("404 Not Found", String::new(), "")
                    };
                    let _ = write!(
                        tls,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        Self {
            directory: format!("https://localhost:{}/dir", addr.port()),
            window,
            asked,
            stop,
            addr,
        }
    }
}

impl Drop for RenewalInfo {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

use rustls::pki_types::pem::PemObject as _;

/// Accepts any server certificate, for tests that look at what was served themselves.
#[derive(Debug)]
pub struct AnyCert;

fn algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        algorithms().supported_schemes()
    }
}

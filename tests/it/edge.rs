//! The edge router end to end: the real binary, Postgres, and the engine in swarm mode. An
//! application with a domain answers through the router over HTTP (redirected) and HTTPS,
//! keeps answering through a rolling update under load, and says when it is stopped; unknown
//! hosts get the 404 page and berth's API answers only on its own host.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::pipeline::{setup_application, Cleanup, Repo};
use crate::{fresh_pg, start, terminate, Load};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An answer: status, headers (lower-case names), body, and the names on the certificate.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub cert_names: Vec<String>,
    /// The certificate served (DER), over HTTPS.
    pub leaf: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &[u8], cert_names: Vec<String>) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete answer: {text:?}"))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
        cert_names,
        leaf: Vec::new(),
    })
}

fn request_text(host: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

/// One GET over plain HTTP to the router.
pub(crate) fn http(port: u16, host: &str, path: &str) -> Result<Reply, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request_text(host, path).as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    parse(&raw, Vec::new())
}

/// One GET over HTTPS to the router, with `host` as SNI, accepting any certificate.
pub(crate) fn https(port: u16, host: &str, path: &str) -> Result<Reply, String> {
    https_trusting(port, host, path, None)
}

/// One GET over HTTPS; with `root` (PEM), the chain and name are verified against it.
pub(crate) fn https_trusting(
    port: u16,
    host: &str,
    path: &str,
    root: Option<&str>,
) -> Result<Reply, String> {
    let builder = rustls::ClientConfig::builder_with_provider(berth_proxy::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match root {
        Some(pem) => {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(berth_testkit::acme::AnyCert))
            .with_no_client_auth(),
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request_text(host, path).as_bytes())
        .map_err(|e| format!("tls: {e}"))?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A peer that closes without close_notify: what arrived is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(format!("read: {e}")),
    }
    let leaf = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|leaf| leaf.as_ref().to_vec())
        .unwrap_or_default();
    let names = berth_proxy::tls::info_of_der(&leaf)
        .map(|i| i.names)
        .unwrap_or_default();
    let mut reply = parse(&raw, names)?;
    reply.leaf = leaf;
    Ok(reply)
}

/// A client that keeps requesting `host` through the router over HTTPS.
fn https_load(port: u16, host: &'static str) -> Load {
    Load::start(move || {
        Some(match https(port, host, "/") {
            Ok(r) if r.status == 200 => Ok(r.body.trim().to_owned()),
            Ok(r) => Err(format!("{} {}", r.status, r.body)),
            Err(e) => Err(e),
        })
    })
}

/// Polls `f` until it returns `Some`, for up to `within`.
pub(crate) fn eventually<T>(within: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_application_answers_at_its_domain_through_the_router_and_through_a_rolling_update() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let (http_port, https_port) = (free_port(), free_port());
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[
            ("BERTH_DATABASE_URL", &url),
            ("BERTH_BCRYPT_COST", "4"),
            ("BERTH_PROXY_HTTP", &format!("127.0.0.1:{http_port}")),
            ("BERTH_PROXY_HTTPS", &format!("127.0.0.1:{https_port}")),
            ("BERTH_API_HOSTS", "berth.test"),
            ("BERTH_ACME_DIRECTORY", "off"),
        ],
    );
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (status, domain) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/domains"),
        Some(json!({ "host": "shop.test", "routing": { "hsts": true } })),
    );
    assert_eq!(status, 201, "{domain}");
    let (status, d1) = hook.push("main", &v1);
    assert_eq!(status, 202, "{d1}");
    let d1 = api.wait(d1["id"].as_str().unwrap());
    assert_eq!(d1["status"], "success", "{d1}");

    // HTTP redirects to HTTPS; HTTPS serves the application with HSTS, on a self-signed
    // certificate for the domain until one is issued.
    let r = eventually(Duration::from_secs(10), || {
        http(http_port, "shop.test", "/index.html?x=1")
            .ok()
            .filter(|r| r.status == 308)
    })
    .expect("HTTP redirects to HTTPS");
    assert_eq!(
        r.header("location"),
        Some(format!("https://shop.test:{https_port}/index.html?x=1").as_str())
    );
    let r = eventually(Duration::from_secs(10), || {
        https(https_port, "shop.test", "/")
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("the application answers over HTTPS");
    assert_eq!(r.body.trim(), "v1");
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(r.cert_names, ["shop.test"]);

    // Unknown hosts get the 404 page, never berth's API; the API answers on its own host.
    let r = https(https_port, "nobody.test", "/healthz").unwrap();
    assert_eq!(r.status, 404);
    assert!(r.body.contains("No application answers"), "{}", r.body);
    let r = http(http_port, "nobody.test", "/api/v1/auth/setup").unwrap();
    assert_eq!(r.status, 404);
    let r = https(https_port, "berth.test", "/healthz").unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"status":"ok"}"#));

    // A rolling update behind the router under a steady client load: no request fails.
    let v2 = repo.commit("v2", true, true);
    let load = https_load(https_port, "shop.test");
    std::thread::sleep(Duration::from_millis(500));
    let (_, d2) = hook.push("main", &v2);
    let d2 = api.wait(d2["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(1500));
    let (requests, failures, seen) = load.finish();
    assert_eq!(d2["status"], "success", "{d2}");
    println!(
        "rolling update behind the router: {requests} requests, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(seen.first().map(String::as_str), Some("v1"));
    assert_eq!(seen.last().map(String::as_str), Some("v2"));
    let (_, view) = api.call(
        "GET",
        &format!("/api/v1/domains/{}", domain["id"].as_str().unwrap()),
        None,
    );
    assert!(
        view["traffic"]["requests"].as_u64().unwrap() >= requests,
        "the router counts the domain's requests: {view}"
    );
    assert_eq!(view["traffic"]["errors"], 0, "{view}");

    // Stopped: the 503 page says so; started again: served.
    let op = api.operate("POST", &format!("/api/v1/applications/{app_id}/stop"), None);
    assert_eq!(op["status"], "success", "{op}");
    let r = eventually(Duration::from_secs(10), || {
        https(https_port, "shop.test", "/")
            .ok()
            .filter(|r| r.status == 503)
    })
    .expect("a stopped application answers 503");
    assert!(r.body.contains("stopped"), "{}", r.body);
    let op = api.operate(
        "POST",
        &format!("/api/v1/applications/{app_id}/start"),
        None,
    );
    assert_eq!(op["status"], "success", "{op}");
    eventually(Duration::from_secs(10), || {
        https(https_port, "shop.test", "/")
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("started again, it is served");

    // An application that publishes no port gets a domain while it runs: the router reaches
    // the replicas at their own addresses, so it is served at once, with nothing redeployed.
    let (_, project) = api.call("POST", "/api/v1/projects", Some(json!({ "name": "late" })));
    let (status, late) = api.call(
        "POST",
        &format!("/api/v1/projects/{}/applications", project["id"].as_str().unwrap()),
        Some(json!({
            "name": "late",
            "source": { "type": "git", "provider": "github", "repository": repo.url(), "branch": "main" },
            "replicas": 1
        })),
    );
    assert_eq!(status, 201, "{late}");
    let late = late["id"].as_str().unwrap().to_owned();
    let _late_cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: late.clone(),
    };
    let (status, first) = api.call(
        "POST",
        &format!("/api/v1/applications/{late}/deployments"),
        None,
    );
    assert_eq!(status, 202, "{first}");
    let first = api.wait(first["id"].as_str().unwrap());
    assert_eq!(first["status"], "success", "{first}");
    // First on a port the application does not listen on: nothing answers there.
    let (status, domain) = api.call(
        "POST",
        &format!("/api/v1/applications/{late}/domains"),
        Some(json!({ "host": "late.test", "routing": { "port": 8081 } })),
    );
    assert_eq!(status, 201, "{domain}");
    let deployments = || {
        let (_, history) = api.call(
            "GET",
            &format!("/api/v1/applications/{late}/deployments"),
            None,
        );
        history["items"].as_array().unwrap().len()
    };
    eventually(Duration::from_secs(10), || {
        https(https_port, "late.test", "/")
            .ok()
            .filter(|r| r.status == 502)
    })
    .expect("nothing listens on the domain's port: the bad-gateway page");
    // Moving the domain to the port the application listens on serves it.
    let (status, domain) = api.call(
        "PATCH",
        &format!("/api/v1/domains/{}", domain["id"].as_str().unwrap()),
        Some(json!({ "routing": { "port": 8080 } })),
    );
    assert_eq!(status, 200, "{domain}");
    let r = eventually(Duration::from_secs(10), || {
        https(https_port, "late.test", "/")
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("the late domain is served");
    assert_eq!(r.body.trim(), "v2");
    assert_eq!(deployments(), 1, "a domain needs no deployment");
    drop(_late_cleanup);
    drop(_cleanup);
    terminate(b);
}

/// The domain's view, once `ready` says it is.
pub(crate) fn domain_when(
    api: &crate::pipeline::Api<'_>,
    id: &str,
    within: Duration,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    eventually(within, || {
        let (_, d) = api.call("GET", &format!("/api/v1/domains/{id}"), None);
        last = d.clone();
        ready(&d).then_some(d)
    })
    .unwrap_or_else(|| panic!("the domain did not get there: {last}"))
}

#[test]
fn certificates_come_from_the_ca_renew_under_load_and_outlive_a_ca_outage() {
    use berth_testkit::acme::{Bind, Pebble};
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let (http_port, https_port) = (free_port(), free_port());
    let bind = Bind::start();
    let mut pebble = Pebble::start(http_port, bind.addr, None);
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[
            ("BERTH_DATABASE_URL", &url),
            ("BERTH_BCRYPT_COST", "4"),
            ("BERTH_PROXY_HTTP", &format!("127.0.0.1:{http_port}")),
            ("BERTH_PROXY_HTTPS", &format!("127.0.0.1:{https_port}")),
            ("BERTH_ACME_DIRECTORY", &pebble.directory),
            ("BERTH_ACME_CA_ROOT", pebble.tls_root.to_str().unwrap()),
            ("BERTH_ACME_EMAIL", "ops@example.com"),
            ("BERTH_API_HOSTS", "berth.test"),
        ],
    );
    let root = pebble.issuing_root();
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (status, domain) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/domains"),
        Some(json!({ "host": "shop.test" })),
    );
    assert_eq!(status, 201, "{domain}");
    let shop = domain["id"].as_str().unwrap().to_owned();
    // DNS-01 through BIND, set by an admin through the API.
    let (status, dns) = api.call(
        "PUT",
        "/api/v1/settings/acme-dns",
        Some(json!({
            "server": bind.addr.to_string(), "zone": bind.zone,
            "key_name": bind.key_name, "key_secret": bind.secret
        })),
    );
    assert_eq!(status, 200, "{dns}");
    let (status, wildcard) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/domains"),
        Some(json!({ "host": "*.apps.test" })),
    );
    assert_eq!(status, 201, "{wildcard}");
    let wildcard = wildcard["id"].as_str().unwrap().to_owned();
    let (_, d1) = hook.push("main", &v1);
    let d1 = api.wait(d1["id"].as_str().unwrap());
    assert_eq!(d1["status"], "success", "{d1}");

    // HTTP-01 answered by the router, and DNS-01 through BIND for the wildcard: both
    // certificates verify against Pebble's root.
    let issued = domain_when(&api, &shop, Duration::from_secs(90), |d| {
        d["certificate"]["source"] == "acme"
    });
    assert!(issued["certificate"]["renew_at"].is_string(), "{issued}");
    domain_when(&api, &wildcard, Duration::from_secs(90), |d| {
        d["certificate"]["source"] == "acme"
    });
    let r = eventually(Duration::from_secs(20), || {
        https_trusting(https_port, "shop.test", "/", Some(&root)).ok()
    })
    .expect("HTTPS verifies against the CA's root");
    assert_eq!((r.status, r.body.trim()), (200, "v1"));
    let r = eventually(Duration::from_secs(20), || {
        https_trusting(https_port, "any.apps.test", "/", Some(&root)).ok()
    })
    .expect("the wildcard certificate verifies");
    assert_eq!(r.status, 200);
    // berth's own host gets its certificate from the CA as well.
    let r = eventually(Duration::from_secs(60), || {
        https_trusting(https_port, "berth.test", "/healthz", Some(&root)).ok()
    })
    .expect("berth's own host is served with a certificate that verifies");
    assert_eq!(r.status, 200, "{}", r.body);

    // A renewal under a steady load: no request fails, the new certificate is served.
    let before = https_trusting(https_port, "shop.test", "/", Some(&root))
        .unwrap()
        .leaf;
    let load = https_load(https_port, "shop.test");
    std::thread::sleep(Duration::from_millis(300));
    let (status, renewing) = api.call(
        "POST",
        &format!("/api/v1/domains/{shop}/certificate/renew"),
        None,
    );
    assert_eq!(status, 202, "{renewing}");
    let created = issued["certificate"]["created_at"].clone();
    domain_when(&api, &shop, Duration::from_secs(90), |d| {
        d["certificate"]["created_at"] != created && d["certificate"]["source"] == "acme"
    });
    let after = eventually(Duration::from_secs(20), || {
        let r = https_trusting(https_port, "shop.test", "/", Some(&root)).ok()?;
        (r.leaf != before).then_some(r)
    })
    .expect("the renewed certificate is served");
    assert_eq!(after.status, 200);
    std::thread::sleep(Duration::from_millis(500));
    let (requests, failures, _) = load.finish();
    println!(
        "renewal under load: {requests} requests, {} failed",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");

    // The CA goes down: the renewal fails, is recorded with a backoff, and the certificate in
    // hand keeps being served.
    pebble.stop();
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/domains/{shop}/certificate/renew"),
        None,
    );
    assert_eq!(status, 202);
    let failed = domain_when(&api, &shop, Duration::from_secs(60), |d| {
        d["certificate_attempts"]["failures"].as_u64() >= Some(1)
    });
    assert!(
        failed["certificate_attempts"]["last_error"]
            .as_str()
            .unwrap()
            .contains("certificate authority"),
        "{failed}"
    );
    assert!(failed["certificate_attempts"]["retry_at"].is_string());
    let r = https_trusting(https_port, "shop.test", "/", Some(&root)).unwrap();
    assert_eq!((r.status, r.leaf == after.leaf), (200, true));

    // Custom certificates: checked, then served instead of ACME's.
    let mine = rcgen::generate_simple_self_signed(vec!["shop.test".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["shop.test".to_owned()]).unwrap();
    let put = |cert: String, key: String| {
        api.call(
            "PUT",
            &format!("/api/v1/domains/{shop}/certificate"),
            Some(json!({ "certificate_pem": cert, "private_key_pem": key })),
        )
    };
    let (status, e) = put(mine.cert.pem(), other.signing_key.serialize_pem());
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "private_key_pem", "{e}");
    let mut old = rcgen::CertificateParams::new(vec!["shop.test".to_owned()]).unwrap();
    old.not_before = rcgen::date_time_ymd(2020, 1, 1);
    old.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let old_key = rcgen::KeyPair::generate().unwrap();
    let expired = old.self_signed(&old_key).unwrap();
    let (status, e) = put(expired.pem(), old_key.serialize_pem());
    assert_eq!(status, 422, "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    let (status, view) = put(mine.cert.pem(), mine.signing_key.serialize_pem());
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["certificate"]["source"], "custom");
    assert!(
        !view.to_string().contains("PRIVATE KEY"),
        "the key is write-only"
    );
    let served = eventually(Duration::from_secs(20), || {
        let r = https(https_port, "shop.test", "/").ok()?;
        (r.leaf == mine.cert.der().to_vec()).then_some(r)
    })
    .expect("the uploaded certificate is served");
    assert_eq!(served.status, 200);
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/domains/{shop}/certificate/renew"),
        None,
    );
    assert_eq!(status, 409, "a custom certificate is not renewed by ACME");

    drop(cleanup);
    terminate(b);
}

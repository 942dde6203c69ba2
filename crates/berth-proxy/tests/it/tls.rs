use berth_proxy::tls::{load, CertError};
use rustls::version::{TLS12, TLS13};

use crate::fixture::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn sni_chooses_the_certificate_over_tls_1_2_and_1_3_with_http_2_by_alpn() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    router.proxy.install(vec![
        route("a", "a.test", vec![app]),
        route("b", "b.test", vec![app]),
        route("w", "*.w.test", vec![app]),
    ]);
    let ca = Ca::new();
    let (chain, key) = ca.leaf(&["a.test"], -1, 30);
    let a = load(&chain, &key, Some("a.test"), now()).unwrap();
    router.proxy.certs().set("a.test", a.key);
    let (chain, key) = ca.leaf(&["*.w.test"], -1, 30);
    router
        .proxy
        .certs()
        .set("*.w.test", load(&chain, &key, None, now()).unwrap().key);

    for version in [&TLS12, &TLS13] {
        let tls = Tls::connect(router.https, "a.test", &[version], &[b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(tls.names(), ["a.test"]);
        assert_eq!(tls.version(), version.version);
    }
    let tls = Tls::connect(router.https, "shop.w.test", &[&TLS13], &[])
        .await
        .unwrap();
    assert_eq!(tls.names(), ["*.w.test"], "a wildcard certificate");
    // No certificate yet: a self-signed one for that host.
    let tls = Tls::connect(router.https, "b.test", &[&TLS13], &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(tls.names(), ["b.test"]);
    assert_eq!(tls.alpn().as_deref(), Some(&b"h2"[..]));
    let mut h2 = tls.sender().await;
    let answer = h2
        .send(
            hyper::Request::get("https://b.test/over-h2")
                .body(http_body_util::BodyExt::boxed(http_body_util::Full::new(
                    bytes::Bytes::new(),
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.starts_with("app GET /over-h2 host=b.test"),
        "{}",
        answer.body
    );
    // A host the router does not answer never gets its name on a certificate.
    let tls = Tls::connect(router.https, "unknown.test", &[&TLS13], &[])
        .await
        .unwrap();
    assert_eq!(tls.names(), ["berth.invalid"]);
    let mut s = tls.sender().await;
    assert_eq!(s.send(get("unknown.test", "/")).await.status, 404);
}

#[tokio::test]
async fn a_new_certificate_takes_effect_without_dropping_an_open_connection() {
    let app = replica("app").await;
    let router = Router::start(|_| {}).await;
    router.proxy.install(vec![route("a", "a.test", vec![app])]);
    let ca = Ca::new();
    let (chain, key) = ca.leaf(&["a.test"], -1, 30);
    router
        .proxy
        .certs()
        .set("a.test", load(&chain, &key, None, now()).unwrap().key);
    let old = Tls::connect(router.https, "a.test", &[&TLS13], &[b"http/1.1"])
        .await
        .unwrap();
    let old_leaf = old.stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    let mut old = old.sender().await;
    assert_eq!(old.send(get("a.test", "/")).await.status, 200);

    let (chain, key) = ca.leaf(&["a.test"], -1, 60);
    router
        .proxy
        .certs()
        .set("a.test", load(&chain, &key, None, now()).unwrap().key);
    let new = Tls::connect(router.https, "a.test", &[&TLS13], &[b"http/1.1"])
        .await
        .unwrap();
    assert_ne!(
        new.stream.get_ref().1.peer_certificates().unwrap()[0],
        old_leaf,
        "a new handshake gets the new certificate"
    );
    assert_eq!(
        old.send(get("a.test", "/")).await.status,
        200,
        "the open connection goes on"
    );
}

#[test]
fn custom_certificates_are_checked_before_they_are_served() {
    let ca = Ca::new();
    let (chain, key) = ca.leaf(&["shop.test"], -1, 30);
    let loaded = load(&chain, &key, Some("shop.test"), now()).unwrap();
    assert_eq!(loaded.info.names, ["shop.test"]);
    assert!(loaded.info.not_after > now());

    let (_, other_key) = ca.leaf(&["shop.test"], -1, 30);
    assert_eq!(
        load(&chain, &other_key, None, now()).unwrap_err(),
        CertError::KeyMismatch
    );
    let (expired, key2) = ca.leaf(&["shop.test"], -30, -1);
    assert_eq!(
        load(&expired, &key2, None, now()).unwrap_err(),
        CertError::Expired
    );
    let (future, key3) = ca.leaf(&["shop.test"], 2, 30);
    assert_eq!(
        load(&future, &key3, None, now()).unwrap_err(),
        CertError::NotYetValid
    );
    assert_eq!(
        load(&chain, &key, Some("other.test"), now()).unwrap_err(),
        CertError::WrongName("other.test".into())
    );
    // A chain whose next certificate did not sign the leaf.
    let stranger = Ca::new();
    let leaf_only = chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap();
    let broken = format!("{leaf_only}{}", stranger.pem);
    assert_eq!(
        load(&broken, &key, None, now()).unwrap_err(),
        CertError::BrokenChain { index: 0 }
    );
    assert_eq!(
        load("not pem", &key, None, now()).unwrap_err(),
        CertError::NoCertificate
    );
    assert!(matches!(
        load(&chain, "not a key", None, now()).unwrap_err(),
        CertError::BadKey(_)
    ));
}

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! Certificates from a real ACME server: Debian's Pebble on loopback, validating HTTP-01
//! against berth's own router and DNS-01 against Debian's BIND with a TSIG key, names resolved
//! by that BIND.

use std::time::Duration;

use berth_acme::{Acme, AcmeError, AcmeSettings, Http01, Rfc2136};
use berth_events::CancelToken;
use berth_proxy::{Proxy, ProxySettings};
use berth_testkit::acme::{free_port, Bind, Pebble, RenewalInfo};

/// The router answers HTTP-01 challenges from memory.
struct Router(Proxy);

impl Http01 for Router {
    fn put(&self, token: &str, key_authorization: &str) {
        self.0.set_challenge(token, key_authorization);
    }
    fn remove(&self, token: &str) {
        self.0.remove_challenge(token);
    }
}

async fn router() -> (Proxy, u16, CancelToken) {
    let port = free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let proxy = Proxy::new(ProxySettings::default()).unwrap();
    let stop = CancelToken::new();
    let (p, s) = (proxy.clone(), stop.clone());
    tokio::spawn(async move { p.serve_http(listener, s).await });
    (proxy, port, stop)
}

fn settings(pebble: &Pebble) -> AcmeSettings {
    AcmeSettings {
        directory_url: pebble.directory.clone(),
        contact_email: Some("ops@example.com".into()),
        ca_root: Some(pebble.tls_root.clone()),
    }
}

fn now() -> i64 {
    berth_acme::unix_now()
}

/// The chain with Pebble's issuing root appended passes berth's own checks: key matches,
/// each certificate signed by the next, valid now, covering `host`.
fn assert_chains_to_pebble(pebble: &Pebble, issued: &berth_acme::Issued, host: &str) {
    let chain = format!("{}\n{}", issued.chain_pem.trim_end(), pebble.issuing_root());
    let loaded = berth_proxy::tls::load(&chain, &issued.key_pem, Some(host), now())
        .unwrap_or_else(|e| panic!("{e}\n{chain}"));
    assert!(
        loaded.info.issuer.contains("Pebble"),
        "{}",
        loaded.info.issuer
    );
}

#[tokio::test]
async fn http_01_is_answered_by_the_router_and_the_account_is_kept() {
    let bind = Bind::start();
    let (proxy, port, _stop) = router().await;
    let pebble = Pebble::start(port, bind.addr, None);
    let (acme, credentials) = Acme::connect(&settings(&pebble), None).await.unwrap();
    let credentials = credentials.expect("a new account's credentials to keep");
    let issued = acme
        .issue(&["shop.test".into()], Some(&Router(proxy.clone())), None)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
    assert_chains_to_pebble(&pebble, &issued, "shop.test");
    assert!(issued.not_after > now());
    assert!(
        !format!("{issued:?}").contains("PRIVATE"),
        "the key never prints"
    );

    // The stored account is used again; nothing new is created.
    let (again, none) = Acme::connect(&settings(&pebble), Some(&credentials))
        .await
        .unwrap();
    assert!(none.is_none());
    let renew_at = again.renew_at(&issued.chain_pem).await;
    let (from, to) = (issued.not_before, issued.not_after);
    let life = to - from;
    assert!(
        renew_at > from + life / 2 && renew_at < to,
        "renewal planned inside the lifetime, two thirds in: {from} {renew_at} {to}"
    );

    // A name nothing answers for: the order fails and says why.
    let e = again
        .issue(&["nobody-answers.test".into()], Some(&NoAnswer), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, AcmeError::Challenge { .. }),
        "{e}\n{}",
        pebble.log()
    );
}

/// When the CA offers renewal information (RFC 9773), the renewal is planned inside the
/// window it suggests for that certificate, asked for by the RFC's certificate identifier
/// (the issuer's key identifier and the serial number, base64url, joined by a dot).
#[tokio::test]
async fn renewal_follows_the_cas_renewal_information_when_it_offers_it() {
    let bind = Bind::start();
    let (proxy, port, _stop) = router().await;
    let pebble = Pebble::start(port, bind.addr, None);
    // A window well before the two-thirds point of Pebble's five-year certificates.
    let (start, end) = (now() + 3 * 86_400, now() + 4 * 86_400);
    let rfc3339 = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let ari = RenewalInfo::start(&pebble, (&rfc3339(start), &rfc3339(end)));
    let settings = AcmeSettings {
        directory_url: ari.directory.clone(),
        ..settings(&pebble)
    };
    let (acme, _) = Acme::connect(&settings, None).await.unwrap();
    let issued = acme
        .issue(&["ari.test".into()], Some(&Router(proxy.clone())), None)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
    let renew_at = acme.renew_at(&issued.chain_pem).await;
    assert!(
        (start..=end).contains(&renew_at),
        "inside the CA's window: {start} <= {renew_at} <= {end}"
    );

    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let aki = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => None,
        })
        .expect("an authority key identifier");
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let expected = format!("{}.{}", b64(&aki), b64(cert.raw_serial()));
    assert_eq!(*ari.asked.lock().unwrap(), [expected]);

    // The window moves (the CA wants this certificate replaced now): the plan follows it.
    *ari.window.lock().unwrap() = (rfc3339(now() - 60), rfc3339(now()));
    let renew_at = acme.renew_at(&issued.chain_pem).await;
    assert!(renew_at <= now(), "due now: {renew_at}");
}

/// Answers nothing: the router is not told the token.
struct NoAnswer;

impl Http01 for NoAnswer {
    fn put(&self, _: &str, _: &str) {}
    fn remove(&self, _: &str) {}
}

#[tokio::test]
async fn a_wildcard_is_issued_by_dns_01_through_bind_and_a_wrong_key_is_refused() {
    let bind = Bind::start();
    let pebble = Pebble::start(free_port(), bind.addr, None);
    let (acme, _) = Acme::connect(&settings(&pebble), None).await.unwrap();
    let dns = Rfc2136::new(bind.addr, &bind.zone, &bind.key_name, &bind.secret).unwrap();
    let issued = acme
        .issue(&["*.apps.test".into()], None, Some(&dns))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", pebble.log()));
    assert_chains_to_pebble(&pebble, &issued, "shop.apps.test");

    let wrong = Rfc2136::new(bind.addr, &bind.zone, &bind.key_name, "d3Jvbmcga2V5").unwrap();
    let e = wrong
        .add_txt("_acme-challenge.x.test", "value", 60)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("NOTAUTH"), "{e}");
    // A name never authorized before (the CA may reuse a valid authorization, as Let's
    // Encrypt does, and then asks for no challenge at all).
    let e = acme
        .issue(&["*.never-seen.test".into()], None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, AcmeError::NeedsDns(_)), "{e}");
}

#[tokio::test]
async fn a_ca_that_is_down_is_an_error_that_says_so() {
    let bind = Bind::start();
    let mut pebble = Pebble::start(free_port(), bind.addr, None);
    let (acme, _) = Acme::connect(&settings(&pebble), None).await.unwrap();
    pebble.stop();
    let e = acme
        .issue(&["shop.test".into()], Some(&NoAnswer), None)
        .await
        .unwrap_err();
    assert!(matches!(e, AcmeError::Ca(_)), "{e}");
    let e = Acme::connect(&settings(&pebble), None).await.unwrap_err();
    assert!(matches!(e, AcmeError::Ca(_)), "{e}");
    let _ = Duration::ZERO;
}

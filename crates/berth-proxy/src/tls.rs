//! Certificates the HTTPS listener serves, chosen by SNI. Replacing one takes effect for the
//! next handshake: no restart, no dropped connection. A host the router answers that has no
//! certificate yet gets a self-signed one, made on first use.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::prelude::*;

/// Why a certificate was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("the certificate chain holds no certificate in PEM")]
    NoCertificate,
    #[error("the certificate chain is not valid PEM: {0}")]
    BadChain(String),
    #[error("the private key is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {0}")]
    BadKey(String),
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    #[error("certificate {index} of the chain is not signed by the next one")]
    BrokenChain { index: usize },
    #[error("the certificate cannot be read: {0}")]
    Invalid(String),
    #[error("the certificate has expired")]
    Expired,
    #[error("the certificate is not valid yet")]
    NotYetValid,
    #[error("the certificate does not cover {0}")]
    WrongName(String),
    #[error("a certificate could not be made: {0}")]
    Generate(String),
}

/// The crypto provider of berth's TLS (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The issuer's distinguished name.
    pub issuer: String,
    /// DNS names it covers (subject alternative names).
    pub names: Vec<String>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// A certificate ready to serve.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
}

/// Reads a chain (leaf first) and its private key from PEM and checks them: the key matches
/// the leaf, each certificate is signed by the next, the leaf is valid at `now` (unix seconds)
/// and covers `host` when one is given.
pub fn load(
    chain_pem: &str,
    key_pem: &str,
    host: Option<&str>,
    now: i64,
) -> Result<Loaded, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::BadChain(e.to_string()))?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| CertError::BadKey(e.to_string()))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::BadKey(e.to_string()))?;
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .map(|c| {
            X509Certificate::from_der(c.as_ref())
                .map(|(_, c)| c)
                .map_err(|e| CertError::Invalid(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let leaf = &parsed[0];
    let ck = CertifiedKey::new(chain.clone(), signing);
    if let Err(rustls::Error::InconsistentKeys(_)) = ck.keys_match() {
        return Err(CertError::KeyMismatch);
    }
    for (index, pair) in parsed.windows(2).enumerate() {
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .map_err(|_| CertError::BrokenChain { index })?;
    }
    let info = info_of(leaf);
    if now < info.not_before {
        return Err(CertError::NotYetValid);
    }
    if now >= info.not_after {
        return Err(CertError::Expired);
    }
    if let Some(host) = host {
        if !covers(&info.names, host) {
            return Err(CertError::WrongName(host.to_owned()));
        }
    }
    Ok(Loaded {
        key: Arc::new(ck),
        info,
    })
}

/// Reads what a DER certificate says about itself.
pub fn info_of_der(der: &[u8]) -> Result<CertInfo, CertError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertError::Invalid(e.to_string()))?;
    Ok(info_of(&cert))
}

fn info_of(cert: &X509Certificate<'_>) -> CertInfo {
    let names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    CertInfo {
        issuer: cert.issuer().to_string(),
        names,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    }
}

/// Whether `names` cover `host`: exactly, or by a wildcard of one label.
pub fn covers(names: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    names.iter().any(|n| {
        n == &host
            || n.strip_prefix("*.").is_some_and(|parent| {
                host.split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == parent)
            })
    })
}

/// A self-signed certificate for `names`, valid for 90 days.
pub fn self_signed(names: &[String]) -> Result<Arc<CertifiedKey>, CertError> {
    let made = rcgen::generate_simple_self_signed(names.to_vec())
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| CertError::Generate(e.to_string()))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![made.cert.der().clone()],
        signing,
    )))
}

/// The certificates by host, swapped whole; self-signed ones for hosts the router answers
/// but that have none yet.
#[derive(Debug)]
pub struct CertStore {
    certs: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    /// Hosts the router answers (a self-signed certificate is made only for them).
    known: ArcSwap<HashSet<String>>,
    made: Mutex<HashMap<String, Arc<CertifiedKey>>>,
    /// For a handshake naming no host, or one the router does not answer.
    fallback: Arc<CertifiedKey>,
}

impl CertStore {
    pub fn new() -> Result<Self, CertError> {
        Ok(Self {
            certs: ArcSwap::from_pointee(HashMap::new()),
            known: ArcSwap::from_pointee(HashSet::new()),
            made: Mutex::new(HashMap::new()),
            fallback: self_signed(&["berth.invalid".to_owned()])?,
        })
    }

    /// Replaces every certificate: `host` (lower case, or `*.parent`) -> certificate.
    pub fn replace(&self, certs: HashMap<String, Arc<CertifiedKey>>) {
        self.certs.store(Arc::new(certs));
    }

    /// Sets one host's certificate.
    pub fn set(&self, host: &str, cert: Arc<CertifiedKey>) {
        let mut next = HashMap::clone(&self.certs.load());
        next.insert(host.to_ascii_lowercase(), cert);
        self.certs.store(Arc::new(next));
    }

    pub(crate) fn set_known(&self, hosts: HashSet<String>) {
        if let Ok(mut made) = self.made.lock() {
            made.retain(|h, _| hosts.contains(h));
        }
        self.known.store(Arc::new(hosts));
    }

    /// The certificate a handshake for `host` gets.
    pub fn for_host(&self, host: Option<&str>) -> Arc<CertifiedKey> {
        let Some(host) = host.map(str::to_ascii_lowercase) else {
            return self.fallback.clone();
        };
        let certs = self.certs.load();
        if let Some(c) = certs.get(&host) {
            return c.clone();
        }
        if let Some((_, parent)) = host.split_once('.') {
            if let Some(c) = certs.get(&format!("*.{parent}")) {
                return c.clone();
            }
        }
        // A name under a known wildcard shares the wildcard's one certificate, so the names
        // a client invents cost nothing: the cache holds at most one per known host.
        let known = self.known.load();
        let name = match host.split_once('.') {
            _ if known.contains(&host) => host,
            Some((_, parent)) if known.contains(&format!("*.{parent}")) => format!("*.{parent}"),
            _ => return self.fallback.clone(),
        };
        if let Some(c) = self.made.lock().ok().and_then(|m| m.get(&name).cloned()) {
            return c;
        }
        // Made outside the lock, so one handshake's key generation holds no other back.
        match self_signed(std::slice::from_ref(&name)) {
            Ok(c) => match self.made.lock() {
                Ok(mut made) => made.entry(name).or_insert(c).clone(),
                Err(_) => c,
            },
            Err(e) => {
                tracing::warn!(error = %e, "no self-signed certificate");
                self.fallback.clone()
            }
        }
    }

    /// How many self-signed certificates are kept.
    #[cfg(test)]
    fn made(&self) -> usize {
        self.made.lock().map(|m| m.len()).unwrap_or(0)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.for_host(hello.server_name()))
    }
}

/// The TLS configuration of the HTTPS listener: TLS 1.3 and 1.2, HTTP/2 and HTTP/1.1 by ALPN,
/// certificates from `store`.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_a_wildcard_share_one_self_signed_certificate() {
        let store = CertStore::new().unwrap();
        store.set_known(HashSet::from([
            "*.apps.test".to_owned(),
            "shop.test".to_owned(),
        ]));
        let first = store.for_host(Some("a.apps.test"));
        for i in 0..200 {
            let c = store.for_host(Some(&format!("n{i}.apps.test")));
            assert!(Arc::ptr_eq(&c, &first));
        }
        assert!(!Arc::ptr_eq(&store.for_host(Some("shop.test")), &first));
        assert!(Arc::ptr_eq(
            &store.for_host(Some("x.elsewhere.test")),
            &store.fallback
        ));
        assert_eq!(
            store.made(),
            2,
            "one per known host, whatever names are asked for"
        );
        let (_, cert) = parse_x509_certificate(first.cert[0].as_ref()).unwrap();
        let names: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["DNSName(*.apps.test)"]);
    }

    #[test]
    fn wildcards_cover_one_label() {
        let names = vec!["example.com".to_owned(), "*.apps.example.com".to_owned()];
        assert!(covers(&names, "Example.com"));
        assert!(covers(&names, "shop.apps.example.com"));
        assert!(!covers(&names, "a.shop.apps.example.com"));
        assert!(!covers(&names, "apps.example.com"));
        assert!(!covers(&names, "www.example.com"));
    }
}

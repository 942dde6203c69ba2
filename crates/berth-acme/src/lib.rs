//! berth's ACME client (RFC 8555, through instant-acme): one account per installation,
//! certificates by HTTP-01 (answered by the edge router from memory) or DNS-01 (RFC 2136
//! dynamic updates with TSIG), and when to renew them (ACME Renewal Information, RFC 9773, when
//! the CA offers it; else at two thirds of the lifetime, with jitter).
//!
//! Architecture invariant: knows nothing of the database or the router. The caller keeps the
//! account's credentials and the certificates, and hands in what answers HTTP-01 challenges.

pub mod dns;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

pub use dns::Rfc2136;

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// Why an ACME operation failed, in words fit for a user.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the ACME settings are not usable: {0}")]
    Config(String),
    #[error("the certificate authority could not be reached or refused: {0}")]
    Ca(String),
    #[error("the challenge for {name} failed: {reason}")]
    Challenge { name: String, reason: String },
    #[error("DNS update failed: {0}")]
    Dns(String),
    #[error("{0} needs DNS-01 (a wildcard), and no DNS server is configured for it")]
    NeedsDns(String),
    #[error("the order did not complete within {0} s")]
    TimedOut(u64),
}

impl From<instant_acme::Error> for AcmeError {
    fn from(e: instant_acme::Error) -> Self {
        AcmeError::Ca(e.to_string())
    }
}

/// Where the certificate authority is and who the account belongs to.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub directory_url: String,
    /// `mailto:` is added; none: an account without contact.
    pub contact_email: Option<String>,
    /// A PEM root to trust for the CA's own HTTPS (a private CA, or a test one); none: the
    /// system's roots.
    pub ca_root: Option<PathBuf>,
}

/// What answers HTTP-01 challenges: the edge router, from memory.
pub trait Http01: Send + Sync {
    fn put(&self, token: &str, key_authorization: &str);
    fn remove(&self, token: &str);
}

/// A certificate just issued.
#[derive(Clone)]
pub struct Issued {
    /// Leaf first, then the chain the CA sent.
    pub chain_pem: String,
    pub key_pem: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

/// An ACME account ready to order.
#[derive(Clone)]
pub struct Acme {
    account: Account,
    /// How long an order may take.
    pub order_timeout: Duration,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme")
            .field("account", &self.account.id())
            .finish()
    }
}

impl Acme {
    /// Restores the account from `stored` credentials (JSON, as returned before), or creates
    /// one at the CA. Returns the credentials to keep when an account was created.
    pub async fn connect(
        settings: &AcmeSettings,
        stored: Option<&str>,
    ) -> Result<(Self, Option<String>), AcmeError> {
        let builder = || match &settings.ca_root {
            Some(root) => Account::builder_with_root(root)
                .map_err(|e| AcmeError::Config(format!("the CA root {}: {e}", root.display()))),
            None => Account::builder().map_err(AcmeError::from),
        };
        if let Some(stored) = stored {
            let credentials: AccountCredentials = serde_json::from_str(stored)
                .map_err(|e| AcmeError::Config(format!("stored ACME account unreadable: {e}")))?;
            let account = builder()?.from_credentials(credentials).await?;
            return Ok((Self::new(account), None));
        }
        let contact = settings
            .contact_email
            .as_ref()
            .map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()?
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                settings.directory_url.clone(),
                None,
            )
            .await?;
        let json = serde_json::to_string(&credentials)
            .map_err(|e| AcmeError::Config(format!("account credentials: {e}")))?;
        Ok((Self::new(account), Some(json)))
    }

    fn new(account: Account) -> Self {
        Self {
            account,
            order_timeout: Duration::from_secs(120),
        }
    }

    /// Orders a certificate for `names` (the first is the main one): HTTP-01 through `http`
    /// for plain names, DNS-01 through `dns` for wildcards (or for every name when `http` is
    /// `None`). Challenge answers are removed again whatever happens.
    pub async fn issue(
        &self,
        names: &[String],
        http: Option<&dyn Http01>,
        dns: Option<&Rfc2136>,
    ) -> Result<Issued, AcmeError> {
        let run = self.order(names, http, dns);
        tokio::time::timeout(self.order_timeout, run)
            .await
            .map_err(|_| AcmeError::TimedOut(self.order_timeout.as_secs()))?
    }

    async fn order(
        &self,
        names: &[String],
        http: Option<&dyn Http01>,
        dns: Option<&Rfc2136>,
    ) -> Result<Issued, AcmeError> {
        let identifiers: Vec<Identifier> =
            names.iter().map(|n| Identifier::Dns(n.clone())).collect();
        let mut order = self.account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut tokens: Vec<String> = Vec::new();
        let mut records: Vec<(String, String)> = Vec::new();
        let answered = async {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz?;
                if authz.status == AuthorizationStatus::Valid {
                    continue;
                }
                let name = authz.identifier().to_string();
                let wildcard = name.starts_with("*.");
                let use_dns = wildcard || http.is_none();
                let kind = if use_dns {
                    ChallengeType::Dns01
                } else {
                    ChallengeType::Http01
                };
                let mut challenge =
                    authz
                        .challenge(kind.clone())
                        .ok_or_else(|| AcmeError::Challenge {
                            name: name.clone(),
                            reason: format!("the CA offers no {kind:?} challenge"),
                        })?;
                let key_auth = challenge.key_authorization();
                if use_dns {
                    let dns = dns.ok_or_else(|| AcmeError::NeedsDns(name.clone()))?;
                    let base = name.trim_start_matches("*.");
                    let record = format!("_acme-challenge.{base}");
                    let value = key_auth.dns_value();
                    dns.add_txt(&record, &value, 60).await?;
                    records.push((record, value));
                } else if let Some(http) = http {
                    let token = challenge.token.clone();
                    http.put(&token, key_auth.as_str());
                    tokens.push(token);
                }
                // A CA that validates at once (Pebble without its sleeps, under load) answers
                // a failed validation here already.
                match challenge.set_ready().await {
                    Ok(()) => {}
                    Err(instant_acme::Error::Api(problem)) => {
                        return Err(validation_failed(names, &problem))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let status = match order
                .poll_ready(&RetryPolicy::new().timeout(self.order_timeout))
                .await
            {
                Ok(s) => s,
                // The CA's own account of a failed validation.
                Err(instant_acme::Error::Api(problem)) => {
                    return Err(validation_failed(names, &problem))
                }
                Err(e) => return Err(e.into()),
            };
            if status != OrderStatus::Ready {
                return Err(self.why_not_ready(&mut order, status).await);
            }
            let key_pem = order.finalize().await?;
            let chain_pem = order
                .poll_certificate(&RetryPolicy::new().timeout(self.order_timeout))
                .await?;
            Ok((chain_pem, key_pem))
        }
        .await;
        for token in &tokens {
            if let Some(http) = http {
                http.remove(token);
            }
        }
        if let Some(dns) = dns {
            for (record, value) in &records {
                if let Err(e) = dns.remove_txt(record, value).await {
                    tracing::warn!(record, error = %e, "a DNS-01 record was left behind");
                }
            }
        }
        let (chain_pem, key_pem) = answered?;
        let (not_before, not_after) = validity(&chain_pem)?;
        Ok(Issued {
            chain_pem,
            key_pem,
            not_before,
            not_after,
        })
    }

    /// What the CA said about the authorizations of an order that did not become ready.
    async fn why_not_ready(
        &self,
        order: &mut instant_acme::Order,
        status: OrderStatus,
    ) -> AcmeError {
        let mut reasons = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(Ok(mut authz)) = authorizations.next().await {
            let name = authz.identifier().to_string();
            if let Ok(state) = authz.refresh().await {
                for c in &state.challenges {
                    if let Some(e) = &c.error {
                        reasons.push(format!("{name}: {}", e.detail.clone().unwrap_or_default()));
                    }
                }
            }
        }
        AcmeError::Challenge {
            name: reasons
                .first()
                .and_then(|r| r.split(':').next())
                .unwrap_or("the order")
                .to_owned(),
            reason: if reasons.is_empty() {
                format!("the order ended {status:?}")
            } else {
                reasons.join("; ")
            },
        }
    }

    /// When to renew `chain_pem`: the CA's renewal window (ARI) when it offers one, a random
    /// moment inside it; else two thirds into the lifetime, give or take a twentieth of it.
    pub async fn renew_at(&self, chain_pem: &str) -> i64 {
        if let Some(at) = self.ari(chain_pem).await {
            return at;
        }
        match validity(chain_pem) {
            Ok((from, to)) => planned_renewal(from, to, rand::random::<f64>()),
            Err(_) => unix_now(),
        }
    }

    async fn ari(&self, chain_pem: &str) -> Option<i64> {
        let der = first_der(chain_pem)?;
        let cert = rustls_pki_der(&der);
        let id = instant_acme::CertificateIdentifier::try_from(&cert).ok()?;
        match self.account.renewal_info(&id).await {
            Ok((info, _retry)) => {
                let start = info.suggested_window.start.unix_timestamp();
                let end = info.suggested_window.end.unix_timestamp();
                let span = (end - start).max(0) as f64;
                Some(start + (span * rand::random::<f64>()) as i64)
            }
            Err(instant_acme::Error::Unsupported(_)) => None,
            Err(e) => {
                tracing::debug!(error = %e, "no renewal information");
                None
            }
        }
    }
}

fn rustls_pki_der(der: &[u8]) -> rustls::pki_types::CertificateDer<'static> {
    rustls::pki_types::CertificateDer::from(der.to_vec())
}

/// Two thirds into `[from, to)`, moved by up to a twentieth of the lifetime either way
/// (`jitter` in `[0, 1)`).
pub fn planned_renewal(from: i64, to: i64, jitter: f64) -> i64 {
    let life = (to - from).max(0) as f64;
    let base = from as f64 + life * 2.0 / 3.0;
    (base + life / 20.0 * (jitter * 2.0 - 1.0)) as i64
}

/// How long to wait after the `failures`-th failure in a row: a minute, doubling, at most a
/// day.
pub fn backoff(failures: u32) -> Duration {
    let minutes = 1u64 << failures.saturating_sub(1).min(11);
    Duration::from_secs((minutes * 60).min(24 * 3600))
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn first_der(pem: &str) -> Option<Vec<u8>> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(p.contents)
}

/// The leaf's validity, unix seconds.
pub fn validity(chain_pem: &str) -> Result<(i64, i64), AcmeError> {
    let der = first_der(chain_pem).ok_or_else(|| AcmeError::Ca("no certificate in PEM".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| AcmeError::Ca(format!("the certificate cannot be read: {e}")))?;
    Ok((
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    ))
}

/// The CA's own account of a failed validation.
fn validation_failed(names: &[String], problem: &instant_acme::Problem) -> AcmeError {
    AcmeError::Challenge {
        name: names.join(", "),
        reason: problem
            .detail
            .clone()
            .unwrap_or_else(|| problem.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_planned_two_thirds_in_with_jitter() {
        let (from, to) = (0, 90 * 24 * 3600);
        assert_eq!(planned_renewal(from, to, 0.5), 60 * 24 * 3600);
        let early = planned_renewal(from, to, 0.0);
        let late = planned_renewal(from, to, 0.999);
        assert!(early < 60 * 24 * 3600 && early > 55 * 24 * 3600);
        assert!(late > 60 * 24 * 3600 && late < 65 * 24 * 3600);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_day() {
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(2), Duration::from_secs(120));
        assert_eq!(backoff(5), Duration::from_secs(16 * 60));
        assert_eq!(backoff(40), Duration::from_secs(24 * 3600));
    }
}

//! Certificates as berth runs them: the store's current certificates loaded into the router
//! (on start and after every change), and the domains that need one ordered from the ACME CA:
//! a domain with TLS and no certificate, or an ACME certificate whose renewal time came. A
//! failed order is recorded on the domain and retried after a backoff (a minute, doubling, at
//! most a day), and at most [`ORDERS_PER_HOUR`] orders per domain are made in an hour, so a
//! misconfigured domain cannot use up the CA's limits. While renewals fail, the certificate in
//! hand keeps being served; until the first one arrives, a self-signed one is.
//!
//! The domains and certificates are read again when the store's edge epoch moved (every change
//! to them moves it), when an event announces a change, and every [`RECHECK`] (renewals and
//! retries come due with time alone); between those a round costs one read of the epoch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_acme::{Acme, AcmeSettings, Http01, Rfc2136};
use berth_domain::{
    CertificateAttempts, CertificateSource, Domain, DomainId, SecretString, WwwRedirect,
};
use berth_events::{CancelToken, Event, EventBus};
use berth_proxy::Proxy;
use berth_store::{Actor, NewCertificate, Store};

use crate::status::StatusCell;
use futures_util::StreamExt as _;

/// Orders one domain may make in an hour.
pub const ORDERS_PER_HOUR: usize = 5;
/// Orders running at the same time.
pub const ORDERS_AT_ONCE: usize = 4;

/// Something whose certificate is due.
enum Due<'a> {
    Domain(&'a Domain),
    /// One of berth's own hosts, and the failed orders behind it.
    Host(&'a str, u32),
}

impl Due<'_> {
    /// What its orders are counted under: the domain's id, or `host:<name>`.
    fn subject(&self) -> String {
        match self {
            Due::Domain(d) => d.id.to_string(),
            Due::Host(host, _) => format!("host:{host}"),
        }
    }
}
/// How often due certificates are looked for without an event.
const TICK: Duration = Duration::from_secs(10);

/// How often the certificates are read and checked for renewal even when the edge epoch stood
/// still (a renewal or a retry after a backoff, at least a minute, comes due with time alone).
const RECHECK: Duration = Duration::from_secs(30);

/// The router answers HTTP-01 challenges from memory.
struct RouterChallenges(Proxy);

impl Http01 for RouterChallenges {
    fn put(&self, token: &str, key_authorization: &str) {
        self.0.set_challenge(token, key_authorization);
    }
    fn remove(&self, token: &str) {
        self.0.remove_challenge(token);
    }
}

/// Where certificates come from: the ACME CA (none: self-signed only), the DNS server that
/// takes DNS-01 answers unless one is stored, and berth's own hosts.
#[derive(Clone, Default)]
pub struct CertSettings {
    pub acme: Option<AcmeSettings>,
    pub dns: Option<Rfc2136>,
    pub api_hosts: Vec<String>,
    /// How often the store is read again without an event (a router in a process of its own
    /// hears none: it relies on this).
    pub poll: Option<Duration>,
}

impl std::fmt::Debug for CertSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertSettings")
            .field("acme", &self.acme)
            .field("dns", &self.dns.is_some())
            .field("api_hosts", &self.api_hosts)
            .finish()
    }
}

/// Why certificates were not read or ordered.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Store(#[from] berth_store::StoreError),
    #[error(transparent)]
    Acme(#[from] berth_acme::AcmeError),
    #[error("ACME is off")]
    AcmeOff,
    #[error("the stored DNS-01 setting cannot be used: {0}")]
    DnsSetting(String),
}

#[derive(Clone)]
pub struct Certs {
    status: StatusCell,
    poll: Duration,
    store: Store,
    proxy: Proxy,
    bus: EventBus,
    acme: Option<AcmeSettings>,
    dns: Option<Rfc2136>,
    account: Arc<tokio::sync::Mutex<Option<Acme>>>,
    /// berth's own hosts (`api_hosts`): certificates of the installation, not of a project.
    api_hosts: Vec<String>,
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs").field("acme", &self.acme).finish()
    }
}

impl Certs {
    /// Loads the certificates into the router (the first time before it returns) and keeps
    /// them current until `shutdown`.
    pub async fn start(
        settings: CertSettings,
        store: Store,
        bus: EventBus,
        proxy: Proxy,
        status: StatusCell,
        shutdown: CancelToken,
    ) -> Self {
        let certs = Certs {
            status,
            poll: settings.poll.unwrap_or(TICK),
            store,
            proxy,
            bus,
            acme: settings.acme,
            dns: settings.dns,
            account: Arc::new(tokio::sync::Mutex::new(None)),
            api_hosts: settings.api_hosts,
        };
        if certs.acme.is_none() {
            tracing::info!("ACME is off: domains are served with self-signed certificates");
        }
        let mut served = None;
        match certs.read().await {
            Ok(state) => certs.load_into_router(&state, &mut served),
            Err(e) => tracing::warn!(error = %e, "certificates were not read"),
        }
        let running = certs.clone();
        tokio::spawn(async move { running.run(served, shutdown).await });
        certs
    }

    /// `served`: what the router serves now, as (host, certificate PEM), rebuilt only when it
    /// changes.
    async fn run(self, mut served: Option<Vec<(String, String)>>, shutdown: CancelToken) {
        let mut events = self.bus.subscribe();
        let mut watch = crate::StoreWatch::new(RECHECK);
        // The first round reads, and orders what is due, whatever the epoch says.
        let mut round = None;
        loop {
            if watch.due(&self.store, round).await {
                self.round(&mut served).await;
            }
            let wake = |e: &Event| matches!(e, Event::DomainsChanged { .. });
            round = crate::next_round(&mut events, &shutdown, self.poll, wake).await;
            if round.is_none() {
                return;
            }
        }
    }

    /// Reads the certificates into the router and orders what is due.
    async fn round(&self, served: &mut Option<Vec<(String, String)>>) {
        match self.read().await {
            Ok(state) => {
                self.load_into_router(&state, served);
                if self.acme.is_some() {
                    match self.order_due(&state).await {
                        // Load what was just issued at once, not at the next round.
                        Ok(true) => match self.read().await {
                            Ok(state) => self.load_into_router(&state, served),
                            Err(e) => tracing::warn!(error = %e, "certificates were not read"),
                        },
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "certificates were not checked"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "certificates were not read"),
        }
    }

    /// Domains, their current certificates and berth's own, in one read.
    async fn read(&self) -> Result<Stored, CertError> {
        let scope = self.store.read_scope(Actor::System).await?;
        Ok(Stored {
            domains: scope.all_domains().await?,
            certs: scope.all_current_certificates().await?,
            own: scope.host_certificates().await?,
        })
    }

    /// Every current certificate into the router, under each host it serves, unless the
    /// router already serves exactly these.
    fn load_into_router(&self, stored: &Stored, served: &mut Option<Vec<(String, String)>>) {
        let by_domain: HashMap<DomainId, &Domain> =
            stored.domains.iter().map(|d| (d.id, d)).collect();
        let mut wanted: Vec<(Vec<String>, &str, &SecretString)> = Vec::new();
        for (cert, key) in &stored.certs {
            if let Some(d) = by_domain.get(&cert.domain_id).filter(|d| d.tls) {
                wanted.push((names_of(d), &cert.certificate_pem, key));
            }
        }
        for hc in stored
            .own
            .iter()
            .filter(|h| self.api_hosts.contains(&h.host))
        {
            if let (Some(pem), Some(key)) = (&hc.certificate_pem, &hc.private_key_pem) {
                wanted.push((vec![hc.host.clone()], pem, key));
            }
        }
        let fingerprint: Vec<(String, String)> = wanted
            .iter()
            .map(|(names, pem, _)| (names.join(","), (*pem).to_owned()))
            .collect();
        if served.as_ref() == Some(&fingerprint) {
            return;
        }
        let now = berth_acme::unix_now();
        let mut map = HashMap::new();
        for (names, pem, key) in wanted {
            match berth_proxy::tls::load(pem, key.expose(), None, now) {
                Ok(loaded) => {
                    for host in names {
                        if berth_proxy::tls::covers(&loaded.info.names, &host) {
                            map.insert(host, loaded.key.clone());
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(names = ?names, error = %e, "a stored certificate cannot be served")
                }
            }
        }
        let loaded = map.len();
        self.proxy.certs().replace(map);
        self.status.certificates(loaded);
        *served = Some(fingerprint);
    }

    /// Orders a certificate for every domain that needs one now, [`ORDERS_AT_ONCE`] at a
    /// time (a slow or failing order does not hold the others back); whether any was issued.
    async fn order_due(&self, stored: &Stored) -> Result<bool, CertError> {
        let current: HashMap<DomainId, &berth_domain::Certificate> =
            stored.certs.iter().map(|(c, _)| (c.domain_id, c)).collect();
        let now = chrono::Utc::now();
        let mut due = Vec::new();
        for d in stored.domains.iter().filter(|d| d.tls) {
            let renew = match current.get(&d.id) {
                Some(c) if c.source == CertificateSource::Custom => false,
                Some(c) => c.renew_at.is_none_or(|at| at <= now) || c.expires_at <= now,
                None => true,
            };
            if !renew || d.certificate.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            due.push(Due::Domain(d));
        }
        for host in &self.api_hosts {
            let hc = stored.own.iter().find(|h| &h.host == host);
            let renew = match hc {
                Some(h) if h.certificate_pem.is_some() => {
                    h.renew_at.is_none_or(|at| at <= now) || h.expires_at.is_some_and(|e| e <= now)
                }
                _ => true,
            };
            let waiting = hc
                .and_then(|h| h.attempts.retry_at)
                .is_some_and(|at| at > now);
            if renew && !waiting {
                due.push(Due::Host(host, hc.map_or(0, |h| h.attempts.failures)));
            }
        }
        if due.is_empty() {
            return Ok(false);
        }
        let recent = self.recent_orders(now).await?;
        let mut allowed = Vec::with_capacity(due.len());
        for d in due {
            if self.may_order(&recent, &d.subject(), now).await? {
                allowed.push(d);
            }
        }
        let orders: Vec<_> = allowed.into_iter().map(|due| self.order_one(due)).collect();
        let outcomes: Vec<Result<bool, CertError>> = futures_util::stream::iter(orders)
            .buffer_unordered(ORDERS_AT_ONCE)
            .collect()
            .await;
        let mut issued = false;
        for outcome in outcomes {
            issued |= outcome?;
        }
        Ok(issued)
    }

    async fn order_one(&self, due: Due<'_>) -> Result<bool, CertError> {
        match due {
            Due::Domain(d) => self.order(d).await,
            Due::Host(host, failures) => self.order_host(host, failures).await,
        }
    }

    /// Orders made in the hour before `now`, by subject (a domain's id, or `host:<name>` for
    /// berth's own hosts), from the store: the limit holds across restarts.
    async fn recent_orders(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<HashMap<String, usize>, CertError> {
        let scope = self.store.read_scope(Actor::System).await?;
        Ok(scope
            .certificate_orders_since(now - chrono::Duration::hours(1))
            .await?)
    }

    /// Whether `subject` may order now; if so the order is recorded (before it is made, so
    /// one cut short by a crash counts too).
    async fn may_order(
        &self,
        recent: &HashMap<String, usize>,
        subject: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, CertError> {
        if !allow_order(recent, subject) {
            tracing::warn!(
                subject,
                "certificate orders are paused: {ORDERS_PER_HOUR} in the last hour"
            );
            return Ok(false);
        }
        let scope = self.store.scope(Actor::System).await?;
        scope.record_certificate_order(subject, now).await?;
        scope.commit().await?;
        Ok(true)
    }

    async fn account(&self) -> Result<Acme, CertError> {
        let mut guard = self.account.lock().await;
        if let Some(a) = guard.as_ref() {
            return Ok(a.clone());
        }
        let Some(settings) = &self.acme else {
            return Err(CertError::AcmeOff);
        };
        let scope = self.store.scope(Actor::System).await?;
        let stored = scope.acme_account(&settings.directory_url).await?;
        let (acme, created) = Acme::connect(settings, stored.as_ref().map(|s| s.expose())).await?;
        if let Some(credentials) = created {
            scope
                .save_acme_account(&settings.directory_url, &SecretString::new(credentials))
                .await?;
            tracing::info!(directory = %settings.directory_url, "ACME account created");
        }
        scope.commit().await?;
        *guard = Some(acme.clone());
        Ok(acme)
    }

    /// A certificate for `names` from the CA, and when to renew it.
    async fn issue(&self, names: &[String]) -> Result<(berth_acme::Issued, i64), CertError> {
        tracing::info!(?names, "ordering a certificate");
        let http = RouterChallenges(self.proxy.clone());
        let acme = self.account().await?;
        let dns = self.dns().await?;
        let issued = acme.issue(names, Some(&http), dns.as_ref()).await?;
        let renew_at = acme.renew_at(&issued.chain_pem).await;
        Ok((issued, renew_at))
    }

    /// Where DNS-01 answers go: the setting stored through the API, else the server's own.
    async fn dns(&self) -> Result<Option<Rfc2136>, CertError> {
        let scope = self.store.read_scope(Actor::System).await?;
        let stored = scope
            .installation_setting(berth_domain::AcmeDnsSetting::NAME)
            .await?;
        drop(scope);
        let Some(stored) = stored else {
            return Ok(self.dns.clone());
        };
        let s: berth_domain::AcmeDnsSetting = serde_json::from_str(stored.expose())
            .map_err(|e| CertError::DnsSetting(e.to_string()))?;
        let server = s
            .server
            .parse()
            .map_err(|_| CertError::DnsSetting(format!("{} is not an address", s.server)))?;
        Ok(Some(Rfc2136::new(
            server,
            &s.zone,
            &s.key_name,
            &s.key_secret,
        )?))
    }

    /// One order for berth's own `host`, its outcome stored.
    async fn order_host(&self, host: &str, failures: u32) -> Result<bool, CertError> {
        let result = self.issue(&[host.to_owned()]).await;
        let scope = self.store.scope(Actor::System).await?;
        let ok = match result {
            Ok((issued, renew_at)) => {
                scope
                    .save_host_certificate(
                        host,
                        &issued.chain_pem,
                        &SecretString::new(issued.key_pem.clone()),
                        timestamp(issued.not_after),
                        Some(timestamp(renew_at)),
                    )
                    .await?;
                tracing::info!(host, renew_at = %timestamp(renew_at), "certificate issued");
                true
            }
            Err(e) => {
                let attempts = failed(failures, e.to_string(), host);
                scope.set_host_certificate_attempts(host, &attempts).await?;
                false
            }
        };
        scope.commit().await?;
        Ok(ok)
    }

    /// One order for `d`, its outcome stored; whether a certificate was issued.
    async fn order(&self, d: &Domain) -> Result<bool, CertError> {
        let result = self.issue(&names_of(d)).await;
        let scope = self.store.scope(Actor::System).await?;
        let ok = match result {
            Ok((issued, renew_at)) => {
                let info = berth_proxy::tls::load(
                    &issued.chain_pem,
                    &issued.key_pem,
                    None,
                    berth_acme::unix_now(),
                )
                .map(|l| l.info.issuer)
                .unwrap_or_default();
                let key = SecretString::new(issued.key_pem.clone());
                scope
                    .add_certificate(
                        d.id,
                        NewCertificate {
                            issuer: &info,
                            certificate_pem: &issued.chain_pem,
                            private_key_pem: &key,
                            expires_at: timestamp(issued.not_after),
                            source: CertificateSource::Acme,
                            renew_at: Some(timestamp(renew_at)),
                        },
                    )
                    .await?;
                tracing::info!(domain = %d.host.as_str(), renew_at = %timestamp(renew_at), "certificate issued");
                true
            }
            Err(e) => {
                let attempts = failed(d.certificate.failures, e.to_string(), d.host.as_str());
                scope.set_certificate_attempts(d.id, &attempts).await?;
                false
            }
        };
        scope.commit().await?;
        Ok(ok)
    }
}

/// Whether `subject` made fewer than [`ORDERS_PER_HOUR`] of the `recent` orders.
fn allow_order(recent: &HashMap<String, usize>, subject: &str) -> bool {
    recent.get(subject).copied().unwrap_or(0) < ORDERS_PER_HOUR
}

/// The record of one more failed order after `failures`, with its backoff.
fn failed(failures: u32, error: String, name: &str) -> CertificateAttempts {
    let failures = failures + 1;
    let retry = berth_acme::backoff(failures);
    tracing::warn!(name, failures, retry_in_s = retry.as_secs(), error = %error, "certificate order failed");
    CertificateAttempts {
        failures,
        last_error: Some(error),
        retry_at: Some(chrono::Utc::now() + chrono::Duration::from_std(retry).unwrap_or_default()),
    }
}

/// What one round reads from the store.
struct Stored {
    domains: Vec<Domain>,
    certs: Vec<(berth_domain::Certificate, SecretString)>,
    own: Vec<berth_store::HostCertificate>,
}

/// The names a domain's certificate covers: its host, and the other form of a `www` redirect.
fn names_of(d: &Domain) -> Vec<String> {
    let host = d.host.as_str().to_owned();
    let other = match d.routing.www_redirect {
        WwwRedirect::None => None,
        WwwRedirect::ToApex => Some(format!("www.{host}")),
        WwwRedirect::ToWww => host.strip_prefix("www.").map(str::to_owned),
    };
    std::iter::once(host).chain(other).collect()
}

fn timestamp(unix: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(unix, 0).unwrap_or_else(chrono::Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_gets_five_orders_an_hour_and_others_are_not_held_back() {
        let mut recent = HashMap::new();
        for made in 0..ORDERS_PER_HOUR {
            recent.insert("shop".to_owned(), made);
            assert!(allow_order(&recent, "shop"), "order {}", made + 1);
        }
        recent.insert("shop".to_owned(), ORDERS_PER_HOUR);
        assert!(!allow_order(&recent, "shop"), "the sixth in the hour waits");
        assert!(allow_order(&recent, "other"), "another is not held back");
    }
}

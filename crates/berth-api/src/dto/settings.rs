//! Installation settings.

use berth_domain::EdgeStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where DNS-01 answers go: the primary DNS server taking RFC 2136 updates, its zone, and the
/// TSIG key (HMAC-SHA256) allowed to update it. `key_secret` is write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcmeDnsInput {
    /// `address:port`, such as `192.0.2.1:53`.
    pub server: String,
    pub zone: String,
    pub key_name: String,
    /// Base64, as `tsig-keygen` prints it.
    pub key_secret: String,
}

/// How berth orders certificates, from the server's settings (`acme_directory`, `acme_email`,
/// `acme_ca_root`, `acme_dns_*`; see the README): read here, changed there.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AcmeView {
    /// Whether berth orders certificates at all (`acme_directory = "off"` turns it off).
    pub enabled: bool,
    /// The ACME directory orders go to (Let's Encrypt by default).
    pub directory: Option<String>,
    /// The contact address the account was registered with, if any.
    pub email: Option<String>,
    /// Whether the directory is trusted through a CA root of its own (a private ACME server).
    pub custom_ca_root: bool,
    /// Whether the server's own settings name a DNS server for DNS-01 (used when none is
    /// set through `/settings/acme-dns`).
    pub dns_01_from_server_settings: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcmeDnsView {
    /// Whether a setting is stored here (otherwise the server's `acme_dns_*` settings apply).
    pub configured: bool,
    pub server: Option<String>,
    pub zone: Option<String>,
    pub key_name: Option<String>,
}

/// The edge router's health, as it reports itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct EdgeView {
    /// It reported within the last six seconds.
    pub connected: bool,
    pub pid: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// How many routing tables it installed since it started.
    pub table_version: Option<u64>,
    pub routes: Option<usize>,
    pub certificates: Option<usize>,
    pub certificates_loaded_at: Option<DateTime<Utc>>,
}

impl From<Option<EdgeStatus>> for EdgeView {
    fn from(s: Option<EdgeStatus>) -> Self {
        match s {
            Some(s) => Self {
                connected: s.connected(Utc::now()),
                pid: Some(s.pid),
                started_at: Some(s.started_at),
                updated_at: Some(s.updated_at),
                table_version: Some(s.table_version),
                routes: Some(s.routes),
                certificates: Some(s.certificates),
                certificates_loaded_at: s.certificates_loaded_at,
            },
            None => Self {
                connected: false,
                pid: None,
                started_at: None,
                updated_at: None,
                table_version: None,
                routes: None,
                certificates: None,
                certificates_loaded_at: None,
            },
        }
    }
}

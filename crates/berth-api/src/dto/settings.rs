//! Installation settings.

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

#[derive(Debug, Serialize, ToSchema)]
pub struct AcmeDnsView {
    /// Whether a setting is stored here (otherwise the server's `acme_dns_*` settings apply).
    pub configured: bool,
    pub server: Option<String>,
    pub zone: Option<String>,
    pub key_name: Option<String>,
}

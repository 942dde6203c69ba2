//! Domains, their routing and their certificates.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainCreate {
    pub host: String,
    /// Serve over HTTPS with a certificate (default true).
    pub tls: Option<bool>,
    /// How the edge router serves it; absent fields take their defaults.
    #[schema(value_type = Option<DomainRoutingInput>)]
    pub routing: Option<Obj<DomainRoutingInput>>,
}

/// How the edge router serves a domain. On PATCH, absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRoutingInput {
    /// Only requests under this path reach the application (default `/`).
    pub path_prefix: Option<String>,
    /// The container port requests go to (default: the application's first listed port,
    /// else 80); `null` returns to the default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 65535)]
    pub port: Option<Option<i64>>,
    /// Plain HTTP redirects to HTTPS when the domain has TLS (default true).
    pub https_redirect: Option<bool>,
    /// HTTPS answers carry `Strict-Transport-Security: max-age=31536000` (default false).
    pub hsts: Option<bool>,
    /// `none` (default), `to_apex` (`www.<domain>` redirects to the domain) or `to_www` (the
    /// domain is `www.<apex>`; `<apex>` redirects to it).
    #[schema(schema_with = schema::www_redirect_or_null)]
    pub www_redirect: Option<String>,
    /// Basic authentication: the full list of users. A user already there may leave out
    /// `password` to keep theirs. Empty: no authentication.
    #[schema(value_type = Option<Vec<BasicAuthInput>>)]
    pub basic_auth: Option<Vec<Obj<BasicAuthInput>>>,
    /// Request bodies over this many MiB are refused with 413 (default 100).
    #[schema(minimum = 1, maximum = 10240)]
    pub max_body_mb: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthInput {
    pub username: String,
    /// Write-only: stored as a bcrypt hash, never shown.
    pub password: Option<String>,
}

/// A domain's routing as shown: basic-auth users by name only.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainRoutingView {
    pub path_prefix: String,
    pub port: Option<u16>,
    pub https_redirect: bool,
    pub hsts: bool,
    /// `none`, `to_apex` or `to_www`.
    pub www_redirect: String,
    pub basic_auth_users: Vec<String>,
    pub max_body_mb: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainUpdate {
    pub tls: Option<bool>,
    /// Route the domain to another application of the same project.
    pub application_id: Option<uuid::Uuid>,
    #[schema(value_type = Option<DomainRoutingInput>)]
    pub routing: Option<Obj<DomainRoutingInput>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DomainView {
    pub id: uuid::Uuid,
    pub project_id: uuid::Uuid,
    pub host: String,
    pub application_id: Option<uuid::Uuid>,
    pub tls: bool,
    pub routing: DomainRoutingView,
    /// The certificate served, if any (until the first, a self-signed one is).
    pub certificate: Option<CertificateView>,
    /// How ordering its certificate went lately.
    pub certificate_attempts: CertificateAttemptsView,
    /// Requests the edge router answered for this domain since berth started, and how many
    /// of them with a 5xx status; `null` when this process runs no router.
    pub traffic: Option<TrafficView>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrafficView {
    pub requests: u64,
    pub errors: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub issuer: String,
    pub expires_at: DateTime<Utc>,
    /// `acme` (renewed by berth) or `custom` (uploaded; replaces ACME for the domain).
    pub source: String,
    /// When berth renews it (ACME only).
    pub renew_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateAttemptsView {
    /// Failed orders in a row.
    pub failures: u32,
    pub last_error: Option<String>,
    /// No order is made before this time.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A custom certificate: the chain (leaf first) and its private key, in PEM. The key is
/// write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateUpload {
    pub certificate_pem: String,
    pub private_key_pem: String,
}

impl DomainView {
    pub fn new(d: Domain, certificate: Option<Certificate>, traffic: Option<TrafficView>) -> Self {
        Self {
            traffic,
            id: d.id.as_uuid(),
            project_id: d.project_id.as_uuid(),
            host: d.host.into_inner(),
            application_id: match d.target {
                DomainTarget::Application(a) => Some(a.as_uuid()),
                DomainTarget::Database(_) => None,
            },
            tls: d.tls,
            routing: DomainRoutingView {
                path_prefix: d.routing.path_prefix,
                port: d.routing.port.map(|p| p.get()),
                https_redirect: d.routing.https_redirect,
                hsts: d.routing.hsts,
                www_redirect: serde_json::to_value(d.routing.www_redirect)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                basic_auth_users: d
                    .routing
                    .basic_auth
                    .into_iter()
                    .map(|u| u.username)
                    .collect(),
                max_body_mb: d.routing.max_body_mb,
            },
            certificate: certificate.map(|c| CertificateView {
                issuer: c.issuer,
                expires_at: c.expires_at,
                source: c.source.as_str().into(),
                renew_at: c.renew_at,
                created_at: c.created_at,
            }),
            certificate_attempts: CertificateAttemptsView {
                failures: d.certificate.failures,
                last_error: d.certificate.last_error,
                retry_at: d.certificate.retry_at,
            },
            created_at: d.created_at,
        }
    }
}

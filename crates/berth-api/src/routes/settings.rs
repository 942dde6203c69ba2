//! Installation settings an admin changes through the API: where DNS-01 answers are written
//! (wildcard certificates; the TSIG secret is write-only and kept encrypted); and the health
//! of the edge router, as it reports itself.

use actix_web::{web, HttpResponse};
use berth_domain::{AcmeDnsSetting, SecretString};

use crate::auth::Caller;
use crate::dto::{AcmeDnsInput, AcmeDnsView, AcmeView, EdgeView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/acme", web::get().to(get_acme))
        .route("/settings/acme-dns", web::get().to(get_acme_dns))
        .route("/settings/acme-dns", web::put().to(set_acme_dns))
        .route("/settings/acme-dns", web::delete().to(delete_acme_dns))
        .route("/edge", web::get().to(get_edge));
}

/// The edge router as it last reported itself (admins): whether it is connected (reported
/// within the last six seconds), its process, the routing table it serves (`table_version`
/// counts the tables it installed) and when it last loaded certificates. `connected` is false
/// and the rest null when no router ever reported.
#[utoipa::path(get, path = "/api/v1/edge", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = EdgeView), (status = 403, body = Problem)))]
pub async fn get_edge(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(EdgeView::from(s.edge_status().await?)))
}

/// How berth orders certificates (admins): the ACME directory, the account's contact address,
/// whether a CA root of its own is trusted, whether the server's settings name a DNS-01
/// server. Set in the server's settings (the README), not through the API: they
/// decide whom berth trusts, which is the machine owner's choice.
#[utoipa::path(get, path = "/api/v1/settings/acme", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = AcmeView), (status = 403, body = Problem)))]
pub async fn get_acme(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(&state.acme))
}

async fn stored(state: &AppState, caller: &Caller) -> Result<Option<AcmeDnsSetting>, ApiError> {
    let s = caller.scope(state).await?;
    let Some(v) = s.installation_setting(AcmeDnsSetting::NAME).await? else {
        return Ok(None);
    };
    serde_json::from_str(v.expose())
        .map(Some)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the stored DNS-01 setting: {e}")))
}

fn view(setting: Option<AcmeDnsSetting>) -> AcmeDnsView {
    match setting {
        Some(s) => AcmeDnsView {
            configured: true,
            server: Some(s.server),
            zone: Some(s.zone),
            key_name: Some(s.key_name),
        },
        None => AcmeDnsView {
            configured: false,
            server: None,
            zone: None,
            key_name: None,
        },
    }
}

/// Where DNS-01 answers go (admins). The secret is never shown. When nothing is set here, the
/// server's own `acme_dns_*` settings apply.
#[utoipa::path(get, path = "/api/v1/settings/acme-dns", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = AcmeDnsView), (status = 403, body = Problem)))]
pub async fn get_acme_dns(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(view(stored(&state, &caller).await?)))
}

/// Sets where DNS-01 answers go (admins): the primary DNS server taking RFC 2136 updates, the
/// zone, and the TSIG key (HMAC-SHA256, the secret in base64 as `tsig-keygen` prints it).
#[utoipa::path(put, path = "/api/v1/settings/acme-dns", tag = "settings", security(("bearer" = [])),
    request_body = AcmeDnsInput,
    responses((status = 200, body = AcmeDnsView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_acme_dns(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<AcmeDnsInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    use berth_domain::patterns::{DNS_NAME, DNS_SERVER, TSIG_SECRET};
    let mut v = berth_domain::error::Validator::new();
    for (field, rule, value, rule_text) in [
        (
            "server",
            &DNS_SERVER,
            &body.server,
            "must be an IPv4 address and port like 192.0.2.1:53",
        ),
        (
            "zone",
            &DNS_NAME,
            &body.zone,
            "must be a DNS name like example.com",
        ),
        (
            "key_name",
            &DNS_NAME,
            &body.key_name,
            "must be a DNS name like berth-acme",
        ),
        (
            "key_secret",
            &TSIG_SECRET,
            &body.key_secret,
            "must be base64, as tsig-keygen prints it",
        ),
    ] {
        if !rule.allows(value) {
            v.push(field, rule_text);
        }
    }
    v.finish()?;
    let server: std::net::SocketAddr = body
        .server
        .parse()
        .map_err(|_| ApiError::invalid("server", "must be an address like 192.0.2.1:53"))?;
    berth_acme::Rfc2136::new(server, &body.zone, &body.key_name, &body.key_secret).map_err(
        |e| {
            let text = e.to_string();
            let field = if text.contains("secret") {
                "key_secret"
            } else if text.contains("key name") {
                "key_name"
            } else {
                "zone"
            };
            ApiError::invalid(field, &text)
        },
    )?;
    let setting = AcmeDnsSetting {
        server: server.to_string(),
        zone: body.zone.trim().trim_end_matches('.').to_ascii_lowercase(),
        key_name: body.key_name.trim().to_owned(),
        key_secret: body.key_secret.trim().to_owned(),
    };
    let json =
        serde_json::to_string(&setting).map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    let s = caller.scope(&state).await?;
    s.set_installation_setting(AcmeDnsSetting::NAME, Some(&SecretString::new(json)))
        .await?;
    super::audit(
        &s,
        &caller,
        "settings.acme_dns.set",
        "settings",
        "acme_dns",
        serde_json::json!({ "server": setting.server, "zone": setting.zone, "key_name": setting.key_name }),
    )
    .await?;
    s.commit().await?;
    state
        .bus
        .publish(berth_events::Event::DomainsChanged { domain_id: None });
    Ok(HttpResponse::Ok().json(view(Some(setting))))
}

/// Forgets the DNS-01 setting (admins); the server's own `acme_dns_*` settings apply again.
#[utoipa::path(delete, path = "/api/v1/settings/acme-dns", tag = "settings", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem)))]
pub async fn delete_acme_dns(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    s.set_installation_setting(AcmeDnsSetting::NAME, None)
        .await?;
    super::audit(
        &s,
        &caller,
        "settings.acme_dns.delete",
        "settings",
        "acme_dns",
        serde_json::json!({}),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

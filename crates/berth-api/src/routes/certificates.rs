//! A domain's certificate: its status (on every domain view), a renewal on demand, and custom
//! certificates uploaded in PEM, which replace ACME for their domain.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{CertificateSource, Domain, DomainId, SecretString};
use berth_store::{NewCertificate, Scope};

use crate::auth::Caller;
use crate::authz::{require_project, Access};
use crate::dto::{CertificateUpload, DomainView, TrafficView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/domains/{id}/certificate/renew",
        web::post().to(renew_certificate),
    )
    .route(
        "/domains/{id}/certificate",
        web::put().to(upload_certificate),
    )
    .route(
        "/domains/{id}/certificate",
        web::delete().to(delete_certificate),
    );
}

/// The router's counters by route (a domain's id): the router in this process's own, or what a
/// router of its own process last reported while it is connected (read as berth itself: the
/// report is berth's, and each view shows only its domain's counters). `None`: no router.
pub(crate) async fn router_traffic(
    state: &AppState,
) -> Result<Option<HashMap<String, (u64, u64)>>, ApiError> {
    if let Some(r) = &state.router {
        return Ok(Some(
            r.stats()
                .into_iter()
                .map(|s| (s.route, (s.requests, s.errors)))
                .collect(),
        ));
    }
    Ok(state
        .store
        .read_scope(berth_store::Actor::System)
        .await?
        .edge_status()
        .await?
        .filter(|e| e.connected(chrono::Utc::now()))
        .map(|e| e.traffic.into_iter().collect()))
}

/// A domain with its current certificate and the router's counters for it.
pub(crate) async fn domain_view(
    state: &AppState,
    s: &Scope,
    d: Domain,
) -> Result<DomainView, ApiError> {
    let traffic = router_traffic(state).await?;
    domain_view_with(s, d, traffic.as_ref()).await
}

/// [`domain_view`] with the counters read already (once for a whole list).
pub(crate) async fn domain_view_with(
    s: &Scope,
    d: Domain,
    traffic: Option<&HashMap<String, (u64, u64)>>,
) -> Result<DomainView, ApiError> {
    let cert = s.current_certificate(d.id).await?;
    let traffic = traffic.map(|t| {
        let (requests, errors) = t.get(&d.id.to_string()).copied().unwrap_or((0, 0));
        TrafficView { requests, errors }
    });
    Ok(DomainView::new(d, cert, traffic))
}

async fn writable(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
) -> Result<(Scope, Domain), ApiError> {
    let s = caller.scope(state).await?;
    let d = s.domain(DomainId::from_uuid(id)).await?;
    let project = s.project(d.project_id).await?;
    require_project(caller.user()?, &s, &project, Access::Write)?;
    Ok((s, d))
}

/// Asks for the domain's certificate to be ordered again now, forgetting the backoff of
/// failed attempts (write access). The order runs in the background; the domain's
/// `certificate` and `certificate_attempts` show how it went.
#[utoipa::path(post, path = "/api/v1/domains/{id}/certificate/renew", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn renew_certificate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (s, d) = writable(&state, &caller, *id).await?;
    if !d.tls {
        return Err(ApiError::Conflict(
            ErrorCode::CertificateNotApplicable,
            "this domain does not serve TLS; set tls first".into(),
        ));
    }
    if let Some(c) = s.current_certificate(d.id).await? {
        if c.source == CertificateSource::Custom {
            return Err(ApiError::Conflict(
                ErrorCode::CertificateNotApplicable,
                "this domain has a custom certificate; delete it to go back to ACME".into(),
            ));
        }
    }
    s.request_certificate_renewal(d.id).await?;
    super::audit(
        &s,
        &caller,
        "certificate.renew",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host }),
    )
    .await?;
    let d = s.domain(d.id).await?;
    let view = domain_view(&state, &s, d).await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(DomainId::from_uuid(*id)),
    });
    Ok(HttpResponse::Accepted().json(view))
}

/// Serves this certificate for the domain instead of an ACME one (write access). The chain
/// must start with the leaf, each certificate signed by the next; the key must match; the
/// leaf must be valid now and cover the domain.
#[utoipa::path(put, path = "/api/v1/domains/{id}/certificate", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = CertificateUpload,
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn upload_certificate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<CertificateUpload>,
) -> Result<HttpResponse, ApiError> {
    let (s, d) = writable(&state, &caller, *id).await?;
    let now = chrono::Utc::now().timestamp();
    let loaded = berth_proxy::tls::load(
        &body.certificate_pem,
        &body.private_key_pem,
        Some(d.host.as_str()),
        now,
    )
    .map_err(|e| {
        use berth_proxy::CertError as E;
        let field = match e {
            E::BadKey(_) | E::KeyMismatch => "private_key_pem",
            _ => "certificate_pem",
        };
        ApiError::invalid(field, &e.to_string())
    })?;
    let key = SecretString::new(body.private_key_pem.clone());
    let expires_at = chrono::DateTime::from_timestamp(loaded.info.not_after, 0)
        .ok_or_else(|| ApiError::invalid("certificate_pem", "has no readable expiry"))?;
    s.add_certificate(
        d.id,
        NewCertificate {
            issuer: &loaded.info.issuer,
            certificate_pem: &body.certificate_pem,
            private_key_pem: &key,
            expires_at,
            source: CertificateSource::Custom,
            renew_at: None,
        },
    )
    .await?;
    super::audit(
        &s,
        &caller,
        "certificate.upload",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host, "issuer": loaded.info.issuer }),
    )
    .await?;
    let view = domain_view(&state, &s, d).await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(DomainId::from_uuid(*id)),
    });
    Ok(HttpResponse::Ok().json(view))
}

/// Removes the domain's certificate (write access); an ACME one is ordered again.
#[utoipa::path(delete, path = "/api/v1/domains/{id}/certificate", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_certificate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (s, d) = writable(&state, &caller, *id).await?;
    s.delete_certificates(d.id).await?;
    super::audit(
        &s,
        &caller,
        "certificate.delete",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host }),
    )
    .await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(d.id),
    });
    Ok(HttpResponse::NoContent().finish())
}

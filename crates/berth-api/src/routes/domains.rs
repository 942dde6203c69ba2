//! Domains: the host names the edge router serves an application at, and how.

use actix_web::{web, HttpResponse};
use berth_domain::{
    ApplicationId, BasicAuthEntry, DomainId, DomainName, DomainRouting, DomainTarget, PortNumber,
    WwwRedirect,
};

use crate::auth::Caller;
use crate::authz::{require_project, Access};
use crate::dto::{DomainCreate, DomainRoutingInput, DomainUpdate, DomainView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

use super::applications::application_with;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{id}/domains", web::get().to(list_domains))
        .route("/applications/{id}/domains", web::post().to(create_domain))
        .route("/domains/{id}", web::get().to(get_domain))
        .route("/domains/{id}", web::patch().to(update_domain))
        .route("/domains/{id}", web::delete().to(delete_domain));
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/domains", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<DomainView>), (status = 404, body = Problem)))]
pub async fn list_domains(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let traffic = super::certificates::router_traffic(&state).await?;
    let mut ds: Vec<DomainView> = Vec::new();
    for d in s.list_domains(ApplicationId::from_uuid(*id)).await? {
        ds.push(super::certificates::domain_view_with(&s, d, traffic.as_ref()).await?);
    }
    Ok(HttpResponse::Ok().json(ds))
}

/// Routes a domain to the application (write access). A domain is unique on the whole
/// installation; a taken one is a conflict that does not say who holds it.
#[utoipa::path(post, path = "/api/v1/applications/{id}/domains", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = DomainCreate,
    responses((status = 201, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<DomainCreate>,
) -> Result<HttpResponse, ApiError> {
    let host = DomainName::parse(&body.host).map_err(|e| e.nested("host"))?;
    let routing = routing_over(
        body.routing.as_deref(),
        DomainRouting::default(),
        &host,
        state.auth.bcrypt_cost,
    )
    .await?;
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let d = s
        .create_domain(
            app.project_id,
            host,
            DomainTarget::Application(app.id),
            body.tls.unwrap_or(true),
            routing,
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "domain.create",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host, "application_id": app.id }),
    )
    .await?;
    let id = d.id;
    let view = super::certificates::domain_view(&state, &s, d).await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(id),
    });
    Ok(HttpResponse::Created().json(view))
}

/// `input` applied over `current`: passwords hashed, then every option checked.
async fn routing_over(
    input: Option<&DomainRoutingInput>,
    current: DomainRouting,
    host: &DomainName,
    bcrypt_cost: u32,
) -> Result<DomainRouting, ApiError> {
    let mut r = current;
    let Some(input) = input else {
        r.validate().map_err(|e| e.nested("routing"))?;
        r.conflicts(host)
            .map_err(|e| ApiError::conflicting(e.nested("routing")))?;
        return Ok(r);
    };
    let mut v = berth_domain::error::Validator::new();
    let mut conflicts = berth_domain::error::Validator::new();
    if let Some(p) = &input.path_prefix {
        r.path_prefix = p.clone();
    }
    if let Some(port) = input.port {
        r.port = match port {
            Some(p) => v.check("port", PortNumber::parse(p)),
            None => None,
        };
    }
    if let Some(b) = input.https_redirect {
        r.https_redirect = b;
    }
    if let Some(b) = input.hsts {
        r.hsts = b;
    }
    if let Some(w) = &input.www_redirect {
        match serde_json::from_value::<WwwRedirect>(serde_json::Value::String(w.clone())) {
            Ok(w) => r.www_redirect = w,
            Err(_) => v.push("www_redirect", "must be none, to_apex or to_www"),
        }
    }
    if let Some(m) = input.max_body_mb {
        r.max_body_mb = m;
    }
    if let Some(users) = &input.basic_auth {
        let mut next = Vec::with_capacity(users.len());
        for (i, u) in users.iter().enumerate() {
            let kept = r
                .basic_auth
                .iter()
                .find(|e| e.username == u.username)
                .map(|e| e.password_hash.clone());
            let hash = match (&u.password, kept) {
                (Some(p), _) if !berth_domain::patterns::PASSWORD.allows(p) => {
                    v.push(
                        format!("basic_auth.{i}.password"),
                        "must be 8 to 128 characters",
                    );
                    continue;
                }
                (Some(p), _) => crate::auth::hash_password(p.clone(), bcrypt_cost).await?,
                (None, Some(h)) => h,
                (None, None) => {
                    conflicts.push(
                        format!("basic_auth.{i}.password"),
                        "is required for a new user",
                    );
                    continue;
                }
            };
            next.push(BasicAuthEntry {
                username: u.username.clone(),
                password_hash: hash,
            });
        }
        r.basic_auth = next;
    }
    v.finish().map_err(|e| e.nested("routing"))?;
    r.validate().map_err(|e| e.nested("routing"))?;
    conflicts.check("", r.conflicts(host));
    conflicts
        .finish()
        .map_err(|e| ApiError::conflicting(e.nested("routing")))?;
    Ok(r)
}

#[utoipa::path(get, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DomainView), (status = 404, body = Problem)))]
pub async fn get_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(super::certificates::domain_view(&state, &s, d).await?))
}

/// Changes TLS, routing or the target application of a domain (write access; the application
/// must be in the domain's project). The router follows at once: it reaches any port of the
/// replicas, so nothing is redeployed.
#[utoipa::path(patch, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = DomainUpdate,
    responses((status = 200, body = DomainView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn update_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<DomainUpdate>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    let project = s.project(d.project_id).await?;
    require_project(caller.user()?, &s, &project, Access::Write)?;
    let target = body
        .application_id
        .map(|a| DomainTarget::Application(ApplicationId::from_uuid(a)));
    let routing = match &body.routing {
        Some(r) => {
            Some(routing_over(Some(r), d.routing.clone(), &d.host, state.auth.bcrypt_cost).await?)
        }
        None => None,
    };
    let d = s.update_domain(d.id, target, body.tls, routing).await?;
    let view = super::certificates::domain_view(&state, &s, d.clone()).await?;
    super::audit(
        &s,
        &caller,
        "domain.update",
        "domain",
        d.id,
        serde_json::json!({ "host": d.host, "tls": d.tls }),
    )
    .await?;
    s.commit().await?;
    state.bus.publish(berth_events::Event::DomainsChanged {
        domain_id: Some(d.id),
    });
    Ok(HttpResponse::Ok().json(view))
}

/// Removes a domain (admin access).
#[utoipa::path(delete, path = "/api/v1/domains/{id}", tag = "domains", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_domain(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.domain(DomainId::from_uuid(*id)).await?;
    let project = s.project(d.project_id).await?;
    require_project(caller.user()?, &s, &project, Access::Admin)?;
    s.delete_domain(d.id).await?;
    super::audit(
        &s,
        &caller,
        "domain.delete",
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

//! Service tokens: what lets one outside party (a CI job) deploy one application.

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, Label, ServiceTokenId};

use crate::auth::Caller;
use crate::authz::Access;
use crate::dto::{CreatedServiceToken, ServiceTokenCreate, ServiceTokenView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

use super::applications::application_with;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/applications/{id}/service-tokens",
        web::get().to(list_service_tokens),
    )
    .route(
        "/applications/{id}/service-tokens",
        web::post().to(create_service_token),
    )
    .route(
        "/service-tokens/{id}",
        web::delete().to(delete_service_token),
    );
}

/// The application's service tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/applications/{id}/service-tokens", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<ServiceTokenView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_service_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let tokens: Vec<ServiceTokenView> = s
        .list_service_tokens(app.id)
        .await?
        .into_iter()
        .map(ServiceTokenView::from)
        .collect();
    Ok(HttpResponse::Ok().json(tokens))
}

/// Creates a token that lets one outside party (a CI job, a git host) deploy this application
/// and nothing else (write access). Its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/applications/{id}/service-tokens", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ServiceTokenCreate,
    responses((status = 201, body = CreatedServiceToken), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_service_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ServiceTokenCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = berth_domain::error::Validator::new();
    let name = v.check("name", Label::parse(&body.name));
    let origin = v.check("origin", Label::parse(&body.origin));
    v.finish()?;
    let (Some(name), Some(origin)) = (name, origin) else {
        return Err(ApiError::invalid("name", "is invalid"));
    };
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let (token, secret) = s.create_service_token(app.id, name, origin).await?;
    super::audit(
        &s,
        &caller,
        "service_token.create",
        "application",
        app.id,
        serde_json::json!({ "token_id": token.id, "origin": token.origin }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(CreatedServiceToken {
        token: secret.expose().to_owned(),
        info: token.into(),
    }))
}

/// Revokes a service token (write access on its application).
#[utoipa::path(delete, path = "/api/v1/service-tokens/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_service_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let token = s.service_token(ServiceTokenId::from_uuid(*id)).await?;
    application_with(&s, &caller, token.application_id, Access::Write).await?;
    s.revoke_service_token(token.id).await?;
    super::audit(
        &s,
        &caller,
        "service_token.revoke",
        "application",
        token.application_id,
        serde_json::json!({ "token_id": token.id }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

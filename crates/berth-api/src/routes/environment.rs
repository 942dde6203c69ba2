//! An application's environment variables; secret values are write-only.

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, EnvKey, SecretString};

use crate::auth::Caller;
use crate::authz::Access;
use crate::dto::{EnvSet, EnvView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

use super::applications::application_with;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{id}/env", web::get().to(list_env))
        .route("/applications/{id}/env/{key}", web::put().to(set_env))
        .route("/applications/{id}/env/{key}", web::delete().to(delete_env));
}

/// The application's environment; secret values are `null`.
#[utoipa::path(get, path = "/api/v1/applications/{id}/env", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<EnvView>), (status = 404, body = Problem)))]
pub async fn list_env(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let vars: Vec<EnvView> = s
        .list_env_vars(ApplicationId::from_uuid(*id))
        .await?
        .into_iter()
        .map(EnvView::from)
        .collect();
    Ok(HttpResponse::Ok().json(vars))
}

/// Sets a variable (write access). A secret's value is encrypted and never shown again.
#[utoipa::path(put, path = "/api/v1/applications/{id}/env/{key}", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("key" = String, Path, pattern = r"^[A-Z_][A-Z0-9_]{0,254}$")), request_body = EnvSet,
    responses((status = 200, body = EnvView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_env(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, String)>,
    body: crate::json::Body<EnvSet>,
) -> Result<HttpResponse, ApiError> {
    let key = EnvKey::parse(&path.1).map_err(|e| e.nested("key"))?;
    if !berth_domain::patterns::ENV_VALUE.allows(&body.value) {
        return Err(ApiError::invalid(
            "value",
            "must be at most 65536 characters with no NUL character",
        ));
    }
    let s = caller.scope(&state).await?;
    let app =
        application_with(&s, &caller, ApplicationId::from_uuid(path.0), Access::Write).await?;
    let var = s
        .set_env_var(
            app.id,
            key,
            SecretString::new(body.value.clone()),
            body.is_secret,
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "application.env_set",
        "application",
        app.id,
        serde_json::json!({ "key": var.key, "is_secret": var.is_secret }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(EnvView::from(var)))
}

#[utoipa::path(delete, path = "/api/v1/applications/{id}/env/{key}", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("key" = String, Path, pattern = r"^[A-Z_][A-Z0-9_]{0,254}$")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_env(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let key = EnvKey::parse(&path.1).map_err(|_| ApiError::NotFound("environment variable"))?;
    let s = caller.scope(&state).await?;
    let app =
        application_with(&s, &caller, ApplicationId::from_uuid(path.0), Access::Write).await?;
    s.delete_env_var(app.id, &key).await?;
    super::audit(
        &s,
        &caller,
        "application.env_delete",
        "application",
        app.id,
        serde_json::json!({ "key": key }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

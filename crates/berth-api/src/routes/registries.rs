//! Registries berth pulls images from with credentials: a team's, used for its projects, or
//! the installation's, used for every project (docs/api.md, "Registries").

use actix_web::{web, HttpResponse};
use berth_domain::{ErrorCode, RegistryHost, RegistryId, TeamId, TeamRole};
use berth_store::{NewRegistry, Scope};

use crate::auth::Caller;
use crate::authz::require_team;
use crate::dto::{parse_registry_credentials, RegistryCreate, RegistryUpdate, RegistryView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/registries", web::get().to(list_registries))
        .route("/registries", web::post().to(create_registry))
        .route("/registries/{id}", web::get().to(get_registry))
        .route("/registries/{id}", web::patch().to(update_registry))
        .route("/registries/{id}", web::delete().to(delete_registry));
}

/// Who changes a registry: a team's, its owners and admins; the installation's, platform
/// admins.
fn require_manager(caller: &Caller, scope: &Scope, team: Option<TeamId>) -> Result<(), ApiError> {
    match team {
        Some(team) => require_team(
            caller.user()?,
            scope,
            team,
            &[TeamRole::Owner, TeamRole::Admin],
        ),
        None => caller.require_admin().map(|_| ()),
    }
}

/// The one rule for naming a registry, an image's or a registry entry's: a pull makes the
/// engine call it, so a registry named by its address (berth's machine, its network, a cloud's
/// metadata service) is for admins, or anyone once the installation lists it (403
/// `source_not_allowed` naming `field`).
pub(crate) async fn check_registry_allowed(
    caller: &Caller,
    scope: &Scope,
    host: &RegistryHost,
    field: &str,
) -> Result<(), ApiError> {
    let admin = caller.user().is_ok_and(|u| u.role.is_admin());
    if host.is_address() && !admin && !scope.registry_listed(host).await? {
        return Err(ApiError::Forbidden(
            ErrorCode::SourceNotAllowed,
            format!("{field}: names a registry by its address (localhost or an IP) that the installation does not list; only an admin may"),
        ));
    }
    Ok(())
}

/// The installation's registries and those of the caller's teams (all of them for admins).
#[utoipa::path(get, path = "/api/v1/registries", tag = "registries", security(("bearer" = [])),
    responses((status = 200, body = Vec<RegistryView>), (status = 401, body = Problem)))]
pub async fn list_registries(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.user()?;
    let s = caller.scope(&state).await?;
    let list: Vec<RegistryView> = s
        .list_registries()
        .await?
        .into_iter()
        .map(RegistryView::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Adds a registry for a team (its owners and admins) or the installation (admins). The
/// password is write-only.
#[utoipa::path(post, path = "/api/v1/registries", tag = "registries", security(("bearer" = [])),
    request_body = RegistryCreate,
    responses((status = 201, body = RegistryView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_registry(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<RegistryCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = berth_domain::error::Validator::new();
    let host = v.check("host", RegistryHost::parse(&body.host));
    let credentials = parse_registry_credentials(&mut v, &body.credentials);
    v.finish()?;
    let (Some(host), Some(credentials)) = (host, credentials) else {
        return Err(ApiError::invalid("body", "is invalid"));
    };
    let team = body.team_id.map(TeamId::from_uuid);
    let s = caller.scope(&state).await?;
    if let Some(team) = team {
        s.team(team).await?;
    }
    require_manager(&caller, &s, team)?;
    check_registry_allowed(&caller, &s, &host, "host").await?;
    let r = s
        .create_registry(NewRegistry {
            team_id: team,
            host,
            credentials,
        })
        .await?;
    super::audit(
        &s,
        &caller,
        "registry.create",
        "registry",
        r.id,
        serde_json::json!({ "host": r.host, "team_id": r.team_id, "username": r.username }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(RegistryView::from(r)))
}

#[utoipa::path(get, path = "/api/v1/registries/{id}", tag = "registries", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RegistryView), (status = 404, body = Problem)))]
pub async fn get_registry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.user()?;
    let s = caller.scope(&state).await?;
    let r = s.registry(RegistryId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(RegistryView::from(r)))
}

/// Replaces a registry's credentials (`null`: none); the host stays (delete and add another).
#[utoipa::path(patch, path = "/api/v1/registries/{id}", tag = "registries", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = RegistryUpdate,
    responses((status = 200, body = RegistryView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_registry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<RegistryUpdate>,
) -> Result<HttpResponse, ApiError> {
    let mut v = berth_domain::error::Validator::new();
    let credentials = parse_registry_credentials(&mut v, &body.credentials);
    v.finish()?;
    let Some(credentials) = credentials else {
        return Err(ApiError::invalid("credentials", "is invalid"));
    };
    let s = caller.scope(&state).await?;
    let r = s.registry(RegistryId::from_uuid(*id)).await?;
    require_manager(&caller, &s, r.team_id)?;
    let r = s.set_registry_credentials(r.id, credentials).await?;
    super::audit(
        &s,
        &caller,
        "registry.update",
        "registry",
        r.id,
        serde_json::json!({ "host": r.host, "username": r.username }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(RegistryView::from(r)))
}

/// Removes a registry and its credentials. Images pulled with them stay on the engine, and
/// are pulled again, with the deploying team's credentials, before anything runs them.
#[utoipa::path(delete, path = "/api/v1/registries/{id}", tag = "registries", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_registry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let r = s.registry(RegistryId::from_uuid(*id)).await?;
    require_manager(&caller, &s, r.team_id)?;
    s.delete_registry(r.id).await?;
    super::audit(
        &s,
        &caller,
        "registry.delete",
        "registry",
        r.id,
        serde_json::json!({ "host": r.host, "team_id": r.team_id }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

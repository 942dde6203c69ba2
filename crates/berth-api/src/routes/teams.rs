use actix_web::{web, HttpResponse};
use berth_domain::{ErrorCode, TeamId, TeamName, TeamRole, UserId};

use crate::auth::Caller;
use crate::authz::require_team;
use crate::dto::{
    parse_team, MemberAdd, MemberUpdate, MemberView, PageOf, PageQuery, TeamCreate, TeamUpdate,
    TeamView,
};
use crate::problem::Problem;
use crate::{ApiError, AppState};

const MANAGERS: &[TeamRole] = &[TeamRole::Owner, TeamRole::Admin];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/teams", web::get().to(list_teams))
        .route("/teams", web::post().to(create_team))
        .route("/teams/{id}", web::get().to(get_team))
        .route("/teams/{id}", web::patch().to(update_team))
        .route("/teams/{id}", web::delete().to(delete_team))
        .route("/teams/{id}/members", web::get().to(list_members))
        .route("/teams/{id}/members", web::post().to(add_member))
        .route(
            "/teams/{id}/members/{user_id}",
            web::patch().to(update_member),
        )
        .route(
            "/teams/{id}/members/{user_id}",
            web::delete().to(remove_member),
        );
}

/// The teams the caller belongs to (every team for admins).
#[utoipa::path(get, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<TeamView>)))]
pub async fn list_teams(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(PageOf::from(s.list_teams(q.page()?).await?, TeamView::from)))
}

/// Creates a team with the caller as its owner.
#[utoipa::path(post, path = "/api/v1/teams", tag = "teams", security(("bearer" = [])), request_body = TeamCreate,
    responses((status = 201, body = TeamView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_team(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<TeamCreate>,
) -> Result<HttpResponse, ApiError> {
    let me = caller.require_writer()?.id;
    let (name, description) = parse_team(&body.name, &body.description)?;
    let s = caller.scope(&state).await?;
    let (team, _) = s.create_team(name, description, me).await?;
    super::audit(
        &s,
        &caller,
        "team.create",
        "team",
        team.id,
        serde_json::json!({ "name": team.name }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(TeamView::from(team)))
}

#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TeamView), (status = 404, body = Problem)))]
pub async fn get_team(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(TeamView::from(s.team(TeamId::from_uuid(*id)).await?)))
}

/// Renames a team or changes its description (team owners and admins).
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = TeamUpdate,
    responses((status = 200, body = TeamView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_team(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<TeamUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = TeamId::from_uuid(*id);
    let mut v = berth_domain::error::Validator::new();
    let name = body
        .name
        .as_deref()
        .and_then(|n| v.check("name", TeamName::parse(n)));
    let description = crate::dto::parse_description_change(&mut v, &body.description);
    v.finish()?;
    let s = caller.scope(&state).await?;
    s.team(id).await?;
    require_team(caller.user()?, &s, id, MANAGERS)?;
    let team = s.update_team(id, name, description).await?;
    super::audit(
        &s,
        &caller,
        "team.update",
        "team",
        id,
        serde_json::json!({ "name": team.name }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(TeamView::from(team)))
}

/// Deletes a team (team owners). Its projects stay with their owners.
#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "teams", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_team(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TeamId::from_uuid(*id);
    let s = caller.scope(&state).await?;
    let team = s.team(id).await?;
    require_team(caller.user()?, &s, id, &[TeamRole::Owner])?;
    s.delete_team(id).await?;
    super::audit(
        &s,
        &caller,
        "team.delete",
        "team",
        id,
        serde_json::json!({ "name": team.name }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/teams/{id}/members", tag = "teams", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 404, body = Problem)))]
pub async fn list_members(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let members: Vec<MemberView> = s
        .team_members_named(TeamId::from_uuid(*id))
        .await?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(HttpResponse::Ok().json(members))
}

/// Adds a user to a team (team owners and admins; only owners add owners).
#[utoipa::path(post, path = "/api/v1/teams/{id}/members", tag = "teams", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = MemberAdd,
    responses((status = 201, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<MemberAdd>,
) -> Result<HttpResponse, ApiError> {
    let id = TeamId::from_uuid(*id);
    let role = TeamRole::parse(&body.role).map_err(|e| e.nested("role"))?;
    let s = caller.scope(&state).await?;
    s.team(id).await?;
    require_team(
        caller.user()?,
        &s,
        id,
        if role == TeamRole::Owner {
            &[TeamRole::Owner]
        } else {
            MANAGERS
        },
    )?;
    let user = UserId::from_uuid(body.user_id);
    // A user the body names that is not there (any more) is a conflict with what the
    // installation holds, not a missing page.
    let member = s
        .add_team_member(id, user, role)
        .await
        .map_err(|e| match e {
            berth_store::StoreError::NotFound("user") => {
                ApiError::conflict(ErrorCode::UnknownUser, "user_id: no user has this id")
            }
            other => other.into(),
        })?;
    let name = s.user(user).await?.username;
    super::audit(
        &s,
        &caller,
        "team.member_add",
        "team",
        id,
        serde_json::json!({ "user_id": user, "role": role }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(MemberView::from((member, name))))
}

/// Changes a member's role (team owners and admins; only owners touch owners). A team always
/// keeps an owner.
#[utoipa::path(patch, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), request_body = MemberUpdate,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
    body: crate::json::Body<MemberUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (id, user) = (TeamId::from_uuid(path.0), UserId::from_uuid(path.1));
    let role = TeamRole::parse(&body.role).map_err(|e| e.nested("role"))?;
    let s = caller.scope(&state).await?;
    let current = member_role(&s, id, user).await?;
    let touches_owner = role == TeamRole::Owner || current == TeamRole::Owner;
    require_team(
        caller.user()?,
        &s,
        id,
        if touches_owner {
            &[TeamRole::Owner]
        } else {
            MANAGERS
        },
    )?;
    let member = s.set_team_member_role(id, user, role).await?;
    let name = s.user(user).await?.username;
    super::audit(
        &s,
        &caller,
        "team.member_update",
        "team",
        id,
        serde_json::json!({ "user_id": user, "role": role }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(MemberView::from((member, name))))
}

/// Removes a member (team owners and admins; only owners remove owners; anyone may leave).
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, user) = (TeamId::from_uuid(path.0), UserId::from_uuid(path.1));
    let s = caller.scope(&state).await?;
    let current = member_role(&s, id, user).await?;
    if caller.user()?.id != user {
        require_team(
            caller.user()?,
            &s,
            id,
            if current == TeamRole::Owner {
                &[TeamRole::Owner]
            } else {
                MANAGERS
            },
        )?;
    }
    s.remove_team_member(id, user).await?;
    super::audit(
        &s,
        &caller,
        "team.member_remove",
        "team",
        id,
        serde_json::json!({ "user_id": user }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn member_role(
    s: &berth_store::Scope,
    team: TeamId,
    user: UserId,
) -> Result<TeamRole, ApiError> {
    s.team_members(team)
        .await?
        .into_iter()
        .find(|m| m.user_id == user)
        .map(|m| m.role)
        .ok_or(ApiError::NotFound("team member"))
}

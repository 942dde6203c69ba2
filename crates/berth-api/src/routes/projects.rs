use actix_web::{web, HttpResponse};
use berth_domain::{
    ApplicationCounts, Description, Project, ProjectId, ProjectName, TeamId, TeamRole,
};
use berth_store::{NewProject, ProjectChanges};

use crate::auth::Caller;
use crate::authz::{require_project, require_project_owner, require_team, Access};
use crate::dto::{PageOf, PageQuery, ProjectCreate, ProjectUpdate, ProjectView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

const TEAM_WRITERS: &[TeamRole] = &[TeamRole::Owner, TeamRole::Admin, TeamRole::Member];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/projects", web::get().to(list_projects))
        .route("/projects", web::post().to(create_project))
        .route("/projects/{id}", web::get().to(get_project))
        .route("/projects/{id}", web::patch().to(update_project))
        .route("/projects/{id}", web::delete().to(delete_project));
}

/// The projects the caller owns or reaches through a team (all of them for admins).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageOf<ProjectView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_projects(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    let projects = s.list_projects(page).await?;
    let ids: Vec<ProjectId> = projects.items.iter().map(|p| p.id).collect();
    let counts = s.application_counts(&ids).await?;
    Ok(HttpResponse::Ok().json(PageOf::from(projects, |p| {
        let c = counts.get(&p.id).copied().unwrap_or_default();
        ProjectView::new(p, c)
    })))
}

/// Creates a project owned by the caller, optionally managed by one of their teams (as a
/// member or more).
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), request_body = ProjectCreate,
    responses((status = 201, body = ProjectView), (status = 403, body = Problem), (status = 404, description = "No such team visible to the caller", body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_project(
    state: web::Data<AppState>,
    caller: Caller,
    body: crate::json::Body<ProjectCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require_writer()?;
    let mut v = berth_domain::error::Validator::new();
    let name = v.check("name", ProjectName::parse(&body.name));
    let description = body
        .description
        .as_deref()
        .map(|d| v.check("description", Description::parse(d)));
    v.finish()?;
    let (Some(name), description) = (name, description.flatten()) else {
        return Err(ApiError::invalid("name", "is invalid"));
    };
    let s = caller.scope(&state).await?;
    let team_id = body.team_id.map(TeamId::from_uuid);
    if let Some(t) = team_id {
        s.team(t).await?;
        require_team(caller.user()?, &s, t, TEAM_WRITERS)?;
    }
    let p = s
        .create_project(NewProject {
            name,
            description,
            team_id,
        })
        .await?;
    super::audit(
        &s,
        &caller,
        "project.create",
        "project",
        p.id,
        serde_json::json!({ "name": p.name, "team_id": p.team_id }),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(ProjectView::new(p, ApplicationCounts::default())))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ProjectView), (status = 404, body = Problem)))]
pub async fn get_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let p = s.project(ProjectId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(counted(&s, p).await?))
}

/// Renames a project or changes its description (write access); moving it to another team or
/// out of one is for the user who owns it.
#[utoipa::path(patch, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ProjectUpdate,
    responses((status = 200, body = ProjectView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ProjectUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = ProjectId::from_uuid(*id);
    let mut v = berth_domain::error::Validator::new();
    let name = body
        .name
        .as_deref()
        .and_then(|n| v.check("name", ProjectName::parse(n)));
    let description = crate::dto::parse_description_change(&mut v, &body.description);
    v.finish()?;
    let s = caller.scope(&state).await?;
    let project = s.project(id).await?;
    let user = caller.user()?;
    let team_change = body.team_id.map(|t| t.map(TeamId::from_uuid));
    require_project(user, &s, &project, Access::Write)?;
    if team_change.is_some() {
        require_project_owner(user, &project)?;
    }
    if let Some(Some(t)) = team_change {
        s.team(t).await?;
        require_team(user, &s, t, TEAM_WRITERS)?;
    }
    let p = s
        .update_project(
            id,
            ProjectChanges {
                name,
                description,
                team_id: team_change,
            },
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "project.update",
        "project",
        id,
        serde_json::json!({ "name": p.name, "team_id": p.team_id }),
    )
    .await?;
    let view = counted(&s, p).await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Deletes a project and everything in it (owner access). Refused while it has volumes.
#[utoipa::path(delete, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_project(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ProjectId::from_uuid(*id);
    let s = caller.scope(&state).await?;
    let project = s.project(id).await?;
    require_project(caller.user()?, &s, &project, Access::Owner)?;
    s.delete_project(id).await?;
    super::audit(
        &s,
        &caller,
        "project.delete",
        "project",
        id,
        serde_json::json!({ "name": project.name }),
    )
    .await?;
    s.commit().await?;
    // No application is left, so no service uses the project's network any more.
    state.pipeline.remove_project_network(id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// A project as the API shows it, with its applications counted.
async fn counted(s: &berth_store::Scope, p: Project) -> Result<ProjectView, ApiError> {
    let c = s
        .application_counts(&[p.id])
        .await?
        .get(&p.id)
        .copied()
        .unwrap_or_default();
    Ok(ProjectView::new(p, c))
}

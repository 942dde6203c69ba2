//! Applications: create, read, change and delete (deleting is an operation, queued with the
//! pipeline).

use actix_web::{web, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{ApplicationId, ProjectId, ValidationError};
use berth_store::{NewApplication, Scope};

use crate::auth::Caller;
use crate::authz::{require_project, Access};
use crate::dto::{
    ApplicationInput, ApplicationView, DeleteApplicationQuery, OperationView, PageOf, PageQuery,
};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{id}/applications",
        web::get().to(list_applications),
    )
    .route(
        "/projects/{id}/applications",
        web::post().to(create_application),
    )
    .route("/applications/{id}", web::get().to(get_application))
    .route("/applications/{id}", web::patch().to(update_application))
    .route("/applications/{id}", web::delete().to(delete_application));
}

/// Loads an application the caller can see and checks their access to its project.
pub(crate) async fn application_with(
    s: &Scope,
    caller: &Caller,
    id: ApplicationId,
    needed: Access,
) -> Result<berth_domain::Application, ApiError> {
    let app = s.application(id).await?;
    let project = s.project(app.project_id).await?;
    require_project(caller.user()?, s, &project, needed)?;
    Ok(app)
}

async fn view(s: &Scope, app: berth_domain::Application) -> Result<ApplicationView, ApiError> {
    let has_credentials = match app.kind {
        berth_domain::ApplicationKind::Git => s.git_source(app.id).await?.has_credentials,
        _ => false,
    };
    Ok(ApplicationView::new(app, has_credentials))
}

#[utoipa::path(get, path = "/api/v1/projects/{id}/applications", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<ApplicationView>), (status = 404, body = Problem)))]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    let apps = s.list_applications(ProjectId::from_uuid(*id), page).await?;
    let mut items = Vec::with_capacity(apps.items.len());
    for a in apps.items {
        items.push(view(&s, a).await?);
    }
    Ok(HttpResponse::Ok().json(PageOf {
        items,
        total: apps.total,
        limit: apps.limit,
        offset: apps.offset,
    }))
}

/// A source must name what the caller may use (403 `source_not_allowed` otherwise): a git
/// repository berth may fetch (over the network, or under a local root the admin allowed), an
/// image of a registry (not berth's own builds, not an image id; a registry named by its address
/// only when the caller is an admin or the installation lists it, docs/api.md, "Registries").
async fn check_source_allowed(
    state: &AppState,
    caller: &Caller,
    scope: &Scope,
    source: &berth_domain::ApplicationSource,
) -> Result<(), ApiError> {
    let refused = match source {
        berth_domain::ApplicationSource::Git(g) => g
            .repository
            .check_fetchable(&state.git_local_roots)
            .err()
            .map(|e| ("source.repository", e)),
        berth_domain::ApplicationSource::Image { image } => {
            image.check_runnable().err().map(|e| ("source.image", e))
        }
    };
    if let Some((field, e)) = refused {
        return Err(ApiError::Forbidden(
            ErrorCode::SourceNotAllowed,
            format!("{field}: {}", e.messages()),
        ));
    }
    if let berth_domain::ApplicationSource::Image { image } = source {
        super::registries::check_registry_allowed(caller, scope, &image.registry(), "source.image")
            .await?;
    }
    Ok(())
}

/// A host port below 1024, or one berth itself listens on, is published by admins only: a
/// developer may keep what an admin published, not add one. Engine-assigned ports are anyone's.
fn check_published_ports(
    state: &AppState,
    caller: &Caller,
    before: &[berth_domain::PortMapping],
    after: &[berth_domain::PortMapping],
) -> Result<(), ApiError> {
    if caller.user().is_ok_and(|u| u.role.is_admin()) {
        return Ok(());
    }
    let published = |p: &berth_domain::PortMapping| p.published.map(|n| (n.get(), p.protocol));
    for (i, p) in after.iter().enumerate() {
        let Some((port, _)) = published(p) else {
            continue;
        };
        let privileged = port < 1024 || state.reserved_ports.contains(&port);
        if privileged && !before.iter().any(|b| published(b) == published(p)) {
            return Err(ApiError::Forbidden(
                ErrorCode::PortReserved,
                format!(
                    "ports.{i}.published: host port {port} is {}; only an admin may publish it",
                    if port < 1024 {
                        "below 1024"
                    } else {
                        "one berth listens on"
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Creates an application in a project (write access).
#[utoipa::path(post, path = "/api/v1/projects/{id}/applications", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = ApplicationInput,
    responses((status = 201, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.parse(true)?;
    let s = caller.scope(&state).await?;
    let project = s.project(ProjectId::from_uuid(*id)).await?;
    require_project(caller.user()?, &s, &project, Access::Write)?;
    let runtime = parsed.runtime_over(&Default::default());
    runtime.conflicts().map_err(ApiError::conflicting)?;
    check_published_ports(&state, &caller, &[], &runtime.ports)?;
    let c = parsed.changes;
    let (Some(name), Some(source)) = (c.name, c.source) else {
        return Err(ApiError::invalid("name", "is required"));
    };
    check_source_allowed(&state, &caller, &s, &source).await?;
    let app = s
        .create_application(
            project.id,
            NewApplication {
                name,
                description: c.description.flatten(),
                source,
                runtime,
                replicas: c.replicas.unwrap_or_default(),
                credentials: c.credentials.flatten(),
            },
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "application.create",
        "application",
        app.id,
        serde_json::json!({ "name": app.name, "project_id": project.id }),
    )
    .await?;
    let v = view(&s, app).await?;
    s.commit().await?;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApplicationView), (status = 404, body = Problem)))]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = s.application(ApplicationId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(view(&s, app).await?))
}

/// Changes any subset of an application's settings (write access). Credentials given in
/// `source` replace the stored ones.
#[utoipa::path(patch, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ApplicationInput,
    responses((status = 200, body = ApplicationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ApplicationInput>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.parse(false)?;
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let mut changes = parsed.changes.clone();
    if let Some(source) = &changes.source {
        check_source_allowed(&state, &caller, &s, source).await?;
        if source.kind() != app.kind {
            return Err(ApiError::conflicting(ValidationError::field(
                "source.type",
                "cannot change the type of an application's source",
            )));
        }
    }
    if parsed.touches_runtime() {
        let runtime = parsed.runtime_over(&app.runtime);
        runtime.validate()?;
        runtime.conflicts().map_err(ApiError::conflicting)?;
        check_published_ports(&state, &caller, &app.runtime.ports, &runtime.ports)?;
        changes.runtime = Some(runtime);
    }
    let changed: Vec<&str> = [
        changes.name.as_ref().map(|_| "name"),
        changes.description.as_ref().map(|_| "description"),
        changes.source.as_ref().map(|_| "source"),
        changes.runtime.as_ref().map(|_| "runtime"),
        changes.replicas.as_ref().map(|_| "replicas"),
        changes.credentials.as_ref().map(|_| "credentials"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let updated = s.update_application(app.id, changes).await?;
    super::audit(
        &s,
        &caller,
        "application.update",
        "application",
        app.id,
        serde_json::json!({ "changed": changed }),
    )
    .await?;
    let v = view(&s, updated).await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(v))
}

/// Deletes an application (admin access), in the background: 202 with the operation. Its
/// Swarm service and its images are removed first, then, with `delete_volumes=true`, its
/// volumes and their data (an application that has volumes is otherwise not deleted: 409
/// naming them); then the application disappears; its history is kept.
#[utoipa::path(delete, path = "/api/v1/applications/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path), DeleteApplicationQuery),
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<DeleteApplicationQuery>,
) -> Result<HttpResponse, ApiError> {
    let delete_volumes = q.delete_volumes == Some(true);
    super::runtime::operate(
        &state,
        &caller,
        *id,
        Access::Admin,
        berth_store::NewOperation {
            kind: berth_domain::OperationKind::Delete,
            replicas: None,
            delete_volumes,
            requested_by: caller.user().ok().map(|u| u.id),
        },
        serde_json::json!({ "delete_volumes": delete_volumes }),
    )
    .await
}

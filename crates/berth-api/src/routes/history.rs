//! Read access to builds, deployments, steps and log lines. Starting, cancelling and rolling
//! back deployments arrive with the deployment pipeline.

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, BuildId, DeploymentId};

use crate::auth::Caller;
use crate::dto::{
    BuildView, DeploymentDetailView, DeploymentView, LogLineView, LogQuery, PageOf, PageQuery,
    StepView,
};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/applications/{id}/deployments",
        web::get().to(list_deployments),
    )
    .route("/deployments/{id}", web::get().to(get_deployment))
    .route("/deployments/{id}/logs", web::get().to(deployment_logs))
    .route("/applications/{id}/builds", web::get().to(list_builds))
    .route(
        "/applications/{id}/builds/latest-successful",
        web::get().to(latest_successful_build),
    )
    .route("/builds/{id}", web::get().to(get_build));
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/deployments", tag = "deployments", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<DeploymentView>), (status = 404, body = Problem)))]
pub async fn list_deployments(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    let list = s
        .list_deployments(ApplicationId::from_uuid(*id), page)
        .await?;
    Ok(HttpResponse::Ok().json(PageOf::from(list, DeploymentView::from)))
}

/// One deployment with its build and its steps.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deployments", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DeploymentDetailView), (status = 404, body = Problem)))]
pub async fn get_deployment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let d = s.deployment_detail(DeploymentId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(DeploymentDetailView {
        deployment: d.deployment.into(),
        build: d.build.map(BuildView::from),
        steps: d.steps.into_iter().map(StepView::from).collect(),
    }))
}

/// Log lines of a deployment in order, after a sequence number.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/logs", tag = "deployments", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), LogQuery),
    responses((status = 200, body = Vec<LogLineView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn deployment_logs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "must not be negative"));
    }
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let s = caller.scope(&state).await?;
    let lines: Vec<LogLineView> = s
        .deployment_logs(DeploymentId::from_uuid(*id), after, limit)
        .await?
        .into_iter()
        .map(LogLineView::from)
        .collect();
    Ok(HttpResponse::Ok().json(lines))
}

#[utoipa::path(get, path = "/api/v1/applications/{id}/builds", tag = "builds", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<BuildView>), (status = 404, body = Problem)))]
pub async fn list_builds(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(PageOf::from(
        s.list_builds(ApplicationId::from_uuid(*id), page).await?,
        BuildView::from,
    )))
}

/// The newest build of the application that succeeded; 404 when there is none.
#[utoipa::path(get, path = "/api/v1/applications/{id}/builds/latest-successful", tag = "builds", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = BuildView), (status = 404, body = Problem)))]
pub async fn latest_successful_build(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let b = s
        .latest_successful_build(ApplicationId::from_uuid(*id))
        .await?
        .ok_or(ApiError::NotFound("successful build"))?;
    Ok(HttpResponse::Ok().json(BuildView::from(b)))
}

#[utoipa::path(get, path = "/api/v1/builds/{id}", tag = "builds", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = BuildView), (status = 404, body = Problem)))]
pub async fn get_build(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    Ok(HttpResponse::Ok().json(BuildView::from(s.build(BuildId::from_uuid(*id)).await?)))
}

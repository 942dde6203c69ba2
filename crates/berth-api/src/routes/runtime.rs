//! What runs: an application's replicas, starting, stopping, restarting and scaling them, and
//! their runtime logs. Operations are queued with the pipeline and answered at once (202);
//! what runs is read through it.

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, OperationKind, Replicas};
use berth_store::NewOperation;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use super::applications::application_with;
use crate::auth::Caller;
use crate::authz::Access;
use crate::dto::{OperationView, RuntimeLogLine, RuntimeLogQuery, RuntimeView, UsageView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{id}/runtime", web::get().to(runtime))
        .route("/applications/{id}/usage", web::get().to(usage))
        .route("/applications/{id}/start", web::post().to(start))
        .route("/applications/{id}/stop", web::post().to(stop))
        .route("/applications/{id}/restart", web::post().to(restart))
        .route("/applications/{id}/scale", web::post().to(scale))
        .route("/applications/{id}/logs", web::get().to(logs))
        .route("/applications/{id}/logs/stream", web::get().to(stream_logs));
}

/// The application, with `needed` access.
async fn application(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
    needed: Access,
) -> Result<berth_domain::Application, ApiError> {
    let s = caller.scope(state).await?;
    let app = application_with(&s, caller, ApplicationId::from_uuid(id), needed).await?;
    drop(s);
    Ok(app)
}

/// The application's replicas as Swarm runs them: desired and running, the rolling update's
/// state, the last error, and each task with the host ports it publishes.
#[utoipa::path(get, path = "/api/v1/applications/{id}/runtime", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RuntimeView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn runtime(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let app = application(&state, &caller, *id, Access::Read).await?;
    Ok(HttpResponse::Ok().json(RuntimeView::from(state.pipeline.runtime(&app).await?)))
}

/// What each running replica on this server uses now: CPU over about a second (the engine
/// samples it twice) and memory, as the engine's container stats say (read access). Call it
/// again for a series; 409 when the application was never deployed.
#[utoipa::path(get, path = "/api/v1/applications/{id}/usage", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = UsageView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn usage(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let app = application(&state, &caller, *id, Access::Read).await?;
    let replicas = state.pipeline.usage(&app).await?;
    Ok(HttpResponse::Ok().json(UsageView::new(replicas, chrono::Utc::now())))
}

/// Queues `kind` on the application (write access), with its audit entry in the same
/// transaction: 202 with the operation, which runs after whatever of the application runs
/// now. Watch it at `/operations/{id}` or `/operations/{id}/stream`.
pub(crate) async fn operate(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
    needed: Access,
    new: NewOperation,
    details: serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(state).await?;
    let app = application_with(&s, caller, ApplicationId::from_uuid(id), needed).await?;
    super::audit(
        &s,
        caller,
        &format!("application.{}", new.kind.as_str()),
        "application",
        app.id,
        details,
    )
    .await?;
    let op = state.pipeline.request(s, &app, new).await?;
    Ok(HttpResponse::Accepted().json(OperationView::from(op)))
}

fn simple(kind: OperationKind, caller: &Caller) -> NewOperation {
    NewOperation {
        kind,
        replicas: None,
        delete_volumes: false,
        requested_by: caller.user().ok().map(|u| u.id),
    }
}

/// Starts a stopped application with the replicas it had: 202 with the operation.
#[utoipa::path(post, path = "/api/v1/applications/{id}/start", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn start(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let new = simple(OperationKind::Start, &caller);
    operate(
        &state,
        &caller,
        *id,
        Access::Write,
        new,
        serde_json::json!({}),
    )
    .await
}

/// Stops every replica; the service, its volumes and its configuration stay: 202 with the
/// operation.
#[utoipa::path(post, path = "/api/v1/applications/{id}/stop", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stop(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let new = simple(OperationKind::Stop, &caller);
    operate(
        &state,
        &caller,
        *id,
        Access::Write,
        new,
        serde_json::json!({}),
    )
    .await
}

/// Replaces every replica with a fresh one, one at a time, with no downtime: 202 with the
/// operation.
#[utoipa::path(post, path = "/api/v1/applications/{id}/restart", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn restart(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let new = simple(OperationKind::Restart, &caller);
    operate(
        &state,
        &caller,
        *id,
        Access::Write,
        new,
        serde_json::json!({}),
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub replicas: i64,
}

/// Runs this many replicas now and in later deployments: 202 with the operation.
#[utoipa::path(post, path = "/api/v1/applications/{id}/scale", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ScaleRequest,
    responses((status = 202, body = OperationView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn scale(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ScaleRequest>,
) -> Result<HttpResponse, ApiError> {
    let replicas = Replicas::parse(body.replicas).map_err(|e| {
        ApiError::invalid(
            "replicas",
            e.errors
                .first()
                .map_or("is not valid", |f| f.message.as_str()),
        )
    })?;
    let new = NewOperation {
        replicas: Some(replicas),
        ..simple(OperationKind::Scale, &caller)
    };
    operate(
        &state,
        &caller,
        *id,
        Access::Write,
        new,
        serde_json::json!({ "replicas": replicas.get() }),
    )
    .await
}

/// What the application's replicas printed (both streams, with timestamps), oldest first.
#[utoipa::path(get, path = "/api/v1/applications/{id}/logs", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), RuntimeLogQuery),
    responses((status = 200, body = Vec<RuntimeLogLine>), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn logs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<RuntimeLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = application(&state, &caller, *id, Access::Read).await?;
    let stream = state.pipeline.logs(&app, &q.options(false)?).await?;
    let lines: Vec<RuntimeLogLine> = stream
        .filter_map(|l| async move { l.ok().map(RuntimeLogLine::from) })
        .collect()
        .await;
    Ok(HttpResponse::Ok().json(lines))
}

/// The same as Server-Sent Events (event `log`), following new lines, including those of
/// replicas that start later, until the client goes away.
#[utoipa::path(get, path = "/api/v1/applications/{id}/logs/stream", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), RuntimeLogQuery),
    responses((status = 200, content_type = "text/event-stream", body = crate::dto::ServerSentEvent), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn stream_logs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<RuntimeLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = application(&state, &caller, *id, Access::Read).await?;
    let permit = state.streams.acquire(caller.user().ok().map(|u| u.id))?;
    let stream = state.pipeline.logs(&app, &q.options(true)?).await?;
    let events = stream.filter_map(move |l| {
        // Held as long as the stream: dropped with it.
        let _held = &permit;
        async move {
            let line = RuntimeLogLine::from(l.ok()?);
            let data = serde_json::to_string(&line).ok()?;
            Some(Ok::<_, std::convert::Infallible>(bytes::Bytes::from(
                format!("event: log\ndata: {data}\n\n"),
            )))
        }
    });
    Ok(crate::streams::event_stream(events))
}

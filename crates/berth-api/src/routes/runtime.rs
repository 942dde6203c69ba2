//! What runs: an application's replicas, starting, stopping, restarting and scaling them, and
//! their runtime logs. Each acts on the application's Swarm service through the orchestrator.

use berth_domain::ErrorCode;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, ApplicationStatus, Replicas, ServiceName};
use berth_events::Event;
use berth_swarm::{Swarm, SwarmError};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use super::applications::application_with;
use crate::auth::Caller;
use crate::authz::Access;
use crate::dto::{RuntimeLogLine, RuntimeLogQuery, RuntimeView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

const TIMEOUT: Duration = Duration::from_secs(300);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications/{id}/runtime", web::get().to(runtime))
        .route("/applications/{id}/start", web::post().to(start))
        .route("/applications/{id}/stop", web::post().to(stop))
        .route("/applications/{id}/restart", web::post().to(restart))
        .route("/applications/{id}/scale", web::post().to(scale))
        .route("/applications/{id}/logs", web::get().to(logs))
        .route("/applications/{id}/logs/stream", web::get().to(stream_logs));
}

pub(crate) fn swarm(state: &AppState) -> Result<&Swarm, ApiError> {
    let p = state.pipeline.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            ErrorCode::EngineUnavailable,
            "this server runs no orchestrator".into(),
        )
    })?;
    p.swarm().map_err(|why| {
        ApiError::Unavailable(
            ErrorCode::EngineUnavailable,
            format!("Swarm cannot be used: {why}"),
        )
    })
}

fn engine_error(e: SwarmError) -> ApiError {
    match e {
        SwarmError::NotFound(_) => ApiError::conflict(
            ErrorCode::NotDeployed,
            "the application has not been deployed yet",
        ),
        SwarmError::Engine(m) | SwarmError::Unavailable(m) => {
            ApiError::Unavailable(ErrorCode::EngineUnavailable, m)
        }
        e @ SwarmError::NotConverged { .. } => {
            ApiError::Unavailable(ErrorCode::EngineTimeout, e.to_string())
        }
        e @ SwarmError::RoutingMeshUnavailable { .. } => {
            ApiError::conflict(ErrorCode::RoutingMeshUnavailable, e.to_string())
        }
        e @ SwarmError::PortTaken { .. } => ApiError::conflict(ErrorCode::PortTaken, e.to_string()),
        e @ SwarmError::ImageNotFound(_) => {
            ApiError::conflict(ErrorCode::ImageNotFound, e.to_string())
        }
        other => ApiError::Unavailable(ErrorCode::EngineUnavailable, other.to_string()),
    }
}

/// The application (with `needed` access) and its service's name.
async fn service_of(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
    needed: Access,
) -> Result<(berth_domain::Application, ServiceName), ApiError> {
    let s = caller.scope(state).await?;
    let app = application_with(&s, caller, ApplicationId::from_uuid(id), needed).await?;
    s.commit().await?;
    let name = ServiceName::for_application(&app.name, app.id);
    Ok((app, name))
}

async fn view(swarm: &Swarm, name: &ServiceName) -> Result<RuntimeView, ApiError> {
    Ok(RuntimeView::from(
        swarm.status(name.as_str()).await.map_err(engine_error)?,
    ))
}

/// Records the application's new status after an operation, and says so on the bus.
async fn set_status(
    state: &AppState,
    app: &berth_domain::Application,
    status: ApplicationStatus,
    action: &str,
    caller: &Caller,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let s = caller.scope(state).await?;
    s.set_application_status(app.id, status).await?;
    super::audit(&s, caller, action, "application", app.id, details).await?;
    s.commit().await?;
    state.bus.publish(Event::ApplicationStatusChanged {
        application_id: app.id,
        status,
    });
    Ok(())
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
    let (_, name) = service_of(&state, &caller, *id, Access::Read).await?;
    Ok(HttpResponse::Ok().json(view(swarm(&state)?, &name).await?))
}

/// What start, stop and restart do to the service.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Start,
    Stop,
    Restart,
}

/// Runs `op` on the application's service, waits for Swarm to converge, records the
/// application's new status, and answers with its runtime view.
async fn operate(
    state: &AppState,
    caller: &Caller,
    id: uuid::Uuid,
    op: Operation,
) -> Result<HttpResponse, ApiError> {
    let (app, name) = service_of(state, caller, id, Access::Write).await?;
    let swarm = swarm(state)?;
    let events = berth_swarm::EventSink::discard();
    let (done, status, action) = match op {
        Operation::Start => (
            swarm.start(name.as_str(), &events, TIMEOUT).await.map(drop),
            ApplicationStatus::Running,
            "application.start",
        ),
        Operation::Stop => (
            swarm.stop(name.as_str(), &events, TIMEOUT).await,
            ApplicationStatus::Stopped,
            "application.stop",
        ),
        Operation::Restart => (
            swarm
                .restart(name.as_str(), &events, TIMEOUT)
                .await
                .map(drop),
            ApplicationStatus::Running,
            "application.restart",
        ),
    };
    done.map_err(engine_error)?;
    set_status(state, &app, status, action, caller, serde_json::json!({})).await?;
    Ok(HttpResponse::Ok().json(view(swarm, &name).await?))
}

/// Starts a stopped application with the replicas it had.
#[utoipa::path(post, path = "/api/v1/applications/{id}/start", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RuntimeView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn start(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    operate(&state, &caller, *id, Operation::Start).await
}

/// Stops every replica; the service, its volumes and its configuration stay.
#[utoipa::path(post, path = "/api/v1/applications/{id}/stop", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RuntimeView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn stop(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    operate(&state, &caller, *id, Operation::Stop).await
}

/// Replaces every replica with a fresh one, one at a time, with no downtime.
#[utoipa::path(post, path = "/api/v1/applications/{id}/restart", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RuntimeView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn restart(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    operate(&state, &caller, *id, Operation::Restart).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// 0 to 100.
    pub replicas: i64,
}

/// Runs this many replicas now and in later deployments.
#[utoipa::path(post, path = "/api/v1/applications/{id}/scale", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ScaleRequest,
    responses((status = 200, body = RuntimeView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn scale(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: web::Json<ScaleRequest>,
) -> Result<HttpResponse, ApiError> {
    let replicas = Replicas::parse(body.replicas).map_err(|e| {
        ApiError::invalid(
            "replicas",
            e.errors
                .first()
                .map_or("is not valid", |f| f.message.as_str()),
        )
    })?;
    let (app, name) = service_of(&state, &caller, *id, Access::Write).await?;
    let swarm = swarm(&state)?;
    swarm
        .scale(
            name.as_str(),
            replicas.get(),
            &berth_swarm::EventSink::discard(),
            TIMEOUT,
        )
        .await
        .map_err(engine_error)?;
    let s = caller.scope(&state).await?;
    s.update_application(
        app.id,
        berth_store::ApplicationChanges {
            replicas: Some(replicas),
            ..Default::default()
        },
    )
    .await?;
    s.commit().await?;
    let status = if replicas.get() == 0 {
        ApplicationStatus::Stopped
    } else {
        ApplicationStatus::Running
    };
    set_status(
        &state,
        &app,
        status,
        "application.scale",
        &caller,
        serde_json::json!({ "replicas": replicas.get() }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view(swarm, &name).await?))
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
    let (_, name) = service_of(&state, &caller, *id, Access::Read).await?;
    let stream = swarm(&state)?
        .logs(name.as_str(), &q.options(false)?)
        .await
        .map_err(engine_error)?;
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
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn stream_logs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<RuntimeLogQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, name) = service_of(&state, &caller, *id, Access::Read).await?;
    let permit = state.streams.acquire(caller.user().ok().map(|u| u.id))?;
    let stream = swarm(&state)?
        .logs(name.as_str(), &q.options(true)?)
        .await
        .map_err(engine_error)?;
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
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .streaming(events))
}

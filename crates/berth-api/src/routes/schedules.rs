//! Scheduled jobs (admins): what berth runs by itself on a timetable, when it runs next, and
//! every run with its outcome (docs/operations.md, "Scheduled jobs").

use actix_web::{web, HttpResponse};
use berth_domain::{patterns, CronSchedule, ScheduleId, ValidationError};
use berth_store::ScheduleChanges;

use crate::auth::Caller;
use crate::dto::{PageOf, PageQuery, ScheduleRunView, ScheduleUpdate, ScheduleView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/schedules", web::get().to(list_schedules))
        .route("/schedules/{id}", web::patch().to(update_schedule))
        .route("/schedules/{id}/runs", web::get().to(list_schedule_runs))
        .route("/schedules/{id}/runs", web::post().to(run_schedule));
}

/// A schedule as it is now, with its newest run.
async fn view(
    state: &AppState,
    s: &berth_store::Scope,
    schedule: berth_domain::Schedule,
) -> Result<ScheduleView, ApiError> {
    let last = s.last_schedule_run(schedule.id).await?;
    Ok(ScheduleView::new(
        schedule,
        last,
        state.pipeline.time_zone(),
    ))
}

/// Every schedule, with its next run and its last (admins).
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScheduleView>), (status = 403, body = Problem)))]
pub async fn list_schedules(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    let zone = state.pipeline.time_zone();
    let list: Vec<ScheduleView> = s
        .list_schedules()
        .await?
        .into_iter()
        .map(|(x, last)| ScheduleView::new(x, last, zone))
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// Changes when a schedule runs, or turns it off and on (admins). The next run is the first
/// time the new expression names; a well-formed expression whose range runs backwards, or
/// that never runs (`0 0 31 2 *`), is 409 `conflicting_settings`.
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "schedules", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    request_body = ScheduleUpdate,
    responses((status = 200, body = ScheduleView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_schedule(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: crate::json::Body<ScheduleUpdate>,
) -> Result<HttpResponse, ApiError> {
    if let Some(c) = &body.cron {
        if !patterns::CRON.allows(c) {
            return Err(ApiError::invalid(
                "cron",
                "must be five fields separated by one space: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or SUN-SAT), each *, a value, a range, with an optional /step, or a list",
            ));
        }
    }
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    let id = ScheduleId::from_uuid(*id);
    s.schedule(id).await?;
    let mut changes = ScheduleChanges {
        enabled: body.enabled,
        ..Default::default()
    };
    if let Some(c) = &body.cron {
        let cron = CronSchedule::parse(c).map_err(|e| ApiError::conflicting(e.nested("cron")))?;
        let next = state
            .pipeline
            .next_run(&cron)
            .ok_or_else(|| ApiError::conflicting(ValidationError::field("cron", "never runs")))?;
        changes.cron = Some(cron);
        changes.next_run_at = Some(next);
    }
    let schedule = s.update_schedule(id, changes).await?;
    super::audit(
        &s,
        &caller,
        "schedule.update",
        "schedule",
        schedule.id,
        serde_json::json!({ "kind": schedule.kind, "cron": schedule.cron, "enabled": schedule.enabled }),
    )
    .await?;
    let v = view(&state, &s, schedule).await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(v))
}

/// A schedule's runs, newest first (admins).
#[utoipa::path(get, path = "/api/v1/schedules/{id}/runs", tag = "schedules", security(("bearer" = [])), params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<ScheduleRunView>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_schedule_runs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    let page = s
        .schedule_runs(ScheduleId::from_uuid(*id), q.page()?)
        .await?;
    Ok(HttpResponse::Ok().json(PageOf::from(page, ScheduleRunView::from)))
}

/// Runs a schedule now (admins): its next run becomes now, and the scheduler takes it at once;
/// answered before it runs. Its timetable goes on from there.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/runs", tag = "schedules", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = ScheduleView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn run_schedule(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let s = caller.scope(&state).await?;
    let id = ScheduleId::from_uuid(*id);
    let schedule = s
        .update_schedule(
            id,
            ScheduleChanges {
                next_run_at: Some(state.pipeline.now()),
                ..Default::default()
            },
        )
        .await?;
    super::audit(
        &s,
        &caller,
        "schedule.run",
        "schedule",
        schedule.id,
        serde_json::json!({ "kind": schedule.kind }),
    )
    .await?;
    let v = view(&state, &s, schedule).await?;
    s.commit().await?;
    state.pipeline.wake_scheduler();
    Ok(HttpResponse::Accepted().json(v))
}

//! Operations on applications (start, stop, restart, scale, delete) as records to read and to
//! watch live. They are asked for under `/applications/{id}/…` and run by the pipeline.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use berth_domain::{ApplicationId, OperationId, OperationStatus};
use berth_events::{Event, Received};
use berth_store::Actor;

use crate::auth::Caller;
use crate::dto::{OperationView, PageOf, PageQuery};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/applications/{id}/operations",
        web::get().to(list_operations),
    )
    .route("/operations/{id}", web::get().to(get_operation))
    .route("/operations/{id}/stream", web::get().to(stream_operation));
}

/// The application's operations, newest first.
#[utoipa::path(get, path = "/api/v1/applications/{id}/operations", tag = "applications", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), PageQuery),
    responses((status = 200, body = PageOf<OperationView>), (status = 404, body = Problem)))]
pub async fn list_operations(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page()?;
    let s = caller.scope(&state).await?;
    let list = s
        .list_operations(ApplicationId::from_uuid(*id), page)
        .await?;
    Ok(HttpResponse::Ok().json(PageOf::from(list, OperationView::from)))
}

/// One operation (also after it deleted its application).
#[utoipa::path(get, path = "/api/v1/operations/{id}", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OperationView), (status = 404, body = Problem)))]
pub async fn get_operation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let op = s.operation(OperationId::from_uuid(*id)).await?;
    Ok(HttpResponse::Ok().json(OperationView::from(op)))
}

/// The operation as Server-Sent Events: a `status` event with the operation now and at each
/// change, then an `end` event with the operation once it ended, after which the stream closes.
#[utoipa::path(get, path = "/api/v1/operations/{id}/stream", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, content_type = "text/event-stream", body = crate::dto::ServerSentEvent), (status = 404, body = Problem)))]
pub async fn stream_operation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = OperationId::from_uuid(*id);
    // Visible to the caller, or 404.
    caller.scope(&state).await?.operation(id).await?;
    let permit = state.streams.acquire(caller.user().ok().map(|u| u.id))?;
    // Subscribed before the first read: no change in between is missed.
    let subscription = state.bus.subscribe();
    let state = state.into_inner();
    let watch = Watch {
        state,
        id,
        subscription,
        last: None,
        done: false,
        _permit: permit,
    };
    Ok(crate::streams::follow(watch))
}

struct Watch {
    _permit: crate::streams::Permit,
    state: std::sync::Arc<AppState>,
    id: OperationId,
    subscription: berth_events::Subscription,
    /// The status last sent.
    last: Option<OperationStatus>,
    done: bool,
}

impl crate::streams::Chunks for Watch {
    /// The next chunk: the operation read from the store whenever it may have changed, sent
    /// when its status did.
    async fn next_chunk(&mut self) -> Option<bytes::Bytes> {
        loop {
            if self.done {
                return None;
            }
            if let Some(chunk) = self.read().await {
                return Some(chunk);
            }
            let received =
                tokio::time::timeout(Duration::from_secs(15), self.subscription.recv()).await;
            match received {
                Err(_) => return Some(bytes::Bytes::from_static(b": keep-alive\n\n")),
                Ok(Received::Event(Event::OperationStatusChanged { operation_id, .. }))
                    if operation_id == self.id => {}
                Ok(Received::Lagged { .. }) => {}
                Ok(Received::Event(_)) => continue,
                Ok(Received::Closed) => self.done = true,
            }
        }
    }
}

impl Watch {
    /// The operation's event when its status is not the one last sent.
    async fn read(&mut self) -> Option<bytes::Bytes> {
        let scope = self.state.store.read_scope(Actor::System).await.ok()?;
        let Ok(op) = scope.operation(self.id).await else {
            self.done = true;
            return None;
        };
        drop(scope);
        if self.last == Some(op.status) {
            return None;
        }
        self.last = Some(op.status);
        let event = if op.status.is_final() {
            self.done = true;
            "end"
        } else {
            "status"
        };
        let data = serde_json::to_string(&OperationView::from(op)).unwrap_or_default();
        Some(bytes::Bytes::from(format!(
            "event: {event}\ndata: {data}\n\n"
        )))
    }
}

//! The caller's live view of what changes: one stream of the status changes of the
//! applications, deployments and operations they may see, so a page shows them as they happen
//! instead of asking again and again.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use berth_domain::ApplicationId;
use berth_events::{Event, Received};

use crate::auth::Caller;
use crate::{ApiError, AppState, Problem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/stream", web::get().to(stream_events));
}

/// A comment sent when nothing else was, which also checks that the caller's token still holds.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What changes, as Server-Sent Events, for as long as the client stays: `ready` once
/// subscribed; `application` (`application_id`, `status`), `deployment` (`deployment_id`,
/// `application_id`, `status`) and `operation` (`operation_id`, `application_id`, `status`)
/// for each status change of an application the caller may read; `resync` when the stream fell
/// behind and events were lost (read the page again); `end` when the caller's token stopped
/// being valid (signed out, revoked, expired), after which the stream closes. Another tenant's
/// changes never appear. Personal tokens and sessions only.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", body = crate::dto::ServerSentEvent), (status = 403, body = Problem), (status = 429, body = Problem)))]
pub async fn stream_events(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user()?.id;
    // The request's transaction is not kept for the stream's life.
    drop(caller.scope(&state).await?);
    let token = crate::auth::bearer(&req)?;
    let permit = state.streams.acquire(Some(user))?;
    let subscription = state.bus.subscribe();
    let watch = Watch {
        state: state.into_inner(),
        token,
        subscription,
        pending: Some(bytes::Bytes::from_static(b"event: ready\ndata: {}\n\n")),
        done: false,
        _permit: permit,
    };
    Ok(crate::streams::follow(watch))
}

struct Watch {
    _permit: crate::streams::Permit,
    state: std::sync::Arc<AppState>,
    /// The caller's token, checked again for every change sent and at each keep-alive: a
    /// stream ends with the session, and follows the caller's memberships as they change.
    token: String,
    subscription: berth_events::Subscription,
    pending: Option<bytes::Bytes>,
    done: bool,
}

enum Seen {
    Yes,
    No,
    /// The token is no longer valid: the stream ends.
    Gone,
    /// The store could not say: the client is told to read again.
    Unknown,
}

impl crate::streams::Chunks for Watch {
    async fn next_chunk(&mut self) -> Option<bytes::Bytes> {
        loop {
            if let Some(chunk) = self.pending.take() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            let received = tokio::time::timeout(KEEP_ALIVE, self.subscription.recv()).await;
            let (kind, application, data) = match received {
                Err(_) => {
                    if self.still_valid().await {
                        return Some(bytes::Bytes::from_static(b": keep-alive\n\n"));
                    }
                    return Some(self.end());
                }
                Ok(Received::Closed) => return None,
                Ok(Received::Lagged { missed }) => {
                    let data = serde_json::json!({ "missed": missed });
                    return Some(bytes::Bytes::from(format!(
                        "event: resync\ndata: {data}\n\n"
                    )));
                }
                Ok(Received::Event(Event::ApplicationStatusChanged {
                    application_id,
                    status,
                })) => (
                    "application",
                    application_id,
                    serde_json::json!({ "application_id": application_id, "status": status.as_str() }),
                ),
                Ok(Received::Event(Event::DeploymentStatusChanged {
                    deployment_id,
                    application_id,
                    status,
                })) => (
                    "deployment",
                    application_id,
                    serde_json::json!({
                        "deployment_id": deployment_id,
                        "application_id": application_id,
                        "status": status.as_str(),
                    }),
                ),
                Ok(Received::Event(Event::OperationStatusChanged {
                    operation_id,
                    application_id,
                    status,
                })) => (
                    "operation",
                    application_id,
                    serde_json::json!({
                        "operation_id": operation_id,
                        "application_id": application_id,
                        "status": status.as_str(),
                    }),
                ),
                // Log lines, steps and domains have streams and reads of their own.
                Ok(Received::Event(_)) => continue,
            };
            match self.sees(application).await {
                Seen::Yes => {
                    return Some(bytes::Bytes::from(format!(
                        "event: {kind}\ndata: {data}\n\n"
                    )))
                }
                Seen::No => continue,
                Seen::Gone => return Some(self.end()),
                Seen::Unknown => {
                    return Some(bytes::Bytes::from_static(b"event: resync\ndata: {}\n\n"))
                }
            }
        }
    }
}

impl Watch {
    /// Whether the caller may read the application, as the store says for their token now
    /// (one read-only transaction, under row-level security on Postgres).
    async fn sees(&self, application: ApplicationId) -> Seen {
        let scope = match self.state.store.scope_for_token(&self.token, true).await {
            Ok(Some((_, scope))) => scope,
            Ok(None) => return Seen::Gone,
            Err(_) => return Seen::Unknown,
        };
        if scope.application(application).await.is_ok() {
            Seen::Yes
        } else {
            Seen::No
        }
    }

    /// False only when the store says the token is no longer valid.
    async fn still_valid(&self) -> bool {
        !matches!(
            self.state.store.scope_for_token(&self.token, true).await,
            Ok(None)
        )
    }

    fn end(&mut self) -> bytes::Bytes {
        self.done = true;
        bytes::Bytes::from_static(
            b"event: end\ndata: {\"reason\":\"the token is no longer valid: sign in again\"}\n\n",
        )
    }
}

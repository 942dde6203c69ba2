//! Starting, cancelling and rolling back deployments, their live log stream, and the webhook
//! secret of an application. The work itself is the pipeline's: these handlers queue it.

use berth_domain::ErrorCode;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use berth_deploy::DeploymentRequest;
use berth_domain::{
    ApplicationId, CommitSha, Deployment, DeploymentId, DeploymentStatus, DeploymentTrigger,
    ServiceTokenId, UserId,
};
use berth_events::{Event, Received};
use berth_store::{Actor, Scope};
use serde::Deserialize;
use utoipa::ToSchema;

use super::applications::application_with;
use crate::auth::{Caller, Principal};
use crate::authz::Access;
use crate::dto::{DeploymentView, LogLineView, WebhookView};
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/applications/{id}/deployments",
        web::post().to(create_deployment),
    )
    .route(
        "/applications/{id}/redeploy",
        web::post().to(redeploy_application),
    )
    .route(
        "/deployments/{id}/cancel",
        web::post().to(cancel_deployment),
    )
    .route(
        "/deployments/{id}/rollback",
        web::post().to(rollback_deployment),
    )
    .route(
        "/deployments/{id}/logs/stream",
        web::get().to(stream_deployment_logs),
    )
    .route("/applications/{id}/webhook", web::get().to(get_webhook))
    .route(
        "/applications/{id}/webhook/rotate",
        web::post().to(rotate_webhook),
    );
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentCreate {
    /// Deploy this commit (40 or 64 hex digits) instead of the tracked branch's tip.
    #[serde(default)]
    #[schema(pattern = r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")]
    pub commit: Option<String>,
}

/// Starts a deployment of the application (of a commit, or of the tracked branch's tip): 202
/// with the queued deployment. A user needs write access; a service token must be this
/// application's.
#[utoipa::path(post, path = "/api/v1/applications/{id}/deployments", tag = "deployments", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)), request_body(content = Option<DeploymentCreate>),
    responses((status = 202, body = DeploymentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_deployment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Option<crate::json::Body<DeploymentCreate>>,
) -> Result<HttpResponse, ApiError> {
    let id = ApplicationId::from_uuid(*id);
    let commit = body
        .and_then(|b| b.into_inner().commit)
        .map(|c| {
            CommitSha::parse(&c).map_err(|_| {
                ApiError::invalid(
                    "commit",
                    "must be a full commit id: 40 or 64 hexadecimal digits",
                )
            })
        })
        .transpose()?;
    let (scope, trigger, user, token): (Scope, _, Option<UserId>, Option<ServiceTokenId>) =
        match &caller.principal {
            Principal::User { user, .. } => {
                let s = caller.scope(&state).await?;
                application_with(&s, &caller, id, Access::Write).await?;
                (s, DeploymentTrigger::Manual, Some(user.id), None)
            }
            Principal::Service(t) if t.application_id == id => (
                state.store.scope(Actor::System).await?,
                DeploymentTrigger::ServiceToken,
                None,
                Some(t.id),
            ),
            Principal::Service(_) => return Err(ApiError::NotFound("application")),
        };
    let app = scope.application(id).await?;
    super::audit(
        &scope,
        &caller,
        "deployment.create",
        "application",
        app.id,
        serde_json::json!({ "commit": commit.as_ref().map(|c| c.to_string()) }),
    )
    .await?;
    let d = state
        .pipeline
        .enqueue(
            scope,
            &app,
            DeploymentRequest {
                trigger,
                user,
                token,
                commit,
            },
        )
        .await?;
    Ok(HttpResponse::Accepted().json(DeploymentView::from(d)))
}

/// Deploys the application's newest successful build again with its configuration and
/// environment as they are now, without building (after changing a variable, say): 202 with
/// the queued deployment; 409 when it has no successful build yet.
#[utoipa::path(post, path = "/api/v1/applications/{id}/redeploy", tag = "deployments", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = DeploymentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn redeploy_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    super::audit(
        &s,
        &caller,
        "deployment.redeploy",
        "application",
        app.id,
        serde_json::json!({}),
    )
    .await?;
    let d = state
        .pipeline
        .redeploy(s, &app, caller.user().ok().map(|u| u.id))
        .await?;
    Ok(HttpResponse::Accepted().json(DeploymentView::from(d)))
}

/// The deployment, after checking the caller may change its application.
async fn writable_deployment(
    s: &Scope,
    caller: &Caller,
    id: DeploymentId,
) -> Result<(Deployment, berth_domain::Application), ApiError> {
    let d = s.deployment(id).await?;
    let app = application_with(s, caller, d.application_id, Access::Write).await?;
    Ok((d, app))
}

/// Cancels a deployment: a queued one at once, a running one by stopping its clone, build or
/// rollout (it then ends `cancelled`). 409 when it has ended.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/cancel", tag = "deployments", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = DeploymentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_deployment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let (d, _) = writable_deployment(&s, &caller, DeploymentId::from_uuid(*id)).await?;
    if d.status.is_final() {
        return Err(berth_deploy::DeployError::NotCancellable(d.status).into());
    }
    super::audit(
        &s,
        &caller,
        "deployment.cancel",
        "deployment",
        d.id,
        serde_json::json!({}),
    )
    .await?;
    let d = state.pipeline.cancel(s, &d).await?;
    Ok(HttpResponse::Accepted().json(DeploymentView::from(d)))
}

/// Deploys an earlier successful deployment's image and configuration again, as a new
/// deployment, without building: 202 with it.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/rollback", tag = "deployments", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 202, body = DeploymentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rollback_deployment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let (target, _) = writable_deployment(&s, &caller, DeploymentId::from_uuid(*id)).await?;
    super::audit(
        &s,
        &caller,
        "deployment.rollback",
        "deployment",
        target.id,
        serde_json::json!({}),
    )
    .await?;
    let d = state
        .pipeline
        .rollback(s, &target, caller.user().ok().map(|u| u.id))
        .await?;
    Ok(HttpResponse::Accepted().json(DeploymentView::from(d)))
}

/// The deployment's log as Server-Sent Events: every stored line after `Last-Event-ID` (or
/// from the start), then new lines as they are written, each exactly once (event `log`, id its
/// sequence number, the same fields as the listed lines), the deployment's status and steps as
/// they change (events `status` and `step`), and an `end` event with the final status, after
/// which the stream closes.
#[utoipa::path(get, path = "/api/v1/deployments/{id}/logs/stream", tag = "deployments", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path), ("Last-Event-ID" = Option<i64>, Header, description = "resume after this sequence number")),
    responses((status = 200, content_type = "text/event-stream", body = crate::dto::ServerSentEvent), (status = 404, body = Problem)))]
pub async fn stream_deployment_logs(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = DeploymentId::from_uuid(*id);
    // Visible to the caller, or 404.
    caller.scope(&state).await?.deployment(id).await?;
    let permit = state.streams.acquire(caller.user().ok().map(|u| u.id))?;
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    // Subscribed before the replay reads the store: nothing written in between is missed.
    let subscription = state.bus.subscribe();
    let state = state.into_inner();
    let stream = LogStream {
        state,
        id,
        last: after,
        subscription,
        pending: std::collections::VecDeque::new(),
        ended: None,
        started: false,
        done: false,
        _permit: permit,
    };
    Ok(crate::streams::follow(stream))
}

struct LogStream {
    /// This stream's place among the open ones, given back when it is dropped.
    _permit: crate::streams::Permit,
    state: std::sync::Arc<AppState>,
    id: DeploymentId,
    last: i64,
    subscription: berth_events::Subscription,
    pending: std::collections::VecDeque<bytes::Bytes>,
    ended: Option<DeploymentStatus>,
    started: bool,
    done: bool,
}

impl crate::streams::Chunks for LogStream {
    /// The next chunk to send, `None` when the stream is over.
    async fn next_chunk(&mut self) -> Option<bytes::Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            if let Some(status) = self.ended {
                // Everything stored before the end was announced, then the end.
                self.replay().await;
                self.pending.push_back(bytes::Bytes::from(format!(
                    "event: end\ndata: {}\n\n",
                    serde_json::json!({ "status": status.as_str() })
                )));
                self.done = true;
                continue;
            }
            if !self.started {
                // First the history; then, if the deployment has ended already, the end.
                self.started = true;
                self.replay().await;
                match self.status().await {
                    Some(s) if s.is_final() => self.ended = Some(s),
                    None => self.done = true,
                    _ => {}
                }
                continue;
            }
            let received =
                tokio::time::timeout(Duration::from_secs(15), self.subscription.recv()).await;
            match received {
                Err(_) => self
                    .pending
                    .push_back(bytes::Bytes::from_static(b": keep-alive\n\n")),
                Ok(Received::Event(Event::DeploymentLog { line }))
                    if line.deployment_id == self.id =>
                {
                    if line.seq > self.last + 1 {
                        // A gap: the store has the lines in between.
                        self.replay().await;
                    }
                    if line.seq > self.last {
                        self.push_line(line);
                    }
                }
                Ok(Received::Event(Event::StepChanged {
                    deployment_id,
                    step,
                    state,
                })) if deployment_id == self.id => {
                    let data =
                        serde_json::json!({ "step": step.as_str(), "state": state.as_str() });
                    self.pending
                        .push_back(bytes::Bytes::from(format!("event: step\ndata: {data}\n\n")));
                }
                Ok(Received::Event(Event::DeploymentStatusChanged {
                    deployment_id,
                    status,
                    ..
                })) if deployment_id == self.id => {
                    if status.is_final() {
                        self.ended = Some(status);
                    } else {
                        let data = serde_json::json!({ "status": status.as_str() });
                        self.pending.push_back(bytes::Bytes::from(format!(
                            "event: status\ndata: {data}\n\n"
                        )));
                    }
                }
                Ok(Received::Event(_)) => {}
                Ok(Received::Lagged { .. }) => {
                    self.replay().await;
                }
                Ok(Received::Closed) => self.done = true,
            }
        }
    }
}

impl LogStream {
    /// Queues the stored lines after the last one sent.
    async fn replay(&mut self) {
        loop {
            let Ok(scope) = self.state.store.read_scope(Actor::System).await else {
                self.done = true;
                return;
            };
            let Ok(lines) = scope.deployment_logs(self.id, self.last, 500).await else {
                self.done = true;
                return;
            };
            drop(scope);
            if lines.is_empty() {
                return;
            }
            for l in lines {
                self.push_line(l);
            }
        }
    }

    /// One log line, in the one shape every log line has (as stored, as listed).
    fn push_line(&mut self, line: berth_domain::LogLine) {
        self.last = line.seq;
        let data = serde_json::to_string(&LogLineView::from(line)).unwrap_or_default();
        self.pending.push_back(bytes::Bytes::from(format!(
            "id: {}\nevent: log\ndata: {data}\n\n",
            self.last
        )));
    }

    async fn status(&self) -> Option<DeploymentStatus> {
        let scope = self.state.store.read_scope(Actor::System).await.ok()?;
        scope.deployment(self.id).await.ok().map(|d| d.status)
    }
}

/// The application's webhook: the URL to give the git host and, the first time (when berth
/// makes the secret), the secret. Afterwards the secret is `null`; rotate it to see a new one.
#[utoipa::path(get, path = "/api/v1/applications/{id}/webhook", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let read = caller.scope(&state).await?;
    application_with(&read, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    drop(read);
    // A GET that may write (the secret, the first time): its own read-write transaction.
    let s = state.store.scope(caller.actor()?).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let provider = git_provider(&s, &app).await?;
    let secret = match s.webhook_secret(app.id).await? {
        Some(_) => None,
        None => {
            let secret = s.rotate_webhook_secret(app.id).await?;
            super::audit(
                &s,
                &caller,
                "webhook.secret.create",
                "application",
                app.id,
                serde_json::json!({}),
            )
            .await?;
            Some(secret.expose().to_owned())
        }
    };
    s.commit().await?;
    Ok(HttpResponse::Ok().json(WebhookView::new(&state.public_url, &app, &provider, secret)))
}

/// Gives the application a new webhook secret (the old one stops working) and shows it once.
#[utoipa::path(post, path = "/api/v1/applications/{id}/webhook/rotate", tag = "applications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn rotate_webhook(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = caller.scope(&state).await?;
    let app = application_with(&s, &caller, ApplicationId::from_uuid(*id), Access::Write).await?;
    let provider = git_provider(&s, &app).await?;
    let secret = s.rotate_webhook_secret(app.id).await?;
    super::audit(
        &s,
        &caller,
        "webhook.secret.rotate",
        "application",
        app.id,
        serde_json::json!({}),
    )
    .await?;
    s.commit().await?;
    Ok(HttpResponse::Ok().json(WebhookView::new(
        &state.public_url,
        &app,
        &provider,
        Some(secret.expose().to_owned()),
    )))
}

async fn git_provider(s: &Scope, app: &berth_domain::Application) -> Result<String, ApiError> {
    if app.kind != berth_domain::ApplicationKind::Git {
        return Err(ApiError::Conflict(
            ErrorCode::NoWebhook,
            "only an application built from git has a webhook".into(),
        ));
    }
    Ok(s.git_source(app.id).await?.provider.as_str().to_owned())
}

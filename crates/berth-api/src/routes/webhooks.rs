//! Push webhooks from git hosts. Each is checked against the application's webhook secret by
//! the host's own mechanism, in constant time, before anything in its body is believed: GitHub
//! and Gitea sign the body with HMAC-SHA256 (`X-Hub-Signature-256`, `X-Gitea-Signature`),
//! Bitbucket likewise (`X-Hub-Signature`), GitLab sends the secret itself (`X-Gitlab-Token`).
//! Only a push to the tracked branch queues a deployment (202); a ping, another event, a tag
//! push or deletion, a deleted branch or another branch answers 200 with the reason (a git host
//! shows any other answer to its user as a failed delivery); a delivery seen before is
//! ignored.

use actix_web::{web, HttpRequest, HttpResponse};
use berth_domain::ErrorCode;
use berth_domain::{ApplicationId, ApplicationSource, CommitSha, DeploymentTrigger};
use berth_store::Actor;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::dto::DeploymentView;
use crate::problem::Problem;
use crate::{ApiError, AppState};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/webhooks/{application_id}/{provider}",
        web::post().to(receive),
    );
}

/// A webhook delivery that was accepted but queued nothing, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookIgnored {
    pub ignored: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Github,
    Gitea,
    Gitlab,
    Bitbucket,
}

impl Provider {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "github" => Self::Github,
            "gitea" | "forgejo" => Self::Gitea,
            "gitlab" => Self::Gitlab,
            "bitbucket" => Self::Bitbucket,
            _ => return None,
        })
    }

    fn header<'a>(&self, req: &'a HttpRequest, name: &str) -> Option<&'a str> {
        req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the delivery carries the secret (or a signature made with it).
    fn authentic(&self, req: &HttpRequest, body: &[u8], secret: &str) -> bool {
        let signed = |header: &str, prefix: &str| -> bool {
            let Some(given) = self
                .header(req, header)
                .and_then(|v| v.strip_prefix(prefix))
                .and_then(|hex| hex::decode(hex.trim()).ok())
            else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        };
        match self {
            Self::Github => signed("x-hub-signature-256", "sha256="),
            Self::Gitea => signed("x-gitea-signature", "") || signed("x-forgejo-signature", ""),
            Self::Bitbucket => signed("x-hub-signature", "sha256="),
            Self::Gitlab => self
                .header(req, "x-gitlab-token")
                .is_some_and(|t| bool::from(t.as_bytes().ct_eq(secret.as_bytes()))),
        }
    }

    /// `Some(true)` for a push, `Some(false)` for a ping, `None` for another event.
    fn event(&self, req: &HttpRequest) -> Option<bool> {
        let (header, push, ping) = match self {
            Self::Github => ("x-github-event", "push", "ping"),
            Self::Gitea => ("x-gitea-event", "push", "ping"),
            Self::Gitlab => ("x-gitlab-event", "Push Hook", "System Hook"),
            Self::Bitbucket => ("x-event-key", "repo:push", "diagnostics:ping"),
        };
        let event = self
            .header(req, header)
            .or_else(|| self.header(req, "x-forgejo-event"))?;
        if event == push {
            Some(true)
        } else if event == ping {
            Some(false)
        } else {
            None
        }
    }

    fn delivery(&self, req: &HttpRequest) -> Option<String> {
        let header = match self {
            Self::Github => "x-github-delivery",
            Self::Gitea => "x-gitea-delivery",
            Self::Gitlab => "x-gitlab-event-uuid",
            Self::Bitbucket => "x-request-uuid",
        };
        self.header(req, header).map(str::to_owned)
    }

    /// What the push changed: a branch and the commit it now points at, or something that
    /// deploys nothing (a tag, a deleted branch, another kind of ref). `None` when the payload
    /// is not a push this host sends.
    fn pushed(&self, payload: &serde_json::Value) -> Option<Pushed> {
        match self {
            Self::Bitbucket => {
                let change = &payload["push"]["changes"][0];
                let (new, old) = (&change["new"], &change["old"]);
                let (kind, name) = match (new.is_object(), old.is_object()) {
                    (true, _) => (new["type"].as_str()?, new["name"].as_str()?),
                    (false, true) => (old["type"].as_str()?, old["name"].as_str()?),
                    (false, false) => return None,
                };
                Some(match kind {
                    "branch" if new.is_object() => Pushed::Branch {
                        name: name.to_owned(),
                        after: new["target"]["hash"].as_str().map(str::to_owned),
                    },
                    "branch" => Pushed::Deleted(name.to_owned()),
                    "tag" | "annotated_tag" => Pushed::Tag(name.to_owned()),
                    other => Pushed::Other(format!("{other} {name}")),
                })
            }
            _ => {
                let r = payload["ref"].as_str()?;
                if let Some(tag) = r.strip_prefix("refs/tags/") {
                    return Some(Pushed::Tag(tag.to_owned()));
                }
                let Some(branch) = r.strip_prefix("refs/heads/") else {
                    return Some(Pushed::Other(r.to_owned()));
                };
                let after = payload["after"]
                    .as_str()
                    .or_else(|| payload["checkout_sha"].as_str())
                    .map(str::to_owned);
                // A deleted branch reports the zero commit (and GitHub says so too).
                let zero = after
                    .as_deref()
                    .is_some_and(|a| a.bytes().all(|b| b == b'0'));
                if zero || payload["deleted"].as_bool() == Some(true) {
                    return Some(Pushed::Deleted(branch.to_owned()));
                }
                Some(Pushed::Branch {
                    name: branch.to_owned(),
                    after,
                })
            }
        }
    }
}

/// What a push event changed.
enum Pushed {
    Branch { name: String, after: Option<String> },
    Deleted(String),
    Tag(String),
    Other(String),
}

fn ignored(why: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok().json(WebhookIgnored {
        ignored: why.into(),
    })
}

/// Receives a git host's push webhook. 202 with the queued deployment; 200 with the reason
/// when nothing is deployed (a ping, another event, a tag, a deleted branch, another branch, a
/// repeated delivery); 401
/// when the signature or token does not match; 404 for an unknown application or provider;
/// 400 for a body that is not the host's JSON.
#[utoipa::path(post, path = "/api/v1/webhooks/{application_id}/{provider}", tag = "webhooks",
    params(("application_id" = uuid::Uuid, Path), ("provider" = String, Path, description = "github, gitea (or forgejo), gitlab or bitbucket")),
    request_body(content = String, content_type = "application/json", description = "the git host's payload"),
    responses((status = 202, body = DeploymentView), (status = 200, body = WebhookIgnored), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem)))]
pub async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(uuid::Uuid, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (id, provider) = path.into_inner();
    let provider = Provider::parse(&provider).ok_or(ApiError::NotFound("webhook provider"))?;
    let id = ApplicationId::from_uuid(id);
    let scope = state.store.scope(Actor::System).await?;
    let app = scope
        .application(id)
        .await
        .map_err(|_| ApiError::NotFound("application"))?;
    let ApplicationSource::Git(git) = &app.source else {
        return Err(ApiError::NotFound("application"));
    };
    let secret = scope.webhook_secret(id).await?.ok_or_else(|| {
        ApiError::Unauthorized(
            ErrorCode::WebhookSignatureInvalid,
            "this application has no webhook secret yet".into(),
        )
    })?;
    if !provider.authentic(&req, &body, secret.expose()) {
        return Err(ApiError::Unauthorized(
            ErrorCode::WebhookSignatureInvalid,
            "the webhook signature does not match this application's secret".into(),
        ));
    }
    match provider.event(&req) {
        Some(true) => {}
        Some(false) => return Ok(ignored("ping received")),
        None => return Ok(ignored("only push events deploy")),
    }
    let payload: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(
            ErrorCode::MalformedWebhook,
            format!("the payload is not JSON: {e}"),
        )
    })?;
    let (branch, after) = match provider.pushed(&payload) {
        Some(Pushed::Branch { name, after }) => (name, after),
        Some(Pushed::Deleted(name)) => {
            return Ok(ignored(format!("the branch {name} was deleted")))
        }
        Some(Pushed::Tag(name)) => {
            return Ok(ignored(format!(
                "a push of the tag {name}; only pushes to a branch deploy"
            )))
        }
        Some(Pushed::Other(r)) => {
            return Ok(ignored(format!(
                "a push of {r}; only pushes to a branch deploy"
            )))
        }
        None => {
            return Err(ApiError::BadRequest(
                ErrorCode::MalformedWebhook,
                "the payload is not a push this git host sends".into(),
            ))
        }
    };
    if branch != git.branch.as_str() {
        return Ok(ignored(format!(
            "a push to {branch}; this application tracks {}",
            git.branch
        )));
    }
    let commit = match after.as_deref() {
        Some(sha) => Some(CommitSha::parse(sha).map_err(|_| {
            ApiError::BadRequest(
                ErrorCode::MalformedWebhook,
                format!("{sha:?} is not a commit id"),
            )
        })?),
        None => None,
    };
    if let Some(delivery) = provider.delivery(&req) {
        if !scope.record_webhook_delivery(id, &delivery).await? {
            return Ok(ignored(format!("delivery {delivery} was received before")));
        }
    }
    super::audit_as(
        &scope,
        None,
        &crate::auth::ClientInfo::of(&req),
        "deployment.webhook",
        "application",
        Some(app.id.to_string()),
        serde_json::json!({ "branch": branch, "commit": commit.as_ref().map(|c| c.to_string()) }),
    )
    .await?;
    let d = state
        .pipeline
        .enqueue(
            scope,
            &app,
            berth_deploy::DeploymentRequest {
                trigger: DeploymentTrigger::Webhook,
                user: None,
                token: None,
                commit,
            },
        )
        .await?;
    Ok(HttpResponse::Accepted().json(DeploymentView::from(d)))
}

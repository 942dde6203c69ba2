//! An application's webhook.

use berth_domain::*;
use serde::Serialize;
use utoipa::ToSchema;

/// Where a git host sends pushes, and (only when just made or rotated) the secret it signs them
/// with.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    /// `github`, `gitlab`, `gitea` or `bitbucket`: the path's last part says which checks apply.
    pub provider: String,
    /// Shown once; `null` afterwards.
    pub secret: Option<String>,
    /// Set this as the webhook's content type on the git host.
    pub content_type: String,
}

impl WebhookView {
    pub fn new(base: &str, app: &Application, provider: &str, secret: Option<String>) -> Self {
        let provider = match provider {
            "git" => "github",
            p => p,
        };
        Self {
            url: format!(
                "{}/api/v1/webhooks/{}/{provider}",
                base.trim_end_matches('/'),
                app.id
            ),
            provider: provider.to_owned(),
            secret,
            content_type: "application/json".into(),
        }
    }
}

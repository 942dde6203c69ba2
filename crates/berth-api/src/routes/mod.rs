//! The handlers of `/api/v1`, one module per resource family.

pub mod applications;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod domains;
pub mod environment;
pub mod events;
pub mod history;
pub mod operations;
pub mod pipeline;
pub mod projects;
pub mod registries;
pub mod runtime;
pub mod schedules;
pub mod service_tokens;
pub mod settings;
pub mod teams;
pub mod users;
pub mod volumes;
pub mod webhooks;

use actix_web::web;
use berth_store::{NewAuditEntry, Scope};

use crate::auth::Caller;
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .configure(auth::routes)
            .configure(users::routes)
            .configure(teams::routes)
            .configure(projects::routes)
            .configure(registries::routes)
            .configure(applications::routes)
            .configure(environment::routes)
            .configure(volumes::routes)
            .configure(domains::routes)
            .configure(service_tokens::routes)
            .configure(certificates::routes)
            .configure(history::routes)
            .configure(operations::routes)
            .configure(pipeline::routes)
            .configure(runtime::routes)
            .configure(settings::routes)
            .configure(schedules::routes)
            .configure(webhooks::routes)
            .configure(audit::routes)
            .configure(events::routes),
    );
}

/// Writes the audit entry of a mutating request, in the same transaction as the change, so
/// both are kept or neither is. `details` never holds a secret.
pub(crate) async fn audit(
    scope: &Scope,
    caller: &Caller,
    action: &str,
    resource_type: &str,
    resource_id: impl ToString,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let user = caller.user().ok().map(|u| u.id);
    audit_as(
        scope,
        user,
        &caller.client,
        action,
        resource_type,
        Some(resource_id.to_string()),
        details,
    )
    .await
}

/// Like [`audit`], for requests made before anyone is authenticated (setup, login).
pub(crate) async fn audit_as(
    scope: &Scope,
    user_id: Option<berth_domain::UserId>,
    client: &crate::auth::ClientInfo,
    action: &str,
    resource_type: &str,
    resource_id: Option<String>,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    scope
        .append_audit(NewAuditEntry {
            user_id,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id,
            details,
            ip_address: client.ip.clone(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    Ok(())
}

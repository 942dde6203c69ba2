//! The OpenAPI document, generated from the handlers and types. Committed at
//! `openapi/openapi.json`; a test fails when the two differ.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    applications, audit, auth, certificates, domains, environment, history, operations, pipeline,
    projects, runtime, service_tokens, settings, teams, users, volumes, webhooks,
};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "berth",
        description = "berth's REST API. Authenticate with `Authorization: Bearer <token>` (a session token from \
                       `/api/v1/auth/login` or a personal API token). Errors are RFC 9457 problem+json.",
        license(name = "AGPL-3.0-only")
    ),
    paths(
        auth::setup, auth::login, auth::logout, auth::me,
        users::list_users, users::create_user, users::get_user, users::update_user, users::delete_user,
        users::list_tokens, users::create_token, users::delete_token,
        teams::list_teams, teams::create_team, teams::get_team, teams::update_team, teams::delete_team,
        teams::list_members, teams::add_member, teams::update_member, teams::remove_member,
        projects::list_projects, projects::create_project, projects::get_project, projects::update_project, projects::delete_project,
        applications::list_applications, applications::create_application, applications::get_application,
        applications::update_application, applications::delete_application,
        environment::list_env, environment::set_env, environment::delete_env,
        volumes::list_volumes, volumes::create_volume, volumes::delete_volume,
        domains::list_domains, domains::create_domain, domains::get_domain, domains::update_domain,
        domains::delete_domain,
        certificates::renew_certificate, certificates::upload_certificate, certificates::delete_certificate,
        service_tokens::list_service_tokens, service_tokens::create_service_token, service_tokens::delete_service_token,
        history::list_deployments, history::get_deployment, history::deployment_logs,
        history::list_builds, history::latest_successful_build, history::get_build,
        pipeline::create_deployment, pipeline::redeploy_application, pipeline::cancel_deployment, pipeline::rollback_deployment,
        pipeline::stream_deployment_logs, pipeline::get_webhook, pipeline::rotate_webhook,
        runtime::runtime, runtime::start, runtime::stop, runtime::restart, runtime::scale,
        runtime::logs, runtime::stream_logs,
        operations::list_operations, operations::get_operation, operations::stream_operation,
        webhooks::receive,
        audit::list_audit,
        settings::get_acme_dns, settings::set_acme_dns, settings::delete_acme_dns, settings::get_edge,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "First-user setup, login, logout"),
        (name = "users", description = "Accounts (admins) and the caller"),
        (name = "tokens", description = "Personal API tokens"),
        (name = "teams", description = "Teams and their members"),
        (name = "projects", description = "Projects"),
        (name = "applications", description = "Applications, their environment and volumes"),
        (name = "domains", description = "Domains routed to applications"),
        (name = "deployments", description = "Deployments: starting, cancelling, rolling back, steps and logs"),
        (name = "webhooks", description = "Push webhooks from git hosts, signed with the application's secret"),
        (name = "builds", description = "Image builds"),
        (name = "audit", description = "The audit log (admins)"),
        (name = "settings", description = "Installation settings (admins)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as pretty JSON, as committed.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// The document as compact JSON, as `/api/openapi.json` serves it: made on the first request
/// and kept as text only, once per process (the document as a value takes megabytes, and
/// each HTTP worker kept one before).
pub fn json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default())
}

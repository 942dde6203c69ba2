//! The OpenAPI document, generated from the handlers and types. Committed at
//! `openapi/openapi.json`; a test fails when the two differ.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    applications, audit, auth, certificates, domains, environment, events, history, operations,
    pipeline, projects, registries, runtime, schedules, service_tokens, settings, teams, users,
    volumes, webhooks,
};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "berth",
        description = "berth's REST API. Authenticate with `Authorization: Bearer <token>` (a session token from \
                       `/api/v1/auth/login` or a personal API token). Errors are RFC 9457 problem+json.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only")
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
        runtime::runtime, runtime::usage, runtime::start, runtime::stop, runtime::restart, runtime::scale,
        runtime::logs, runtime::stream_logs,
        operations::list_operations, operations::get_operation, operations::stream_operation,
        webhooks::receive,
        audit::list_audit,
        registries::list_registries, registries::create_registry, registries::get_registry,
        registries::update_registry, registries::delete_registry,
        schedules::list_schedules, schedules::update_schedule, schedules::list_schedule_runs,
        schedules::run_schedule,
        settings::get_acme, settings::get_acme_dns, settings::set_acme_dns, settings::delete_acme_dns, settings::get_edge,
        events::stream_events,
    ),
    modifiers(&BearerAuth, &Contract),
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
        (name = "registries", description = "Registries berth pulls images from with credentials, a team's or the installation's"),
        (name = "schedules", description = "Scheduled jobs and their runs (admins)"),
        (name = "settings", description = "Installation settings (admins)"),
        (name = "events", description = "What changes, live, for the caller"),
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

/// What every operation can answer besides what its handler says, added in one place so that
/// no handler can leave it out: every error is `application/problem+json` (a [`Problem`]);
/// an operation that takes a bearer token can answer 401; one with a JSON body 400 (not JSON),
/// 413 (over the body limit), 415 (not `application/json`) and 422 (a field is wrong); one with
/// query parameters 400 and 422; one with a path parameter 404 (an id that is not one names
/// nothing). The schemathesis run of `make test` (scripts/test-contract.sh) checks the
/// document against the real binary.
///
/// [`Problem`]: crate::problem::Problem
struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

        const PROBLEM: &str = "application/problem+json";
        let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let params = op.parameters.as_deref().unwrap_or_default();
                let has = |place: ParameterIn| {
                    params.iter().any(|p| {
                        std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&place)
                    })
                };
                let body = op.request_body.is_some();
                let query = has(ParameterIn::Query);
                let path = has(ParameterIn::Path);
                let bearer = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut implied: Vec<(&str, &str)> = Vec::new();
                if body || query {
                    implied.push((
                        "400",
                        "The body is not JSON, or the query string is malformed",
                    ));
                    implied.push(("422", "A field is invalid (see `errors`)"));
                }
                if body {
                    implied.push(("413", "The body is larger than the installation allows"));
                    implied.push(("415", "The body is not `application/json`"));
                }
                if bearer {
                    implied.push(("401", "No valid bearer token"));
                }
                if path {
                    implied.push(("404", "Nothing by that id is visible to the caller"));
                }
                for (status, description) in implied {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(description)
                                    .content(PROBLEM, problem())
                                    .build(),
                            )
                        });
                }
                for (status, response) in op.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status.parse::<u16>().is_ok_and(|s| s >= 400) {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response.content.insert(PROBLEM.to_owned(), content);
                        }
                    }
                }
            }
        }
        refer_to_generic_arguments(openapi);
    }
}

/// utoipa writes a generic wrapper's items out in full (`PageOf_ProjectView.items` a copy of
/// `ProjectView`), which gives a generated client two types for one thing; point them at the
/// argument's own schema instead.
fn refer_to_generic_arguments(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{Ref, RefOr};

    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let names: std::collections::BTreeSet<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in components.schemas.iter_mut() {
        let Some((_, argument)) = name.split_once('_') else {
            continue;
        };
        if !names.contains(argument) {
            continue;
        }
        let RefOr::T(Schema::Object(object)) = schema else {
            continue;
        };
        for property in object.properties.values_mut() {
            if let RefOr::T(Schema::Array(array)) = property {
                if let ArrayItems::RefOrSchema(items) = &mut array.items {
                    if matches!(items.as_ref(), RefOr::T(Schema::Object(_))) {
                        **items = RefOr::Ref(Ref::from_schema_name(argument));
                    }
                }
            }
        }
    }
}

/// The methods the document gives `path` (`GET, PATCH`), when it has the path: what a request
/// with another method is told in `Allow`. A path without parameters is found before the
/// templates it also matches (`/users/me` before `/users/{id}`). The table is made once, from
/// the document.
pub fn methods_of(path: &str) -> Option<String> {
    methods_matching(path, true).or_else(|| methods_matching(path, false))
}

/// Like [`methods_of`], among the paths without parameters only.
pub fn methods_of_fixed(path: &str) -> Option<String> {
    methods_matching(path, true)
}

fn methods_matching(path: &str, fixed: bool) -> Option<String> {
    struct Entry {
        def: actix_web::dev::ResourceDef,
        fixed: bool,
        methods: String,
    }
    static TABLE: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .iter()
                .filter(|(_, has)| *has)
                .map(|(m, _)| *m)
                .collect::<Vec<_>>()
                .join(", ");
                Entry {
                    def: actix_web::dev::ResourceDef::new(pattern.as_str()),
                    fixed: !pattern.contains('{'),
                    methods,
                }
            })
            .collect()
    });
    table
        .iter()
        .find(|e| e.fixed == fixed && e.def.is_match(path))
        .map(|e| e.methods.clone())
}

/// The document as a JSON value: what utoipa derives, with the rules it cannot state.
fn value() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    state_the_rules(&mut doc);
    doc
}

/// The document as pretty JSON, as committed.
pub fn document() -> String {
    serde_json::to_string_pretty(&value()).unwrap_or_default()
}

/// The document as compact JSON, as `/api/openapi.json` serves it: made on the first request
/// and kept as text only, once per process (the document as a value takes megabytes, and
/// each HTTP worker kept one before).
pub fn json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| serde_json::to_string(&value()).unwrap_or_default())
}

/// Writes into the document the rules of [`berth_domain::patterns`] that the derived schemas
/// do not carry: each string field's [`Rule`] (its pattern, what it must not contain, its
/// length), the commands' words, a health check's two shapes, and a new application's
/// required fields. From the rules themselves, so the document and the parsers cannot differ.
fn state_the_rules(doc: &mut serde_json::Value) {
    use berth_domain::patterns::*;
    use serde_json::json;

    let schemas = &mut doc["components"]["schemas"];
    // (schema, the variant of a `oneOf` that has this property, field, rule)
    let strings: [(&str, Option<&str>, &str, &Rule); 26] = [
        ("SetupRequest", None, "email", &EMAIL),
        ("SetupRequest", None, "password", &PASSWORD),
        ("UserCreate", None, "email", &EMAIL),
        ("UserCreate", None, "password", &PASSWORD),
        ("UserUpdate", None, "password", &PASSWORD),
        ("DomainCreate", None, "host", &HOST_NAME),
        ("DomainRoutingInput", None, "path_prefix", &PATH_PREFIX),
        ("BasicAuthInput", None, "username", &BASIC_AUTH_USER),
        ("BasicAuthInput", None, "password", &PASSWORD),
        ("SourceInput", Some("repository"), "repository", &REPOSITORY),
        ("SourceInput", Some("repository"), "branch", &BRANCH),
        (
            "SourceInput",
            Some("repository"),
            "dockerfile",
            &RELATIVE_PATH,
        ),
        ("SourceInput", Some("repository"), "context", &RELATIVE_PATH),
        ("SourceInput", Some("repository"), "target", &BUILD_TARGET),
        ("SourceInput", Some("image"), "image", &IMAGE),
        ("CredentialsInput", Some("token"), "token", &GIT_TOKEN),
        ("CredentialsInput", Some("ssh_key"), "ssh_key", &SSH_KEY),
        ("AcmeDnsInput", None, "server", &DNS_SERVER),
        ("AcmeDnsInput", None, "zone", &DNS_NAME),
        ("AcmeDnsInput", None, "key_name", &DNS_NAME),
        ("AcmeDnsInput", None, "key_secret", &TSIG_SECRET),
        ("EnvSet", None, "value", &ENV_VALUE),
        ("RegistryCreate", None, "host", &REGISTRY_HOST),
        ("ScheduleUpdate", None, "cron", &CRON),
        ("RegistryCredentialsInput", None, "username", &REGISTRY_USER),
        (
            "RegistryCredentialsInput",
            None,
            "password",
            &REGISTRY_PASSWORD,
        ),
    ];
    for (schema, variant, field, rule) in strings {
        merge(property(schemas, schema, variant, field), rule.schema());
    }
    // The variants of a tagged or untagged enum refuse fields they do not have, as structs do.
    for schema in ["SourceInput", "CredentialsInput"] {
        for variant in schemas[schema]["oneOf"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            variant["additionalProperties"] = json!(false);
        }
    }
    merge(
        &mut property(schemas, "SourceInput", Some("repository"), "build_args")["propertyNames"],
        json!({ "pattern": ENV_KEY }),
    );
    let command = json!({
        "minItems": 1,
        "items": merged(json!({ "type": "string" }), COMMAND_WORD.schema()),
    });
    for (schema, field) in [
        ("ApplicationInput", "command"),
        ("ApplicationInput", "release_command"),
        ("HealthCheckInput", "command"),
    ] {
        merge(property(schemas, schema, None, field), command.clone());
    }

    // A health check requests a path on a port, or runs a command: one of two shapes.
    let check = schemas["HealthCheckInput"].clone();
    let shape = |description: &str, required: &[&str], absent: &str| {
        let mut shape = check.clone();
        for field in required {
            // What a shape requires is not null.
            let kind = &mut shape["properties"][*field]["type"];
            if let Some(one) = kind
                .as_array()
                .and_then(|k| k.iter().find(|t| *t != "null"))
            {
                *kind = one.clone();
            }
        }
        shape["properties"][absent] = json!({ "const": null });
        shape["required"] = json!(required);
        shape["description"] = json!(description);
        shape
    };
    schemas["HealthCheckHttp"] = shape(
        "A health check that requests `http_path` on the container's `port`.",
        &["http_path", "port"],
        "command",
    );
    schemas["HealthCheckCommand"] = shape(
        "A health check that runs `command` in the container (exit 0 is healthy).",
        &["command"],
        "http_path",
    );
    schemas["HealthCheckInput"] = json!({
        "description": "A health check: a path requested on a port, or a command run in the container.",
        "oneOf": [
            { "$ref": "#/components/schemas/HealthCheckHttp" },
            { "$ref": "#/components/schemas/HealthCheckCommand" },
        ],
    });

    // A new application needs its name and source; PATCH takes any subset.
    let mut create = schemas["ApplicationInput"].clone();
    create["description"] = json!(
        "A new application: its name and source, and any other setting (absent ones take their defaults)."
    );
    create["required"] = json!(["name", "source"]);
    create["properties"]["name"]["type"] = json!("string");
    create["properties"]["source"] = json!({ "$ref": "#/components/schemas/SourceInput" });
    schemas["ApplicationCreate"] = create;
    schemas["ApplicationInput"]["description"] = json!(
        "Changes to an application: any subset of its settings; absent fields keep their value, `null` clears one that may be empty."
    );
    let body = &mut doc["paths"]["/api/v1/projects/{id}/applications"]["post"]["requestBody"]
        ["content"]["application/json"]["schema"];
    assert!(
        body.is_object(),
        "the document has no body for creating an application"
    );
    *body = json!({ "$ref": "#/components/schemas/ApplicationCreate" });
}

/// A property of a schema (of the `oneOf` variant of it that has the property named
/// `variant`). A schema or field that is not there is a mistake in the table above, which
/// every test that makes the document finds.
fn property<'a>(
    schemas: &'a mut serde_json::Value,
    schema: &str,
    variant: Option<&str>,
    field: &str,
) -> &'a mut serde_json::Value {
    let mut object = &mut schemas[schema];
    if let Some(has) = variant {
        let Some(variants) = object["oneOf"].as_array_mut() else {
            panic!("{schema} has no oneOf");
        };
        let Some(found) = variants
            .iter_mut()
            .find(|v| v["properties"].get(has).is_some())
        else {
            panic!("no variant of {schema} has {has}");
        };
        object = found;
    }
    let property = &mut object["properties"][field];
    assert!(property.is_object(), "{schema} has no field {field}");
    property
}

/// `extra`'s keywords written over `target`'s.
fn merge(target: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(target), serde_json::Value::Object(extra)) = (target.as_object_mut(), extra) {
        target.extend(extra);
    }
}

fn merged(mut target: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    merge(&mut target, extra);
    target
}

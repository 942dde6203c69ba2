//! berth's HTTP surface (actix-web). This first part serves liveness and readiness, gives every
//! request an id that its log lines carry, and answers errors as RFC 9457 problem+json.
//!
//! Architecture invariant: the only crate that knows HTTP and JSON request/response shapes. It
//! reaches the database only through berth-store, never with SQL of its own.

pub mod auth;
pub mod authz;
pub mod dashboard;
pub mod dto;
pub mod error;
mod json;
pub mod openapi;
mod problem;
mod request_id;
mod routes;
pub mod streams;

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpResponse};
use berth_domain::ErrorCode;
use berth_store::Store;

pub use error::ApiError;
pub use problem::Problem;

/// A shorthand used by handlers.
pub type ApiResult<T> = Result<T, ApiError>;
pub use request_id::RequestId;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: auth::AuthSettings,
    pub throttle: std::sync::Arc<auth::LoginThrottle>,
    /// Largest request body accepted, in bytes (1 MiB by default).
    pub body_limit: usize,
    /// Where changes are announced (live log streams follow it).
    pub bus: berth_events::EventBus,
    /// The use cases: deployments and operations are queued with it, what runs is read through
    /// it. The server starts it with the engines; in-process tests of the plain API leave it
    /// unstarted, so work stays queued and what needs an engine answers 503.
    pub pipeline: berth_deploy::Pipeline,
    /// The address clients reach berth at, for the webhook URLs it shows.
    pub public_url: String,
    /// The edge router, when this process runs one: its per-route counters show on domains.
    pub router: Option<berth_proxy::Proxy>,
    /// Directories under which git repositories on this machine may be named as sources
    /// (an admin's setting); none by default.
    pub git_local_roots: Vec<std::path::PathBuf>,
    /// The ports berth itself listens on (API, router): publishing one, like any port below
    /// 1024, is for admins only.
    pub reserved_ports: Vec<u16>,
    /// How many live streams may be open, per user and in all.
    pub streams: std::sync::Arc<streams::StreamLimits>,
    /// How certificates are ordered, as the server's settings say (shown to admins).
    pub acme: dto::AcmeView,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        let bus = berth_events::EventBus::new(4096);
        Self {
            pipeline: berth_deploy::Pipeline::new(store.clone(), bus.clone(), Default::default()),
            bus,
            store,
            auth: auth::AuthSettings::default(),
            throttle: Default::default(),
            body_limit: 1024 * 1024,
            public_url: "http://127.0.0.1:3000".into(),
            router: None,
            git_local_roots: Vec::new(),
            reserved_ports: Vec::new(),
            streams: Default::default(),
            acme: dto::AcmeView::default(),
        }
    }
}

/// The whole application, for the server and for in-process tests.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.body_limit;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(error::json_error),
        )
        .app_data(web::PayloadConfig::default().limit(body_limit))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .configure(routes)
        .configure(dashboard::routes)
        .configure(routes::configure)
        .route("/api/openapi.json", web::get().to(openapi_json))
        .service(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}")
                .config(utoipa_swagger_ui::Config::from("/api/openapi.json")),
        )
        .route("/api/docs", web::get().to(docs_redirect))
        .default_service(web::to(error::not_found))
        .wrap(actix_web::middleware::from_fn(request_id::middleware))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi::json())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header(("Location", "/api/docs/"))
        .finish()
}

/// Liveness: the process answers.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers too.
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "readiness check: the database does not answer");
        ApiError::Unavailable(
            ErrorCode::DatabaseUnavailable,
            "the database is not reachable".into(),
        )
    })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

//! The dashboard, served at `/` from the bundle compiled into the binary (build.rs): the page,
//! its script and its style sheet, under a Content-Security-Policy that lets the page load
//! nothing but berth's own script, style and API (no inline script, no other origin), so it
//! works with no internet access and an injected script has nowhere to run or report to.

use actix_web::{guard, web, HttpResponse};

const INDEX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html"));
const APP_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets_app.js"));
const APP_CSS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/assets_app.css"));

/// Whether the binary carries the real dashboard (not the page saying how to build it).
pub const BUILT: bool = matches!(env!("BERTH_DASHBOARD_BUILT").as_bytes(), b"true");

/// The policy of every dashboard answer.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    // GET and HEAD (a browser or a probe may ask for the headers alone).
    let read = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    cfg.route("/", read().to(index))
        .route("/assets/app.js", read().to(app_js))
        .route("/assets/app.css", read().to(app_css));
}

fn asset(content_type: &str, body: &'static [u8]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

//! The router's own answers: small HTML pages that say what happened, never what runs behind.

use hyper::{header, Response, StatusCode};

use crate::Body;

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A page with `status`, a title and one sentence.
pub(crate) fn page(status: StatusCode, title: &str, text: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}}\
h1{{font-size:1.4rem}}p{{color:#555}}</style></head>\
<body><h1>{code} {title}</h1><p>{text}</p></body></html>\n",
        code = status.as_u16(),
        title = escape(title),
        text = escape(text),
    );
    let mut r = Response::new(crate::full(html));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

pub(crate) fn not_found() -> Response<Body> {
    page(
        StatusCode::NOT_FOUND,
        "Not Found",
        "No application answers at this address.",
    )
}

pub(crate) fn stopped() -> Response<Body> {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "This application is stopped.",
    )
}

pub(crate) fn no_replica() -> Response<Body> {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service Unavailable",
        "This application has no running instance right now. Try again shortly.",
    )
}

pub(crate) fn bad_gateway() -> Response<Body> {
    page(
        StatusCode::BAD_GATEWAY,
        "Bad Gateway",
        "The application did not answer.",
    )
}

pub(crate) fn gateway_timeout() -> Response<Body> {
    page(
        StatusCode::GATEWAY_TIMEOUT,
        "Gateway Timeout",
        "The application took too long to answer.",
    )
}

pub(crate) fn too_large() -> Response<Body> {
    page(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Payload Too Large",
        "The request body is larger than this address accepts.",
    )
}

pub(crate) fn bad_request(text: &str) -> Response<Body> {
    page(StatusCode::BAD_REQUEST, "Bad Request", text)
}

pub(crate) fn too_many_attempts(retry_after_s: u64) -> Response<Body> {
    let mut r = page(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "Too many failed sign-ins to this address; wait a minute and try again.",
    );
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(retry_after_s),
    );
    r
}

pub(crate) fn unauthorized(realm: &str) -> Response<Body> {
    let mut r = page(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "This address needs a username and password.",
    );
    let challenge = format!(
        "Basic realm=\"{}\", charset=\"UTF-8\"",
        realm.replace('"', "")
    );
    if let Ok(v) = header::HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

pub(crate) fn redirect(location: &str, permanent: bool) -> Response<Body> {
    let status = if permanent {
        StatusCode::PERMANENT_REDIRECT
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut r = page(status, "Redirect", "This address has moved.");
    if let Ok(v) = header::HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

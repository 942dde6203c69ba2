//! RFC 9457 problem details: the one error body of the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

/// An error as the caller sees it: `type`, `title`, `status`, `detail`, and for invalid input
/// the list of fields and what is wrong with each.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(status: u16, title: &str) -> Self {
        Self {
            kind: "about:blank".into(),
            title: title.into(),
            status,
            detail: None,
            errors: Vec::new(),
        }
    }

    #[must_use]
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("application/problem+json")
            .json(self)
    }
}

pub(crate) async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::new(404, "Not Found").detail("no such resource"))
}

pub(crate) fn json_error(
    e: actix_web::error::JsonPayloadError,
    _: &HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let p = match &e {
        J::ContentType => {
            Problem::new(415, "Unsupported Media Type").detail("send application/json")
        }
        J::OverflowKnownLength { .. } | J::Overflow { .. } => {
            Problem::new(413, "Content Too Large").detail("the request body is too large")
        }
        J::Deserialize(inner) if inner.classify() == serde_json::error::Category::Data => {
            // Well-formed JSON with a wrong field: unknown, missing or of the wrong type.
            let mut p =
                Problem::new(422, "Unprocessable Content").detail("some fields are invalid");
            p.errors.push(FieldProblem {
                field: "body".into(),
                message: inner.to_string(),
            });
            p
        }
        _ => Problem::new(400, "Bad Request").detail(format!("malformed JSON body: {e}")),
    };
    p.into()
}

pub(crate) fn path_error(e: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    Problem::new(404, "Not Found")
        .detail(format!("no such resource: {e}"))
        .into()
}

pub(crate) fn query_error(
    e: actix_web::error::QueryPayloadError,
    _: &HttpRequest,
) -> actix_web::Error {
    Problem::new(400, "Bad Request")
        .detail(format!("malformed query string: {e}"))
        .into()
}

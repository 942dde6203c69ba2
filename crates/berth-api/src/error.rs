//! The one error type of the API and the one table from cause to status. Every handler returns
//! `Result<_, ApiError>`; `ResponseError` turns it into problem+json. 4xx are the caller's and
//! are logged at debug level; 5xx are logged with their cause chain and answered with a generic
//! message and the request id.

use actix_web::{HttpResponse, ResponseError};
use berth_domain::{FieldError, TransitionError, ValidationError};
use berth_store::StoreError;

use crate::problem::{FieldProblem, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("send application/json")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("too many attempts")]
    TooManyRequests { retry_after_s: u64 },
    /// Too many live streams open: which limit, for the detail.
    #[error("{0}")]
    TooManyStreams(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn forbidden(why: &str) -> Self {
        Self::Forbidden(why.to_owned())
    }

    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// The code-to-status table.
    fn status(&self) -> (u16, &'static str) {
        match self {
            Self::BadRequest(_) => (400, "Bad Request"),
            Self::Unauthorized(_) => (401, "Unauthorized"),
            Self::Forbidden(_) => (403, "Forbidden"),
            Self::NotFound(_) => (404, "Not Found"),
            Self::Conflict(_) => (409, "Conflict"),
            Self::UnsupportedMediaType => (415, "Unsupported Media Type"),
            Self::PayloadTooLarge => (413, "Content Too Large"),
            Self::Invalid(_) => (422, "Unprocessable Content"),
            Self::TooManyRequests { .. } | Self::TooManyStreams(_) => (429, "Too Many Requests"),
            Self::Unavailable(_) => (503, "Service Unavailable"),
            Self::Internal(_) => (500, "Internal Server Error"),
        }
    }

    pub fn to_problem(&self, request_id: Option<&str>) -> Problem {
        let (status, title) = self.status();
        let mut p = Problem::new(status, title);
        p.detail = Some(match self {
            Self::Unauthorized(why) => why.clone(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Invalid(_) => "some fields are invalid".into(),
            Self::TooManyRequests { retry_after_s } => {
                format!("too many failed attempts; try again in {retry_after_s} s")
            }
            Self::Internal(_) => match request_id {
                Some(id) => format!("an internal error occurred (request id {id})"),
                None => "an internal error occurred".into(),
            },
            other => other.to_string(),
        });
        if let Self::Invalid(errors) = self {
            p.errors = errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect();
        }
        p
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::Invalid(e.errors)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        Self::Conflict(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Validation(v) => Self::Invalid(v.errors),
            StoreError::Transition(t) => Self::Conflict(t.to_string()),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.status().0)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = crate::request_id::current();
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let problem = self.to_problem(request_id.as_deref());
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json");
        if let Self::TooManyRequests { retry_after_s } = self {
            res.insert_header(("Retry-After", retry_after_s.to_string()));
        }
        if let Self::TooManyStreams(_) = self {
            res.insert_header(("Retry-After", "5"));
        }
        if let Self::Unauthorized(_) = self {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        res.json(problem)
    }
}

/// The body of every path no route matches.
pub(crate) async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("resource"))
}

/// Errors of the JSON body extractor, in the one table.
pub(crate) fn json_error(
    e: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    match &e {
        J::ContentType => ApiError::UnsupportedMediaType,
        J::OverflowKnownLength { .. } | J::Overflow { .. } => ApiError::PayloadTooLarge,
        // Well-formed JSON with a wrong field: unknown, missing or of the wrong type.
        J::Deserialize(inner) if inner.classify() == serde_json::error::Category::Data => {
            ApiError::invalid("body", &inner.to_string())
        }
        _ => ApiError::BadRequest(format!("malformed JSON body: {e}")),
    }
    .into()
}

/// A malformed id in a path names nothing.
pub(crate) fn path_error(
    _: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

pub(crate) fn query_error(
    e: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest(format!("malformed query string: {e}")).into()
}

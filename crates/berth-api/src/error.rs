//! The one error type of the API and the one table from cause to status. Every handler returns
//! `Result<_, ApiError>`; `ResponseError` turns it into problem+json. 4xx are the caller's and
//! are logged at debug level; 5xx are logged with their cause chain and answered with a generic
//! message and the request id.

use actix_web::{HttpResponse, ResponseError};
use berth_domain::{ErrorCode, FieldError, TransitionError, ValidationError};
use berth_store::StoreError;

use crate::problem::{FieldProblem, Problem};

/// Each variant is a kind of answer; the code it carries (or its one code) decides the status,
/// by [`status`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(ErrorCode, String),
    #[error("authentication required")]
    Unauthorized(ErrorCode, String),
    #[error("{1}")]
    Forbidden(ErrorCode, String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(ErrorCode, String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// Settings valid each alone that contradict each other or their object (409).
    #[error("some settings contradict each other")]
    Conflicting(Vec<FieldError>),
    #[error("send application/json")]
    UnsupportedMediaType,
    /// The path exists with other methods: these, for `Allow`.
    #[error("this path answers {0} only")]
    MethodNotAllowed(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("too many attempts")]
    TooManyRequests { retry_after_s: u64 },
    /// Too many live streams open: which limit, for the detail.
    #[error("{0}")]
    TooManyStreams(String),
    /// An engine or the database cannot be used now (503), or did not answer in time (504).
    #[error("{1}")]
    Unavailable(ErrorCode, String),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// The one status table: every code's HTTP status and title.
pub fn status(code: ErrorCode) -> (u16, &'static str) {
    use ErrorCode as C;
    match code {
        C::MalformedRequest | C::MalformedWebhook => (400, "Bad Request"),
        C::Unauthenticated | C::WebhookSignatureInvalid => (401, "Unauthorized"),
        C::InsufficientRole
        | C::AdminRequired
        | C::ReadOnlyRole
        | C::ServiceTokenScope
        | C::OwnAccount
        | C::PortReserved
        | C::SourceNotAllowed
        | C::CurrentPasswordRequired => (403, "Forbidden"),
        C::NotFound => (404, "Not Found"),
        C::MethodNotAllowed => (405, "Method Not Allowed"),
        C::AlreadySetUp
        | C::NameTaken
        | C::HostTaken
        | C::StillReferenced
        | C::LastOwner
        | C::ApplicationHasVolumes
        | C::VolumeInUse
        | C::NotDeployed
        | C::DeploymentNotCancellable
        | C::RollbackNotPossible
        | C::NoWebhook
        | C::CertificateNotApplicable
        | C::InvalidTransition
        | C::Conflict
        | C::PortTaken
        | C::ConflictingSettings
        | C::UnknownUser
        | C::RoutingMeshUnavailable
        | C::ImageNotFound => (409, "Conflict"),
        C::PayloadTooLarge => (413, "Content Too Large"),
        C::UnsupportedMediaType => (415, "Unsupported Media Type"),
        C::InvalidInput => (422, "Unprocessable Content"),
        C::TooManyAttempts | C::TooManyStreams => (429, "Too Many Requests"),
        C::InternalError => (500, "Internal Server Error"),
        C::EngineUnavailable | C::DatabaseUnavailable => (503, "Service Unavailable"),
        C::EngineTimeout => (504, "Gateway Timeout"),
    }
}

/// The table of codes as docs/api.md shows it (a test keeps the two equal).
pub fn code_table() -> String {
    let mut out = String::from("| code | status | meaning |\n|---|---|---|\n");
    for c in ErrorCode::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            status(*c).0,
            c.meaning()
        ));
    }
    out
}

impl ApiError {
    pub fn forbidden(code: ErrorCode, why: &str) -> Self {
        Self::Forbidden(code, why.to_owned())
    }

    pub fn conflict(code: ErrorCode, why: impl Into<String>) -> Self {
        Self::Conflict(code, why.into())
    }

    pub fn unauthenticated(why: &str) -> Self {
        Self::Unauthorized(ErrorCode::Unauthenticated, why.to_owned())
    }

    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Settings that contradict each other: the fields of `e`, for 409.
    pub fn conflicting(e: ValidationError) -> Self {
        Self::Conflicting(e.errors)
    }

    /// The machine-readable code of this answer.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest(c, _)
            | Self::Unauthorized(c, _)
            | Self::Forbidden(c, _)
            | Self::Conflict(c, _)
            | Self::Unavailable(c, _) => *c,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Invalid(_) => ErrorCode::InvalidInput,
            Self::Conflicting(_) => ErrorCode::ConflictingSettings,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Self::TooManyRequests { .. } => ErrorCode::TooManyAttempts,
            Self::TooManyStreams(_) => ErrorCode::TooManyStreams,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn to_problem(&self, request_id: Option<&str>) -> Problem {
        let code = self.code();
        let (status, title) = status(code);
        let mut p = Problem::new(status, title, code);
        p.detail = Some(match self {
            Self::Unauthorized(_, why) => why.clone(),
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
        if let Self::Invalid(errors) | Self::Conflicting(errors) = self {
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
        Self::Conflict(ErrorCode::InvalidTransition, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what),
            StoreError::Conflict { code, message } => Self::Conflict(code, message),
            StoreError::Validation(v) => Self::Invalid(v.errors),
            StoreError::Transition(t) => {
                Self::Conflict(ErrorCode::InvalidTransition, t.to_string())
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<berth_deploy::DeployError> for ApiError {
    fn from(e: berth_deploy::DeployError) -> Self {
        match e {
            berth_deploy::DeployError::Store(e) => e.into(),
            other => {
                let code = other.code();
                match status(code).0 {
                    500 => Self::Internal(anyhow::Error::new(other)),
                    503 | 504 => Self::Unavailable(code, other.to_string()),
                    _ => Self::Conflict(code, other.to_string()),
                }
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(status(self.code()).0)
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
        if let Self::Unauthorized(..) = self {
            res.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Self::MethodNotAllowed(allow) = self {
            res.insert_header(("Allow", allow.as_str()));
        }
        res.json(problem)
    }
}

/// The answer to every request no route takes: 405 with `Allow` when the OpenAPI document has
/// the path with other methods, else 404.
pub(crate) async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    match crate::openapi::methods_of(req.path()) {
        Some(allow) => Err(ApiError::MethodNotAllowed(allow)),
        None => Err(ApiError::NotFound("resource")),
    }
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
        _ => ApiError::BadRequest(
            ErrorCode::MalformedRequest,
            format!("malformed JSON body: {e}"),
        ),
    }
    .into()
}

/// A malformed id in a path names nothing; but a path the document has without parameters
/// (`/users/me`), taken by a template's route for another method (`PATCH /users/{id}`), is
/// there with its own methods.
pub(crate) fn path_error(
    _: actix_web::error::PathError,
    req: &actix_web::HttpRequest,
) -> actix_web::Error {
    match crate::openapi::methods_of_fixed(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed(allow).into(),
        None => ApiError::NotFound("resource").into(),
    }
}

pub(crate) fn query_error(
    e: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest(
        ErrorCode::MalformedRequest,
        format!("malformed query string: {e}"),
    )
    .into()
}

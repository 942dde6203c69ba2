use berth_domain::{ErrorCode, TransitionError, ValidationError};
use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::CryptoError;

/// What can go wrong in the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or the actor may not see it (the two are not told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule or a restricting reference forbids the write; `code` says which kind.
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("cannot connect to the database at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("unsafe database role: {0}")]
    UnsafeRole(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored value that does not parse: the database was changed behind berth's back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::conflict(
                ErrorCode::NameTaken,
                "an object with the same unique value already exists",
            ),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::conflict(
                ErrorCode::StillReferenced,
                "the object is still referenced by others, or refers to one that does not exist",
            ),
            // SQLite reports deferred foreign key failures without an extended code that
            // sea-orm classifies; its message is stable.
            _ if e.to_string().contains("FOREIGN KEY constraint failed") => StoreError::conflict(
                ErrorCode::StillReferenced,
                "the object is still referenced by others, or refers to one that does not exist",
            ),
            _ => StoreError::Database(e),
        }
    }
}

impl StoreError {
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

/// A connection error as a sentence, without echoing the URL (which may hold a password).
pub(crate) fn describe_connect_error(e: &DbErr, url: &str) -> String {
    let text = match e {
        DbErr::Conn(RuntimeErr::SqlxError(inner)) => inner.to_string(),
        other => other.to_string(),
    };
    redact_password(&text, url)
}

/// `text` with the password of `url` (if any) replaced.
pub(crate) fn redact_password(text: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(pw) if !pw.is_empty() => text.replace(&pw, "[redacted]"),
        _ => text.to_owned(),
    }
}

//! Users, sessions, API tokens and sign-in.

use berth_domain::error::Validator;
use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    #[schema(pattern = r"^[a-z0-9_-]{3,50}$")]
    pub username: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or email.
    pub login: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The session token: send it as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub username: String,
    pub email: String,
    /// `super_admin`, `admin`, `developer` or `viewer`.
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.as_uuid(),
            username: u.username.into_inner(),
            email: u.email.into_inner(),
            role: u.role.as_str().into(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    #[schema(pattern = r"^[a-z0-9_-]{3,50}$")]
    pub username: String,
    pub email: String,
    pub password: String,
    /// Default `developer`.
    #[schema(schema_with = super::schema::platform_role_or_null)]
    pub role: Option<String>,
}

/// The parsed fields of a new account.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub role: PlatformRole,
}

pub fn parse_account(
    username: &str,
    email: &str,
    password: &str,
    role: Option<&str>,
) -> Result<NewAccount, ValidationError> {
    let mut v = Validator::new();
    let username = v.check("username", Username::parse(username));
    let email = v.check("email", Email::parse(email));
    let password = v.check("password", Password::parse(password));
    let role = v.check(
        "role",
        role.map_or(Ok(PlatformRole::Developer), PlatformRole::parse),
    );
    v.finish()?;
    match (username, email, password, role) {
        (Some(username), Some(email), Some(password), Some(role)) => Ok(NewAccount {
            username,
            email,
            password,
            role,
        }),
        _ => Err(ValidationError::field("body", "invalid")),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// A new platform role (admins only).
    #[schema(schema_with = super::schema::platform_role_or_null)]
    pub role: Option<String>,
    /// A new password.
    pub password: Option<String>,
    /// The caller's current password, required when changing their own.
    pub current_password: Option<String>,
    /// With a new password: revoke every API token of the user too (sessions end anyway).
    pub revoke_tokens: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: String,
    /// How many days from now the token works (1 to 3650); for ever when absent.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u16>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: uuid::Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.into_inner(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The secret, shown this once: send it as `Authorization: Bearer <token>`.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenView,
}

//! Registries berth pulls from with credentials.

use berth_domain::error::Validator;
use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Obj;

/// A user and a password (or access token) at a registry. Write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentialsInput {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCreate {
    /// The registry as image references name it: `ghcr.io`, `registry.example.com:5000`,
    /// `docker.io` for Docker Hub.
    pub host: String,
    /// The team whose projects pull with these credentials; absent or `null`: the
    /// installation's, for every project (admins only).
    pub team_id: Option<uuid::Uuid>,
    /// Absent or `null`: none (an installation's listing of a registry, pulled anonymously).
    #[schema(value_type = Option<RegistryCredentialsInput>)]
    pub credentials: Option<Obj<RegistryCredentialsInput>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryUpdate {
    /// New credentials, replacing the old; `null`: none.
    #[schema(value_type = Option<RegistryCredentialsInput>)]
    pub credentials: Option<Obj<RegistryCredentialsInput>>,
}

/// Parses credentials into the domain's, naming the fields under `credentials`.
pub fn parse_registry_credentials(
    v: &mut Validator,
    c: &Option<Obj<RegistryCredentialsInput>>,
) -> Option<Option<(RegistryUser, SecretString)>> {
    let Some(c) = c else { return Some(None) };
    let user = v.check("credentials.username", RegistryUser::parse(&c.username));
    let password = if patterns::REGISTRY_PASSWORD.allows(&c.password) {
        Some(SecretString::new(c.password.clone()))
    } else {
        v.push(
            "credentials.password",
            "must be 1 to 8192 characters with no NUL character",
        );
        None
    };
    Some(Some((user?, password?)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryView {
    pub id: uuid::Uuid,
    /// `null`: the installation's.
    pub team_id: Option<uuid::Uuid>,
    pub host: String,
    /// The user berth pulls as; `null`: anonymous. The password is never shown.
    pub username: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Registry> for RegistryView {
    fn from(r: Registry) -> Self {
        Self {
            id: r.id.as_uuid(),
            team_id: r.team_id.map(|t| t.as_uuid()),
            host: r.host.into_inner(),
            username: r.username.map(RegistryUser::into_inner),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

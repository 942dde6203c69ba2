//! Service tokens: one outside party deploying one application.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenCreate {
    pub name: String,
    /// Who uses the token, for example `github` or `gitlab-ci`.
    pub origin: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceTokenView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    pub name: String,
    pub origin: String,
    pub created_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ServiceToken> for ServiceTokenView {
    fn from(t: ServiceToken) -> Self {
        Self {
            id: t.id.as_uuid(),
            application_id: t.application_id.as_uuid(),
            name: t.name.into_inner(),
            origin: t.origin.into_inner(),
            created_by: t.created_by.map(|u| u.as_uuid()),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceToken {
    /// The secret, shown this once.
    pub token: String,
    #[serde(flatten)]
    pub info: ServiceTokenView,
}

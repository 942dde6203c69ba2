//! Service tokens: one outside party deploying one application.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTokenCreate {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: String,
    /// Who uses the token, for example `github` or `gitlab-ci`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
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

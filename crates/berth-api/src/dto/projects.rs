//! Projects.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreate {
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: String,
    #[schema(max_length = 1000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
    /// A team of the caller's that manages the project with them.
    pub team_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub team_id: Option<Option<uuid::Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: uuid::Uuid,
    pub team_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its applications by status.
    pub applications: ApplicationCountsView,
}

/// How many applications a project has (deleted ones not counted): all of them, and those
/// running, stopped and failed (the rest are deploying or scaling).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationCountsView {
    pub total: u64,
    pub running: u64,
    pub stopped: u64,
    pub failed: u64,
}

impl ProjectView {
    pub fn new(p: Project, counts: ApplicationCounts) -> Self {
        Self {
            id: p.id.as_uuid(),
            name: p.name.into_inner(),
            description: p.description.map(Description::into_inner),
            owner_id: p.owner_id.as_uuid(),
            team_id: p.team_id.map(|t| t.as_uuid()),
            created_at: p.created_at,
            updated_at: p.updated_at,
            applications: ApplicationCountsView {
                total: counts.total,
                running: counts.running,
                stopped: counts.stopped,
                failed: counts.failed,
            },
        }
    }
}

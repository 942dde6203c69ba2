//! Teams and their members.

use berth_domain::error::Validator;
use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamCreate {
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: String,
    #[schema(max_length = 1000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdate {
    #[schema(
        min_length = 3,
        max_length = 100,
        pattern = r"^[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^ \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x1f\x7f-\x9f])?$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.into_inner(),
            description: t.description.map(Description::into_inner),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

pub fn parse_team(
    name: &str,
    description: &Option<String>,
) -> Result<(TeamName, Option<Description>), ValidationError> {
    let mut v = Validator::new();
    let name = v.check("name", TeamName::parse(name));
    let description = parse_opt_description(&mut v, "description", description);
    v.finish()?;
    Ok((
        name.ok_or_else(|| ValidationError::field("name", "invalid"))?,
        description.flatten(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    pub user_id: uuid::Uuid,
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(schema_with = schema::team_role)]
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    #[schema(schema_with = schema::team_role)]
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: uuid::Uuid,
    pub username: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

impl From<(TeamMember, Username)> for MemberView {
    fn from((m, name): (TeamMember, Username)) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            username: name.into_inner(),
            role: m.role.as_str().into(),
            joined_at: m.joined_at,
        }
    }
}

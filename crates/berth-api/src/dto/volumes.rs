//! An application's volumes.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeCreate {
    #[schema(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}$")]
    pub name: String,
    #[schema(
        max_length = 1024,
        pattern = r"^/(?:(?:[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+)(?:/(?:[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+)?)*|(?:[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+)?(?:/(?:[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+)?)+)$"
    )]
    pub mount_path: String,
    #[schema(minimum = 1, maximum = 1000000)]
    pub size_gb: i64,
    /// `docker_volume` (default) or `bind`.
    #[schema(schema_with = super::schema::volume_kind_or_null)]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeView {
    pub id: uuid::Uuid,
    pub name: String,
    /// The Docker volume's name, berth's own (`berth-vol-<id>`).
    pub engine_name: String,
    pub kind: String,
    pub mount_path: String,
    pub size_gb: u32,
    pub application_id: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Volume> for VolumeView {
    fn from(v: Volume) -> Self {
        Self {
            id: v.id.as_uuid(),
            name: v.name.into_inner(),
            engine_name: v.engine_name.into_inner(),
            kind: v.kind.as_str().into(),
            mount_path: v.mount_path.into_inner(),
            size_gb: v.size_gb.get(),
            application_id: match v.owner {
                VolumeOwner::Application(a) => Some(a.as_uuid()),
                VolumeOwner::Database(_) => None,
            },
            created_at: v.created_at,
        }
    }
}

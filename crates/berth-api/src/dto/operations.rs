//! Operations on applications: start, stop, restart, scale, delete.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An operation on an application: what it does, where it is, how it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    /// `start`, `stop`, `restart`, `scale` or `delete`.
    pub kind: String,
    /// `pending`, `running`, `success` or `failed`.
    pub status: String,
    /// For `scale`.
    pub replicas: Option<u32>,
    /// For `delete`: the volumes and their data go too.
    pub delete_volumes: bool,
    pub requested_by: Option<uuid::Uuid>,
    /// How it ended (or why it failed).
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Operation> for OperationView {
    fn from(o: Operation) -> Self {
        Self {
            id: o.id.as_uuid(),
            application_id: o.application_id.as_uuid(),
            kind: o.kind.as_str().into(),
            status: o.status.as_str().into(),
            replicas: o.replicas.map(|r| r.get()),
            delete_volumes: o.delete_volumes,
            requested_by: o.requested_by.map(|u| u.as_uuid()),
            message: o.message,
            created_at: o.created_at,
            started_at: o.started_at,
            finished_at: o.finished_at,
        }
    }
}

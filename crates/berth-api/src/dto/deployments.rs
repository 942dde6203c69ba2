//! Builds, deployments, their steps and their log lines.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct BuildView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    /// `pending`, `in_progress`, `succeeded` or `failed`.
    pub status: String,
    pub commit_sha: Option<String>,
    pub commit_message: Option<String>,
    pub image: Option<String>,
    pub image_id: Option<String>,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Build> for BuildView {
    fn from(b: Build) -> Self {
        Self {
            id: b.id.as_uuid(),
            application_id: b.application_id.as_uuid(),
            status: b.status.as_str().into(),
            commit_sha: b.commit_sha.map(CommitSha::into_inner),
            commit_message: b.commit_message,
            image: b.image,
            image_id: b.image_id,
            message: b.message,
            created_at: b.created_at,
            started_at: b.started_at,
            finished_at: b.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub name: String,
    /// `pending`, `running`, `success`, `failed`, `skipped` or `cancelled`.
    pub state: String,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeploymentStep> for StepView {
    fn from(s: DeploymentStep) -> Self {
        Self {
            name: s.name.as_str().into(),
            state: s.state.as_str().into(),
            message: s.message,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub id: uuid::Uuid,
    pub application_id: uuid::Uuid,
    pub build_id: Option<uuid::Uuid>,
    pub triggered_by: Option<uuid::Uuid>,
    /// `manual`, `webhook`, `service_token`, `rollback` or `redeploy`.
    pub trigger: String,
    /// `pending`, `building`, `deploying`, `success`, `failed`, `rolled_back` or `cancelled`.
    pub status: String,
    pub commit_sha: Option<String>,
    pub message: Option<String>,
    pub rollback_of: Option<uuid::Uuid>,
    /// Someone asked for it to stop; it ends `cancelled` shortly.
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Deployment> for DeploymentView {
    fn from(d: Deployment) -> Self {
        Self {
            id: d.id.as_uuid(),
            application_id: d.application_id.as_uuid(),
            build_id: d.build_id.map(|b| b.as_uuid()),
            triggered_by: d.triggered_by.map(|u| u.as_uuid()),
            trigger: d.trigger.as_str().into(),
            status: d.status.as_str().into(),
            commit_sha: d.commit_sha.map(CommitSha::into_inner),
            message: d.message,
            rollback_of: d.rollback_of.map(|r| r.as_uuid()),
            cancel_requested: d.cancel_requested,
            created_at: d.created_at,
            started_at: d.started_at,
            finished_at: d.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentDetailView {
    #[serde(flatten)]
    pub deployment: DeploymentView,
    pub build: Option<BuildView>,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only lines with a sequence number above this (default 0).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many lines (1 to 1000, default 500).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    pub seq: i64,
    pub step: Option<String>,
    pub level: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

impl From<LogLine> for LogLineView {
    fn from(l: LogLine) -> Self {
        Self {
            seq: l.seq,
            step: l.step.map(|s| s.as_str().into()),
            level: l.level.as_str().into(),
            message: l.message,
            created_at: l.created_at,
        }
    }
}

//! An application's environment variables.

use berth_domain::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvSet {
    pub value: String,
    /// Secret values are encrypted and never shown again.
    #[serde(default)]
    pub is_secret: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvView {
    pub key: String,
    /// `null` for secrets.
    pub value: Option<String>,
    pub is_secret: bool,
    pub updated_at: DateTime<Utc>,
}

impl From<EnvVar> for EnvView {
    fn from(e: EnvVar) -> Self {
        Self {
            key: e.key.into_inner(),
            value: e.value,
            is_secret: e.is_secret,
            updated_at: e.updated_at,
        }
    }
}

//! Installation settings (key and JSON value, some encrypted).

use berth_domain::*;
use sea_orm::EntityTrait;

use super::now;
use crate::entity::installation_settings;
use crate::{Scope, StoreError};

impl Scope {
    /// An installation setting kept encrypted (the system's view), decrypted.
    pub async fn installation_setting(
        &self,
        name: &str,
    ) -> Result<Option<SecretString>, StoreError> {
        let m = installation_settings::Entity::find_by_id(name.to_owned())
            .one(self.connection())
            .await?;
        m.map(|m| {
            Ok(SecretString::new(
                self.cipher.decrypt_str(&m.value_encrypted)?,
            ))
        })
        .transpose()
    }

    /// The edge router's last report of itself, if one was written and reads back.
    pub async fn edge_status(&self) -> Result<Option<EdgeStatus>, StoreError> {
        Ok(self
            .installation_setting(EdgeStatus::NAME)
            .await?
            .and_then(|v| serde_json::from_str(v.expose()).ok()))
    }

    /// Replaces the edge router's report of itself.
    pub async fn set_edge_status(&self, status: &EdgeStatus) -> Result<(), StoreError> {
        let json = serde_json::to_string(status).unwrap_or_default();
        self.set_installation_setting(EdgeStatus::NAME, Some(&SecretString::new(json)))
            .await
    }

    /// Sets (or, with `None`, removes) an installation setting, encrypted.
    pub async fn set_installation_setting(
        &self,
        name: &str,
        value: Option<&SecretString>,
    ) -> Result<(), StoreError> {
        installation_settings::Entity::delete_by_id(name.to_owned())
            .exec(self.connection())
            .await?;
        if let Some(v) = value {
            let m = installation_settings::Model {
                name: name.to_owned(),
                value_encrypted: self.cipher.encrypt_str(v.expose()),
                updated_at: now(),
            };
            installation_settings::Entity::insert(installation_settings::ActiveModel::from(m))
                .exec_without_returning(self.connection())
                .await?;
        }
        Ok(())
    }
}

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

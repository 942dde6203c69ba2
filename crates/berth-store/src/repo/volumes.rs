//! Volumes: named storage owned by one application (or database).

use berth_domain::*;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::{conflict, found, now, parse_col};
use crate::entity::{applications, databases, volumes};
use crate::{Scope, StoreError};

pub(super) fn volume_from(m: volumes::Model) -> Result<Volume, StoreError> {
    let owner = match (m.application_id, m.database_id) {
        (Some(a), None) => VolumeOwner::Application(ApplicationId::from_uuid(a)),
        (None, Some(d)) => VolumeOwner::Database(DatabaseId::from_uuid(d)),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "volume {} has no single owner",
                m.id
            )))
        }
    };
    Ok(Volume {
        id: VolumeId::from_uuid(m.id),
        name: parse_col(&m.name)?,
        // Volumes made before engine names were berth's kept their own name as the engine's.
        engine_name: parse_col(m.engine_name.as_deref().unwrap_or(&m.name))?,
        kind: parse_col(&m.kind)?,
        mount_path: parse_col(&m.mount_path)?,
        size_gb: SizeGb::parse(i64::from(m.size_gb))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        owner,
        created_at: m.created_at,
    })
}

#[derive(Debug, Clone)]
pub struct NewVolume {
    pub name: VolumeName,
    pub kind: VolumeKind,
    pub mount_path: MountPath,
    pub size_gb: SizeGb,
    pub owner: VolumeOwner,
}

impl Scope {
    pub async fn create_volume(&self, new: NewVolume) -> Result<Volume, StoreError> {
        let (app, db) = match new.owner {
            VolumeOwner::Application(a) => (Some(self.application(a).await?.id.as_uuid()), None),
            VolumeOwner::Database(d) => (None, Some(self.database(d).await?.id.as_uuid())),
        };
        let id = VolumeId::new().as_uuid();
        let m = volumes::Model {
            id,
            name: new.name.into_inner(),
            engine_name: Some(format!("berth-vol-{}", id.simple())),
            kind: new.kind.as_str().to_owned(),
            mount_path: new.mount_path.into_inner(),
            size_gb: new.size_gb.get() as i32,
            application_id: app,
            database_id: db,
            created_at: now(),
        };
        volumes::Entity::insert(volumes::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "a volume with this name already exists",
            ))?;
        volume_from(m)
    }

    pub async fn list_volumes(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Volume>, StoreError> {
        self.application(application).await?;
        volumes::Entity::find()
            .filter(volumes::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(volumes::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(volume_from)
            .collect()
    }

    pub async fn volume(&self, id: VolumeId) -> Result<Volume, StoreError> {
        let apps = self
            .visible_applications()
            .select_only()
            .column(applications::Column::Id)
            .into_query();
        let dbs = self
            .visible_databases()
            .select_only()
            .column(databases::Column::Id)
            .into_query();
        let m = volumes::Entity::find_by_id(id.as_uuid())
            .filter(
                Condition::any()
                    .add(volumes::Column::ApplicationId.in_subquery(apps))
                    .add(volumes::Column::DatabaseId.in_subquery(dbs)),
            )
            .one(self.connection())
            .await?;
        volume_from(found(m, "volume")?)
    }

    pub async fn delete_volume(&self, id: VolumeId) -> Result<(), StoreError> {
        self.volume(id).await?;
        volumes::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        Ok(())
    }
}

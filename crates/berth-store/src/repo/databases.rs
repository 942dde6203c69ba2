//! Managed databases and their backups.

use berth_domain::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};

use super::{conflict, fetch_page, found, now, parse_col};
use crate::entity::{backups, databases, projects};
use crate::{Scope, StoreError};

pub(super) fn database_from(m: databases::Model) -> Result<Database, StoreError> {
    Ok(Database {
        id: DatabaseId::from_uuid(m.id),
        project_id: ProjectId::from_uuid(m.project_id),
        name: parse_col(&m.name)?,
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        version: m.version,
        config: m.config,
        created_at: m.created_at,
    })
}

pub(super) fn backup_from(m: backups::Model) -> Result<Backup, StoreError> {
    Ok(Backup {
        id: BackupId::from_uuid(m.id),
        database_id: DatabaseId::from_uuid(m.database_id),
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        storage_path: m.storage_path,
        size_bytes: m.size_bytes,
        created_at: m.created_at,
        completed_at: m.completed_at,
    })
}

#[derive(Debug, Clone)]
pub struct NewDatabase {
    pub name: ResourceName,
    pub kind: DatabaseKind,
    pub version: String,
    pub config: serde_json::Value,
    /// Encrypted at rest, never shown again.
    pub connection_string: Option<SecretString>,
}

impl Scope {
    pub(super) fn visible_databases(&self) -> Select<databases::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        databases::Entity::find().filter(databases::Column::ProjectId.in_subquery(projects))
    }

    pub async fn create_database(
        &self,
        project: ProjectId,
        new: NewDatabase,
    ) -> Result<Database, StoreError> {
        self.project(project).await?;
        let t = now();
        let m = databases::Model {
            id: DatabaseId::new().as_uuid(),
            project_id: project.as_uuid(),
            name: new.name.into_inner(),
            kind: new.kind.as_str().to_owned(),
            status: DatabaseStatus::Initializing.as_str().to_owned(),
            version: new.version,
            config: new.config,
            connection_string_encrypted: new
                .connection_string
                .map(|c| self.cipher.encrypt_str(c.expose())),
            created_at: t,
            updated_at: t,
        };
        databases::Entity::insert(databases::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "the project already has a database with this name",
            ))?;
        database_from(m)
    }

    pub async fn database(&self, id: DatabaseId) -> Result<Database, StoreError> {
        let m = self
            .visible_databases()
            .filter(databases::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        database_from(found(m, "database")?)
    }

    /// The decrypted connection string of a database.
    pub async fn database_connection_string(
        &self,
        id: DatabaseId,
    ) -> Result<Option<SecretString>, StoreError> {
        self.database(id).await?;
        let m = found(
            databases::Entity::find_by_id(id.as_uuid())
                .one(self.connection())
                .await?,
            "database",
        )?;
        m.connection_string_encrypted
            .map(|b| Ok(SecretString::new(self.cipher.decrypt_str(&b)?)))
            .transpose()
    }

    pub async fn create_backup(
        &self,
        database: DatabaseId,
        kind: BackupKind,
    ) -> Result<Backup, StoreError> {
        self.database(database).await?;
        let m = backups::Model {
            id: BackupId::new().as_uuid(),
            database_id: database.as_uuid(),
            kind: kind.as_str().to_owned(),
            status: BackupStatus::Pending.as_str().to_owned(),
            storage_path: None,
            size_bytes: None,
            created_at: now(),
            completed_at: None,
        };
        backups::Entity::insert(backups::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        backup_from(m)
    }

    pub async fn list_backups(
        &self,
        database: DatabaseId,
        page: Page,
    ) -> Result<Paginated<Backup>, StoreError> {
        self.database(database).await?;
        let select = backups::Entity::find()
            .filter(backups::Column::DatabaseId.eq(database.as_uuid()))
            .order_by_desc(backups::Column::CreatedAt)
            .order_by_desc(backups::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(backup_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }
}

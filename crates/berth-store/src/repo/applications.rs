use berth_domain::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Select,
};

use super::{conflict, fetch_page, found, now, parse_col, parse_json, to_json};
use crate::entity::{applications, env_vars, git_sources, projects};
use crate::{Scope, StoreError};

/// An application's environment with its values opened: key, value, whether it is secret.
pub type Environment = Vec<(EnvKey, SecretString, bool)>;

#[derive(Debug, Clone)]
pub struct NewApplication {
    pub name: ResourceName,
    pub description: Option<Description>,
    pub source: ApplicationSource,
    pub runtime: RuntimeConfig,
    pub replicas: Replicas,
    /// Write-only credentials for a private git repository.
    pub credentials: Option<GitCredentials>,
}

/// A change to an application; `None` leaves a field as it is. `credentials: Some(None)`
/// removes the stored credentials.
#[derive(Debug, Clone, Default)]
pub struct ApplicationChanges {
    pub name: Option<ResourceName>,
    pub description: Option<Option<Description>>,
    pub source: Option<ApplicationSource>,
    pub runtime: Option<RuntimeConfig>,
    pub replicas: Option<Replicas>,
    pub credentials: Option<Option<GitCredentials>>,
}

fn application_from(m: applications::Model) -> Result<Application, StoreError> {
    Ok(Application {
        id: ApplicationId::from_uuid(m.id),
        project_id: ProjectId::from_uuid(m.project_id),
        name: parse_col(&m.name)?,
        description: m.description.as_deref().map(parse_col).transpose()?,
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        source: parse_json(m.source_config)?,
        runtime: parse_json(m.docker_config)?,
        replicas: Replicas::parse(i64::from(m.replicas))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn git_source_from(m: git_sources::Model) -> Result<GitSource, StoreError> {
    Ok(GitSource {
        id: GitSourceId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        provider: parse_col(&m.provider)?,
        repository: parse_col(&m.repository)?,
        branch: parse_col(&m.branch)?,
        last_deployed_commit: m.commit_sha.as_deref().map(parse_col).transpose()?,
        has_credentials: m.credentials_encrypted.is_some(),
    })
}

fn env_from(m: env_vars::Model) -> Result<EnvVar, StoreError> {
    Ok(EnvVar {
        id: EnvVarId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        key: parse_col(&m.key)?,
        value: if m.is_secret { None } else { m.value },
        is_secret: m.is_secret,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

impl Scope {
    /// Applications that are not deleted and whose project the actor sees.
    pub(crate) fn visible_applications(&self) -> Select<applications::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        applications::Entity::find()
            .filter(applications::Column::DeletedAt.is_null())
            .filter(applications::Column::ProjectId.in_subquery(projects))
    }

    pub async fn create_application(
        &self,
        project: ProjectId,
        new: NewApplication,
    ) -> Result<Application, StoreError> {
        self.project(project).await?;
        let mut v = error::Validator::new();
        if let ApplicationSource::Git(g) = &new.source {
            v.check("source", g.validate());
        }
        v.check("", new.runtime.validate());
        v.check("", new.runtime.conflicts());
        v.finish()?;
        if new.credentials.is_some() && !matches!(new.source, ApplicationSource::Git(_)) {
            return Err(ValidationError::field(
                "source.credentials",
                "only a git source takes credentials",
            )
            .into());
        }
        let t = now();
        let m = applications::Model {
            id: ApplicationId::new().as_uuid(),
            project_id: project.as_uuid(),
            name: new.name.into_inner(),
            description: new.description.map(Description::into_inner),
            kind: new.source.kind().as_str().to_owned(),
            status: ApplicationStatus::Stopped.as_str().to_owned(),
            source_type: new.source.type_name().to_owned(),
            source_config: to_json(&new.source),
            docker_config: to_json(&new.runtime),
            replicas: new.replicas.get() as i32,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        };
        applications::Entity::insert(applications::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "the project already has an application with this name",
            ))?;
        if let ApplicationSource::Git(g) = &new.source {
            let git = git_sources::Model {
                id: GitSourceId::new().as_uuid(),
                application_id: m.id,
                provider: g.provider.as_str().to_owned(),
                repository: g.repository.as_str().to_owned(),
                branch: g.branch.as_str().to_owned(),
                commit_sha: None,
                credentials_encrypted: new
                    .credentials
                    .map(|c| self.cipher.encrypt_str(&c.to_secret_json())),
                webhook_secret_encrypted: None,
                created_at: t,
                updated_at: t,
            };
            git_sources::Entity::insert(git_sources::ActiveModel::from(git))
                .exec_without_returning(self.connection())
                .await?;
        }
        application_from(m)
    }

    pub async fn application(&self, id: ApplicationId) -> Result<Application, StoreError> {
        let m = self
            .visible_applications()
            .filter(applications::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        application_from(found(m, "application")?)
    }

    /// The applications among `ids` this scope sees, in one query (unknown ones left out).
    pub async fn applications_by_ids(
        &self,
        ids: &[ApplicationId],
    ) -> Result<Vec<Application>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.visible_applications()
            .filter(applications::Column::Id.is_in(ids.iter().map(|i| i.as_uuid())))
            .all(self.connection())
            .await?
            .into_iter()
            .map(application_from)
            .collect()
    }

    /// Every application this scope sees that a domain routes to (for the edge router: one
    /// statement, however many there are).
    pub async fn routed_applications(&self) -> Result<Vec<Application>, StoreError> {
        let routed = crate::entity::domains::Entity::find()
            .select_only()
            .column(crate::entity::domains::Column::ApplicationId)
            .filter(crate::entity::domains::Column::ApplicationId.is_not_null())
            .into_query();
        self.visible_applications()
            .filter(applications::Column::Id.in_subquery(routed))
            .all(self.connection())
            .await?
            .into_iter()
            .map(application_from)
            .collect()
    }

    pub async fn list_applications(
        &self,
        project: ProjectId,
        page: Page,
    ) -> Result<Paginated<Application>, StoreError> {
        self.project(project).await?;
        let select = self
            .visible_applications()
            .filter(applications::Column::ProjectId.eq(project.as_uuid()))
            .order_by_desc(applications::Column::CreatedAt)
            .order_by_desc(applications::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(application_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    pub async fn set_application_status(
        &self,
        id: ApplicationId,
        status: ApplicationStatus,
    ) -> Result<(), StoreError> {
        self.application(id).await?;
        applications::Entity::update_many()
            .col_expr(applications::Column::Status, status.as_str().into())
            .col_expr(applications::Column::UpdatedAt, now().into())
            .filter(applications::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        self.edge_changed().await
    }

    /// Changes how an application is built and run. A git source's row follows the change.
    pub async fn update_application(
        &self,
        id: ApplicationId,
        changes: ApplicationChanges,
    ) -> Result<Application, StoreError> {
        let ApplicationChanges {
            name,
            description,
            source,
            runtime,
            replicas,
            credentials,
        } = changes;
        let current = self.application(id).await?;
        let mut am = applications::ActiveModel {
            updated_at: Set(now()),
            ..Default::default()
        };
        if let Some(n) = name {
            am.name = Set(n.into_inner());
        }
        if let Some(d) = description {
            am.description = Set(d.map(Description::into_inner));
        }
        let credentials_given = credentials.is_some();
        if let Some(c) = credentials {
            if current.kind != ApplicationKind::Git {
                return Err(ValidationError::field(
                    "source.credentials",
                    "only a git source takes credentials",
                )
                .into());
            }
            git_sources::Entity::update_many()
                .col_expr(
                    git_sources::Column::CredentialsEncrypted,
                    c.map(|c| self.cipher.encrypt_str(&c.to_secret_json()))
                        .into(),
                )
                .filter(git_sources::Column::ApplicationId.eq(id.as_uuid()))
                .exec(self.connection())
                .await?;
        }
        if let Some(rc) = &runtime {
            rc.validate()?;
            rc.conflicts()?;
            am.docker_config = Set(to_json(rc));
        }
        if let Some(r) = replicas {
            am.replicas = Set(r.get() as i32);
        }
        if let Some(src) = &source {
            if let ApplicationSource::Git(g) = src {
                g.validate().map_err(|e| e.nested("source"))?;
            }
            if src.kind() != current.kind {
                return Err(ValidationError::field(
                    "source.type",
                    "cannot change the type of an application's source",
                )
                .into());
            }
            am.source_config = Set(to_json(src));
            // Credentials belong to the host they were entered for: a repository moved to
            // another host keeps none, unless new ones come with the change.
            if let (ApplicationSource::Git(new), ApplicationSource::Git(old)) =
                (src, &current.source)
            {
                if !credentials_given && new.repository.host() != old.repository.host() {
                    git_sources::Entity::update_many()
                        .col_expr(
                            git_sources::Column::CredentialsEncrypted,
                            Option::<Vec<u8>>::None.into(),
                        )
                        .filter(git_sources::Column::ApplicationId.eq(id.as_uuid()))
                        .exec(self.connection())
                        .await?;
                }
            }
            if let ApplicationSource::Git(g) = src {
                git_sources::Entity::update_many()
                    .col_expr(git_sources::Column::Provider, g.provider.as_str().into())
                    .col_expr(
                        git_sources::Column::Repository,
                        g.repository.as_str().into(),
                    )
                    .col_expr(git_sources::Column::Branch, g.branch.as_str().into())
                    .col_expr(git_sources::Column::UpdatedAt, now().into())
                    .filter(git_sources::Column::ApplicationId.eq(id.as_uuid()))
                    .exec(self.connection())
                    .await?;
            }
        }
        applications::Entity::update_many()
            .set(am)
            .filter(applications::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "the project already has an application with this name",
            ))?;
        // Its ports may have changed, which its domains route to.
        self.edge_changed().await?;
        self.application(id).await
    }

    /// Marks an application deleted: it disappears from every read, its history is kept, and
    /// its name becomes free in its project.
    pub async fn soft_delete_application(&self, id: ApplicationId) -> Result<(), StoreError> {
        self.application(id).await?;
        applications::Entity::update_many()
            .col_expr(applications::Column::DeletedAt, now().into())
            .col_expr(
                applications::Column::Status,
                ApplicationStatus::Stopped.as_str().into(),
            )
            .filter(applications::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        // Its domains route nowhere now, and its service tokens stand for nothing.
        self.edge_changed().await?;
        self.auth_changed().await
    }

    pub async fn git_source(&self, application: ApplicationId) -> Result<GitSource, StoreError> {
        self.application(application).await?;
        let m = git_sources::Entity::find()
            .filter(git_sources::Column::ApplicationId.eq(application.as_uuid()))
            .one(self.connection())
            .await?;
        git_source_from(found(m, "git source")?)
    }

    /// The decrypted credentials of an application's repository, for the build engine only.
    pub async fn git_credentials(
        &self,
        application: ApplicationId,
    ) -> Result<Option<GitCredentials>, StoreError> {
        self.application(application).await?;
        let m = git_sources::Entity::find()
            .filter(git_sources::Column::ApplicationId.eq(application.as_uuid()))
            .one(self.connection())
            .await?;
        let Some(bytes) = found(m, "git source")?.credentials_encrypted else {
            return Ok(None);
        };
        let json = self.cipher.decrypt_str(&bytes)?;
        Ok(Some(
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ))
    }

    /// Records the SSH host key a repository's server presented on first use, so every later
    /// fetch insists on it. Does nothing when a key is recorded already or the credentials are
    /// not a deploy key.
    pub async fn pin_git_host_key(
        &self,
        application: ApplicationId,
        host_key: &str,
    ) -> Result<bool, StoreError> {
        let Some(GitCredentials::SshKey {
            ssh_key,
            known_host: None,
        }) = self.git_credentials(application).await?
        else {
            return Ok(false);
        };
        let pinned = GitCredentials::SshKey {
            ssh_key,
            known_host: Some(host_key.to_owned()),
        };
        git_sources::Entity::update_many()
            .col_expr(
                git_sources::Column::CredentialsEncrypted,
                Some(self.cipher.encrypt_str(&pinned.to_secret_json())).into(),
            )
            .filter(git_sources::Column::ApplicationId.eq(application.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(true)
    }

    pub async fn set_last_deployed_commit(
        &self,
        application: ApplicationId,
        sha: &CommitSha,
    ) -> Result<(), StoreError> {
        git_sources::Entity::update_many()
            .col_expr(git_sources::Column::CommitSha, sha.as_str().into())
            .col_expr(git_sources::Column::UpdatedAt, now().into())
            .filter(git_sources::Column::ApplicationId.eq(application.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Sets (creates or replaces) an environment variable; a secret's value is encrypted.
    pub async fn set_env_var(
        &self,
        application: ApplicationId,
        key: EnvKey,
        value: SecretString,
        is_secret: bool,
    ) -> Result<EnvVar, StoreError> {
        self.application(application).await?;
        let t = now();
        let (plain, secret) = if is_secret {
            (None, Some(self.cipher.encrypt_str(value.expose())))
        } else {
            (Some(value.expose().to_owned()), None)
        };
        let m = env_vars::Model {
            id: EnvVarId::new().as_uuid(),
            application_id: application.as_uuid(),
            key: key.as_str().to_owned(),
            value: plain,
            secret_value: secret,
            is_secret,
            created_at: t,
            updated_at: t,
        };
        env_vars::Entity::insert(env_vars::ActiveModel::from(m))
            .on_conflict(
                OnConflict::columns([env_vars::Column::ApplicationId, env_vars::Column::Key])
                    .update_columns([
                        env_vars::Column::Value,
                        env_vars::Column::SecretValue,
                        env_vars::Column::IsSecret,
                        env_vars::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.connection())
            .await?;
        let m = env_vars::Entity::find()
            .filter(env_vars::Column::ApplicationId.eq(application.as_uuid()))
            .filter(env_vars::Column::Key.eq(key.as_str()))
            .one(self.connection())
            .await?;
        env_from(found(m, "environment variable")?)
    }

    /// The variables of an application as they may be shown: secrets without their value.
    pub async fn list_env_vars(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<EnvVar>, StoreError> {
        self.application(application).await?;
        env_vars::Entity::find()
            .filter(env_vars::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_asc(env_vars::Column::Key)
            .all(self.connection())
            .await?
            .into_iter()
            .map(env_from)
            .collect()
    }

    /// Every variable with its value (secrets decrypted) and whether it is secret, for handing
    /// to a container.
    pub async fn resolved_env(
        &self,
        application: ApplicationId,
    ) -> Result<Environment, StoreError> {
        self.application(application).await?;
        let rows = env_vars::Entity::find()
            .filter(env_vars::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_asc(env_vars::Column::Key)
            .all(self.connection())
            .await?;
        rows.into_iter()
            .map(|m| {
                let value = match (m.is_secret, m.value, m.secret_value) {
                    (false, Some(v), _) => v,
                    (true, _, Some(bytes)) => self.cipher.decrypt_str(&bytes)?,
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "environment variable {} has no value",
                            m.key
                        )))
                    }
                };
                Ok((parse_col(&m.key)?, SecretString::new(value), m.is_secret))
            })
            .collect()
    }

    /// What a deployment queued now deploys: the application's configuration and its
    /// environment, with secret values left sealed as stored.
    pub async fn snapshot(
        &self,
        application: ApplicationId,
    ) -> Result<DeploymentSnapshot, StoreError> {
        let app = self.application(application).await?;
        let rows = env_vars::Entity::find()
            .filter(env_vars::Column::ApplicationId.eq(application.as_uuid()))
            .all(self.connection())
            .await?;
        let env = rows
            .into_iter()
            .map(|m| {
                let value = match (m.is_secret, m.value, m.secret_value) {
                    (false, Some(v), _) => SnapshotValue::Plain(v),
                    (true, _, Some(bytes)) => SnapshotValue::Sealed(Sealed(bytes)),
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "environment variable {} has no value",
                            m.key
                        )))
                    }
                };
                Ok(SnapshotVar {
                    key: parse_col(&m.key)?,
                    value,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(DeploymentSnapshot::of(&app, env))
    }

    /// The environment a snapshot recorded, secrets opened: key, value, whether secret. `None`
    /// for a version 1 snapshot, which recorded none.
    pub fn snapshot_env(
        &self,
        snapshot: &DeploymentSnapshot,
    ) -> Result<Option<Environment>, StoreError> {
        let Some(env) = &snapshot.env else {
            return Ok(None);
        };
        env.iter()
            .map(|v| match &v.value {
                SnapshotValue::Plain(p) => Ok((v.key.clone(), SecretString::new(p.clone()), false)),
                SnapshotValue::Sealed(Sealed(bytes)) => Ok((
                    v.key.clone(),
                    SecretString::new(self.cipher.decrypt_str(bytes)?),
                    true,
                )),
            })
            .collect::<Result<Vec<_>, StoreError>>()
            .map(Some)
    }

    pub async fn delete_env_var(
        &self,
        application: ApplicationId,
        key: &EnvKey,
    ) -> Result<(), StoreError> {
        self.application(application).await?;
        let r = env_vars::Entity::delete_many()
            .filter(env_vars::Column::ApplicationId.eq(application.as_uuid()))
            .filter(env_vars::Column::Key.eq(key.as_str()))
            .exec(self.connection())
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound("environment variable"));
        }
        Ok(())
    }
}

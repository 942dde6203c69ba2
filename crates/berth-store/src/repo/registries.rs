//! Registries berth pulls from with credentials, a team's or the installation's.

use berth_domain::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select,
};

use super::{conflict, found, now, parse_col};
use crate::entity::{credentialed_registry_hosts, projects, registries};
use crate::{Actor, Scope, StoreError};

#[derive(Debug, Clone)]
pub struct NewRegistry {
    /// `None`: the installation's (admins only, checked by the caller).
    pub team_id: Option<TeamId>,
    pub host: RegistryHost,
    /// A user and password, or none (the installation's listing of a registry).
    pub credentials: Option<(RegistryUser, SecretString)>,
}

fn registry_from(m: registries::Model) -> Result<Registry, StoreError> {
    Ok(Registry {
        id: RegistryId::from_uuid(m.id),
        team_id: m.team_id.map(TeamId::from_uuid),
        host: parse_col(&m.host)?,
        username: m.username.as_deref().map(parse_col).transpose()?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

impl Scope {
    /// The installation's registries, and those of the actor's teams (every one for admins).
    fn visible_registries(&self) -> Select<registries::Entity> {
        let select = registries::Entity::find();
        match self.actor() {
            _ if self.is_unrestricted() => select,
            Actor::User { .. } => select.filter(
                Condition::any()
                    .add(registries::Column::TeamId.is_null())
                    .add(registries::Column::TeamId.is_in(self.team_ids())),
            ),
            _ => select.filter(registries::Column::Id.is_null()),
        }
    }

    pub async fn create_registry(&self, new: NewRegistry) -> Result<Registry, StoreError> {
        if let Some(team) = new.team_id {
            self.team(team).await?;
        }
        let t = now();
        let (username, password) = match &new.credentials {
            Some((u, p)) => (
                Some(u.as_str().to_owned()),
                Some(self.cipher.encrypt_str(p.expose())),
            ),
            None => (None, None),
        };
        let m = registries::Model {
            id: RegistryId::new().as_uuid(),
            team_id: new.team_id.map(|t| t.as_uuid()),
            host: new.host.as_str().to_owned(),
            username,
            password_encrypted: password,
            created_at: t,
            updated_at: t,
        };
        registries::Entity::insert(registries::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::NameTaken,
                "this team (or the installation) has this registry already: change it instead",
            ))?;
        if new.credentials.is_some() {
            self.remember_credentialed(&new.host).await?;
        }
        registry_from(m)
    }

    /// Notes that berth holds credentials for `host`, for good (see [`PullAuth::always_pull`]).
    async fn remember_credentialed(&self, host: &RegistryHost) -> Result<(), StoreError> {
        credentialed_registry_hosts::Entity::insert(credentialed_registry_hosts::ActiveModel {
            host: Set(host.as_str().to_owned()),
            since: Set(now()),
        })
        .on_conflict(
            OnConflict::column(credentialed_registry_hosts::Column::Host)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(self.connection())
        .await?;
        Ok(())
    }

    /// The registries the actor sees, by host, the installation's first.
    pub async fn list_registries(&self) -> Result<Vec<Registry>, StoreError> {
        self.visible_registries()
            .order_by_asc(registries::Column::Host)
            .order_by_asc(registries::Column::TeamId)
            .all(self.connection())
            .await?
            .into_iter()
            .map(registry_from)
            .collect()
    }

    pub async fn registry(&self, id: RegistryId) -> Result<Registry, StoreError> {
        let m = self
            .visible_registries()
            .filter(registries::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        registry_from(found(m, "registry")?)
    }

    /// Replaces a registry's credentials (`None`: no credentials).
    pub async fn set_registry_credentials(
        &self,
        id: RegistryId,
        credentials: Option<(RegistryUser, SecretString)>,
    ) -> Result<Registry, StoreError> {
        let r = self.registry(id).await?;
        let t = now();
        let mut m = registries::ActiveModel {
            id: Set(id.as_uuid()),
            updated_at: Set(t),
            ..Default::default()
        };
        match &credentials {
            Some((u, p)) => {
                m.username = Set(Some(u.as_str().to_owned()));
                m.password_encrypted = Set(Some(self.cipher.encrypt_str(p.expose())));
                self.remember_credentialed(&r.host).await?;
            }
            None => {
                m.username = Set(None);
                m.password_encrypted = Set(None);
            }
        }
        registries::Entity::update(m)
            .exec(self.connection())
            .await?;
        self.registry(id).await
    }

    pub async fn delete_registry(&self, id: RegistryId) -> Result<Registry, StoreError> {
        let r = self.registry(id).await?;
        registries::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        Ok(r)
    }

    /// Whether the installation lists `host` (an admin's choice that users may name it, even
    /// by its address).
    pub async fn registry_listed(&self, host: &RegistryHost) -> Result<bool, StoreError> {
        Ok(registries::Entity::find()
            .filter(registries::Column::TeamId.is_null())
            .filter(registries::Column::Host.eq(host.as_str()))
            .one(self.connection())
            .await?
            .is_some())
    }

    /// How `project` pulls (berth's own work: the system's view): its team's credentials for
    /// each registry, else the installation's; the registries berth ever held credentials
    /// for; those the installation lists.
    pub async fn registry_access(&self, project: ProjectId) -> Result<RegistryAccess, StoreError> {
        let team = projects::Entity::find_by_id(project.as_uuid())
            .one(self.connection())
            .await?
            .and_then(|p| p.team_id);
        let mut owners = Condition::any().add(registries::Column::TeamId.is_null());
        if let Some(team) = team {
            owners = owners.add(registries::Column::TeamId.eq(team));
        }
        let rows = registries::Entity::find()
            .filter(owners)
            .all(self.connection())
            .await?;
        let mut access = RegistryAccess::default();
        // The team's first, so they win over the installation's for the same registry.
        let (mut ordered, installation): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| r.team_id.is_some());
        ordered.extend(installation);
        for m in ordered {
            let host: RegistryHost = parse_col(&m.host)?;
            if m.team_id.is_none() {
                access.listed.push(host.clone());
            }
            if let (Some(u), Some(p)) = (&m.username, &m.password_encrypted) {
                if access.credentials_for(&host).is_none() {
                    access.credentials.push(RegistryCredentials {
                        registry: host,
                        username: parse_col(u)?,
                        password: SecretString::new(self.cipher.decrypt_str(p)?),
                    });
                }
            }
        }
        access.credentialed = credentialed_registry_hosts::Entity::find()
            .all(self.connection())
            .await?
            .into_iter()
            .map(|m| parse_col(&m.host))
            .collect::<Result<_, _>>()?;
        Ok(access)
    }
}

//! The one namespace of host names: every domain's claims are made and checked here, for
//! creating and for changing a domain alike (the rules are `berth_domain::hosts`).

use berth_domain::hosts::{is_wildcard, reserved_by, wildcard_parent};
use berth_domain::{DomainId, ErrorCode, ProjectId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use crate::entity::host_claims;
use crate::{Backend, Scope, StoreError};

impl Scope {
    /// Makes `names` the claims of `domain` (of `project`), replacing the ones it had. Fails
    /// with a conflict, changing nothing, when a name is berth's own, already claimed by
    /// another domain, under another project's wildcard, or a wildcard over another
    /// project's name. The conflict names the holder only when this scope may see it.
    pub(crate) async fn claim_hosts(
        &self,
        domain: DomainId,
        project: ProjectId,
        names: &[String],
    ) -> Result<(), StoreError> {
        for name in names {
            if let Some(host) = reserved_by(name, &self.reserved_hosts) {
                return Err(StoreError::conflict(ErrorCode::HostTaken, format!(
                    "{name} is reserved: it is berth's own host {host}, its www form, a name under it or a wildcard over it"
                )));
            }
        }
        if self.backend == Backend::Postgres {
            // Claims of one parent are checked one transaction at a time, so a wildcard and a
            // name under it cannot be claimed at the same moment by two projects.
            for parent in names.iter().filter_map(|n| wildcard_parent(n)) {
                self.connection()
                    .execute(Statement::from_sql_and_values(
                        sea_orm::DbBackend::Postgres,
                        "SELECT pg_advisory_xact_lock(hashtext($1))",
                        [parent.into()],
                    ))
                    .await?;
            }
        }
        let others = |q: sea_orm::Select<host_claims::Entity>| {
            q.filter(host_claims::Column::DomainId.ne(domain.as_uuid()))
        };
        for name in names {
            let parent = wildcard_parent(name);
            let same = others(host_claims::Entity::find_by_id(name.clone()))
                .one(self.connection())
                .await?;
            if let Some(c) = same {
                return Err(self.taken(name, &c, "is already claimed by").await);
            }
            let Some(parent) = parent else { continue };
            let covering = if is_wildcard(name) {
                // A wildcard may not cover a name another project holds.
                others(host_claims::Entity::find())
                    .filter(host_claims::Column::Parent.eq(parent))
                    .filter(host_claims::Column::ProjectId.ne(project.as_uuid()))
                    .one(self.connection())
                    .await?
            } else {
                // A name under another project's wildcard belongs to that project.
                others(host_claims::Entity::find_by_id(format!("*.{parent}")))
                    .filter(host_claims::Column::ProjectId.ne(project.as_uuid()))
                    .one(self.connection())
                    .await?
            };
            if let Some(c) = covering {
                let how = if is_wildcard(name) {
                    "would cover a name claimed by"
                } else {
                    "is covered by the wildcard claimed by"
                };
                return Err(self.taken(name, &c, how).await);
            }
        }
        host_claims::Entity::delete_many()
            .filter(host_claims::Column::DomainId.eq(domain.as_uuid()))
            .exec(self.connection())
            .await?;
        for name in names {
            let claim = host_claims::Model {
                name: name.clone(),
                parent: wildcard_parent(name).map(str::to_owned),
                domain_id: domain.as_uuid(),
                project_id: project.as_uuid(),
            };
            host_claims::Entity::insert(host_claims::ActiveModel::from(claim))
                .exec_without_returning(self.connection())
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict { .. } => StoreError::conflict(
                        ErrorCode::HostTaken,
                        format!("{name} is already claimed by another domain"),
                    ),
                    other => other,
                })?;
        }
        Ok(())
    }

    /// The conflict for `name` against the claim `held`: naming the holder's domain only when
    /// this scope can see it.
    async fn taken(&self, name: &str, held: &host_claims::Model, how: &str) -> StoreError {
        match self.domain(DomainId::from_uuid(held.domain_id)).await {
            Ok(d) => StoreError::conflict(
                ErrorCode::HostTaken,
                format!("{name} {how} the domain {} ({})", d.host, d.id),
            ),
            Err(_) => {
                StoreError::conflict(ErrorCode::HostTaken, format!("{name} {how} another domain"))
            }
        }
    }
}

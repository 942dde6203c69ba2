//! Domains: the hosts an application is served at, and their routing.

use berth_domain::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};

use super::{conflict, found, now, parse_col, parse_json, to_json};
use crate::entity::{domains, projects};
use crate::{Scope, StoreError};

pub(super) fn domain_from(m: domains::Model) -> Result<Domain, StoreError> {
    let target = match (m.application_id, m.database_id) {
        (Some(a), None) => DomainTarget::Application(ApplicationId::from_uuid(a)),
        (None, Some(d)) => DomainTarget::Database(DatabaseId::from_uuid(d)),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "domain {} has no single target",
                m.id
            )))
        }
    };
    Ok(Domain {
        id: DomainId::from_uuid(m.id),
        project_id: ProjectId::from_uuid(m.project_id),
        host: parse_col(&m.host)?,
        target,
        tls: m.tls,
        routing: match m.routing {
            Some(v) if !v.is_null() => parse_json(v)?,
            _ => DomainRouting::default(),
        },
        certificate: CertificateAttempts {
            failures: m.cert_failures.max(0) as u32,
            last_error: m.cert_error,
            retry_at: m.cert_retry_at,
        },
        created_at: m.created_at,
    })
}

impl Scope {
    pub(super) fn visible_domains(&self) -> Select<domains::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        domains::Entity::find().filter(domains::Column::ProjectId.in_subquery(projects))
    }

    /// Adds a domain to a project, routed to one of that project's applications or databases.
    /// Its host and alias are claimed in the installation's one namespace of names
    /// (`claim_hosts`); a conflict names the holder only to whoever may see it.
    pub async fn create_domain(
        &self,
        project: ProjectId,
        host: DomainName,
        target: DomainTarget,
        tls: bool,
        routing: DomainRouting,
    ) -> Result<Domain, StoreError> {
        routing.validate()?;
        routing.conflicts(&host)?;
        self.project(project).await?;
        let (app, db) = match target {
            DomainTarget::Application(a) => {
                let app = self.application(a).await?;
                if app.project_id != project {
                    return Err(StoreError::NotFound("application"));
                }
                (Some(a.as_uuid()), None)
            }
            DomainTarget::Database(d) => {
                let db = self.database(d).await?;
                if db.project_id != project {
                    return Err(StoreError::NotFound("database"));
                }
                (None, Some(d.as_uuid()))
            }
        };
        let t = now();
        let names = hosts::claimed_names(&host, &routing);
        let m = domains::Model {
            id: DomainId::new().as_uuid(),
            project_id: project.as_uuid(),
            host: host.into_inner(),
            application_id: app,
            database_id: db,
            tls,
            routing: Some(to_json(&routing)),
            cert_failures: 0,
            cert_error: None,
            cert_retry_at: None,
            created_at: t,
            updated_at: t,
        };
        domains::Entity::insert(domains::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await
            .map_err(conflict(
                ErrorCode::HostTaken,
                "this domain is already in use",
            ))?;
        self.claim_hosts(DomainId::from_uuid(m.id), project, &names)
            .await?;
        self.edge_changed().await?;
        domain_from(m)
    }

    pub async fn domain(&self, id: DomainId) -> Result<Domain, StoreError> {
        let m = self
            .visible_domains()
            .filter(domains::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        domain_from(found(m, "domain")?)
    }

    pub async fn list_domains(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Domain>, StoreError> {
        self.application(application).await?;
        self.visible_domains()
            .filter(domains::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_asc(domains::Column::Host)
            .all(self.connection())
            .await?
            .into_iter()
            .map(domain_from)
            .collect()
    }

    /// Changes where a domain points (within its project) and whether it serves TLS.
    pub async fn update_domain(
        &self,
        id: DomainId,
        target: Option<DomainTarget>,
        tls: Option<bool>,
        routing: Option<DomainRouting>,
    ) -> Result<Domain, StoreError> {
        let current = self.domain(id).await?;
        let mut q = domains::Entity::update_many()
            .col_expr(domains::Column::UpdatedAt, now().into())
            .filter(domains::Column::Id.eq(id.as_uuid()));
        if let Some(r) = routing {
            r.validate()?;
            r.conflicts(&current.host)?;
            let names = hosts::claimed_names(&current.host, &r);
            self.claim_hosts(id, current.project_id, &names).await?;
            q = q.col_expr(domains::Column::Routing, Some(to_json(&r)).into());
        }
        if let Some(t) = tls {
            q = q.col_expr(domains::Column::Tls, t.into());
        }
        if let Some(target) = target {
            let (app, db): (Option<uuid::Uuid>, Option<uuid::Uuid>) = match target {
                DomainTarget::Application(a) => {
                    if self.application(a).await?.project_id != current.project_id {
                        return Err(StoreError::NotFound("application"));
                    }
                    (Some(a.as_uuid()), None)
                }
                DomainTarget::Database(d) => {
                    if self.database(d).await?.project_id != current.project_id {
                        return Err(StoreError::NotFound("database"));
                    }
                    (None, Some(d.as_uuid()))
                }
            };
            q = q
                .col_expr(domains::Column::ApplicationId, app.into())
                .col_expr(domains::Column::DatabaseId, db.into());
        }
        q.exec(self.connection()).await?;
        self.edge_changed().await?;
        self.domain(id).await
    }

    /// Every domain this scope sees (for the system: all of them), by host.
    pub async fn all_domains(&self) -> Result<Vec<Domain>, StoreError> {
        self.visible_domains()
            .order_by_asc(domains::Column::Host)
            .all(self.connection())
            .await?
            .into_iter()
            .map(domain_from)
            .collect()
    }

    pub async fn delete_domain(&self, id: DomainId) -> Result<(), StoreError> {
        self.domain(id).await?;
        domains::Entity::delete_by_id(id.as_uuid())
            .exec(self.connection())
            .await?;
        self.edge_changed().await
    }
}

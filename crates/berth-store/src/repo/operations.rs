//! Operations on running applications (start, stop, restart, scale, delete): queued as rows,
//! claimed one at a time per application (never beside a running deployment of it), ended with
//! a status and a message.

use berth_domain::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};

use super::{fetch_page, found, now, parse_col};
use crate::entity::{applications, deployments, operations, projects};
use crate::{Backend, Scope, StoreError};

/// An operation to queue.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub kind: OperationKind,
    pub replicas: Option<Replicas>,
    pub delete_volumes: bool,
    pub requested_by: Option<UserId>,
}

fn operation_from(m: operations::Model) -> Result<Operation, StoreError> {
    Ok(Operation {
        id: OperationId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        kind: parse_col(&m.kind)?,
        status: parse_col(&m.status)?,
        replicas: m
            .replicas
            .map(|r| Replicas::parse(i64::from(r)))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        delete_volumes: m.delete_volumes,
        requested_by: m.requested_by.map(UserId::from_uuid),
        message: m.message,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

pub(crate) const ACTIVE_DEPLOYMENTS: [&str; 2] = ["building", "deploying"];

impl Scope {
    /// Operations of applications in projects the actor sees, the application deleted or not
    /// (so the one that deleted it can still be read).
    fn visible_operations(&self) -> Select<operations::Entity> {
        let projects = self
            .visible_projects()
            .select_only()
            .column(projects::Column::Id)
            .into_query();
        let apps = applications::Entity::find()
            .filter(applications::Column::ProjectId.in_subquery(projects))
            .select_only()
            .column(applications::Column::Id)
            .into_query();
        operations::Entity::find().filter(operations::Column::ApplicationId.in_subquery(apps))
    }

    /// Queues an operation (`pending`) on an application the actor may change.
    pub async fn create_operation(
        &self,
        application: ApplicationId,
        new: NewOperation,
    ) -> Result<Operation, StoreError> {
        self.application(application).await?;
        self.lock_application(application).await?;
        let m = operations::Model {
            id: OperationId::new().as_uuid(),
            application_id: application.as_uuid(),
            kind: new.kind.as_str().to_owned(),
            status: OperationStatus::Pending.as_str().to_owned(),
            replicas: new.replicas.map(|r| r.get() as i32),
            delete_volumes: new.delete_volumes,
            requested_by: new.requested_by.map(|u| u.as_uuid()),
            message: None,
            created_at: now(),
            started_at: None,
            finished_at: None,
        };
        operations::Entity::insert(operations::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        operation_from(m)
    }

    pub async fn operation(&self, id: OperationId) -> Result<Operation, StoreError> {
        let m = self
            .visible_operations()
            .filter(operations::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        operation_from(found(m, "operation")?)
    }

    /// The application's operations, newest first.
    pub async fn list_operations(
        &self,
        application: ApplicationId,
        page: Page,
    ) -> Result<Paginated<Operation>, StoreError> {
        self.application(application).await?;
        let select = self
            .visible_operations()
            .filter(operations::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(operations::Column::CreatedAt);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated {
            items: rows
                .into_iter()
                .map(operation_from)
                .collect::<Result<_, _>>()?,
            total,
            limit: page.limit(),
            offset: page.offset(),
        })
    }

    /// The applications with a deployment or an operation running.
    pub(crate) async fn busy_applications(&self) -> Result<Vec<uuid::Uuid>, StoreError> {
        let mut busy: Vec<uuid::Uuid> = deployments::Entity::find()
            .filter(deployments::Column::Status.is_in(ACTIVE_DEPLOYMENTS))
            .select_only()
            .column(deployments::Column::ApplicationId)
            .into_tuple()
            .all(self.connection())
            .await?;
        let running: Vec<uuid::Uuid> = operations::Entity::find()
            .filter(operations::Column::Status.eq(OperationStatus::Running.as_str()))
            .select_only()
            .column(operations::Column::ApplicationId)
            .into_tuple()
            .all(self.connection())
            .await?;
        busy.extend(running);
        Ok(busy)
    }

    /// Takes the oldest waiting operation whose application has nothing running, and moves it
    /// to `running`. On Postgres the application's row is locked first (see
    /// `lock_application`), so that workers in several processes never run two things of one
    /// application at once, nor take the same operation.
    pub async fn claim_next_operation(&self) -> Result<Option<Operation>, StoreError> {
        let busy = self.busy_applications().await?;
        let next = operations::Entity::find()
            .filter(operations::Column::Status.eq(OperationStatus::Pending.as_str()))
            .filter(operations::Column::ApplicationId.is_not_in(busy))
            .order_by_asc(operations::Column::CreatedAt)
            .limit(1);
        let Some(first) = next.one(self.connection()).await? else {
            return Ok(None);
        };
        if self.backend() == Backend::Postgres {
            // As a deployment's claim: the application's row, then a fresh look.
            self.lock_application(ApplicationId::from_uuid(first.application_id))
                .await?;
            if self
                .busy_applications()
                .await?
                .contains(&first.application_id)
            {
                return Ok(None);
            }
            let still = operations::Entity::find_by_id(first.id)
                .one(self.connection())
                .await?;
            if still.map(|m| m.status) != Some(OperationStatus::Pending.as_str().to_owned()) {
                return Ok(None);
            }
        }
        let t = now();
        operations::Entity::update_many()
            .col_expr(
                operations::Column::Status,
                OperationStatus::Running.as_str().into(),
            )
            .col_expr(operations::Column::StartedAt, t.into())
            .filter(operations::Column::Id.eq(first.id))
            .exec(self.connection())
            .await?;
        let mut m = first;
        m.status = OperationStatus::Running.as_str().to_owned();
        m.started_at = Some(t);
        operation_from(m).map(Some)
    }

    /// Ends a running (or, at recovery, any unfinished) operation.
    pub async fn finish_operation(
        &self,
        id: OperationId,
        status: OperationStatus,
        message: &str,
    ) -> Result<Operation, StoreError> {
        let current = self.operation(id).await?;
        if current.status.is_final() || !status.is_final() {
            return Err(StoreError::conflict(
                ErrorCode::InvalidTransition,
                format!(
                    "an operation cannot go from {} to {}",
                    current.status, status
                ),
            ));
        }
        let t = now();
        operations::Entity::update_many()
            .col_expr(operations::Column::Status, status.as_str().into())
            .col_expr(operations::Column::Message, message.into())
            .col_expr(operations::Column::FinishedAt, t.into())
            .filter(operations::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        self.operation(id).await
    }

    /// Operations a stopped server left running.
    pub async fn running_operations(&self) -> Result<Vec<Operation>, StoreError> {
        operations::Entity::find()
            .filter(operations::Column::Status.eq(OperationStatus::Running.as_str()))
            .all(self.connection())
            .await?
            .into_iter()
            .map(operation_from)
            .collect()
    }
}

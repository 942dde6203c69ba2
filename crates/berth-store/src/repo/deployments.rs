use berth_domain::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};

use super::{fetch_page, found, now, parse_col};
use crate::entity::{applications, builds, deployment_logs, deployment_steps, deployments};
use crate::{Scope, StoreError};

fn build_from(m: builds::Model) -> Result<Build, StoreError> {
    Ok(Build {
        id: BuildId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        status: parse_col(&m.status)?,
        commit_sha: m.commit_sha.as_deref().map(parse_col).transpose()?,
        commit_message: m.commit_message,
        image: m.image,
        image_id: m.image_id,
        message: m.message,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

pub(super) fn deployment_from(m: deployments::Model) -> Result<Deployment, StoreError> {
    Ok(Deployment {
        id: DeploymentId::from_uuid(m.id),
        application_id: ApplicationId::from_uuid(m.application_id),
        build_id: m.build_id.map(BuildId::from_uuid),
        triggered_by: m.triggered_by.map(UserId::from_uuid),
        service_token_id: m.service_token_id.map(ServiceTokenId::from_uuid),
        trigger: parse_col(&m.trigger)?,
        status: parse_col(&m.status)?,
        commit_sha: m.commit_sha.as_deref().map(parse_col).transpose()?,
        message: m.message,
        snapshot: DeploymentSnapshot::from_json(m.config_snapshot)
            .map_err(|e| StoreError::Corrupt(format!("deployment {}: {e}", m.id)))?,
        rollback_of: m.rollback_of.map(DeploymentId::from_uuid),
        cancel_requested: m.cancel_requested,
        created_at: m.created_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

fn step_from(m: deployment_steps::Model) -> Result<DeploymentStep, StoreError> {
    Ok(DeploymentStep {
        id: StepId::from_uuid(m.id),
        deployment_id: DeploymentId::from_uuid(m.deployment_id),
        position: m.position,
        name: parse_col(&m.name)?,
        state: parse_col(&m.state)?,
        message: m.message,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

fn log_from(m: deployment_logs::Model) -> Result<LogLine, StoreError> {
    Ok(LogLine {
        deployment_id: DeploymentId::from_uuid(m.deployment_id),
        seq: m.seq,
        step: m.step.as_deref().map(parse_col).transpose()?,
        level: parse_col(&m.level)?,
        message: m.message,
        created_at: m.created_at,
    })
}

/// A deployment to queue.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub trigger: DeploymentTrigger,
    pub triggered_by: Option<UserId>,
    pub service_token_id: Option<ServiceTokenId>,
    pub commit_sha: Option<CommitSha>,
    pub build_id: Option<BuildId>,
    /// What it deploys: [`Scope::snapshot`] of the application now, or an earlier
    /// deployment's for a rollback.
    pub snapshot: DeploymentSnapshot,
    pub rollback_of: Option<DeploymentId>,
}

/// A deployment together with the build it rolls out and its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentDetail {
    pub deployment: Deployment,
    pub build: Option<Build>,
    pub steps: Vec<DeploymentStep>,
}

/// A log line to append; its sequence number is given by the store.
#[derive(Debug, Clone)]
pub struct NewLogLine {
    pub step: Option<StepName>,
    pub level: LogLevel,
    pub message: String,
}

impl Scope {
    fn visible_builds(&self) -> Select<builds::Entity> {
        let apps = self
            .visible_applications()
            .select_only()
            .column(applications::Column::Id)
            .into_query();
        builds::Entity::find().filter(builds::Column::ApplicationId.in_subquery(apps))
    }

    fn visible_deployments(&self) -> Select<deployments::Entity> {
        let apps = self
            .visible_applications()
            .select_only()
            .column(applications::Column::Id)
            .into_query();
        deployments::Entity::find().filter(deployments::Column::ApplicationId.in_subquery(apps))
    }

    pub async fn create_build(
        &self,
        application: ApplicationId,
        commit: Option<CommitSha>,
    ) -> Result<Build, StoreError> {
        self.application(application).await?;
        let m = builds::Model {
            id: BuildId::new().as_uuid(),
            application_id: application.as_uuid(),
            status: BuildStatus::Pending.as_str().to_owned(),
            commit_sha: commit.map(CommitSha::into_inner),
            commit_message: None,
            image: None,
            image_id: None,
            message: None,
            created_at: now(),
            started_at: None,
            finished_at: None,
        };
        builds::Entity::insert(builds::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        build_from(m)
    }

    pub async fn build(&self, id: BuildId) -> Result<Build, StoreError> {
        let m = self
            .visible_builds()
            .filter(builds::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        build_from(found(m, "build")?)
    }

    pub async fn list_builds(
        &self,
        application: ApplicationId,
        page: Page,
    ) -> Result<Paginated<Build>, StoreError> {
        self.application(application).await?;
        let select = self
            .visible_builds()
            .filter(builds::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(builds::Column::CreatedAt)
            .order_by_desc(builds::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter().map(build_from).collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    /// The newest build of an application that succeeded.
    pub async fn latest_successful_build(
        &self,
        application: ApplicationId,
    ) -> Result<Option<Build>, StoreError> {
        self.application(application).await?;
        self.visible_builds()
            .filter(builds::Column::ApplicationId.eq(application.as_uuid()))
            .filter(builds::Column::Status.eq(BuildStatus::Succeeded.as_str()))
            .order_by_desc(builds::Column::CreatedAt)
            .order_by_desc(builds::Column::Id)
            .one(self.connection())
            .await?
            .map(build_from)
            .transpose()
    }

    /// Moves a build to `to` if its state machine allows it, stamping start and finish times.
    /// The update is conditional on the status read, so two writers cannot both win.
    pub async fn transition_build(
        &self,
        id: BuildId,
        to: BuildStatus,
        message: Option<&str>,
    ) -> Result<Build, StoreError> {
        let current = self.build(id).await?;
        current.status.transition(to)?;
        let t = now();
        let mut q = builds::Entity::update_many()
            .col_expr(builds::Column::Status, to.as_str().into())
            .filter(builds::Column::Id.eq(id.as_uuid()))
            .filter(builds::Column::Status.eq(current.status.as_str()));
        if to == BuildStatus::InProgress {
            q = q.col_expr(builds::Column::StartedAt, t.into());
        }
        if to.is_final() {
            q = q.col_expr(builds::Column::FinishedAt, t.into());
        }
        if let Some(msg) = message {
            q = q.col_expr(builds::Column::Message, msg.into());
        }
        let r = q.exec(self.connection()).await?;
        if r.rows_affected == 0 {
            return Err(StoreError::conflict(
                ErrorCode::InvalidTransition,
                "the build changed meanwhile",
            ));
        }
        self.build(id).await
    }

    /// Records what a build produced.
    pub async fn set_build_output(
        &self,
        id: BuildId,
        image: &str,
        image_id: &str,
        commit_message: Option<&str>,
    ) -> Result<(), StoreError> {
        self.build(id).await?;
        builds::Entity::update_many()
            .col_expr(builds::Column::Image, image.into())
            .col_expr(builds::Column::ImageId, image_id.into())
            .col_expr(
                builds::Column::CommitMessage,
                commit_message.map(str::to_owned).into(),
            )
            .filter(builds::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Queues a deployment (`pending`), the application's row locked first (see
    /// [`Scope::lock_application`]) so that queueing and claiming its work take turns.
    pub async fn create_deployment(
        &self,
        application: ApplicationId,
        new: NewDeployment,
    ) -> Result<Deployment, StoreError> {
        self.application(application).await?;
        self.lock_application(application).await?;
        let m = deployments::Model {
            id: DeploymentId::new().as_uuid(),
            application_id: application.as_uuid(),
            build_id: new.build_id.map(|b| b.as_uuid()),
            triggered_by: new.triggered_by.map(|u| u.as_uuid()),
            service_token_id: new.service_token_id.map(|t| t.as_uuid()),
            trigger: new.trigger.as_str().to_owned(),
            status: DeploymentStatus::Pending.as_str().to_owned(),
            commit_sha: new.commit_sha.map(CommitSha::into_inner),
            message: None,
            config_snapshot: new.snapshot.to_json(),
            rollback_of: new.rollback_of.map(|d| d.as_uuid()),
            cancel_requested: false,
            created_at: now(),
            started_at: None,
            finished_at: None,
        };
        deployments::Entity::insert(deployments::ActiveModel::from(m.clone()))
            .exec_without_returning(self.connection())
            .await?;
        deployment_from(m)
    }

    pub async fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError> {
        let m = self
            .visible_deployments()
            .filter(deployments::Column::Id.eq(id.as_uuid()))
            .one(self.connection())
            .await?;
        deployment_from(found(m, "deployment")?)
    }

    /// A deployment joined with its build and its steps, in order.
    pub async fn deployment_detail(
        &self,
        id: DeploymentId,
    ) -> Result<DeploymentDetail, StoreError> {
        let deployment = self.deployment(id).await?;
        let build = match deployment.build_id {
            Some(b) => builds::Entity::find_by_id(b.as_uuid())
                .one(self.connection())
                .await?
                .map(build_from)
                .transpose()?,
            None => None,
        };
        let steps = self.deployment_steps(id).await?;
        Ok(DeploymentDetail {
            deployment,
            build,
            steps,
        })
    }

    pub async fn list_deployments(
        &self,
        application: ApplicationId,
        page: Page,
    ) -> Result<Paginated<Deployment>, StoreError> {
        self.application(application).await?;
        let select = self
            .visible_deployments()
            .filter(deployments::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(deployments::Column::CreatedAt)
            .order_by_desc(deployments::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(deployment_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    pub async fn latest_deployment(
        &self,
        application: ApplicationId,
    ) -> Result<Option<Deployment>, StoreError> {
        self.application(application).await?;
        self.visible_deployments()
            .filter(deployments::Column::ApplicationId.eq(application.as_uuid()))
            .order_by_desc(deployments::Column::CreatedAt)
            .order_by_desc(deployments::Column::Id)
            .one(self.connection())
            .await?
            .map(deployment_from)
            .transpose()
    }

    /// Successful deployments of an application, newest first: the candidates for a rollback.
    pub async fn successful_deployments(
        &self,
        application: ApplicationId,
        page: Page,
    ) -> Result<Paginated<Deployment>, StoreError> {
        self.application(application).await?;
        let select = self
            .visible_deployments()
            .filter(deployments::Column::ApplicationId.eq(application.as_uuid()))
            .filter(deployments::Column::Status.eq(DeploymentStatus::Success.as_str()))
            .order_by_desc(deployments::Column::CreatedAt)
            .order_by_desc(deployments::Column::Id);
        let (rows, total) = fetch_page(self.connection(), select, page).await?;
        Ok(Paginated::new(
            rows.into_iter()
                .map(deployment_from)
                .collect::<Result<_, _>>()?,
            total,
            page,
        ))
    }

    /// Every deployment that is not in a final state, oldest first (for recovery at start).
    pub async fn unfinished_deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let states: Vec<&str> = DeploymentStatus::non_final().map(|s| s.as_str()).collect();
        self.visible_deployments()
            .filter(deployments::Column::Status.is_in(states))
            .order_by_asc(deployments::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(deployment_from)
            .collect()
    }

    /// Moves a deployment to `to` if the state machine allows it; stamps its times and message.
    /// Conditional on the status read, so a concurrent change makes this fail, not overwrite.
    pub async fn transition_deployment(
        &self,
        id: DeploymentId,
        to: DeploymentStatus,
        message: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        let current = self.deployment(id).await?;
        current.status.transition(to)?;
        let t = now();
        let mut q = deployments::Entity::update_many()
            .col_expr(deployments::Column::Status, to.as_str().into())
            .filter(deployments::Column::Id.eq(id.as_uuid()))
            .filter(deployments::Column::Status.eq(current.status.as_str()));
        if current.status == DeploymentStatus::Pending {
            q = q.col_expr(deployments::Column::StartedAt, t.into());
        }
        if to.is_final() {
            q = q.col_expr(deployments::Column::FinishedAt, t.into());
        }
        if let Some(msg) = message {
            q = q.col_expr(deployments::Column::Message, msg.into());
        }
        let r = q.exec(self.connection()).await?;
        if r.rows_affected == 0 {
            return Err(StoreError::conflict(
                ErrorCode::InvalidTransition,
                "the deployment changed meanwhile",
            ));
        }
        self.deployment(id).await
    }

    /// Asks for a running deployment to stop: the process running it (this one or another on
    /// the same database) sees the request and cancels it. `false` when it has ended already.
    pub async fn request_cancel(&self, id: DeploymentId) -> Result<bool, StoreError> {
        self.deployment(id).await?;
        let r = deployments::Entity::update_many()
            .col_expr(deployments::Column::CancelRequested, true.into())
            .filter(deployments::Column::Id.eq(id.as_uuid()))
            .filter(deployments::Column::Status.is_in(["building", "deploying"]))
            .exec(self.connection())
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Of the deployments `ids`, the ones someone asked to stop.
    pub async fn cancel_requested(
        &self,
        ids: &[DeploymentId],
    ) -> Result<Vec<DeploymentId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<uuid::Uuid> = deployments::Entity::find()
            .filter(deployments::Column::Id.is_in(ids.iter().map(|d| d.as_uuid())))
            .filter(deployments::Column::CancelRequested.eq(true))
            .select_only()
            .column(deployments::Column::Id)
            .into_tuple()
            .all(self.connection())
            .await?;
        Ok(rows.into_iter().map(DeploymentId::from_uuid).collect())
    }

    /// Records the build a deployment runs, and, when the deployment named no commit (a
    /// deployment of the branch's tip), the commit that build is of: a deployment says what it
    /// deployed.
    pub async fn set_deployment_build(
        &self,
        id: DeploymentId,
        build: BuildId,
    ) -> Result<(), StoreError> {
        let d = self.deployment(id).await?;
        let mut update = deployments::Entity::update_many()
            .col_expr(deployments::Column::BuildId, build.as_uuid().into());
        if d.commit_sha.is_none() {
            if let Some(sha) = self.build(build).await?.commit_sha {
                update = update.col_expr(
                    deployments::Column::CommitSha,
                    Some(sha.into_inner()).into(),
                );
            }
        }
        update
            .filter(deployments::Column::Id.eq(id.as_uuid()))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    /// Creates the steps of a deployment, all `pending`, in the order given.
    pub async fn create_steps(
        &self,
        deployment: DeploymentId,
        names: &[StepName],
    ) -> Result<Vec<DeploymentStep>, StoreError> {
        self.deployment(deployment).await?;
        let models: Vec<deployment_steps::Model> = names
            .iter()
            .enumerate()
            .map(|(i, n)| deployment_steps::Model {
                id: StepId::new().as_uuid(),
                deployment_id: deployment.as_uuid(),
                position: i as i32,
                name: n.as_str().to_owned(),
                state: StepState::Pending.as_str().to_owned(),
                message: None,
                started_at: None,
                finished_at: None,
            })
            .collect();
        if !models.is_empty() {
            deployment_steps::Entity::insert_many(
                models
                    .iter()
                    .cloned()
                    .map(deployment_steps::ActiveModel::from),
            )
            .exec_without_returning(self.connection())
            .await?;
        }
        models.into_iter().map(step_from).collect()
    }

    pub async fn deployment_steps(
        &self,
        deployment: DeploymentId,
    ) -> Result<Vec<DeploymentStep>, StoreError> {
        deployment_steps::Entity::find()
            .filter(deployment_steps::Column::DeploymentId.eq(deployment.as_uuid()))
            .order_by_asc(deployment_steps::Column::Position)
            .all(self.connection())
            .await?
            .into_iter()
            .map(step_from)
            .collect()
    }

    /// Sets a step's state (and message); `running` stamps its start, a final state its end.
    pub async fn set_step_state(
        &self,
        deployment: DeploymentId,
        step: StepName,
        state: StepState,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        self.deployment(deployment).await?;
        let t = now();
        let mut q = deployment_steps::Entity::update_many()
            .col_expr(deployment_steps::Column::State, state.as_str().into())
            .filter(deployment_steps::Column::DeploymentId.eq(deployment.as_uuid()))
            .filter(deployment_steps::Column::Name.eq(step.as_str()));
        if state == StepState::Running {
            q = q.col_expr(deployment_steps::Column::StartedAt, t.into());
        }
        if state.is_final() {
            q = q.col_expr(deployment_steps::Column::FinishedAt, t.into());
        }
        if let Some(m) = message {
            q = q.col_expr(deployment_steps::Column::Message, m.into());
        }
        if q.exec(self.connection()).await?.rows_affected == 0 {
            return Err(StoreError::NotFound("step"));
        }
        Ok(())
    }

    /// Appends log lines to a deployment, numbering them after the last one stored; returns
    /// the lines with their sequence numbers.
    /// Drops the deployment's log lines after `marker` up to `to` (sequence numbers) and
    /// makes the line at `marker` say so: a log kept within its limits keeps its order, with
    /// one line where the dropped ones were.
    pub async fn drop_logs(
        &self,
        deployment: DeploymentId,
        marker: i64,
        to: i64,
        message: String,
    ) -> Result<(), StoreError> {
        let of = || deployment_logs::Column::DeploymentId.eq(deployment.as_uuid());
        deployment_logs::Entity::delete_many()
            .filter(of())
            .filter(deployment_logs::Column::Seq.gt(marker))
            .filter(deployment_logs::Column::Seq.lte(to))
            .exec(self.connection())
            .await?;
        deployment_logs::Entity::update_many()
            .col_expr(deployment_logs::Column::Message, message.into())
            .col_expr(
                deployment_logs::Column::Level,
                LogLevel::Warn.as_str().into(),
            )
            .filter(of())
            .filter(deployment_logs::Column::Seq.eq(marker))
            .exec(self.connection())
            .await?;
        Ok(())
    }

    pub async fn append_logs(
        &self,
        deployment: DeploymentId,
        lines: Vec<NewLogLine>,
    ) -> Result<Vec<LogLine>, StoreError> {
        self.deployment(deployment).await?;
        let last: Option<i64> = deployment_logs::Entity::find()
            .select_only()
            .column_as(Expr::col(deployment_logs::Column::Seq).max(), "max_seq")
            .filter(deployment_logs::Column::DeploymentId.eq(deployment.as_uuid()))
            .into_tuple::<Option<i64>>()
            .one(self.connection())
            .await?
            .flatten();
        let t = now();
        let models: Vec<deployment_logs::Model> = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| deployment_logs::Model {
                id: 0,
                deployment_id: deployment.as_uuid(),
                seq: last.unwrap_or(0) + 1 + i as i64,
                step: l.step.map(|s| s.as_str().to_owned()),
                level: l.level.as_str().to_owned(),
                message: l.message,
                created_at: t,
            })
            .collect();
        if !models.is_empty() {
            let actives = models.iter().cloned().map(|m| {
                let mut am = deployment_logs::ActiveModel::from(m);
                am.id = sea_orm::ActiveValue::NotSet;
                am
            });
            deployment_logs::Entity::insert_many(actives)
                .exec_without_returning(self.connection())
                .await?;
        }
        models.into_iter().map(log_from).collect()
    }

    /// Log lines of a deployment with a sequence number above `after`, in order, at most
    /// `limit` of them.
    pub async fn deployment_logs(
        &self,
        deployment: DeploymentId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<LogLine>, StoreError> {
        self.deployment(deployment).await?;
        deployment_logs::Entity::find()
            .filter(deployment_logs::Column::DeploymentId.eq(deployment.as_uuid()))
            .filter(deployment_logs::Column::Seq.gt(after))
            .order_by_asc(deployment_logs::Column::Seq)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(log_from)
            .collect()
    }
}

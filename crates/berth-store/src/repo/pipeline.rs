//! What the deployment pipeline and the webhooks need from the store: the queue (pending
//! deployments, claimed one at a time), webhook secrets and the deliveries already received.

use berth_domain::*;
use sea_orm::sea_query::LockType;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{found, now};
use crate::entity::{applications, deployments, git_sources, webhook_deliveries};
use crate::tokens::{generate, TokenKind};
use crate::{Backend, Scope, StoreError};

use super::operations::ACTIVE_DEPLOYMENTS as ACTIVE;

impl Scope {
    /// Ends every other pending deployment of `application` as `cancelled`, superseded by
    /// `by` (just queued), so an application has at most one deployment waiting however many
    /// are asked for. Returns the ones it ended.
    pub async fn supersede_pending(
        &self,
        application: ApplicationId,
        by: DeploymentId,
    ) -> Result<Vec<DeploymentId>, StoreError> {
        // The application's row first, as a claim takes it, so the two never wait on each
        // other's deployment rows.
        self.lock_application(application).await?;
        let older: Vec<uuid::Uuid> = deployments::Entity::find()
            .filter(deployments::Column::ApplicationId.eq(application.as_uuid()))
            .filter(deployments::Column::Status.eq("pending"))
            .filter(deployments::Column::Id.ne(by.as_uuid()))
            .all(self.connection())
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect();
        self.end_superseded(&older, by).await?;
        Ok(older.into_iter().map(DeploymentId::from_uuid).collect())
    }

    /// Ends the pending deployments `ids` as `cancelled`, "superseded by deployment <by>", in
    /// one statement however many there are; the time and message it wrote.
    async fn end_superseded(
        &self,
        ids: &[uuid::Uuid],
        by: DeploymentId,
    ) -> Result<(Timestamp, String), StoreError> {
        let t = now();
        let message = format!("superseded by deployment {by}");
        if !ids.is_empty() {
            deployments::Entity::update_many()
                .col_expr(deployments::Column::Status, "cancelled".into())
                .col_expr(deployments::Column::Message, message.clone().into())
                .col_expr(deployments::Column::StartedAt, t.into())
                .col_expr(deployments::Column::FinishedAt, t.into())
                .filter(deployments::Column::Id.is_in(ids.iter().copied()))
                .filter(deployments::Column::Status.eq("pending"))
                .exec(self.connection())
                .await?;
        }
        Ok((t, message))
    }

    /// Takes the next deployment off the queue, if fewer than `limit` run and one is waiting
    /// whose application has none running. Of an application's pending deployments the newest
    /// is taken and the older ones end `cancelled`, superseded by it. The taken one moves to
    /// `building`, or to `deploying` when it has its image already (a rollback or a redeploy).
    /// On Postgres the application's row is locked before any of its deployments is touched
    /// (see [`Scope::lock_application`]), so that several workers, in one process or many,
    /// never take the same deployment or two of one application, and a queueing request never
    /// deadlocks with a claim; SQLite's single writer makes the transaction exclusive anyway.
    pub async fn claim_next_deployment(
        &self,
        limit: usize,
    ) -> Result<Option<(Deployment, Vec<Deployment>)>, StoreError> {
        let running = deployments::Entity::find()
            .filter(deployments::Column::Status.is_in(ACTIVE))
            .count(self.connection())
            .await?;
        if running >= limit as u64 {
            return Ok(None);
        }
        // An application with a deployment or an operation running waits.
        let busy = self.busy_applications().await?;
        let next = deployments::Entity::find()
            .filter(deployments::Column::Status.eq("pending"))
            .filter(deployments::Column::ApplicationId.is_not_in(busy))
            .order_by_asc(deployments::Column::CreatedAt)
            .limit(1);
        let Some(first) = next.one(self.connection()).await? else {
            return Ok(None);
        };
        let app = first.application_id;
        if self.backend() == Backend::Postgres {
            self.lock_application(ApplicationId::from_uuid(app)).await?;
            if self.busy_applications().await?.contains(&app) {
                return Ok(None);
            }
        }
        let waiting = || {
            deployments::Entity::find()
                .filter(deployments::Column::ApplicationId.eq(app))
                .filter(deployments::Column::Status.eq("pending"))
        };
        let Some(newest) = waiting()
            .order_by_desc(deployments::Column::CreatedAt)
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        let newest_id = DeploymentId::from_uuid(newest.id);
        // The older ones end in one statement, however many a burst of pushes queued.
        let older = waiting()
            .filter(deployments::Column::Id.ne(newest.id))
            .order_by_desc(deployments::Column::CreatedAt)
            .all(self.connection())
            .await?;
        let ids: Vec<uuid::Uuid> = older.iter().map(|d| d.id).collect();
        let (t, message) = self.end_superseded(&ids, newest_id).await?;
        let mut superseded = Vec::with_capacity(older.len());
        for mut d in older {
            d.status = "cancelled".into();
            d.message = Some(message.clone());
            d.started_at = Some(t);
            d.finished_at = Some(t);
            superseded.push(super::deployments::deployment_from(d)?);
        }
        let to = if newest.build_id.is_some() {
            DeploymentStatus::Deploying
        } else {
            DeploymentStatus::Building
        };
        let claimed = self.transition_deployment(newest_id, to, None).await?;
        Ok(Some((claimed, superseded)))
    }

    /// On Postgres, locks the application's row until the transaction ends: whoever queues,
    /// supersedes or claims work of an application takes this lock before touching its
    /// deployment or operation rows, so two of them (in one process or many) run one after the
    /// other and never wait on each other. SQLite's single writer serialises them anyway.
    pub async fn lock_application(&self, application: ApplicationId) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            // `NO KEY UPDATE`: a transaction that inserted a row referring to the application
            // (a deployment, a webhook delivery) holds a key-share lock on it, which this does
            // not wait for; two of these wait for each other.
            applications::Entity::find_by_id(application.as_uuid())
                .lock(LockType::NoKeyUpdate)
                .one(self.connection())
                .await?;
        }
        Ok(())
    }

    /// The application's webhook secret, decrypted, if it has one.
    pub async fn webhook_secret(
        &self,
        application: ApplicationId,
    ) -> Result<Option<SecretString>, StoreError> {
        let source = self.git_source_row(application).await?;
        source
            .webhook_secret_encrypted
            .map(|b| Ok(SecretString::new(self.cipher.decrypt_str(&b)?)))
            .transpose()
    }

    /// Gives the application a new webhook secret (the old one stops working) and returns it:
    /// the only time it is shown.
    pub async fn rotate_webhook_secret(
        &self,
        application: ApplicationId,
    ) -> Result<SecretString, StoreError> {
        let source = self.git_source_row(application).await?;
        let secret = generate(TokenKind::Webhook);
        git_sources::Entity::update_many()
            .col_expr(
                git_sources::Column::WebhookSecretEncrypted,
                self.cipher.encrypt_str(secret.expose()).into(),
            )
            .col_expr(git_sources::Column::UpdatedAt, now().into())
            .filter(git_sources::Column::Id.eq(source.id))
            .exec(self.connection())
            .await?;
        Ok(secret)
    }

    /// Records a webhook delivery; `false` when that delivery id was seen before (a retry).
    pub async fn record_webhook_delivery(
        &self,
        application: ApplicationId,
        delivery: &str,
    ) -> Result<bool, StoreError> {
        let delivery: String = delivery.chars().take(200).collect();
        let seen =
            webhook_deliveries::Entity::find_by_id((application.as_uuid(), delivery.clone()))
                .one(self.connection())
                .await?;
        if seen.is_some() {
            return Ok(false);
        }
        webhook_deliveries::Entity::insert(webhook_deliveries::ActiveModel::from(
            webhook_deliveries::Model {
                application_id: application.as_uuid(),
                delivery_id: delivery,
                received_at: now(),
            },
        ))
        .exec_without_returning(self.connection())
        .await?;
        Ok(true)
    }

    /// Forgets deliveries older than `before` (a retry comes within hours, not weeks).
    pub async fn prune_webhook_deliveries(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        Ok(webhook_deliveries::Entity::delete_many()
            .filter(webhook_deliveries::Column::ReceivedAt.lt(before))
            .exec(self.connection())
            .await?
            .rows_affected)
    }

    async fn git_source_row(
        &self,
        application: ApplicationId,
    ) -> Result<git_sources::Model, StoreError> {
        self.application(application).await?;
        let m = git_sources::Entity::find()
            .filter(git_sources::Column::ApplicationId.eq(application.as_uuid()))
            .one(self.connection())
            .await?;
        found(m, "git source")
    }
}

impl Scope {
    /// Retention: deletes deployment log lines written before `logs_before`, and ended
    /// deployments (with their steps and lines) that finished before `deployments_before`,
    /// except each application's newest successful one (what a rollback goes back to).
    /// Returns how many lines and deployments went.
    pub async fn prune_history(
        &self,
        logs_before: chrono::DateTime<chrono::Utc>,
        deployments_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<(u64, u64), StoreError> {
        use crate::entity::deployment_logs;
        let lines = deployment_logs::Entity::delete_many()
            .filter(deployment_logs::Column::CreatedAt.lt(logs_before))
            .exec(self.connection())
            .await?
            .rows_affected;
        let old = deployments::Entity::find()
            .filter(deployments::Column::FinishedAt.lt(deployments_before))
            .all(self.connection())
            .await?;
        let mut doomed = Vec::new();
        let mut kept: std::collections::HashMap<uuid::Uuid, Option<uuid::Uuid>> =
            std::collections::HashMap::new();
        for d in old {
            let keep = match kept.get(&d.application_id) {
                Some(k) => *k,
                None => {
                    let newest_success = deployments::Entity::find()
                        .filter(deployments::Column::ApplicationId.eq(d.application_id))
                        .filter(deployments::Column::Status.eq("success"))
                        .order_by_desc(deployments::Column::CreatedAt)
                        .one(self.connection())
                        .await?
                        .map(|n| n.id);
                    kept.insert(d.application_id, newest_success);
                    newest_success
                }
            };
            if keep != Some(d.id) {
                doomed.push(d.id);
            }
        }
        let mut removed = 0;
        for chunk in doomed.chunks(500) {
            // A rollback row pointing at a pruned deployment keeps its own history.
            deployments::Entity::update_many()
                .col_expr(
                    deployments::Column::RollbackOf,
                    sea_orm::sea_query::Expr::value(Option::<uuid::Uuid>::None),
                )
                .filter(deployments::Column::RollbackOf.is_in(chunk.iter().copied()))
                .exec(self.connection())
                .await?;
            removed += deployments::Entity::delete_many()
                .filter(deployments::Column::Id.is_in(chunk.iter().copied()))
                .exec(self.connection())
                .await?
                .rows_affected;
        }
        Ok((lines, removed))
    }
}

//! One operation on an application: start, stop, restart, scale or delete, run on the
//! orchestrator in the background; its end and the application's new status are recorded
//! together.

use berth_domain::{
    Application, ApplicationStatus, Operation, OperationKind, OperationStatus, VolumeKind,
};
use berth_store::{Actor, ApplicationChanges, StoreError};
use berth_swarm::SwarmError;

use crate::changes::Changes;
use crate::{DeployError, Inner};

/// Runs `op` (claimed: `running`) and records how it ended.
pub(crate) async fn run(inner: &Inner, op: Operation) {
    let outcome = execute(inner, &op).await;
    if let Err(e) = finish(inner, &op, outcome).await {
        tracing::error!(operation = %op.id, error = %e, "the operation's end was not recorded");
    }
}

/// What an operation did: its message and the application's status after it (`None`: the
/// application is gone, or its status is left to the reconciler).
type Outcome = Result<(String, Option<ApplicationStatus>), DeployError>;

async fn execute(inner: &Inner, op: &Operation) -> Outcome {
    let app = inner
        .store
        .read_scope(Actor::System)
        .await?
        .application(op.application_id)
        .await?;
    let orchestrator = inner.engines()?.orchestrator.clone();
    let name = app.service_name();
    let name = name.as_str();
    let timeout = inner.settings.rollout_timeout;
    match op.kind {
        OperationKind::Start => {
            let n = orchestrator.start(name, timeout).await?;
            Ok((
                format!("started: {n} replicas running"),
                Some(ApplicationStatus::Running),
            ))
        }
        OperationKind::Stop => {
            orchestrator.stop(name, timeout).await?;
            Ok(("stopped".into(), Some(ApplicationStatus::Stopped)))
        }
        OperationKind::Restart => {
            let n = orchestrator.restart(name, timeout).await?;
            Ok((
                format!("restarted: {n} fresh replicas running"),
                Some(ApplicationStatus::Running),
            ))
        }
        OperationKind::Scale => {
            let replicas = op.replicas.unwrap_or(app.replicas);
            // Later deployments run this many too, whether or not a service runs yet.
            let scope = inner.store.scope(Actor::System).await?;
            scope
                .update_application(
                    app.id,
                    ApplicationChanges {
                        replicas: Some(replicas),
                        ..Default::default()
                    },
                )
                .await?;
            scope.commit().await?;
            match orchestrator.scale(name, replicas.get(), timeout).await {
                Ok(n) => Ok((
                    format!("scaled to {n} replicas"),
                    Some(if replicas.get() == 0 {
                        ApplicationStatus::Stopped
                    } else {
                        ApplicationStatus::Running
                    }),
                )),
                Err(SwarmError::NotFound(_)) => Ok((
                    format!(
                        "{} replicas from the next deployment on (nothing runs yet)",
                        replicas.get()
                    ),
                    None,
                )),
                Err(e) => Err(e.into()),
            }
        }
        OperationKind::Delete => delete(inner, op, &app, name).await,
    }
}

/// Its service goes first (then nothing mounts its volumes), so no container outlives its
/// application; then, when asked, its volumes and their data; then its images; then the
/// application itself (its history stays).
async fn delete(inner: &Inner, op: &Operation, app: &Application, name: &str) -> Outcome {
    let engines = inner.engines()?;
    match engines.orchestrator.remove(name).await {
        Ok(()) | Err(SwarmError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let volumes = inner
        .store
        .read_scope(Actor::System)
        .await?
        .list_volumes(app.id)
        .await?;
    if !volumes.is_empty() && !op.delete_volumes {
        // Made since the request was checked.
        return Err(DeployError::ApplicationHasVolumes(
            volumes.into_iter().map(|v| v.name.into_inner()).collect(),
        ));
    }
    for v in volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::DockerVolume)
    {
        engines
            .orchestrator
            .remove_volume(v.engine_name.as_str())
            .await?;
    }
    if let Err(e) = engines.builder.prune(&app.image_repository(), 0).await {
        tracing::warn!(application = %app.id, error = %e, "its images were kept");
    }
    let scope = inner.store.scope(Actor::System).await?;
    for v in &volumes {
        scope.delete_volume(v.id).await?;
    }
    scope.soft_delete_application(app.id).await?;
    scope.commit().await?;
    Ok(("deleted".into(), None))
}

async fn finish(inner: &Inner, op: &Operation, outcome: Outcome) -> Result<(), StoreError> {
    let scope = inner.store.scope(Actor::System).await?;
    let mut changes = Changes::new();
    match outcome {
        Ok((message, status)) => {
            if let Some(status) = status {
                changes
                    .application(&scope, op.application_id, status)
                    .await?;
            }
            changes
                .end_operation(&scope, op, OperationStatus::Success, &message)
                .await?;
        }
        Err(e) => {
            tracing::warn!(operation = %op.id, error = %e, "operation failed");
            changes
                .end_operation(&scope, op, OperationStatus::Failed, &e.to_string())
                .await?;
        }
    }
    changes.commit(scope, &inner.bus).await
}

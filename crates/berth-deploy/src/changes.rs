//! The one place that changes a deployment's, an operation's or an application's status and
//! says so on the bus. Changes are written in the caller's transaction and published only once
//! it committed, so a subscriber that reloads from the store on an event finds what it says.

use berth_domain::{
    ApplicationId, ApplicationStatus, Deployment, DeploymentId, DeploymentStatus, Operation,
    OperationStatus, StepName, StepState,
};
use berth_events::{Event, EventBus};
use berth_store::{Scope, StoreError};

#[derive(Debug, Default)]
#[must_use = "changes are published by commit"]
pub(crate) struct Changes {
    events: Vec<Event>,
}

impl Changes {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Moves a deployment through its state machine.
    pub(crate) async fn deployment(
        &mut self,
        scope: &Scope,
        id: DeploymentId,
        to: DeploymentStatus,
        message: Option<&str>,
    ) -> Result<Deployment, StoreError> {
        let d = scope.transition_deployment(id, to, message).await?;
        self.deployment_changed(&d);
        Ok(d)
    }

    /// A deployment the store queued, or changed in a statement of its own (claimed, ended as
    /// superseded).
    pub(crate) fn deployment_changed(&mut self, d: &Deployment) {
        self.events.push(Event::DeploymentStatusChanged {
            deployment_id: d.id,
            application_id: d.application_id,
            status: d.status,
        });
    }

    pub(crate) async fn step(
        &mut self,
        scope: &Scope,
        deployment: DeploymentId,
        step: StepName,
        state: StepState,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        scope
            .set_step_state(deployment, step, state, message)
            .await?;
        self.events.push(Event::StepChanged {
            deployment_id: deployment,
            step,
            state,
        });
        Ok(())
    }

    /// An operation queued, claimed or ended.
    pub(crate) fn operation_changed(&mut self, op: &Operation) {
        self.events.push(Event::OperationStatusChanged {
            operation_id: op.id,
            application_id: op.application_id,
            status: op.status,
        });
    }

    pub(crate) async fn end_operation(
        &mut self,
        scope: &Scope,
        op: &Operation,
        status: OperationStatus,
        message: &str,
    ) -> Result<Operation, StoreError> {
        let op = scope.finish_operation(op.id, status, message).await?;
        self.operation_changed(&op);
        Ok(op)
    }

    pub(crate) async fn application(
        &mut self,
        scope: &Scope,
        id: ApplicationId,
        status: ApplicationStatus,
    ) -> Result<(), StoreError> {
        scope.set_application_status(id, status).await?;
        self.events.push(Event::ApplicationStatusChanged {
            application_id: id,
            status,
        });
        Ok(())
    }

    /// Commits the transaction, then publishes what it changed.
    pub(crate) async fn commit(self, scope: Scope, bus: &EventBus) -> Result<(), StoreError> {
        scope.commit().await?;
        self.publish(bus);
        Ok(())
    }

    /// Publishes changes whose transaction committed already.
    pub(crate) fn publish(self, bus: &EventBus) {
        for e in self.events {
            bus.publish(e);
        }
    }
}

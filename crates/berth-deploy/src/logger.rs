//! A deployment's log: every line numbered by the store in order, written in small batches,
//! and published on the bus with its number once stored, so a live stream that replays the
//! store and then follows the bus sees every line exactly once.

use std::time::Duration;

use berth_domain::{DeploymentId, LogLevel, StepName};
use berth_events::{Event, EventBus};
use berth_store::{Actor, NewLogLine, Store};
use tokio::sync::mpsc;

/// Where a deployment's steps write. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Logger {
    tx: Option<mpsc::UnboundedSender<NewLogLine>>,
}

const BATCH: usize = 200;
const EVERY: Duration = Duration::from_millis(150);

impl Logger {
    /// A logger and the task that stores and publishes its lines; the task ends when every
    /// clone of the logger is dropped and the last batch is written.
    pub(crate) fn start(
        store: Store,
        bus: EventBus,
        deployment: DeploymentId,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewLogLine>();
        let task = tokio::spawn(async move {
            let mut open = true;
            while open {
                let mut batch = Vec::new();
                match rx.recv().await {
                    Some(line) => batch.push(line),
                    None => break,
                }
                let deadline = tokio::time::Instant::now() + EVERY;
                while batch.len() < BATCH {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(line)) => batch.push(line),
                        Ok(None) => {
                            open = false;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = write(&store, &bus, deployment, batch).await {
                    tracing::error!(%deployment, error = %e, "deployment log lines were lost");
                }
            }
        });
        (Self { tx: Some(tx) }, task)
    }

    pub(crate) fn line(&self, step: Option<StepName>, level: LogLevel, message: impl Into<String>) {
        let message: String = message.into();
        let Some(tx) = &self.tx else { return };
        for part in message.lines() {
            let _ = tx.send(NewLogLine {
                step,
                level,
                message: part.to_owned(),
            });
        }
    }

    /// No more lines from this handle; the writer finishes once every clone is closed or
    /// dropped.
    pub(crate) fn close(&mut self) {
        self.tx = None;
    }

    pub(crate) fn info(&self, step: StepName, message: impl Into<String>) {
        self.line(Some(step), LogLevel::Info, message);
    }

    pub(crate) fn error(&self, step: Option<StepName>, message: impl Into<String>) {
        self.line(step, LogLevel::Error, message);
    }
}

async fn write(
    store: &Store,
    bus: &EventBus,
    deployment: DeploymentId,
    batch: Vec<NewLogLine>,
) -> Result<(), berth_store::StoreError> {
    let scope = store.scope(Actor::System).await?;
    let stored = scope.append_logs(deployment, batch).await?;
    scope.commit().await?;
    for l in stored {
        bus.publish(Event::DeploymentLog {
            deployment_id: deployment,
            seq: l.seq,
            level: l.level,
            message: l.message,
        });
    }
    Ok(())
}

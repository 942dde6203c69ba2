//! Rolling a new specification out (creating the service the first time) and back.

use crate::spec::SPEC_LABEL;
use crate::{EventSink, Swarm, SwarmError};
use berth_domain::ServiceSpec;
use berth_events::CancelToken;
use bollard::models::ServiceUpdateStatusStateEnum;
use std::collections::HashSet;
use std::time::Duration;

use super::*;

impl Swarm {
    /// Creates the service or updates it to `spec`, then waits until it converges. An update
    /// is a start-first rolling update gated by the health check (as `spec.update` says);
    /// Swarm rolls back a version whose tasks fail and the outcome says why. A new service that
    /// fails to start, does not converge in `timeout` or is cancelled is removed again; an
    /// update in those cases is rolled back to the previous specification.
    pub async fn deploy(
        &self,
        spec: &ServiceSpec,
        events: &EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<DeployOutcome, SwarmError> {
        let name = spec.name.as_str();
        let replicas = spec.replicas.get();
        match self.service(name).await? {
            None => {
                let (engine, spec_id) = self.engine_spec(spec, None).await?;
                if let Err(e) = self.docker.create_service(engine, None).await {
                    self.remove_secrets(name, &HashSet::new()).await;
                    return Err(e.into());
                }
                let goal = Goal {
                    replicas,
                    spec_id: Some(&spec_id),
                    expect_update: false,
                    since: None,
                    fail_fast: true,
                };
                let waited = self.converge(name, &goal, events, cancel, timeout).await;
                match waited {
                    Ok(Waited::Converged(running)) => Ok(DeployOutcome::Converged {
                        running,
                        change: Change::Created,
                        dropped_events: events.dropped(),
                    }),
                    other => {
                        // Nothing served before: leave nothing behind.
                        self.remove(name, false).await?;
                        let published = spec.ports.iter().filter_map(|p| p.published);
                        Err(failure(other?, timeout, published.map(|p| p.get())))
                    }
                }
            }
            Some(current) => {
                let template = current.spec.as_ref().and_then(|s| s.task_template.as_ref());
                let force = template.and_then(|t| t.force_update);
                let current_id = template
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.labels.as_ref())
                    .and_then(|l| l.get(SPEC_LABEL).cloned());
                let current_image = template
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.image.clone());
                let (engine, spec_id) = self.engine_spec(spec, force).await?;
                let since = update_started(&current);
                let image = engine
                    .task_template
                    .as_ref()
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.image.clone());
                // The digest says whether berth's own specification changed; the image is
                // compared too, so a service someone re-pointed by hand is put right.
                let changed =
                    current_id.as_deref() != Some(spec_id.as_str()) || current_image != image;
                let engine =
                    serde_json::to_value(&engine).map_err(|e| SwarmError::Engine(e.to_string()))?;
                self.update_with(
                    name,
                    |s| {
                        if changed {
                            s.clone_from(&engine);
                        } else {
                            // Same tasks: keep the engine's own form of the template and
                            // ports (sending ours again would replace every replica).
                            for key in ["Labels", "Mode", "UpdateConfig", "RollbackConfig"] {
                                s[key] = engine[key].clone();
                            }
                        }
                    },
                    None,
                )
                .await?;
                let goal = Goal {
                    replicas,
                    spec_id: Some(&spec_id),
                    expect_update: changed && replicas > 0,
                    since,
                    fail_fast: false,
                };
                match self.converge(name, &goal, events, cancel, timeout).await? {
                    Waited::Converged(running) => {
                        self.prune_secrets(name).await;
                        Ok(DeployOutcome::Converged {
                            running,
                            change: if changed {
                                Change::Updated
                            } else {
                                Change::Unchanged
                            },
                            dropped_events: events.dropped(),
                        })
                    }
                    Waited::RolledBack(reason) => Ok(DeployOutcome::RolledBack {
                        reason,
                        dropped_events: events.dropped(),
                    }),
                    Waited::Failed(reason) => Err(SwarmError::Failed { reason }),
                    other => {
                        // Back to what served before, bounded so a stuck engine cannot hold us.
                        let _ = self
                            .rollback(name, events, &CancelToken::new(), timeout)
                            .await;
                        Err(failure(other, timeout, std::iter::empty()))
                    }
                }
            }
        }
    }

    /// Goes back to the specification the service ran before its last update. Refused when
    /// Swarm already rolled that update back (its "previous" is then the failed version) or
    /// the service was never updated.
    pub async fn rollback(
        &self,
        name: &str,
        events: &EventSink,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let state = service.update_status.as_ref().and_then(|u| u.state);
        if matches!(
            state,
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)
                | Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED)
        ) {
            return Err(SwarmError::NothingToRollBack(format!(
                "the last update of {name} was already rolled back"
            )));
        }
        let since = update_started(&service);
        if let Err(e) = self.update_with(name, |_| {}, Some("previous")).await {
            return Err(match e {
                SwarmError::Engine(m) if m.contains("previous spec") => {
                    SwarmError::NothingToRollBack(format!("{name} was never updated"))
                }
                other => other,
            });
        }
        let after = self.require(name).await?;
        let goal = Goal {
            replicas: replicas_of(&after),
            spec_id: None,
            expect_update: replicas_of(&after) > 0,
            since,
            fail_fast: false,
        };
        match self.converge(name, &goal, events, cancel, timeout).await? {
            Waited::Converged(n) => Ok(n),
            Waited::RolledBack(_) => Ok(replicas_of(&after)),
            Waited::Failed(reason) => Err(SwarmError::Failed { reason }),
            other => Err(failure(other, timeout, std::iter::empty())),
        }
    }
}

//! Starting, stopping, restarting, scaling and removing a service.

use crate::error::is_not_found;
use crate::{EventSink, Swarm, SwarmError};
use berth_events::CancelToken;
use bollard::query_parameters::ListContainersOptions;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::*;

impl Swarm {
    /// Sets the number of replicas and waits until that many run.
    pub async fn scale(
        &self,
        name: &str,
        replicas: u32,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        self.require(name).await?;
        self.update_with(name, |s| set_replicas(s, replicas), None)
            .await?;
        self.converge_simply(name, replicas, events, timeout).await
    }

    /// Stops every replica (replicas 0); volumes, secrets and the specification are kept, and
    /// [`Self::start`] brings back as many replicas as ran before.
    pub async fn stop(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<(), SwarmError> {
        let service = self.require(name).await?;
        let current = replicas_of(&service);
        if current > 0 {
            self.update_with(
                name,
                |s| {
                    s["Labels"][STOPPED_REPLICAS] = current.to_string().into();
                    set_replicas(s, 0);
                },
                None,
            )
            .await?;
        }
        self.converge_simply(name, 0, events, timeout)
            .await
            .map(|_| ())
    }

    /// Starts a stopped service with the replicas it had; a running one is left as it is.
    pub async fn start(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let mut replicas = replicas_of(&service);
        if replicas == 0 {
            replicas = service
                .spec
                .as_ref()
                .and_then(|s| s.labels.as_ref())
                .and_then(|l| l.get(STOPPED_REPLICAS))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            self.update_with(
                name,
                |s| {
                    if let Some(l) = s["Labels"].as_object_mut() {
                        l.remove(STOPPED_REPLICAS);
                    }
                    set_replicas(s, replicas);
                },
                None,
            )
            .await?;
        }
        self.converge_simply(name, replicas, events, timeout).await
    }

    /// Replaces every replica with a fresh one of the same specification, as a rolling update
    /// (start-first: no downtime).
    pub async fn restart(
        &self,
        name: &str,
        events: &EventSink,
        timeout: Duration,
    ) -> Result<u32, SwarmError> {
        let service = self.require(name).await?;
        let replicas = replicas_of(&service);
        let since = update_started(&service);
        self.update_with(
            name,
            |s| {
                let force = s["TaskTemplate"]["ForceUpdate"].as_u64().unwrap_or(0);
                s["TaskTemplate"]["ForceUpdate"] = (force + 1).into();
            },
            None,
        )
        .await?;
        let goal = Goal {
            replicas,
            spec_id: None,
            expect_update: replicas > 0,
            since,
            fail_fast: false,
        };
        match self
            .converge(name, &goal, events, &CancelToken::new(), timeout)
            .await?
        {
            Waited::Converged(n) => Ok(n),
            Waited::RolledBack(reason) | Waited::Failed(reason) => {
                Err(SwarmError::Failed { reason })
            }
            other => Err(failure(other, timeout, std::iter::empty())),
        }
    }

    /// Removes the service and waits until its containers are gone; its secrets go with it.
    /// Named volumes are kept unless `remove_volumes`. Removing what is not there succeeds.
    pub async fn remove(&self, name: &str, remove_volumes: bool) -> Result<(), SwarmError> {
        let Some(service) = self.service(name).await? else {
            self.remove_secrets(name, &HashSet::new()).await;
            return Ok(());
        };
        let volumes: Vec<String> = service
            .spec
            .as_ref()
            .and_then(|s| s.task_template.as_ref())
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.mounts.as_ref())
            .into_iter()
            .flatten()
            .filter(|m| m.typ == Some(bollard::models::MountTypeEnum::VOLUME))
            .filter_map(|m| m.source.clone())
            .collect();
        match self.docker.delete_service(name).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("com.docker.swarm.service.name={name}")],
        )]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = self
                .docker
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    filters: Some(filters.clone()),
                    ..Default::default()
                }))
                .await?;
            if left.is_empty() {
                break;
            }
            // Containers that have ended (a job's, or ones Swarm is slow to reap) are ours to
            // remove; running ones get the grace period to stop, then are removed too (Swarm
            // does not stop a running job's container when the job goes).
            let overdue = Instant::now() + Duration::from_secs(40) > deadline;
            for c in &left {
                use bollard::models::ContainerSummaryStateEnum as State;
                let ended = matches!(c.state, Some(State::EXITED | State::CREATED | State::DEAD));
                if let (true, Some(id)) = (ended || overdue, &c.id) {
                    let _ = self
                        .docker
                        .remove_container(
                            id,
                            Some(bollard::query_parameters::RemoveContainerOptions {
                                force: true,
                                ..Default::default()
                            }),
                        )
                        .await;
                }
            }
            if Instant::now() > deadline {
                return Err(SwarmError::Engine(format!(
                    "the service {name} was removed but {} of its containers are still there after 60s",
                    left.len()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
        self.remove_secrets(name, &HashSet::new()).await;
        if remove_volumes {
            for v in volumes {
                match self
                    .docker
                    .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

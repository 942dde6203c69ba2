//! One-off runs of an application's image: a Swarm job (a replicated job of one task that is
//! not restarted) with the application's environment, secrets, volumes and networks, for a
//! release command such as database migrations before a new version replaces the old one.

use std::time::{Duration, Instant};

use berth_domain::ServiceSpec;
use berth_events::CancelToken;
use bollard::models::{
    HealthConfig, ServiceSpecMode, ServiceSpecModeReplicatedJob, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};
use futures_util::StreamExt;

use crate::{LogLine, LogOptions, Swarm, SwarmError};

/// The label that marks a service as a one-off job (its value says which kind).
pub(crate) const JOB_LABEL: &str = "berth.job";
/// The most lines of a job's output berth keeps (its last ones).
pub const JOB_OUTPUT_LINES: u32 = 2_000;

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The command's exit code; 0 is success.
    pub exit_code: i64,
    /// What it printed, both streams, in order.
    pub output: Vec<LogLine>,
}

impl Swarm {
    /// Runs `command` once in a container of `spec`'s image, with its environment, secrets,
    /// mounts and networks (no ports, no health check), waits for it to end, and removes the
    /// job. Fails with [`SwarmError::NotConverged`] when it does not end in `timeout` and
    /// [`SwarmError::Cancelled`] when cancelled; the job is removed either way.
    pub async fn run_job(
        &self,
        spec: &ServiceSpec,
        command: &[String],
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<JobOutcome, SwarmError> {
        let name = job_name(spec.name.as_str());
        let mut job = spec.clone();
        job.ports.clear();
        job.health_check = None;
        job.command = Some(command.to_vec());
        let (mut engine, _) = self.engine_spec(&job, None).await?;
        engine.name = Some(name.clone());
        engine
            .labels
            .get_or_insert_with(Default::default)
            .insert(JOB_LABEL.into(), "release".into());
        engine.mode = Some(ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(1),
                total_completions: Some(1),
            }),
            ..Default::default()
        });
        engine.update_config = None;
        engine.rollback_config = None;
        engine.endpoint_spec = None;
        if let Some(t) = engine.task_template.as_mut() {
            t.restart_policy = Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            });
            if let Some(c) = t.container_spec.as_mut() {
                c.health_check = Some(HealthConfig {
                    test: Some(vec!["NONE".into()]),
                    ..Default::default()
                });
            }
        }
        // A job left by an interrupted run goes first.
        self.remove(&name, false).await?;
        self.docker.create_service(engine, None).await?;
        let result = self.wait_job(&name, cancel, timeout).await;
        let output = match &result {
            Ok(_) => self.job_output(&name).await,
            Err(_) => Vec::new(),
        };
        // Its secrets are the service's own (named after the service), so they stay.
        self.remove(&name, false).await?;
        result.map(|exit_code| JobOutcome { exit_code, output })
    }

    /// The one-off jobs on the engine: each job's name and the application it belongs to (for
    /// removing those a stopped process left behind; several installations may share an
    /// engine, so the caller decides which are its own).
    pub async fn list_jobs(&self) -> Result<Vec<(String, Option<String>)>, SwarmError> {
        let services = self
            .docker
            .list_services(Some(bollard::query_parameters::ListServicesOptions {
                filters: Some(std::collections::HashMap::from([(
                    "label".to_owned(),
                    vec![JOB_LABEL.to_owned()],
                )])),
                status: None,
            }))
            .await?;
        Ok(services
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec?;
                let app = spec
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(berth_domain::service::labels::APPLICATION).cloned());
                Some((spec.name?, app))
            })
            .collect())
    }

    async fn wait_job(
        &self,
        name: &str,
        cancel: &CancelToken,
        timeout: Duration,
    ) -> Result<i64, SwarmError> {
        let started = Instant::now();
        loop {
            if cancel.is_cancelled() {
                return Err(SwarmError::Cancelled);
            }
            let status = self.status(name).await?;
            if let Some(t) = status
                .tasks
                .iter()
                .find(|t| matches!(t.state.as_str(), "complete" | "failed" | "rejected"))
            {
                return match (t.state.as_str(), t.exit_code) {
                    ("complete", _) => Ok(0),
                    (_, Some(code)) if code != 0 => Ok(code),
                    _ => Err(SwarmError::Failed {
                        reason: t.error.clone().unwrap_or_else(|| t.message.clone()),
                    }),
                };
            }
            if started.elapsed() >= timeout {
                return Err(SwarmError::NotConverged {
                    waited: timeout,
                    tasks: status
                        .tasks
                        .iter()
                        .map(|t| format!("task {}: {} ({})", t.id, t.state, t.message))
                        .collect(),
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = cancel.cancelled() => {}
            }
        }
    }

    /// The job's output: its last [`JOB_OUTPUT_LINES`] lines, however much it printed.
    async fn job_output(&self, name: &str) -> Vec<LogLine> {
        let options = LogOptions {
            tail: Some(JOB_OUTPUT_LINES),
            ..LogOptions::default()
        };
        match self.logs(name, &options).await {
            Ok(stream) => stream.filter_map(|l| async move { l.ok() }).collect().await,
            Err(_) => Vec::new(),
        }
    }
}

/// The release job's service name for the service `service`: `<service>-release`, or, when that
/// would pass Swarm's 63 characters, the service's name cut before its last nine characters
/// (an application's `-<id suffix>`), so two applications whose long names share a beginning
/// never share a job.
pub fn job_name(service: &str) -> String {
    const MAX: usize = 63;
    const TAG: &str = "-release";
    if service.len() + TAG.len() <= MAX {
        return format!("{service}{TAG}");
    }
    let keep = service.len().min(9);
    let (head, tail) = service.split_at(service.len() - keep);
    let head = &head[..MAX - TAG.len() - keep];
    format!("{}{tail}{TAG}", head.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::job_name;

    #[test]
    fn job_names_keep_the_id_suffix_within_63_characters() {
        assert_eq!(job_name("web-0123abcd"), "web-0123abcd-release");
        let long = |name: &str| {
            let app = berth_domain::ResourceName::parse(name).unwrap();
            let id = berth_domain::ApplicationId::new();
            berth_domain::ServiceName::for_application(&app, id).to_string()
        };
        let prefix = "a".repeat(55);
        let (one, two) = (
            long(&format!("{prefix}-one")),
            long(&format!("{prefix}-two")),
        );
        let (j1, j2) = (job_name(&one), job_name(&two));
        assert_ne!(j1, j2);
        for (job, service) in [(&j1, &one), (&j2, &two)] {
            assert!(job.len() <= 63, "{job}");
            assert!(
                job.ends_with(&format!("{}-release", &service[service.len() - 9..])),
                "{job}"
            );
        }
    }
}

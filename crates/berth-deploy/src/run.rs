//! One deployment, step by step.

use std::collections::BTreeSet;

use berth_build::{BuildError, BuildEvent, BuildSpec, GitRef, SourceSpec};
use berth_domain::{
    Application, ApplicationSource, ApplicationStatus, BuildStatus, CommitSha, Deployment,
    DeploymentSnapshot, DeploymentStatus, DeploymentTrigger, EnvKey, GitCredentials, GitSourceSpec,
    Mount, MountPath, MountSource, SecretString, ServiceSpec, StepName, StepState, VolumeKind,
};
use berth_events::CancelToken;
use berth_store::{Actor, Scope, StoreError};
use berth_swarm::{Change, DeployOutcome, SwarmError, SwarmEvent};

use crate::changes::Changes;
use crate::logger::Logger;
use crate::verify;
use crate::{Engines, Inner, JOURNALS};

/// How a deployment ended.
enum End {
    Success(String),
    RolledBack(String),
    Failed(String),
    Cancelled,
    /// Nothing to do, and why (a replayed push of a commit the branch has moved past).
    Skipped(String),
}

impl From<StoreError> for End {
    fn from(e: StoreError) -> Self {
        End::Failed(format!("the store failed: {e}"))
    }
}

/// Everything one run needs.
struct Run<'a> {
    inner: &'a Inner,
    deployment: Deployment,
    log: Logger,
    cancel: CancelToken,
}

pub(crate) async fn run(inner: &Inner, deployment: Deployment, cancel: CancelToken) {
    let (log, log_task) = Logger::start(
        inner.store.clone(),
        inner.bus.clone(),
        deployment.id,
        inner.settings.log_limits,
    );
    let id = deployment.id;
    let mut r = Run {
        inner,
        deployment,
        log,
        cancel,
    };
    let end = r.execute().await;
    let (status, message, app_status) = match &end {
        End::Success(m) => (
            DeploymentStatus::Success,
            m.clone(),
            ApplicationStatus::Running,
        ),
        End::RolledBack(m) => (
            DeploymentStatus::RolledBack,
            m.clone(),
            ApplicationStatus::Running,
        ),
        End::Failed(m) => (
            DeploymentStatus::Failed,
            m.clone(),
            ApplicationStatus::Failed,
        ),
        End::Cancelled => (
            DeploymentStatus::Cancelled,
            "cancelled".to_owned(),
            ApplicationStatus::Failed,
        ),
        End::Skipped(m) => (
            DeploymentStatus::Cancelled,
            m.clone(),
            ApplicationStatus::Failed,
        ),
    };
    match &end {
        End::Success(m) => r.log.line(None, berth_domain::LogLevel::Info, m.clone()),
        _ => r.log.error(None, message.clone()),
    }
    // The last lines are stored before the status says the deployment ended, so a stream that
    // closes on that status has them all.
    r.log.close();
    let _ = log_task.await;
    let app_status = r.previous_still_serves(app_status, &end).await;
    if let Err(e) = r.finish(status, &message, app_status).await {
        tracing::error!(deployment = %id, error = %e, "the deployment's end was not recorded");
    }
}

impl Run<'_> {
    async fn scope(&self) -> Result<Scope, StoreError> {
        self.inner.store.scope(Actor::System).await
    }

    fn engines(&self) -> Result<&Engines, End> {
        self.inner.engines().map_err(|e| End::Failed(e.to_string()))
    }

    async fn execute(&mut self) -> End {
        match self.steps().await {
            Ok(end) | Err(end) => end,
        }
    }

    async fn steps(&mut self) -> Result<End, End> {
        let d = self.deployment.clone();
        let scope = self.scope().await?;
        let app = scope.application(d.application_id).await?;
        let snapshot = d.snapshot.clone();
        let env = match scope.snapshot_env(&snapshot)? {
            Some(env) => env,
            // A version 1 snapshot (queued before environments were recorded) deploys the
            // environment of now, as it was defined to.
            None => scope.resolved_env(app.id).await?,
        };
        let prebuilt = d.build_id.is_some();
        let mut names: Vec<StepName> = match (&snapshot.source, prebuilt) {
            (ApplicationSource::Git(_), false) => vec![StepName::Clone, StepName::Build],
            _ => Vec::new(),
        };
        if snapshot.runtime.release_command.is_some() {
            names.push(StepName::Release);
        }
        names.extend([StepName::Rollout, StepName::Verify]);
        scope.create_steps(d.id, &names).await?;
        let mut changes = Changes::new();
        changes
            .application(&scope, d.application_id, ApplicationStatus::Deploying)
            .await?;
        changes.commit(scope, &self.inner.bus).await?;
        let engines = self.engines()?.clone();

        let image = match (&snapshot.source, d.build_id) {
            (_, Some(build)) => {
                let scope = self.scope().await?;
                let b = scope.build(build).await?;
                let image = b
                    .image_id
                    .or(b.image)
                    .ok_or_else(|| End::Failed(format!("build {build} has no image to deploy")))?;
                self.log.info(
                    StepName::Rollout,
                    format!("deploying the image of build {build} again, without building"),
                );
                image
            }
            (ApplicationSource::Image { image }, None) => {
                // Checked again here: a row written before the rule, or by another path,
                // still never runs another application's build.
                image.check_runnable().map_err(|e| {
                    End::Failed(format!(
                        "the image {image} may not be run: {}",
                        e.messages()
                    ))
                })?;
                self.pull_as_needed(&app, image, &engines).await?;
                image.for_engine()
            }
            (ApplicationSource::Git(git), None) => {
                self.clone_and_build(&app, git, &env, &engines).await?
            }
        };

        let scope = self.scope().await?;
        let current = scope.deployment(d.id).await?;
        let mut changes = Changes::new();
        if current.status == DeploymentStatus::Building {
            changes
                .deployment(&scope, d.id, DeploymentStatus::Deploying, None)
                .await?;
        }
        let spec = self
            .service_spec(&scope, &app, &snapshot, &env, &image)
            .await?;
        changes.commit(scope, &self.inner.bus).await?;

        if let Some(command) = &snapshot.runtime.release_command {
            self.release(&engines, &spec, command).await?;
        }

        self.step(StepName::Rollout, StepState::Running, None)
            .await?;
        self.log.info(
            StepName::Rollout,
            format!(
                "rolling out {} ({} replicas) as the service {}",
                spec.image,
                spec.replicas.get(),
                spec.name
            ),
        );
        let (sink, mut events) = berth_swarm::EventSink::channel(1024);
        let log = self.log.clone();
        let forward = tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                log.info(StepName::Rollout, describe(&e));
            }
        });
        let outcome = engines
            .orchestrator
            .deploy(
                &spec,
                &sink,
                &self.cancel,
                self.inner.settings.rollout_timeout,
            )
            .await;
        drop(sink);
        let _ = forward.await;
        match outcome {
            Ok(DeployOutcome::Converged {
                running, change, ..
            }) => {
                self.step(StepName::Rollout, StepState::Success, None)
                    .await?;
                self.step(StepName::Verify, StepState::Running, None)
                    .await?;
                let mut message = format!("{running} of {running} replicas running and healthy");
                self.log.info(StepName::Verify, message.clone());
                if let Some(check) = &snapshot.runtime.verify {
                    match verify::check(
                        engines.orchestrator.as_ref(),
                        spec.name.as_str(),
                        check,
                        &self.cancel,
                    )
                    .await
                    {
                        Ok(answered) => {
                            self.log.info(StepName::Verify, answered.clone());
                            message = format!("{message}; {answered}");
                        }
                        Err(failed) => {
                            return self
                                .undo_after_verify(&engines, &spec, change, failed)
                                .await;
                        }
                    }
                }
                self.step(StepName::Verify, StepState::Success, Some(&message))
                    .await?;
                if let Some(sha) = &d.commit_sha {
                    let scope = self.scope().await?;
                    scope
                        .set_last_deployed_commit(d.application_id, sha)
                        .await?;
                    scope.commit().await?;
                }
                Ok(End::Success(format!("deployed: {message}")))
            }
            Ok(DeployOutcome::RolledBack { reason, .. }) => {
                let message = format!("rolled back: {reason}; the previous version kept serving");
                self.step(StepName::Rollout, StepState::Failed, Some(&message))
                    .await?;
                self.step(StepName::Verify, StepState::Skipped, None)
                    .await?;
                Ok(End::RolledBack(message))
            }
            Err(SwarmError::Cancelled) => {
                self.step(StepName::Rollout, StepState::Cancelled, None)
                    .await?;
                Err(End::Cancelled)
            }
            Err(e) => {
                let message = e.to_string();
                self.step(StepName::Rollout, StepState::Failed, Some(&message))
                    .await?;
                Err(End::Failed(message))
            }
        }
    }

    /// The new version converged but did not pass the HTTP check (or the deployment was
    /// cancelled meanwhile): back to what served before, as a failed health check would.
    async fn undo_after_verify(
        &self,
        engines: &Engines,
        spec: &ServiceSpec,
        change: Change,
        failed: verify::Failed,
    ) -> Result<End, End> {
        let why = match &failed {
            verify::Failed::Cancelled => "cancelled".to_owned(),
            verify::Failed::Answer(why) => format!("the HTTP check failed: {why}"),
        };
        self.log.error(Some(StepName::Verify), why.clone());
        let name = spec.name.as_str();
        let timeout = self.inner.settings.rollout_timeout;
        let (undone, end): (Result<(), SwarmError>, fn(String) -> End) = match change {
            Change::Updated => {
                self.log.info(
                    StepName::Verify,
                    "rolling back to the previous version".to_owned(),
                );
                let undone = engines.orchestrator.rollback(name, timeout).await;
                (undone, End::RolledBack)
            }
            Change::Created => {
                self.log.info(
                    StepName::Verify,
                    "removing the service this deployment created".to_owned(),
                );
                (engines.orchestrator.remove(name).await, End::Failed)
            }
            Change::Unchanged => (Ok(()), End::Failed),
        };
        let message = match (&undone, change) {
            (Err(e), _) => format!("{why}; undoing the rollout failed too: {e}"),
            (Ok(()), Change::Updated) => {
                format!("{why}; rolled back, the previous version kept serving")
            }
            (Ok(()), Change::Created) => format!("{why}; the new service was removed"),
            (Ok(()), Change::Unchanged) => format!("{why}; nothing had changed"),
        };
        let state = match failed {
            verify::Failed::Cancelled => StepState::Cancelled,
            verify::Failed::Answer(_) => StepState::Failed,
        };
        self.step(StepName::Verify, state, Some(&message)).await?;
        Err(match (failed, undone) {
            (verify::Failed::Cancelled, _) => End::Cancelled,
            (_, Err(_)) => End::Failed(message),
            (_, Ok(())) => end(message),
        })
    }

    /// Runs the release command once in a container of the new image, with the application's
    /// environment and networks, before anything is replaced; a failure ends the deployment
    /// and the running version keeps serving.
    async fn release(
        &self,
        engines: &Engines,
        spec: &ServiceSpec,
        command: &[String],
    ) -> Result<(), End> {
        self.step(StepName::Release, StepState::Running, None)
            .await?;
        self.log.info(
            StepName::Release,
            format!("running the release command: {}", command.join(" ")),
        );
        let ran = engines
            .orchestrator
            .run_job(
                spec,
                command,
                &self.cancel,
                self.inner.settings.rollout_timeout,
            )
            .await;
        match ran {
            Ok(outcome) => {
                for line in outcome.output {
                    match line.stream {
                        berth_swarm::LogStream::Stdout => {
                            self.log.info(StepName::Release, line.text)
                        }
                        berth_swarm::LogStream::Stderr => {
                            self.log.error(Some(StepName::Release), line.text)
                        }
                    }
                }
                if outcome.exit_code == 0 {
                    self.step(StepName::Release, StepState::Success, None)
                        .await?;
                    Ok(())
                } else {
                    let message = format!(
                        "the release command exited with code {}; the running version was left as it was",
                        outcome.exit_code
                    );
                    self.step(StepName::Release, StepState::Failed, Some(&message))
                        .await?;
                    Err(End::Failed(message))
                }
            }
            Err(SwarmError::Cancelled) => {
                self.step(StepName::Release, StepState::Cancelled, None)
                    .await?;
                Err(End::Cancelled)
            }
            Err(e) => {
                let message = format!("the release command could not run: {e}");
                self.step(StepName::Release, StepState::Failed, Some(&message))
                    .await?;
                Err(End::Failed(message))
            }
        }
    }

    /// Clone (or fetch) and build; reuses the image of an earlier build of the same commit.
    async fn clone_and_build(
        &mut self,
        app: &Application,
        git: &GitSourceSpec,
        env: &[(EnvKey, SecretString, bool)],
        engines: &Engines,
    ) -> Result<String, End> {
        let d = self.deployment.clone();
        self.step(StepName::Clone, StepState::Running, None).await?;
        let credentials = self.scope().await?.git_credentials(app.id).await?;
        // A deploy key with no host key recorded yet: the one this fetch sees is pinned.
        let pin_host_key = matches!(
            credentials,
            Some(GitCredentials::SshKey {
                known_host: None,
                ..
            })
        );
        // A push names the commit it made the tip: the branch is fetched, and a push whose
        // commit is not the tip any more (a replayed delivery of an old push) deploys nothing.
        let pushed = match (d.trigger, &d.commit_sha) {
            (DeploymentTrigger::Webhook, Some(sha)) => Some(sha.clone()),
            _ => None,
        };
        let source = SourceSpec {
            repository: git.repository.clone(),
            reference: match &d.commit_sha {
                Some(_) if pushed.is_some() => GitRef::Branch(git.branch.clone()),
                Some(sha) => GitRef::Commit(sha.clone()),
                None => GitRef::Branch(git.branch.clone()),
            },
            credentials,
            submodules: git.submodules,
            local_roots: self.inner.settings.git_local_roots.clone(),
            max_checkout_bytes: self.inner.settings.max_checkout_bytes,
        };
        self.log.info(
            StepName::Clone,
            format!(
                "fetching {} {}",
                git.repository,
                d.commit_sha.as_ref().map_or_else(
                    || format!("branch {}", git.branch),
                    |c| format!("commit {c}")
                )
            ),
        );
        let dir = self
            .inner
            .settings
            .work_dir
            .join("checkouts")
            .join(app.id.to_string());
        let (sink, events) = berth_build::EventSink::channel(4096);
        let forward = self.forward_build_events(StepName::Clone, events);
        let fetched = engines
            .builder
            .checkout(source, &dir, sink, self.cancel.clone())
            .await;
        let _ = forward.await;
        let info = match fetched {
            Ok(info) => info,
            Err(e) => return Err(self.build_failed(StepName::Clone, e).await),
        };
        let sha = CommitSha::parse(&info.sha)
            .map_err(|_| End::Failed(format!("the checkout gave no commit id: {}", info.sha)))?;
        if let Some(key) = info.host_key.as_ref().filter(|_| pin_host_key) {
            let scope = self.scope().await?;
            if scope.pin_git_host_key(app.id, key).await? {
                scope.commit().await?;
                self.log.info(
                    StepName::Clone,
                    format!("recorded the SSH server's host key {key}; later fetches insist on it"),
                );
            }
        }
        self.log.info(
            StepName::Clone,
            format!(
                "checked out {} {}",
                info.sha,
                info.message.lines().next().unwrap_or("")
            ),
        );
        self.step(StepName::Clone, StepState::Success, None).await?;
        if let Some(pushed) = pushed.filter(|p| *p != sha) {
            // The tip is what the branch says now: it is deployed unless it already runs (a
            // replayed old push then changes nothing, and one that arrived out of order, or
            // superseded the tip's own deployment, still ends with the tip running).
            if self.serving_commit(app).await? == Some(sha.clone()) {
                return Err(End::Skipped(format!(
                    "a stale push: commit {pushed} is no longer the tip of {} ({sha} is, and it runs already); nothing was deployed",
                    git.branch
                )));
            }
            self.log.info(
                StepName::Clone,
                format!(
                    "commit {pushed} is no longer the tip of {}: deploying the tip, {sha}",
                    git.branch
                ),
            );
        }

        // Build, unless this commit was built already and its image is still there.
        self.step(StepName::Build, StepState::Running, None).await?;
        let scope = self.scope().await?;
        if let Some(b) = scope.latest_successful_build(app.id).await? {
            if b.commit_sha.as_ref() == Some(&sha) {
                if let Some(image) = b.image_id.clone() {
                    if engines.builder.has_image(&image).await {
                        scope.set_deployment_build(d.id, b.id).await?;
                        scope.commit().await?;
                        let message = format!(
                            "commit {sha} was built by build {}; its image is reused",
                            b.id
                        );
                        self.log.info(StepName::Build, message.clone());
                        self.step(StepName::Build, StepState::Success, Some(&message))
                            .await?;
                        return Ok(image);
                    }
                }
            }
        }
        let build = scope.create_build(app.id, Some(sha.clone())).await?;
        scope.set_deployment_build(d.id, build.id).await?;
        scope
            .transition_build(build.id, BuildStatus::InProgress, None)
            .await?;
        scope.commit().await?;
        let mut build_args = git.build_args.clone();
        let mut secret_build_args = BTreeSet::new();
        // Secret variables are given to builds that declare them as ARG, masked in the output.
        for (key, value, secret) in env {
            if *secret && build_args.contains_key(key.as_str()) {
                build_args.insert(key.to_string(), value.expose().to_owned());
                secret_build_args.insert(key.to_string());
            }
        }
        let repository = app.image_repository();
        let tmp = self.inner.settings.work_dir.join("tmp");
        let journals = self.inner.settings.work_dir.join(JOURNALS);
        for dir in [&tmp, &journals] {
            std::fs::create_dir_all(dir)
                .map_err(|e| End::Failed(format!("cannot create {}: {e}", dir.display())))?;
        }
        let registries = self.scope().await?.registry_access(app.project_id).await?;
        let spec = BuildSpec {
            checkout: dir,
            context: git.context.clone(),
            dockerfile: git.dockerfile.clone(),
            build_args,
            secret_build_args,
            target: git.target.clone(),
            repository,
            tag: sha.to_string(),
            build_id: build.id.to_string(),
            labels: Default::default(),
            temp_dir: tmp,
            timeout: self.inner.settings.build_timeout,
            journal: Some(journals.join(build.id.to_string())),
            max_context_bytes: self.inner.settings.max_context_bytes,
            registries,
        };
        let (sink, events) = berth_build::EventSink::channel(4096);
        let forward = self.forward_build_events(StepName::Build, events);
        let built = engines.builder.build(&spec, &sink, &self.cancel).await;
        drop(sink);
        let _ = forward.await;
        let scope = self.scope().await?;
        match built {
            Ok(image) => {
                if image.dropped_events > 0 {
                    // The build never waits for its log: say where the log has gaps.
                    self.log.info(
                        StepName::Build,
                        format!(
                            "{} lines of the build's output are not in this log: it printed them faster than they could be kept",
                            image.dropped_events
                        ),
                    );
                }
                let name = image.tags.first().cloned().unwrap_or_default();
                scope
                    .set_build_output(build.id, &name, &image.image_id, Some(&info.message))
                    .await?;
                scope
                    .transition_build(build.id, BuildStatus::Succeeded, None)
                    .await?;
                scope.commit().await?;
                self.step(StepName::Build, StepState::Success, Some(&name))
                    .await?;
                Ok(image.image_id)
            }
            Err(e) => {
                scope
                    .transition_build(build.id, BuildStatus::Failed, Some(&e.to_string()))
                    .await?;
                scope.commit().await?;
                Err(self.build_failed(StepName::Build, e).await)
            }
        }
    }

    /// An image is pulled from its registry, its progress in the log of the rollout it is for,
    /// with the credentials of the application's team (else the installation's) for that
    /// registry: when the engine does not have it, and always when berth ever held credentials
    /// for the registry, since the engine's copy may have come with another tenant's and the
    /// registry, asked again with this one's, decides whether they may have it
    /// (docs/api.md, "Registries"). Otherwise the engine's copy is used as it is.
    async fn pull_as_needed(
        &self,
        app: &Application,
        image: &berth_domain::ImageReference,
        engines: &Engines,
    ) -> Result<(), End> {
        let name = image.for_engine();
        let access = {
            let scope = self.scope().await?;
            scope.registry_access(app.project_id).await?
        };
        let registry = image.registry();
        let credentials = access.credentials_for(&registry);
        let present = engines.builder.has_image(&name).await;
        if present && !access.always_pull(&registry) {
            return Ok(());
        }
        self.step(StepName::Rollout, StepState::Running, None)
            .await?;
        let with = match credentials {
            Some(c) => format!(" as {} at {}", c.username, c.registry),
            None => String::new(),
        };
        self.log.info(
            StepName::Rollout,
            if present {
                format!("pulling {name}{with}: its registry decides who may run it")
            } else {
                format!("the engine does not have {name}: pulling it{with}")
            },
        );
        let (sink, events) = berth_build::EventSink::channel(4096);
        let forward = self.forward_build_events(StepName::Rollout, events);
        let pulled = engines
            .builder
            .pull(image, credentials, &sink, &self.cancel)
            .await;
        drop(sink);
        let _ = forward.await;
        match pulled {
            Ok(id) => {
                self.log
                    .info(StepName::Rollout, format!("pulled {name} ({id})"));
                Ok(())
            }
            Err(e) => Err(self.build_failed(StepName::Rollout, e).await),
        }
    }

    fn forward_build_events(
        &self,
        step: StepName,
        mut events: tokio::sync::mpsc::Receiver<BuildEvent>,
    ) -> tokio::task::JoinHandle<()> {
        let log = self.log.clone();
        tokio::spawn(async move {
            let mut last_percent = 0;
            while let Some(e) = events.recv().await {
                match e {
                    BuildEvent::Fetch { received, total } if total > 0 => {
                        let percent = received * 100 / total;
                        if percent >= last_percent + 25 || received == total {
                            last_percent = percent;
                            log.info(step, format!("received {received} of {total} objects"));
                        }
                    }
                    BuildEvent::Fetch { .. } | BuildEvent::CheckedOut { .. } => {}
                    BuildEvent::Step { text, .. } => log.info(step, text),
                    BuildEvent::Line { stream, text, .. } => match stream {
                        berth_build::OutputStream::Stdout => log.info(step, text),
                        berth_build::OutputStream::Stderr => log.error(Some(step), text),
                    },
                }
            }
        })
    }

    async fn build_failed(&self, step: StepName, e: BuildError) -> End {
        if matches!(e, BuildError::Cancelled) {
            let _ = self.step(step, StepState::Cancelled, None).await;
            return End::Cancelled;
        }
        let message = e.to_string();
        let _ = self.step(step, StepState::Failed, Some(&message)).await;
        End::Failed(message)
    }

    async fn service_spec(
        &self,
        scope: &Scope,
        app: &Application,
        snapshot: &DeploymentSnapshot,
        env: &[(EnvKey, SecretString, bool)],
        image: &str,
    ) -> Result<ServiceSpec, End> {
        let mut frozen = app.clone();
        frozen.runtime = snapshot.runtime.clone();
        frozen.replicas = snapshot.replicas;
        let mut spec = ServiceSpec::for_application(&frozen, image);
        spec.deployment_id = Some(self.deployment.id);
        for (key, value, secret) in env {
            if *secret {
                spec.secrets.push((key.clone(), value.clone()));
            } else {
                spec.env.push((key.clone(), value.expose().to_owned()));
            }
        }
        for v in scope.list_volumes(app.id).await? {
            if v.kind == VolumeKind::DockerVolume {
                spec.mounts.push(Mount {
                    source: MountSource::Volume {
                        engine: v.engine_name.clone(),
                        label: v.name.clone(),
                    },
                    target: MountPath::parse(v.mount_path.as_str())
                        .map_err(|e| End::Failed(e.to_string()))?,
                    read_only: false,
                });
            }
        }
        Ok(spec)
    }

    /// The commit the application's last successful deployment built, if any.
    async fn serving_commit(&self, app: &Application) -> Result<Option<CommitSha>, End> {
        let scope = self.scope().await?;
        let page =
            berth_domain::Page::parse(Some(1), Some(0)).map_err(|e| End::Failed(e.to_string()))?;
        let Some(last) = scope
            .successful_deployments(app.id, page)
            .await?
            .items
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        if let Some(b) = last.build_id {
            return Ok(scope.build(b).await?.commit_sha);
        }
        Ok(last.commit_sha)
    }

    /// Records a step's state and publishes it.
    async fn step(
        &self,
        name: StepName,
        state: StepState,
        message: Option<&str>,
    ) -> Result<(), End> {
        let scope = self.scope().await?;
        let mut changes = Changes::new();
        changes
            .step(&scope, self.deployment.id, name, state, message)
            .await?;
        changes.commit(scope, &self.inner.bus).await?;
        if self.cancel.is_cancelled() && state == StepState::Running {
            return Err(End::Cancelled);
        }
        Ok(())
    }

    /// A deployment that did not succeed leaves the application running when its previous
    /// version still serves (the service runs replicas), and stopped when it was stopped; one
    /// cancelled or skipped before any service existed leaves it stopped, as nothing failed.
    async fn previous_still_serves(
        &self,
        status: ApplicationStatus,
        end: &End,
    ) -> ApplicationStatus {
        if !matches!(end, End::Failed(_) | End::Cancelled | End::Skipped(_)) {
            return status;
        }
        let Ok(engines) = self.engines() else {
            return status;
        };
        let Ok(scope) = self.scope().await else {
            return status;
        };
        let Ok(app) = scope.application(self.deployment.application_id).await else {
            return status;
        };
        drop(scope);
        match engines
            .orchestrator
            .status(app.service_name().as_str())
            .await
        {
            Ok(s) if s.running > 0 => ApplicationStatus::Running,
            Ok(s) if s.desired == 0 => ApplicationStatus::Stopped,
            Err(SwarmError::NotFound(_)) if !matches!(end, End::Failed(_)) => {
                ApplicationStatus::Stopped
            }
            _ => status,
        }
    }

    /// Ends the deployment: its status and message, the steps that never ran, the
    /// application's status.
    async fn finish(
        &self,
        status: DeploymentStatus,
        message: &str,
        app_status: ApplicationStatus,
    ) -> Result<(), StoreError> {
        let scope = self.scope().await?;
        let id = self.deployment.id;
        for step in scope.deployment_steps(id).await? {
            if !step.state.is_final() {
                let state = if status == DeploymentStatus::Cancelled {
                    StepState::Cancelled
                } else if step.state == StepState::Running {
                    StepState::Failed
                } else {
                    StepState::Skipped
                };
                scope.set_step_state(id, step.name, state, None).await?;
            }
        }
        if let Some(b) = scope.deployment(id).await?.build_id {
            let build = scope.build(b).await?;
            if !build.status.is_final() {
                scope
                    .transition_build(b, BuildStatus::Failed, Some(message))
                    .await?;
            }
        }
        let mut changes = Changes::new();
        changes
            .deployment(&scope, id, status, Some(message))
            .await?;
        changes
            .application(&scope, self.deployment.application_id, app_status)
            .await?;
        changes.commit(scope, &self.inner.bus).await
    }
}

/// A rollout event as a log line.
fn describe(e: &SwarmEvent) -> String {
    match e {
        SwarmEvent::Task {
            task_id,
            slot,
            state,
            current,
            error,
            ..
        } => {
            let which = if *current { "new" } else { "old" };
            let short = &task_id[..task_id.len().min(12)];
            match error {
                Some(err) => format!(
                    "replica {} ({which}, task {short}): {state}: {err}",
                    slot.unwrap_or(0)
                ),
                None => format!(
                    "replica {} ({which}, task {short}): {state}",
                    slot.unwrap_or(0)
                ),
            }
        }
        SwarmEvent::Update { state, message } if message.is_empty() => {
            format!("rolling update: {state}")
        }
        SwarmEvent::Update { state, message } => format!("rolling update: {state}: {message}"),
    }
}

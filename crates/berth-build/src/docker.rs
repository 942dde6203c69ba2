//! Image builds through the Docker engine's API. The API version is negotiated, so an engine
//! older than bollard's default (Debian's 20.10 speaks 1.41) works.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use berth_domain::RelativePath;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::context::{resolve_inside, ContextTar};
use crate::{BuildError, BuildEvent, CancelToken, EventSink, OutputStream};

/// A connection to the Docker engine. Clones share the connection and the bookkeeping of
/// builds in flight.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    layers: std::sync::Arc<std::sync::Mutex<Layers>>,
}

/// Layers of failed builds wait here until no build of this engine runs: a build running
/// beside may have taken one of them from the cache, and removing it under that build would
/// break it.
#[derive(Debug, Default)]
struct Layers {
    running: usize,
    doomed: Vec<String>,
}

/// Everything one image build needs.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The checked-out repository.
    pub checkout: PathBuf,
    /// The build context, relative to the repository.
    pub context: RelativePath,
    /// The Dockerfile, relative to the repository; it must lie inside the context.
    pub dockerfile: RelativePath,
    pub build_args: BTreeMap<String, String>,
    /// Names of build arguments whose values are masked in every output line.
    pub secret_build_args: BTreeSet<String>,
    pub target: Option<String>,
    /// The image repository, `berth/<application>`; tagged `:<tag>` and `:latest`.
    pub repository: String,
    /// The commit being built; the image's tag.
    pub tag: String,
    /// The build, for berth's own log lines.
    pub build_id: String,
    /// Labels for the image, none by default: the classic builder applies them as one more
    /// step with a container of its own, which took 3 s of a 5 s build here. An image is
    /// traced back by its reference (repository per application, tag per commit) and the
    /// build's row, which records its id.
    pub labels: BTreeMap<String, String>,
    /// Where the context archive is written while the build runs (removed afterwards).
    pub temp_dir: PathBuf,
    /// The build is stopped after this long.
    pub timeout: std::time::Duration,
    /// The most the build context (after `.dockerignore`) may hold, in bytes.
    pub max_context_bytes: u64,
    /// Where the build notes the layers it makes while it runs, removed when it ends. A file
    /// still there belongs to a build whose process died: [`Engine::clean_journal`] removes
    /// what it made.
    pub journal: Option<PathBuf>,
    /// How the build pulls the images it builds `FROM` (the project's credentials, the
    /// registries berth held credentials for, those the installation lists).
    pub registries: berth_domain::RegistryAccess,
}

/// What a running build has made so far, as its journal file holds it: lines of
/// `made <id>`, `last <id>` (the newest layer, made or reused) and `container <id>` (the
/// current step's container).
#[derive(Debug, Default, PartialEq, Eq)]
struct Journal {
    made: Vec<String>,
    last_layer: Option<String>,
    container: Option<String>,
}

impl Journal {
    fn render(&self) -> String {
        let mut out = String::new();
        for id in &self.made {
            out.push_str(&format!("made {id}\n"));
        }
        if let Some(id) = &self.last_layer {
            out.push_str(&format!("last {id}\n"));
        }
        if let Some(id) = &self.container {
            out.push_str(&format!("container {id}\n"));
        }
        out
    }

    /// Reads a journal; anything that is not an engine id is ignored.
    fn parse(text: &str) -> Self {
        let mut j = Self::default();
        for line in text.lines() {
            let Some((kind, id)) = line.split_once(' ') else {
                continue;
            };
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            match kind {
                "made" => j.made.push(id.to_owned()),
                "last" => j.last_layer = Some(id.to_owned()),
                "container" => j.container = Some(id.to_owned()),
                _ => {}
            }
        }
        j
    }

    fn save(&self, path: Option<&Path>) {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, self.render()) {
                tracing::warn!(path = %path.display(), error = %e, "build journal not written");
            }
        }
    }
}

/// What a successful build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub image_id: String,
    pub tags: Vec<String>,
    /// Events the reader missed because it was behind (see [`EventSink`]).
    pub dropped_events: u64,
}

impl Engine {
    /// Connects to the local engine (`DOCKER_HOST` or the default socket) and agrees on an API
    /// version both sides speak.
    pub async fn connect() -> Result<Self, BuildError> {
        let docker =
            Docker::connect_with_local_defaults().map_err(|e| BuildError::Engine(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| BuildError::Engine(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| BuildError::Engine(e.to_string()))?;
        Ok(Self {
            docker,
            layers: Default::default(),
        })
    }

    /// The underlying client, for the callers that manage what the builds made.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Builds `spec` and reports its steps and output on `events`.
    pub async fn build(
        &self,
        spec: &BuildSpec,
        events: &EventSink,
        cancel: &CancelToken,
    ) -> Result<BuiltImage, BuildError> {
        if let Ok(mut l) = self.layers.lock() {
            l.running += 1;
        }
        let mut made = Vec::new();
        let result = self.build_inner(spec, events, cancel, &mut made).await;
        if let Some(journal) = &spec.journal {
            // This process saw the build end: cleaning up is its own business from here.
            let _ = std::fs::remove_file(journal);
        }
        let doomed = match self.layers.lock() {
            Ok(mut l) => {
                l.running -= 1;
                if result.is_err() {
                    l.doomed.extend(made);
                }
                if l.running == 0 {
                    std::mem::take(&mut l.doomed)
                } else {
                    Vec::new()
                }
            }
            Err(_) => Vec::new(),
        };
        for id in doomed.iter().rev() {
            self.remove_layer(id).await;
        }
        result
    }

    /// Removes one layer a failed build made. Without force: an image that another image uses
    /// stays. A cancelled build's step container may still be stopping or waiting to be
    /// removed by the engine, holding the layer below it, so that case is retried for up to
    /// 30 s.
    async fn remove_layer(&self, id: &str) -> bool {
        for _ in 0..60 {
            match self
                .docker
                .remove_image(
                    id,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await
            {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409,
                    message,
                }) if message.contains("running container") => {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Ok(_) => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// Removes what the build that wrote `journal` made, when its process died before it
    /// could (the engine stopped that build once its connection was gone), then the journal
    /// itself. Returns how many images were removed. Call it before builds start.
    pub async fn clean_journal(&self, journal: &Path) -> Result<usize, BuildError> {
        let text =
            std::fs::read_to_string(journal).map_err(BuildError::io("reading a build journal"))?;
        let mut j = Journal::parse(&text);
        self.settle_stopped_step(j.container.as_deref(), j.last_layer.as_deref(), &mut j.made)
            .await;
        let mut removed = 0;
        for id in j.made.iter().rev() {
            if self.remove_layer(id).await {
                removed += 1;
            }
        }
        let _ = std::fs::remove_file(journal);
        Ok(removed)
    }

    /// After a build was stopped halfway, the engine may still finish the step it was running
    /// and commit its layer, which berth never hears of. Waits for that step's container to be
    /// gone, then counts untagged images on top of the last layer seen as this build's, each
    /// on top of the one before, until none comes for a while (5 s after a step without a
    /// container, whose commit can come late on a busy engine; 1 s after one with).
    async fn settle_stopped_step(
        &self,
        container: Option<&str>,
        last_layer: Option<&str>,
        made: &mut Vec<String>,
    ) {
        if let Some(c) = container {
            for _ in 0..60 {
                match self
                    .docker
                    .inspect_container(
                        c,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await
                {
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => break,
                    Err(_) => break,
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                }
            }
        }
        let Some(mut parent) = last_layer.map(str::to_owned) else {
            return;
        };
        // A step without a container (COPY, ADD, metadata) may still be committing: watch for
        // its layer a while (longer on a busy engine than on an idle one).
        let patience = if container.is_none() {
            std::time::Duration::from_secs(5)
        } else {
            std::time::Duration::from_secs(1)
        };
        let mut quiet_since = tokio::time::Instant::now();
        let filters = HashMap::from([("dangling".to_owned(), vec!["true".to_owned()])]);
        // Follow the chain up: the step that was running, and any the engine went on with.
        for _ in 0..64 {
            let options = bollard::query_parameters::ListImagesOptions {
                filters: Some(filters.clone()),
                ..Default::default()
            };
            let Ok(images) = self.docker.list_images(Some(options)).await else {
                return;
            };
            match images.into_iter().find(|i| {
                i.parent_id
                    .trim_start_matches("sha256:")
                    .starts_with(&parent)
            }) {
                Some(child) => {
                    parent = child.id.trim_start_matches("sha256:").to_owned();
                    made.push(child.id);
                    quiet_since = tokio::time::Instant::now();
                }
                None if quiet_since.elapsed() >= patience => return,
                None => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        }
    }

    async fn build_inner(
        &self,
        spec: &BuildSpec,
        events: &EventSink,
        cancel: &CancelToken,
        made: &mut Vec<String>,
    ) -> Result<BuiltImage, BuildError> {
        let context = resolve_inside(&spec.checkout, &spec.context, "build context")?;
        if !context.is_dir() {
            return Err(BuildError::MissingPath {
                what: "build context directory",
                path: spec.context.to_string(),
            });
        }
        let dockerfile = resolve_inside(&spec.checkout, &spec.dockerfile, "Dockerfile")?;
        let in_context = dockerfile
            .strip_prefix(&context)
            .map_err(|_| BuildError::PathEscapes {
                what: "Dockerfile (it must be inside the build context)",
                path: spec.dockerfile.to_string(),
            })?
            .to_string_lossy()
            .into_owned();
        let started = std::time::Instant::now();
        self.check_bases(&dockerfile, spec, events, cancel).await?;
        let bases_checked = started.elapsed();
        let archive = ContextTar::pack(
            &context,
            &in_context,
            &spec.temp_dir,
            spec.max_context_bytes,
        )?;
        let packed = started.elapsed();
        let body = bollard::body_try_stream(stream_file(archive.file.path().to_path_buf()).await?);

        let secrets: Vec<String> = spec
            .secret_build_args
            .iter()
            .filter_map(|k| spec.build_args.get(k))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        let mask = |line: &str| {
            secrets
                .iter()
                .fold(line.to_owned(), |l, s| l.replace(s.as_str(), "[redacted]"))
        };

        let reference = format!("{}:{}", spec.repository, spec.tag);
        let labels: HashMap<String, String> = spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let options = BuildImageOptions {
            dockerfile: in_context,
            t: Some(reference.clone()),
            rm: true,
            forcerm: true,
            buildargs: Some(
                spec.build_args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            ),
            labels: Some(labels),
            target: spec.target.clone().unwrap_or_default(),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut step = String::from("the start of the build");
        let mut image_id = None;
        let mut failure = None;
        // Images this build made for its steps (not the base image of a FROM, not a cached
        // layer it reused) are collected in `made`: removed again if the build fails, so
        // nothing dangles.
        let mut step_is_from = false;
        let mut step_cached = false;
        // The newest layer seen (made or reused) and the container running the current step:
        // what to look after when the build is stopped halfway.
        let mut last_layer: Option<String> = None;
        let mut step_container: Option<String> = None;
        let journal = spec.journal.as_deref();
        let deadline = tokio::time::sleep(spec.timeout);
        tokio::pin!(deadline);
        let mut stopped = None;
        loop {
            // Leaving the loop drops the stream, which closes the connection: the engine then
            // stops this build (and only this one).
            let item = tokio::select! {
                item = stream.next() => item,
                _ = cancel.cancelled() => { stopped = Some(BuildError::Cancelled); break; }
                _ = &mut deadline => { stopped = Some(BuildError::TimedOut { after_s: spec.timeout.as_secs() }); break; }
            };
            let Some(item) = item else { break };
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    failure = Some(engine_message(e));
                    break;
                }
            };
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    // One message of the engine may carry thousands of lines.
                    events.pace().await;
                    let line = mask(line);
                    if let Some((n, of, what)) = parse_step(&line) {
                        step = format!("step {n}/{of} ({what})");
                        step_is_from = what.trim_start().to_ascii_uppercase().starts_with("FROM ");
                        step_cached = false;
                        events.emit(BuildEvent::Step {
                            number: n,
                            total: of,
                            text: what.to_owned(),
                        });
                    } else {
                        if line.trim() == "---> Using cache" {
                            step_cached = true;
                        } else if let Some(c) = line.trim().strip_prefix("---> Running in ") {
                            step_container = Some(c.trim().to_owned());
                            journal_of(made, &last_layer, &step_container).save(journal);
                        } else if let Some(id) = line.trim().strip_prefix("---> ") {
                            if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                                if !step_is_from && !step_cached {
                                    made.push(id.to_owned());
                                }
                                last_layer = Some(id.to_owned());
                                step_container = None;
                                journal_of(made, &last_layer, &step_container).save(journal);
                            }
                        }
                        events.emit(BuildEvent::line(OutputStream::Stdout, line));
                    }
                }
            }
            if let Some(status) = info.status {
                events.emit(BuildEvent::line(OutputStream::Stdout, mask(&status)));
            }
            if let Some(error) = info
                .error
                .or_else(|| info.error_detail.and_then(|d| d.message))
            {
                let error = mask(error.trim());
                events.emit(BuildEvent::line(OutputStream::Stderr, error.clone()));
                failure = Some(error);
            }
            if let Some(id) = info.aux.and_then(|a| a.id) {
                image_id = Some(id);
            }
        }
        drop(stream);
        drop(archive);
        let engine_done = started.elapsed();
        if stopped.is_some() {
            self.settle_stopped_step(step_container.as_deref(), last_layer.as_deref(), made)
                .await;
        }
        let error = match (stopped, failure) {
            (Some(e), _) => Some(e),
            (None, Some(message)) => Some(BuildError::Failed {
                step: step.clone(),
                message,
            }),
            (None, None) => None,
        };
        if let Some(error) = error {
            return Err(error);
        }
        let image_id = match image_id {
            Some(id) => id,
            None => self
                .docker
                .inspect_image(&reference)
                .await
                .map_err(|e| BuildError::Failed {
                    step: step.clone(),
                    message: engine_message(e),
                })?
                .id
                .unwrap_or_default(),
        };
        self.docker
            .tag_image(
                &reference,
                Some(TagImageOptions {
                    repo: Some(spec.repository.clone()),
                    tag: Some("latest".into()),
                }),
            )
            .await
            .map_err(|e| BuildError::Engine(engine_message(e)))?;
        tracing::debug!(
            build = %spec.build_id,
            bases_ms = bases_checked.as_millis() as u64,
            pack_ms = (packed - bases_checked).as_millis() as u64,
            engine_ms = (engine_done - packed).as_millis() as u64,
            tag_ms = (started.elapsed() - engine_done).as_millis() as u64,
            "build timings"
        );
        Ok(BuiltImage {
            image_id,
            tags: vec![reference, format!("{}:latest", spec.repository)],
            dropped_events: events.dropped(),
        })
    }
}

impl Engine {
    /// Every image the Dockerfile builds from is one an application may run, and is on this
    /// engine before the build starts: pulled when the engine lacks it, or always when berth
    /// held credentials for its registry (the registry decides, as for an application's
    /// image), with the project's credentials for that registry; its progress among the
    /// build's lines. A registry named by its address is pulled from only when the
    /// installation lists it; the engine's own copy of such an image is used as it is.
    async fn check_bases(
        &self,
        dockerfile: &Path,
        spec: &BuildSpec,
        events: &EventSink,
        cancel: &CancelToken,
    ) -> Result<(), BuildError> {
        let size = std::fs::metadata(dockerfile)
            .map_err(BuildError::io("reading the Dockerfile"))?
            .len();
        if size > 1024 * 1024 {
            return Err(BuildError::Dockerfile(format!(
                "it is {size} bytes; at most 1 MiB is read"
            )));
        }
        let text = std::fs::read_to_string(dockerfile)
            .map_err(BuildError::io("reading the Dockerfile"))?;
        let mut pulled = BTreeSet::new();
        for base in crate::base_images(&text, &spec.build_args).map_err(BuildError::Dockerfile)? {
            let at = |why: String| {
                BuildError::Dockerfile(format!("line {} names {}: {why}", base.line, base.image))
            };
            let image = berth_domain::ImageReference::parse_runnable(&base.image)
                .map_err(|e| at(e.messages()))?;
            let name = image.for_engine();
            if pulled.contains(&name) {
                continue;
            }
            let registry = image.registry();
            let present = match self.docker.inspect_image(&name).await {
                Ok(_) => true,
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => false,
                Err(e) => return Err(BuildError::Engine(engine_message(e))),
            };
            if present && !spec.registries.always_pull(&registry) {
                continue;
            }
            if registry.is_address() && !spec.registries.listed(&registry) {
                return Err(at(format!(
                    "{}, and berth pulls from a registry named by its address only when the installation lists it",
                    if present {
                        "berth held credentials for its registry, so it is pulled before use"
                    } else {
                        "no such image is on this engine"
                    }
                )));
            }
            let credentials = spec.registries.credentials_for(&registry);
            events.emit(BuildEvent::line(
                OutputStream::Stdout,
                format!(
                    "pulling {name}, which line {} builds from{}",
                    base.line,
                    credentials.map_or(String::new(), |c| format!(
                        ", as {} at {}",
                        c.username, c.registry
                    ))
                ),
            ));
            self.pull(&image, credentials, events, cancel).await?;
            pulled.insert(name);
        }
        Ok(())
    }

    /// Pulls an image an application may run from the registry its reference names (Docker
    /// Hub when it names none), with `credentials` (anonymously without), and answers its id.
    /// The credentials go to the engine for this one pull and are not kept by it. Each layer's progress is told
    /// once per state (`Pulling fs layer`, `Download complete`, `Pull complete`), not per
    /// chunk; an image the registry does not have, or refuses, is [`BuildError::Pull`] with
    /// the registry's words.
    pub async fn pull(
        &self,
        reference: &berth_domain::ImageReference,
        credentials: Option<&berth_domain::RegistryCredentials>,
        events: &EventSink,
        cancel: &CancelToken,
    ) -> Result<String, BuildError> {
        use bollard::query_parameters::CreateImageOptions;
        reference.check_runnable().map_err(|e| {
            BuildError::Unsupported(format!(
                "the image {reference} may not be run: {}",
                e.messages()
            ))
        })?;
        let name = reference.for_engine();
        let failed = |message: String| BuildError::Pull {
            image: reference.to_string(),
            message,
        };
        let auth = credentials.map(|c| bollard::auth::DockerCredentials {
            username: Some(c.username.as_str().to_owned()),
            password: Some(c.password.expose().to_owned()),
            serveraddress: Some(c.registry.as_str().to_owned()),
            ..Default::default()
        });
        let mut stream = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(name.clone()),
                ..Default::default()
            }),
            None,
            auth,
        );
        let mut told: HashMap<String, String> = HashMap::new();
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = cancel.cancelled() => return Err(BuildError::Cancelled),
            };
            let Some(item) = item else { break };
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                    return Err(failed(message))
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(failed(error))
                }
                Err(e) => return Err(BuildError::Engine(engine_message(e))),
            };
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(failed(detail));
            }
            let Some(status) = info.status else { continue };
            // Chunks of a download or an extraction repeat their state: told once each.
            let layer = info.id.unwrap_or_default();
            if told.get(&layer) == Some(&status) {
                continue;
            }
            told.insert(layer.clone(), status.clone());
            let text = if layer.is_empty() || status.contains(&layer) {
                status
            } else {
                format!("{layer}: {status}")
            };
            events.emit(BuildEvent::line(OutputStream::Stdout, text));
            events.pace().await;
        }
        match self.docker.inspect_image(&name).await {
            Ok(image) => Ok(image.id.unwrap_or_default()),
            Err(e) => Err(BuildError::Engine(engine_message(e))),
        }
    }

    /// The id of a prebuilt image, which must already be on this engine (no registry pull).
    /// Only an image an application may run is looked up (`ImageReference::check_runnable`).
    pub async fn require_image(
        &self,
        reference: &berth_domain::ImageReference,
    ) -> Result<String, BuildError> {
        if let Err(e) = reference.check_runnable() {
            return Err(BuildError::Unsupported(format!(
                "the image {reference} may not be run: {}",
                e.messages()
            )));
        }
        match self.docker.inspect_image(&reference.for_engine()).await {
            Ok(image) => Ok(image.id.unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(BuildError::MissingImage(reference.to_string())),
            Err(e) => Err(BuildError::Engine(engine_message(e))),
        }
    }

    /// Removes the images of `repository` beyond the newest `keep` (kept for rollbacks),
    /// never an image that a container (running or not) uses. Returns the tags removed.
    ///
    /// Two builds of the same Dockerfile from the same base give the same image: an image
    /// that another repository (another application's) also tags keeps it, and only
    /// `repository`'s tags are taken off; an image tagged by `repository` alone is removed.
    pub async fn prune(&self, repository: &str, keep: usize) -> Result<Vec<String>, BuildError> {
        use bollard::query_parameters::{
            ListContainersOptions, ListImagesOptions, RemoveImageOptions,
        };
        let engine_err = |e| BuildError::Engine(engine_message(e));
        let mut images: Vec<_> = self
            .docker
            .list_images(Some(ListImagesOptions::default()))
            .await
            .map_err(engine_err)?
            .into_iter()
            .filter(|i| {
                i.repo_tags
                    .iter()
                    .any(|t| t.starts_with(&format!("{repository}:")))
            })
            .collect();
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        let in_use: std::collections::HashSet<String> = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .map_err(engine_err)?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect();
        let mut removed = Vec::new();
        for image in images.into_iter().skip(keep) {
            let (own, others): (Vec<&String>, Vec<&String>) = image
                .repo_tags
                .iter()
                .partition(|t| t.starts_with(&format!("{repository}:")));
            if others.is_empty() {
                if in_use.contains(&image.id) {
                    continue;
                }
                // The image is this repository's alone: it goes, with every tag.
                let options = RemoveImageOptions {
                    force: true,
                    ..Default::default()
                };
                if self
                    .docker
                    .remove_image(&image.id, Some(options), None)
                    .await
                    .is_ok()
                {
                    removed.extend(own.into_iter().cloned());
                }
                continue;
            }
            // Another repository tags the same image: only this one's tags go (the image,
            // which a container may use, stays with the other tags).
            for tag in own {
                if self
                    .docker
                    .remove_image(tag, None::<RemoveImageOptions>, None)
                    .await
                    .is_ok()
                {
                    removed.push(tag.clone());
                }
            }
        }
        Ok(removed)
    }
}

/// The engine's own words for an error, without bollard's wrapping.
fn journal_of(made: &[String], last: &Option<String>, container: &Option<String>) -> Journal {
    Journal {
        made: made.to_vec(),
        last_layer: last.clone(),
        container: container.clone(),
    }
}

fn engine_message(e: bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message,
        other => other.to_string(),
    }
}

/// `Step 3/7 : RUN make` → (3, 7, "RUN make").
fn parse_step(line: &str) -> Option<(u32, u32, &str)> {
    let rest = line.strip_prefix("Step ")?;
    let (counts, what) = rest.split_once(" : ")?;
    let (n, of) = counts.split_once('/')?;
    Some((n.parse().ok()?, of.parse().ok()?, what))
}

/// The archive as a stream of chunks, read as the engine consumes it.
async fn stream_file(
    path: PathBuf,
) -> Result<
    impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    BuildError,
> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(BuildError::io("opening the context archive"))?;
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_recognised() {
        assert_eq!(
            super::parse_step("Step 3/7 : RUN make"),
            Some((3, 7, "RUN make"))
        );
        assert_eq!(super::parse_step("Sending build context"), None);
    }

    #[test]
    fn a_journal_reads_back_what_was_written_and_nothing_else() {
        let j = super::Journal {
            made: vec!["0123456789ab".into(), "ba9876543210".into()],
            last_layer: Some("ba9876543210".into()),
            container: Some("c0ffee".into()),
        };
        assert_eq!(super::Journal::parse(&j.render()), j);
        let hostile = "made ../../etc\nmade \nlast sha256:abc\nremove 0123\ncontainer abc def\n";
        assert_eq!(super::Journal::parse(hostile), super::Journal::default());
    }
}

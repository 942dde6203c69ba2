//! Image builds through the Docker engine's API. The API version is negotiated, so an engine
//! older than bollard's default (Debian's 20.10 speaks 1.41) works.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use berth_domain::RelativePath;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::context::{resolve_inside, ContextTar};
use crate::{BuildError, BuildEvent, EventSink, OutputStream};

/// A connection to the Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
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
    pub tag: String,
    pub labels: BTreeMap<String, String>,
    /// Where the context archive is written while the build runs (removed afterwards).
    pub temp_dir: PathBuf,
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
        Ok(Self { docker })
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
        let archive = ContextTar::pack(&context, &in_context, &spec.temp_dir)?;
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
            labels: Some(
                spec.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            ),
            target: spec.target.clone().unwrap_or_default(),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut step = String::from("the start of the build");
        let mut image_id = None;
        let mut failure = None;
        // Images this build made for its steps (not the base image of a FROM, not a cached
        // layer it reused): removed again if the build fails, so nothing dangles.
        let mut made: Vec<String> = Vec::new();
        let mut step_is_from = false;
        let mut step_cached = false;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    failure = Some(engine_message(e));
                    break;
                }
            };
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
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
                        } else if let Some(id) = line.trim().strip_prefix("---> ") {
                            if !step_is_from
                                && !step_cached
                                && id.len() == 12
                                && id.bytes().all(|b| b.is_ascii_hexdigit())
                            {
                                made.push(id.to_owned());
                            }
                        }
                        events.line(OutputStream::Stdout, line);
                    }
                }
            }
            if let Some(status) = info.status {
                events.line(OutputStream::Stdout, mask(&status));
            }
            if let Some(error) = info
                .error
                .or_else(|| info.error_detail.and_then(|d| d.message))
            {
                let error = mask(error.trim());
                events.line(OutputStream::Stderr, error.clone());
                failure = Some(error);
            }
            if let Some(id) = info.aux.and_then(|a| a.id) {
                image_id = Some(id);
            }
        }
        drop(archive);
        if let Some(message) = failure {
            for id in made.iter().rev() {
                // Without force: an image that something else uses stays.
                let _ = self
                    .docker
                    .remove_image(
                        id,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await;
            }
            return Err(BuildError::Failed { step, message });
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
        Ok(BuiltImage {
            image_id,
            tags: vec![reference, format!("{}:latest", spec.repository)],
            dropped_events: events.dropped(),
        })
    }
}

/// The engine's own words for an error, without bollard's wrapping.
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
}

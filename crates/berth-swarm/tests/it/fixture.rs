//! What every orchestrator test shares: a connection to the engine in swarm mode, a random name
//! prefix, application images built from the local base image, a client that balances over the
//! replicas' host ports, and the removal of everything a test made, even when it fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_build::{BuildSpec, CancelToken, Engine, EventSink as BuildSink};
use berth_domain::{
    ApplicationId, HealthCheck, PortMapping, PortNumber, PortProtocol, ProjectId, PublishMode,
    RelativePath, Replicas, ServiceName, ServiceSpec,
};
use berth_swarm::{EventSink, Swarm, SwarmSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const BASE_IMAGE: &str = "berth-test/busybox:latest";
pub const APP_PORT: u16 = 8080;
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The test application: busybox httpd answering `<version> <hostname>` on 8080, `/health`
/// only when built healthy, a line on stdout when it starts, and a one-second drain on SIGTERM
/// (as a real application finishes its requests before it exits).
const START: &str = r#"#!/bin/sh
echo "$(cat /www/version) $(hostname)" > /www/index.html
echo "app $(cat /www/version) started on $(hostname)"
httpd -f -p 8080 -h /www &
pid=$!
trap 'echo "app stopping"; sleep 1; kill $pid; exit 0' TERM
wait $pid
"#;

const DOCKERFILE: &str = r#"FROM berth-test/busybox:latest
ARG VERSION
ARG HEALTHY
COPY start /start
RUN mkdir -p /www && echo "$VERSION" > /www/version && if [ "$HEALTHY" = yes ]; then echo ok > /www/health; fi
CMD ["/bin/sh", "/start"]
"#;

pub struct Fixture {
    pub swarm: Swarm,
    pub prefix: String,
    build: Engine,
    temp: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with_settings(SwarmSettings::default()).await
    }

    pub async fn with_settings(settings: SwarmSettings) -> Self {
        let swarm = Swarm::connect(settings)
            .await
            .expect("the Docker engine must be running for the orchestrator tests");
        swarm
            .setup()
            .await
            .expect("the engine must be (or become) a Swarm manager");
        let build = Engine::connect().await.unwrap();
        build
            .require_image(&berth_domain::ImageReference::parse(BASE_IMAGE).unwrap())
            .await
            .expect("the base image comes from scripts/base-image.sh (run by make test)");
        let prefix = format!("bt{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Self {
            swarm,
            prefix,
            build,
            temp: tempfile::tempdir().unwrap(),
        }
    }

    /// Builds the test application at `version` and returns its tag.
    pub async fn image(&self, version: &str, healthy: bool) -> String {
        let dir = self.temp.path().join(format!("src-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
        std::fs::write(dir.join("start"), START).unwrap();
        let spec = BuildSpec {
            registries: Default::default(),
            checkout: dir.clone(),
            context: RelativePath::parse(".").unwrap(),
            dockerfile: RelativePath::parse("Dockerfile").unwrap(),
            build_args: [
                ("VERSION".to_owned(), version.to_owned()),
                (
                    "HEALTHY".to_owned(),
                    if healthy { "yes" } else { "no" }.to_owned(),
                ),
            ]
            .into(),
            secret_build_args: Default::default(),
            target: None,
            repository: format!("berth-test/{}", self.prefix),
            tag: version.to_owned(),
            build_id: version.to_owned(),
            labels: Default::default(),
            temp_dir: self.temp.path().to_path_buf(),
            journal: None,
            max_context_bytes: 1024 << 20,
            timeout: Duration::from_secs(300),
        };
        self.build
            .build(&spec, &BuildSink::discard(), &CancelToken::new())
            .await
            .unwrap();
        format!("berth-test/{}:{version}", self.prefix)
    }

    /// A service of the test application: replicas on engine-assigned host ports, health
    /// checked every second on `/health`, updates watched for 2 s.
    pub fn spec(&self, name: &str, image: &str, replicas: i64) -> ServiceSpec {
        ServiceSpec {
            name: ServiceName::parse(&format!("{}-{name}", self.prefix)).unwrap(),
            application_id: ApplicationId::new(),
            project_id: ProjectId::new(),
            deployment_id: None,
            image: image.to_owned(),
            replicas: Replicas::parse(replicas).unwrap(),
            env: Vec::new(),
            secrets: Vec::new(),
            entrypoint: None,
            command: None,
            ports: vec![PortMapping {
                container: PortNumber::parse(i64::from(APP_PORT)).unwrap(),
                published: None,
                protocol: PortProtocol::Tcp,
                mode: PublishMode::Host,
            }],
            mounts: Vec::new(),
            resources: Default::default(),
            health_check: Some(HealthCheck {
                http_path: Some("/health".into()),
                port: Some(PortNumber::parse(i64::from(APP_PORT)).unwrap()),
                command: None,
                interval_s: 1,
                timeout_s: 1,
                retries: 2,
                start_period_s: 0,
            }),
            labels: Default::default(),
            restart: Default::default(),
            constraints: Vec::new(),
            stop_grace_period_s: 10,
            update: berth_domain::UpdatePolicy {
                monitor_s: 2,
                ..berth_domain::UpdatePolicy::update_default()
            },
            rollback: berth_domain::UpdatePolicy {
                monitor_s: 2,
                ..berth_domain::UpdatePolicy::rollback_default()
            },
            networks: Vec::new(),
        }
    }

    /// Deploys `spec` (failing the test if it errs) with the default timeout.
    pub async fn deploy(&self, spec: &ServiceSpec) -> berth_swarm::DeployOutcome {
        self.swarm
            .deploy(spec, &EventSink::discard(), &CancelToken::new(), TIMEOUT)
            .await
            .unwrap()
    }

    /// The body every running replica answers, one per replica.
    pub async fn answers(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.swarm.endpoints(name, APP_PORT).await.unwrap() {
            out.push(get(e.addr).await.unwrap());
        }
        out.sort();
        out
    }
}

impl Drop for Fixture {
    /// Removes every service, secret, volume and image whose name carries this test's prefix.
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let swarm = self.swarm.clone();
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                use bollard::query_parameters::{
                    ListImagesOptions, ListServicesOptions, ListVolumesOptions, RemoveImageOptions,
                };
                let docker = swarm.docker();
                let services = docker
                    .list_services(None::<ListServicesOptions>)
                    .await
                    .unwrap_or_default();
                for s in services {
                    let name = s.spec.and_then(|s| s.name).unwrap_or_default();
                    if name.starts_with(&prefix) {
                        let _ = swarm.remove(&name, true).await;
                    }
                }
                let volumes = docker
                    .list_volumes(None::<ListVolumesOptions>)
                    .await
                    .ok()
                    .and_then(|v| v.volumes)
                    .unwrap_or_default();
                for v in volumes.into_iter().filter(|v| v.name.starts_with(&prefix)) {
                    let _ = docker
                        .remove_volume(
                            &v.name,
                            None::<bollard::query_parameters::RemoveVolumeOptions>,
                        )
                        .await;
                }
                let images = docker
                    .list_images(None::<ListImagesOptions>)
                    .await
                    .unwrap_or_default();
                // By tag, never by id: another test's image may be the same image.
                for tag in images.iter().flat_map(|i| &i.repo_tags) {
                    if tag.contains(&prefix) {
                        let _ = docker
                            .remove_image(
                                tag,
                                Some(RemoveImageOptions {
                                    force: true,
                                    ..Default::default()
                                }),
                                None,
                            )
                            .await;
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// `GET /` on a replica's address: the body of a 200 answer, or what went wrong.
pub async fn get(addr: std::net::SocketAddr) -> Result<String, String> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(b"GET / HTTP/1.0\r\nHost: app\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no answer ({} bytes)", buf.len()))?;
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            return Err(format!("status: {}", head.lines().next().unwrap_or("")));
        }
        Ok(body.trim().to_owned())
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// A client that keeps requesting the service while a test changes it, the way berth's edge
/// router reaches replicas on a host: over the running replicas' host ports (refreshed every
/// 100 ms from the engine), round robin, a connection refused retried once on another replica.
pub struct Load {
    pub requests: Arc<AtomicU64>,
    pub failures: Arc<Mutex<Vec<String>>>,
    pub answers: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    pub fn start(swarm: &Swarm, name: &str) -> Self {
        let requests = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn({
            let (swarm, name) = (swarm.clone(), name.to_owned());
            let (requests, failures, answers) =
                (requests.clone(), failures.clone(), answers.clone());
            async move {
                let mut ports: Vec<std::net::SocketAddr> = Vec::new();
                let mut refreshed = tokio::time::Instant::now() - Duration::from_secs(1);
                let mut next = 0usize;
                while !*stopped.borrow() {
                    if refreshed.elapsed() >= Duration::from_millis(100) {
                        if let Ok(e) = swarm.endpoints(&name, APP_PORT).await {
                            ports = e.into_iter().map(|e| e.addr).collect();
                        }
                        refreshed = tokio::time::Instant::now();
                    }
                    if ports.is_empty() {
                        failures.lock().unwrap().push("no running replica".into());
                        requests.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    next = next.wrapping_add(1);
                    let first = ports[next % ports.len()];
                    let mut result = get(first).await;
                    if matches!(&result, Err(e) if e.starts_with("connect")) && ports.len() > 1 {
                        result = get(ports[(next + 1) % ports.len()]).await;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    match result {
                        Ok(body) => answers
                            .lock()
                            .unwrap()
                            .push(body.split(' ').next().unwrap_or("").to_owned()),
                        Err(e) => failures.lock().unwrap().push(e),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self {
            requests,
            failures,
            answers,
            stop,
            task,
        }
    }

    /// Stops the client; returns (requests, failures, the versions answered in order).
    pub async fn finish(self) -> (u64, Vec<String>, Vec<String>) {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
        let failures = self.failures.lock().unwrap().clone();
        let answers = self.answers.lock().unwrap().clone();
        (self.requests.load(Ordering::Relaxed), failures, answers)
    }
}

pub fn events() -> (
    EventSink,
    tokio::sync::mpsc::Receiver<berth_swarm::SwarmEvent>,
) {
    EventSink::channel(10_000)
}

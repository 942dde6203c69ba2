//! The pipeline's own logic, fast: the real store on SQLite, the build engine and the
//! orchestrator in process (`berth_testkit::engines`). Every step, supersede, cancel (queued,
//! running, and from another process), crash recovery, a failing release, a failing HTTP check
//! and its undo, rollback, operations and retention. The same behaviour is tested against the
//! real engine by berth-server's end-to-end tests.
#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::sync::Arc;
use std::time::Duration;

use berth_deploy::ports::Clock as _;
use berth_deploy::{DeployError, DeploymentRequest, Pipeline, PipelineSettings};
use berth_domain::*;
use berth_events::{CancelToken, Event, EventBus, Received};
use berth_store::{Actor, ApplicationChanges, NewOperation, NewProject, NewUser, Store};
use berth_testkit::engines::{FakeClock, FakeEngines, Rollout};
use berth_testkit::{Backend, TestStore};

struct World {
    db: TestStore,
    bus: EventBus,
    pipeline: Pipeline,
    engines: Arc<FakeEngines>,
    clock: Arc<FakeClock>,
    app: Application,
    stop: CancelToken,
    work: tempfile::TempDir,
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn settings(work: &std::path::Path) -> PipelineSettings {
    PipelineSettings {
        work_dir: work.to_owned(),
        poll: Duration::from_millis(20),
        cancel_poll: Duration::from_millis(20),
        ..Default::default()
    }
}

/// A store with one user, project and git application, and a pipeline on fake engines,
/// started unless `started` is false.
async fn world(started: bool) -> World {
    let db = TestStore::new(Backend::Sqlite).await;
    let store = db.store.clone();
    let s = store.scope(Actor::System).await.unwrap();
    let user = s
        .create_user(NewUser {
            username: Username::parse("dev").unwrap(),
            email: Email::parse("dev@example.com").unwrap(),
            password_hash: "x".into(),
            role: PlatformRole::Developer,
        })
        .await
        .unwrap();
    s.commit().await.unwrap();
    let s = store
        .scope(Actor::User {
            id: user.id,
            role: user.role,
        })
        .await
        .unwrap();
    let project = s
        .create_project(NewProject {
            name: ProjectName::parse("shop").unwrap(),
            description: None,
            team_id: None,
        })
        .await
        .unwrap();
    let app = s
        .create_application(
            project.id,
            berth_store::NewApplication {
                name: ResourceName::parse("web").unwrap(),
                description: None,
                source: serde_json::from_value(serde_json::json!({
                    "type": "git", "provider": "github",
                    "repository": "https://git.example.com/acme/web.git", "branch": "main"
                }))
                .unwrap(),
                runtime: serde_json::from_value(
                    serde_json::json!({ "ports": [{ "container": 8080 }] }),
                )
                .unwrap(),
                replicas: Replicas::parse(2).unwrap(),
                credentials: None,
            },
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    let bus = EventBus::new(4096);
    let work = tempfile::tempdir().unwrap();
    let clock = FakeClock::new();
    let pipeline = Pipeline::with_clock(store, bus.clone(), settings(work.path()), clock.clone());
    let engines = FakeEngines::new();
    let stop = CancelToken::new();
    if started {
        pipeline.recover().await.unwrap();
        pipeline.start(Ok(engines.engines()), stop.clone());
    }
    World {
        db,
        bus,
        pipeline,
        engines,
        clock,
        app,
        stop,
        work,
    }
}

impl World {
    fn store(&self) -> &Store {
        &self.db.store
    }

    async fn scope(&self) -> berth_store::Scope {
        self.store().scope(Actor::System).await.unwrap()
    }

    async fn deploy(&self) -> Deployment {
        self.pipeline
            .enqueue(
                self.scope().await,
                &self.app,
                DeploymentRequest {
                    trigger: DeploymentTrigger::Manual,
                    user: None,
                    token: None,
                    commit: None,
                },
            )
            .await
            .unwrap()
    }

    async fn deployment(&self, id: DeploymentId) -> Deployment {
        self.scope().await.deployment(id).await.unwrap()
    }

    /// Waits until the deployment has ended (or reached `status`).
    async fn wait(&self, id: DeploymentId, until: impl Fn(DeploymentStatus) -> bool) -> Deployment {
        for _ in 0..500 {
            let d = self.deployment(id).await;
            if until(d.status) {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "deployment {id} is still {:?}",
            self.deployment(id).await.status
        );
    }

    async fn ended(&self, id: DeploymentId) -> Deployment {
        self.wait(id, |s| s.is_final()).await
    }

    async fn steps(&self, id: DeploymentId) -> Vec<(StepName, StepState)> {
        self.scope()
            .await
            .deployment_steps(id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.state))
            .collect()
    }

    async fn set_env(&self, key: &str, value: &str, secret: bool) {
        let s = self.scope().await;
        s.set_env_var(
            self.app.id,
            EnvKey::parse(key).unwrap(),
            SecretString::new(value),
            secret,
        )
        .await
        .unwrap();
        s.commit().await.unwrap();
    }

    async fn set_runtime(&self, runtime: serde_json::Value) {
        let s = self.scope().await;
        s.update_application(
            self.app.id,
            ApplicationChanges {
                runtime: Some(serde_json::from_value(runtime).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        s.commit().await.unwrap();
    }

    async fn application(&self) -> Application {
        self.scope().await.application(self.app.id).await.unwrap()
    }

    fn service(&self) -> Option<berth_testkit::engines::FakeService> {
        self.engines.service(self.app.service_name().as_str())
    }

    async fn operate(&self, kind: OperationKind, replicas: Option<u32>) -> Operation {
        self.pipeline
            .request(
                self.scope().await,
                &self.app,
                NewOperation {
                    kind,
                    replicas: replicas.map(|r| Replicas::parse(i64::from(r)).unwrap()),
                    delete_volumes: false,
                    requested_by: None,
                },
            )
            .await
            .unwrap()
    }

    async fn operation_ended(&self, id: OperationId) -> Operation {
        for _ in 0..500 {
            let op = self.scope().await.operation(id).await.unwrap();
            if op.status.is_final() {
                return op;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("operation {id} did not end");
    }
}

fn env_of(spec: &ServiceSpec) -> Vec<(String, String)> {
    spec.env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain(
            spec.secrets
                .iter()
                .map(|(k, v)| (k.to_string(), format!("secret:{}", v.expose()))),
        )
        .collect()
}

#[tokio::test]
async fn a_git_deployment_runs_every_step_and_announces_each_change() {
    let w = world(true).await;
    let mut events = w.bus.subscribe();
    w.set_env("GREETING", "hello", false).await;
    w.set_env("TOKEN", "s3cret", true).await;
    let d = w.deploy().await;
    let d = w.ended(d.id).await;
    assert_eq!(d.status, DeploymentStatus::Success, "{:?}", d.message);
    assert_eq!(
        w.steps(d.id).await,
        [
            (StepName::Clone, StepState::Success),
            (StepName::Build, StepState::Success),
            (StepName::Rollout, StepState::Success),
            (StepName::Verify, StepState::Success),
        ]
    );
    let service = w.service().expect("the service runs");
    assert_eq!(service.spec.replicas.get(), 2);
    assert!(
        service.spec.image.starts_with("sha256:"),
        "{}",
        service.spec.image
    );
    assert_eq!(
        env_of(&service.spec),
        [
            ("GREETING".to_owned(), "hello".to_owned()),
            ("TOKEN".to_owned(), "secret:s3cret".to_owned())
        ]
    );
    assert_eq!(w.application().await.status, ApplicationStatus::Running);
    let build = w.scope().await.build(d.build_id.unwrap()).await.unwrap();
    assert_eq!(build.status, BuildStatus::Succeeded);
    assert_eq!(
        w.engines.calls()[..2],
        [
            "checkout https://git.example.com/acme/web.git".to_owned(),
            format!("build {}:{}", w.app.image_repository(), "1".repeat(40)),
        ]
    );

    // Each change was announced, after it was stored: queued, building, deploying, success.
    let mut statuses = Vec::new();
    while let Ok(Received::Event(e)) =
        tokio::time::timeout(Duration::from_millis(100), events.recv()).await
    {
        match e {
            Event::DeploymentStatusChanged {
                deployment_id,
                status,
                ..
            } if deployment_id == d.id => statuses.push(status),
            _ => {}
        }
    }
    assert_eq!(
        statuses,
        [
            DeploymentStatus::Pending,
            DeploymentStatus::Building,
            DeploymentStatus::Deploying,
            DeploymentStatus::Success
        ]
    );

    // The same commit again: its image is reused, nothing is built.
    let again = w.deploy().await;
    let again = w.ended(again.id).await;
    assert_eq!(again.status, DeploymentStatus::Success);
    assert_eq!(w.engines.builds(), 1);
}

#[tokio::test]
async fn a_failing_build_or_release_replaces_nothing() {
    let w = world(true).await;
    w.engines.fail_builds(Some("make: *** [all] Error 2"));
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::Failed);
    assert!(d.message.as_deref().unwrap().contains("Error 2"), "{d:?}");
    assert_eq!(
        w.steps(d.id).await,
        [
            (StepName::Clone, StepState::Success),
            (StepName::Build, StepState::Failed),
            (StepName::Rollout, StepState::Skipped),
            (StepName::Verify, StepState::Skipped),
        ]
    );
    assert!(w.service().is_none());

    w.engines.fail_builds(None);
    w.set_runtime(serde_json::json!({ "release_command": ["migrate"] }))
        .await;
    w.engines.set_release_exit(3);
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::Failed);
    assert!(
        d.message.as_deref().unwrap().contains("exited with code 3"),
        "{d:?}"
    );
    assert!(w.service().is_none(), "nothing was rolled out");
    assert!(!w.engines.calls().iter().any(|c| c.starts_with("deploy ")));
}

/// A replica that answers every request with `status`.
async fn replica(status: u16) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf).await;
                let _ = c
                    .write_all(
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_failing_http_check_undoes_the_rollout() {
    let w = world(true).await;
    w.set_runtime(serde_json::json!({
        "ports": [{ "container": 8080 }],
        "verify": { "http_path": "/health", "port": 8080, "timeout_s": 1 }
    }))
    .await;
    w.engines.set_endpoints(vec![replica(200).await]);
    let first = w.ended(w.deploy().await.id).await;
    assert_eq!(first.status, DeploymentStatus::Success, "{first:?}");
    let serving = w.service().unwrap().spec;

    // A new version that answers 500: rolled back to the one that served.
    w.engines.set_tip("main", &"2".repeat(40));
    w.engines.set_endpoints(vec![replica(500).await]);
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::RolledBack, "{d:?}");
    assert!(
        d.message.as_deref().unwrap().contains("answered 500"),
        "{d:?}"
    );
    assert!(w
        .engines
        .calls()
        .contains(&format!("rollback {}", w.app.service_name())));
    assert_eq!(w.service().unwrap().spec, serving);
    assert_eq!(w.application().await.status, ApplicationStatus::Running);

    // A rollout that fails its health check is rolled back by the orchestrator.
    w.engines
        .set_rollout(Rollout::RollBack("task failed its health check".into()));
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::RolledBack);
    assert!(d.message.as_deref().unwrap().contains("health check"));
}

#[tokio::test]
async fn a_first_version_that_fails_its_http_check_is_removed() {
    let w = world(true).await;
    w.set_runtime(serde_json::json!({
        "verify": { "http_path": "/health", "port": 8080, "timeout_s": 1 }
    }))
    .await;
    w.engines.set_endpoints(vec![replica(404).await]);
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::Failed, "{d:?}");
    assert!(w.service().is_none(), "the service it created was removed");
    assert_eq!(
        w.steps(d.id).await.last(),
        Some(&(StepName::Verify, StepState::Failed))
    );
}

#[tokio::test]
async fn queued_deployments_supersede_and_cancel_stops_queued_and_running_ones() {
    let w = world(true).await;
    w.engines.hold_builds(true);
    let running = w.deploy().await;
    w.wait(running.id, |s| s == DeploymentStatus::Building)
        .await;
    let a = w.deploy().await;
    let b = w.deploy().await;
    let c = w.deploy().await;
    for (old, by) in [(a.id, b.id), (b.id, c.id)] {
        let d = w.deployment(old).await;
        assert_eq!(d.status, DeploymentStatus::Cancelled);
        assert_eq!(
            d.message.as_deref(),
            Some(format!("superseded by deployment {by}").as_str())
        );
    }
    assert_eq!(w.deployment(c.id).await.status, DeploymentStatus::Pending);

    // A queued one is cancelled at once.
    let cancelled = w.pipeline.cancel(w.scope().await, &c).await.unwrap();
    assert_eq!(cancelled.status, DeploymentStatus::Cancelled);
    // One that has ended cannot be.
    assert!(matches!(
        w.pipeline.cancel(w.scope().await, &cancelled).await,
        Err(DeployError::NotCancellable(DeploymentStatus::Cancelled))
    ));

    // The running one, asked through another process on the same database: this worker sees
    // the request and stops its build.
    let elsewhere = Pipeline::new(
        w.store().clone(),
        EventBus::new(16),
        settings(w.work.path()),
    );
    let current = w.deployment(running.id).await;
    let asked = elsewhere.cancel(w.scope().await, &current).await.unwrap();
    assert!(asked.cancel_requested);
    let d = w.ended(running.id).await;
    assert_eq!(d.status, DeploymentStatus::Cancelled);
    assert!(w
        .steps(d.id)
        .await
        .contains(&(StepName::Build, StepState::Cancelled)));
    assert_eq!(
        w.scope()
            .await
            .build(d.build_id.unwrap())
            .await
            .unwrap()
            .status,
        BuildStatus::Failed
    );

    // The queue carries on.
    w.engines.hold_builds(false);
    let next = w.ended(w.deploy().await.id).await;
    assert_eq!(next.status, DeploymentStatus::Success);
}

#[tokio::test]
async fn cancelling_the_first_deployment_leaves_the_application_stopped_not_failed() {
    let w = world(true).await;
    w.engines.hold_builds(true);
    let d = w.deploy().await;
    w.wait(d.id, |s| s == DeploymentStatus::Building).await;
    let current = w.deployment(d.id).await;
    w.pipeline.cancel(w.scope().await, &current).await.unwrap();
    assert_eq!(w.ended(d.id).await.status, DeploymentStatus::Cancelled);
    assert!(w.service().is_none());
    let app = w.scope().await.application(w.app.id).await.unwrap();
    assert_eq!(app.status, ApplicationStatus::Stopped);
}

#[tokio::test]
async fn a_rollout_in_progress_is_cancelled_too() {
    let w = world(true).await;
    w.engines.set_rollout(Rollout::Hang);
    let d = w.deploy().await;
    w.wait(d.id, |s| s == DeploymentStatus::Deploying).await;
    let current = w.deployment(d.id).await;
    w.pipeline.cancel(w.scope().await, &current).await.unwrap();
    let d = w.ended(d.id).await;
    assert_eq!(d.status, DeploymentStatus::Cancelled);
    assert!(w
        .steps(d.id)
        .await
        .contains(&(StepName::Rollout, StepState::Cancelled)));
}

#[tokio::test]
async fn a_rollback_deploys_the_snapshot_it_names_with_its_environment() {
    let w = world(true).await;
    w.set_env("GREETING", "one", false).await;
    w.set_env("TOKEN", "first", true).await;
    let first = w.ended(w.deploy().await.id).await;
    assert_eq!(first.status, DeploymentStatus::Success);
    let first_image = w.service().unwrap().spec.image;

    w.set_env("GREETING", "two", false).await;
    w.set_env("TOKEN", "second", true).await;
    w.set_runtime(serde_json::json!({ "ports": [{ "container": 9090 }] }))
        .await;
    w.engines.set_tip("main", &"2".repeat(40));
    let second = w.ended(w.deploy().await.id).await;
    assert_eq!(second.status, DeploymentStatus::Success);
    let now = w.service().unwrap().spec;
    assert_ne!(now.image, first_image);
    assert_eq!(
        env_of(&now),
        [
            ("GREETING".to_owned(), "two".to_owned()),
            ("TOKEN".to_owned(), "secret:second".to_owned())
        ]
    );

    let builds = w.engines.builds();
    let back = w
        .pipeline
        .rollback(w.scope().await, &first, None)
        .await
        .unwrap();
    assert_eq!(back.rollback_of, Some(first.id));
    let back = w.ended(back.id).await;
    assert_eq!(back.status, DeploymentStatus::Success, "{back:?}");
    assert_eq!(w.engines.builds(), builds, "nothing was built");
    assert_eq!(
        w.steps(back.id).await,
        [
            (StepName::Rollout, StepState::Success),
            (StepName::Verify, StepState::Success)
        ]
    );
    let spec = w.service().unwrap().spec;
    assert_eq!(spec.image, first_image);
    assert_eq!(
        env_of(&spec),
        [
            ("GREETING".to_owned(), "one".to_owned()),
            ("TOKEN".to_owned(), "secret:first".to_owned())
        ],
        "the environment as the first deployment had it"
    );
    assert_eq!(spec.ports[0].container.get(), 8080, "and its runtime");

    // Only a successful deployment can be deployed again.
    w.engines.set_tip("main", &"3".repeat(40));
    w.engines.fail_builds(Some("broken"));
    let failed = w.ended(w.deploy().await.id).await;
    assert!(matches!(
        w.pipeline.rollback(w.scope().await, &failed, None).await,
        Err(DeployError::RollbackNotPossible(_))
    ));
}

#[tokio::test]
async fn work_a_stopped_server_left_ends_and_the_queue_carries_on() {
    let w = world(false).await;
    // An operation a killed server was running.
    let op = w.operate(OperationKind::Restart, None).await;
    let s = w.scope().await;
    assert_eq!(s.claim_next_operation().await.unwrap().unwrap().id, op.id);
    s.commit().await.unwrap();
    assert_eq!(w.pipeline.recover().await.unwrap(), 0);
    let op = w.scope().await.operation(op.id).await.unwrap();
    assert_eq!(
        (op.status, op.message.as_deref()),
        (OperationStatus::Failed, Some(berth_deploy::INTERRUPTED))
    );

    // A deployment it was building, and one queued behind it.
    let interrupted = w.deploy().await;
    let s = w.scope().await;
    let (claimed, superseded) = s.claim_next_deployment(2).await.unwrap().unwrap();
    assert_eq!((claimed.id, superseded.len()), (interrupted.id, 0));
    s.create_steps(claimed.id, &[StepName::Clone, StepName::Build])
        .await
        .unwrap();
    s.set_step_state(claimed.id, StepName::Clone, StepState::Running, None)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let queued = w.deploy().await;

    assert_eq!(w.pipeline.recover().await.unwrap(), 1);
    let d = w.deployment(claimed.id).await;
    assert_eq!(d.status, DeploymentStatus::Failed);
    assert_eq!(d.message.as_deref(), Some(berth_deploy::INTERRUPTED));
    assert_eq!(
        w.steps(d.id).await,
        [
            (StepName::Clone, StepState::Failed),
            (StepName::Build, StepState::Skipped)
        ]
    );
    assert_eq!(
        w.deployment(queued.id).await.status,
        DeploymentStatus::Pending,
        "queued work stays queued"
    );

    w.pipeline.start(Ok(w.engines.engines()), w.stop.clone());
    let d = w.ended(queued.id).await;
    assert_eq!(d.status, DeploymentStatus::Success);
}

#[tokio::test]
async fn operations_wait_their_turn_and_set_the_status() {
    let w = world(true).await;
    // Before the first deployment there is nothing to stop.
    let op = w.operate(OperationKind::Stop, None).await;
    let op = w.operation_ended(op.id).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(
        op.message.as_deref(),
        Some("the application has not been deployed yet")
    );

    // An operation asked for during a deployment runs after it.
    w.engines.hold_builds(true);
    let d = w.deploy().await;
    w.wait(d.id, |s| s == DeploymentStatus::Building).await;
    let stop = w.operate(OperationKind::Stop, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        w.scope().await.operation(stop.id).await.unwrap().status,
        OperationStatus::Pending,
        "it waits for the deployment"
    );
    w.engines.hold_builds(false);
    // The held build ends only by cancel; cancel it and deploy again.
    let current = w.deployment(d.id).await;
    w.pipeline.cancel(w.scope().await, &current).await.unwrap();
    let stop = w.operation_ended(stop.id).await;
    assert_eq!(
        stop.status,
        OperationStatus::Failed,
        "nothing ran yet: {stop:?}"
    );
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::Success);

    let stop = w
        .operation_ended(w.operate(OperationKind::Stop, None).await.id)
        .await;
    assert_eq!(stop.status, OperationStatus::Success, "{stop:?}");
    assert_eq!(w.service().unwrap().running, 0);
    assert_eq!(w.application().await.status, ApplicationStatus::Stopped);

    let scale = w
        .operation_ended(w.operate(OperationKind::Scale, Some(3)).await.id)
        .await;
    assert_eq!(scale.status, OperationStatus::Success);
    assert_eq!(w.service().unwrap().running, 3);
    assert_eq!(
        w.application().await.replicas.get(),
        3,
        "and for later deployments"
    );
    assert_eq!(w.application().await.status, ApplicationStatus::Running);

    // Deleting removes the service, its images, then the application.
    let del = w
        .operation_ended(w.operate(OperationKind::Delete, None).await.id)
        .await;
    assert_eq!(del.status, OperationStatus::Success, "{del:?}");
    assert!(w.service().is_none());
    assert!(w
        .engines
        .calls()
        .contains(&format!("prune {} 0", w.app.image_repository())));
    assert!(w.scope().await.application(w.app.id).await.is_err());
}

#[tokio::test]
async fn an_application_with_volumes_is_deleted_only_with_them() {
    let w = world(true).await;
    let s = w.scope().await;
    let v = s
        .create_volume(berth_store::NewVolume {
            name: VolumeName::parse("uploads").unwrap(),
            kind: VolumeKind::DockerVolume,
            mount_path: MountPath::parse("/data").unwrap(),
            size_gb: SizeGb::parse(1).unwrap(),
            owner: VolumeOwner::Application(w.app.id),
        })
        .await
        .unwrap();
    s.commit().await.unwrap();
    let refused = w
        .pipeline
        .request(
            w.scope().await,
            &w.app,
            NewOperation {
                kind: OperationKind::Delete,
                replicas: None,
                delete_volumes: false,
                requested_by: None,
            },
        )
        .await;
    assert!(
        matches!(&refused, Err(DeployError::ApplicationHasVolumes(names)) if names == &["uploads".to_owned()]),
        "{refused:?}"
    );
    w.engines.add_volume(v.engine_name.as_str());
    let op = w
        .pipeline
        .request(
            w.scope().await,
            &w.app,
            NewOperation {
                kind: OperationKind::Delete,
                replicas: None,
                delete_volumes: true,
                requested_by: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        w.operation_ended(op.id).await.status,
        OperationStatus::Success
    );
    assert!(w.engines.volumes().is_empty(), "its data went");
    assert!(w.scope().await.volume(v.id).await.is_err());
}

#[tokio::test]
async fn retention_prunes_by_the_pipelines_clock_and_keeps_the_rollback_target() {
    let w = world(true).await;
    let good = w.ended(w.deploy().await.id).await;
    w.engines.set_tip("main", &"2".repeat(40));
    w.engines.fail_builds(Some("broken"));
    let bad = w.ended(w.deploy().await.id).await;
    assert_eq!(bad.status, DeploymentStatus::Failed);
    let s = w.scope().await;
    s.append_audit(berth_store::NewAuditEntry {
        user_id: None,
        action: "project.create".into(),
        resource_type: "project".into(),
        resource_id: None,
        details: serde_json::json!({}),
        ip_address: None,
        user_agent: None,
    })
    .await
    .unwrap();
    s.commit().await.unwrap();
    let audited = || async {
        w.scope()
            .await
            .list_audit(Default::default(), 100, None)
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(
        w.pipeline.prune().await.unwrap(),
        (0, 0),
        "nothing is old yet"
    );
    w.clock.advance(chrono::Duration::days(100));
    let (_, deployments) = w.pipeline.prune().await.unwrap();
    assert_eq!(deployments, 1);
    assert_eq!(audited().await, 1, "audit entries stay a year");
    assert!(w.scope().await.deployment(bad.id).await.is_err());
    assert_eq!(
        w.deployment(good.id).await.status,
        DeploymentStatus::Success,
        "the newest successful deployment stays"
    );
    w.clock.advance(chrono::Duration::days(266));
    w.pipeline.prune().await.unwrap();
    assert_eq!(audited().await, 0, "a year on, the audit entry went");
}

#[tokio::test]
async fn reconciliation_follows_what_runs() {
    let w = world(true).await;
    let d = w.ended(w.deploy().await.id).await;
    assert_eq!(d.status, DeploymentStatus::Success);
    // Something outside berth stopped it.
    berth_deploy::Orchestrator::stop(
        w.engines.as_ref(),
        w.app.service_name().as_str(),
        Duration::from_secs(1),
    )
    .await
    .unwrap();
    assert_eq!(w.pipeline.reconcile().await.unwrap(), 1);
    assert_eq!(w.application().await.status, ApplicationStatus::Stopped);
    assert_eq!(w.pipeline.reconcile().await.unwrap(), 0);
}

#[tokio::test]
async fn a_redeploy_takes_todays_environment_without_building() {
    let w = world(true).await;
    assert!(
        matches!(
            w.pipeline.redeploy(w.scope().await, &w.app, None).await,
            Err(DeployError::RollbackNotPossible(_))
        ),
        "nothing was built yet"
    );
    w.set_env("GREETING", "one", false).await;
    let first = w.ended(w.deploy().await.id).await;
    let image = w.service().unwrap().spec.image;
    w.set_env("GREETING", "two", false).await;
    let again = w
        .pipeline
        .redeploy(w.scope().await, &w.app, None)
        .await
        .unwrap();
    assert_eq!(again.trigger, DeploymentTrigger::Redeploy);
    assert_eq!(again.build_id, first.build_id);
    let again = w.ended(again.id).await;
    assert_eq!(again.status, DeploymentStatus::Success, "{again:?}");
    assert_eq!(w.engines.builds(), 1, "nothing was built");
    let spec = w.service().unwrap().spec;
    assert_eq!(spec.image, image);
    assert_eq!(env_of(&spec), [("GREETING".to_owned(), "two".to_owned())]);
}

/// The scheduler: berth's retention schedule is made due at once; a due run happens once and
/// the next is the timetable's next time; runs missed while berth was down become one run; a
/// run claimed by one process is not claimed by another; one a stop left running is ended
/// failed by recovery; an admin's timetable survives a restart.
#[tokio::test]
async fn scheduled_jobs_run_once_when_due_and_never_twice() {
    let w = world(false).await;
    w.pipeline.ensure_schedules().await.unwrap();
    let schedules = || async { w.scope().await.list_schedules().await.unwrap() };
    let (retention, last) = schedules().await.remove(0);
    assert_eq!(retention.kind, ScheduleKind::Retention);
    assert_eq!(retention.cron.as_str(), "0 */6 * * *");
    assert!(last.is_none());
    assert!(
        retention.next_run_at <= w.clock.now(),
        "due at the first start"
    );

    assert_eq!(w.pipeline.run_due_schedules().await.unwrap(), 1);
    let (after, last) = schedules().await.remove(0);
    let last = last.expect("a run");
    assert_eq!(last.status, ScheduleRunStatus::Success, "{last:?}");
    assert_eq!(
        last.message.as_deref(),
        Some("pruned 0 log lines and 0 deployments")
    );
    assert_eq!(last.due_at, retention.next_run_at);
    let next = retention
        .cron
        .next_after(w.clock.now(), TimeZone::UTC)
        .unwrap();
    assert_eq!(after.next_run_at, next);
    assert_eq!(w.pipeline.run_due_schedules().await.unwrap(), 0, "not due");

    // Three days down: twelve runs missed, one run made up, the next one ahead.
    w.clock.advance(chrono::Duration::days(3));
    assert_eq!(w.pipeline.run_due_schedules().await.unwrap(), 1);
    assert_eq!(w.pipeline.run_due_schedules().await.unwrap(), 0);
    let runs = w
        .scope()
        .await
        .schedule_runs(retention.id, Page::default())
        .await
        .unwrap();
    assert_eq!(runs.total, 2);
    assert!(schedules().await[0].0.next_run_at > w.clock.now());

    // Two processes see the same due schedule: the first claims it, the second gets nothing.
    w.clock.advance(chrono::Duration::hours(7));
    let due = w.scope().await.due_schedules(w.clock.now()).await.unwrap();
    assert_eq!(due.len(), 1);
    let later = w.clock.now() + chrono::Duration::hours(1);
    let first = w.scope().await;
    let claimed = first
        .claim_schedule_run(&due[0], later, w.clock.now())
        .await
        .unwrap()
        .expect("the first claims it");
    first.commit().await.unwrap();
    let second = w.scope().await;
    assert!(second
        .claim_schedule_run(&due[0], later, w.clock.now())
        .await
        .unwrap()
        .is_none());
    drop(second);
    // That first process stopped while it ran: recovery ends the run as failed.
    w.pipeline.recover().await.unwrap();
    let runs = w
        .scope()
        .await
        .schedule_runs(retention.id, Page::default())
        .await
        .unwrap();
    let interrupted = runs.items.iter().find(|r| r.id == claimed.id).unwrap();
    assert_eq!(interrupted.status, ScheduleRunStatus::Failed);
    assert!(interrupted
        .message
        .as_deref()
        .unwrap()
        .starts_with("interrupted"));

    // An admin's timetable stays when berth starts again.
    let s = w.scope().await;
    s.update_schedule(
        retention.id,
        berth_store::ScheduleChanges {
            cron: Some(CronSchedule::parse("30 2 * * *").unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    w.pipeline.ensure_schedules().await.unwrap();
    assert_eq!(schedules().await[0].0.cron.as_str(), "30 2 * * *");
}

use std::time::Duration;

use berth_domain::{Mount, MountPath, MountSource, VolumeName};
use berth_events::CancelToken;
use berth_swarm::{DeployOutcome, LogOptions};
use futures_util::StreamExt;

use crate::fixture::{events, Fixture, TIMEOUT};

#[tokio::test]
async fn scale_stop_start_restart_logs_rollback_and_remove() {
    let f = Fixture::new().await;
    let v1 = f.image("v1", true).await;
    let mut spec = f.spec("ops", &v1, 1);
    let volume = VolumeName::parse(&format!("{}-data", f.prefix)).unwrap();
    spec.mounts.push(Mount {
        source: MountSource::Volume {
            engine: volume.clone(),
            label: VolumeName::parse("data").unwrap(),
        },
        target: MountPath::parse("/data").unwrap(),
        read_only: false,
    });
    let name = spec.name.to_string();
    let (sink, _rx) = events();
    f.deploy(&spec).await;

    // Scale up and down.
    assert_eq!(f.swarm.scale(&name, 3, &sink, TIMEOUT).await.unwrap(), 3);
    assert_eq!(f.answers(&name).await.len(), 3);
    assert_eq!(f.swarm.scale(&name, 1, &sink, TIMEOUT).await.unwrap(), 1);
    assert_eq!(f.answers(&name).await.len(), 1);
    assert_eq!(f.swarm.scale(&name, 2, &sink, TIMEOUT).await.unwrap(), 2);

    // Stop keeps the service (and its volume) with no replica; start brings both back.
    f.swarm.stop(&name, &sink, TIMEOUT).await.unwrap();
    f.swarm.stop(&name, &sink, TIMEOUT).await.unwrap();
    let status = f.swarm.status(&name).await.unwrap();
    assert_eq!((status.desired, status.running), (0, 0));
    assert!(f.answers(&name).await.is_empty());
    assert_eq!(f.swarm.start(&name, &sink, TIMEOUT).await.unwrap(), 2);
    assert_eq!(f.swarm.start(&name, &sink, TIMEOUT).await.unwrap(), 2);
    assert_eq!(f.answers(&name).await.len(), 2);

    // Restart replaces every replica with a fresh one.
    let before: Vec<String> = f
        .swarm
        .endpoints(&name, crate::fixture::APP_PORT)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.task_id)
        .collect();
    assert_eq!(f.swarm.restart(&name, &sink, TIMEOUT).await.unwrap(), 2);
    let after: Vec<String> = f
        .swarm
        .endpoints(&name, crate::fixture::APP_PORT)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.task_id)
        .collect();
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|t| !before.contains(t)),
        "{before:?} {after:?}"
    );

    // Runtime logs: what the replicas printed, with timestamps and the task that wrote it.
    let lines: Vec<_> = f
        .swarm
        .logs(&name, &LogOptions::default())
        .await
        .unwrap()
        .collect()
        .await;
    let lines: Vec<_> = lines.into_iter().map(Result::unwrap).collect();
    assert!(
        lines.iter().any(|l| l.text.starts_with("app v1 started on")
            && l.at.is_some()
            && l.task_id.is_some()),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.text == "app stopping"), "{lines:?}");
    // Followed: a line written after the stream opened arrives.
    let mut follow = Box::pin(
        f.swarm
            .logs(
                &name,
                &LogOptions {
                    follow: true,
                    tail: Some(0),
                    since: None,
                },
            )
            .await
            .unwrap(),
    );
    f.swarm.restart(&name, &sink, TIMEOUT).await.unwrap();
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = follow.next().await {
            if line.unwrap().text.starts_with("app v1 started on") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(started, Ok(true), "a new replica's first line is followed");
    drop(follow);

    // An explicit rollback returns to the specification before the last update.
    let v2 = f.image("v2", true).await;
    spec.image = v2;
    spec.replicas = berth_domain::Replicas::parse(2).unwrap();
    let outcome = f.deploy(&spec).await;
    assert!(
        matches!(outcome, DeployOutcome::Converged { running: 2, .. }),
        "{outcome:?}"
    );
    assert!(f.answers(&name).await.iter().all(|a| a.starts_with("v2 ")));
    f.swarm
        .rollback(&name, &sink, &CancelToken::new(), TIMEOUT)
        .await
        .unwrap();
    assert!(f.answers(&name).await.iter().all(|a| a.starts_with("v1 ")));

    // The list berth reconciles from.
    let managed = f.swarm.list_managed().await.unwrap();
    let mine = managed.iter().find(|m| m.name == name).unwrap();
    assert_eq!(mine.application_id, Some(spec.application_id.to_string()));
    assert_eq!((mine.desired, mine.running), (2, 2));

    // Remove keeps the volume; removing again is fine; asking for volumes removes them.
    f.swarm.remove(&name, false).await.unwrap();
    assert!(matches!(
        f.swarm.status(&name).await,
        Err(berth_swarm::SwarmError::NotFound(_))
    ));
    let docker = f.swarm.docker();
    docker.inspect_volume(volume.as_str()).await.unwrap();
    f.swarm.remove(&name, false).await.unwrap();
    f.deploy(&spec).await;
    f.swarm.remove(&name, true).await.unwrap();
    assert!(docker.inspect_volume(volume.as_str()).await.is_err());
}

/// A secret variable reaches the container as a file named by `<KEY>_FILE` and appears nowhere
/// in the service's definition; a plain one is in the environment.
#[tokio::test]
async fn secret_variables_are_files_not_part_of_the_service_definition() {
    let f = Fixture::new().await;
    let v1 = f.image("v1", true).await;
    let mut spec = f.spec("sec", &v1, 1);
    let secret = format!("s3cr3t-{}", f.prefix);
    spec.env.push((
        berth_domain::EnvKey::parse("MODE").unwrap(),
        "production".into(),
    ));
    spec.secrets.push((
        berth_domain::EnvKey::parse("API_KEY").unwrap(),
        berth_domain::SecretString::new(secret.clone()),
    ));
    let name = spec.name.to_string();
    f.deploy(&spec).await;

    let inspected = f
        .swarm
        .docker()
        .inspect_service(
            &name,
            None::<bollard::query_parameters::InspectServiceOptions>,
        )
        .await
        .unwrap();
    let json = serde_json::to_string(&inspected).unwrap();
    assert!(
        !json.contains(&secret),
        "the secret value is in the service definition"
    );
    assert!(json.contains("API_KEY_FILE=/run/secrets/API_KEY"));
    assert!(json.contains("MODE=production"));

    let out = exec(&f, &name, &["cat", "/run/secrets/API_KEY"]).await;
    assert_eq!(out.trim(), secret);

    // A new value is a new secret; the old one goes once nothing refers to it.
    spec.secrets[0].1 = berth_domain::SecretString::new(format!("{secret}-2"));
    f.deploy(&spec).await;
    let out = exec(&f, &name, &["cat", "/run/secrets/API_KEY"]).await;
    assert_eq!(out.trim(), format!("{secret}-2"));
    f.swarm.remove(&name, false).await.unwrap();
    let left = f
        .swarm
        .docker()
        .list_secrets(None::<bollard::query_parameters::ListSecretsOptions>)
        .await
        .unwrap();
    assert!(
        !left.iter().any(|s| s
            .spec
            .as_ref()
            .and_then(|s| s.name.as_deref())
            .is_some_and(|n| n.starts_with(&name))),
        "the service's secrets were removed with it"
    );
}

/// Runs a command in the service's running container and returns its output.
async fn exec(f: &Fixture, service: &str, cmd: &[&str]) -> String {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    use bollard::query_parameters::ListContainersOptions;
    let docker = f.swarm.docker();
    let task = f
        .swarm
        .endpoints(service, crate::fixture::APP_PORT)
        .await
        .unwrap()
        .remove(0)
        .task_id;
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            filters: Some(
                [(
                    "label".to_owned(),
                    vec![format!("com.docker.swarm.task.id={task}")],
                )]
                .into(),
            ),
            ..Default::default()
        }))
        .await
        .unwrap();
    let id = containers[0].id.clone().unwrap();
    let exec = docker
        .create_exec(
            &id,
            CreateExecOptions {
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut text = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        docker.start_exec(&exec.id, None).await.unwrap()
    {
        while let Some(chunk) = output.next().await {
            text.push_str(&chunk.unwrap().to_string());
        }
    }
    text
}

/// A release command runs once in a container of the image, with the application's
/// environment; its exit code and output come back, and the job is gone afterwards.
#[tokio::test]
async fn release_jobs_run_once_and_report_exit_and_output() {
    let f = Fixture::new().await;
    let v1 = f.image("v1", true).await;
    let mut spec = f.spec("rel", &v1, 1);
    spec.env.push((
        berth_domain::EnvKey::parse("STAGE").unwrap(),
        "migrations".into(),
    ));
    let sh = |script: &str| vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let ok = f
        .swarm
        .run_job(
            &spec,
            &sh("echo running $STAGE"),
            &CancelToken::new(),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(ok.exit_code, 0);
    assert!(
        ok.output.iter().any(|l| l.text == "running migrations"),
        "{ok:?}"
    );
    let failed = f
        .swarm
        .run_job(
            &spec,
            &sh("echo boom >&2; exit 3"),
            &CancelToken::new(),
            TIMEOUT,
        )
        .await
        .unwrap();
    assert_eq!(failed.exit_code, 3);
    assert!(
        failed
            .output
            .iter()
            .any(|l| l.text == "boom" && l.stream == berth_swarm::LogStream::Stderr),
        "{failed:?}"
    );
    let job = berth_swarm::job_name(spec.name.as_str());
    assert!(matches!(
        f.swarm.status(&job).await,
        Err(berth_swarm::SwarmError::NotFound(_))
    ));

    // A job a killed process left running is listed with its application, and removed.
    let cancel = CancelToken::new();
    let running = tokio::spawn({
        let (swarm, spec, cancel) = (f.swarm.clone(), spec.clone(), cancel.clone());
        async move {
            swarm
                .run_job(&spec, &sh("sleep 600"), &cancel, TIMEOUT)
                .await
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // (A job's tasks are wanted "complete", not "running": look at the task itself.)
    while !f
        .swarm
        .status(&job)
        .await
        .is_ok_and(|s| s.tasks.iter().any(|t| t.state == "running"))
    {
        assert!(std::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running.abort(); // as if the process died: nothing of run_job's own cleanup runs
    let _ = running.await;
    let jobs = f.swarm.list_jobs().await.unwrap();
    let mine = jobs.iter().find(|(name, _)| *name == job).unwrap();
    assert_eq!(mine.1, Some(spec.application_id.to_string()));
    f.swarm.remove(&job, false).await.unwrap();
    assert!(matches!(
        f.swarm.status(&job).await,
        Err(berth_swarm::SwarmError::NotFound(_))
    ));
    drop(cancel);
}

/// A service's container and a release job alike run under the default memory and process
/// limits unless the specification sets its own, as the kernel's cgroup shows inside them.
#[tokio::test]
async fn every_container_runs_under_memory_and_process_limits() {
    let f = Fixture::new().await;
    let v1 = f.image("v1", true).await;
    let mut spec = f.spec("limits", &v1, 1);
    let name = spec.name.to_string();
    f.deploy(&spec).await;
    // cgroup v1 and v2 keep the limits in different files; whichever this kernel has answers.
    let limits = [
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/pids.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/memory.max",
    ];
    // Only the numbers: a file this kernel does not have is an error line from cat.
    let read = |out: &str| -> Vec<String> {
        out.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
            .collect()
    };
    let mut cat = vec!["cat"];
    cat.extend(limits);
    let seen = read(&exec(&f, &name, &cat).await);
    assert_eq!(
        seen,
        ["2048", (1024u64 << 20).to_string().as_str()],
        "{seen:?}"
    );

    spec.resources.limits.memory_mb = Some(256);
    spec.resources.limits.pids = Some(64);
    f.deploy(&spec).await;
    let seen = read(&exec(&f, &name, &cat).await);
    assert_eq!(
        seen,
        ["64", (256u64 << 20).to_string().as_str()],
        "{seen:?}"
    );

    let job = f
        .swarm
        .run_job(
            &f.spec("limits-job", &v1, 1),
            &cat.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &CancelToken::new(),
            TIMEOUT,
        )
        .await
        .unwrap();
    let text: Vec<String> = job.output.iter().flat_map(|l| read(&l.text)).collect();
    assert_eq!(
        text,
        ["2048", (1024u64 << 20).to_string().as_str()],
        "{job:?}"
    );
}

/// What each running replica uses, as the engine measures it: a replica kept busy shows it,
/// an idle one does not, and both show their memory under the limit they run with.
#[tokio::test]
async fn usage_shows_what_each_running_replica_uses() {
    let f = Fixture::new().await;
    let v1 = f.image("v1", true).await;
    let mut spec = f.spec("usage", &v1, 1);
    spec.resources.limits.memory_mb = Some(128);
    let name = spec.name.to_string();
    f.deploy(&spec).await;

    let idle = f.swarm.usage(&name).await.unwrap();
    assert_eq!(idle.len(), 1, "{idle:?}");
    assert_eq!(idle[0].memory_limit_bytes, Some(128 << 20), "{idle:?}");
    assert!(
        idle[0].memory_bytes > 0 && idle[0].memory_bytes < 128 << 20,
        "{idle:?}"
    );
    assert!(idle[0].cpu_percent < 50.0, "an idle replica: {idle:?}");

    // A loop that spins in the container (started by a shell in it, output closed, so the
    // exec returns while the loop goes on).
    exec(
        &f,
        &name,
        &[
            "sh",
            "-c",
            "(while :; do :; done) >/dev/null 2>&1 </dev/null &",
        ],
    )
    .await;
    let busy = f.swarm.usage(&name).await.unwrap();
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert!(busy[0].cpu_percent > 50.0, "a spinning replica: {busy:?}");
    assert_eq!(busy[0].task_id, idle[0].task_id);

    // A service that is not there is the engine's not-found, as for its status.
    assert!(matches!(
        f.swarm.usage("berth-no-such-service").await,
        Err(berth_swarm::SwarmError::NotFound(_))
    ));
}

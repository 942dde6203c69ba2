use berth_domain::*;
use berth_store::{NewDeployment, NewLogLine, StoreError};

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    builds_follow_their_state_machine,
    deployments_follow_their_state_machine_and_keep_history,
    deployment_detail_joins_build_and_steps,
    a_deployment_of_the_branch_tip_records_the_commit_its_build_is_of,
    log_lines_are_numbered_and_paged_by_sequence,
    a_snapshot_keeps_the_environment_it_was_taken_with,
);

fn manual() -> NewDeployment {
    NewDeployment {
        trigger: DeploymentTrigger::Manual,
        triggered_by: None,
        service_token_id: None,
        commit_sha: None,
        build_id: None,
        snapshot: DeploymentSnapshot::from_json(serde_json::json!({
            "version": 2,
            "source": { "type": "image", "image": "nginx:1" },
            "runtime": {},
            "replicas": 2,
            "env": []
        }))
        .unwrap(),
        rollback_of: None,
    }
}

async fn builds_follow_their_state_machine(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "builds", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    assert_eq!(s.latest_successful_build(a.id).await.unwrap(), None);
    let b1 = s
        .create_build(a.id, Some(CommitSha::parse(&"1".repeat(40)).unwrap()))
        .await
        .unwrap();
    assert!(matches!(
        s.transition_build(b1.id, BuildStatus::Succeeded, None)
            .await,
        Err(StoreError::Transition(_))
    ));
    let b1 = s
        .transition_build(b1.id, BuildStatus::InProgress, None)
        .await
        .unwrap();
    assert!(b1.started_at.is_some());
    s.set_build_output(b1.id, "berth/web:111", "sha256:abc", Some("first"))
        .await
        .unwrap();
    let b1 = s
        .transition_build(b1.id, BuildStatus::Succeeded, None)
        .await
        .unwrap();
    assert!(b1.finished_at.is_some());
    let b2 = s.create_build(a.id, None).await.unwrap();
    s.transition_build(b2.id, BuildStatus::InProgress, None)
        .await
        .unwrap();
    s.transition_build(b2.id, BuildStatus::Failed, Some("RUN false: exit 1"))
        .await
        .unwrap();
    let err = s
        .transition_build(b2.id, BuildStatus::InProgress, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a build cannot go from failed to in_progress"
    );

    let latest = s.latest_successful_build(a.id).await.unwrap().unwrap();
    assert_eq!(
        (latest.id, latest.image.as_deref()),
        (b1.id, Some("berth/web:111"))
    );
    let all = s.list_builds(a.id, Page::default()).await.unwrap();
    assert_eq!(
        all.items.iter().map(|b| b.id).collect::<Vec<_>>(),
        [b2.id, b1.id]
    );
    assert_eq!(all.items[0].message.as_deref(), Some("RUN false: exit 1"));
}

async fn deployments_follow_their_state_machine_and_keep_history(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "deploys", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    let d1 = s.create_deployment(a.id, manual()).await.unwrap();
    assert_eq!(d1.status, DeploymentStatus::Pending);
    assert_eq!(s.latest_deployment(a.id).await.unwrap().unwrap().id, d1.id);
    let e = s
        .transition_deployment(d1.id, DeploymentStatus::Success, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "a deployment cannot go from pending to success"
    );
    let d1 = s
        .transition_deployment(d1.id, DeploymentStatus::Building, None)
        .await
        .unwrap();
    assert!(d1.started_at.is_some());
    s.transition_deployment(d1.id, DeploymentStatus::Deploying, None)
        .await
        .unwrap();
    let d1 = s
        .transition_deployment(d1.id, DeploymentStatus::Success, None)
        .await
        .unwrap();
    assert!(d1.finished_at.is_some());

    let d2 = s.create_deployment(a.id, manual()).await.unwrap();
    s.transition_deployment(d2.id, DeploymentStatus::Building, None)
        .await
        .unwrap();
    s.transition_deployment(d2.id, DeploymentStatus::Failed, Some("build failed"))
        .await
        .unwrap();
    let d3 = s
        .create_deployment(
            a.id,
            NewDeployment {
                trigger: DeploymentTrigger::Rollback,
                rollback_of: Some(d1.id),
                ..manual()
            },
        )
        .await
        .unwrap();
    s.transition_deployment(d3.id, DeploymentStatus::Deploying, None)
        .await
        .unwrap();
    let d4 = s.create_deployment(a.id, manual()).await.unwrap();
    let d4c = s
        .transition_deployment(d4.id, DeploymentStatus::Cancelled, Some("superseded"))
        .await
        .unwrap();
    assert_eq!(d4c.message.as_deref(), Some("superseded"));

    let unfinished: Vec<DeploymentId> = s
        .unfinished_deployments()
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(unfinished, [d3.id]);
    let ok = s
        .successful_deployments(a.id, Page::default())
        .await
        .unwrap();
    assert_eq!(ok.items.iter().map(|d| d.id).collect::<Vec<_>>(), [d1.id]);
    let history = s
        .list_deployments(a.id, Page::parse(Some(3), None).unwrap())
        .await
        .unwrap();
    assert_eq!(history.total, 4);
    assert_eq!(
        history.items.iter().map(|d| d.id).collect::<Vec<_>>(),
        [d4.id, d3.id, d2.id]
    );
    assert_eq!(history.items[1].rollback_of, Some(d1.id));
}

async fn deployment_detail_joins_build_and_steps(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "detail", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    let d = s.create_deployment(a.id, manual()).await.unwrap();
    let steps = s
        .create_steps(d.id, &[StepName::Clone, StepName::Build, StepName::Rollout])
        .await
        .unwrap();
    assert!(steps.iter().all(|st| st.state == StepState::Pending));
    let b = s.create_build(a.id, None).await.unwrap();
    s.set_deployment_build(d.id, b.id).await.unwrap();
    s.set_step_state(d.id, StepName::Clone, StepState::Running, None)
        .await
        .unwrap();
    s.set_step_state(
        d.id,
        StepName::Clone,
        StepState::Success,
        Some("cloned 1a2b3c"),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.set_step_state(d.id, StepName::Verify, StepState::Running, None)
            .await,
        Err(StoreError::NotFound("step"))
    ));

    let detail = s.deployment_detail(d.id).await.unwrap();
    assert_eq!(detail.build.unwrap().id, b.id);
    let shown: Vec<(StepName, StepState)> =
        detail.steps.iter().map(|st| (st.name, st.state)).collect();
    assert_eq!(
        shown,
        [
            (StepName::Clone, StepState::Success),
            (StepName::Build, StepState::Pending),
            (StepName::Rollout, StepState::Pending)
        ]
    );
    assert_eq!(detail.steps[0].message.as_deref(), Some("cloned 1a2b3c"));
    assert!(detail.steps[0].started_at.is_some() && detail.steps[0].finished_at.is_some());
}

async fn log_lines_are_numbered_and_paged_by_sequence(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "logs", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    let d = s.create_deployment(a.id, manual()).await.unwrap();
    let line = |m: &str| NewLogLine {
        step: Some(StepName::Build),
        level: LogLevel::Info,
        message: m.into(),
    };
    let first = s
        .append_logs(d.id, (0..3).map(|i| line(&format!("line {i}"))).collect())
        .await
        .unwrap();
    assert_eq!(first.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let more = s
        .append_logs(d.id, vec![line("line 3"), line("line 4")])
        .await
        .unwrap();
    assert_eq!(more.iter().map(|l| l.seq).collect::<Vec<_>>(), [4, 5]);
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    let page = s.deployment_logs(d.id, 2, 2).await.unwrap();
    assert_eq!(
        page.iter()
            .map(|l| (l.seq, l.message.as_str()))
            .collect::<Vec<_>>(),
        [(3, "line 2"), (4, "line 3")]
    );
    assert!(s.deployment_logs(d.id, 5, 100).await.unwrap().is_empty());
    drop(s);
    let bob = db.user("bob", PlatformRole::Developer).await;
    let s = db.as_user(&bob).await;
    assert!(matches!(
        s.deployment_logs(d.id, 0, 100).await,
        Err(StoreError::NotFound("deployment"))
    ));
}

async fn a_snapshot_keeps_the_environment_it_was_taken_with(db: TestDb) {
    use sea_orm::ConnectionTrait;
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "snap", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    let key = |k: &str| EnvKey::parse(k).unwrap();
    s.set_env_var(a.id, key("GREETING"), SecretString::new("hello"), false)
        .await
        .unwrap();
    s.set_env_var(a.id, key("TOKEN"), SecretString::new("s3cret-value"), true)
        .await
        .unwrap();
    let snapshot = s.snapshot(a.id).await.unwrap();
    let d = s
        .create_deployment(
            a.id,
            NewDeployment {
                snapshot: snapshot.clone(),
                ..manual()
            },
        )
        .await
        .unwrap();
    // The environment changes after the deployment was queued.
    s.set_env_var(a.id, key("GREETING"), SecretString::new("changed"), false)
        .await
        .unwrap();
    s.set_env_var(a.id, key("TOKEN"), SecretString::new("rotated"), true)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let s = db.system().await;
    let stored = s.deployment(d.id).await.unwrap().snapshot;
    assert_eq!(stored, snapshot);
    let env: Vec<(String, String, bool)> = s
        .snapshot_env(&stored)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(k, v, secret)| (k.to_string(), v.expose().to_owned(), secret))
        .collect();
    assert_eq!(
        env,
        [
            ("GREETING".to_owned(), "hello".to_owned(), false),
            ("TOKEN".to_owned(), "s3cret-value".to_owned(), true)
        ]
    );
    // The secret is stored sealed, never as its plaintext.
    assert!(!stored.to_json().to_string().contains("s3cret-value"));

    // A row that cannot be read is corrupt, not today's configuration.
    s.connection()
        .execute_unprepared("UPDATE deployments SET config_snapshot = '{\"version\": 2}'")
        .await
        .unwrap();
    assert!(matches!(
        s.deployment(d.id).await,
        Err(StoreError::Corrupt(_))
    ));
}

async fn a_deployment_of_the_branch_tip_records_the_commit_its_build_is_of(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "commits", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    let tip = CommitSha::parse(&"a".repeat(40)).unwrap();
    let pinned = CommitSha::parse(&"b".repeat(40)).unwrap();
    let built = s.create_build(a.id, Some(tip.clone())).await.unwrap();

    // Deployed from the branch: it names no commit until its build is known, then that one.
    let d = s.create_deployment(a.id, manual()).await.unwrap();
    assert_eq!(d.commit_sha, None);
    s.set_deployment_build(d.id, built.id).await.unwrap();
    assert_eq!(
        s.deployment(d.id).await.unwrap().commit_sha,
        Some(tip.clone())
    );

    // A deployment of a named commit keeps the one it was asked for.
    let asked = s
        .create_deployment(
            a.id,
            NewDeployment {
                commit_sha: Some(pinned.clone()),
                ..manual()
            },
        )
        .await
        .unwrap();
    s.set_deployment_build(asked.id, built.id).await.unwrap();
    assert_eq!(
        s.deployment(asked.id).await.unwrap().commit_sha,
        Some(pinned)
    );
}

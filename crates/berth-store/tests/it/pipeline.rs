use berth_domain::*;
use berth_store::NewDeployment;

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    the_queue_runs_one_deployment_per_application_within_the_limit,
    webhook_secrets_rotate_and_deliveries_are_seen_once,
    retention_prunes_old_lines_and_deployments_but_the_rollback_target,
    audit_retention_keeps_a_year_and_drops_whole_months_on_postgres,
);

fn queued(build: Option<BuildId>) -> NewDeployment {
    NewDeployment {
        trigger: DeploymentTrigger::Webhook,
        triggered_by: None,
        service_token_id: None,
        commit_sha: None,
        build_id: build,
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

async fn the_queue_runs_one_deployment_per_application_within_the_limit(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "queue", None).await;
    let (web, api, cron) = (
        app(&db, &alice, &p, "web").await,
        app(&db, &alice, &p, "api").await,
        app(&db, &alice, &p, "cron").await,
    );
    let s = db.system().await;
    let w1 = s.create_deployment(web.id, queued(None)).await.unwrap();
    let w2 = s.create_deployment(web.id, queued(None)).await.unwrap();
    let w3 = s.create_deployment(web.id, queued(None)).await.unwrap();
    let a1 = s.create_deployment(api.id, queued(None)).await.unwrap();
    let build = s.create_build(cron.id, None).await.unwrap();
    let c1 = s
        .create_deployment(cron.id, queued(Some(build.id)))
        .await
        .unwrap();
    s.commit().await.unwrap();

    // The oldest waiting application goes first, with its newest deployment; the older ones
    // are superseded.
    let s = db.system().await;
    let (first, superseded) = s.claim_next_deployment(2).await.unwrap().unwrap();
    assert_eq!(first.id, w3.id);
    assert_eq!(first.status, DeploymentStatus::Building);
    let ids: Vec<_> = superseded.iter().map(|d| d.id).collect();
    assert_eq!(ids, [w2.id, w1.id]);
    for d in &superseded {
        assert_eq!(d.status, DeploymentStatus::Cancelled);
        assert_eq!(
            d.message.as_deref(),
            Some(format!("superseded by deployment {}", w3.id).as_str())
        );
    }
    // A second web deployment waits while the first runs; the next application goes instead.
    let w4 = s.create_deployment(web.id, queued(None)).await.unwrap();
    let (second, _) = s.claim_next_deployment(2).await.unwrap().unwrap();
    assert_eq!(second.id, a1.id);
    // The limit holds.
    assert!(s.claim_next_deployment(2).await.unwrap().is_none());
    s.transition_deployment(first.id, DeploymentStatus::Failed, Some("x"))
        .await
        .unwrap();
    // A deployment that has its image already goes straight to deploying.
    let (third, _) = s.claim_next_deployment(2).await.unwrap().unwrap();
    assert_eq!(
        (third.id, third.status),
        (c1.id, DeploymentStatus::Deploying)
    );
    s.transition_deployment(second.id, DeploymentStatus::Failed, Some("x"))
        .await
        .unwrap();
    let (fourth, _) = s.claim_next_deployment(2).await.unwrap().unwrap();
    assert_eq!(fourth.id, w4.id);
    s.commit().await.unwrap();
}

async fn webhook_secrets_rotate_and_deliveries_are_seen_once(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "hooks", None).await;
    let web = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    assert!(s.webhook_secret(web.id).await.unwrap().is_none());
    let first = s.rotate_webhook_secret(web.id).await.unwrap();
    assert!(first.expose().starts_with("berth_wh_"));
    assert_eq!(
        s.webhook_secret(web.id).await.unwrap().unwrap().expose(),
        first.expose()
    );
    let second = s.rotate_webhook_secret(web.id).await.unwrap();
    assert_ne!(first.expose(), second.expose());
    assert!(s.record_webhook_delivery(web.id, "d-1").await.unwrap());
    assert!(!s.record_webhook_delivery(web.id, "d-1").await.unwrap());
    assert!(s.record_webhook_delivery(web.id, "d-2").await.unwrap());
    s.commit().await.unwrap();
}

async fn retention_prunes_old_lines_and_deployments_but_the_rollback_target(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "retention", None).await;
    let web = app(&db, &alice, &p, "web").await;
    let s = db.system().await;
    let mut ids = Vec::new();
    for end in [
        DeploymentStatus::Success,
        DeploymentStatus::Failed,
        DeploymentStatus::Success,
    ] {
        let d = s.create_deployment(web.id, queued(None)).await.unwrap();
        s.transition_deployment(d.id, DeploymentStatus::Building, None)
            .await
            .unwrap();
        s.transition_deployment(d.id, DeploymentStatus::Deploying, None)
            .await
            .unwrap();
        s.transition_deployment(d.id, end, None).await.unwrap();
        s.append_logs(
            d.id,
            vec![berth_store::NewLogLine {
                step: None,
                level: LogLevel::Info,
                message: "a line".into(),
            }],
        )
        .await
        .unwrap();
        ids.push(d.id);
    }
    let waiting = s.create_deployment(web.id, queued(None)).await.unwrap();
    // Nothing is old enough yet.
    let past = chrono::Utc::now() - chrono::Duration::days(30);
    assert_eq!(s.prune_history(past, past).await.unwrap(), (0, 0));
    // Everything is: the lines go, and the ended deployments but the newest success.
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(s.prune_history(future, future).await.unwrap(), (3, 2));
    assert!(s.deployment(ids[0]).await.is_err());
    assert!(s.deployment(ids[1]).await.is_err());
    s.deployment(ids[2]).await.unwrap();
    s.deployment(waiting.id).await.unwrap();
    s.commit().await.unwrap();
}

/// Writes an audit entry dated `at`, as an upgrade finds entries from before it.
async fn audit_entry_at(db: &TestDb, action: &str, at: chrono::DateTime<chrono::Utc>) {
    use sea_orm::{ConnectionTrait, Statement};
    let s = db.system().await;
    let backend = s.connection().get_database_backend();
    let sql = match db.store.backend() {
        berth_store::Backend::Postgres => {
            "INSERT INTO audit_log (action, resource_type, details, created_at) \
             VALUES ($1, 'project', '{}', $2)"
        }
        berth_store::Backend::Sqlite => {
            "INSERT INTO audit_log (action, resource_type, details, created_at) \
             VALUES (?, 'project', '{}', ?)"
        }
    };
    s.connection()
        .execute(Statement::from_sql_and_values(
            backend,
            sql,
            [action.into(), at.into()],
        ))
        .await
        .unwrap();
    s.commit().await.unwrap();
}

async fn audit_retention_keeps_a_year_and_drops_whole_months_on_postgres(db: TestDb) {
    use chrono::TimeZone;
    let at = |y, m, d| chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
    // Years away from today's, whose months the migration made already.
    let now = at(2041, 12, 15);
    for (action, when) in [
        ("june", at(2040, 6, 10)),
        ("early-december", at(2040, 12, 10)),
        ("late-december", at(2040, 12, 20)),
        ("november", at(2041, 11, 20)),
    ] {
        audit_entry_at(&db, action, when).await;
    }
    let postgres = db.store.backend() == berth_store::Backend::Postgres;
    let made = db.store.maintain_partitions(now, None).await.unwrap();
    if postgres {
        // The entries' months had none (they were in the default partition), nor had the
        // months from `now` on.
        assert_eq!(made.created, 7, "{made:?}");
        let s = db.system().await;
        let stray: Vec<i64> = {
            use sea_orm::{ConnectionTrait, Statement};
            s.connection()
                .query_all(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT count(*) FROM audit_log_default",
                ))
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get_by_index(0).unwrap())
                .collect()
        };
        assert_eq!(stray, [0], "every entry moved into its month");
        drop(s);
        assert_eq!(
            db.store
                .maintain_partitions(now, None)
                .await
                .unwrap()
                .created,
            0,
            "a second round finds nothing to make"
        );
    } else {
        assert_eq!(made, Default::default(), "SQLite has no partitions");
    }

    let a_year_ago = now - chrono::Duration::days(365);
    let months = db
        .store
        .maintain_partitions(now, Some(a_year_ago))
        .await
        .unwrap();
    let s = db.system().await;
    let rows = s.prune_audit(a_year_ago).await.unwrap();
    s.commit().await.unwrap();
    if postgres {
        // June went whole (with the months the migration made for today, long before 2041).
        assert_eq!(months.dropped_entries, 1, "{months:?}");
        assert!(months.dropped >= 1, "{months:?}");
        assert_eq!(
            rows, 1,
            "of December, ended after the cut, the rows before it"
        );
    } else {
        assert_eq!(rows, 2);
    }
    let kept: Vec<String> = db
        .system()
        .await
        .list_audit(Default::default(), 100, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(kept, ["november", "late-december"]);
}

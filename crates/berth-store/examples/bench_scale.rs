#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark fails loudly and prints its table
//! `make bench` part for the store's side of a grown installation: 1,000 applications in 100
//! projects, 5,000 domains, one deployment with 1,000,000 log lines and 1,000,000 audit entries.
//! Times (median in milliseconds) what the control plane reads at that size: the routing
//! table's read of every domain and its application, the reconciler's read of the applications,
//! the first and the last page of the deployment's log and of the audit log, a page of projects.
//! On SQLite and, when `BERTH_TEST_PG_URL` is set (run it under `scripts/test-postgres.sh`), on
//! Postgres.
//!
//! `target/release/examples/bench_scale [rounds]`: measure.
//! `target/release/examples/bench_scale seed DATA_DIR`: only the applications and domains, into
//! the SQLite database of a berth data directory (for `scripts/bench-scale.sh`, which measures
//! the idle control plane at that size).

use std::time::Instant;

use berth_domain::{
    Cursor, DomainName, DomainRouting, DomainTarget, Page, PlatformRole, ProjectName, ResourceName,
};
use berth_store::{Actor, AuditFilter, MasterKey, NewProject, NewUser, Store};
use sea_orm::{ConnectionTrait, DatabaseBackend};

const PROJECTS: usize = 100;
const APPS_PER_PROJECT: usize = 10;
const DOMAINS_PER_APP: usize = 5;
const ROWS: i64 = 1_000_000;

#[path = "support/timing.rs"]
mod timing;

/// The median of `rounds` runs of `f`, in milliseconds.
async fn time<F, Fut>(rounds: usize, f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    timing::median(rounds, f).await.as_secs_f64() * 1e3
}

fn app(name: &str) -> berth_store::NewApplication {
    berth_store::NewApplication {
        name: ResourceName::parse(name).unwrap(),
        description: None,
        source: serde_json::from_value(serde_json::json!({
            "type": "image", "image": "berth-test/busybox:latest"
        }))
        .unwrap(),
        runtime: serde_json::from_value(serde_json::json!({ "ports": [{ "container": 8080 }] }))
            .unwrap(),
        replicas: berth_domain::Replicas::parse(1).unwrap(),
        credentials: None,
    }
}

/// The admin, 100 projects of 10 applications with 5 domains each. Returns the admin's actor
/// and the first application.
async fn seed_apps(store: &Store) -> (Actor, berth_domain::ApplicationId) {
    let s = store.scope(Actor::System).await.unwrap();
    let admin = s
        .create_user(NewUser {
            username: "scale".parse().unwrap(),
            email: "scale@example.com".parse().unwrap(),
            password_hash: "x".into(),
            role: PlatformRole::Admin,
        })
        .await
        .unwrap();
    s.commit().await.unwrap();
    let actor = Actor::User {
        id: admin.id,
        role: admin.role,
    };
    let mut first = None;
    for p in 0..PROJECTS {
        let s = store.scope(actor).await.unwrap();
        let project = s
            .create_project(NewProject {
                name: ProjectName::parse(&format!("project {p}")).unwrap(),
                description: None,
                team_id: None,
            })
            .await
            .unwrap();
        for a in 0..APPS_PER_PROJECT {
            let application = s
                .create_application(project.id, app(&format!("app-{a}")))
                .await
                .unwrap();
            first.get_or_insert(application.id);
            for d in 0..DOMAINS_PER_APP {
                s.create_domain(
                    project.id,
                    DomainName::parse(&format!("d{d}.a{a}.p{p}.scale.test")).unwrap(),
                    DomainTarget::Application(application.id),
                    false,
                    DomainRouting::default(),
                )
                .await
                .unwrap();
            }
        }
        s.commit().await.unwrap();
    }
    (actor, first.unwrap())
}

/// A million log lines in one deployment of `app` and a million audit entries, written by
/// the database itself (one statement each).
async fn seed_rows(
    store: &Store,
    actor: &Actor,
    app: berth_domain::ApplicationId,
) -> berth_domain::DeploymentId {
    let s = store.scope(*actor).await.unwrap();
    let snapshot = s.snapshot(app).await.unwrap();
    let d = s
        .create_deployment(
            app,
            berth_store::NewDeployment {
                trigger: berth_domain::DeploymentTrigger::Manual,
                triggered_by: None,
                service_token_id: None,
                commit_sha: None,
                build_id: None,
                snapshot,
                rollback_of: None,
            },
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    let db = store.connection();
    let user = match actor {
        Actor::User { id, .. } => id.as_uuid(),
        _ => unreachable!("the admin acts"),
    };
    let (logs, audit) = match db.get_database_backend() {
        DatabaseBackend::Postgres => (
            format!(
                "INSERT INTO deployment_logs (deployment_id, seq, step, level, message, created_at) \
                 SELECT '{}', n, 'build', 'info', 'Step ' || n || ' : RUN make --jobs 2 all', \
                 now() - (({ROWS} - n) * interval '1 millisecond') \
                 FROM generate_series(1, {ROWS}) AS n",
                d.id.as_uuid()
            ),
            format!(
                "INSERT INTO audit_log (user_id, action, resource_type, resource_id, details, \
                 ip_address, user_agent, created_at) \
                 SELECT '{user}', 'application.update', 'application', n::text, '{{}}'::jsonb, \
                 '127.0.0.1', 'bench', now() - (({ROWS} - n) * interval '1 second') \
                 FROM generate_series(1, {ROWS}) AS n"
            ),
        ),
        _ => (
            format!(
                "WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < {ROWS}) \
                 INSERT INTO deployment_logs (deployment_id, seq, step, level, message, created_at) \
                 SELECT X'{}', n, 'build', 'info', 'Step ' || n || ' : RUN make --jobs 2 all', \
                 strftime('%Y-%m-%dT%H:%M:%f', 'now', '-' || (({ROWS} - n) / 1000.0) || ' seconds') || '+00:00' \
                 FROM n",
                d.id.as_uuid().simple()
            ),
            format!(
                "WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < {ROWS}) \
                 INSERT INTO audit_log (user_id, action, resource_type, resource_id, details, \
                 ip_address, user_agent, created_at) \
                 SELECT X'{}', 'application.update', 'application', CAST(n AS TEXT), '{{}}', \
                 '127.0.0.1', 'bench', \
                 strftime('%Y-%m-%dT%H:%M:%f', 'now', '-' || ({ROWS} - n) || ' seconds') || '+00:00' FROM n",
                user.simple()
            ),
        ),
    };
    // As berth itself, which row-level security lets write every tenant's rows.
    let s = store.scope(Actor::System).await.unwrap();
    s.connection().execute_unprepared(&logs).await.unwrap();
    s.connection().execute_unprepared(&audit).await.unwrap();
    s.commit().await.unwrap();
    // Entries of the months before this one went to the audit log's default partition on
    // Postgres; a retention round gives them their month's, as berth would have.
    store
        .maintain_partitions(chrono::Utc::now(), None)
        .await
        .unwrap();
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }
    d.id
}

async fn measure(name: &str, url: &str, rounds: usize) -> Vec<(String, f64)> {
    let store = Store::connect(url, &MasterKey::generate()).await.unwrap();
    store.migrate().await.unwrap();
    let t = Instant::now();
    let (admin, first) = seed_apps(&store).await;
    let deployment = seed_rows(&store, &admin, first).await;
    eprintln!("bench_scale: {name} seeded in {:.0?}", t.elapsed());
    // The check the seeding did what the figures claim.
    let s = store.read_scope(Actor::System).await.unwrap();
    assert_eq!(
        s.all_domains().await.unwrap().len(),
        PROJECTS * APPS_PER_PROJECT * DOMAINS_PER_APP
    );
    drop(s);

    let mut rows = Vec::new();
    let mut row = |what: &str, ms: f64| rows.push((format!("{what}, {name}"), ms));
    row(
        "routing table's read: every domain and its application (5,000 / 1,000)",
        time(rounds, || async {
            let s = store.read_scope(Actor::System).await.unwrap();
            assert_eq!(s.all_domains().await.unwrap().len(), 5_000);
            assert_eq!(s.routed_applications().await.unwrap().len(), 1_000);
        })
        .await,
    );
    let app_ids: Vec<_> = {
        let s = store.read_scope(Actor::System).await.unwrap();
        let mut ids: Vec<_> = s
            .all_domains()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|d| match d.target {
                DomainTarget::Application(a) => Some(a),
                _ => None,
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    row(
        "reconciler's read of 1,000 applications",
        time(rounds, || async {
            let s = store.read_scope(Actor::System).await.unwrap();
            assert_eq!(
                s.applications_by_ids(&app_ids).await.unwrap().len(),
                app_ids.len()
            );
        })
        .await,
    );
    row(
        "the same, one read per application (as the reconciler read them before)",
        time(rounds, || async {
            let s = store.read_scope(Actor::System).await.unwrap();
            for id in &app_ids {
                s.application(*id).await.unwrap();
            }
        })
        .await,
    );
    let log_page = |after: i64| {
        let (store, admin) = (&store, &admin);
        async move {
            let s = store.read_scope(*admin).await.unwrap();
            let lines = s.deployment_logs(deployment, after, 500).await.unwrap();
            assert_eq!(lines.len(), 500);
        }
    };
    row(
        "first page of a 1,000,000-line log (500 lines)",
        time(rounds, || log_page(0)).await,
    );
    row(
        "last page of a 1,000,000-line log (500 lines)",
        time(rounds, || log_page(ROWS - 500)).await,
    );
    let audit_page = |after: Option<Cursor>| {
        let (store, admin) = (&store, &admin);
        async move {
            let s = store.read_scope(*admin).await.unwrap();
            let page = s
                .list_audit(AuditFilter::default(), 100, after)
                .await
                .unwrap();
            assert_eq!(page.items.len(), 100);
            page.next
        }
    };
    row(
        "first page of a 1,000,000-entry audit log (100 entries)",
        time(rounds, || async {
            assert!(audit_page(None).await.is_some());
        })
        .await,
    );
    // The cursor a client holds when it reaches the oldest 100 entries: the 101st oldest's.
    let oldest = {
        let s = store.read_scope(Actor::System).await.unwrap();
        let db = s.connection();
        let row = db
            .query_one(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT created_at, id FROM audit_log ORDER BY created_at, id LIMIT 1 OFFSET 100",
            ))
            .await
            .unwrap()
            .unwrap();
        Cursor {
            at: row.try_get("", "created_at").unwrap(),
            id: row.try_get("", "id").unwrap(),
        }
    };
    row(
        "last page of a 1,000,000-entry audit log (100 entries)",
        time(rounds, || async {
            assert!(audit_page(Some(oldest)).await.is_none());
        })
        .await,
    );
    row(
        "a page of projects (20 of 100) with their applications counted by status, admin",
        time(rounds, || async {
            let s = store.read_scope(admin).await.unwrap();
            let page = s
                .list_projects(Page::parse(Some(20), None).unwrap())
                .await
                .unwrap();
            let ids: Vec<_> = page.items.iter().map(|p| p.id).collect();
            assert_eq!(s.application_counts(&ids).await.unwrap().len(), 20);
        })
        .await,
    );
    store.close().await.unwrap();
    rows
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("seed") => {
            let dir = std::path::PathBuf::from(args.next().expect("seed DATA_DIR"));
            std::fs::create_dir_all(&dir).unwrap();
            let key = MasterKey::load_or_create(&dir.join("secret.key")).unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.join("berth.db").display());
            let store = Store::connect(&url, &key).await.unwrap();
            store.migrate().await.unwrap();
            seed_apps(&store).await;
            store.close().await.unwrap();
        }
        rounds => {
            let rounds = rounds.map_or(20, |r| r.parse().expect("rounds"));
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("scale.db").display()
            );
            let mut rows = measure("SQLite", &sqlite, rounds).await;
            if std::env::var("BERTH_TEST_PG_URL").is_ok() {
                let pg = berth_testkit::fresh_pg_database().await;
                rows.extend(measure("Postgres", &pg, rounds).await);
            }
            println!("| store read at 1,000 applications ({rounds} rounds, median) | ms |");
            println!("|---|---|");
            for (what, ms) in rows {
                println!("| {what} | {ms:.2} |");
            }
        }
    }
}

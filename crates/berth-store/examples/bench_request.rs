#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark fails loudly and prints its table
//! `make bench` part for the store's side of an authenticated `GET /api/v1/projects`: what each
//! step costs, one after the other on one connection (no concurrency, so the figures add up to
//! one request's time in the store). A user with 100 projects and a session; each step timed
//! over many rounds, median in microseconds, on SQLite and, when `BERTH_TEST_PG_URL` is set (run
//! it under `scripts/test-postgres.sh`), on Postgres.
//!
//! `target/release/examples/bench_request [rounds]`

use std::time::Duration;

use berth_domain::{Page, PlatformRole, ProjectName};
use berth_store::{Actor, MasterKey, NewProject, NewUser, Store};

#[path = "support/timing.rs"]
mod timing;

/// The median of `rounds` runs of `f`, in microseconds.
async fn time<F, Fut>(rounds: usize, f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    timing::median(rounds, f).await.as_secs_f64() * 1e6
}

async fn measure(name: &str, url: &str, rounds: usize) -> Vec<(String, f64)> {
    let key = MasterKey::generate();
    let store = Store::connect(url, &key).await.unwrap();
    store.migrate().await.unwrap();
    let s = store.scope(Actor::System).await.unwrap();
    let user = s
        .create_user(NewUser {
            username: "bench".parse().unwrap(),
            email: "bench@example.com".parse().unwrap(),
            password_hash: "x".into(),
            role: PlatformRole::Developer,
        })
        .await
        .unwrap();
    let (_, secret) = s
        .create_session(user.id, chrono::Duration::hours(1), None, None)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let actor = Actor::User {
        id: user.id,
        role: user.role,
    };
    let s = store.scope(actor).await.unwrap();
    for i in 0..100 {
        s.create_project(NewProject {
            name: ProjectName::parse(&format!("project {i}")).unwrap(),
            description: None,
            team_id: None,
        })
        .await
        .unwrap();
    }
    s.commit().await.unwrap();
    let token = secret.expose().to_owned();
    let page = Page::parse(Some(20), None).unwrap();
    let uncached = store.clone().with_token_cache_ttl(Duration::ZERO);
    let mut rows = Vec::new();
    let mut row = |what: &str, us: f64| rows.push((format!("{what}, {name}"), us));

    row(
        "open and end a read transaction acting for nobody",
        time(rounds, || async {
            store.read_scope(Actor::Anonymous).await.unwrap();
        })
        .await,
    );
    row(
        "open and end a read transaction acting for the user (sets who acts)",
        time(rounds, || async {
            store.read_scope(actor).await.unwrap();
        })
        .await,
    );
    let with_lookup = time(rounds, || async {
        let s = store.read_scope(Actor::System).await.unwrap();
        s.authenticate(&token).await.unwrap().unwrap();
    })
    .await;
    let without = time(rounds, || async {
        store.read_scope(Actor::System).await.unwrap();
    })
    .await;
    row(
        "look the token up (its session, then its user)",
        with_lookup - without,
    );
    row(
        "authenticate and open the request's transaction, token not remembered",
        time(rounds, || async {
            uncached
                .scope_for_token(&token, true)
                .await
                .unwrap()
                .unwrap();
        })
        .await,
    );
    row(
        "authenticate and open the request's transaction, token remembered",
        time(rounds, || async {
            store.scope_for_token(&token, true).await.unwrap().unwrap();
        })
        .await,
    );
    let s = store.read_scope(actor).await.unwrap();
    row(
        "the first page of 20 projects with the total (one statement)",
        time(rounds, || async {
            let p = s.list_projects(page).await.unwrap();
            assert_eq!(p.total, 100);
        })
        .await,
    );
    drop(s);
    row(
        "the whole request in the store: authenticate, page, commit",
        time(rounds, || async {
            let (_, s) = store.scope_for_token(&token, true).await.unwrap().unwrap();
            s.list_projects(page).await.unwrap();
            s.commit().await.unwrap();
        })
        .await,
    );
    store.close().await.unwrap();
    rows
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let mut rows = measure("sqlite", &sqlite, rounds).await;
    if std::env::var("BERTH_TEST_PG_URL").is_ok() {
        let url = berth_testkit::fresh_pg_database().await;
        rows.extend(measure("postgres", &url, rounds).await);
    }
    println!("| step ({rounds} rounds, one connection, median) | µs |");
    println!("|---|---|");
    for (what, us) in rows {
        println!("| {what} | {us:.0} |");
    }
}

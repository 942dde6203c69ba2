//! Test support: a fresh, migrated store on SQLite or on Postgres, and the `both_backends!`
//! macro that runs a test once on each.
//!
//! Postgres comes from `BERTH_TEST_PG_URL` (a role like the one berth runs as), which
//! `scripts/test-postgres.sh` sets for `make test`; a Postgres test without it fails and says
//! how to run it. Each test gets a database of its own.

pub mod acme;
pub mod engines;

use berth_store::{MasterKey, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated store on a database of its own; the SQLite file lives as long as this does.
#[derive(Debug)]
pub struct TestStore {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestStore {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("berth.db").display()
                );
                let store = Store::connect(&url, &MasterKey::generate())
                    .await
                    .expect("open sqlite");
                store.migrate().await.expect("migrate sqlite");
                Self {
                    store,
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let url = fresh_pg_database().await;
                let store = Store::connect(&url, &MasterKey::generate())
                    .await
                    .expect("open postgres");
                store.migrate().await.expect("migrate postgres");
                Self {
                    store,
                    url,
                    _dir: None,
                }
            }
        }
    }
}

/// The URL of the test cluster's unprivileged role, or a failure that says how to get one.
pub fn pg_url() -> String {
    std::env::var("BERTH_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "BERTH_TEST_PG_URL is not set: the Postgres tests need a server. Run them with \
             `make test`, or `scripts/test-postgres.sh cargo nextest run`"
        )
    })
}

/// Creates an empty database on the test cluster and returns its URL.
pub async fn fresh_pg_database() -> String {
    use sea_orm::ConnectionTrait;
    let base = pg_url();
    let name = format!("berth_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base.clone())
        .await
        .expect("connect to the test cluster");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let _ = admin.close().await;
    let mut u = url::Url::parse(&base).expect("BERTH_TEST_PG_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

/// Runs each named `async fn name(fixture)` twice, as `sqlite::name` and `postgres::name`. The
/// test crate provides `async fn setup(Backend) -> Fixture` at its root.
#[macro_export]
#[allow(clippy::crate_in_macro_def)] // `crate::setup` is the calling test crate's, on purpose
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::setup($crate::Backend::Sqlite).await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::setup($crate::Backend::Postgres).await).await })*
        }
    };
}

use berth_domain::*;
use berth_store::{Actor, MasterKey, NewProject, NewUser, Scope, Store};

/// A store on a database of its own, migrated.
pub struct TestDb {
    pub store: Store,

    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("berth.db").display()
    );
    let store = Store::connect(&url, &MasterKey::generate())
        .await
        .expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb {
        store,
        _dir: Some(dir),
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

pub fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("url");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

pub async fn postgres() -> TestDb {
    use sea_orm::ConnectionTrait;
    let base = pg_url();
    let name = format!("berth_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(base.clone())
        .await
        .expect("connect to the test cluster");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let url = with_database(&base, &name);
    let store = Store::connect(&url, &MasterKey::generate())
        .await
        .expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    TestDb { store, _dir: None }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::db::sqlite().await).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::db::postgres().await).await })*
        }
    };
}
pub(crate) use both_backends;

impl TestDb {
    pub async fn system(&self) -> Scope {
        self.store.scope(Actor::System).await.expect("system scope")
    }

    pub async fn as_user(&self, user: &User) -> Scope {
        self.store
            .scope(Actor::User {
                id: user.id,
                role: user.role,
            })
            .await
            .expect("user scope")
    }

    /// Creates and commits a user with the given name and role.
    pub async fn user(&self, name: &str, role: PlatformRole) -> User {
        let s = self.system().await;
        let u = s
            .create_user(NewUser {
                username: Username::parse(name).unwrap(),
                email: Email::parse(&format!("{name}@example.com")).unwrap(),
                password_hash: "$2b$04$notarealhashnotarealhashnotarealhashnotarealha".into(),
                role,
            })
            .await
            .expect("create user");
        s.commit().await.unwrap();
        u
    }

    /// Creates and commits a project owned by `owner`.
    pub async fn project(&self, owner: &User, name: &str, team: Option<TeamId>) -> Project {
        let s = self.as_user(owner).await;
        let p = s
            .create_project(NewProject {
                name: ProjectName::parse(name).unwrap(),
                description: None,
                team_id: team,
            })
            .await
            .expect("create project");
        s.commit().await.unwrap();
        p
    }
}

pub fn git_app(name: &str) -> berth_store::NewApplication {
    berth_store::NewApplication {
        name: ResourceName::parse(name).unwrap(),
        description: None,
        source: serde_json::from_value(serde_json::json!({
            "type": "git", "provider": "github",
            "repository": "https://github.com/acme/web.git", "branch": "main"
        }))
        .unwrap(),
        runtime: serde_json::from_value(serde_json::json!({
            "ports": [{ "container": 8080 }],
            "health_check": { "http_path": "/health", "port": 8080 }
        }))
        .unwrap(),
        replicas: Replicas::parse(2).unwrap(),
        credentials: None,
    }
}

/// Creates and commits an application in `project`, acting as `user`.
pub async fn app(db: &TestDb, user: &User, project: &Project, name: &str) -> Application {
    let s = db.as_user(user).await;
    let a = s
        .create_application(project.id, git_app(name))
        .await
        .expect("create application");
    s.commit().await.unwrap();
    a
}

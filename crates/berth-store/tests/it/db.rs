use berth_domain::*;
use berth_store::{Actor, NewProject, NewUser, Scope, Store};

/// A store on a database of its own, migrated, with helpers to populate it.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub inner: berth_testkit::TestStore,
}

pub async fn setup(backend: berth_testkit::Backend) -> TestDb {
    let inner = berth_testkit::TestStore::new(backend).await;
    TestDb {
        store: inner.store.clone(),
        inner,
    }
}

pub async fn postgres() -> TestDb {
    setup(berth_testkit::Backend::Postgres).await
}

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

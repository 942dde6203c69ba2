//! Row-level security on Postgres: the database itself keeps tenants apart, whatever SQL the
//! application sends.

use berth_domain::*;
use berth_store::{Actor, MasterKey, NewLogLine, Store, StoreError};
use sea_orm::{ConnectionTrait, Statement};

use berth_testkit::pg_url;

use crate::db::{app, postgres, TestDb};

const TENANT_TABLES: &[&str] = &[
    "teams",
    "team_members",
    "projects",
    "applications",
    "git_sources",
    "env_vars",
    "databases",
    "volumes",
    "domains",
    "certificates",
    "backups",
    "service_tokens",
    "builds",
    "deployments",
    "deployment_steps",
    "deployment_logs",
    "operations",
    "api_tokens",
    "sessions",
    "audit_log",
];

async fn ids(scope: &berth_store::Scope, sql: &str) -> Vec<String> {
    scope
        .connection()
        .query_all(Statement::from_string(sea_orm::DbBackend::Postgres, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// Alice's tenant: a project with an application, a secret, a deployment with logs, a token.
async fn alice_world(db: &TestDb) -> (User, Project, Application) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "alice project", None).await;
    let a = app(db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    s.set_env_var(
        a.id,
        EnvKey::parse("TOKEN").unwrap(),
        SecretString::new("x"),
        true,
    )
    .await
    .unwrap();
    let d = s
        .create_deployment(
            a.id,
            berth_store::NewDeployment {
                trigger: DeploymentTrigger::Manual,
                triggered_by: Some(alice.id),
                service_token_id: None,
                commit_sha: None,
                build_id: None,
                snapshot: s.snapshot(a.id).await.unwrap(),
                rollback_of: None,
            },
        )
        .await
        .unwrap();
    s.create_operation(
        a.id,
        berth_store::NewOperation {
            kind: OperationKind::Stop,
            replicas: None,
            delete_volumes: false,
            requested_by: Some(alice.id),
        },
    )
    .await
    .unwrap();
    s.create_service_token(
        a.id,
        Label::parse("ci").unwrap(),
        Label::parse("github").unwrap(),
    )
    .await
    .unwrap();
    s.create_api_token(Label::parse("cli").unwrap(), None)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let s = db.system().await;
    s.create_steps(d.id, &[StepName::Build]).await.unwrap();
    s.append_logs(
        d.id,
        vec![NewLogLine {
            step: None,
            level: LogLevel::Info,
            message: "hello".into(),
        }],
    )
    .await
    .unwrap();
    s.create_build(a.id, None).await.unwrap();
    s.commit().await.unwrap();
    (alice, p, a)
}

#[tokio::test]
async fn the_servers_role_is_subject_to_row_level_security() {
    let db = postgres().await;
    let s = db.system().await;
    let row = s
        .connection()
        .query_one(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !row.try_get::<bool>("", "rolsuper").unwrap(),
        "the server's role is not a superuser"
    );
    assert!(
        !row.try_get::<bool>("", "rolbypassrls").unwrap(),
        "the server's role does not bypass RLS"
    );
    for table in TENANT_TABLES {
        let row = s
            .connection()
            .query_one(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT relrowsecurity, relforcerowsecurity, relowner::regrole::text = current_user AS owned FROM pg_class WHERE relname = '{table}'"),
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.try_get::<bool>("", "relrowsecurity").unwrap(),
            "{table} has RLS enabled"
        );
        assert!(
            row.try_get::<bool>("", "relforcerowsecurity").unwrap(),
            "{table} forces RLS on its owner"
        );
        assert!(
            row.try_get::<bool>("", "owned").unwrap(),
            "{table} is owned by the server's role"
        );
    }
}

#[tokio::test]
async fn a_query_for_user_b_without_tenant_filter_returns_none_of_user_as_rows() {
    let db = postgres().await;
    let (alice, _, a) = alice_world(&db).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let bob_project = db.project(&bob, "bob project", None).await;

    // No WHERE clause at all: only the database's policies stand between bob and alice's rows.
    let s = db.as_user(&bob).await;
    assert_eq!(
        ids(&s, "SELECT id::text FROM projects").await,
        [bob_project.id.to_string()]
    );
    for table in TENANT_TABLES.iter().filter(|t| **t != "projects") {
        let rows = ids(&s, &format!("SELECT '{table}' FROM {table}")).await;
        assert!(rows.is_empty(), "bob sees {} rows of {table}", rows.len());
    }
    // Nor can bob change or remove what he cannot see.
    let r = s
        .connection()
        .execute_unprepared(&format!(
            "UPDATE applications SET name = 'pwned' WHERE id = '{}'",
            a.id
        ))
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0);
    let r = s
        .connection()
        .execute_unprepared("DELETE FROM deployments")
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0);
    // Nor add rows to alice's project.
    let e = s
        .connection()
        .execute_unprepared(&format!(
            "INSERT INTO applications (id, project_id, name, kind, status, source_type, source_config, docker_config, replicas, created_at, updated_at)
             SELECT gen_random_uuid(), id, 'intruder', 'docker', 'stopped', 'image', '{{}}'::jsonb, '{{}}'::jsonb, 1, now(), now() FROM projects WHERE owner_id = '{}'
             UNION ALL SELECT gen_random_uuid(), '{}', 'intruder', 'docker', 'stopped', 'image', '{{}}'::jsonb, '{{}}'::jsonb, 1, now(), now()",
            alice.id, a.project_id
        ))
        .await;
    let e = e.unwrap_err().to_string();
    assert!(
        e.contains("row-level security"),
        "the insert is refused by a policy: {e}"
    );
    drop(s);

    // With nobody acting, a tenant table shows nothing at all.
    let s = db.store.scope(Actor::Anonymous).await.unwrap();
    for table in TENANT_TABLES {
        assert!(
            ids(&s, &format!("SELECT '{table}' FROM {table}"))
                .await
                .is_empty(),
            "{table} is empty to nobody"
        );
    }
    drop(s);

    // And alice, with the same unfiltered SQL, sees her own rows.
    let s = db.as_user(&alice).await;
    assert_eq!(ids(&s, "SELECT name FROM applications").await, ["web"]);
    assert_eq!(
        ids(&s, "SELECT message FROM deployment_logs").await,
        ["hello"]
    );
    assert_eq!(ids(&s, "SELECT key FROM env_vars").await, ["TOKEN"]);
}

#[tokio::test]
async fn team_roles_reach_the_database_too() {
    let db = postgres().await;
    let (alice, p, _) = alice_world(&db).await;
    let viewer = db.user("vera", PlatformRole::Developer).await;
    let s = db.as_user(&alice).await;
    let (team, _) = s
        .create_team(TeamName::parse("readers").unwrap(), None, alice.id)
        .await
        .unwrap();
    s.add_team_member(team.id, viewer.id, TeamRole::Viewer)
        .await
        .unwrap();
    s.update_project(
        p.id,
        berth_store::ProjectChanges {
            team_id: Some(Some(team.id)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&viewer).await;
    assert_eq!(
        ids(&s, "SELECT name FROM applications").await,
        ["web"],
        "a team viewer reads"
    );
    let r = s
        .connection()
        .execute_unprepared("UPDATE applications SET replicas = 9")
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0, "a team viewer does not write");
    let r = s
        .connection()
        .execute_unprepared("DELETE FROM projects")
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 0, "only owners delete projects");
}

#[tokio::test]
async fn a_privileged_role_is_refused() {
    let admin_url = std::env::var("BERTH_TEST_PG_ADMIN_URL")
        .expect("BERTH_TEST_PG_ADMIN_URL is set by scripts/test-postgres.sh");
    let _ = pg_url();
    let e = Store::connect(&admin_url, &MasterKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::UnsafeRole(_)), "{e:?}");
    assert!(e.to_string().contains("NOBYPASSRLS"), "{e}");
}

#[tokio::test]
async fn a_database_that_is_down_gives_a_clear_error_without_the_password() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://berth:topsecret@127.0.0.1:{port}/berth");
    let e = Store::connect(&url, &MasterKey::generate())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("cannot connect to the database at postgres://berth:[redacted]@"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("topsecret"), "{text}");
    let e = Store::connect("mysql://x", &MasterKey::generate())
        .await
        .unwrap_err();
    assert!(e
        .to_string()
        .contains("must start with sqlite: or postgres://"));
}

#[tokio::test]
async fn a_request_scope_opened_by_token_drops_berths_own_rights() {
    let db = postgres().await;
    let (alice, _, _) = alice_world(&db).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let s = db.system().await;
    let (_, token) = s
        .create_session(bob.id, chrono::Duration::hours(1), None, None)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let (owner, scope) = db
        .store
        .scope_for_token(token.expose(), false)
        .await
        .unwrap()
        .expect("a valid token");
    assert!(matches!(owner, berth_store::TokenOwner::User { ref user, .. } if user.id == bob.id));
    assert_eq!(
        scope.actor(),
        Actor::User {
            id: bob.id,
            role: PlatformRole::Developer
        }
    );
    // The token was checked as berth itself; the handler's queries run as bob only.
    assert!(ids(&scope, "SELECT id::text FROM projects")
        .await
        .is_empty());
    assert!(ids(
        &scope,
        "SELECT id::text FROM sessions WHERE user_id <> berth_user_id()"
    )
    .await
    .is_empty());
    assert_eq!(
        ids(
            &scope,
            "SELECT coalesce(current_setting('berth.system', true), '')"
        )
        .await,
        [""]
    );
    drop(scope);
    assert!(db
        .store
        .scope_for_token("berth_s_nope", true)
        .await
        .unwrap()
        .is_none());
    let _ = alice;
}

/// Tables only berth's own work reads or writes: no user sees a row, not even an admin.
const SYSTEM_TABLES: &[&str] = &[
    "webhook_deliveries",
    "acme_accounts",
    "installation_certificates",
    "certificate_orders",
];

#[tokio::test]
async fn berths_own_tables_are_closed_to_every_user() {
    let db = postgres().await;
    let system = db.store.scope(Actor::System).await.unwrap();
    system
        .save_acme_account("https://ca.test/dir", &SecretString::new("{}"))
        .await
        .unwrap();
    system
        .record_certificate_order("shop", chrono::Utc::now())
        .await
        .unwrap();
    system.commit().await.unwrap();
    let admin = db.user("root", PlatformRole::Admin).await;
    let s = db.as_user(&admin).await;
    for table in SYSTEM_TABLES {
        let forced = ids(
            &s,
            &format!("SELECT (relrowsecurity AND relforcerowsecurity)::text FROM pg_class WHERE relname = '{table}'"),
        )
        .await;
        assert_eq!(forced, ["true"], "{table} forces row-level security");
        let rows = ids(&s, &format!("SELECT '{table}' FROM {table}")).await;
        assert!(
            rows.is_empty(),
            "an admin sees {} rows of {table}",
            rows.len()
        );
    }
}

/// The partitions of the partitioned tables (migration 14): berth reaches them only through
/// their parent, whose policies apply; one named directly shows nothing, even to a platform
/// admin, and only the audit log's default partition lets berth itself in.
#[tokio::test]
async fn a_partition_named_directly_shows_nothing() {
    let db = postgres().await;
    let (alice, _, _) = alice_world(&db).await;
    let s = db.as_user(&alice).await;
    s.append_audit(berth_store::NewAuditEntry {
        user_id: Some(alice.id),
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
    let admin = db.user("root", PlatformRole::Admin).await;
    let s = db.as_user(&admin).await;
    for parent in ["audit_log", "deployment_logs"] {
        let through_parent = ids(&s, &format!("SELECT count(*)::text FROM {parent}")).await;
        assert_eq!(through_parent, ["1"], "the admin sees {parent} through it");
        let partitions = ids(
            &s,
            &format!(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = '{parent}'::regclass AND c.relrowsecurity AND c.relforcerowsecurity"
            ),
        )
        .await;
        let all = ids(
            &s,
            &format!(
                "SELECT count(*)::text FROM pg_inherits WHERE inhparent = '{parent}'::regclass"
            ),
        )
        .await;
        assert_eq!(
            all,
            [partitions.len().to_string()],
            "every partition of {parent} forces RLS"
        );
        assert!(partitions.len() >= 4, "{partitions:?}");
        for p in &partitions {
            let rows = ids(&s, &format!("SELECT count(*)::text FROM {p}")).await;
            assert_eq!(rows, ["0"], "the admin sees rows of {p} named directly");
        }
    }
}

use berth_domain::*;
use berth_store::{NewUser, ProjectChanges, StoreError};

use crate::db::{app, git_app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    users_are_unique_and_found_by_username_or_email,
    projects_are_unique_per_owner_and_paginated_newest_first,
    another_tenants_project_is_not_found,
    team_members_reach_team_projects,
    a_team_keeps_an_owner,
    a_failed_write_leaves_nothing_behind,
    soft_deleted_applications_disappear_and_free_their_name,
    deleting_a_project_cascades_and_deleting_a_user_keeps_history,
    audit_log_filters_and_visibility,
    a_projects_applications_are_counted_by_status_for_whoever_sees_the_project,
);

async fn a_projects_applications_are_counted_by_status_for_whoever_sees_the_project(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let mallory = db.user("mallory", PlatformRole::Developer).await;
    let pa = db.project(&alice, "alice site", None).await;
    let empty = db.project(&alice, "alice empty", None).await;
    let pm = db.project(&mallory, "mallory site", None).await;
    let mut apps = Vec::new();
    for name in ["web", "api", "worker", "cron", "old"] {
        apps.push(app(&db, &alice, &pa, name).await);
    }
    app(&db, &mallory, &pm, "web").await;
    let s = db.system().await;
    for (a, status) in apps.iter().zip([
        ApplicationStatus::Running,
        ApplicationStatus::Running,
        ApplicationStatus::Failed,
        ApplicationStatus::Deploying,
    ]) {
        s.set_application_status(a.id, status).await.unwrap();
    }
    s.soft_delete_application(apps[4].id).await.unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    let counts = s
        .application_counts(&[pa.id, empty.id, pm.id])
        .await
        .unwrap();
    assert_eq!(
        counts.get(&pa.id).copied(),
        Some(ApplicationCounts {
            total: 4,
            running: 2,
            stopped: 0,
            failed: 1,
        }),
        "a deleted application is not counted; a deploying one only in the total"
    );
    assert_eq!(counts.get(&empty.id), None, "no applications: absent, zero");
    assert_eq!(
        counts.get(&pm.id),
        None,
        "another tenant's project is not counted, even when named"
    );
    drop(s);
    let s = db.as_user(&mallory).await;
    let counts = s.application_counts(&[pa.id, pm.id]).await.unwrap();
    assert_eq!(counts.keys().collect::<Vec<_>>(), vec![&pm.id]);
    assert_eq!(counts[&pm.id].total, 1);
}

async fn users_are_unique_and_found_by_username_or_email(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let s = db.system().await;
    let dup = s
        .create_user(NewUser {
            username: Username::parse("alice").unwrap(),
            email: Email::parse("other@example.com").unwrap(),
            password_hash: "x".into(),
            role: PlatformRole::Viewer,
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { code: ErrorCode::NameTaken, message: m }) if m.contains("username or email"))
    );
    drop(s);
    let s = db.system().await;
    let (by_email, hash) = s.user_by_login("ALICE@example.com").await.unwrap().unwrap();
    assert_eq!(by_email.id, alice.id);
    assert!(hash.starts_with("$2b$"));
    assert_eq!(s.user_by_login("alice").await.unwrap().unwrap().0, alice);
    assert!(s.user_by_login("nobody").await.unwrap().is_none());
    assert_eq!(s.count_users().await.unwrap(), 1);
    let promoted = s
        .set_user_role(alice.id, PlatformRole::Admin)
        .await
        .unwrap();
    assert_eq!(promoted.role, PlatformRole::Admin);
}

async fn projects_are_unique_per_owner_and_paginated_newest_first(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    for i in 0..5 {
        db.project(&alice, &format!("project {i}"), None).await;
    }
    // The same name is fine for another owner, not for the same one.
    db.project(&bob, "project 0", None).await;
    let s = db.as_user(&alice).await;
    let dup = s
        .create_project(berth_store::NewProject {
            name: ProjectName::parse("project 0").unwrap(),
            description: None,
            team_id: None,
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    drop(s);

    let s = db.as_user(&alice).await;
    let page = s
        .list_projects(Page::parse(Some(2), Some(1)).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total, 5, "alice sees her five projects only");
    assert_eq!((page.limit, page.offset), (2, 1));
    let names: Vec<&str> = page.items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["project 3", "project 2"]);
    // The total is the same on the last page and past the end, where no row carries it.
    for (offset, items) in [(4, 1), (9, 0)] {
        let p = s
            .list_projects(Page::parse(Some(2), Some(offset)).unwrap())
            .await
            .unwrap();
        assert_eq!((p.items.len(), p.total), (items, 5), "offset {offset}");
    }

    let renamed = s
        .update_project(
            page.items[0].id,
            ProjectChanges {
                name: Some(ProjectName::parse("renamed").unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name.as_str(), "renamed");
    assert!(renamed.updated_at >= renamed.created_at);
}

async fn another_tenants_project_is_not_found(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let admin = db.user("root", PlatformRole::Admin).await;
    let p = db.project(&alice, "secret plans", None).await;
    let a = app(&db, &alice, &p, "web").await;

    let s = db.as_user(&bob).await;
    assert!(matches!(
        s.project(p.id).await,
        Err(StoreError::NotFound("project"))
    ));
    assert!(matches!(
        s.application(a.id).await,
        Err(StoreError::NotFound("application"))
    ));
    assert_eq!(s.list_projects(Page::default()).await.unwrap().total, 0);
    assert!(s.delete_project(p.id).await.is_err());
    assert!(s
        .set_env_var(
            a.id,
            EnvKey::parse("X").unwrap(),
            SecretString::new("1"),
            false
        )
        .await
        .is_err());
    drop(s);

    let s = db.as_user(&admin).await;
    assert_eq!(
        s.project(p.id).await.unwrap().id,
        p.id,
        "platform admins see every project"
    );
    drop(s);
    let s = db.as_user(&alice).await;
    assert_eq!(s.application(a.id).await.unwrap().name.as_str(), "web");
}

async fn team_members_reach_team_projects(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let carol = db.user("carol", PlatformRole::Developer).await;
    let s = db.as_user(&alice).await;
    let (team, owner) = s
        .create_team(TeamName::parse("platform").unwrap(), None, alice.id)
        .await
        .unwrap();
    assert_eq!(owner.role, TeamRole::Owner);
    s.add_team_member(team.id, bob.id, TeamRole::Member)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let p = db.project(&alice, "shared", Some(team.id)).await;
    let s = db.as_user(&bob).await;
    assert_eq!(s.project(p.id).await.unwrap().team_id, Some(team.id));
    assert_eq!(s.team_role(team.id), Some(TeamRole::Member));
    assert_eq!(s.list_teams(Page::default()).await.unwrap().total, 1);
    assert_eq!(s.team_members(team.id).await.unwrap().len(), 2);
    let a = s.create_application(p.id, git_app("api")).await.unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&carol).await;
    assert!(s.project(p.id).await.is_err());
    assert!(s.application(a.id).await.is_err());
    assert!(s.team(team.id).await.is_err());
    assert_eq!(s.list_teams(Page::default()).await.unwrap().total, 0);
}

async fn a_team_keeps_an_owner(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let s = db.as_user(&alice).await;
    let (team, _) = s
        .create_team(TeamName::parse("ops team").unwrap(), None, alice.id)
        .await
        .unwrap();
    s.add_team_member(team.id, bob.id, TeamRole::Admin)
        .await
        .unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    let e = s.remove_team_member(team.id, alice.id).await.unwrap_err();
    assert!(e.to_string().contains("at least one owner"), "{e}");
    let e = s
        .set_team_member_role(team.id, alice.id, TeamRole::Member)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least one owner"), "{e}");
    assert!(matches!(
        s.add_team_member(team.id, bob.id, TeamRole::Viewer).await,
        Err(StoreError::Conflict { .. })
    ));
    drop(s);
    let s = db.as_user(&alice).await;
    s.set_team_member_role(team.id, bob.id, TeamRole::Owner)
        .await
        .unwrap();
    s.remove_team_member(team.id, alice.id).await.unwrap();
    let members = s.team_members(team.id).await;
    s.commit().await.unwrap();
    assert!(members.is_err() || members.unwrap().len() == 1);
    let s = db.as_user(&bob).await;
    let members = s.team_members(team.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].user_id, members[0].role),
        (bob.id, TeamRole::Owner)
    );
}

async fn a_failed_write_leaves_nothing_behind(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "atomic", None).await;
    app(&db, &alice, &p, "web").await;
    {
        // Two writes in one scope; the second fails, the scope is dropped: neither is kept.
        let s = db.as_user(&alice).await;
        s.create_application(p.id, git_app("api")).await.unwrap();
        let dup = s.create_application(p.id, git_app("web")).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict { code: ErrorCode::NameTaken, message: m }) if m.contains("already has an application"))
        );
    }
    let s = db.as_user(&alice).await;
    let apps = s.list_applications(p.id, Page::default()).await.unwrap();
    assert_eq!(
        apps.items
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["web"]
    );

    // Invalid runtime configuration is refused before anything is written.
    let mut bad = git_app("bad");
    bad.runtime.command = Some(vec![]);
    let e = s.create_application(p.id, bad).await.unwrap_err();
    match e {
        StoreError::Validation(v) => assert_eq!(v.errors[0].field, "command"),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

async fn soft_deleted_applications_disappear_and_free_their_name(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "soft", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    s.soft_delete_application(a.id).await.unwrap();
    assert!(matches!(
        s.application(a.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        s.list_applications(p.id, Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    let again = s.create_application(p.id, git_app("web")).await.unwrap();
    assert_ne!(again.id, a.id);
    s.commit().await.unwrap();
}

async fn deleting_a_project_cascades_and_deleting_a_user_keeps_history(db: TestDb) {
    use sea_orm::{ConnectionTrait, Statement};
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Admin).await;
    let p = db.project(&alice, "doomed", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&bob).await;
    let d = s
        .create_deployment(
            a.id,
            berth_store::NewDeployment {
                trigger: DeploymentTrigger::Manual,
                triggered_by: Some(bob.id),
                service_token_id: None,
                commit_sha: None,
                build_id: None,
                snapshot: s.snapshot(a.id).await.unwrap(),
                rollback_of: None,
            },
        )
        .await
        .unwrap();
    s.append_audit(berth_store::NewAuditEntry {
        user_id: Some(bob.id),
        action: "deployment.create".into(),
        resource_type: "deployment".into(),
        resource_id: Some(d.id.to_string()),
        details: serde_json::json!({}),
        ip_address: None,
        user_agent: None,
    })
    .await
    .unwrap();
    s.commit().await.unwrap();

    // Deleting bob keeps the deployment and the audit entry, with the user cleared.
    let s = db.system().await;
    s.delete_user(bob.id).await.unwrap();
    let d2 = s.deployment(d.id).await.unwrap();
    assert_eq!(d2.triggered_by, None);
    let audit = s.list_audit(Default::default(), 20, None).await.unwrap();
    assert_eq!(audit.items[0].user_id, None);
    s.commit().await.unwrap();
    // A project, or the user who owns it, whose application is not deleted stays: deleting the
    // application first is what removes what berth runs for it.
    let s = db.system().await;
    let e = s.delete_project(p.id).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { message: m, .. } if m.contains("still has applications (web)")),
        "{e:?}"
    );
    drop(s);
    let s = db.system().await;
    let e = s.delete_user(alice.id).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { message: m, .. } if m.contains("(web)")),
        "{e:?}"
    );
    drop(s);
    let s = db.system().await;
    s.soft_delete_application(a.id).await.unwrap();
    s.delete_project(p.id).await.unwrap();
    assert!(s.deployment(d.id).await.is_err());
    let count = s
        .connection()
        .query_one(Statement::from_string(
            s.connection().get_database_backend(),
            "SELECT COUNT(*) AS n FROM applications",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(count, 0, "applications went with their project");
    s.commit().await.unwrap();
}

async fn audit_log_filters_and_visibility(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let admin = db.user("root", PlatformRole::SuperAdmin).await;
    let s = db.system().await;
    for (user, action, rtype) in [
        (Some(alice.id), "project.create", "project"),
        (Some(admin.id), "user.create", "user"),
        (Some(alice.id), "application.update", "application"),
        (None, "auth.login_failed", "user"),
    ] {
        s.append_audit(berth_store::NewAuditEntry {
            user_id: user,
            action: action.into(),
            resource_type: rtype.into(),
            resource_id: None,
            details: serde_json::json!({ "ok": true }),
            ip_address: Some("127.0.0.1".into()),
            user_agent: Some("test".into()),
        })
        .await
        .unwrap();
    }
    s.commit().await.unwrap();
    let s = db.as_user(&admin).await;
    let all = s.list_audit(Default::default(), 20, None).await.unwrap();
    assert_eq!(all.items.len(), 4);
    assert_eq!(all.next, None, "one page holds them all");
    assert_eq!(all.items[0].action, "auth.login_failed", "newest first");
    // Page by page, two at a time: every entry once, newest first, and the last page says
    // there is no next one.
    let first = s.list_audit(Default::default(), 2, None).await.unwrap();
    let second = s
        .list_audit(Default::default(), 2, first.next)
        .await
        .unwrap();
    assert_eq!(second.next, None);
    let walked: Vec<_> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|e| e.id)
        .collect();
    assert_eq!(walked, all.items.iter().map(|e| e.id).collect::<Vec<_>>());
    let by_alice = s
        .list_audit(
            berth_store::AuditFilter {
                user_id: Some(alice.id),
                ..Default::default()
            },
            20,
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_alice.items.len(), 2);
    let users = s
        .list_audit(
            berth_store::AuditFilter {
                resource_type: Some("user".into()),
                ..Default::default()
            },
            20,
            None,
        )
        .await
        .unwrap();
    assert_eq!(users.items.len(), 2);
    drop(s);
    let s = db.as_user(&alice).await;
    assert_eq!(
        s.list_audit(Default::default(), 20, None)
            .await
            .unwrap()
            .items
            .len(),
        2,
        "a user sees their own entries"
    );
}

mod read_only {
    use berth_domain::*;
    use berth_store::Actor;
    use berth_testkit::both_backends;

    use crate::db::TestDb;

    both_backends!(a_read_scope_reads_and_refuses_writes);

    async fn a_read_scope_reads_and_refuses_writes(db: TestDb) {
        let alice = db.user("alice", PlatformRole::Developer).await;
        db.project(&alice, "readable", None).await;
        let s = db
            .store
            .read_scope(Actor::User {
                id: alice.id,
                role: alice.role,
            })
            .await
            .unwrap();
        assert_eq!(s.list_projects(Page::default()).await.unwrap().total, 1);
        let write = s
            .create_project(berth_store::NewProject {
                name: ProjectName::parse("sneaky").unwrap(),
                description: None,
                team_id: None,
            })
            .await;
        assert!(write.is_err(), "a read scope refuses writes");
        drop(s);
        // Readers and the writer go on side by side.
        let reader = db.store.read_scope(Actor::System).await.unwrap();
        let writer = db.store.scope(Actor::System).await.unwrap();
        writer
            .append_audit(berth_store::NewAuditEntry {
                user_id: None,
                action: "x".into(),
                resource_type: "user".into(),
                resource_id: None,
                details: serde_json::json!({}),
                ip_address: None,
                user_agent: None,
            })
            .await
            .unwrap();
        writer.commit().await.unwrap();
        assert_eq!(reader.count_users().await.unwrap(), 1);
        let s = db
            .store
            .read_scope(Actor::User {
                id: alice.id,
                role: alice.role,
            })
            .await
            .unwrap();
        assert_eq!(s.list_projects(Page::default()).await.unwrap().total, 1);
    }
}

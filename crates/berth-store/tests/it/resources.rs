use berth_domain::*;
use berth_store::{Actor, NewCertificate, NewDatabase, NewVolume, StoreError};
use sea_orm::{ConnectionTrait, Statement};

use crate::db::{app, git_app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    secret_env_values_are_write_only_and_encrypted,
    git_credentials_are_encrypted_at_rest,
    volumes_restrict_deleting_their_owner,
    domains_are_globally_unique_without_saying_whose,
    certificates_keep_their_key_encrypted_and_refuse_expired_ones,
    certificate_orders_are_counted_by_subject_and_forgotten_after_a_day,
    databases_and_backups,
);

/// The raw bytes of one column of one row, read past every repository.
async fn raw(db: &TestDb, sql: &str) -> Vec<u8> {
    let s = db.system().await;
    let row = s
        .connection()
        .query_one(Statement::from_string(
            s.connection().get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<Vec<u8>>(0).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn secret_env_values_are_write_only_and_encrypted(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "envs", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    let secret = s
        .set_env_var(
            a.id,
            EnvKey::parse("DATABASE_URL").unwrap(),
            SecretString::new("postgres://u:hunter2@db/app"),
            true,
        )
        .await
        .unwrap();
    assert_eq!(secret.value, None);
    s.set_env_var(
        a.id,
        EnvKey::parse("PORT").unwrap(),
        SecretString::new("8080"),
        false,
    )
    .await
    .unwrap();
    // Setting a key again replaces it.
    s.set_env_var(
        a.id,
        EnvKey::parse("PORT").unwrap(),
        SecretString::new("9090"),
        false,
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    let listed = s.list_env_vars(a.id).await.unwrap();
    let shown: Vec<(&str, Option<&str>, bool)> = listed
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_deref(), e.is_secret))
        .collect();
    assert_eq!(
        shown,
        [("DATABASE_URL", None, true), ("PORT", Some("9090"), false)]
    );
    let resolved = s.resolved_env(a.id).await.unwrap();
    assert_eq!(resolved[0].1.expose(), "postgres://u:hunter2@db/app");
    assert_eq!(format!("{:?}", resolved[0].1), "[redacted]");
    assert!(
        resolved[0].2 && !resolved[1].2,
        "which variables are secret is kept"
    );
    s.delete_env_var(a.id, &EnvKey::parse("PORT").unwrap())
        .await
        .unwrap();
    assert!(matches!(
        s.delete_env_var(a.id, &EnvKey::parse("PORT").unwrap())
            .await,
        Err(StoreError::NotFound(_))
    ));
    s.commit().await.unwrap();

    let stored = raw(
        &db,
        "SELECT secret_value FROM env_vars WHERE key = 'DATABASE_URL'",
    )
    .await;
    assert!(
        !contains(&stored, "hunter2"),
        "the secret is not stored in clear"
    );
}

async fn git_credentials_are_encrypted_at_rest(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "private", None).await;
    let mut new = git_app("web");
    new.credentials = Some(GitCredentials::Token {
        token: SecretString::new("ghp_topsecret"),
    });
    let s = db.as_user(&alice).await;
    let a = s.create_application(p.id, new).await.unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    let git = s.git_source(a.id).await.unwrap();
    assert!(git.has_credentials);
    assert_eq!(git.branch.as_str(), "main");
    match s.git_credentials(a.id).await.unwrap() {
        Some(GitCredentials::Token { token }) => assert_eq!(token.expose(), "ghp_topsecret"),
        other => panic!("unexpected {other:?}"),
    }
    s.set_last_deployed_commit(a.id, &CommitSha::parse(&"a".repeat(40)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        s.git_source(a.id)
            .await
            .unwrap()
            .last_deployed_commit
            .unwrap()
            .as_str(),
        "a".repeat(40)
    );
    s.commit().await.unwrap();
    let stored = raw(&db, "SELECT credentials_encrypted FROM git_sources").await;
    assert!(!contains(&stored, "topsecret"));
}

async fn volumes_restrict_deleting_their_owner(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "stateful", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    let v = s
        .create_volume(NewVolume {
            name: VolumeName::parse("web-data").unwrap(),
            kind: VolumeKind::DockerVolume,
            mount_path: MountPath::parse("/data").unwrap(),
            size_gb: SizeGb::parse(10).unwrap(),
            owner: VolumeOwner::Application(a.id),
        })
        .await
        .unwrap();
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    assert_eq!(
        s.list_volumes(a.id).await.unwrap(),
        std::slice::from_ref(&v)
    );
    s.soft_delete_application(a.id).await.unwrap();
    let e = s.delete_project(p.id).await.unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict { message: ref m, .. } if m.contains("volumes")),
        "{e:?}"
    );
    drop(s);
    let s = db.as_user(&alice).await;
    let dup = s
        .create_volume(NewVolume {
            name: VolumeName::parse("web-data").unwrap(),
            kind: VolumeKind::DockerVolume,
            mount_path: MountPath::parse("/other").unwrap(),
            size_gb: SizeGb::parse(1).unwrap(),
            owner: VolumeOwner::Application(a.id),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })));
    drop(s);
    // The name is the application's own: another tenant's application may use it too.
    let bob = db.user("bob", PlatformRole::Developer).await;
    let pb = db.project(&bob, "elsewhere", None).await;
    let b = app(&db, &bob, &pb, "web").await;
    let s = db.as_user(&bob).await;
    let theirs = s
        .create_volume(NewVolume {
            name: VolumeName::parse("web-data").unwrap(),
            kind: VolumeKind::DockerVolume,
            mount_path: MountPath::parse("/data").unwrap(),
            size_gb: SizeGb::parse(1).unwrap(),
            owner: VolumeOwner::Application(b.id),
        })
        .await
        .unwrap();
    assert_ne!(theirs.engine_name, v.engine_name);
    s.commit().await.unwrap();
    let s = db.as_user(&alice).await;
    s.delete_volume(v.id).await.unwrap();
    s.soft_delete_application(a.id).await.unwrap();
    s.delete_project(p.id).await.unwrap();
    s.commit().await.unwrap();
}

async fn domains_are_globally_unique_without_saying_whose(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let bob = db.user("bob", PlatformRole::Developer).await;
    let pa = db.project(&alice, "alice site", None).await;
    let pb = db.project(&bob, "bob site", None).await;
    let a = app(&db, &alice, &pa, "web").await;
    let b = app(&db, &bob, &pb, "web").await;
    let s = db.as_user(&alice).await;
    let d = s
        .create_domain(
            pa.id,
            DomainName::parse("www.Example.com").unwrap(),
            DomainTarget::Application(a.id),
            true,
            DomainRouting::default(),
        )
        .await
        .unwrap();
    assert_eq!(d.host.as_str(), "www.example.com");
    s.commit().await.unwrap();

    let s = db.as_user(&bob).await;
    let e = s
        .create_domain(
            pb.id,
            DomainName::parse("www.example.com").unwrap(),
            DomainTarget::Application(b.id),
            true,
            DomainRouting::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "this domain is already in use");
    drop(s);
    let s = db.as_user(&bob).await;
    // A domain may only target an application of its own project.
    assert!(s
        .create_domain(
            pb.id,
            DomainName::parse("b.example.com").unwrap(),
            DomainTarget::Application(a.id),
            true,
            DomainRouting::default(),
        )
        .await
        .is_err());
    assert!(matches!(
        s.domain(d.id).await,
        Err(StoreError::NotFound("domain"))
    ));
    drop(s);
    let s = db.as_user(&alice).await;
    assert_eq!(
        s.list_domains(a.id).await.unwrap(),
        std::slice::from_ref(&d)
    );

    // Routing options are kept whole, checked against the host, and changed as a whole.
    let routing = DomainRouting {
        path_prefix: "/shop".into(),
        port: Some(PortNumber::parse(8080).unwrap()),
        https_redirect: false,
        hsts: true,
        www_redirect: WwwRedirect::ToWww,
        basic_auth: vec![BasicAuthEntry {
            username: "ann".into(),
            password_hash: "$2b$04$hash".into(),
        }],
        max_body_mb: 5,
    };
    let changed = s
        .update_domain(d.id, None, None, Some(routing.clone()))
        .await
        .unwrap();
    assert_eq!(changed.routing, routing);
    assert_eq!(s.domain(d.id).await.unwrap().routing, routing);
    let bad = DomainRouting {
        path_prefix: "shop".into(),
        ..routing.clone()
    };
    assert!(matches!(
        s.update_domain(d.id, None, None, Some(bad)).await,
        Err(StoreError::Validation(_))
    ));
    let e = s
        .create_domain(
            pa.id,
            DomainName::parse("apex.example.com").unwrap(),
            DomainTarget::Application(a.id),
            true,
            routing,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("www_redirect"), "{e}");
    assert_eq!(
        s.all_domains().await.unwrap().len(),
        1,
        "alice sees her own"
    );
}

async fn certificate_orders_are_counted_by_subject_and_forgotten_after_a_day(db: TestDb) {
    let now = chrono::Utc::now();
    let system = db.store.scope(Actor::System).await.unwrap();
    let hours = |h: i64| now - chrono::Duration::hours(h);
    for at in [
        hours(30),
        hours(2),
        hours(0) - chrono::Duration::minutes(59),
        now,
    ] {
        system.record_certificate_order("shop", at).await.unwrap();
    }
    system
        .record_certificate_order("host:berth.test", now)
        .await
        .unwrap();
    let last_hour = system.certificate_orders_since(hours(1)).await.unwrap();
    assert_eq!(last_hour.get("shop"), Some(&2));
    assert_eq!(last_hour.get("host:berth.test"), Some(&1));
    let last_two_days = system.certificate_orders_since(hours(48)).await.unwrap();
    assert_eq!(
        last_two_days.get("shop"),
        Some(&3),
        "the order of 30 hours ago was forgotten"
    );
    system.commit().await.unwrap();
}

async fn certificates_keep_their_key_encrypted_and_refuse_expired_ones(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "tls", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let s = db.as_user(&alice).await;
    let d = s
        .create_domain(
            p.id,
            DomainName::parse("tls.example.com").unwrap(),
            DomainTarget::Application(a.id),
            true,
            DomainRouting::default(),
        )
        .await
        .unwrap();
    let key = SecretString::new(
        "-----BEGIN PRIVATE KEY-----\nsecretkeymaterial\n-----END PRIVATE KEY-----",
    );
    let cert = |issuer: &'static str, days: i64, source| NewCertificate {
        issuer,
        certificate_pem: "-----BEGIN CERTIFICATE-----",
        private_key_pem: &key,
        expires_at: chrono::Utc::now() + chrono::Duration::days(days),
        source,
        renew_at: Some(chrono::Utc::now() + chrono::Duration::days(days / 2)),
    };
    let expired = s
        .add_certificate(d.id, cert("test", -1, CertificateSource::Acme))
        .await;
    assert!(matches!(expired, Err(StoreError::Validation(_))));
    s.set_certificate_attempts(
        d.id,
        &CertificateAttempts {
            failures: 3,
            last_error: Some("the CA is down".into()),
            retry_at: Some(chrono::Utc::now()),
        },
    )
    .await
    .unwrap();
    assert_eq!(s.domain(d.id).await.unwrap().certificate.failures, 3);
    let first = s
        .add_certificate(d.id, cert("Pebble", 90, CertificateSource::Acme))
        .await
        .unwrap();
    assert_eq!(
        s.domain(d.id).await.unwrap().certificate,
        CertificateAttempts::default(),
        "an issued certificate clears the failures"
    );
    // A newer one replaces it, even when it expires sooner (an uploaded one, say).
    let c = s
        .add_certificate(d.id, cert("Custom CA", 30, CertificateSource::Custom))
        .await
        .unwrap();
    let current = s.current_certificate(d.id).await.unwrap().unwrap();
    assert_eq!(current.id, c.id);
    assert_ne!(current.id, first.id);
    assert_eq!(current.source, CertificateSource::Custom);
    s.request_certificate_renewal(d.id).await.unwrap();
    let renewed = s.current_certificate(d.id).await.unwrap().unwrap();
    assert!(renewed.renew_at.unwrap() <= chrono::Utc::now());
    s.commit().await.unwrap();
    let system = db.store.scope(Actor::System).await.unwrap();
    let all = system.all_current_certificates().await.unwrap();
    assert_eq!(all.len(), 1, "one current certificate per domain");
    let (served, k) = &all[0];
    assert_eq!(served.id, c.id);
    assert_eq!(k.expose(), key.expose());
    let creds = SecretString::new("{\"id\":\"acct\"}");
    system
        .save_acme_account("https://ca.test/dir", &creds)
        .await
        .unwrap();
    assert_eq!(
        system
            .acme_account("https://ca.test/dir")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        creds.expose()
    );
    assert!(system
        .acme_account("https://other.test/dir")
        .await
        .unwrap()
        .is_none());

    // berth's own hosts: attempts recorded before any certificate, then the certificate.
    assert!(system.host_certificates().await.unwrap().is_empty());
    let failing = CertificateAttempts {
        failures: 1,
        last_error: Some("no answer".into()),
        // Both backends keep microseconds.
        retry_at: chrono::DateTime::from_timestamp_micros(chrono::Utc::now().timestamp_micros()),
    };
    system
        .set_host_certificate_attempts("berth.example.com", &failing)
        .await
        .unwrap();
    let own = system.host_certificates().await.unwrap();
    assert_eq!((own.len(), &own[0].attempts), (1, &failing));
    assert!(own[0].certificate_pem.is_none());
    system
        .save_host_certificate(
            "berth.example.com",
            "-----BEGIN CERTIFICATE-----",
            &key,
            chrono::Utc::now() + chrono::Duration::days(90),
            None,
        )
        .await
        .unwrap();
    let own = system.host_certificates().await.unwrap();
    assert_eq!(own[0].attempts, CertificateAttempts::default());
    assert_eq!(
        own[0].private_key_pem.as_ref().unwrap().expose(),
        key.expose()
    );
    system.commit().await.unwrap();
    let stored = raw(
        &db,
        "SELECT private_key_encrypted FROM installation_certificates",
    )
    .await;
    assert!(!contains(&stored, "secretkeymaterial"));
    let stored = raw(&db, "SELECT private_key_encrypted FROM certificates").await;
    assert!(!contains(&stored, "secretkeymaterial"));
}

async fn databases_and_backups(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "data", None).await;
    let s = db.as_user(&alice).await;
    let d = s
        .create_database(
            p.id,
            NewDatabase {
                name: ResourceName::parse("app-db").unwrap(),
                kind: DatabaseKind::Postgresql,
                version: "15".into(),
                config: serde_json::json!({ "max_connections": 100 }),
                connection_string: Some(SecretString::new("postgres://app:pw@app-db/app")),
            },
        )
        .await
        .unwrap();
    assert_eq!(d.status, DatabaseStatus::Initializing);
    assert_eq!(
        s.database_connection_string(d.id)
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "postgres://app:pw@app-db/app"
    );
    s.create_backup(d.id, BackupKind::Full).await.unwrap();
    s.create_backup(d.id, BackupKind::Snapshot).await.unwrap();
    let page = s.list_backups(d.id, Page::default()).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].kind, BackupKind::Snapshot);
    s.commit().await.unwrap();
    let stored = raw(&db, "SELECT connection_string_encrypted FROM databases").await;
    assert!(!contains(&stored, "pw@app-db"));
}

//! The one namespace of host names, tried by a developer of another tenant.

use berth_domain::*;
use berth_store::StoreError;

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    host_names_are_claimed_once_across_tenants_and_berths_own_are_reserved,
    every_change_the_router_serves_moves_the_edge_epoch_and_reads_do_not,
);

/// The router in a process of its own reads domains and certificates again only when the
/// edge epoch moved: a change that did not move it would never reach the router.
async fn every_change_the_router_serves_moves_the_edge_epoch_and_reads_do_not(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "site", None).await;
    let a = app(&db, &alice, &p, "web").await;
    let epoch = || async { db.store.edge_epoch().await.unwrap() };
    // One change in its own committed transaction; the epoch must have moved after it.
    macro_rules! moves {
        ($what:literal, |$s:ident| $change:expr) => {{
            let before = epoch().await;
            let $s = db.as_user(&alice).await;
            $change;
            $s.commit().await.unwrap();
            assert!(epoch().await > before, "{} moves the edge epoch", $what);
        }};
    }
    let domain;
    moves!("creating a domain", |s| {
        domain = Some(
            s.create_domain(
                p.id,
                DomainName::parse("www.example.com").unwrap(),
                DomainTarget::Application(a.id),
                true,
                DomainRouting::default(),
            )
            .await
            .unwrap(),
        )
    });
    let d = domain.unwrap();
    moves!("changing a domain", |s| s
        .update_domain(d.id, None, None, Some(routing(WwwRedirect::ToWww)))
        .await
        .unwrap());
    moves!("an application's status", |s| s
        .set_application_status(a.id, ApplicationStatus::Stopped)
        .await
        .unwrap());
    moves!("an application's configuration", |s| s
        .update_application(
            a.id,
            berth_store::ApplicationChanges {
                runtime: Some(
                    serde_json::from_value(serde_json::json!({ "ports": [{ "container": 9090 }] }))
                        .unwrap()
                ),
                ..Default::default()
            }
        )
        .await
        .unwrap());
    moves!("asking a certificate to renew", |s| s
        .request_certificate_renewal(d.id)
        .await
        .unwrap());
    moves!("a certificate order's outcome", |s| s
        .set_certificate_attempts(
            d.id,
            &CertificateAttempts {
                failures: 1,
                last_error: Some("no".into()),
                retry_at: None
            }
        )
        .await
        .unwrap());
    moves!("removing a domain's certificates", |s| s
        .delete_certificates(d.id)
        .await
        .unwrap());
    let before = epoch().await;
    let s = db.system().await;
    s.save_host_certificate(
        "berth.example.com",
        "-----BEGIN CERTIFICATE-----",
        &SecretString::new("-----BEGIN PRIVATE KEY-----"),
        chrono::Utc::now() + chrono::Duration::days(30),
        None,
    )
    .await
    .unwrap();
    s.commit().await.unwrap();
    assert!(
        epoch().await > before,
        "berth's own certificate moves the edge epoch"
    );
    moves!("deleting a domain", |s| s
        .delete_domain(d.id)
        .await
        .unwrap());
    moves!("deleting an application", |s| s
        .soft_delete_application(a.id)
        .await
        .unwrap());

    // Reading, and a change rolled back, leave it where it was.
    let other = app(&db, &alice, &p, "other").await;
    let before = epoch().await;
    let s = db.as_user(&alice).await;
    s.all_domains().await.unwrap();
    s.routed_applications().await.unwrap();
    drop(s);
    let s = db.as_user(&alice).await;
    s.create_domain(
        p.id,
        DomainName::parse("gone.example.com").unwrap(),
        DomainTarget::Application(other.id),
        true,
        DomainRouting::default(),
    )
    .await
    .unwrap();
    s.rollback().await.unwrap();
    assert_eq!(
        epoch().await,
        before,
        "reads and rolled-back changes move nothing"
    );
}

fn routing(www: WwwRedirect) -> DomainRouting {
    DomainRouting {
        www_redirect: www,
        ..DomainRouting::default()
    }
}

async fn host_names_are_claimed_once_across_tenants_and_berths_own_are_reserved(mut db: TestDb) {
    db.store = db
        .store
        .clone()
        .with_reserved_hosts(["berth.example.com".to_owned()]);
    let alice = db.user("alice", PlatformRole::Developer).await;
    let mallory = db.user("mallory", PlatformRole::Developer).await;
    let pa = db.project(&alice, "alice site", None).await;
    let pm = db.project(&mallory, "mallory site", None).await;
    let a = app(&db, &alice, &pa, "web").await;
    let m = app(&db, &mallory, &pm, "web").await;

    // One claim of `host` by a tenant (user, project, application), committed when it passes.
    let claim = |tenant: &(User, ProjectId, ApplicationId), host: &str, www: WwwRedirect| {
        let db = &db;
        let (who, project, target) = tenant.clone();
        let host = host.to_owned();
        async move {
            let s = db.as_user(&who).await;
            let d = s
                .create_domain(
                    project,
                    DomainName::parse(&host).unwrap(),
                    DomainTarget::Application(target),
                    true,
                    routing(www),
                )
                .await?;
            s.commit().await.unwrap();
            Ok::<_, StoreError>(d)
        }
    };
    let alice_t = (alice.clone(), pa.id, a.id);
    let mallory_t = (mallory.clone(), pm.id, m.id);
    let shop = claim(&alice_t, "shop.test", WwwRedirect::ToApex)
        .await
        .unwrap();
    claim(&alice_t, "*.apps.test", WwwRedirect::None)
        .await
        .unwrap();
    claim(&alice_t, "one.other.test", WwwRedirect::None)
        .await
        .unwrap();

    // Another tenant: alice's alias, a name under her wildcard, a wildcard over her name,
    // an apex whose alias is hers, and berth's own host in every form.
    for (host, r, says) in [
        ("www.shop.test", WwwRedirect::None, "is already claimed by"),
        (
            "x.apps.test",
            WwwRedirect::None,
            "is covered by the wildcard",
        ),
        ("*.other.test", WwwRedirect::None, "would cover a name"),
        ("www.shop.test", WwwRedirect::ToWww, "is already claimed by"),
        ("berth.example.com", WwwRedirect::None, "is reserved"),
        ("www.berth.example.com", WwwRedirect::None, "is reserved"),
        ("login.berth.example.com", WwwRedirect::None, "is reserved"),
        ("*.example.com", WwwRedirect::None, "is reserved"),
        ("example.com", WwwRedirect::None, ""),
    ] {
        let got = claim(&mallory_t, host, r).await;
        if says.is_empty() {
            got.unwrap();
            continue;
        }
        let Err(StoreError::Conflict { message, .. }) = got else {
            panic!("{host} with {r:?} was accepted: {got:?}");
        };
        assert!(message.contains(says), "{host}: {message}");
        assert!(
            !message.contains("shop.test (") && !message.contains(&shop.id.to_string()),
            "the holder is not named to another tenant: {message}"
        );
    }
    // Alice sees her own domain named as the holder.
    let Err(StoreError::Conflict { message, .. }) =
        claim(&alice_t, "www.shop.test", WwwRedirect::None).await
    else {
        panic!("a second claim of one name");
    };
    assert!(message.contains(&shop.id.to_string()), "{message}");
    // Within one project an exact name beside the wildcard is fine.
    claim(&alice_t, "exact.apps.test", WwwRedirect::None)
        .await
        .unwrap();

    // PATCH claims the new alias by the same rule, and frees the old one.
    let s = db.as_user(&mallory).await;
    let mine = s
        .create_domain(
            pm.id,
            DomainName::parse("mallory.test").unwrap(),
            DomainTarget::Application(m.id),
            true,
            DomainRouting::default(),
        )
        .await
        .unwrap();
    s.commit().await.unwrap();
    let s = db.as_user(&alice).await;
    s.update_domain(shop.id, None, None, Some(routing(WwwRedirect::None)))
        .await
        .unwrap();
    s.commit().await.unwrap();
    let s = db.as_user(&mallory).await;
    let e = s
        .update_domain(mine.id, None, None, Some(routing(WwwRedirect::ToApex)))
        .await
        .unwrap();
    assert_eq!(e.routing.www_redirect, WwwRedirect::ToApex);
    s.commit().await.unwrap();
    // www.shop.test is free again once alice's alias went.
    claim(&mallory_t, "www.shop.test", WwwRedirect::None)
        .await
        .unwrap();
    // Deleting a domain frees its names.
    let s = db.as_user(&mallory).await;
    s.delete_domain(mine.id).await.unwrap();
    s.commit().await.unwrap();
    claim(&alice_t, "www.mallory.test", WwwRedirect::None)
        .await
        .unwrap();
}

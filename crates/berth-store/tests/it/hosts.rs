//! The one namespace of host names, tried by a developer of another tenant.

use berth_domain::*;
use berth_store::StoreError;

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(host_names_are_claimed_once_across_tenants_and_berths_own_are_reserved);

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

use berth_domain::*;
use berth_store::TokenOwner;

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(
    tokens_authenticate_until_revoked_or_expired,
    a_token_revoked_through_another_store_is_refused_here_too,
);

/// Two berth processes on one database: one remembers a token that checked out (for an hour
/// here, so only the auth epoch can make it forget), the other revokes it; the first refuses
/// it from then on, and a role taken away or a team joined the same way applies there too.
async fn a_token_revoked_through_another_store_is_refused_here_too(db: TestDb) {
    use berth_store::{Actor, MasterKey, Store};
    let alice = db.user("alice", PlatformRole::Admin).await;
    let here = db
        .store
        .clone()
        .with_token_cache_ttl(std::time::Duration::from_secs(3600));
    let there = Store::connect(&db.inner.url, &MasterKey::generate())
        .await
        .unwrap();
    let s = db.system().await;
    let (session, secret) = s
        .create_session(alice.id, chrono::Duration::hours(1), None, None)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let role_here = |store: Store, secret: String| async move {
        match store.scope_for_token(&secret, true).await.unwrap() {
            Some((TokenOwner::User { user, .. }, _)) => Some(user.role),
            Some(other) => panic!("unexpected {other:?}"),
            None => None,
        }
    };
    let token = secret.expose().to_owned();
    assert_eq!(
        role_here(here.clone(), token.clone()).await,
        Some(PlatformRole::Admin)
    );
    // Taken away there, the role goes here too (the cached owner carries it).
    let s = there.scope(Actor::System).await.unwrap();
    s.set_user_role(alice.id, PlatformRole::Developer)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let until = |want: Option<PlatformRole>| {
        let (here, token) = (here.clone(), token.clone());
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let got = role_here(here.clone(), token.clone()).await;
                if got == want {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "still {got:?} here, not {want:?}, 30 s after the change there"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    until(Some(PlatformRole::Developer)).await;
    // A team joined there is hers here too (SQLite's scope takes her memberships from what
    // is remembered with the token).
    let s = there.scope(Actor::System).await.unwrap();
    let (team, _) = s
        .create_team(TeamName::parse("ops").unwrap(), None, alice.id)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, scope) = here.scope_for_token(&token, true).await.unwrap().unwrap();
        if scope.team_role(team.id) == Some(TeamRole::Owner) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the team joined there is still not hers here, 30 s after"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let s = there.scope(Actor::System).await.unwrap();
    s.revoke_session(session.id).await.unwrap();
    s.commit().await.unwrap();
    until(None).await;
    there.close().await.unwrap();
}

async fn tokens_authenticate_until_revoked_or_expired(db: TestDb) {
    let alice = db.user("alice", PlatformRole::Developer).await;
    let p = db.project(&alice, "tokens", None).await;
    let a = app(&db, &alice, &p, "web").await;

    let s = db.as_user(&alice).await;
    let (svc, svc_secret) = s
        .create_service_token(
            a.id,
            Label::parse("ci").unwrap(),
            Label::parse("github").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(svc.origin.as_str(), "github");
    let (api, api_secret) = s
        .create_api_token(Label::parse("laptop").unwrap(), None)
        .await
        .unwrap();
    let (_, expired_secret) = s
        .create_api_token(
            Label::parse("old").unwrap(),
            Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        )
        .await
        .unwrap();
    assert_eq!(s.list_api_tokens().await.unwrap().len(), 2);
    s.commit().await.unwrap();
    let s = db.system().await;
    let (session, session_secret) = s
        .create_session(
            alice.id,
            chrono::Duration::hours(1),
            Some("127.0.0.1"),
            Some("test"),
        )
        .await
        .unwrap();
    s.commit().await.unwrap();

    let s = db.system().await;
    match s.authenticate(svc_secret.expose()).await.unwrap() {
        Some(TokenOwner::Service(t)) => assert_eq!(t.application_id, a.id),
        other => panic!("unexpected {other:?}"),
    }
    match s.authenticate(api_secret.expose()).await.unwrap() {
        Some(TokenOwner::User {
            user, api_token, ..
        }) => assert_eq!((user.id, api_token), (alice.id, Some(api.id))),
        other => panic!("unexpected {other:?}"),
    }
    match s.authenticate(session_secret.expose()).await.unwrap() {
        Some(TokenOwner::User {
            user, session: sid, ..
        }) => assert_eq!((user.id, sid), (alice.id, Some(session.id))),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.authenticate(expired_secret.expose()).await.unwrap(), None);
    assert_eq!(s.authenticate("berth_p_forged").await.unwrap(), None);
    assert_eq!(s.authenticate("").await.unwrap(), None);
    s.commit().await.unwrap();

    let s = db.as_user(&alice).await;
    s.revoke_service_token(svc.id).await.unwrap();
    s.revoke_api_token(api.id).await.unwrap();
    s.commit().await.unwrap();
    let s = db.system().await;
    s.revoke_session(session.id).await.unwrap();
    assert_eq!(s.authenticate(svc_secret.expose()).await.unwrap(), None);
    assert_eq!(s.authenticate(api_secret.expose()).await.unwrap(), None);
    assert_eq!(s.authenticate(session_secret.expose()).await.unwrap(), None);
}

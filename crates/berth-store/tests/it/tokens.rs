use berth_domain::*;
use berth_store::TokenOwner;

use crate::db::{app, TestDb};
use berth_testkit::both_backends;

both_backends!(tokens_authenticate_until_revoked_or_expired);

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

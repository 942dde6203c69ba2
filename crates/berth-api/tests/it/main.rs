#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
use actix_web::test;
use berth_api::{build_app, AppState};
use berth_store::{MasterKey, Store};

async fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let store = Store::connect(&url, &MasterKey::generate()).await.unwrap();
    store.migrate().await.unwrap();
    (AppState { store }, dir)
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let (state, _dir) = state().await;
    let app = test::init_service(build_app(state)).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-request-id").is_some());
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], "ok");
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn readiness_fails_when_the_database_is_gone() {
    let (state, _dir) = state().await;
    let store = state.store.clone();
    let app = test::init_service(build_app(state)).await;
    store.close().await.unwrap();
    let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["status"], 503);
    assert_eq!(body["detail"], "the database is not reachable");
}

#[actix_web::test]
async fn unknown_paths_are_problem_json_and_request_ids_are_kept_when_sane() {
    let (state, _dir) = state().await;
    let app = test::init_service(build_app(state)).await;
    let req = test::TestRequest::get()
        .uri("/nope")
        .insert_header(("x-request-id", "abc-123"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers().get("x-request-id").unwrap().to_str().unwrap(),
        "abc-123"
    );
    assert_eq!(
        res.headers().get("content-type").unwrap().to_str().unwrap(),
        "application/problem+json"
    );
    let req = test::TestRequest::get()
        .uri("/healthz")
        .insert_header(("x-request-id", "bad id;rm"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_ne!(
        res.headers().get("x-request-id").unwrap().to_str().unwrap(),
        "bad id;rm"
    );
}

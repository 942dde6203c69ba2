use actix_web::test::TestRequest;
use berth_testkit::both_backends;

use crate::api::TestApi;

both_backends!(
    health_and_readiness_answer,
    readiness_fails_when_the_database_is_gone,
    unknown_paths_are_problem_json,
    a_path_called_with_a_method_it_lacks_answers_405_with_its_methods,
    the_dashboard_is_served_at_the_root_under_a_policy_that_allows_only_berth,
    request_ids_are_kept_when_sane,
);

async fn request_ids_are_kept_when_sane(api: TestApi) {
    let r = api
        .raw(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("x-request-id", "abc-123")),
        )
        .await;
    assert_eq!(r.request_id.as_deref(), Some("abc-123"));
    let r = api
        .raw(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("x-request-id", "bad id;rm")),
        )
        .await;
    let id = r.request_id.unwrap();
    assert_ne!(id, "bad id;rm");
    assert_eq!(id.len(), 36, "a fresh UUID instead");
}

async fn health_and_readiness_answer(api: TestApi) {
    let r = api.raw(TestRequest::get().uri("/healthz")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = api.raw(TestRequest::get().uri("/readyz")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
}

async fn readiness_fails_when_the_database_is_gone(api: TestApi) {
    api.state.store.clone().close().await.unwrap();
    let r = api.raw(TestRequest::get().uri("/readyz")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["detail"], "the database is not reachable");
}

async fn unknown_paths_are_problem_json(api: TestApi) {
    let r = api.raw(TestRequest::get().uri("/nope")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["status"], 404);
    let admin = api.admin().await;
    let r = api.get("/api/v1/projects/not-a-uuid", &admin).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (404, "application/problem+json"),
        "a malformed id names nothing"
    );
}

async fn a_path_called_with_a_method_it_lacks_answers_405_with_its_methods(api: TestApi) {
    let admin = api.admin().await;
    for (method, path, allow) in [
        ("PUT", "/api/v1/projects", "GET, POST"),
        (
            "POST",
            "/api/v1/projects/7d0c8d1e-8a53-4d45-9d9a-1f6f0c2f3b10",
            "GET, DELETE, PATCH",
        ),
        // A fixed path is itself, not an id of the template beside it (`/users/{id}`).
        ("PATCH", "/api/v1/users/me", "GET"),
    ] {
        let r = api.call(method, path, Some(&admin), None).await;
        assert_eq!(r.status, 405, "{method} {path}: {:?}", r.body);
        assert_eq!(r.body["code"], "method_not_allowed");
        assert_eq!(r.allow.as_deref(), Some(allow), "{method} {path}");
    }
    let r = api
        .call("PUT", "/api/v1/nothing-here", Some(&admin), None)
        .await;
    assert_eq!(r.status, 404, "a path the API does not have");
}

async fn the_dashboard_is_served_at_the_root_under_a_policy_that_allows_only_berth(api: TestApi) {
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let r = api.raw(TestRequest::get().uri(path)).await;
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (200, content_type),
            "{path}"
        );
        let csp = r.csp.unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
    if berth_api::dashboard::BUILT {
        let r = api.raw(TestRequest::get().uri("/")).await;
        assert_eq!(r.body, serde_json::Value::Null, "HTML, not JSON");
    }
}

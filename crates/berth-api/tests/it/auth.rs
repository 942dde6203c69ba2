use actix_web::test::TestRequest;
use berth_testkit::both_backends;
use serde_json::json;

use crate::api::TestApi;

both_backends!(
    setup_creates_the_first_super_admin_once,
    login_by_username_or_email_and_logout,
    failed_logins_are_audited_and_throttled,
    tokens_are_shown_once_and_revocable,
    bad_bodies_get_clear_errors,
    users_are_managed_by_admins,
    guesses_sent_together_are_counted_before_they_are_checked,
    the_client_address_comes_from_a_trusted_proxy_only,
    a_new_password_ends_other_sessions_and_a_lost_role_applies_at_once,
    the_audit_log_is_read_a_page_at_a_time_by_its_cursor,
);

async fn the_audit_log_is_read_a_page_at_a_time_by_its_cursor(api: TestApi) {
    let admin = api.admin().await;
    for i in 0..5 {
        let r = api
            .call(
                "POST",
                "/api/v1/projects",
                Some(&admin),
                Some(json!({ "name": format!("project {i}") })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let all = api.get("/api/v1/audit-log?limit=100", &admin).await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    assert_eq!(all.body["next_cursor"], serde_json::Value::Null);
    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let expected = ids(&all.body);
    assert!(expected.len() >= 6, "setup and five projects: {expected:?}");
    // Two at a time, each page's cursor leading to the next: every entry once, newest first.
    let (mut walked, mut pages) = (Vec::new(), 0);
    let mut path = "/api/v1/audit-log?limit=2".to_owned();
    loop {
        let page = api.get(&path, &admin).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        walked.extend(ids(&page.body));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit-log?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(walked, expected);
    assert_eq!(pages, expected.len().div_ceil(2));
    // A cursor berth did not hand out is the client's mistake, named.
    for bad in ["yesterday", "1_2_3", "-"] {
        let r = api
            .get(&format!("/api/v1/audit-log?cursor={bad}"), &admin)
            .await;
        assert_eq!(
            (r.status, r.body["errors"][0]["field"].as_str()),
            (422, Some("cursor")),
            "{bad}: {:?}",
            r.body
        );
    }
}

async fn a_new_password_ends_other_sessions_and_a_lost_role_applies_at_once(api: TestApi) {
    let root = api.admin().await;
    let (alice_id, s1) = api.user(&root, "alice", "developer").await;
    let login = |password: &'static str| {
        let api = &api;
        async move {
            let r = api
                .call(
                    "POST",
                    "/api/v1/auth/login",
                    None,
                    Some(json!({ "login": "alice", "password": password })),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["token"].as_str().unwrap().to_owned()
        }
    };
    let s2 = login("password-123").await;
    let r = api
        .post("/api/v1/tokens", &s1, json!({ "name": "ci" }))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let t1 = r.body["token"].as_str().unwrap().to_owned();
    let me = "/api/v1/users/me";
    let alive = |token: &str| {
        let (api, token) = (&api, token.to_owned());
        async move { api.get(me, &token).await.status == 200 }
    };
    let user = format!("/api/v1/users/{alice_id}");
    // Her own change: her other session ends, this one and her tokens stay.
    let r = api
        .call(
            "PATCH",
            &user,
            Some(&s1),
            Some(json!({ "password": "password-456", "current_password": "password-123" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(alive(&s1).await && alive(&t1).await);
    assert!(!alive(&s2).await, "the other session ended");
    // Asked to, her tokens go too.
    let r = api
        .call("PATCH", &user, Some(&s1), Some(json!({ "password": "password-789", "current_password": "password-456", "revoke_tokens": true })))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(alive(&s1).await);
    assert!(!alive(&t1).await, "the token was revoked");
    // An admin's reset ends all of them.
    let r = api
        .call(
            "PATCH",
            &user,
            Some(&root),
            Some(json!({ "password": "password-000" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!alive(&s1).await);
    assert!(alive(&login("password-000").await).await);

    // A role taken away applies to the very next request with the same token.
    let (bob_id, bob) = api.user(&root, "bob", "admin").await;
    assert_eq!(api.get("/api/v1/users", &bob).await.status, 200);
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{bob_id}"),
            Some(&root),
            Some(json!({ "role": "developer" })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get("/api/v1/users", &bob).await.status, 403);
}

fn login_attempt(password: &str, forwarded: Option<&str>) -> TestRequest {
    let mut req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(json!({ "login": "root", "password": password }));
    if let Some(f) = forwarded {
        req = req.insert_header(("x-forwarded-for", f));
    }
    req
}

async fn guesses_sent_together_are_counted_before_they_are_checked(api: TestApi) {
    api.admin().await;
    let answers = futures_util::future::join_all(
        (0..12).map(|i| api.raw(login_attempt(&format!("guess-{i}"), None))),
    )
    .await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429],
        "no more guesses than the limit were checked"
    );
}

async fn the_client_address_comes_from_a_trusted_proxy_only(mut api: TestApi) {
    let admin = api.admin().await;
    // Not trusted: a client's own X-Forwarded-For changes nothing; its address is blocked.
    for i in 0..5 {
        let r = api
            .raw(login_attempt("wrong", Some(&format!("203.0.113.{i}"))))
            .await;
        assert_eq!(r.status, 401);
    }
    let r = api.raw(login_attempt("wrong", Some("203.0.113.99"))).await;
    assert_eq!(
        r.status, 429,
        "a forged header does not escape the throttle"
    );
    let log = api
        .get("/api/v1/audit-log?resource_type=user", &admin)
        .await;
    let ips: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .filter_map(|e| e["ip_address"].as_str())
        .collect();
    assert!(ips.iter().all(|ip| *ip == "127.0.0.1"), "{ips:?}");

    // Behind a trusted proxy (the peer), the client is the address it names.
    let mut trusting = api.state.clone();
    trusting.auth.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    api.state = trusting;
    api.state.throttle = Default::default();
    for _ in 0..5 {
        let r = api
            .raw(login_attempt("wrong", Some("198.51.100.7, 127.0.0.1")))
            .await;
        assert_eq!(r.status, 401);
    }
    let r = api.raw(login_attempt("wrong", Some("198.51.100.8"))).await;
    assert_eq!(r.status, 429, "the account is blocked for every address");
    let log = api
        .get("/api/v1/audit-log?resource_type=user", &admin)
        .await;
    let ips: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .filter_map(|e| e["ip_address"].as_str())
        .collect();
    assert!(ips.contains(&"198.51.100.7"), "{ips:?}");
}

async fn setup_creates_the_first_super_admin_once(api: TestApi) {
    let r = api
        .call(
            "POST",
            "/api/v1/auth/setup",
            None,
            Some(json!({ "username": "ROOT", "email": "x", "password": "short" })),
        )
        .await;
    assert_eq!(r.status, 422);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["username", "email", "password"],
        "every invalid field is named: {}",
        r.body
    );

    let token = api.admin().await;
    let me = api.get("/api/v1/users/me", &token).await;
    assert_eq!(
        (me.status, me.body["role"].as_str()),
        (200, Some("super_admin"))
    );
    let again = api.call("POST", "/api/v1/auth/setup", None, Some(json!({ "username": "other", "email": "o@example.com", "password": "password-123" }))).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["detail"], "berth is already set up");
}

async fn login_by_username_or_email_and_logout(api: TestApi) {
    api.admin().await;
    for login in ["root", "ROOT@example.com"] {
        let r = api
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({ "login": login, "password": "correct horse" })),
            )
            .await;
        assert_eq!(r.status, 200, "{login}: {}", r.body);
        assert!(r.body["token"].as_str().unwrap().starts_with("berth_s_"));
        assert!(r.body["expires_at"].is_string());
    }
    let r = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({ "login": "root", "password": "correct horse" })),
        )
        .await;
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/v1/users/me", &token).await.status, 200);
    assert_eq!(
        api.call("POST", "/api/v1/auth/logout", Some(&token), None)
            .await
            .status,
        204
    );
    let after = api.get("/api/v1/users/me", &token).await;
    assert_eq!(after.status, 401, "the session is revoked");
    assert_eq!(after.content_type, "application/problem+json");
    assert_eq!(
        api.call("GET", "/api/v1/users/me", None, None).await.status,
        401
    );
    assert_eq!(
        api.get("/api/v1/users/me", "berth_s_forged").await.status,
        401
    );
}

async fn failed_logins_are_audited_and_throttled(api: TestApi) {
    let admin = api.admin().await;
    for _ in 0..5 {
        let r = api
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({ "login": "root", "password": "wrong" })),
            )
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["detail"], "wrong login or password");
    }
    let r = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({ "login": "root", "password": "correct horse" })),
        )
        .await;
    assert_eq!(
        r.status, 429,
        "blocked even with the right password while throttled"
    );
    assert!(r.retry_after.unwrap().parse::<u64>().unwrap() > 0);
    let log = api
        .get("/api/v1/audit-log?resource_type=user", &admin)
        .await;
    let failed = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .count();
    assert_eq!(failed, 5);
    assert!(
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["details"].to_string().contains("wrong")),
        "no password in the log"
    );
}

async fn tokens_are_shown_once_and_revocable(api: TestApi) {
    let admin = api.admin().await;
    let r = api
        .post("/api/v1/tokens", &admin, json!({ "name": "ci" }))
        .await;
    assert_eq!(r.status, 201);
    let secret = r.body["token"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("berth_p_"));
    let list = api.get("/api/v1/tokens", &admin).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert!(
        list.body[0].get("token").is_none(),
        "the secret is never listed"
    );
    assert_eq!(
        api.get("/api/v1/users/me", &secret).await.body["username"],
        "root"
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(api.get("/api/v1/users/me", &secret).await.status, 401);
    let r = api
        .post(
            "/api/v1/tokens",
            &admin,
            json!({ "name": "old", "expires_in_days": 0 }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (422, Some("expires_in_days"))
    );
    // A token that expires: its end is that many days away.
    let r = api
        .post(
            "/api/v1/tokens",
            &admin,
            json!({ "name": "a week", "expires_in_days": 7 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ends: chrono::DateTime<chrono::Utc> =
        r.body["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (ends - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{ends}");
}

async fn bad_bodies_get_clear_errors(api: TestApi) {
    let admin = api.admin().await;
    let auth = ("authorization", format!("Bearer {admin}"));
    let r = api
        .raw(
            TestRequest::post()
                .uri("/api/v1/projects")
                .insert_header(auth.clone())
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"name\": "),
        )
        .await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (400, "application/problem+json")
    );
    let r = api
        .raw(
            TestRequest::post()
                .uri("/api/v1/projects")
                .insert_header(auth.clone())
                .insert_header(("content-type", "text/plain"))
                .set_payload("name=x"),
        )
        .await;
    assert_eq!(r.status, 415);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = api
        .raw(
            TestRequest::post()
                .uri("/api/v1/projects")
                .insert_header(auth.clone())
                .insert_header(("content-type", "application/json"))
                .set_payload(big),
        )
        .await;
    assert_eq!(r.status, 413);
    let r = api
        .post(
            "/api/v1/projects",
            &admin,
            json!({ "name": "ok name", "colour": "red" }),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown field `colour`"));
    let r = api
        .post("/api/v1/projects", &admin, json!({ "name": 7 }))
        .await;
    assert_eq!(r.status, 422);
    let r = api.get("/api/v1/projects?limit=500", &admin).await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (422, Some("limit"))
    );
    // Nothing was created by any of these.
    assert_eq!(api.get("/api/v1/projects", &admin).await.body["total"], 0);
}

async fn users_are_managed_by_admins(api: TestApi) {
    let root = api.admin().await;
    let (dev_id, dev) = api.user(&root, "dev", "developer").await;
    let (admin_id, admin) = api.user(&root, "boss", "admin").await;
    assert_eq!(api.get("/api/v1/users", &dev).await.status, 403);
    let list = api.get("/api/v1/users?limit=2", &admin).await;
    assert_eq!(
        (
            list.body["total"].as_u64(),
            list.body["items"].as_array().unwrap().len()
        ),
        (Some(3), 2)
    );
    assert_eq!(
        api.get(&format!("/api/v1/users/{dev_id}"), &dev)
            .await
            .status,
        200,
        "a user reads themselves"
    );
    assert_eq!(
        api.get(&format!("/api/v1/users/{admin_id}"), &dev)
            .await
            .status,
        403
    );

    // An admin cannot make super admins; a super admin can.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{dev_id}"),
            Some(&admin),
            Some(json!({ "role": "super_admin" })),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{dev_id}"),
            Some(&admin),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("viewer")));
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{dev_id}"),
            Some(&dev),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(r.status, 403, "no self-promotion");

    // Changing one's own password needs the current one.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{dev_id}"),
            Some(&dev),
            Some(json!({ "password": "new-password-1" })),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("current_password_required"))
    );
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{dev_id}"),
            Some(&dev),
            Some(json!({ "password": "new-password-1", "current_password": "password-123" })),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({ "login": "dev", "password": "new-password-1" })),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = api
        .post(
            "/api/v1/users",
            &admin,
            json!({ "username": "dev", "email": "again@example.com", "password": "password-123" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("name_taken"))
    );
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/users/{admin_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("own_account")),
        "not yourself"
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/users/{dev_id}"),
            Some(&admin),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.get(&format!("/api/v1/users/{dev_id}"), &admin)
            .await
            .status,
        404
    );
    let log = api.get("/api/v1/audit-log?resource_type=user", &root).await;
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.delete")
            && actions.contains(&"user.update")
            && actions.contains(&"user.create"),
        "{actions:?}"
    );
}

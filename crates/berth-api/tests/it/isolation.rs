//! What a developer may name, tried as an attacker through the API: images of other
//! applications, repositories on berth's own machine, and credentials moved to another host.

use actix_web::body::MessageBody;
use berth_testkit::both_backends;
use serde_json::json;

use crate::api::{app_body, TestApi};

both_backends!(
    an_application_names_only_registry_images_and_network_repositories,
    credentials_stay_with_the_host_they_were_entered_for,
    a_project_or_user_with_applications_is_not_deleted_from_under_them,
    ports_below_1024_and_berths_own_are_published_by_admins_only,
    an_application_with_volumes_goes_only_with_them,
    live_streams_are_limited_per_user_and_in_all,
    an_operation_is_watched_to_its_end_by_its_tenant_only,
    the_event_stream_carries_the_callers_changes_only_and_ends_with_the_session,
);

/// Reads a live stream until its text holds `want` (or it ends, or 10 s pass); all it read.
async fn read_until<B>(body: &mut std::pin::Pin<Box<B>>, text: &mut String, want: &str)
where
    B: MessageBody,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains(want) {
        let next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx));
        match tokio::time::timeout_at(deadline, next).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => break,
            Err(_) => panic!("no {want:?} within 10 s; the stream said:\n{text}"),
        }
    }
}

async fn the_event_stream_carries_the_callers_changes_only_and_ends_with_the_session(api: TestApi) {
    use actix_web::test;
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let (_, bob) = api.user(&root, "bob", "developer").await;
    let mine = api.project(&alice, "shop", None).await;
    let mine = api.application(&alice, &mine, "web").await;
    let theirs = api.project(&bob, "other", None).await;
    let theirs = api.application(&bob, &theirs, "web").await;
    let service = test::init_service(berth_api::build_app(api.state.clone())).await;
    let open = |token: &str| {
        test::TestRequest::get()
            .uri("/api/v1/events/stream")
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request()
    };
    let res = test::call_service(&service, open(&alice)).await;
    assert_eq!(res.status(), 200);
    let mut body = Box::pin(res.into_body());
    let mut text = String::new();
    read_until(&mut body, &mut text, "event: ready").await;

    // Bob's change first, then Alice's: the stream is in order, so had Bob's reached it, it
    // would be there before hers.
    let stop = |app: &str| format!("/api/v1/applications/{app}/stop");
    let r = api.call("POST", &stop(&theirs), Some(&bob), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let theirs_op = r.body["id"].as_str().unwrap().to_owned();
    let r = api.call("POST", &stop(&mine), Some(&alice), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let op = r.body["id"].as_str().unwrap().to_owned();
    read_until(&mut body, &mut text, "\"status\":\"failed\"").await;
    assert!(text.contains("event: operation"), "{text}");
    assert!(text.contains(&op) && text.contains(&mine), "{text}");
    assert!(
        !text.contains(&theirs) && !text.contains(&theirs_op),
        "another tenant's change reached the stream:\n{text}"
    );

    // Signed out: the next change ends the stream instead of reaching it.
    let r = api
        .call("POST", "/api/v1/auth/logout", Some(&alice), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let before = text.len();
    let r = api.call("POST", &stop(&mine), Some(&root), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    read_until(&mut body, &mut text, "event: end").await;
    assert!(!text[before..].contains("event: operation"), "{text}");
    let next = std::future::poll_fn(|cx| body.as_mut().poll_next(cx));
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), next)
        .await
        .expect("the stream closes after its end");
    assert!(closed.is_none(), "{text}");

    // Service tokens have no stream of their own.
    let r = api
        .post(
            &format!("/api/v1/applications/{theirs}/service-tokens"),
            &bob,
            json!({ "name": "ci", "origin": "ci" }),
        )
        .await;
    let service_token = r.body["token"].as_str().unwrap().to_owned();
    let res = test::call_service(&service, open(&service_token)).await;
    assert_eq!(res.status(), 403);
}

async fn an_operation_is_watched_to_its_end_by_its_tenant_only(api: TestApi) {
    use actix_web::test;
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let (_, bob) = api.user(&root, "bob", "developer").await;
    let project = api.project(&alice, "shop", None).await;
    let app = api.application(&alice, &project, "web").await;
    let path = format!("/api/v1/applications/{app}/stop");
    assert_eq!(api.call("POST", &path, Some(&bob), None).await.status, 404);
    let r = api.call("POST", &path, Some(&alice), None).await;
    assert_eq!(
        (r.status, r.body["kind"].as_str()),
        (202, Some("stop")),
        "{}",
        r.body
    );
    let op = r.body["id"].as_str().unwrap().to_owned();
    for (who, status) in [(&bob, 404), (&alice, 200)] {
        assert_eq!(
            api.get(&format!("/api/v1/operations/{op}"), who)
                .await
                .status,
            status
        );
    }
    let service = test::init_service(berth_api::build_app(api.state.clone())).await;
    let stream = |token: &str| {
        test::TestRequest::get()
            .uri(&format!("/api/v1/operations/{op}/stream"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request()
    };
    let refused = test::call_service(&service, stream(&bob)).await;
    assert_eq!(refused.status(), 404);
    let res = test::call_service(&service, stream(&alice)).await;
    assert_eq!(res.status(), 200);
    // It ends (the application was never deployed, so there is nothing to stop) and the
    // stream closes with it.
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), test::read_body(res))
        .await
        .expect("the stream ends with the operation");
    let text = String::from_utf8(body.to_vec()).unwrap();
    let end = text
        .split("event: end\ndata: ")
        .nth(1)
        .expect("an end event")
        .lines()
        .next()
        .unwrap();
    let end: serde_json::Value = serde_json::from_str(end).unwrap();
    assert_eq!(end["status"], "failed", "{text}");
    assert_eq!(end["message"], "the application has not been deployed yet");
    let listed = api
        .get(&format!("/api/v1/applications/{app}/operations"), &alice)
        .await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
}

async fn live_streams_are_limited_per_user_and_in_all(api: TestApi) {
    use actix_web::test;
    // The deployments wait (nothing takes them off the queue), so their streams stay open.
    let mut api = api.without_worker();
    api.state.streams = berth_api::streams::StreamLimits::new(3, 2);
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let (_, bob) = api.user(&root, "bob", "developer").await;
    let mut deployments = Vec::new();
    for (who, token) in [("alice", &alice), ("bob", &bob)] {
        let project = api.project(token, who, None).await;
        let app = api.application(token, &project, "web").await;
        let r = api
            .post(
                &format!("/api/v1/applications/{app}/deployments"),
                token,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        deployments.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let service = test::init_service(berth_api::build_app(api.state.clone())).await;
    let open = |token: &str, deployment: &str| {
        test::TestRequest::get()
            .uri(&format!("/api/v1/deployments/{deployment}/logs/stream"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .to_request()
    };
    let a1 = test::call_service(&service, open(&alice, &deployments[0])).await;
    let a2 = test::call_service(&service, open(&alice, &deployments[0])).await;
    assert_eq!((a1.status().as_u16(), a2.status().as_u16()), (200, 200));
    let a3 = test::call_service(&service, open(&alice, &deployments[0])).await;
    assert_eq!(a3.status(), 429, "a third of one user's");
    assert!(a3.headers().contains_key("retry-after"));
    let b1 = test::call_service(&service, open(&bob, &deployments[1])).await;
    assert_eq!(b1.status(), 200);
    let b2 = test::call_service(&service, open(&bob, &deployments[1])).await;
    assert_eq!(b2.status(), 429, "the fourth in all");
    assert_eq!(api.state.streams.open(), 3);
    // A stream that ends gives its place back.
    drop(a1);
    assert_eq!(api.state.streams.open(), 2);
    let b2 = test::call_service(&service, open(&bob, &deployments[1])).await;
    assert_eq!(b2.status(), 200);
    drop((a2, b1, b2));
    assert_eq!(api.state.streams.open(), 0);
}

async fn an_application_with_volumes_goes_only_with_them(api: TestApi) {
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let project = api.project(&alice, "shop", None).await;
    let app = api.application(&alice, &project, "web").await;
    let r = api
        .post(
            &format!("/api/v1/applications/{app}/volumes"),
            &alice,
            json!({ "name": "uploads", "mount_path": "/data", "size_gb": 1 }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let path = format!("/api/v1/applications/{app}");
    let r = api.call("DELETE", &path, Some(&alice), None).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("(uploads)"),
        "names the volumes: {}",
        r.body
    );
    assert_eq!(
        api.get(&path, &alice).await.status,
        200,
        "nothing was deleted"
    );
    let r = api
        .call(
            "DELETE",
            &format!("{path}?delete_volumes=true"),
            Some(&alice),
            None,
        )
        .await;
    let op = api.operation_end(&r, &alice).await;
    assert_eq!(op["status"], "success", "{op}");
    assert!(
        api.engines
            .calls()
            .iter()
            .any(|c| c.starts_with("remove-volume berth-vol-")),
        "its data went too: {:?}",
        api.engines.calls()
    );
    // Nothing of it is left to hold the project.
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/projects/{project}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

async fn ports_below_1024_and_berths_own_are_published_by_admins_only(mut api: TestApi) {
    api.state.reserved_ports = vec![3000, 8443];
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "mallory", "developer").await;
    let project = api.project(&dev, "attack", None).await;
    let path = format!("/api/v1/projects/{project}/applications");
    let with_port = |name: &str, published: u16| {
        let mut body = app_body(name);
        body["ports"] = json!([{ "container": 8080, "published": published, "mode": "host" }]);
        body
    };
    // A developer cannot take a privileged port or one of berth's own, on create or PATCH.
    for port in [22, 80, 443, 1023, 3000, 8443] {
        let r = api.post(&path, &dev, with_port("web", port)).await;
        assert_eq!(r.status, 403, "{port}: {}", r.body);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains(&port.to_string()),
            "{}",
            r.body
        );
    }
    assert_eq!(
        api.get(&path, &dev).await.body["total"],
        0,
        "nothing was created"
    );
    let r = api.post(&path, &dev, with_port("web", 8081)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.body["id"].as_str().unwrap().to_owned();
    let patch =
        |port: u16| json!({ "ports": [{ "container": 8080, "published": port, "mode": "host" }] });
    let app_path = format!("/api/v1/applications/{app}");
    let r = api
        .call("PATCH", &app_path, Some(&dev), Some(patch(80)))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // An admin may; the developer then keeps it through other changes, and may drop it.
    let r = api
        .call("PATCH", &app_path, Some(&root), Some(patch(80)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .call(
            "PATCH",
            &app_path,
            Some(&dev),
            Some(json!({ "replicas": 2, "ports": [{ "container": 8080, "published": 80, "mode": "host" }] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .call("PATCH", &app_path, Some(&dev), Some(patch(8082)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // An engine-assigned port is anyone's.
    let r = api
        .call(
            "PATCH",
            &app_path,
            Some(&dev),
            Some(json!({ "ports": [{ "container": 80, "mode": "host" }] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn a_project_or_user_with_applications_is_not_deleted_from_under_them(api: TestApi) {
    let root = api.admin().await;
    let (alice_id, alice) = api.user(&root, "alice", "developer").await;
    let project = api.project(&alice, "shop", None).await;
    api.application(&alice, &project, "web").await;
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/projects/{project}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("(web)"),
        "says what is still there: {}",
        r.body
    );
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/users/{alice_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        api.get(&format!("/api/v1/projects/{project}"), &alice)
            .await
            .status,
        200
    );
}

async fn an_application_names_only_registry_images_and_network_repositories(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "mallory", "developer").await;
    let project = api.project(&dev, "attack", None).await;
    let path = format!("/api/v1/projects/{project}/applications");
    for (source, field) in [
        (
            json!({ "type": "image", "image": "berth/victim-0190a:latest" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "docker.io/berth/victim" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "0123456789ab" }),
            "source.image",
        ),
        // A pull would make the engine call these: berth's machine, the cloud's metadata.
        (
            json!({ "type": "image", "image": "127.0.0.1:5432/x:1" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "169.254.169.254:80/latest/meta-data" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "localhost:2375/x" }),
            "source.image",
        ),
        (
            json!({ "type": "image", "image": "2130706433:2375/x" }),
            "source.image",
        ),
        (
            json!({ "type": "git", "provider": "github", "repository": "file:///etc", "branch": "main" }),
            "source.repository",
        ),
        (
            json!({ "type": "git", "provider": "github", "repository": "/var/lib/berth/work/checkouts/x", "branch": "main" }),
            "source.repository",
        ),
    ] {
        let mut body = app_body("web");
        body["source"] = source.clone();
        let r = api.post(&path, &dev, body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("source_not_allowed")),
            "{source}: {}",
            r.body
        );
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(field), "{detail}");
    }
    assert_eq!(
        api.get(&path, &dev).await.body["total"],
        0,
        "nothing was created"
    );
    // The same rule on PATCH.
    let app = api.application(&dev, &project, "web").await;
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&dev),
            Some(json!({ "source": { "type": "git", "provider": "github", "repository": "file:///etc/berth", "branch": "main" } })),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("source_not_allowed")),
        "{}",
        r.body
    );
    assert!(r.body["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("source.repository")));
}

async fn credentials_stay_with_the_host_they_were_entered_for(api: TestApi) {
    let root = api.admin().await;
    let (_, owner) = api.user(&root, "alice", "developer").await;
    let project = api.project(&owner, "shop", None).await;
    let mut body = app_body("web");
    body["source"]["credentials"] = json!({ "token": "ghp_alices_token" });
    let r = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &owner,
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["has_credentials"], true, "{}", r.body);
    let patch = |repository: &str| json!({ "source": { "type": "git", "provider": "github", "repository": repository, "branch": "main" } });
    // Another path on the same host keeps them.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&owner),
            Some(patch("https://github.com/acme/other.git")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_credentials"], true);
    // A server of the attacker's drops them: the token never goes there.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&owner),
            Some(patch("https://git.attacker.example/x.git")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["has_credentials"], false, "{}", r.body);
    // New credentials given with the move are kept.
    let mut moved = patch("https://gitlab.example/acme/web.git");
    moved["source"]["credentials"] = json!({ "token": "glpat_new" });
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&owner),
            Some(moved),
        )
        .await;
    assert_eq!(r.body["has_credentials"], true, "{}", r.body);
}

use berth_domain::{
    ApplicationId, BuildStatus, DeploymentStatus, DeploymentTrigger, LogLevel, StepName,
};
use berth_store::{Actor, NewDeployment, NewLogLine};
use berth_testkit::both_backends;
use serde_json::{json, Value};

use crate::api::{app_body, TestApi};

both_backends!(
    projects_crud_and_pagination,
    teams_and_members,
    applications_round_trip_without_credentials,
    secrets_are_write_only,
    volumes_and_domains,
    history_is_readable,
    service_tokens_deploy_one_application_only,
    dns_01_settings_are_for_admins_and_keep_their_secret,
    a_whole_number_written_with_a_fraction_is_that_number,
    settings_that_contradict_each_other_are_conflicts_that_change_nothing,
    registries_belong_to_a_team_or_the_installation_and_pull_with_theirs,
    schedules_are_listed_changed_and_run_now_by_admins,
);

/// Each value valid alone, together impossible (or impossible for what is stored): 409
/// `conflicting_settings` naming the fields, and nothing changes. The document cannot state
/// these, so they are not 422, which says the body breaks the document's rules.
async fn settings_that_contradict_each_other_are_conflicts_that_change_nothing(api: TestApi) {
    let root = api.admin().await;
    let project = api.project(&root, "conflicts", None).await;
    let app = api.application(&root, &project, "web").await;
    let conflict = |r: &crate::api::Res, field: &str| {
        assert_eq!(
            (
                r.status,
                r.body["code"].as_str(),
                r.body["errors"][0]["field"].as_str()
            ),
            (409, Some("conflicting_settings"), Some(field)),
            "{}",
            r.body
        );
    };
    // One host port twice.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&root),
            Some(json!({ "ports": [
                { "container": 80, "published": 18081 },
                { "container": 81, "published": 18081 }
            ] })),
        )
        .await;
    conflict(&r, "ports.1.published");
    let r = api.get(&format!("/api/v1/applications/{app}"), &root).await;
    assert_eq!(
        r.body["ports"][0]["published"], 18080,
        "unchanged: {}",
        r.body
    );
    // A git application does not become an image one.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&root),
            Some(json!({ "source": { "type": "image", "image": "nginx:1" } })),
        )
        .await;
    conflict(&r, "source.type");
    // A new basic-auth user without a password.
    let r = api
        .post(
            &format!("/api/v1/applications/{app}/domains"),
            &root,
            json!({ "host": "conflicts.example.com", "routing": { "basic_auth": [ { "username": "ann" } ] } }),
        )
        .await;
    conflict(&r, "routing.basic_auth.0.password");
    let r = api
        .get(&format!("/api/v1/applications/{app}/domains"), &root)
        .await;
    assert_eq!(r.body, json!([]), "nothing was created");
    // A member who is no user.
    let team = api
        .post("/api/v1/teams", &root, json!({ "name": "conflicted" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &root,
            json!({ "user_id": uuid::Uuid::new_v4(), "role": "member" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("unknown_user")),
        "{}",
        r.body
    );
}

/// JSON Schema counts `2.0` as an integer, and so does berth: a client that writes every
/// number as a float is not refused; a fraction is.
async fn a_whole_number_written_with_a_fraction_is_that_number(api: TestApi) {
    let root = api.admin().await;
    let project = api.project(&root, "floats", None).await;
    let app = api.application(&root, &project, "web").await;
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&root),
            Some(json!({ "replicas": 3.0, "ports": [{ "container": 8080.0, "mode": "host" }] })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["replicas"], 3);
    assert_eq!(r.body["ports"][0]["container"], 8080);
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{app}"),
            Some(&root),
            Some(json!({ "replicas": 2.5 })),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "body", "{}", r.body);
}

async fn dns_01_settings_are_for_admins_and_keep_their_secret(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "dev", "developer").await;
    let r = api.get("/api/v1/settings/acme-dns", &root).await;
    assert_eq!((r.status, &r.body["configured"]), (200, &json!(false)));
    assert_eq!(api.get("/api/v1/settings/acme-dns", &dev).await.status, 403);
    let good = json!({
        "server": "192.0.2.1:53", "zone": "Example.com.", "key_name": "berth",
        "key_secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
    });
    let r = api
        .call(
            "PUT",
            "/api/v1/settings/acme-dns",
            Some(&dev),
            Some(good.clone()),
        )
        .await;
    assert_eq!(r.status, 403);
    for (field, value, bad) in [
        ("server", json!("dns.example.com"), "server"),
        ("key_secret", json!("not base64!"), "key_secret"),
        ("zone", json!("bad zone"), "zone"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let r = api
            .call("PUT", "/api/v1/settings/acme-dns", Some(&root), Some(body))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.body["errors"][0]["field"], bad, "{}", r.body);
    }
    let r = api
        .call("PUT", "/api/v1/settings/acme-dns", Some(&root), Some(good))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["zone"], "example.com");
    let r = api.get("/api/v1/settings/acme-dns", &root).await;
    assert_eq!(r.body["configured"], true);
    assert!(
        !r.body.to_string().contains("c2VjcmV0"),
        "the secret is write-only: {}",
        r.body
    );
    let stored = api
        .state
        .store
        .scope(Actor::System)
        .await
        .unwrap()
        .installation_setting("acme_dns")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.expose().contains("c2VjcmV0"),
        "kept, decrypted only by the store"
    );
    assert_eq!(
        api.call("DELETE", "/api/v1/settings/acme-dns", Some(&root), None)
            .await
            .status,
        204
    );
    let r = api.get("/api/v1/settings/acme-dns", &root).await;
    assert_eq!(r.body["configured"], false);
}

async fn service_tokens_deploy_one_application_only(api: TestApi) {
    let root = api.admin().await;
    let project = api.project(&root, "ci project", None).await;
    let app = api.application(&root, &project, "web").await;
    let r = api
        .post(
            &format!("/api/v1/applications/{app}/service-tokens"),
            &root,
            json!({ "name": "deploy", "origin": "github" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["token"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("berth_svc_"));
    let list = api
        .get(&format!("/api/v1/applications/{app}/service-tokens"), &root)
        .await;
    assert_eq!(
        (list.body[0]["origin"].as_str(), list.body[0].get("token")),
        (Some("github"), None)
    );
    // A service token is no key to the rest of the API.
    for path in [
        "/api/v1/projects".to_owned(),
        format!("/api/v1/applications/{app}"),
        "/api/v1/users/me".to_owned(),
    ] {
        assert_eq!(api.get(&path, &secret).await.status, 403, "{path}");
    }
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/service-tokens/{id}"),
            Some(&root),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.get("/api/v1/projects", &secret).await.status,
        401,
        "revoked"
    );
    let r = api
        .post(
            &format!("/api/v1/applications/{app}/service-tokens"),
            &root,
            json!({ "name": "", "origin": "" }),
        )
        .await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 2);
}

async fn projects_crud_and_pagination(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "dev", "developer").await;
    for i in 0..3 {
        api.project(&dev, &format!("project {i}"), None).await;
    }
    let r = api.get("/api/v1/projects?limit=2&offset=1", &dev).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["limit"].as_u64(),
            r.body["offset"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(r.body["items"][0]["name"], "project 1", "newest first");
    let id = r.body["items"][0]["id"].as_str().unwrap().to_owned();
    let dup = api
        .post("/api/v1/projects", &dev, json!({ "name": "project 0" }))
        .await;
    assert_eq!(dup.status, 409);
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/projects/{id}"),
            Some(&dev),
            Some(json!({ "name": "renamed", "description": "now described" })),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["name"].as_str(),
            r.body["description"].as_str()
        ),
        (200, Some("renamed"), Some("now described"))
    );
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/projects/{id}"),
            Some(&dev),
            Some(json!({ "description": null })),
        )
        .await;
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/projects/{id}"),
            Some(&dev),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.get(&format!("/api/v1/projects/{id}"), &dev)
            .await
            .status,
        404
    );
    let r = api
        .post("/api/v1/projects", &dev, json!({ "name": "x" }))
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (422, Some("name"))
    );
}

async fn teams_and_members(api: TestApi) {
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let (bob_id, bob) = api.user(&root, "bob", "developer").await;
    let (_, carol) = api.user(&root, "carol", "developer").await;
    let r = api
        .post("/api/v1/teams", &alice, json!({ "name": "platform" }))
        .await;
    assert_eq!(r.status, 201);
    let team = r.body["id"].as_str().unwrap().to_owned();
    let r = api
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &alice,
            json!({ "user_id": bob_id, "role": "member" }),
        )
        .await;
    assert_eq!((r.status, r.body["username"].as_str()), (201, Some("bob")));
    let members = api
        .get(&format!("/api/v1/teams/{team}/members"), &bob)
        .await;
    assert_eq!(members.body.as_array().unwrap().len(), 2);
    assert_eq!(
        api.get(&format!("/api/v1/teams/{team}"), &carol)
            .await
            .status,
        404
    );

    // A member reaches the team's project and writes in it, but does not manage the team.
    let project = api.project(&alice, "shared", Some(&team)).await;
    assert_eq!(
        api.get(&format!("/api/v1/projects/{project}"), &bob)
            .await
            .status,
        200
    );
    api.application(&bob, &project, "api").await;
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/teams/{team}"),
            Some(&bob),
            Some(json!({ "name": "mine" })),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/projects/{project}"),
            Some(&bob),
            None
        )
        .await
        .status,
        403
    );

    // The last owner cannot go.
    let alice_id = api.get("/api/v1/users/me", &alice).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/teams/{team}/members/{alice_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("last_owner"))
    );
    assert!(r.body["detail"]
        .as_str()
        .unwrap()
        .contains("at least one owner"));
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/teams/{team}/members/{bob_id}"),
            Some(&alice),
            Some(json!({ "role": "owner" })),
        )
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("owner")));
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/teams/{team}/members/{alice_id}"),
            Some(&alice),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.get(&format!("/api/v1/teams/{team}"), &alice)
            .await
            .status,
        404
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/teams/{team}"), Some(&bob), None)
            .await
            .status,
        204
    );
}

async fn applications_round_trip_without_credentials(api: TestApi) {
    let root = api.admin().await;
    let project = api.project(&root, "apps", None).await;
    let r = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &root,
            app_body("web"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["type"], "git");
    assert_eq!(r.body["status"], "stopped");
    assert_eq!(r.body["has_credentials"], true);
    assert_eq!(r.body["source"]["branch"], "main");
    assert_eq!(r.body["ports"][0]["published"], 18080);
    assert_eq!(r.body["health_check"]["http_path"], "/health");
    assert!(
        !r.body.to_string().contains("ghp_secret_token"),
        "credentials are write-only"
    );

    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/applications/{id}"),
            Some(&root),
            Some(json!({ "replicas": 0, "command": null })),
        )
        .await;
    assert_eq!((r.status, r.body["replicas"].as_u64()), (200, Some(0)));
    assert_eq!(r.body["command"], Value::Null);
    assert_eq!(
        r.body["release_command"][0], "./migrate",
        "untouched fields keep their value"
    );

    let mut bad = app_body("Bad_Name");
    bad["replicas"] = json!(-1);
    bad["source"]["branch"] = json!("main; touch /tmp/pwned");
    bad["source"]["dockerfile"] = json!("../../etc/passwd");
    bad["ports"][0]["container"] = json!(70000);
    let r = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &root,
            bad,
        )
        .await;
    assert_eq!(r.status, 422);
    let mut fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "name",
            "ports.0.container",
            "replicas",
            "source.branch",
            "source.dockerfile"
        ],
        "{}",
        r.body
    );
    let dup = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &root,
            app_body("web"),
        )
        .await;
    assert_eq!(dup.status, 409);
    let list = api
        .get(&format!("/api/v1/projects/{project}/applications"), &root)
        .await;
    assert_eq!(list.body["total"], 1, "failed requests left nothing behind");
    // The project, alone and in the list, counts its applications by status.
    let one = api.get(&format!("/api/v1/projects/{project}"), &root).await;
    assert_eq!(one.body["applications"]["total"], 1, "{}", one.body);
    let page = api.get("/api/v1/projects", &root).await;
    let listed = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == project.as_str())
        .unwrap();
    assert_eq!(listed["applications"], one.body["applications"]);
    let deleted = api
        .call(
            "DELETE",
            &format!("/api/v1/applications/{id}"),
            Some(&root),
            None,
        )
        .await;
    let op = api.operation_end(&deleted, &root).await;
    assert_eq!(
        (op["kind"].as_str(), op["status"].as_str()),
        (Some("delete"), Some("success")),
        "{op}"
    );
    assert_eq!(
        api.get(&format!("/api/v1/applications/{id}"), &root)
            .await
            .status,
        404
    );
}

async fn secrets_are_write_only(api: TestApi) {
    let root = api.admin().await;
    let project = api.project(&root, "envs", None).await;
    let app = api.application(&root, &project, "web").await;
    let r = api
        .call(
            "PUT",
            &format!("/api/v1/applications/{app}/env/DATABASE_URL"),
            Some(&root),
            Some(json!({ "value": "postgres://u:hunter2@db/x", "is_secret": true })),
        )
        .await;
    assert_eq!((r.status, r.body["value"].clone()), (200, Value::Null));
    api.call(
        "PUT",
        &format!("/api/v1/applications/{app}/env/PORT"),
        Some(&root),
        Some(json!({ "value": "8080" })),
    )
    .await;
    let r = api
        .get(&format!("/api/v1/applications/{app}/env"), &root)
        .await;
    assert_eq!(
        r.body,
        json!([
            { "key": "DATABASE_URL", "value": null, "is_secret": true, "updated_at": r.body[0]["updated_at"] },
            { "key": "PORT", "value": "8080", "is_secret": false, "updated_at": r.body[1]["updated_at"] },
        ])
    );
    let r = api
        .call(
            "PUT",
            &format!("/api/v1/applications/{app}/env/bad-key"),
            Some(&root),
            Some(json!({ "value": "x" })),
        )
        .await;
    assert_eq!(
        (r.status, r.body["errors"][0]["field"].as_str()),
        (422, Some("key"))
    );
    let log = api.get("/api/v1/audit-log", &root).await;
    assert!(
        !log.body.to_string().contains("hunter2"),
        "no secret value in the audit log"
    );
    assert!(log.body.to_string().contains("application.env_set"));
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/applications/{app}/env/PORT"),
            Some(&root),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/applications/{app}/env/PORT"),
            Some(&root),
            None
        )
        .await
        .status,
        404
    );
}

async fn volumes_and_domains(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "dev", "developer").await;
    let p1 = api.project(&root, "one", None).await;
    let p2 = api.project(&dev, "two", None).await;
    let a1 = api.application(&root, &p1, "web").await;
    let a2 = api.application(&dev, &p2, "web").await;
    let r = api
        .post(
            &format!("/api/v1/applications/{a1}/volumes"),
            &root,
            json!({ "name": "web-data", "mount_path": "/data", "size_gb": 5 }),
        )
        .await;
    assert_eq!(r.status, 201);
    let vol = r.body["id"].as_str().unwrap().to_owned();
    // The engine's name for it is berth's, from its id: no name a user picks reaches Docker.
    assert_eq!(
        r.body["engine_name"],
        format!("berth-vol-{}", vol.replace('-', "")),
        "{}",
        r.body
    );
    let r = api
        .post(
            &format!("/api/v1/applications/{a1}/volumes"),
            &root,
            json!({ "name": "x", "mount_path": "data", "size_gb": 0 }),
        )
        .await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 3);
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/projects/{p1}"),
            Some(&root),
            None
        )
        .await
        .status,
        409,
        "volumes restrict"
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/volumes/{vol}"),
            Some(&root),
            None
        )
        .await
        .status,
        204
    );

    let r = api
        .post(
            &format!("/api/v1/applications/{a1}/domains"),
            &root,
            json!({ "host": "WWW.example.com" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["host"].as_str(), r.body["tls"].as_bool()),
        (201, Some("www.example.com"), Some(true))
    );
    let domain = r.body["id"].as_str().unwrap().to_owned();
    let r = api
        .post(
            &format!("/api/v1/applications/{a2}/domains"),
            &dev,
            json!({ "host": "www.example.com" }),
        )
        .await;
    assert_eq!(r.status, 409);
    assert!(
        !r.body.to_string().contains("root") && !r.body.to_string().contains(&p1),
        "the conflict does not say who holds it"
    );
    let r = api
        .post(
            &format!("/api/v1/applications/{a2}/domains"),
            &dev,
            json!({ "host": "10.0.0.1" }),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        api.get(&format!("/api/v1/domains/{domain}"), &dev)
            .await
            .status,
        404
    );
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/domains/{domain}"),
            Some(&root),
            Some(json!({ "tls": false })),
        )
        .await;
    assert_eq!(r.body["tls"], false);
    assert_eq!(r.body["routing"]["path_prefix"], "/");
    assert_eq!(r.body["routing"]["https_redirect"], true);

    // Routing options: basic-auth passwords are write-only, a user kept keeps their hash.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/domains/{domain}"),
            Some(&root),
            Some(json!({ "routing": {
                "path_prefix": "/shop", "port": 8080, "hsts": true, "www_redirect": "to_www",
                "basic_auth": [ { "username": "ann", "password": "long enough" } ]
            } })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["routing"]["basic_auth_users"], json!(["ann"]));
    assert_eq!(r.body["routing"]["www_redirect"], "to_www");
    assert_eq!(r.body["routing"]["port"], 8080);
    assert!(!r.body.to_string().contains("$2"), "no hash is shown");
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/domains/{domain}"),
            Some(&root),
            Some(json!({ "routing": { "port": null, "basic_auth": [ { "username": "ann" } ] } })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["routing"]["port"], Value::Null);
    assert_eq!(
        r.body["routing"]["path_prefix"], "/shop",
        "absent fields kept"
    );
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/domains/{domain}"),
            Some(&root),
            Some(json!({ "routing": {
                "path_prefix": "no-slash", "www_redirect": "sideways",
                "basic_auth": [ { "username": "bob" }, { "username": "cy", "password": "short" } ]
            } })),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["routing.www_redirect", "routing.basic_auth.1.password"],
        "{}",
        r.body
    );
    let r = api
        .post(
            &format!("/api/v1/applications/{a1}/domains"),
            &root,
            json!({ "host": "apex.example.com", "routing": { "www_redirect": "to_www" } }),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["code"].as_str(),
            r.body["errors"][0]["field"].as_str()
        ),
        (
            409,
            Some("conflicting_settings"),
            Some("routing.www_redirect")
        ),
        "to_www needs a www. domain: {}",
        r.body
    );
    assert_eq!(
        api.get(&format!("/api/v1/applications/{a1}/domains"), &root)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/domains/{domain}"),
            Some(&root),
            None
        )
        .await
        .status,
        204
    );
}

async fn history_is_readable(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "dev", "developer").await;
    let project = api.project(&root, "history", None).await;
    let app = api.application(&root, &project, "web").await;
    let app_id = ApplicationId::from_uuid(app.parse().unwrap());
    let s = api.state.store.scope(Actor::System).await.unwrap();
    let build = s.create_build(app_id, None).await.unwrap();
    s.transition_build(build.id, BuildStatus::InProgress, None)
        .await
        .unwrap();
    s.transition_build(build.id, BuildStatus::Succeeded, None)
        .await
        .unwrap();
    let d = s
        .create_deployment(
            app_id,
            NewDeployment {
                trigger: DeploymentTrigger::Manual,
                triggered_by: None,
                service_token_id: None,
                commit_sha: None,
                build_id: Some(build.id),
                snapshot: s.snapshot(app_id).await.unwrap(),
                rollback_of: None,
            },
        )
        .await
        .unwrap();
    s.create_steps(d.id, &[StepName::Clone, StepName::Build])
        .await
        .unwrap();
    // Ended before the worker could take it: this is about reading the history.
    s.transition_deployment(d.id, DeploymentStatus::Cancelled, Some("cancelled"))
        .await
        .unwrap();
    s.append_logs(
        d.id,
        (1..=3)
            .map(|i| NewLogLine {
                step: None,
                level: LogLevel::Info,
                message: format!("line {i}"),
            })
            .collect(),
    )
    .await
    .unwrap();
    s.commit().await.unwrap();

    let r = api
        .get(&format!("/api/v1/applications/{app}/deployments"), &root)
        .await;
    assert_eq!(r.body["total"], 1);
    let r = api
        .get(&format!("/api/v1/deployments/{}", d.id), &root)
        .await;
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["build"]["status"].as_str()
        ),
        (Some("cancelled"), Some("succeeded"))
    );
    assert_eq!(r.body["steps"].as_array().unwrap().len(), 2);
    let r = api
        .get(
            &format!("/api/v1/deployments/{}/logs?after=1&limit=1", d.id),
            &root,
        )
        .await;
    assert_eq!(
        (r.body[0]["seq"].as_i64(), r.body[0]["message"].as_str()),
        (Some(2), Some("line 2"))
    );
    assert_eq!(
        api.get(
            &format!("/api/v1/deployments/{}/logs?after=-1", d.id),
            &root
        )
        .await
        .status,
        422
    );
    assert_eq!(
        api.get(&format!("/api/v1/applications/{app}/builds"), &root)
            .await
            .body["total"],
        1
    );
    assert_eq!(
        api.get(
            &format!("/api/v1/applications/{app}/builds/latest-successful"),
            &root
        )
        .await
        .body["id"],
        build.id.to_string()
    );
    assert_eq!(
        api.get(&format!("/api/v1/builds/{}", build.id), &root)
            .await
            .status,
        200
    );
    for path in [
        format!("/api/v1/deployments/{}", d.id),
        format!("/api/v1/builds/{}", build.id),
        format!("/api/v1/deployments/{}/logs", d.id),
    ] {
        assert_eq!(
            api.get(&path, &dev).await.status,
            404,
            "{path} is another tenant's"
        );
    }
}

/// Waits for the deployment a 202 answered with to end; returns it.
async fn deployment_end(api: &TestApi, accepted: &crate::api::Res, token: &str) -> Value {
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    for _ in 0..400 {
        let r = api.get(&format!("/api/v1/deployments/{id}"), token).await;
        if ["success", "failed", "cancelled"].contains(&r.body["status"].as_str().unwrap_or("")) {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("deployment {id} did not end");
}

/// A team's registry is its owners' and admins' to add, change and remove, seen by its members
/// and nobody else; the installation's are the admins', seen by everyone; the password is
/// never shown; a registry by its address is for admins unless the installation lists it. A
/// deployment pulls with the application's team's credentials (else the installation's), and
/// pulls again an image of a registry berth held credentials for, though the engine has it.
async fn registries_belong_to_a_team_or_the_installation_and_pull_with_theirs(api: TestApi) {
    let root = api.admin().await;
    let (_, alice) = api.user(&root, "alice", "developer").await;
    let (bob_id, bob) = api.user(&root, "bob", "developer").await;
    let (_, eve) = api.user(&root, "eve", "developer").await;
    let team = api
        .post("/api/v1/teams", &alice, json!({ "name": "shop" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &alice,
            json!({ "user_id": bob_id, "role": "member" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Refused and changing nothing: a bad host or user, a member, a stranger, an address.
    let body = |host: &str| {
        json!({ "host": host, "team_id": team,
                "credentials": { "username": "shop-bot", "password": "s3cret-token" } })
    };
    for (bad, field) in [
        (
            json!({ "host": "https://ghcr.io", "team_id": team }),
            "host",
        ),
        (
            json!({ "host": "ghcr.io", "team_id": team, "credentials": { "username": "a:b", "password": "x" } }),
            "credentials.username",
        ),
        (
            json!({ "host": "ghcr.io", "team_id": team, "credentials": { "username": "a", "password": "" } }),
            "credentials.password",
        ),
    ] {
        let r = api.post("/api/v1/registries", &alice, bad).await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    let r = api.post("/api/v1/registries", &bob, body("ghcr.io")).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("insufficient_role"))
    );
    let r = api.post("/api/v1/registries", &eve, body("ghcr.io")).await;
    assert_eq!(r.status, 404, "another team's is not found: {}", r.body);
    let r = api
        .post("/api/v1/registries", &alice, body("127.0.0.1:5000"))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("source_not_allowed"))
    );
    let r = api
        .post("/api/v1/registries", &alice, json!({ "host": "ghcr.io" }))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("admin_required"))
    );
    assert_eq!(
        api.get("/api/v1/registries", &root).await.body,
        json!([]),
        "nothing was made"
    );

    // The team's: made by its owner, the password never shown.
    let r = api
        .post("/api/v1/registries", &alice, body("GHCR.io"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ghcr = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["host"], "ghcr.io");
    assert_eq!(r.body["username"], "shop-bot");
    assert!(!r.body.to_string().contains("s3cret"), "{}", r.body);
    let r = api
        .post("/api/v1/registries", &alice, body("ghcr.io"))
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("name_taken"))
    );
    // The installation's, by an admin: an address users may now name, and Docker Hub.
    let r = api
        .post(
            "/api/v1/registries",
            &root,
            json!({ "host": "127.0.0.1:5000" }),
        )
        .await;
    assert_eq!(
        (r.status, r.body["username"].clone()),
        (201, Value::Null),
        "{}",
        r.body
    );
    let r = api
        .post(
            "/api/v1/registries",
            &root,
            json!({ "host": "ghcr.io", "credentials": { "username": "company", "password": "company-token" } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = api
        .post("/api/v1/registries", &alice, body("127.0.0.1:5000"))
        .await;
    assert_eq!(r.status, 201, "a listed address: {}", r.body);

    let hosts = |r: &crate::api::Res| -> Vec<(String, Option<String>)> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["host"].as_str().unwrap().to_owned(),
                    x["team_id"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let mine = api.get("/api/v1/registries", &bob).await;
    assert_eq!(hosts(&mine).len(), 4, "{}", mine.body);
    assert!(!mine.body.to_string().contains("token"), "{}", mine.body);
    let theirs = api.get("/api/v1/registries", &eve).await;
    assert!(
        hosts(&theirs).iter().all(|(_, t)| t.is_none()),
        "eve sees the installation's only: {}",
        theirs.body
    );
    assert_eq!(
        api.get(&format!("/api/v1/registries/{ghcr}"), &eve)
            .await
            .status,
        404
    );
    for (method, body) in [
        ("PATCH", Some(json!({ "credentials": null }))),
        ("DELETE", None),
    ] {
        let r = api
            .call(
                method,
                &format!("/api/v1/registries/{ghcr}"),
                Some(&eve),
                body.clone(),
            )
            .await;
        assert_eq!(r.status, 404, "{method} by a stranger: {}", r.body);
        let r = api
            .call(
                method,
                &format!("/api/v1/registries/{ghcr}"),
                Some(&bob),
                body,
            )
            .await;
        assert_eq!(r.status, 403, "{method} by a member: {}", r.body);
    }

    // Deployments pull with the team's credentials, else the installation's; an image of a
    // registry berth held credentials for is pulled though the engine has it; another is not.
    let team_project = api.project(&alice, "shop", Some(&team)).await;
    let own_project = api.project(&eve, "eve's", None).await;
    let image_app = |token: &str, project: &str, name: &str, image: &str| {
        let token = token.to_owned();
        let path = format!("/api/v1/projects/{project}/applications");
        let body = json!({ "name": name, "source": { "type": "image", "image": image } });
        let api = &api;
        async move {
            let r = api.post(&path, &token, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        }
    };
    let shop = image_app(&alice, &team_project, "web", "ghcr.io/shop/web:1").await;
    let eves = image_app(&eve, &own_project, "web", "ghcr.io/shop/web:1").await;
    let hub = image_app(&eve, &own_project, "hub", "busybox:1").await;
    for (app, token, pull) in [
        (&shop, &alice, Some("pull ghcr.io/shop/web:1 as shop-bot")),
        (&eves, &eve, Some("pull ghcr.io/shop/web:1 as company")),
        (&hub, &eve, None),
    ] {
        let before = api.engines.calls().len();
        let r = api
            .post(
                &format!("/api/v1/applications/{app}/deployments"),
                token,
                json!({}),
            )
            .await;
        let end = deployment_end(&api, &r, token).await;
        assert_eq!(end["status"], "success", "{end}");
        let pulls: Vec<String> = api.engines.calls()[before..]
            .iter()
            .filter(|c| c.starts_with("pull "))
            .cloned()
            .collect();
        assert_eq!(
            pulls,
            pull.into_iter().map(str::to_owned).collect::<Vec<_>>()
        );
    }

    // Without credentials anywhere (the team's and the installation's gone), the registry is
    // still asked, anonymously: the engine's copy came with credentials.
    let r = api
        .call(
            "PATCH",
            &format!("/api/v1/registries/{ghcr}"),
            Some(&alice),
            Some(json!({ "credentials": null })),
        )
        .await;
    assert_eq!(
        (r.status, r.body["username"].clone()),
        (200, Value::Null),
        "{}",
        r.body
    );
    let company = hosts(&api.get("/api/v1/registries", &root).await)
        .iter()
        .position(|(h, t)| h == "ghcr.io" && t.is_none())
        .unwrap();
    let company = api.get("/api/v1/registries", &root).await.body[company]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/registries/{company}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let before = api.engines.calls().len();
    let r = api
        .post(
            &format!("/api/v1/applications/{shop}/deployments"),
            &alice,
            json!({}),
        )
        .await;
    deployment_end(&api, &r, &alice).await;
    assert!(
        api.engines.calls()[before..].contains(&"pull ghcr.io/shop/web:1".to_owned()),
        "{:?}",
        api.engines.calls()
    );
    let audit = api
        .get("/api/v1/audit-log?action=registry.create", &root)
        .await;
    assert!(!audit.body.to_string().contains("token"), "{}", audit.body);
}

/// Scheduled jobs are the admins': listed with their timetable and last run, changed (a
/// malformed timetable 422, one that runs backwards or never 409, nothing changed), run now
/// (202, then a run in the history); developers get 403.
async fn schedules_are_listed_changed_and_run_now_by_admins(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "dev", "developer").await;
    let mut list = api.get("/api/v1/schedules", &root).await;
    for _ in 0..100 {
        if list.body.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        list = api.get("/api/v1/schedules", &root).await;
    }
    assert_eq!(list.status, 200, "{}", list.body);
    let retention = list.body[0].clone();
    assert_eq!(retention["kind"], "retention", "{}", list.body);
    assert_eq!(retention["cron"], "0 */6 * * *");
    assert_eq!(retention["time_zone"], "UTC");
    let id = retention["id"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/api/v1/schedules", &dev).await.status, 403);
    let path = format!("/api/v1/schedules/{id}");
    let patch = |token: &str, body: Value| {
        let token = token.to_owned();
        let (api, path) = (&api, path.clone());
        async move { api.call("PATCH", &path, Some(&token), Some(body)).await }
    };
    assert_eq!(
        patch(&dev, json!({ "cron": "0 3 * * *" })).await.status,
        403
    );
    for (bad, status) in [
        ("0 3 * *", 422),
        ("60 * * * *", 422),
        ("@daily", 422),
        ("0 5-1 * * *", 409),
        ("0 0 31 2 *", 409),
    ] {
        let r = patch(&root, json!({ "cron": bad })).await;
        assert_eq!(r.status, status, "{bad}: {}", r.body);
        assert_eq!(r.body["errors"][0]["field"], "cron", "{}", r.body);
    }
    let r = patch(&root, json!({ "cron": "30 2 * * sun", "enabled": false })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["cron"].as_str(), r.body["enabled"].as_bool()),
        (Some("30 2 * * sun"), Some(false))
    );
    let next: chrono::DateTime<chrono::Utc> =
        r.body["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        chrono::Datelike::weekday(&next),
        chrono::Weekday::Sun,
        "{}",
        r.body
    );

    // Run now: answered at once, then the run is in the history.
    let before = api
        .get(&format!("/api/v1/schedules/{id}/runs"), &root)
        .await
        .body["total"]
        .as_u64()
        .unwrap();
    let r = patch(&root, json!({ "enabled": true })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api
        .call(
            "POST",
            &format!("/api/v1/schedules/{id}/runs"),
            Some(&dev),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = api
        .call(
            "POST",
            &format!("/api/v1/schedules/{id}/runs"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let mut runs = Value::Null;
    for _ in 0..200 {
        runs = api
            .get(&format!("/api/v1/schedules/{id}/runs"), &root)
            .await
            .body;
        if runs["total"].as_u64() == Some(before + 1) && runs["items"][0]["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(runs["total"].as_u64(), Some(before + 1), "{runs}");
    assert_eq!(runs["items"][0]["status"], "success", "{runs}");
    assert_eq!(
        api.get(&format!("/api/v1/schedules/{id}/runs"), &dev)
            .await
            .status,
        403
    );
}

//! Push webhooks from each git host, in its own wire format (headers and payload fields as
//! the host's documentation shows them): a push to the tracked branch queues a deployment;
//! every other delivery a host sends (ping, tag push, tag deletion, branch deletion, a push to
//! another branch, another event) is answered 2xx with the reason and queues nothing, since a
//! host shows anything else to its user as a failed delivery.

use actix_web::test::TestRequest;
use berth_testkit::both_backends;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::api::{app_body, TestApi};

both_backends!(
    every_delivery_a_git_host_sends_is_answered_and_only_a_branch_push_deploys,
    a_flood_of_signed_pushes_keeps_one_deployment_waiting,
);

async fn a_flood_of_signed_pushes_keeps_one_deployment_waiting(api: TestApi) {
    // Nothing takes work off the queue here: this is about what queueing keeps.
    let api = api.without_worker();
    let root = api.admin().await;
    let project = api.project(&root, "shop", None).await;
    let r = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &root,
            app_body("web"),
        )
        .await;
    let app = r.body["id"].as_str().unwrap().to_owned();
    let secret = api
        .get(&format!("/api/v1/applications/{app}/webhook"), &root)
        .await
        .body["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..200u32 {
        let sha = format!("{:040x}", n + 1);
        let d = Delivery {
            provider: "github",
            event: "push",
            body: github_push("refs/heads/main", &sha, false, false),
            status: 202,
            reason: "",
        };
        let (status, body) = send(&api, &app, &secret, &d, n as usize).await;
        assert_eq!(status, 202, "{body}");
    }
    let mut items = Vec::new();
    for offset in [0, 100] {
        let page = api
            .get(
                &format!("/api/v1/applications/{app}/deployments?limit=100&offset={offset}"),
                &root,
            )
            .await
            .body;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(items.len(), 200);
    let pending: Vec<&Value> = items.iter().filter(|d| d["status"] == "pending").collect();
    assert_eq!(pending.len(), 1, "one waits");
    assert_eq!(
        pending[0]["commit_sha"],
        format!("{:040x}", 200),
        "the last one"
    );
    assert!(items
        .iter()
        .filter(|d| d["status"] != "pending")
        .all(|d| d["status"] == "cancelled"
            && d["message"]
                .as_str()
                .unwrap()
                .starts_with("superseded by deployment")));
}

const SHA: &str = "9f1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const ZERO: &str = "0000000000000000000000000000000000000000";

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// GitHub's `push` payload (fields as GitHub documents them, trimmed).
fn github_push(r: &str, after: &str, created: bool, deleted: bool) -> Value {
    json!({
        "ref": r, "before": if created { ZERO } else { SHA }, "after": after,
        "created": created, "deleted": deleted, "forced": false, "base_ref": null,
        "compare": "https://github.com/acme/web/compare/v1.0.0",
        "commits": [], "head_commit": null,
        "repository": { "id": 1, "name": "web", "full_name": "acme/web", "default_branch": "main" },
        "pusher": { "name": "alice", "email": "alice@example.com" },
        "sender": { "login": "alice", "id": 2 }
    })
}

/// GitLab's `Push Hook` / `Tag Push Hook` payload.
fn gitlab_push(kind: &str, r: &str, after: &str) -> Value {
    let checkout = if after == ZERO {
        Value::Null
    } else {
        json!(after)
    };
    json!({
        "object_kind": kind, "event_name": kind, "before": SHA, "after": after, "ref": r,
        "ref_protected": true, "checkout_sha": checkout, "user_id": 4, "user_name": "Alice",
        "user_username": "alice", "project_id": 15,
        "project": { "id": 15, "name": "web", "path_with_namespace": "acme/web", "default_branch": "main" },
        "commits": [], "total_commits_count": 0,
        "repository": { "name": "web", "url": "git@example.com:acme/web.git" }
    })
}

/// Gitea's (and Forgejo's) `push` payload.
fn gitea_push(r: &str, after: &str) -> Value {
    json!({
        "ref": r, "before": SHA, "after": after,
        "compare_url": "https://gitea.example.com/acme/web/compare/a...b",
        "commits": [], "total_commits": 0, "head_commit": null,
        "repository": { "id": 1, "name": "web", "full_name": "acme/web", "default_branch": "main" },
        "pusher": { "id": 1, "login": "alice" }, "sender": { "id": 1, "login": "alice" }
    })
}

/// Bitbucket Cloud's `repo:push` payload: one change, its `new` and `old` states.
fn bitbucket_push(new: Value, old: Value) -> Value {
    json!({
        "actor": { "display_name": "Alice", "type": "user" },
        "repository": { "type": "repository", "full_name": "acme/web", "name": "web" },
        "push": { "changes": [ {
            "new": new, "old": old,
            "created": old.is_null(), "closed": new.is_null(), "forced": false,
            "commits": [], "truncated": false
        } ] }
    })
}

fn bitbucket_ref(kind: &str, name: &str) -> Value {
    json!({ "type": kind, "name": name, "target": { "type": "commit", "hash": SHA } })
}

struct Delivery {
    provider: &'static str,
    event: &'static str,
    body: Value,
    /// 202 (queued) or 200 (answered, nothing queued), and a word of the reason.
    status: u16,
    reason: &'static str,
}

fn deliveries() -> Vec<Delivery> {
    let d = |provider, event, body, status, reason| Delivery {
        provider,
        event,
        body,
        status,
        reason,
    };
    vec![
        d(
            "github",
            "ping",
            json!({ "zen": "Keep it logically awesome.", "hook_id": 1, "hook": { "type": "Repository", "events": ["push"] } }),
            200,
            "ping",
        ),
        d(
            "github",
            "push",
            github_push("refs/tags/v1.0.0", SHA, true, false),
            200,
            "tag v1.0.0",
        ),
        d(
            "github",
            "push",
            github_push("refs/tags/v1.0.0", ZERO, false, true),
            200,
            "tag v1.0.0",
        ),
        d(
            "github",
            "push",
            github_push("refs/heads/main", ZERO, false, true),
            200,
            "deleted",
        ),
        d(
            "github",
            "push",
            github_push("refs/heads/feature", SHA, false, false),
            200,
            "feature",
        ),
        d(
            "github",
            "create",
            json!({ "ref": "v1.0.0", "ref_type": "tag", "master_branch": "main" }),
            200,
            "only push",
        ),
        d(
            "github",
            "push",
            github_push("refs/heads/main", SHA, false, false),
            202,
            "",
        ),
        d(
            "gitlab",
            "Tag Push Hook",
            gitlab_push("tag_push", "refs/tags/v1.0.0", SHA),
            200,
            "only push",
        ),
        d(
            "gitlab",
            "Push Hook",
            gitlab_push("push", "refs/heads/main", ZERO),
            200,
            "deleted",
        ),
        d(
            "gitlab",
            "Push Hook",
            gitlab_push("push", "refs/heads/main", SHA),
            202,
            "",
        ),
        d(
            "gitea",
            "push",
            gitea_push("refs/tags/v1.0.0", SHA),
            200,
            "tag v1.0.0",
        ),
        d(
            "gitea",
            "delete",
            json!({ "ref": "v1.0.0", "ref_type": "tag", "pusher_type": "user" }),
            200,
            "only push",
        ),
        d(
            "gitea",
            "push",
            gitea_push("refs/heads/main", ZERO),
            200,
            "deleted",
        ),
        d("gitea", "push", gitea_push("refs/heads/main", SHA), 202, ""),
        d(
            "bitbucket",
            "diagnostics:ping",
            json!({ "test": true }),
            200,
            "ping",
        ),
        d(
            "bitbucket",
            "repo:push",
            bitbucket_push(bitbucket_ref("tag", "v1.0.0"), Value::Null),
            200,
            "tag v1.0.0",
        ),
        d(
            "bitbucket",
            "repo:push",
            bitbucket_push(Value::Null, bitbucket_ref("tag", "v1.0.0")),
            200,
            "tag v1.0.0",
        ),
        d(
            "bitbucket",
            "repo:push",
            bitbucket_push(Value::Null, bitbucket_ref("branch", "main")),
            200,
            "deleted",
        ),
        d(
            "bitbucket",
            "repo:push",
            bitbucket_push(
                bitbucket_ref("branch", "main"),
                bitbucket_ref("branch", "main"),
            ),
            202,
            "",
        ),
    ]
}

async fn send(api: &TestApi, app: &str, secret: &str, d: &Delivery, n: usize) -> (u16, Value) {
    let body = d.body.to_string().into_bytes();
    let delivery = format!("delivery-{n}");
    let mut req = TestRequest::post()
        .uri(&format!("/api/v1/webhooks/{app}/{}", d.provider))
        .insert_header(("content-type", "application/json"));
    req = match d.provider {
        "github" => req
            .insert_header(("x-github-event", d.event))
            .insert_header(("x-github-delivery", delivery))
            .insert_header((
                "x-hub-signature-256",
                format!("sha256={}", hmac_hex(secret, &body)),
            )),
        "gitlab" => req
            .insert_header(("x-gitlab-event", d.event))
            .insert_header(("x-gitlab-event-uuid", delivery))
            .insert_header(("x-gitlab-token", secret.to_owned())),
        "gitea" => req
            .insert_header(("x-gitea-event", d.event))
            .insert_header(("x-gitea-delivery", delivery))
            .insert_header(("x-gitea-signature", hmac_hex(secret, &body))),
        _ => req
            .insert_header(("x-event-key", d.event))
            .insert_header(("x-request-uuid", delivery))
            .insert_header((
                "x-hub-signature",
                format!("sha256={}", hmac_hex(secret, &body)),
            )),
    };
    let r = api.raw(req.set_payload(body)).await;
    (r.status, r.body)
}

async fn every_delivery_a_git_host_sends_is_answered_and_only_a_branch_push_deploys(api: TestApi) {
    let root = api.admin().await;
    let (_, dev) = api.user(&root, "alice", "developer").await;
    let project = api.project(&dev, "shop", None).await;
    let r = api
        .post(
            &format!("/api/v1/projects/{project}/applications"),
            &dev,
            app_body("web"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.body["id"].as_str().unwrap().to_owned();
    let r = api
        .get(&format!("/api/v1/applications/{app}/webhook"), &dev)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let deployments = format!("/api/v1/applications/{app}/deployments");
    let mut queued = 0;
    for (n, d) in deliveries().iter().enumerate() {
        let (status, body) = send(&api, &app, &secret, d, n).await;
        let what = format!("{} {} {}", d.provider, d.event, d.body);
        assert_eq!(status, d.status, "{what}: {body}");
        if status == 200 {
            let why = body["ignored"].as_str().unwrap_or_default();
            assert!(why.contains(d.reason), "{what}: {body}");
        } else {
            queued += 1;
        }
        let total = api.get(&deployments, &dev).await.body["total"].clone();
        assert_eq!(total, queued, "{what} queued {total}");
    }
    // A payload that is no push of that host's is still a clear 400.
    let bad = Delivery {
        provider: "github",
        event: "push",
        body: json!({ "zen": "no ref here" }),
        status: 400,
        reason: "",
    };
    let (status, body) = send(&api, &app, &secret, &bad, 1000).await;
    assert_eq!(status, 400, "{body}");
}

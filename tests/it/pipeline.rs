//! The deployment pipeline end to end: the real binary on Postgres, a git repository made here
//! and read over `file://`, GitHub-signed push webhooks, builds and rolling updates on the real
//! Docker engine in swarm mode, and the application answering over HTTP on its replicas' ports.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{fresh_pg, json_of, request, start, terminate, Load};

/// The application: busybox httpd answering its version, `/health` unless built broken, and a
/// second of draining on SIGTERM.
const START: &str = r#"#!/bin/sh
cp /version /www/index.html
echo "${GREETING:-unset} $(cat "${TOKEN_FILE:-/nonexistent}" 2>/dev/null || echo unset)" > /www/env
echo "app $(cat /version) started"
httpd -f -p 8080 -h /www &
pid=$!
trap 'sleep 1; kill $pid; exit 0' TERM
wait $pid
"#;

fn dockerfile(version: &str, healthy: bool, build_ok: bool) -> String {
    let mut d = String::from("FROM berth-test/busybox:latest\nCOPY start /start\n");
    d.push_str(&format!(
        "RUN mkdir -p /www && echo {version} > /version{}\n",
        if healthy {
            " && echo ok > /www/health"
        } else {
            ""
        }
    ));
    if !build_ok {
        d.push_str("RUN echo 'compiling the broken thing' && false\n");
    }
    d.push_str("CMD [\"/bin/sh\", \"/start\"]\n");
    d
}

pub(crate) struct Repo {
    dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl Repo {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        Self { dir, repo }
    }

    pub(crate) fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// Commits a version of the application; returns the commit id.
    pub(crate) fn commit(&self, version: &str, healthy: bool, build_ok: bool) -> String {
        self.commit_dockerfile(version, &dockerfile(version, healthy, build_ok))
    }

    pub(crate) fn commit_dockerfile(&self, version: &str, dockerfile: &str) -> String {
        let path: &Path = self.dir.path();
        std::fs::write(path.join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(path.join("start"), START).unwrap();
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("dev", "dev@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, version, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

/// A request with extra headers and a raw body.
fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned(),
    )
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn push_body(branch: &str, after: &str) -> Vec<u8> {
    json!({ "ref": format!("refs/heads/{branch}"), "after": after, "repository": { "full_name": "acme/web" } })
        .to_string()
        .into_bytes()
}

pub(crate) struct Hook<'a> {
    addr: &'a str,
    path: String,
    secret: String,
}

impl Hook<'_> {
    pub(crate) fn push(&self, branch: &str, after: &str) -> (u16, Value) {
        let body = push_body(branch, after);
        let (status, text) = send(
            self.addr,
            "POST",
            &self.path,
            &[
                ("Content-Type", "application/json".into()),
                ("X-GitHub-Event", "push".into()),
                ("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string()),
                ("X-Hub-Signature-256", sign(&self.secret, &body)),
            ],
            &body,
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// `GET /` on a local port: the body of a 200 answer.
fn http_get(port: u16) -> Result<String, String> {
    http_get_path(port, "/")
}

fn http_get_path(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    match buf.split_once("\r\n\r\n") {
        Some((head, body)) if head.contains(" 200 ") => Ok(body.trim().to_owned()),
        _ => Err(format!("answer: {buf:?}")),
    }
}

pub(crate) struct Api<'a> {
    pub(crate) addr: &'a str,
    pub(crate) token: String,
}

impl Api<'_> {
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = request(self.addr, method, path, Some(&self.token), body.as_ref());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Asks for an operation (start, stop, restart, scale, delete), which answers 202 at once,
    /// and waits until it ends; returns it.
    pub(crate) fn operate(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, op) = self.call(method, path, body);
        assert_eq!(status, 202, "{op}");
        wait_operation(self.addr, &self.token, op["id"].as_str().unwrap())
    }

    /// Waits until the deployment ends; returns it with its steps.
    pub(crate) fn wait(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, d) = self.call("GET", &format!("/api/v1/deployments/{id}"), None);
            assert_eq!(status, 200, "{d}");
            let s = d["status"].as_str().unwrap_or("").to_owned();
            if !["pending", "building", "deploying"].contains(&s.as_str()) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "deployment {id} did not end: {d}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The host ports the running replicas answer on.
    fn ports(&self, app: &str) -> Vec<u16> {
        let (status, r) = self.call("GET", &format!("/api/v1/applications/{app}/runtime"), None);
        if status != 200 {
            return Vec::new();
        }
        r["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["state"] == "running" && t["desired"] == "running")
            .filter_map(|t| t["host_ports"][0][1].as_u64().map(|p| p as u16))
            .collect()
    }

    /// What every running replica's environment says: `GREETING` and the secret `TOKEN` (a file
    /// named by `TOKEN_FILE`).
    fn environments(&self, app: &str) -> Vec<String> {
        self.ports(app)
            .into_iter()
            .map(|p| http_get_path(p, "/env").unwrap_or_else(|e| e))
            .collect()
    }

    fn set_env(&self, app: &str, key: &str, value: &str, secret: bool) {
        let (status, r) = self.call(
            "PUT",
            &format!("/api/v1/applications/{app}/env/{key}"),
            Some(json!({ "value": value, "is_secret": secret })),
        );
        assert_eq!(status, 200, "{r}");
    }

    /// What every running replica answers.
    fn answers(&self, app: &str) -> Vec<String> {
        self.ports(app)
            .into_iter()
            .map(|p| http_get(p).unwrap_or_else(|e| e))
            .collect()
    }

    pub(crate) fn logs(&self, deployment: &str) -> Vec<Value> {
        let (status, lines) = self.call(
            "GET",
            &format!("/api/v1/deployments/{deployment}/logs?after=0&limit=1000"),
            None,
        );
        assert_eq!(status, 200, "{lines}");
        lines.as_array().unwrap().clone()
    }
}

/// A client that keeps requesting the application over its replicas' ports (refreshed from
/// the API), retrying a refused connection once on another replica, as berth's router does.
fn replica_load(addr: &str, token: &str, app: &str) -> Load {
    let api = (addr.to_owned(), token.to_owned(), app.to_owned());
    let mut ports = Vec::new();
    let mut refreshed = Instant::now() - Duration::from_secs(1);
    let mut n = 0usize;
    Load::start(move || {
        let client = Api {
            addr: &api.0,
            token: api.1.clone(),
        };
        if refreshed.elapsed() > Duration::from_millis(100) {
            let fresh = client.ports(&api.2);
            if !fresh.is_empty() {
                ports = fresh;
            }
            refreshed = Instant::now();
        }
        if ports.is_empty() {
            return None;
        }
        n += 1;
        let mut r = http_get(ports[n % ports.len()]);
        if matches!(&r, Err(e) if e.starts_with("connect")) {
            r = http_get(ports[(n + 1) % ports.len()]);
        }
        Some(r)
    })
}

/// Reads a deployment's log stream (SSE over HTTP/1.0, so the body is the raw event stream)
/// until it closes; returns the `log` events' sequence numbers and the `end` event's data.
fn read_stream(addr: &str, token: &str, deployment: &str) -> (Vec<i64>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "GET /api/v1/deployments/{deployment}/logs/stream HTTP/1.0\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    let mut seqs = Vec::new();
    let mut end = String::new();
    for event in body.split("\n\n") {
        let mut kind = "";
        let mut data = "";
        let mut id = None;
        for line in event.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                kind = v;
            } else if let Some(v) = line.strip_prefix("data: ") {
                data = v;
            } else if let Some(v) = line.strip_prefix("id: ") {
                id = v.parse().ok();
            }
        }
        match kind {
            "log" => seqs.push(id.unwrap()),
            "end" => end = data.to_owned(),
            _ => {}
        }
    }
    (seqs, end)
}

#[test]
fn a_signed_push_becomes_a_running_application_and_every_outcome_is_handled() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (hook_path, secret) = (hook.path.clone(), hook.secret.clone());

    // Bad requests first: nothing is queued by them.
    let body = push_body("main", &v1);
    let (status, _) = send(
        &b.addr,
        "POST",
        &hook_path,
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", sign("wrong", &body)),
        ],
        &body,
    );
    assert_eq!(status, 401);
    let (status, _) = send(
        &b.addr,
        "POST",
        &format!("/api/v1/webhooks/{}/github", uuid::Uuid::new_v4()),
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", sign(&secret, &body)),
        ],
        &body,
    );
    assert_eq!(status, 404);
    let bad = b"{not json";
    let (status, _) = send(
        &b.addr,
        "POST",
        &hook_path,
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", sign(&secret, bad)),
        ],
        bad,
    );
    assert_eq!(status, 400);
    let huge = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = send(
        &b.addr,
        "POST",
        &hook_path,
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", sign(&secret, &huge)),
        ],
        &huge,
    );
    assert_eq!(status, 413);
    let (status, ignored) = hook.push("feature", &v1);
    assert_eq!(status, 200, "{ignored}");
    assert!(ignored["ignored"].as_str().unwrap().contains("feature"));
    let (_, history) = api.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/deployments"),
        None,
    );
    assert_eq!(history["total"], 0, "{history}");

    // v1: a signed push deploys it, with the environment of that moment.
    api.set_env(&app_id, "GREETING", "one", false);
    api.set_env(&app_id, "TOKEN", "first-secret", true);
    let (status, d1) = hook.push("main", &v1);
    assert_eq!(status, 202, "{d1}");
    let d1_id = d1["id"].as_str().unwrap().to_owned();
    let (seqs, end) = read_stream(&b.addr, &api.token, &d1_id);
    let d1 = api.wait(&d1_id);
    assert_eq!(d1["status"], "success", "{d1}\n{:#?}", api.logs(&d1_id));
    assert!(end.contains("success"), "{end}");
    let stored: Vec<i64> = api
        .logs(&d1_id)
        .iter()
        .map(|l| l["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs, stored,
        "the stream gave every stored line exactly once, in order"
    );
    let steps: Vec<&str> = d1["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["clone", "build", "release", "rollout", "verify"]);
    assert!(
        d1["message"]
            .as_str()
            .unwrap()
            .contains("2 of 2 replicas answered GET /health"),
        "the verify step asked every replica from outside: {d1}"
    );
    assert!(
        api.logs(&d1_id)
            .iter()
            .any(|l| l["message"] == "migrating to v1"),
        "the release command ran in the new image before the rollout"
    );
    let answers = api.answers(&app_id);
    assert_eq!(
        answers,
        ["v1", "v1"],
        "both replicas serve the pushed commit"
    );

    assert_eq!(
        api.environments(&app_id),
        ["one first-secret", "one first-secret"]
    );

    // v2 under load, with a changed environment: no request fails, answers switch.
    api.set_env(&app_id, "GREETING", "two", false);
    api.set_env(&app_id, "TOKEN", "second-secret", true);
    let v2 = repo.commit("v2", true, true);
    let load = replica_load(&b.addr, &api.token, &app_id);
    std::thread::sleep(Duration::from_millis(500));
    let (status, d2) = hook.push("main", &v2);
    assert_eq!(status, 202);
    let d2 = api.wait(d2["id"].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    let (requests, failures, seen) = load.finish();
    assert_eq!(d2["status"], "success", "{d2}");
    println!(
        "push v1 -> v2: {requests} requests, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {requests} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(seen.first().map(String::as_str), Some("v1"));
    assert_eq!(seen.last().map(String::as_str), Some("v2"));
    assert_eq!(
        api.environments(&app_id),
        ["two second-secret", "two second-secret"]
    );
    // The first push delivered again (a new delivery id, the same signed payload): the branch
    // has moved on to v2, which runs, so it deploys nothing and says why.
    let (status, replay) = hook.push("main", &v1);
    assert_eq!(status, 202, "{replay}");
    let replay = api.wait(replay["id"].as_str().unwrap());
    assert_eq!(replay["status"], "cancelled", "{replay}");
    assert!(
        replay["message"].as_str().unwrap().contains("a stale push"),
        "{replay}"
    );
    assert_eq!(api.answers(&app_id), ["v2", "v2"]);

    // A commit whose build fails: failed, the failing line in the log, v2 still serving.
    let broken = repo.commit("v3", true, false);
    let (_, d3) = hook.push("main", &broken);
    let d3_id = d3["id"].as_str().unwrap().to_owned();
    let d3 = api.wait(&d3_id);
    assert_eq!(d3["status"], "failed", "{d3}");
    let lines = api.logs(&d3_id);
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .unwrap()
            .contains("compiling the broken thing")),
        "{lines:#?}"
    );
    assert_eq!(api.answers(&app_id), ["v2", "v2"]);

    // A commit whose health check fails: rolled back, v2 still serving.
    let sick = repo.commit("v4", false, true);
    let (_, d4) = hook.push("main", &sick);
    let d4 = api.wait(d4["id"].as_str().unwrap());
    assert_eq!(d4["status"], "rolled_back", "{d4}");
    assert!(
        d4["message"].as_str().unwrap().contains("health check"),
        "{d4}"
    );
    assert_eq!(api.answers(&app_id), ["v2", "v2"]);

    // A commit that is healthy inside but fails the HTTP check from outside: rolled back.
    let (status, patched) = api.call(
        "PATCH",
        &format!("/api/v1/applications/{app_id}"),
        Some(json!({ "verify": { "http_path": "/missing", "port": 8080, "timeout_s": 3 } })),
    );
    assert_eq!(status, 200, "{patched}");
    let unverified = repo.commit("v5", true, true);
    let (_, d5) = hook.push("main", &unverified);
    let d5 = api.wait(d5["id"].as_str().unwrap());
    assert_eq!(d5["status"], "rolled_back", "{d5}");
    let message = d5["message"].as_str().unwrap();
    assert!(
        message.contains("answered 404 to GET /missing") && message.contains("rolled back"),
        "{d5}"
    );
    assert_eq!(api.answers(&app_id), ["v2", "v2"]);
    assert_eq!(api.answers(&app_id), ["v2", "v2"]);
    let (status, bad) = api.call(
        "PATCH",
        &format!("/api/v1/applications/{app_id}"),
        Some(json!({ "verify": { "http_path": "health", "port": 70000 } })),
    );
    assert_eq!(status, 422, "no path and no port: {bad}");

    // Roll back to the first deployment: v1 again, with no build.
    let (status, r) = api.call(
        "POST",
        &format!("/api/v1/deployments/{d1_id}/rollback"),
        None,
    );
    assert_eq!(status, 202, "{r}");
    let r = api.wait(r["id"].as_str().unwrap());
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["trigger"], "rollback");
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["release", "rollout", "verify"], "no build ran");
    assert_eq!(api.answers(&app_id), ["v1", "v1"]);
    assert_eq!(
        api.environments(&app_id),
        ["one first-secret", "one first-secret"],
        "the rollback deployed the first deployment's environment, not today's"
    );

    // Stop, start, scale, restart, runtime logs: each answers at once and runs in the
    // background.
    let running = |api: &Api| {
        let (status, rt) = api.call(
            "GET",
            &format!("/api/v1/applications/{app_id}/runtime"),
            None,
        );
        assert_eq!(status, 200, "{rt}");
        rt["running"].as_u64()
    };
    let op = api.operate("POST", &format!("/api/v1/applications/{app_id}/stop"), None);
    assert_eq!(
        (op["status"].as_str(), running(&api)),
        (Some("success"), Some(0)),
        "{op}"
    );
    let (_, app) = api.call("GET", &format!("/api/v1/applications/{app_id}"), None);
    assert_eq!(app["status"], "stopped", "{app}");
    let op = api.operate(
        "POST",
        &format!("/api/v1/applications/{app_id}/start"),
        None,
    );
    assert_eq!(
        (op["status"].as_str(), running(&api)),
        (Some("success"), Some(2)),
        "{op}"
    );
    let op = api.operate(
        "POST",
        &format!("/api/v1/applications/{app_id}/scale"),
        Some(json!({ "replicas": 3 })),
    );
    assert_eq!(
        (op["status"].as_str(), running(&api)),
        (Some("success"), Some(3)),
        "{op}"
    );
    let (_, ops) = api.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/operations"),
        None,
    );
    let kinds: Vec<&str> = ops["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["scale", "start", "stop"], "{ops}");
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/scale"),
        Some(json!({ "replicas": -1 })),
    );
    assert_eq!(status, 422);
    let op = api.operate(
        "POST",
        &format!("/api/v1/applications/{app_id}/restart"),
        None,
    );
    assert_eq!(
        (op["status"].as_str(), running(&api)),
        (Some("success"), Some(3)),
        "{op}"
    );
    let (status, logs) = api.call("GET", &format!("/api/v1/applications/{app_id}/logs"), None);
    assert_eq!(status, 200);
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "app v1 started"),
        "{logs}"
    );

    // Deleting the application removes its service and its images.
    let (_, shown) = api.call("GET", &format!("/api/v1/applications/{app_id}"), None);
    let service = berth_domain::ServiceName::for_application(
        &berth_domain::ResourceName::parse(shown["name"].as_str().unwrap()).unwrap(),
        berth_domain::ApplicationId::from_uuid(uuid::Uuid::parse_str(&app_id).unwrap()),
    );
    drop(cleanup);
    let (status, _) = api.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/runtime"),
        None,
    );
    assert_eq!(status, 404);
    let images = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let docker = bollard::Docker::connect_with_local_defaults()
                .unwrap()
                .negotiate_version()
                .await
                .unwrap();
            docker
                .list_images(None::<bollard::query_parameters::ListImagesOptions>)
                .await
                .unwrap()
        });
    let prefix = format!("berth/{service}:");
    assert!(
        !images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t.starts_with(&prefix))),
        "the application's images were removed with it"
    );
    terminate(b);
}

/// The first user, a project, an application tracking `repo`'s main branch (2 replicas on
/// engine-assigned host ports, health-checked every second) and its webhook.
pub(crate) fn setup_application<'a>(addr: &'a str, repo: &Repo) -> (Api<'a>, String, Hook<'a>) {
    let (status, setup) = request(
        addr,
        "POST",
        "/api/v1/auth/setup",
        None,
        Some(
            &json!({ "username": "admin", "email": "admin@example.com", "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{setup}");
    let api = Api {
        addr,
        token: json_of(&setup)["token"].as_str().unwrap().to_owned(),
    };
    let (_, project) = api.call("POST", "/api/v1/projects", Some(json!({ "name": "shop" })));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let (status, app) = api.call(
        "POST",
        &format!("/api/v1/projects/{}/applications", project["id"].as_str().unwrap()),
        Some(json!({
            "name": format!("web-{suffix}"),
            "source": { "type": "git", "provider": "github", "repository": repo.url(), "branch": "main" },
            "replicas": 2,
            "ports": [ { "container": 8080, "mode": "host" } ],
            "health_check": { "http_path": "/health", "port": 8080, "interval_s": 1, "timeout_s": 1, "retries": 2 },
            "release_command": ["sh", "-c", "echo migrating to $(cat /version 2>/dev/null || echo nothing)"],
            "verify": { "http_path": "/health", "port": 8080, "timeout_s": 20 }
        })),
    );
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let (status, hook) = api.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/webhook"),
        None,
    );
    assert_eq!(status, 200, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let (_, again) = api.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/webhook"),
        None,
    );
    assert!(again["secret"].is_null(), "the secret is shown once");
    let path = url::Url::parse(hook["url"].as_str().unwrap())
        .unwrap()
        .path()
        .to_owned();
    (api, app_id, Hook { addr, path, secret })
}

/// Those of `layers` that still exist without a tag once `within` passed (or at once when
/// none does).
fn untagged_left(layers: &[String], within: Duration) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults()
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
        let deadline = Instant::now() + within;
        loop {
            let mut left = Vec::new();
            for id in layers {
                if let Ok(image) = docker.inspect_image(id).await {
                    if image.repo_tags.unwrap_or_default().is_empty() {
                        left.push(id.clone());
                    }
                }
            }
            if left.is_empty() || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// Waits until the operation ends; returns it.
pub(crate) fn wait_operation(addr: &str, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (status, text) = request(
            addr,
            "GET",
            &format!("/api/v1/operations/{id}"),
            Some(token),
            None,
        );
        let op: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(status, 200, "{op}");
        if ["success", "failed"].contains(&op["status"].as_str().unwrap_or("")) {
            return op;
        }
        assert!(
            Instant::now() < deadline,
            "operation {id} did not end: {op}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Deletes the test's application (and so its service) even when the test fails.
pub(crate) struct Cleanup {
    pub(crate) addr: String,
    pub(crate) token: String,
    pub(crate) app: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (status, body) = request(
            &self.addr,
            "DELETE",
            &format!("/api/v1/applications/{}?delete_volumes=true", self.app),
            Some(&self.token),
            None,
        );
        if std::thread::panicking() {
            return;
        }
        assert_eq!(status, 202, "{body}");
        let op = wait_operation(
            &self.addr,
            &self.token,
            json_of(&body)["id"].as_str().unwrap(),
        );
        assert_eq!(op["status"], "success", "{op}");
    }
}

/// The server is killed (SIGKILL) during a build and started again: the interrupted
/// deployment ends `failed` with the reason, nothing stays in progress, and the deployment that
/// was waiting behind it runs.
#[test]
fn a_killed_server_ends_its_deployment_and_the_queue_carries_on() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let args = ["--data-dir", data.path().to_str().unwrap()];
    let env = [
        ("BERTH_DATABASE_URL", url.as_str()),
        ("BERTH_BCRYPT_COST", "4"),
    ];
    let mut b = start(&args, &env);
    let repo = Repo::new();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let slow = repo.commit_dockerfile(
        "slow",
        &format!("FROM berth-test/busybox:latest\nRUN echo {unique} > /unique\nRUN echo building slowly && sleep 60\nCMD [\"sleep\", \"1000\"]\n"),
    );
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let (api_token, hook_path, secret) =
        (api.token.clone(), hook.path.clone(), hook.secret.clone());
    let (status, d1) = hook.push("main", &slow);
    assert_eq!(status, 202, "{d1}");
    let d1 = d1["id"].as_str().unwrap().to_owned();
    // Wait until the build runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = api.logs(&d1);
        if lines.iter().any(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .contains("building slowly")
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the build never started: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let good = repo.commit("v1", true, true);
    let (status, d2) = hook.push("main", &good);
    assert_eq!(status, 202, "{d2}");
    let d2 = d2["id"].as_str().unwrap().to_owned();
    let layers: Vec<String> = api
        .logs(&d1)
        .iter()
        .filter_map(|l| {
            let id = l["message"].as_str()?.trim().strip_prefix("---> ")?;
            (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
        })
        .collect();
    assert!(
        layers.len() >= 2,
        "the base and the unique layer were reported: {layers:?}"
    );
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    drop(api);
    drop(hook);

    let b = start(&args, &env);
    let api = Api {
        addr: &b.addr,
        token: api_token,
    };
    let cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (_, first) = api.call("GET", &format!("/api/v1/deployments/{d1}"), None);
    assert_eq!(first["status"], "failed", "{first}");
    assert_eq!(
        first["message"],
        "interrupted: the server stopped during this deployment"
    );
    assert!(
        first["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !["pending", "running"].contains(&s["state"].as_str().unwrap())),
        "no step stays in progress: {first}"
    );
    assert_eq!(first["build"]["status"], "failed", "{first}");
    assert!(
        untagged_left(&layers, Duration::from_secs(60)).is_empty(),
        "the layers the killed build made were removed at start: {layers:?}"
    );
    let second = api.wait(&d2);
    assert_eq!(second["status"], "success", "{second}");
    assert_eq!(api.answers(&app_id), ["v1", "v1"]);

    // Cancelling a running build stops that deployment alone; what runs keeps serving.
    let hook = Hook {
        addr: &b.addr,
        path: hook_path,
        secret,
    };
    let slow = repo.commit_dockerfile(
        "slow-again",
        "FROM berth-test/busybox:latest\nRUN echo building slowly again && sleep 60\nCMD [\"sleep\", \"1000\"]\n",
    );
    let (_, d3) = hook.push("main", &slow);
    let d3 = d3["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !api.logs(&d3).iter().any(|l| {
        l["message"]
            .as_str()
            .unwrap_or("")
            .contains("building slowly again")
    }) {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, c) = api.call("POST", &format!("/api/v1/deployments/{d3}/cancel"), None);
    assert_eq!(status, 202, "{c}");
    let cancelled = api.wait(&d3);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let build = cancelled["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "build")
        .unwrap();
    assert_eq!(build["state"], "cancelled", "{cancelled}");
    let (status, _) = api.call("POST", &format!("/api/v1/deployments/{d3}/cancel"), None);
    assert_eq!(status, 409, "an ended deployment cannot be cancelled");
    assert_eq!(api.answers(&app_id), ["v1", "v1"]);
    drop(cleanup);
    terminate(b);
}

/// Twenty pushes at once: one deployment of the application runs at a time, the ones queued
/// behind it are superseded by the newest, and the last one queued is what runs.
#[test]
fn twenty_pushes_at_once_run_one_at_a_time_and_the_last_queued_wins() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let repo = Repo::new();
    let commits: Vec<String> = (1..=20)
        .map(|i| repo.commit(&format!("v{i}"), true, true))
        .collect();
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (path, secret) = (hook.path.clone(), hook.secret.clone());
    let senders: Vec<_> = commits
        .iter()
        .enumerate()
        .map(|(i, sha)| {
            let (addr, path, secret, sha) =
                (b.addr.clone(), path.clone(), secret.clone(), sha.clone());
            std::thread::spawn(move || {
                // A burst: a few milliseconds apart, arriving in whatever order the threads run.
                std::thread::sleep(Duration::from_millis(15 * i as u64));
                Hook {
                    addr: &addr,
                    path,
                    secret,
                }
                .push("main", &sha)
                .0
            })
        })
        .collect();
    for s in senders {
        assert_eq!(s.join().unwrap(), 202);
    }
    // Wait until nothing is left to run.
    let deadline = Instant::now() + Duration::from_secs(600);
    let history = loop {
        let (_, h) = api.call(
            "GET",
            &format!("/api/v1/applications/{app_id}/deployments?limit=100"),
            None,
        );
        let items = h["items"].as_array().unwrap().clone();
        if items
            .iter()
            .all(|d| !["pending", "building", "deploying"].contains(&d["status"].as_str().unwrap()))
        {
            break items;
        }
        assert!(Instant::now() < deadline, "deployments did not finish: {h}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(history.len(), 20);
    let ran: Vec<&Value> = history
        .iter()
        .filter(|d| d["status"] != "cancelled")
        .collect();
    assert!(ran.len() <= 3, "most were superseded: {history:#?}");
    // Cancelled: superseded while pending, or a stale push that found the tip running.
    for d in history.iter().filter(|d| d["status"] == "cancelled") {
        let m = d["message"].as_str().unwrap();
        assert!(
            m.starts_with("superseded by deployment") || m.starts_with("a stale push"),
            "{d}"
        );
    }
    // Never two at once: the deployments that ran do not overlap in time.
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let mut spans: Vec<_> = ran
        .iter()
        .map(|d| (at(&d["started_at"]), at(&d["finished_at"])))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "two deployments overlapped: {spans:?}");
    }
    // Deliveries sent at the same moment arrive in any order: the one queued last is the
    // newest (history is newest first) and runs; whichever commit it names, the branch's tip
    // is what it deploys (an older one is a stale push).
    let newest = &history[0];
    let stale_but_running = newest["status"] == "cancelled"
        && newest["message"]
            .as_str()
            .unwrap()
            .contains("it runs already");
    assert!(
        newest["status"] == "success" || stale_but_running,
        "{newest}"
    );
    let version = format!("v{}", commits.len());
    assert_eq!(api.answers(&app_id), [version.clone(), version]);
    drop(cleanup);
    terminate(b);
}

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! System tests of the real `berth` binary: started as a user would start it, on a free port,
//! driven over HTTP, stopped with a signal, against Postgres, the Docker engine and the router.
//! The binary is `target/<profile>/berth` beside these tests (`make test` builds it first), or
//! the one `BERTH_BIN` names.

mod edge;
mod isolation;
mod limits;
mod outlive;
mod pipeline;
mod registry;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `berth` binary under test.
fn berth_bin() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("BERTH_BIN") {
        return path.into();
    }
    // This test runs as target/<profile>/deps/system-<hash>.
    let exe = std::env::current_exe().expect("the test's own path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("berth"))
        .expect("the target directory");
    assert!(
        bin.exists(),
        "{} does not exist: build it first (`cargo build -p berth-server`; `make test` does)",
        bin.display()
    );
    bin
}

struct Berth {
    child: Child,
    addr: String,
    stderr: std::sync::mpsc::Receiver<String>,
}

/// Starts `berth serve` with the given extra arguments and environment and waits for it to
/// say where it listens.
fn start(args: &[&str], env: &[(&str, &str)]) -> Berth {
    start_from(&berth_bin(), args, env)
}

/// [`start`] with another binary (an upgrade's).
fn start_from(bin: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Berth {
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("BERTH_DATABASE_URL")
        // The edge router only where a test asks for it: parallel servers would all want 80.
        .env("BERTH_PROXY_HTTP", "off")
        .env("BERTH_PROXY_HTTPS", "off")
        // The tests' repositories are local ones in temporary directories; a test that tries
        // what an ordinary installation refuses sets this to nothing.
        .env("BERTH_GIT_LOCAL_ROOTS", std::env::temp_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start berth");
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).expect("read stdout");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| {
            let _ = child.wait();
            let logs: Vec<String> = rx.try_iter().collect();
            panic!("berth did not start: {line:?}\n{}", logs.join("\n"))
        })
        .to_owned();
    Berth {
        child,
        addr,
        stderr: rx,
    }
}

/// A GET over a fresh connection: the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, None, None)
}

/// One HTTP/1.1 request over a fresh connection: the status code and the body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    // Long enough for the slowest answer.
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: berth-e2e\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    if body.is_some() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(payload.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// A server a test started is stopped even when the test fails half-way.
impl Drop for Berth {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            // What the server said, to explain the failure.
            for line in self.stderr.try_iter() {
                eprintln!("berth: {line}");
            }
        }
    }
}

fn terminate(mut b: Berth) -> (std::process::ExitStatus, Vec<String>) {
    let pid = b.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(ok.success());
    let status = b.child.wait().expect("wait");
    let logs = b.stderr.try_iter().collect();
    (status, logs)
}

#[test]
fn serves_health_on_sqlite_with_no_setup_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let b = start(&["--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(get(&b.addr, "/healthz"), (200, r#"{"status":"ok"}"#.into()));
    assert_eq!(
        get(&b.addr, "/readyz"),
        (200, r#"{"status":"ready"}"#.into())
    );
    assert_eq!(get(&b.addr, "/nope").0, 404);
    assert!(
        data.join("berth.db").exists(),
        "SQLite lives in the data directory"
    );
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    assert_eq!(key.trim().len(), 44, "a generated 32-byte key in base64");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(data.join("secret.key"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let (status, logs) = terminate(b);
    assert!(
        status.success(),
        "exit on SIGTERM is clean: {status:?}\n{}",
        logs.join("\n")
    );
    assert!(
        logs.iter().any(|l| l.contains("SIGTERM received")),
        "{}",
        logs.join("\n")
    );

    // A second start keeps the same key and database.
    let b = start(&["--data-dir", data.to_str().unwrap()], &[]);
    assert_eq!(get(&b.addr, "/readyz").0, 200);
    assert_eq!(
        std::fs::read_to_string(data.join("secret.key")).unwrap(),
        key
    );
    terminate(b);
}

#[test]
fn serves_on_postgres_from_the_environment() {
    let base = std::env::var("BERTH_TEST_PG_URL")
        .expect("BERTH_TEST_PG_URL is not set: run with `make test`");
    let name = format!("berth_e2e_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(base.clone()).await.unwrap();
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(&base).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", dir.path().to_str().unwrap(), "--log-json"],
        &[("BERTH_DATABASE_URL", url.as_str())],
    );
    assert_eq!(get(&b.addr, "/readyz").0, 200);
    let (status, logs) = terminate(b);
    assert!(status.success());
    let connected = logs
        .iter()
        .find(|l| l.contains("connected to the database"))
        .expect("a log line about the database");
    let v: serde_json::Value = serde_json::from_str(connected).expect("JSON log lines");
    assert!(
        !v["database"].as_str().unwrap().contains(":berth@"),
        "the password is redacted: {v}"
    );
}

#[test]
fn a_database_that_is_down_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(berth_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .args([
            "--database-url",
            &format!("postgres://berth:hunter2@127.0.0.1:{port}/berth"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot connect to the database at postgres://berth:[redacted]@127.0.0.1:{port}/berth"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(berth_bin())
        .args(["migrate", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema is up to date"));
    assert!(dir.path().join("berth.db").exists());
}

#[test]
fn bad_settings_are_refused_with_their_name() {
    let out = Command::new(berth_bin())
        .args(["serve"])
        .env("BERTH_LISTEN", "everywhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERTH_LISTEN"));
}

fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body expected: {body}"))
}

/// Creates an empty database on the test cluster (blocking).
fn fresh_pg() -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(berth_testkit::fresh_pg_database())
}

#[test]
fn a_team_works_through_the_api_on_postgres() {
    use serde_json::json;
    let url = fresh_pg();
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>| {
        let (status, text) = request(&b.addr, method, path, token, body.as_ref());
        (
            status,
            if text.is_empty() {
                serde_json::Value::Null
            } else {
                json_of(&text)
            },
        )
    };

    let (status, body) = call(
        "POST",
        "/api/v1/auth/setup",
        None,
        Some(
            json!({ "username": "root", "email": "root@example.com", "password": "correct horse" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    let root = body["token"].as_str().unwrap().to_owned();
    let (status, _) = call(
        "POST",
        "/api/v1/users",
        Some(&root),
        Some(
            json!({ "username": "alice", "email": "alice@example.com", "password": "alice-password" }),
        ),
    );
    assert_eq!(status, 201);
    let (status, body) = call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({ "login": "alice@example.com", "password": "alice-password" })),
    );
    assert_eq!(status, 200, "{body}");
    let alice = body["token"].as_str().unwrap().to_owned();
    let alice_id = body["user"]["id"].as_str().unwrap().to_owned();

    let (status, body) = call(
        "POST",
        "/api/v1/teams",
        Some(&root),
        Some(json!({ "name": "platform" })),
    );
    assert_eq!(status, 201);
    let team = body["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        "POST",
        &format!("/api/v1/teams/{team}/members"),
        Some(&root),
        Some(json!({ "user_id": alice_id, "role": "member" })),
    );
    assert_eq!(status, 201);

    let (status, body) = call(
        "POST",
        "/api/v1/projects",
        Some(&alice),
        Some(json!({ "name": "web shop", "team_id": team })),
    );
    assert_eq!(status, 201, "{body}");
    let project = body["id"].as_str().unwrap().to_owned();
    let app = json!({
        "name": "web",
        "source": { "type": "git", "provider": "github", "repository": "https://github.com/acme/web.git", "branch": "main" },
        "replicas": 2,
        "ports": [ { "container": 8080 } ]
    });
    let (status, body) = call(
        "POST",
        &format!("/api/v1/projects/{project}/applications"),
        Some(&alice),
        Some(app),
    );
    assert_eq!(status, 201, "{body}");
    let app = body["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        "PUT",
        &format!("/api/v1/applications/{app}/env/STRIPE_KEY"),
        Some(&alice),
        Some(json!({ "value": "sk_live_secret", "is_secret": true })),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        "GET",
        &format!("/api/v1/applications/{app}/env"),
        Some(&alice),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{ "key": "STRIPE_KEY", "value": null, "is_secret": true, "updated_at": body[0]["updated_at"] }])
    );

    let (status, body) = call("GET", "/api/v1/audit-log?limit=100", Some(&root), None);
    assert_eq!(status, 200);
    let actions: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "auth.setup",
        "user.create",
        "auth.login",
        "team.create",
        "team.member_add",
        "project.create",
        "application.create",
        "application.env_set",
    ] {
        assert!(actions.contains(&a), "{a} is in the audit log: {actions:?}");
    }
    assert!(!body.to_string().contains("sk_live_secret"));
    let env_set = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "application.env_set")
        .unwrap();
    assert_eq!(env_set["user_agent"], "berth-e2e");
    assert_eq!(env_set["ip_address"], "127.0.0.1");
    let (status, _) = call("GET", "/api/v1/audit-log", Some(&alice), None);
    assert_eq!(status, 403);
    let (status, page) = request(&b.addr, "GET", "/api/docs/", None, None);
    assert_eq!(status, 200);
    assert!(page.contains("swagger"), "the interactive viewer: {page}");
    terminate(b);
}

#[test]
fn an_admin_can_be_created_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = Command::new(berth_bin())
        .args([
            "user",
            "create",
            "--username",
            "rescue",
            "--email",
            "rescue@example.com",
            "--admin",
            "--data-dir",
            data,
        ])
        .env("BERTH_USER_PASSWORD", "rescue-password")
        .env("BERTH_BCRYPT_COST", "4")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = Command::new(berth_bin())
        .args([
            "user",
            "create",
            "--username",
            "x",
            "--email",
            "nope",
            "--data-dir",
            data,
        ])
        .env("BERTH_USER_PASSWORD", "short")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("username") && err.contains("email") && err.contains("password"),
        "{err}"
    );

    let b = start(&["--data-dir", data], &[("BERTH_BCRYPT_COST", "4")]);
    let body = serde_json::json!({ "login": "rescue", "password": "rescue-password" });
    let (status, text) = request(&b.addr, "POST", "/api/v1/auth/login", None, Some(&body));
    assert_eq!(status, 200, "{text}");
    assert_eq!(json_of(&text)["user"]["role"], "super_admin");
    terminate(b);
}

#[test]
fn the_openapi_command_prints_the_document() {
    let out = Command::new(berth_bin()).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc = json_of(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["info"]["title"], "berth");
}

/// Waits up to 60 s for a log line containing `needle`; returns every line read.
fn wait_for_log(b: &Berth, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = b.stderr.recv_timeout(Duration::from_millis(200)) {
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }
    panic!("no log line with {needle:?} in:\n{}", seen.join("\n"));
}

#[test]
fn says_at_start_whether_swarm_can_be_used() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let b = start(&["--data-dir", data.to_str().unwrap()], &[]);
    let logs = wait_for_log(&b, "swarm manager ready");
    assert!(
        logs.iter().any(|l| l.contains("network=berth")),
        "{}",
        logs.join("\n")
    );
    terminate(b);

    // No engine where DOCKER_HOST points: the API still serves, and the log says why
    // deployments cannot work.
    let b = start(
        &["--data-dir", data.to_str().unwrap()],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let logs = wait_for_log(&b, "Swarm cannot be used");
    assert!(
        logs.iter().any(|l| l.contains("/nonexistent/docker.sock")),
        "{}",
        logs.join("\n")
    );
    assert_eq!(get(&b.addr, "/readyz").0, 200);
    terminate(b);
}

/// A client loop on a thread of its own: calls `next` until stopped (`None`: nothing to ask
/// yet), counting requests and keeping answers and failures in order.
pub(crate) struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
    results: std::sync::Arc<std::sync::Mutex<(Vec<String>, Vec<String>)>>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    pub(crate) fn start(
        mut next: impl FnMut() -> Option<Result<String, String>> + Send + 'static,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let results = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), Vec::new())));
        let thread = std::thread::spawn({
            let (stop, requests, results) = (stop.clone(), requests.clone(), results.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(r) = next() else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    requests.fetch_add(1, Ordering::Relaxed);
                    let mut results = results.lock().unwrap();
                    match r {
                        Ok(answer) => results.0.push(answer),
                        Err(e) => results.1.push(e),
                    }
                    drop(results);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        Self {
            stop,
            requests,
            results,
            thread,
        }
    }

    /// Stops; returns how many requests were made, the failures and the answers.
    pub(crate) fn finish(self) -> (u64, Vec<String>, Vec<String>) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        let (answers, failures) = self.results.lock().unwrap().clone();
        (self.requests.load(Ordering::Relaxed), failures, answers)
    }
}

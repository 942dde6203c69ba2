#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! End-to-end tests of the real `berth` binary: started as a user would start it, on a free
//! port, driven over HTTP, stopped with a signal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Berth {
    child: Child,
    addr: String,
    stderr: std::sync::mpsc::Receiver<String>,
}

/// Starts `berth serve` with the given extra arguments and environment and waits for it to
/// say where it listens.
fn start(args: &[&str], env: &[(&str, &str)]) -> Berth {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .env_remove("BERTH_DATABASE_URL")
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
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
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
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
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
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve"])
        .env("BERTH_LISTEN", "everywhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BERTH_LISTEN"));
}

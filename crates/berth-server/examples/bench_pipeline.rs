#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark fails loudly and prints its table
//! `make bench` part for the deployment pipeline. Prints a Markdown table for
//! docs/benchmarks.md:
//! - the webhook's answer time while signed pushes arrive at 200 per second for 20 s (each on a
//!   new connection, as git hosts send them; latency measured from when each was due, so a slow
//!   answer delays the ones behind it and counts), with the deployments they queue running;
//! - the pipeline's overhead: the time from a push webhook to a converged service, minus what
//!   `docker build` plus `docker service update` take for the same kind of commit on the same
//!   service (median of several alternating rounds).
//!
//! Needs the base image (`make base-image`) and the release binary. Run:
//! `target/release/examples/bench_pipeline target/release/berth [rounds]`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn call(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: application/json\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn commit(repo: &git2::Repository, dir: &std::path::Path, version: &str) -> String {
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM berth-test/busybox:latest\nRUN mkdir -p /www && echo ok > /www/health\nRUN echo {version} > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"
        ),
    )
    .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("bench", "bench@example.com").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, version, &tree, &parents)
        .unwrap()
        .to_string()
}

struct Hook {
    addr: String,
    path: String,
    secret: String,
}

impl Hook {
    fn push(&self, sha: &str) -> (u16, Value) {
        let body = json!({ "ref": "refs/heads/main", "after": sha })
            .to_string()
            .into_bytes();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(&body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        call(
            &self.addr,
            "POST",
            &self.path,
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string()),
                ("X-Hub-Signature-256", signature),
            ],
            &body,
        )
    }
}

fn wait_idle(addr: &str, token: &str, app: &str) -> Value {
    let auth = [("Authorization", format!("Bearer {token}"))];
    loop {
        let (_, h) = call(
            addr,
            "GET",
            &format!("/api/v1/applications/{app}/deployments?limit=1"),
            &auth,
            b"",
        );
        let d = h["items"][0].clone();
        if !["pending", "building", "deploying"].contains(&d["status"].as_str().unwrap_or("")) {
            return d;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args.next().expect("the path of the berth binary");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(&binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ])
        // berth-build's debug line times each part of a build (bases, context, engine, tag).
        .env("BERTH_LOG_LEVEL", "warn,berth_build=debug")
        // The benchmark's repository is a local one, in a temporary directory.
        .env("BERTH_GIT_LOCAL_ROOTS", std::env::temp_dir())
        .env_remove("BERTH_DATABASE_URL")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_secs(2)); // the engines are prepared in the background

    let (_, setup) = call(&addr, "POST", "/api/v1/auth/setup", &[], json!({ "username": "bench", "email": "bench@example.com", "password": "correct horse battery" }).to_string().as_bytes());
    let token = setup["token"].as_str().unwrap().to_owned();
    let auth = [("Authorization", format!("Bearer {token}"))];
    let (_, project) = call(
        &addr,
        "POST",
        "/api/v1/projects",
        &auth,
        json!({ "name": "bench" }).to_string().as_bytes(),
    );
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(repo_dir.path()).unwrap();
    repo.set_head("refs/heads/main").unwrap();
    let first = commit(&repo, repo_dir.path(), "v0");
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let (status, app) = call(
        &addr,
        "POST",
        &format!("/api/v1/projects/{}/applications", project["id"].as_str().unwrap()),
        &auth,
        json!({
            "name": name,
            "source": { "type": "git", "provider": "github", "repository": format!("file://{}", repo_dir.path().display()), "branch": "main" },
            "replicas": 1,
            "ports": [ { "container": 8080, "mode": "host" } ],
            "health_check": { "http_path": "/health", "port": 8080, "interval_s": 1, "timeout_s": 1, "retries": 2 }
        })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_owned();
    let (_, webhook) = call(
        &addr,
        "GET",
        &format!("/api/v1/applications/{app_id}/webhook"),
        &auth,
        b"",
    );
    let hook = Hook {
        addr: addr.clone(),
        path: url::Url::parse(webhook["url"].as_str().unwrap())
            .unwrap()
            .path()
            .to_owned(),
        secret: webhook["secret"].as_str().unwrap().to_owned(),
    };
    assert_eq!(hook.push(&first).0, 202);
    let d = wait_idle(&addr, &token, &app_id);
    assert_eq!(d["status"], "success", "{d}");

    // Webhook answer time at 200 pushes per second for 20 s, on 8 senders.
    let (rate, seconds, senders) = (200u64, 20u64, 8u64);
    let started = Instant::now() + Duration::from_millis(200);
    let threads: Vec<_> = (0..senders)
        .map(|t| {
            let hook = Hook {
                addr: hook.addr.clone(),
                path: hook.path.clone(),
                secret: hook.secret.clone(),
            };
            let sha = first.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut i = t;
                while i < rate * seconds {
                    let due = started + Duration::from_micros(i * 1_000_000 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let (status, _) = hook.push(&sha);
                    assert!(status == 202 || status == 200, "{status}");
                    latencies.push(Instant::now() - due);
                    i += senders;
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    latencies.sort();
    let sent = latencies.len();
    wait_idle(&addr, &token, &app_id);

    // Overhead: berth's push-to-converged against docker build + docker service update.
    let service = berth_domain::ServiceName::for_application(
        &berth_domain::ResourceName::parse(&name).unwrap(),
        berth_domain::ApplicationId::from_uuid(uuid::Uuid::parse_str(&app_id).unwrap()),
    );
    let (mut berth, mut cli) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let sha = commit(&repo, repo_dir.path(), &format!("berth-{round}"));
        let t = Instant::now();
        assert_eq!(hook.push(&sha).0, 202);
        let d = wait_idle(&addr, &token, &app_id);
        berth.push(t.elapsed());
        assert_eq!(d["status"], "success", "{d}");
        if round + 1 == rounds {
            // Where berth's time went, step by step.
            let (_, detail) = call(
                &addr,
                "GET",
                &format!("/api/v1/deployments/{}", d["id"].as_str().unwrap()),
                &auth,
                b"",
            );
            let at = |v: &Value| {
                chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default()).ok()
            };
            let queued = at(&detail["created_at"]);
            let mut parts = Vec::new();
            if let (Some(q), Some(s)) = (queued, at(&detail["started_at"])) {
                parts.push(format!("queue {} ms", (s - q).num_milliseconds()));
            }
            for step in detail["steps"].as_array().unwrap() {
                if let (Some(a), Some(b)) = (at(&step["started_at"]), at(&step["finished_at"])) {
                    parts.push(format!(
                        "{} {} ms",
                        step["name"].as_str().unwrap(),
                        (b - a).num_milliseconds()
                    ));
                }
            }
            eprintln!("last berth deployment: {}", parts.join(", "));
        }

        commit(&repo, repo_dir.path(), &format!("cli-{round}"));
        let tag = format!("berth-bench/{name}:cli-{round}");
        let t = Instant::now();
        // The baseline berth is measured against: the docker CLI itself (never used by berth).
        let built = Command::new("docker")
            .args(["build", "-q", "-t", &tag])
            .arg(repo_dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let build_took = t.elapsed();
        // The baseline berth is measured against: the docker CLI itself (never used by berth).
        let updated = Command::new("docker")
            .args([
                "service",
                "update",
                "--detach=false",
                "--quiet",
                "--image",
                &tag,
                service.as_str(),
            ])
            .output()
            .unwrap();
        cli.push(t.elapsed());
        assert!(
            updated.status.success(),
            "{}",
            String::from_utf8_lossy(&updated.stderr)
        );
        if round + 1 == rounds {
            eprintln!(
                "last CLI round: docker build {} ms, docker service update {} ms",
                build_took.as_millis(),
                (t.elapsed() - build_took).as_millis()
            );
        }
    }
    let (b, c) = (median(berth), median(cli));

    println!("| measure | value |");
    println!("|---|---|");
    println!("| signed push webhooks sent at 200/s for 20 s | {sent} |");
    for (label, p) in [("p50", 0.50), ("p99", 0.99), ("max", 1.0)] {
        println!(
            "| webhook answer time {label} (ms) | {:.1} |",
            percentile(&latencies, p).as_secs_f64() * 1000.0
        );
    }
    println!(
        "| push webhook to converged service, berth (median of {rounds}, s) | {:.2} |",
        b.as_secs_f64()
    );
    println!("| `docker build` + `docker service update`, same kind of commit (median of {rounds}, s) | {:.2} |", c.as_secs_f64());
    println!(
        "| pipeline overhead (s) | {:.2} |",
        b.as_secs_f64() - c.as_secs_f64()
    );

    // Deleting the running application: the answer, then the removal (service, secrets,
    // images) converging in the background.
    let t = Instant::now();
    let (status, op) = call(
        &addr,
        "DELETE",
        &format!("/api/v1/applications/{app_id}"),
        &auth,
        b"",
    );
    let answered = t.elapsed();
    assert_eq!(status, 202, "{op}");
    let op_id = op["id"].as_str().unwrap().to_owned();
    let removed = loop {
        let (_, o) = call(
            &addr,
            "GET",
            &format!("/api/v1/operations/{op_id}"),
            &auth,
            b"",
        );
        match o["status"].as_str() {
            Some("success") => break t.elapsed(),
            Some("failed") => panic!("the removal failed: {o}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    println!(
        "| `DELETE /applications/{{id}}` of the running application: answered (ms) | {:.1} |",
        answered.as_secs_f64() * 1000.0
    );
    println!(
        "| the same: removed, the operation `success` (s) | {:.2} |",
        removed.as_secs_f64()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Remove the images both sides made, through the engine's API.
    let prefixes = [format!("berth-bench/{name}:"), format!("berth/{service}:")];
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let docker = bollard::Docker::connect_with_local_defaults()
                .unwrap()
                .negotiate_version()
                .await
                .unwrap();
            let images = docker
                .list_images(None::<bollard::query_parameters::ListImagesOptions>)
                .await
                .unwrap_or_default();
            for image in images {
                if image
                    .repo_tags
                    .iter()
                    .any(|t| prefixes.iter().any(|p| t.starts_with(p.as_str())))
                {
                    let _ = docker
                        .remove_image(
                            &image.id,
                            Some(bollard::query_parameters::RemoveImageOptions {
                                force: true,
                                ..Default::default()
                            }),
                            None,
                        )
                        .await;
                }
            }
        });
}

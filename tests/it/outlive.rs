//! The edge router in a process of its own (`edge = process`): `berth serve` starts `berth
//! edge` and leaves it running, so the applications' domains keep answering while the control
//! plane is killed in the middle of a build and started again, on Postgres and on SQLite.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::edge::{eventually, free_port, http};
use crate::pipeline::{setup_application, Api, Cleanup, Repo};
use crate::{fresh_pg, start, Load};

/// Stops the router process with the test, whatever happens.
struct EdgeProcess(Option<i32>);

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

#[test]
fn the_router_keeps_serving_while_the_control_plane_is_killed_on_postgres() {
    outlives(Some(fresh_pg()));
}

#[test]
fn the_router_keeps_serving_while_the_control_plane_is_killed_on_sqlite() {
    outlives(None);
}

#[allow(clippy::print_stdout)] // the counts, for docs/benchmarks.md
fn outlives(database: Option<String>) {
    let data = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let args = ["--data-dir", data.path().to_str().unwrap()];
    let router = format!("127.0.0.1:{http_port}");
    let mut env = vec![
        ("BERTH_BCRYPT_COST", "4"),
        ("BERTH_EDGE", "process"),
        ("BERTH_PROXY_HTTP", router.as_str()),
        ("BERTH_ACME_DIRECTORY", "off"),
    ];
    if let Some(url) = &database {
        env.push(("BERTH_DATABASE_URL", url.as_str()));
    }
    let mut b = start(&args, &env);
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let token = api.token.clone();
    let (status, domain) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/domains"),
        Some(json!({ "host": "shop.test" })),
    );
    assert_eq!(status, 201, "{domain}");
    let (_, d1) = hook.push("main", &v1);
    let d1 = api.wait(d1["id"].as_str().unwrap());
    assert_eq!(d1["status"], "success", "{d1}");

    // The router runs on its own and says so.
    let edge = eventually(Duration::from_secs(20), || {
        let (_, e) = api.call("GET", "/api/v1/edge", None);
        (e["connected"] == true && e["routes"].as_u64() >= Some(1)).then_some(e)
    })
    .expect("the router reports itself connected");
    let pid = edge["pid"].as_i64().unwrap() as i32;
    let _edge = EdgeProcess(Some(pid));
    assert_ne!(pid as u32, b.child.id(), "a process of its own");
    eventually(Duration::from_secs(20), || {
        http(http_port, "shop.test", "/")
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("the domain is served through the router");

    let load = Load::start(move || {
        Some(match http(http_port, "shop.test", "/") {
            Ok(r) if r.status == 200 => Ok(r.body.trim().to_owned()),
            Ok(r) => Err(format!("{} {}", r.status, r.body)),
            Err(e) => Err(e),
        })
    });

    // A slow build, and the control plane killed in the middle of it.
    let slow = repo.commit_dockerfile(
        "slow",
        "FROM berth-test/busybox:latest\nRUN echo building slowly && sleep 30\nCMD [\"sleep\", \"1000\"]\n",
    );
    let (_, d2) = hook.push("main", &slow);
    let d2 = d2["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !api.logs(&d2).iter().any(|l| {
        l["message"]
            .as_str()
            .unwrap_or("")
            .contains("building slowly")
    }) {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(300));
    }
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    drop(api);
    drop(hook);
    // The control plane is away for a while; the router serves the table it had.
    std::thread::sleep(Duration::from_secs(3));
    let b = start(&args, &env);
    let api = Api {
        addr: &b.addr,
        token,
    };
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    let (_, first) = api.call("GET", &format!("/api/v1/deployments/{d2}"), None);
    assert_eq!(first["status"], "failed", "{first}");
    std::thread::sleep(Duration::from_secs(2));
    let (requests, failures, seen) = load.finish();
    println!(
        "control plane killed and restarted: {requests} routed requests, {} failed",
        failures.len()
    );
    assert!(requests > 20, "the client kept asking: {requests}");
    assert!(
        failures.is_empty(),
        "{} of {requests} routed requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(seen.iter().all(|s| s == "v1"), "v1 kept serving");

    // The same router is still the one connected; the restarted control plane started none.
    let (_, edge) = api.call("GET", "/api/v1/edge", None);
    assert_eq!(edge["connected"], true, "{edge}");
    assert_eq!(edge["pid"].as_i64(), Some(i64::from(pid)), "{edge}");
}

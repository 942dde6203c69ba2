//! The edge router in a process of its own (`edge = process`): `berth serve` starts `berth
//! edge` and leaves it running, so the applications' domains keep answering while the control
//! plane is killed in the middle of a build and started again, on Postgres and on SQLite.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::edge::{eventually, free_port, http};
use crate::pipeline::{setup_application, Api, Cleanup, Hook, Repo};
use crate::{fresh_pg, start, start_from, terminate, Load};

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

/// Gives the application the domain `shop.test` and deploys `commit`; the domain's id.
fn deployed_at_shop_test(api: &Api<'_>, hook: &Hook<'_>, app_id: &str, commit: &str) -> String {
    let (status, domain) = api.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/domains"),
        Some(json!({ "host": "shop.test" })),
    );
    assert_eq!(status, 201, "{domain}");
    let (_, d) = hook.push("main", commit);
    let d = api.wait(d["id"].as_str().unwrap());
    assert_eq!(d["status"], "success", "{d}");
    domain["id"].as_str().unwrap().to_owned()
}

/// A steady client of the domain through the router.
fn through_router(http_port: u16) -> Load {
    Load::start(move || {
        Some(match http(http_port, "shop.test", "/") {
            Ok(r) if r.status == 200 => Ok(r.body.trim().to_owned()),
            Ok(r) => Err(format!("{} {}", r.status, r.body)),
            Err(e) => Err(e),
        })
    })
}

/// Waits until the router serves the domain.
fn served_through(http_port: u16) {
    eventually(Duration::from_secs(20), || {
        http(http_port, "shop.test", "/")
            .ok()
            .filter(|r| r.status == 200)
    })
    .expect("the domain is served through the router");
}

/// Waits until a router reports itself connected with a route; its report.
fn connected_router(api: &Api<'_>) -> serde_json::Value {
    eventually(Duration::from_secs(20), || {
        let (_, e) = api.call("GET", "/api/v1/edge", None);
        (e["connected"] == true && e["routes"].as_u64() >= Some(1)).then_some(e)
    })
    .expect("the router reports itself connected")
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
    let domain_id = deployed_at_shop_test(&api, &hook, &app_id, &v1);

    // The router runs on its own and says so.
    let edge = connected_router(&api);
    let pid = edge["pid"].as_i64().unwrap() as i32;
    let _edge = EdgeProcess(Some(pid));
    assert_ne!(pid as u32, b.child.id(), "a process of its own");
    served_through(http_port);

    let load = through_router(http_port);

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
    // Its counters for the domain, as it reported them.
    let shown = eventually(Duration::from_secs(10), || {
        let (_, d) = api.call("GET", &format!("/api/v1/domains/{domain_id}"), None);
        (d["traffic"]["requests"].as_u64() >= Some(requests)).then_some(d)
    });
    assert!(shown.is_some(), "the domain shows the router's counters");
}

/// A POST whose body arrives in two halves, `pause` apart; the status line of its answer.
fn slow_post(port: u16, host: &str, pause: Duration) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello"
        )
        .as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    std::thread::sleep(pause);
    s.write_all(b"world").map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[test]
#[allow(clippy::print_stdout)] // the counts, for docs/benchmarks.md
fn a_new_router_takes_over_the_sockets_and_no_request_fails() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let dir = data.path().to_str().unwrap().to_owned();
    let router = format!("127.0.0.1:{http_port}");
    let env = [
        ("BERTH_DATABASE_URL", url.as_str()),
        ("BERTH_BCRYPT_COST", "4"),
        ("BERTH_EDGE", "process"),
        ("BERTH_PROXY_HTTP", router.as_str()),
        ("BERTH_PROXY_HTTPS", "off"),
        ("BERTH_ACME_DIRECTORY", "off"),
    ];
    let b = start(&["--data-dir", &dir], &env);
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    deployed_at_shop_test(&api, &hook, &app_id, &v1);
    let edge = connected_router(&api);
    let old = edge["pid"].as_i64().unwrap() as i32;
    let mut guard = EdgeProcess(Some(old));
    served_through(http_port);

    let load = through_router(http_port);
    // A request the old router is in the middle of when the new one takes over.
    let long =
        std::thread::spawn(move || slow_post(http_port, "shop.test", Duration::from_secs(3)));
    std::thread::sleep(Duration::from_millis(500));

    // The new router: the same binary under another path, as an upgrade would be.
    let copy = data.path().join("berth-new");
    std::fs::copy(crate::berth_bin(), &copy).unwrap();
    let new = std::process::Command::new(&copy)
        .args(["edge", "--data-dir", &dir])
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let new_pid = new.id() as i32;
    // Reaped when it ends (the guard below stops it).
    std::thread::spawn(move || {
        let mut new = new;
        let _ = new.wait();
    });
    let _new_guard = EdgeProcess(Some(new_pid));
    let took = eventually(Duration::from_secs(30), || {
        let (_, e) = api.call("GET", "/api/v1/edge", None);
        (e["pid"].as_i64() == Some(i64::from(new_pid)) && e["connected"] == true).then_some(())
    });
    assert!(took.is_some(), "the new router reports itself");
    let gone = eventually(Duration::from_secs(20), || {
        (!std::path::Path::new(&format!("/proc/{old}")).exists()
            || std::fs::read_to_string(format!("/proc/{old}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true))
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "the old router stopped once it had handed over"
    );
    guard.0 = None;
    let answered = long
        .join()
        .unwrap()
        .expect("the long request got an answer");
    assert!(
        answered.starts_with("HTTP/1.1 ")
            && !answered.contains(" 502 ")
            && !answered.contains(" 504 "),
        "the request in flight was finished by the old router: {answered}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let (requests, failures, _) = load.finish();
    println!(
        "router replaced by a new process: {requests} routed requests, {} failed",
        failures.len()
    );
    assert!(requests > 10, "the client kept asking: {requests}");
    assert!(
        failures.is_empty(),
        "{} of {requests} routed requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

#[test]
#[allow(clippy::print_stdout)] // the counts, for docs/benchmarks.md
fn the_control_plane_is_upgraded_and_no_routed_request_fails() {
    let data = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let dir = data.path().to_str().unwrap().to_owned();
    let router = format!("127.0.0.1:{http_port}");
    let env = [
        ("BERTH_BCRYPT_COST", "4"),
        ("BERTH_EDGE", "process"),
        ("BERTH_PROXY_HTTP", router.as_str()),
        ("BERTH_PROXY_HTTPS", "off"),
        ("BERTH_ACME_DIRECTORY", "off"),
    ];
    let args = ["--data-dir", dir.as_str()];
    let b = start(&args, &env);
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let token = api.token.clone();
    deployed_at_shop_test(&api, &hook, &app_id, &v1);
    let edge = connected_router(&api);
    let pid = edge["pid"].as_i64().unwrap() as i32;
    let _edge = EdgeProcess(Some(pid));
    served_through(http_port);
    let load = through_router(http_port);
    std::thread::sleep(Duration::from_millis(500));
    // The upgrade: the control plane stopped, and started from the new binary.
    drop(api);
    drop(hook);
    let (stopped, _) = terminate(b);
    assert!(stopped.success(), "{stopped}");
    let copy = data.path().join("berth-new");
    std::fs::copy(crate::berth_bin(), &copy).unwrap();
    let b = start_from(&copy, &args, &env);
    let api = Api {
        addr: &b.addr,
        token,
    };
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    std::thread::sleep(Duration::from_secs(1));
    let (requests, failures, _) = load.finish();
    println!(
        "control plane upgraded: {requests} routed requests, {} failed",
        failures.len()
    );
    assert!(requests > 10, "the client kept asking: {requests}");
    assert!(
        failures.is_empty(),
        "{} of {requests} routed requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (_, edge) = api.call("GET", "/api/v1/edge", None);
    assert_eq!(
        edge["pid"].as_i64(),
        Some(i64::from(pid)),
        "the same router: {edge}"
    );
}

#[test]
fn a_renewal_due_while_the_control_plane_is_down_is_made_by_the_router() {
    use crate::edge::{domain_when, https_trusting};
    use berth_testkit::acme::{Bind, Pebble};
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let (http_port, https_port) = (free_port(), free_port());
    let bind = Bind::start();
    let pebble = Pebble::start(http_port, bind.addr, None);
    let (router, secure) = (
        format!("127.0.0.1:{http_port}"),
        format!("127.0.0.1:{https_port}"),
    );
    let root_path = pebble.tls_root.to_str().unwrap().to_owned();
    let env = [
        ("BERTH_DATABASE_URL", url.as_str()),
        ("BERTH_BCRYPT_COST", "4"),
        ("BERTH_EDGE", "process"),
        ("BERTH_PROXY_HTTP", router.as_str()),
        ("BERTH_PROXY_HTTPS", secure.as_str()),
        ("BERTH_ACME_DIRECTORY", pebble.directory.as_str()),
        ("BERTH_ACME_CA_ROOT", root_path.as_str()),
        ("BERTH_ACME_EMAIL", "ops@example.com"),
    ];
    let dir = data.path().to_str().unwrap().to_owned();
    let args = ["--data-dir", dir.as_str()];
    let mut b = start(&args, &env);
    let root = pebble.issuing_root();
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let token = api.token.clone();
    let shop = deployed_at_shop_test(&api, &hook, &app_id, &v1);
    let (_, edge) = api.call("GET", "/api/v1/edge", None);
    let _edge = EdgeProcess(edge["pid"].as_i64().map(|p| p as i32));
    // The router, in its own process, orders the first certificate (HTTP-01 answered by it).
    let issued = domain_when(&api, &shop, Duration::from_secs(90), |d| {
        d["certificate"]["source"] == "acme"
    });
    let before = eventually(Duration::from_secs(20), || {
        https_trusting(https_port, "shop.test", "/", Some(&root)).ok()
    })
    .expect("HTTPS verifies against the CA's root")
    .leaf;

    // A renewal falls due, and the control plane is killed at once.
    let (status, _) = api.call(
        "POST",
        &format!("/api/v1/domains/{shop}/certificate/renew"),
        None,
    );
    assert_eq!(status, 202);
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    drop(api);
    drop(hook);
    // While it is down, the router renews and serves the new certificate.
    let renewed = eventually(Duration::from_secs(90), || {
        let r = https_trusting(https_port, "shop.test", "/", Some(&root)).ok()?;
        (r.leaf != before && r.status == 200).then_some(r)
    });
    assert!(
        renewed.is_some(),
        "the router renewed the certificate with the control plane down"
    );

    // Back: the control plane shows the renewed certificate.
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
    let created = issued["certificate"]["created_at"].clone();
    domain_when(&api, &shop, Duration::from_secs(10), |d| {
        d["certificate"]["created_at"] != created && d["certificate"]["source"] == "acme"
    });
    drop(pebble);
}

#[test]
fn sighup_starts_the_upgraded_binary_which_takes_over_and_tells_the_service_manager() {
    let data = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let dir = data.path().to_str().unwrap().to_owned();
    let router = format!("127.0.0.1:{http_port}");
    // The service manager's notify socket, as systemd sets it.
    let notify_path = data.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let env = [
        ("BERTH_BCRYPT_COST", "4"),
        ("BERTH_EDGE", "external"),
        ("BERTH_PROXY_HTTP", router.as_str()),
        ("BERTH_PROXY_HTTPS", "off"),
        ("BERTH_ACME_DIRECTORY", "off"),
    ];
    let args = ["--data-dir", dir.as_str()];
    let b = start(&args, &env);
    let repo = Repo::new();
    let v1 = repo.commit("v1", true, true);
    let (api, app_id, hook) = setup_application(&b.addr, &repo);
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app_id.clone(),
    };
    deployed_at_shop_test(&api, &hook, &app_id, &v1);

    // The router as a service manager runs it: from an installed path, with NOTIFY_SOCKET.
    let installed = data.path().join("berth");
    std::fs::copy(crate::berth_bin(), &installed).unwrap();
    let mut first = std::process::Command::new(&installed)
        .args(["edge", "--data-dir", &dir])
        .envs(env.iter().copied())
        .env("NOTIFY_SOCKET", &notify_path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let old = first.id() as i32;
    let mut guard = EdgeProcess(Some(old));
    let mut buf = [0u8; 256];
    let read = |buf: &mut [u8]| {
        let n = notify.recv(buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = read(&mut buf);
    assert_eq!(ready, format!("READY=1\nMAINPID={old}\n"));
    served_through(http_port);

    let load = through_router(http_port);
    std::thread::sleep(Duration::from_millis(500));
    // The upgrade: a new file at the installed path, then SIGHUP.
    let staged = data.path().join("berth.new");
    std::fs::copy(crate::berth_bin(), &staged).unwrap();
    std::fs::rename(&staged, &installed).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let took = read(&mut buf);
    let new: i32 = took
        .strip_prefix("READY=1\nMAINPID=")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a notification of the new main process: {took:?}"));
    assert_ne!(new, old);
    let _new_guard = EdgeProcess(Some(new));
    // The old one lets go and exits.
    let exited = first.wait().unwrap();
    assert!(exited.success(), "{exited}");
    guard.0 = None;
    std::thread::sleep(Duration::from_secs(1));
    let (requests, failures, _) = load.finish();
    assert!(requests > 10, "the client kept asking: {requests}");
    assert!(
        failures.is_empty(),
        "{} of {requests} routed requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (_, edge) = api.call("GET", "/api/v1/edge", None);
    let connected = eventually(Duration::from_secs(10), || {
        let (_, e) = api.call("GET", "/api/v1/edge", None);
        (e["pid"].as_i64() == Some(i64::from(new))).then_some(e)
    });
    assert!(connected.is_some(), "the new router reports itself: {edge}");
}

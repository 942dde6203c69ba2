//! Tenant isolation on the network, end to end: the real binary on Postgres, the engine in
//! swarm mode and the edge router, each test acting as a developer of one tenant against
//! another's applications.
//!
//! - Projects are separate networks: a container in project A's network reaches A's
//!   application by its service name and no replica of project B at any of its addresses.
//! - The router is the only way in: from a second host (a network namespace of the test's own,
//!   joined to this one by a veth pair), a domain's replicas cannot be reached past the router
//!   (basic auth applies), while a port the application publishes on purpose can.
//!
//! Every connection stays on this machine: the namespace routes only the engine's bridge
//! addresses through this host, and the client container loses its default route before it
//! probes, so an address that is not on one of its own networks is unreachable at once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{json, Value};

use crate::pipeline::{Api, Cleanup};
use crate::{fresh_pg, json_of, request, start, terminate};

const IMAGE: &str = "berth-test/busybox:latest";

/// The engine the server deploys to, read and driven directly where the test needs to look
/// under berth (which containers joined which network) or to act as a tenant's own container.
struct Engine {
    rt: tokio::runtime::Runtime,
    docker: bollard::Docker,
}

impl Engine {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let docker = rt.block_on(async {
            bollard::Docker::connect_with_local_defaults()
                .unwrap()
                .negotiate_version()
                .await
                .unwrap()
        });
        Self { rt, docker }
    }
}
/// The first admin, set up on a fresh server.
pub(crate) fn admin(addr: &str) -> Api<'_> {
    let (status, body) = request(
        addr,
        "POST",
        "/api/v1/auth/setup",
        None,
        Some(
            &json!({ "username": "admin", "email": "admin@example.com", "password": "correct horse battery" }),
        ),
    );
    assert_eq!(status, 201, "{body}");
    Api {
        addr,
        token: json_of(&body)["token"].as_str().unwrap().to_owned(),
    }
}

/// A developer account the admin creates, logged in.
fn developer<'a>(admin: &Api<'a>, name: &str) -> Api<'a> {
    let (status, body) = admin.call(
        "POST",
        "/api/v1/users",
        Some(json!({ "username": name, "email": format!("{name}@example.com"), "password": "password-123", "role": "developer" })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = request(
        admin.addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({ "login": format!("{name}@example.com"), "password": "password-123" })),
    );
    assert_eq!(status, 200, "{body}");
    Api {
        addr: admin.addr,
        token: json_of(&body)["token"].as_str().unwrap().to_owned(),
    }
}

/// A project of `dev`'s and an application in it serving busybox httpd on 8080 (files of
/// `/etc`), with the volumes named in `volumes` mounted under `/data/`, deployed; returns
/// (project id, application id, service name).
fn deployed(
    dev: &Api<'_>,
    project: &str,
    app: &str,
    extra: Value,
    volumes: &[&str],
) -> (String, String, String) {
    let (status, p) = dev.call("POST", "/api/v1/projects", Some(json!({ "name": project })));
    assert_eq!(status, 201, "{p}");
    let project_id = p["id"].as_str().unwrap().to_owned();
    let mut input = json!({
        "name": app,
        "source": { "type": "image", "image": IMAGE },
        "command": ["httpd", "-f", "-p", "8080", "-h", "/etc"],
        "replicas": 2,
        "verify": { "http_path": "/hostname", "port": 8080, "timeout_s": 30 }
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    let (status, a) = dev.call(
        "POST",
        &format!("/api/v1/projects/{project_id}/applications"),
        Some(input),
    );
    assert_eq!(status, 201, "{a}");
    let app_id = a["id"].as_str().unwrap().to_owned();
    for v in volumes {
        let (status, body) = dev.call(
            "POST",
            &format!("/api/v1/applications/{app_id}/volumes"),
            Some(json!({ "name": v, "mount_path": format!("/data/{v}"), "size_gb": 1 })),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, d) = dev.call(
        "POST",
        &format!("/api/v1/applications/{app_id}/deployments"),
        None,
    );
    assert_eq!(status, 202, "{d}");
    let d = dev.wait(d["id"].as_str().unwrap());
    assert_eq!(d["status"], "success", "{d}");
    let (status, rt) = dev.call(
        "GET",
        &format!("/api/v1/applications/{app_id}/runtime"),
        None,
    );
    assert_eq!(status, 200, "{rt}");
    (
        project_id,
        app_id,
        rt["service"].as_str().unwrap().to_owned(),
    )
}

/// A running replica as the engine shows it: its networks (name -> address) and its address
/// on the gateway bridge.
#[derive(Debug)]
struct Replica {
    networks: HashMap<String, IpAddr>,
    bridge: IpAddr,
}

impl Engine {
    /// The running replicas of `service` on this node.
    fn replicas(&self, service: &str) -> Vec<Replica> {
        use bollard::query_parameters::{InspectNetworkOptions, ListContainersOptions};
        let docker = &self.docker;
        self.rt.block_on(async {
            let containers = docker
                .list_containers(Some(ListContainersOptions {
                    filters: Some(HashMap::from([(
                        "label".to_owned(),
                        vec![format!("com.docker.swarm.service.name={service}")],
                    )])),
                    ..Default::default()
                }))
                .await
                .unwrap();
            let bridge = docker
                .inspect_network("docker_gwbridge", None::<InspectNetworkOptions>)
                .await
                .unwrap()
                .containers
                .unwrap_or_default();
            let mut out = Vec::new();
            for c in containers {
                let id = c.id.unwrap();
                let inspected = docker
                    .inspect_container(
                        &id,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await
                    .unwrap();
                let networks = inspected
                    .network_settings
                    .and_then(|n| n.networks)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(name, e)| Some((name, e.ip_address?.parse().ok()?)))
                    .collect();
                let bridge = bridge[&id]
                    .ipv4_address
                    .as_deref()
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                out.push(Replica { networks, bridge });
            }
            out
        })
    }

    fn volume_exists(&self, name: &str) -> bool {
        self.rt.block_on(self.docker.inspect_volume(name)).is_ok()
    }

    fn volume_labels(&self, name: &str) -> HashMap<String, String> {
        self.rt
            .block_on(self.docker.inspect_volume(name))
            .unwrap()
            .labels
    }

    /// The named volumes the running replicas of `service` mount, sorted.
    fn mounted(&self, service: &str) -> Vec<String> {
        use bollard::query_parameters::ListContainersOptions;
        let containers = self
            .rt
            .block_on(self.docker.list_containers(Some(ListContainersOptions {
                filters: Some(HashMap::from([(
                    "label".to_owned(),
                    vec![format!("com.docker.swarm.service.name={service}")],
                )])),
                ..Default::default()
            })))
            .unwrap();
        let mut names: Vec<String> = containers
            .into_iter()
            .flat_map(|c| c.mounts.unwrap_or_default())
            .filter_map(|m| m.name)
            .collect();
        names.sort();
        names
    }

    fn network_exists(&self, name: &str) -> bool {
        self.rt.block_on(async {
            self.docker
                .inspect_network(
                    name,
                    None::<bollard::query_parameters::InspectNetworkOptions>,
                )
                .await
                .is_ok()
        })
    }
}

/// A container on one network, for probing from inside it; removed when dropped.
struct Client<'a> {
    engine: &'a Engine,
    id: String,
}

impl<'a> Client<'a> {
    /// Started on `network` with no default route: it reaches only its own networks.
    fn on(engine: &'a Engine, network: &str) -> Self {
        use bollard::models::{ContainerCreateBody, HostConfig};
        use bollard::query_parameters::CreateContainerOptions;
        let docker = &engine.docker;
        let id = engine.rt.block_on(async {
            let created = docker
                .create_container(
                    None::<CreateContainerOptions>,
                    ContainerCreateBody {
                        image: Some(IMAGE.into()),
                        cmd: Some(vec!["sleep".into(), "300".into()]),
                        labels: Some(HashMap::from([("berth-test".into(), "isolation".into())])),
                        host_config: Some(HostConfig {
                            network_mode: Some(network.into()),
                            cap_add: Some(vec!["NET_ADMIN".into()]),
                            auto_remove: Some(false),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            docker
                .start_container(
                    &created.id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
                .unwrap();
            created.id
        });
        let client = Self { engine, id };
        let (code, out) = client.exec(&["ip", "route", "del", "default"]);
        assert_eq!(
            code, 0,
            "the client's default route could not be removed: {out}"
        );
        client
    }

    /// Runs `cmd` in the client: exit code and output.
    fn exec(&self, cmd: &[&str]) -> (i64, String) {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        use futures_util::StreamExt;
        let docker = &self.engine.docker;
        self.engine.rt.block_on(async {
            let exec = docker
                .create_exec(
                    &self.id,
                    CreateExecOptions {
                        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                        attach_stdout: Some(true),
                        attach_stderr: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let mut text = String::new();
            if let StartExecResults::Attached { mut output, .. } =
                docker.start_exec(&exec.id, None).await.unwrap()
            {
                while let Some(Ok(chunk)) = output.next().await {
                    text.push_str(&chunk.to_string());
                }
            }
            let code = docker
                .inspect_exec(&exec.id)
                .await
                .unwrap()
                .exit_code
                .unwrap_or(-1);
            (code, text)
        })
    }

    /// Whether a TCP connection to `host:port` opens within 2 s.
    fn connects(&self, host: &str, port: u16) -> (bool, String) {
        let (code, out) = self.exec(&["nc", "-w", "2", host, &port.to_string()]);
        (code == 0, out)
    }
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        let (docker, id) = (&self.engine.docker, &self.id);
        self.engine.rt.block_on(async {
            let _ = docker
                .remove_container(
                    id,
                    Some(bollard::query_parameters::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        });
    }
}

fn project_network(project_id: &str) -> String {
    format!(
        "berth-p-{}",
        uuid::Uuid::parse_str(project_id).unwrap().simple()
    )
}

#[test]
fn a_container_of_one_project_reaches_its_own_applications_by_name_and_no_replica_of_another() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let root = admin(&b.addr);
    let (alice, bob) = (developer(&root, "alice"), developer(&root, "bob"));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let (project_a, app_a, service_a) = deployed(
        &alice,
        "alpha",
        &format!("api-{suffix}"),
        json!({}),
        &["data"],
    );
    let _a = Cleanup {
        addr: b.addr.clone(),
        token: alice.token.clone(),
        app: app_a.clone(),
    };
    let (project_b, app_b, service_b) = deployed(
        &bob,
        "bravo",
        &format!("vault-{suffix}"),
        json!({}),
        &["data"],
    );
    let _b = Cleanup {
        addr: b.addr.clone(),
        token: bob.token.clone(),
        app: app_b.clone(),
    };
    let (net_a, net_b) = (project_network(&project_a), project_network(&project_b));
    let engine = Engine::new();

    // Each replica is on its project's network and on no other overlay network.
    for (service, net) in [(&service_a, &net_a), (&service_b, &net_b)] {
        let found = engine.replicas(service);
        assert_eq!(found.len(), 2, "{service}: {found:?}");
        for r in &found {
            let names: Vec<&String> = r.networks.keys().collect();
            assert_eq!(names, [net], "{service} joins only its project's network");
        }
    }

    // Volumes: both tenants named theirs `data`; the engine knows each by berth's name, with
    // the user's as a label, and each application mounts only its own.
    let volume = |dev: &Api<'_>, app: &str| {
        let (status, list) = dev.call("GET", &format!("/api/v1/applications/{app}/volumes"), None);
        assert_eq!(status, 200, "{list}");
        list[0].clone()
    };
    let (vol_a, vol_b) = (volume(&alice, &app_a), volume(&bob, &app_b));
    let (engine_a, engine_b) = (
        vol_a["engine_name"].as_str().unwrap().to_owned(),
        vol_b["engine_name"].as_str().unwrap().to_owned(),
    );
    assert_ne!(engine_a, engine_b);
    assert!(
        !engine.volume_exists("data"),
        "a user's name reached the engine"
    );
    let labels = engine.volume_labels(&engine_a);
    assert_eq!(labels.get("berth.volume").map(String::as_str), Some("data"));
    assert_eq!(labels.get("berth.application"), Some(&app_a));
    assert_eq!(
        engine.mounted(&service_a),
        [engine_a.clone(), engine_a.clone()]
    );
    assert_eq!(
        engine.mounted(&service_b),
        [engine_b.clone(), engine_b.clone()]
    );
    // B cannot delete A's volume; A cannot while a replica mounts it; stopped, it goes with its
    // data.
    let vol_a_path = format!("/api/v1/volumes/{}", vol_a["id"].as_str().unwrap());
    let (status, body) = bob.call("DELETE", &vol_a_path, None);
    assert_eq!(status, 404, "{body}");
    let (status, body) = alice.call("DELETE", &vol_a_path, None);
    assert_eq!(status, 409, "{body}");
    assert!(engine.volume_exists(&engine_a));

    // A container in project A's network (as A's developer could run one, or A's own code
    // does): A's application answers by its service name; every address of B's replicas is
    // out of reach, and B's name does not resolve.
    let client = Client::on(&engine, &net_a);
    let (ok, out) = client.connects(&service_a, 8080);
    assert!(ok, "A's application by name from A's network: {out}");
    for r in engine.replicas(&service_b) {
        for addr in r.networks.values().chain([&r.bridge]) {
            let (ok, out) = client.connects(&addr.to_string(), 8080);
            assert!(
                !ok,
                "B's replica at {addr} was reached from A's network: {out}"
            );
        }
    }
    let (ok, _) = client.connects(&service_b, 8080);
    assert!(!ok, "B's service name was reached from A's network");
    drop(client);

    let op = alice.operate("POST", &format!("/api/v1/applications/{app_a}/stop"), None);
    assert_eq!(op["status"], "success", "{op}");
    // Its replicas may take their stop grace period to end; until then it is still 409.
    let deleted = crate::edge::eventually(Duration::from_secs(30), || {
        let (status, body) = alice.call("DELETE", &vol_a_path, None);
        assert!(status == 204 || status == 409, "{body}");
        (status == 204).then_some(())
    });
    assert!(
        deleted.is_some(),
        "the stopped application's volume was not deleted"
    );
    assert!(
        !engine.volume_exists(&engine_a),
        "the deleted volume's data is still there"
    );
    assert!(engine.volume_exists(&engine_b), "B's volume went with A's");

    // Deleting the projects (their applications first) removes their networks.
    drop(_a);
    drop(_b);
    for (dev, project, net) in [(&alice, &project_a, &net_a), (&bob, &project_b, &net_b)] {
        let (status, body) = dev.call("DELETE", &format!("/api/v1/projects/{project}"), None);
        assert_eq!(status, 204, "{body}");
        assert!(
            !engine.network_exists(net),
            "{net} is left after its project was deleted"
        );
    }
    terminate(b);
}

/// A second host: a network namespace joined to this one by a veth pair, with `HOST` on this
/// side and `PEER` on its own. It routes the engine's bridge range through this host and
/// nothing else.
struct SecondHost {
    name: String,
}

const HOST: &str = "198.18.7.1";
const PEER: &str = "198.18.7.2";

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SecondHost {
    fn new() -> Self {
        let tag = std::process::id() % 100_000;
        let name = format!("berth-peer-{tag}");
        let (here, there) = (format!("bph{tag}"), format!("bpp{tag}"));
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        ip(&["netns", "add", &name]);
        let host = Self { name: name.clone() };
        ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
        ip(&["link", "set", &there, "netns", &name]);
        ip(&["addr", "add", &format!("{HOST}/30"), "dev", &here]);
        ip(&["link", "set", &here, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{PEER}/30"),
            "dev",
            &there,
        ]);
        ip(&["-n", &name, "link", "set", &there, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&["-n", &name, "route", "add", "172.16.0.0/12", "via", HOST]);
        host
    }

    /// One HTTP/1.0 exchange from the second host: the raw answer, or why there was none.
    fn send(&self, addr: SocketAddr, request: String) -> Result<String, String> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).map_err(|e| e.to_string())?;
            // This thread alone moves into the namespace; its sockets are the second host's.
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| format!("setns: {e}"))?;
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map_err(|e| format!("connect {addr}: {e}"))?;
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
            let mut answer = String::new();
            s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
            Ok(answer)
        })
        .join()
        .unwrap()
    }

    fn get(&self, addr: SocketAddr, host: &str, auth: Option<&str>) -> Result<String, String> {
        let mut request = format!("GET /hostname HTTP/1.0\r\nHost: {host}\r\n");
        if let Some(a) = auth {
            use base64::Engine;
            let token = base64::engine::general_purpose::STANDARD.encode(a);
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        self.send(addr, request)
    }
}

/// The status code of a raw HTTP answer.
fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1)?.parse().ok()
}

impl Drop for SecondHost {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

#[test]
fn from_another_host_a_domain_is_reached_only_through_the_router_and_a_published_port_still_is() {
    let peer = SecondHost::new();
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let router_port = crate::edge::free_port();
    let router: SocketAddr = format!("{HOST}:{router_port}").parse().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[
            ("BERTH_DATABASE_URL", &url),
            ("BERTH_BCRYPT_COST", "4"),
            ("BERTH_PROXY_HTTP", &router.to_string()),
            ("BERTH_API_HOSTS", "berth.test"),
            ("BERTH_ACME_DIRECTORY", "off"),
        ],
    );
    let root = admin(&b.addr);
    let alice = developer(&root, "alice");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];

    // A's application behind a domain with basic auth, and one that publishes its port on
    // purpose.
    let (_, web, web_service) = deployed(&alice, "alpha", &format!("web-{suffix}"), json!({}), &[]);
    let _web = Cleanup {
        addr: b.addr.clone(),
        token: alice.token.clone(),
        app: web.clone(),
    };
    let (status, domain) = alice.call(
        "POST",
        &format!("/api/v1/applications/{web}/domains"),
        Some(json!({ "host": "alpha.test", "tls": false,
            "routing": { "port": 8080, "www_redirect": "to_apex",
                "basic_auth": [ { "username": "ops", "password": "open sesame" } ] } })),
    );
    assert_eq!(status, 201, "{domain}");
    let published = crate::edge::free_port();
    let (_, open, _) = deployed(
        &alice,
        "omega",
        &format!("open-{suffix}"),
        json!({ "replicas": 1, "ports": [ { "container": 8080, "published": published, "mode": "host" } ] }),
        &[],
    );
    let _open = Cleanup {
        addr: b.addr.clone(),
        token: alice.token.clone(),
        app: open.clone(),
    };

    // Through the router, from the second host: basic auth applies, then the replicas answer.
    let answer = crate::edge::eventually(Duration::from_secs(15), || {
        peer.get(router, "alpha.test", None)
            .ok()
            .filter(|a| status_of(a) == Some(401))
    });
    assert!(
        answer.is_some(),
        "the router asks for basic auth from the second host"
    );
    let answer = crate::edge::eventually(Duration::from_secs(15), || {
        peer.get(router, "alpha.test", Some("ops:open sesame"))
            .ok()
            .filter(|a| status_of(a) == Some(200))
    });
    assert!(
        answer.is_some(),
        "the router serves the domain from the second host"
    );

    // Another tenant's developer claims what is not theirs: berth's own host and anything
    // under it, A's domain and its www alias; runs berth's builds; fetches from berth's disk.
    let bob = developer(&root, "bob");
    let (status, p) = bob.call("POST", "/api/v1/projects", Some(json!({ "name": "bravo" })));
    assert_eq!(status, 201, "{p}");
    let (status, mallory) = bob.call(
        "POST",
        &format!(
            "/api/v1/projects/{}/applications",
            p["id"].as_str().unwrap()
        ),
        Some(json!({ "name": "mallory", "source": { "type": "image", "image": IMAGE } })),
    );
    assert_eq!(status, 201, "{mallory}");
    let mallory = mallory["id"].as_str().unwrap().to_owned();
    for host in [
        "berth.test",
        "www.berth.test",
        "api.berth.test",
        "alpha.test",
        "www.alpha.test",
    ] {
        let (status, body) = bob.call(
            "POST",
            &format!("/api/v1/applications/{mallory}/domains"),
            Some(json!({ "host": host, "tls": false })),
        );
        assert_eq!(status, 409, "{host}: {body}");
    }
    for (source, field) in [
        (
            json!({ "type": "image", "image": format!("berth/{web_service}:latest") }),
            "source.image",
        ),
        (
            json!({ "type": "git", "provider": "github", "repository": "file:///etc", "branch": "main" }),
            "source.repository",
        ),
    ] {
        let (status, body) = bob.call(
            "PATCH",
            &format!("/api/v1/applications/{mallory}"),
            Some(json!({ "source": source })),
        );
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("source_not_allowed")),
            "{source}: {body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with(field)),
            "{body}"
        );
    }
    // The router still sends berth's host to berth and A's domain to A.
    let answer = peer.get(router, "berth.test", None).unwrap();
    assert_eq!(
        status_of(&answer),
        Some(404),
        "GET /hostname is no API path: {answer}"
    );
    let health = peer
        .send(
            router,
            "GET /healthz HTTP/1.0\r\nHost: berth.test\r\n\r\n".into(),
        )
        .unwrap();
    assert!(health.ends_with(r#"{"status":"ok"}"#), "{health}");
    let answer = peer.get(router, "www.alpha.test", None).unwrap();
    assert!(
        (300..400).contains(&status_of(&answer).unwrap()) && answer.contains("//alpha.test"),
        "A's alias redirects to A: {answer}"
    );
    let answer = peer.get(router, "alpha.test", None).unwrap();
    assert_eq!(status_of(&answer), Some(401), "{answer}");

    // Past the router: no replica port is published on the host, and the replicas' own
    // addresses are not forwarded to.
    let (status, rt) = alice.call("GET", &format!("/api/v1/applications/{web}/runtime"), None);
    assert_eq!(status, 200, "{rt}");
    let host_ports: Vec<u64> = rt["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["host_ports"].as_array().unwrap().clone())
        .filter_map(|p| p[1].as_u64())
        .collect();
    assert!(
        host_ports.is_empty(),
        "the domain's replicas publish host ports: {rt}"
    );
    for port in host_ports.iter().map(|p| *p as u16).chain([8080]) {
        let addr: SocketAddr = format!("{HOST}:{port}").parse().unwrap();
        let r = peer.get(addr, "alpha.test", None);
        assert!(
            r.is_err(),
            "a replica answered on {addr} past the router: {r:?}"
        );
    }
    for r in Engine::new().replicas(&web_service) {
        let addr = SocketAddr::new(r.bridge, 8080);
        let answer = peer.get(addr, "alpha.test", None);
        assert!(
            answer.is_err(),
            "replica {addr} answered the second host: {answer:?}"
        );
    }

    // A port published on purpose is reachable from the second host.
    let addr: SocketAddr = format!("{HOST}:{published}").parse().unwrap();
    let answer = crate::edge::eventually(Duration::from_secs(15), || {
        peer.get(addr, "open", None)
            .ok()
            .filter(|a| status_of(a) == Some(200))
    });
    assert!(
        answer.is_some(),
        "the published port {published} answers the second host"
    );

    let op = bob.operate("DELETE", &format!("/api/v1/applications/{mallory}"), None);
    assert_eq!(op["status"], "success", "{op}");
    drop(_open);
    drop(_web);
    terminate(b);
}

//! Images from a registry, end to end on the real binary, Postgres, the engine and a real
//! registry (Debian's `docker-registry`, the CNCF distribution registry, on loopback): an
//! application's image the engine does not have is pulled at its deployment, the pull's
//! progress in the deployment's log, and it runs; one the registry does not have fails the
//! deployment with the registry's words, and nothing runs.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::pipeline::Cleanup;
use crate::{fresh_pg, start, terminate};

const BASE: &str = "berth-test/busybox:latest";

/// A registry on a loopback port, storing in a directory of its own; stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let bin = "/usr/bin/docker-registry";
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: scripts/install-deps.sh installs Debian's docker-registry"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("the registry exited ({status}): {err}");
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Puts the local base image into the registry as `name` and takes that name off the engine,
/// so only the registry has it.
fn push_only_to_the_registry(name: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults()
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
        let (repo, tag) = name.rsplit_once(':').unwrap();
        docker
            .tag_image(
                BASE,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(repo.to_owned()),
                    tag: Some(tag.to_owned()),
                }),
            )
            .await
            .unwrap();
        let mut push = docker.push_image(
            repo,
            Some(bollard::query_parameters::PushImageOptions {
                tag: Some(tag.to_owned()),
                ..Default::default()
            }),
            None,
        );
        while let Some(item) = push.next().await {
            let item = item.unwrap_or_else(|e| panic!("pushing {name}: {e}"));
            assert!(item.error_detail.is_none(), "pushing {name}: {item:?}");
        }
        docker
            .remove_image(
                name,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .unwrap();
        assert!(
            docker.inspect_image(name).await.is_err(),
            "{name} is still on the engine"
        );
    });
}

#[test]
fn an_image_the_engine_lacks_is_pulled_from_its_registry_at_deployment() {
    let registry = Registry::start();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let image = format!("127.0.0.1:{}/shop/web-{suffix}:1.0", registry.port);
    push_only_to_the_registry(&image);

    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let api = crate::isolation::admin(&b.addr);
    let (_, project) = api.call(
        "POST",
        "/api/v1/projects",
        Some(json!({ "name": "pulled" })),
    );
    let project = project["id"].as_str().unwrap().to_owned();
    let create = |name: &str, image: &str| {
        let (status, app) = api.call(
            "POST",
            &format!("/api/v1/projects/{project}/applications"),
            Some(json!({
                "name": name,
                "source": { "type": "image", "image": image },
                "command": ["httpd", "-f", "-p", "8080"],
                "replicas": 1
            })),
        );
        assert_eq!(status, 201, "{app}");
        app["id"].as_str().unwrap().to_owned()
    };

    // The image is only in the registry: the deployment pulls it, says so, and it runs.
    let app = create(&format!("web-{suffix}"), &image);
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app.clone(),
    };
    let (status, d) = api.call(
        "POST",
        &format!("/api/v1/applications/{app}/deployments"),
        None,
    );
    assert_eq!(status, 202, "{d}");
    let d = api.wait(d["id"].as_str().unwrap());
    assert_eq!(d["status"], "success", "{d}");
    let text: Vec<String> = api
        .logs(d["id"].as_str().unwrap())
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        text.iter()
            .any(|t| t.contains("pulling it") && t.contains(&image)),
        "{text:#?}"
    );
    // The engine's own account of the pull (its layers are the base image's, which the
    // engine has: it fetches the manifest and no layer).
    assert!(
        text.iter().any(|t| t.contains("Pulling from shop/web-"))
            && text.iter().any(|t| t.starts_with("Digest: sha256:")),
        "the pull's progress: {text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with(&format!("pulled {image}"))),
        "{text:#?}"
    );
    let (_, runtime) = api.call("GET", &format!("/api/v1/applications/{app}/runtime"), None);
    assert_eq!(runtime["running"], 1, "{runtime}");

    // A tag the registry does not have: the deployment fails saying so; nothing runs.
    let missing = format!("127.0.0.1:{}/shop/web-{suffix}:2.0", registry.port);
    let other = create(&format!("gone-{suffix}"), &missing);
    let _cleanup_other = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: other.clone(),
    };
    let (status, d) = api.call(
        "POST",
        &format!("/api/v1/applications/{other}/deployments"),
        None,
    );
    assert_eq!(status, 202, "{d}");
    let d = api.wait(d["id"].as_str().unwrap());
    assert_eq!(d["status"], "failed", "{d}");
    let reason = d["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        reason.contains(&format!("the image {missing} cannot be pulled")),
        "{d}"
    );
    let (status, runtime) = api.call(
        "GET",
        &format!("/api/v1/applications/{other}/runtime"),
        None,
    );
    assert!(
        status == 409 || runtime["running"] == 0,
        "nothing runs: {status} {runtime}"
    );
    drop(_cleanup_other);
    drop(_cleanup);
    terminate(b);
}

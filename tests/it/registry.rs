//! Images from a registry, end to end on the real binary, Postgres, the engine and a real
//! registry (Debian's `docker-registry`, the CNCF distribution registry, on loopback): an
//! application's image the engine does not have is pulled at its deployment, the pull's
//! progress in the deployment's log, and it runs; one the registry does not have fails the
//! deployment with the registry's words, and nothing runs. A registry with basic auth: a
//! team's credentials pull its private image, for its image source and its builds' `FROM`, and
//! another tenant naming the same image, which the engine now has, is refused by the registry
//! and runs (or builds) nothing.

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
        Self::start_with(None)
    }

    /// With `user`, the registry answers only that user with that password (htpasswd).
    fn start_with(user: Option<(&str, &str)>) -> Self {
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
        let mut text = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((name, password)) = user {
            let hash = bcrypt::hash_with_result(password, 4)
                .unwrap()
                .format_for_version(bcrypt::Version::TwoY);
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{name}:{hash}\n")).unwrap();
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(&config, text).unwrap();
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
    push_as(name, None);
}

/// [`push_only_to_the_registry`], signed in as `user` when given.
fn push_as(name: &str, user: Option<(&str, &str)>) {
    push_image_as(BASE, name, user);
}

/// Puts the local image `source` into the registry as `name`, signed in as `user` when given,
/// and takes `name` off the engine, so only the registry has it.
fn push_image_as(source: &str, name: &str, user: Option<(&str, &str)>) {
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
                source,
                Some(bollard::query_parameters::TagImageOptions {
                    repo: Some(repo.to_owned()),
                    tag: Some(tag.to_owned()),
                }),
            )
            .await
            .unwrap();
        let credentials = user.map(|(u, p)| bollard::auth::DockerCredentials {
            username: Some(u.to_owned()),
            password: Some(p.to_owned()),
            serveraddress: Some(repo.split('/').next().unwrap().to_owned()),
            ..Default::default()
        });
        let mut push = docker.push_image(
            repo,
            Some(bollard::query_parameters::PushImageOptions {
                tag: Some(tag.to_owned()),
                ..Default::default()
            }),
            credentials,
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
    let (d, text) = deploy_and_wait(&api, &app);
    assert_eq!(d["status"], "success", "{d}");
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
    let (d, _) = deploy_and_wait(&api, &other);
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

/// Deploys `app` and waits for the deployment to end; returns it and its log's messages.
fn deploy_and_wait(api: &crate::pipeline::Api<'_>, app: &str) -> (serde_json::Value, Vec<String>) {
    let (status, d) = api.call(
        "POST",
        &format!("/api/v1/applications/{app}/deployments"),
        None,
    );
    assert_eq!(status, 202, "{d}");
    let d = api.wait(d["id"].as_str().unwrap());
    let text = api
        .logs(d["id"].as_str().unwrap())
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect();
    (d, text)
}

/// A developer account the admin creates, logged in.
fn developer<'a>(admin: &crate::pipeline::Api<'a>, name: &str) -> crate::pipeline::Api<'a> {
    let (status, body) = admin.call(
        "POST",
        "/api/v1/users",
        Some(json!({ "username": name, "email": format!("{name}@example.com"), "password": "password-123", "role": "developer" })),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = crate::request(
        admin.addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({ "login": name, "password": "password-123" })),
    );
    assert_eq!(status, 200, "{body}");
    crate::pipeline::Api {
        addr: admin.addr,
        token: crate::json_of(&body)["token"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn a_private_image_is_pulled_with_its_teams_credentials_and_runs_for_no_other_tenant() {
    let (user, password) = ("shop-bot", "registry-password-1");
    let registry = Registry::start_with(Some((user, password)));
    let host = format!("127.0.0.1:{}", registry.port);
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let image = format!("{host}/shop/private-{suffix}:1.0");
    push_as(&image, Some((user, password)));

    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let admin = crate::isolation::admin(&b.addr);
    let alice = developer(&admin, "alice");
    let eve = developer(&admin, "eve");
    // The admin lists the registry (an address: no developer may name it otherwise).
    let (status, r) = admin.call("POST", "/api/v1/registries", Some(json!({ "host": host })));
    assert_eq!(status, 201, "{r}");
    let (_, team) = alice.call("POST", "/api/v1/teams", Some(json!({ "name": "shop" })));
    let team = team["id"].as_str().unwrap().to_owned();
    let (status, r) = alice.call(
        "POST",
        "/api/v1/registries",
        Some(json!({ "host": host, "team_id": team,
                     "credentials": { "username": user, "password": password } })),
    );
    assert_eq!(status, 201, "{r}");
    let team_registry = r["id"].as_str().unwrap().to_owned();

    // A project of `dev`'s (in `team`) with an application of `source` serving httpd.
    let app_in = |dev: &crate::pipeline::Api<'_>,
                  project: &str,
                  team: Option<&str>,
                  name: &str,
                  source: serde_json::Value| {
        let (status, p) = dev.call(
            "POST",
            "/api/v1/projects",
            Some(json!({ "name": project, "team_id": team })),
        );
        assert_eq!(status, 201, "{p}");
        let (status, app) = dev.call(
            "POST",
            &format!(
                "/api/v1/projects/{}/applications",
                p["id"].as_str().unwrap()
            ),
            Some(json!({
                "name": format!("{name}-{suffix}"),
                "source": source,
                "command": ["httpd", "-f", "-p", "8080"],
                "replicas": 1
            })),
        );
        assert_eq!(status, 201, "{app}");
        app["id"].as_str().unwrap().to_owned()
    };
    let app_of = |dev: &crate::pipeline::Api<'_>, project: &str, team: Option<&str>| {
        app_in(
            dev,
            project,
            team,
            "web",
            json!({ "type": "image", "image": image }),
        )
    };

    // The team's application: pulled with the team's credentials, and it runs.
    let shop = app_of(&alice, "shop", Some(&team));
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: alice.token.clone(),
        app: shop.clone(),
    };
    let (d, text) = deploy_and_wait(&alice, &shop);
    assert_eq!(d["status"], "success", "{d} {text:#?}");
    assert!(
        text.iter()
            .any(|t| t.contains(&format!("pulling it as {user} at {host}"))),
        "{text:#?}"
    );
    assert!(!text.iter().any(|t| t.contains(password)), "{text:#?}");
    let (_, runtime) = alice.call("GET", &format!("/api/v1/applications/{shop}/runtime"), None);
    assert_eq!(runtime["running"], 1, "{runtime}");

    // Another tenant names the same image, which the engine now has: the registry is asked
    // again, without credentials, refuses, and nothing of eve's runs.
    let eves = app_of(&eve, "eve", None);
    let _cleanup_eve = Cleanup {
        addr: b.addr.clone(),
        token: eve.token.clone(),
        app: eves.clone(),
    };
    let (d, text) = deploy_and_wait(&eve, &eves);
    assert_eq!(d["status"], "failed", "{d} {text:#?}");
    let reason = d["message"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("the image {image} cannot be pulled")),
        "{d}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("its registry decides who may run it")),
        "{text:#?}"
    );
    let (status, runtime) = eve.call("GET", &format!("/api/v1/applications/{eves}/runtime"), None);
    assert!(
        status == 409 || runtime["running"] == 0,
        "nothing of eve's runs: {status} {runtime}"
    );

    // A build FROM the private image pulls it with the team's credentials too; another
    // tenant's build FROM it is refused by the registry, though the engine has it.
    let build_from = |dev: &crate::pipeline::Api<'_>, project: &str, team: Option<&str>| {
        let repo = crate::pipeline::Repo::new();
        repo.commit_dockerfile("v1", &format!("FROM {image}\nRUN echo built > /built\n"));
        let source = json!({ "type": "git", "provider": "github", "repository": repo.url(), "branch": "main" });
        let app = app_in(dev, project, team, "built", source);
        (repo, app)
    };
    let (_repo, built) = build_from(&alice, "shop builds", Some(&team));
    let _cleanup_built = Cleanup {
        addr: b.addr.clone(),
        token: alice.token.clone(),
        app: built.clone(),
    };
    let (d, text) = deploy_and_wait(&alice, &built);
    assert_eq!(d["status"], "success", "{d} {text:#?}");
    assert!(
        text.iter().any(|t| t.contains(&format!(
            "pulling {image}, which line 1 builds from, as {user} at {host}"
        ))),
        "{text:#?}"
    );
    let (_eve_repo, eve_built) = build_from(&eve, "eve builds", None);
    let _cleanup_eve_built = Cleanup {
        addr: b.addr.clone(),
        token: eve.token.clone(),
        app: eve_built.clone(),
    };
    let (d, text) = deploy_and_wait(&eve, &eve_built);
    assert_eq!(d["status"], "failed", "{d} {text:#?}");
    assert!(
        d["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("the image {image} cannot be pulled")),
        "{d}"
    );

    // A wrong password is the registry's refusal too, said in the deployment; the running
    // version stays.
    let (status, r) = alice.call(
        "PATCH",
        &format!("/api/v1/registries/{team_registry}"),
        Some(json!({ "credentials": { "username": user, "password": "not-the-password" } })),
    );
    assert_eq!(status, 200, "{r}");
    let (d, _) = deploy_and_wait(&alice, &shop);
    assert_eq!(d["status"], "failed", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be pulled"),
        "{d}"
    );
    let (_, runtime) = alice.call("GET", &format!("/api/v1/applications/{shop}/runtime"), None);
    assert_eq!(
        runtime["running"], 1,
        "the earlier version runs on: {runtime}"
    );
    drop(_cleanup_eve_built);
    drop(_cleanup_built);
    drop(_cleanup_eve);
    drop(_cleanup);
    terminate(b);
}

/// The PostgreSQL image made from Debian's packages (`scripts/database-image.sh`, which
/// `make test` runs) is pulled from the registry by the name a user gives, runs with its
/// password from a secret variable and its data on a volume, answers on a port the engine
/// picks, and keeps its rows across a restart.
#[test]
fn a_postgres_image_made_from_debian_packages_is_pulled_and_keeps_its_data() {
    const MADE: &str = "berth-test/postgres:15";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let present = rt.block_on(async {
        let docker = bollard::Docker::connect_with_local_defaults().unwrap();
        docker.inspect_image(MADE).await.is_ok()
    });
    assert!(
        present,
        "{MADE} is missing: scripts/database-image.sh postgres makes it (make test runs it)"
    );
    let registry = Registry::start();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let image = format!("127.0.0.1:{}/library/postgres:15", registry.port);
    push_image_as(MADE, &image, None);

    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[("BERTH_DATABASE_URL", &url), ("BERTH_BCRYPT_COST", "4")],
    );
    let api = crate::isolation::admin(&b.addr);
    let (_, project) = api.call("POST", "/api/v1/projects", Some(json!({ "name": "data" })));
    let (status, app) = api.call(
        "POST",
        &format!("/api/v1/projects/{}/applications", project["id"].as_str().unwrap()),
        Some(json!({
            "name": format!("pg-{suffix}"),
            "source": { "type": "image", "image": image },
            "ports": [{ "container": 5432, "mode": "host" }],
            "health_check": { "command": ["/usr/lib/postgresql/15/bin/pg_isready", "-h", "127.0.0.1"],
                              "interval_s": 1, "retries": 30, "start_period_s": 30 },
            "replicas": 1
        })),
    );
    assert_eq!(status, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    let _cleanup = Cleanup {
        addr: b.addr.clone(),
        token: api.token.clone(),
        app: app.clone(),
    };
    let password = format!("pw-{suffix}-secret");
    let (status, r) = api.call(
        "PUT",
        &format!("/api/v1/applications/{app}/env/POSTGRES_PASSWORD"),
        Some(json!({ "value": password, "is_secret": true })),
    );
    assert!(status == 200 || status == 201, "{r}");
    let (status, r) = api.call(
        "POST",
        &format!("/api/v1/applications/{app}/volumes"),
        Some(json!({ "name": "pgdata", "mount_path": "/var/lib/postgresql/data", "size_gb": 1 })),
    );
    assert_eq!(status, 201, "{r}");
    let (d, _) = deploy_and_wait(&api, &app);
    assert_eq!(d["status"], "success", "{d}");

    let port = || -> u16 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, runtime) =
                api.call("GET", &format!("/api/v1/applications/{app}/runtime"), None);
            let found = runtime["replicas"].as_array().and_then(|r| {
                r.iter()
                    .filter(|x| x["state"] == "running")
                    .find_map(|x| x["host_ports"][0][1].as_u64())
            });
            if let Some(p) = found {
                return p as u16;
            }
            assert!(
                Instant::now() < deadline,
                "no running replica with a port: {runtime}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let psql = |port: u16, password: &str, sql: &str| -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-Atc",
                    sql,
                ])
                .env("PGPASSWORD", password)
                .env("PGCONNECT_TIMEOUT", "3")
                .output()
                .expect("psql (Debian's postgresql-client) runs");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            // The server may still be starting behind a port the engine already opened.
            if out.status.success()
                || text.contains("password authentication failed")
                || Instant::now() > deadline
            {
                return (out.status.success(), text);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let p = port();
    let (ok, text) = psql(p, &password, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2), (3); SELECT count(*) FROM orders");
    assert!(ok && text.trim().ends_with('3'), "{text}");
    let (ok, text) = psql(p, "not-the-password", "SELECT 1");
    assert!(
        !ok && text.contains("password authentication failed"),
        "{text}"
    );

    // Restarted, a new container: the rows are still there, on the volume.
    let op = api.operate("POST", &format!("/api/v1/applications/{app}/restart"), None);
    assert_eq!(op["status"], "success", "{op}");
    let (ok, text) = psql(port(), &password, "SELECT count(*) FROM orders");
    assert!(ok && text.trim() == "3", "{text}");
    drop(_cleanup);
    terminate(b);
}

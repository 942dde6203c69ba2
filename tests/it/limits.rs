//! Limits a tenant cannot pass, end to end on the real binary, Postgres and the engine: a
//! release command that prints far more than a deployment's log keeps leaves its first and last
//! lines and one line saying how many were dropped; a runtime-log tail over the limit is a
//! clear 422.

use serde_json::json;

use crate::pipeline::Cleanup;
use crate::{fresh_pg, start, terminate};

#[test]
fn a_flood_of_output_is_kept_within_the_log_limits() {
    let url = fresh_pg();
    let data = tempfile::tempdir().unwrap();
    let b = start(
        &["--data-dir", data.path().to_str().unwrap()],
        &[
            ("BERTH_DATABASE_URL", &url),
            ("BERTH_BCRYPT_COST", "4"),
            ("BERTH_DEPLOYMENT_LOG_MAX_LINES", "200"),
        ],
    );
    let api = crate::isolation::admin(&b.addr);
    let (_, project) = api.call("POST", "/api/v1/projects", Some(json!({ "name": "loud" })));
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let (status, app) = api.call(
        "POST",
        &format!(
            "/api/v1/projects/{}/applications",
            project["id"].as_str().unwrap()
        ),
        Some(json!({
            "name": format!("loud-{suffix}"),
            "source": { "type": "image", "image": "berth-test/busybox:latest" },
            "command": ["httpd", "-f", "-p", "8080"],
            "replicas": 1,
            "release_command": ["seq", "1", "5000"]
        })),
    );
    assert_eq!(status, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
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
    let lines = api.logs(d["id"].as_str().unwrap());
    let text: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(lines.len() <= 200, "{} lines kept", lines.len());
    let marker = text
        .iter()
        .find(|t| t.contains("lines were dropped here"))
        .unwrap_or_else(|| panic!("no marker: {text:#?}"));
    assert!(marker.contains("200 lines"), "{marker}");
    assert!(
        text.iter()
            .any(|t| t.starts_with("fetching") || t.contains("release")),
        "the first lines stay: {text:#?}"
    );
    assert!(
        text.iter().any(|t| t.ends_with("5000")),
        "the last output line stays"
    );
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");

    let (status, body) = api.call(
        "GET",
        &format!("/api/v1/applications/{app}/logs?tail=20000"),
        None,
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "tail", "{body}");
    drop(_cleanup);
    terminate(b);
}

//! A property test over the JSON bodies of the create and update endpoints: random values,
//! random shapes and mutations of valid bodies never make the server answer 5xx, and a refused
//! body changes nothing.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use berth_testkit::both_backends;

use crate::api::{app_body, TestApi};

both_backends!(no_body_makes_the_server_fail);

const KEYS: &[&str] = &[
    "name",
    "description",
    "source",
    "type",
    "provider",
    "repository",
    "branch",
    "credentials",
    "token",
    "ssh_key",
    "dockerfile",
    "context",
    "build_args",
    "replicas",
    "ports",
    "container",
    "published",
    "protocol",
    "mode",
    "health_check",
    "http_path",
    "port",
    "command",
    "interval_s",
    "resources",
    "cpus",
    "memory_mb",
    "image",
    "value",
    "is_secret",
    "host",
    "tls",
    "role",
    "user_id",
    "team_id",
    "mount_path",
    "size_gb",
    "kind",
    "expires_in_days",
    "password",
    "current_password",
    "email",
    "username",
    "login",
];

fn random_string(rng: &mut StdRng) -> String {
    const SAMPLES: &[&str] = &[
        "",
        " ",
        "a",
        "main",
        "../../etc/passwd",
        "main; touch /tmp/pwned",
        "$(id)",
        "ÿ",
        "\u{0}",
        "https://github.com/a/b.git",
        "busybox",
        "PORT",
        "example.com",
        "-rf",
        "null",
        "1e309",
        "💥",
        "owner",
        "git",
        "2000-01-01T00:00:00Z",
        "00000000-0000-0000-0000-000000000000",
        "/data",
        "tcp",
        "host",
    ];
    if rng.gen_bool(0.05) {
        "x".repeat(rng.gen_range(200..5000))
    } else if rng.gen_bool(0.7) {
        SAMPLES[rng.gen_range(0..SAMPLES.len())].to_owned()
    } else {
        (0..rng.gen_range(0..40))
            .map(|_| char::from_u32(rng.gen_range(1..0x3000)).unwrap_or('?'))
            .collect()
    }
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => json!(rng.gen_range(-100_000i64..100_000)),
        3 => json!([i64::MIN, i64::MAX, -1, 0, 65536, u32::MAX as i64 + 1][rng.gen_range(0..6)]),
        4 => Value::String(random_string(rng)),
        5 => json!(rng.gen::<f64>() * 1e6),
        6 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(random_object(rng, depth + 1)),
    }
}

fn random_object(rng: &mut StdRng, depth: u32) -> Map<String, Value> {
    (0..rng.gen_range(0..6))
        .map(|_| {
            (
                KEYS[rng.gen_range(0..KEYS.len())].to_owned(),
                random_value(rng, depth),
            )
        })
        .collect()
}

/// A valid body with one field replaced, removed or added, at some depth.
fn mutate(rng: &mut StdRng, mut v: Value) -> Value {
    mutate_in(rng, &mut v, 0);
    v
}

fn mutate_in(rng: &mut StdRng, node: &mut Value, depth: u32) {
    let descend = depth < 3 && rng.gen_bool(0.4);
    match node {
        Value::Object(m) if descend && !m.is_empty() => {
            let k = m
                .keys()
                .nth(rng.gen_range(0..m.len()))
                .cloned()
                .unwrap_or_default();
            if let Some(child) = m.get_mut(&k) {
                if child.is_object() || child.is_array() {
                    return mutate_in(rng, child, depth + 1);
                }
            }
            m.insert(k, random_value(rng, 2));
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = rng.gen_range(0..a.len());
            mutate_in(rng, &mut a[i], depth + 1);
        }
        Value::Object(m) => match rng.gen_range(0..3) {
            0 if !m.is_empty() => {
                let k = m
                    .keys()
                    .nth(rng.gen_range(0..m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.remove(&k);
            }
            1 if !m.is_empty() => {
                let k = m
                    .keys()
                    .nth(rng.gen_range(0..m.len()))
                    .cloned()
                    .unwrap_or_default();
                m.insert(k, random_value(rng, 2));
            }
            _ => {
                m.insert(
                    KEYS[rng.gen_range(0..KEYS.len())].to_owned(),
                    random_value(rng, 2),
                );
            }
        },
        other => *other = random_value(rng, 2),
    }
}

async fn no_body_makes_the_server_fail(api: TestApi) {
    let token = api.admin().await;
    let project = api.project(&token, "fuzzed", None).await;
    let app = api.application(&token, &project, "web").await;
    let r = api
        .post("/api/v1/teams", &token, json!({ "name": "fuzz team" }))
        .await;
    let team = r.body["id"].as_str().unwrap().to_owned();
    let me = api.get("/api/v1/users/me", &token).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let endpoints: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/v1/projects".into(),
            json!({ "name": "p", "description": "d" }),
        ),
        (
            "PATCH",
            format!("/api/v1/projects/{project}"),
            json!({ "name": "renamed", "team_id": null }),
        ),
        (
            "POST",
            format!("/api/v1/projects/{project}/applications"),
            app_body("other"),
        ),
        (
            "PATCH",
            format!("/api/v1/applications/{app}"),
            app_body("web"),
        ),
        (
            "PUT",
            format!("/api/v1/applications/{app}/env/KEY"),
            json!({ "value": "v", "is_secret": true }),
        ),
        (
            "POST",
            format!("/api/v1/applications/{app}/volumes"),
            json!({ "name": "vol", "mount_path": "/d", "size_gb": 1 }),
        ),
        (
            "POST",
            format!("/api/v1/applications/{app}/domains"),
            json!({ "host": "a.example.com", "tls": true }),
        ),
        ("POST", "/api/v1/teams".into(), json!({ "name": "team x" })),
        (
            "PATCH",
            format!("/api/v1/teams/{team}"),
            json!({ "name": "team y", "description": null }),
        ),
        (
            "POST",
            format!("/api/v1/teams/{team}/members"),
            json!({ "user_id": me, "role": "member" }),
        ),
        (
            "POST",
            "/api/v1/users".into(),
            json!({ "username": "u", "email": "u@example.com", "password": "password-1", "role": "viewer" }),
        ),
        ("POST", "/api/v1/tokens".into(), json!({ "name": "t" })),
        (
            "POST",
            "/api/v1/auth/login".into(),
            json!({ "login": "root", "password": "nope" }),
        ),
    ];
    let seed: u64 = std::env::var("BERTH_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut answered = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..40 {
        for (method, path, valid) in &endpoints {
            let body = if round % 3 == 0 {
                random_value(&mut rng, 0)
            } else {
                mutate(&mut rng, valid.clone())
            };
            let r = api
                .call(method, path, Some(&token), Some(body.clone()))
                .await;
            *answered.entry(r.status).or_default() += 1;
            assert!(
                r.status < 500,
                "{method} {path} with {body} (seed {seed}) answered {}: {}",
                r.status,
                r.body
            );
            assert!(r.status < 400 || r.content_type == "application/problem+json");
        }
    }
    assert!(
        answered.keys().any(|s| *s == 422) && answered.keys().any(|s| *s < 300),
        "a mix of refusals and successes: {answered:?}"
    );
}

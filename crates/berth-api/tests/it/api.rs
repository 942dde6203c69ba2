use actix_web::test;
use berth_api::{build_app, AppState};
use berth_testkit::engines::FakeEngines;
use berth_testkit::{Backend, TestStore};
use serde_json::{json, Value};

/// An API over a fresh database, and helpers to call it.
/// Its pipeline runs on in-process engines, so queued deployments and operations run.
#[derive(Debug)]
pub struct TestApi {
    pub state: AppState,
    pub db: TestStore,
    pub engines: std::sync::Arc<FakeEngines>,
    _work: tempfile::TempDir,
    _stop: DropCancel,
}

/// Stops the pipeline's tasks with the test.
#[derive(Debug)]
struct DropCancel(berth_events::CancelToken);

impl Drop for DropCancel {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub async fn setup(backend: Backend) -> TestApi {
    let db = TestStore::new(backend).await;
    let mut state = AppState::new(db.store.clone());
    state.auth.bcrypt_cost = 4;
    let work = tempfile::tempdir().unwrap();
    state.pipeline = berth_deploy::Pipeline::new(
        db.store.clone(),
        state.bus.clone(),
        berth_deploy::PipelineSettings {
            work_dir: work.path().to_owned(),
            poll: std::time::Duration::from_millis(50),
            ..Default::default()
        },
    );
    let engines = FakeEngines::new();
    let stop = berth_events::CancelToken::new();
    state.pipeline.start(Ok(engines.engines()), stop.clone());
    TestApi {
        state,
        db,
        engines,
        _work: work,
        _stop: DropCancel(stop),
    }
}

/// A response: status, headers we look at, body as JSON (Null when empty or not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
    pub allow: Option<String>,
    pub csp: Option<String>,
}

impl TestApi {
    pub async fn raw(&self, req: test::TestRequest) -> Res {
        let app = test::init_service(build_app(self.state.clone())).await;
        let res = test::call_service(
            &app,
            req.peer_addr("127.0.0.1:40000".parse().unwrap())
                .to_request(),
        )
        .await;
        let status = res.status().as_u16();
        let header = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let request_id = header("x-request-id");
        let allow = header("allow");
        let csp = header("content-security-policy");
        let bytes = test::read_body(res).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 400 || content_type.starts_with("application/problem+json") {
            // Every error answer, in every test, carries a known code whose status it has.
            let code = body["code"].as_str().unwrap_or_default();
            let known = berth_domain::ErrorCode::ALL
                .iter()
                .find(|c| c.as_str() == code)
                .unwrap_or_else(|| panic!("a {status} answer without a known code: {body}"));
            assert_eq!(berth_api::error::status(*known).0, status, "{body}");
            assert_eq!(content_type, "application/problem+json", "{body}");
        }
        Res {
            status,
            body,
            content_type,
            retry_after,
            request_id,
            allow,
            csp,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = match method {
            "GET" => test::TestRequest::get(),
            "POST" => test::TestRequest::post(),
            "PUT" => test::TestRequest::put(),
            "PATCH" => test::TestRequest::patch(),
            "DELETE" => test::TestRequest::delete(),
            other => panic!("method {other}"),
        }
        .uri(path);
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        if let Some(b) = body {
            req = req.set_json(b);
        }
        self.raw(req).await
    }

    /// Stops the pipeline's worker, so what is queued stays queued (and what needs an engine
    /// answers 503): for tests of the answers alone.
    pub fn without_worker(mut self) -> Self {
        self._stop.0.cancel();
        self.state.pipeline = berth_deploy::Pipeline::new(
            self.db.store.clone(),
            self.state.bus.clone(),
            Default::default(),
        );
        self
    }

    /// Waits for the operation a 202 answered with to end; returns it.
    pub async fn operation_end(&self, accepted: &Res, token: &str) -> Value {
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        let id = accepted.body["id"].as_str().unwrap().to_owned();
        for _ in 0..400 {
            let r = self.get(&format!("/api/v1/operations/{id}"), token).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if ["success", "failed"].contains(&r.body["status"].as_str().unwrap_or("")) {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("operation {id} did not end");
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Res {
        self.call("POST", path, Some(token), Some(body)).await
    }

    /// Sets berth up with a super admin and returns their token.
    pub async fn admin(&self) -> String {
        let r = self
            .call("POST", "/api/v1/auth/setup", None, Some(json!({ "username": "root", "email": "root@example.com", "password": "correct horse" })))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// Creates a user with `role` (as the admin) and returns (id, token).
    pub async fn user(&self, admin: &str, name: &str, role: &str) -> (String, String) {
        let r = self
            .post("/api/v1/users", admin, json!({ "username": name, "email": format!("{name}@example.com"), "password": "password-123", "role": role }))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({ "login": name, "password": "password-123" })),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        (id, r.body["token"].as_str().unwrap().to_owned())
    }

    pub async fn project(&self, token: &str, name: &str, team: Option<&str>) -> String {
        let r = self
            .post(
                "/api/v1/projects",
                token,
                json!({ "name": name, "team_id": team }),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn application(&self, token: &str, project: &str, name: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/projects/{project}/applications"),
                token,
                app_body(name),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

/// The application body of the API's documentation.
pub fn app_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "public site",
        "source": {
            "type": "git", "provider": "github", "repository": "https://github.com/acme/web.git", "branch": "main",
            "credentials": { "token": "ghp_secret_token" }, "dockerfile": "Dockerfile", "context": ".",
            "build_args": { "NODE_ENV": "production" }
        },
        "replicas": 2,
        "ports": [ { "container": 8080, "published": 18080, "protocol": "tcp", "mode": "ingress" } ],
        "health_check": { "http_path": "/health", "port": 8080, "interval_s": 5, "timeout_s": 3, "retries": 3, "start_period_s": 10 },
        "resources": { "cpus": 0.5, "memory_mb": 512 },
        "command": ["./server", "--port", "8080"],
        "release_command": ["./migrate", "up"]
    })
}

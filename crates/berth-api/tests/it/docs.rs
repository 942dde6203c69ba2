//! The OpenAPI document is committed and current, and the interactive viewer works offline:
//! every asset it references is served by berth itself.

use actix_web::test::TestRequest;
use berth_testkit::both_backends;

use crate::api::TestApi;

both_backends!(the_docs_viewer_serves_every_asset_itself);

#[test]
fn the_committed_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed: serde_json::Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    let generated: serde_json::Value =
        serde_json::from_str(&berth_api::openapi::document()).unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `make openapi` and commit"
    );
}

/// The patterns the document gives for what users name are the domain's own, which its
/// parsers are tested against (`berth_domain::patterns`).
#[test]
fn the_documents_patterns_are_the_parsers_own() {
    use berth_domain::patterns;
    let doc: serde_json::Value = serde_json::from_str(&berth_api::openapi::document()).unwrap();
    let field = |schema: &str, name: &str| {
        doc["components"]["schemas"][schema]["properties"][name]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{schema}.{name} has no pattern"))
            .to_owned()
    };
    for (schema, name, pattern) in [
        ("ProjectCreate", "name", patterns::DISPLAY_NAME),
        ("ProjectUpdate", "name", patterns::DISPLAY_NAME),
        ("TeamCreate", "name", patterns::DISPLAY_NAME),
        ("TeamUpdate", "name", patterns::DISPLAY_NAME),
        ("ServiceTokenCreate", "name", patterns::DISPLAY_NAME),
        ("ServiceTokenCreate", "origin", patterns::DISPLAY_NAME),
        ("TokenCreate", "name", patterns::DISPLAY_NAME),
        ("SetupRequest", "username", patterns::USERNAME),
        ("UserCreate", "username", patterns::USERNAME),
        ("DeploymentCreate", "commit", patterns::COMMIT),
        ("VolumeCreate", "name", patterns::VOLUME_NAME),
        ("VolumeCreate", "mount_path", patterns::MOUNT_PATH),
        ("ApplicationInput", "name", patterns::RESOURCE_NAME),
        ("HealthCheckHttp", "http_path", patterns::HTTP_PATH),
        ("VerifyInput", "http_path", patterns::HTTP_PATH),
        ("ProjectCreate", "description", patterns::DESCRIPTION),
        ("ProjectUpdate", "description", patterns::DESCRIPTION),
        ("TeamCreate", "description", patterns::DESCRIPTION),
        ("TeamUpdate", "description", patterns::DESCRIPTION),
        ("ApplicationInput", "description", patterns::DESCRIPTION),
    ] {
        assert_eq!(field(schema, name), pattern, "{schema}.{name}");
    }
    for method in ["put", "delete"] {
        let key = doc["paths"]["/api/v1/applications/{id}/env/{key}"][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "key")
            .unwrap()["schema"]["pattern"]
            .clone();
        assert_eq!(key, patterns::ENV_KEY, "{method} …/env/{{key}}");
    }
}

#[test]
fn docs_api_md_lists_every_error_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    let docs = std::fs::read_to_string(path).unwrap();
    let table = berth_api::error::code_table();
    assert!(
        docs.contains(&table),
        "docs/api.md must hold the table of error codes exactly as the code has it:\n{table}"
    );
}

#[test]
fn the_document_covers_the_api() {
    let doc: serde_json::Value = serde_json::from_str(&berth_api::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/projects/{id}",
        "/api/v1/applications/{id}/env/{key}",
        "/api/v1/audit-log",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap();
    assert!(
        codes.contains(&serde_json::json!("name_taken")),
        "{codes:?}"
    );
    assert_eq!(codes.len(), berth_domain::ErrorCode::ALL.len());
}

async fn the_docs_viewer_serves_every_asset_itself(api: TestApi) {
    let r = api.raw(TestRequest::get().uri("/api/openapi.json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["info"]["title"], "berth");
    let page = {
        let app = actix_web::test::init_service(berth_api::build_app(api.state.clone())).await;
        let res =
            actix_web::test::call_service(&app, TestRequest::get().uri("/api/docs/").to_request())
                .await;
        assert_eq!(res.status(), 200);
        String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap()
    };
    let mut assets: Vec<String> = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            let url = part.split('"').next().unwrap_or_default();
            assert!(
                !url.starts_with("http"),
                "the viewer loads nothing from elsewhere: {url}"
            );
            assets.push(url.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{page}");
    let app = actix_web::test::init_service(berth_api::build_app(api.state.clone())).await;
    for asset in &assets {
        let res = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri(&format!("/api/docs/{asset}"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), 200, "/api/docs/{asset}");
    }
    let init = actix_web::test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/docs/swagger-initializer.js")
            .to_request(),
    )
    .await;
    let init = String::from_utf8(actix_web::test::read_body(init).await.to_vec()).unwrap();
    assert!(
        init.contains("/api/openapi.json"),
        "the viewer shows berth's own document: {init}"
    );
}

//! The ceiling for API benchmarks: actix-web with the same settings as berth (2 workers) and a
//! handler that does nothing but answer a small JSON document. `make bench` loads it beside
//! berth in the same run, so berth's numbers can be read against what the framework alone
//! does on the machine.

#[allow(clippy::print_stdout)]
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().route(
            "/ceiling",
            actix_web::web::get().to(|| async {
                actix_web::HttpResponse::Ok().json(serde_json::json!({ "items": [] }))
            }),
        )
    })
    .workers(2)
    .bind(addr)?;
    for a in server.addrs() {
        println!("listening on http://{a}");
    }
    server.run().await
}

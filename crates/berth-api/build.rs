//! Embeds the dashboard (`dashboard/dist`, made by scripts/build-dashboard.sh) into berth-api,
//! so the binary serves it with nothing beside it. Without a built dashboard the binary serves
//! a page saying how to build it instead.

use std::path::Path;

const FILES: &[&str] = &["index.html", "assets/app.js", "assets/app.css"];

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>berth</title></head>\
<body><h1>berth</h1><p>This binary was built without its dashboard. Build it with <code>make run</code> \
(or <code>scripts/build-dashboard.sh</code> before <code>cargo build</code>). The REST API is at \
<a href=\"/api/docs\">/api/docs</a>.</p></body></html>\n";

fn main() -> std::io::Result<()> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(std::io::Error::other)?;
    let out = std::env::var("OUT_DIR").map_err(std::io::Error::other)?;
    let dist = Path::new(&manifest).join("../../dashboard/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let built = FILES.iter().all(|f| dist.join(f).is_file());
    for file in FILES {
        let target = Path::new(&out).join(file.replace('/', "_"));
        if built {
            std::fs::copy(dist.join(file), &target)?;
        } else {
            let fallback = if *file == "index.html" { NOT_BUILT } else { "" };
            std::fs::write(&target, fallback)?;
        }
    }
    println!("cargo:rustc-env=BERTH_DASHBOARD_BUILT={built}");
    Ok(())
}

//! berth's router beside nginx and Caddy (both from Debian's packages) as reverse proxies in
//! front of the same upstream, measured with wrk in one run: requests per second, p50 and p99
//! over plain HTTP and HTTPS with keep-alive, new TLS handshakes per second (a connection per
//! request), and each proxy's resident memory afterwards.
//!
//! `bench_proxy [seconds]` runs it all (`make bench` does). Each proxy runs as a process of
//! its own; the upstream is a small hyper server answering 13 bytes. No proxy logs requests.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

// The allocator the `berth` binary uses.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on {port}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("upstream") => upstream(args[2].parse().unwrap()),
        Some("router") => router(&args[2..]),
        _ => drive(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10)),
    }
}

/// The upstream: "hello, world\n" to every request.
fn upstream(port: u16) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(bytes::Bytes::from_static(b"hello, world\n")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// berth's router alone: `router <http> <https> <upstream> <cert.pem> <key.pem>`.
fn router(args: &[String]) {
    let (http, https, up): (u16, u16, u16) = (
        args[0].parse().unwrap(),
        args[1].parse().unwrap(),
        args[2].parse().unwrap(),
    );
    let cert = std::fs::read_to_string(&args[3]).unwrap();
    let key = std::fs::read_to_string(&args[4]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let proxy = setup(https, up, &cert, &key);
        let stop = berth_events::CancelToken::new();
        let h = tokio::net::TcpListener::bind(("127.0.0.1", http))
            .await
            .unwrap();
        let s = tokio::net::TcpListener::bind(("127.0.0.1", https))
            .await
            .unwrap();
        let p = proxy.clone();
        let st = stop.clone();
        tokio::spawn(async move { p.serve_http(h, st).await });
        proxy.serve_https(s, stop).await.unwrap();
    });
}

fn setup(https: u16, up: u16, cert: &str, key: &str) -> berth_proxy::Proxy {
    let proxy = berth_proxy::Proxy::new(berth_proxy::ProxySettings {
        https_port: https,
        ..Default::default()
    })
    .unwrap();
    proxy.install(vec![berth_proxy::Route {
        id: "bench".into(),
        host: "localhost".into(),
        path_prefix: "/".into(),
        target: berth_proxy::Target::Service {
            name: "bench".into(),
            upstreams: berth_proxy::Upstreams::Addrs(vec![SocketAddr::from(([127, 0, 0, 1], up))]),
        },
        https_redirect: false,
        hsts: false,
        www: berth_proxy::WwwRedirect::None,
        basic_auth: Vec::new(),
        max_body_bytes: 1 << 20,
        berth: false,
    }]);
    let loaded = match berth_proxy::tls::load(cert, key, None, 0) {
        Ok(l) => l.key,
        Err(_) => berth_proxy::tls::self_signed(&["localhost".into()]).unwrap(),
    };
    proxy.certs().set("localhost", loaded);
    proxy
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Proc {
    Proc(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {cmd:?}: {e} (scripts/install-deps.sh bench)")
            }),
    )
}

/// The process and its children (nginx's workers).
fn family(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(children) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids
}

/// CPU time used so far by the process and its children, user and system, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    family(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|stat| {
            // Fields after the command name, which is in parentheses: utime and stime are
            // the 12th and 13th of them.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
        })
        .sum()
}

/// Clock ticks per second in which `/proc/<pid>/stat` counts CPU time (USER_HZ, 100 on every
/// Linux architecture berth builds for).
const USER_HZ: f64 = 100.0;

fn rss_kib(pid: u32) -> u64 {
    // nginx and caddy may run children (nginx workers): count the whole process group.
    let mut total = 0;
    for p in family(pid) {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) {
            total += status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

#[derive(Debug, Default, Clone)]
struct Run {
    rps: f64,
    requests: f64,
    p50: String,
    p99: String,
    errors: String,
}

fn wrk(url: &str, seconds: u32, extra: &[&str]) -> Run {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"])
        .args(["-H", "Host: localhost"])
        .args(extra)
        .arg(url)
        .output()
        .expect("wrk (scripts/install-deps.sh bench)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut run = Run::default();
    for line in text.lines() {
        let l = line.trim();
        if l.contains(" requests in ") {
            run.requests = l
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = l.strip_prefix("50%") {
            run.p50 = v.trim().to_owned();
        } else if let Some(v) = l.strip_prefix("99%") {
            run.p99 = v.trim().to_owned();
        } else if l.starts_with("Non-2xx") || l.starts_with("Socket errors") {
            run.errors = format!("{} {}", run.errors, l).trim().to_owned();
        }
    }
    run
}

fn drive(seconds: u32) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(d.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(d.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    let me = std::env::current_exe().unwrap();
    let up = free_port();
    let _upstream = spawn(Command::new(&me).args(["upstream", &up.to_string()]));
    wait_port(up);

    let mut results: Vec<(String, Run, Run, Run, u64, f64)> = Vec::new();
    let direct = wrk(&format!("http://127.0.0.1:{up}/"), seconds, &[]);
    println!("upstream alone: {:.0} requests/s", direct.rps);

    for proxy in ["berth", "nginx", "caddy"] {
        let (http, https) = (free_port(), free_port());
        let process = match proxy {
            "berth" => spawn(Command::new(&me).args([
                "router",
                &http.to_string(),
                &https.to_string(),
                &up.to_string(),
                d.join("cert.pem").to_str().unwrap(),
                d.join("key.pem").to_str().unwrap(),
            ])),
            "nginx" => {
                let conf = nginx_conf(d, http, https, up);
                spawn(Command::new("/usr/sbin/nginx").args([
                    "-p",
                    d.to_str().unwrap(),
                    "-c",
                    conf.to_str().unwrap(),
                ]))
            }
            _ => {
                let conf = caddy_conf(d, http, https, up);
                spawn(
                    Command::new("caddy")
                        .args([
                            "run",
                            "--config",
                            conf.to_str().unwrap(),
                            "--adapter",
                            "caddyfile",
                        ])
                        .env("XDG_DATA_HOME", d.join("caddy-data"))
                        .env("XDG_CONFIG_HOME", d.join("caddy-config"))
                        .env("HOME", d),
                )
            }
        };
        wait_port(http);
        wait_port(https);
        let before = cpu_ticks(process.0.id());
        let plain = wrk(&format!("http://127.0.0.1:{http}/"), seconds, &[]);
        // Microseconds of the proxy's CPU (user and system) per proxied request.
        let ticks = (cpu_ticks(process.0.id()) - before) as f64;
        let cpu_us = ticks * 1e6 / USER_HZ / plain.requests.max(1.0);
        let tls = wrk(&format!("https://localhost:{https}/"), seconds, &[]);
        let handshakes = wrk(
            &format!("https://localhost:{https}/"),
            seconds,
            &["-H", "Connection: close"],
        );
        let rss = rss_kib(process.0.id());
        println!(
            "{proxy}: http {:.0}/s ({cpu_us:.1} µs CPU each), https {:.0}/s, handshakes {:.0}/s, {} MiB",
            plain.rps,
            tls.rps,
            handshakes.rps,
            rss / 1024
        );
        results.push((proxy.to_owned(), plain, tls, handshakes, rss, cpu_us));
        drop(process);
    }

    println!();
    println!(
        "| proxy | HTTP req/s | HTTP p50 | HTTP p99 | CPU per HTTP request | HTTPS req/s | HTTPS p50 | HTTPS p99 | new TLS handshakes/s | RSS after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, plain, tls, hs, rss, cpu_us) in &results {
        println!(
            "| {name} | {:.0} | {} | {} | {cpu_us:.1} µs | {:.0} | {} | {} | {:.0} | {:.1} MiB |",
            plain.rps,
            plain.p50,
            plain.p99,
            tls.rps,
            tls.p50,
            tls.p99,
            hs.rps,
            *rss as f64 / 1024.0
        );
        for (what, r) in [("http", plain), ("https", tls), ("handshakes", hs)] {
            if !r.errors.is_empty() {
                println!("  {name} {what}: {}", r.errors);
            }
        }
    }
    println!(
        "\nupstream alone (no proxy): {:.0} requests/s, p50 {}, p99 {}",
        direct.rps, direct.p50, direct.p99
    );
}

fn nginx_conf(d: &Path, http: u16, https: u16, up: u16) -> std::path::PathBuf {
    let dir = d.display();
    let conf = format!(
        r#"worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/nginx-body;
  proxy_temp_path {dir}/nginx-proxy;
  fastcgi_temp_path {dir}/nginx-fastcgi;
  uwsgi_temp_path {dir}/nginx-uwsgi;
  scgi_temp_path {dir}/nginx-scgi;
  upstream app {{ server 127.0.0.1:{up}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{http};
    listen 127.0.0.1:{https} ssl http2;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
  }}
}}
"#
    );
    let path = d.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn caddy_conf(d: &Path, http: u16, https: u16, up: u16) -> std::path::PathBuf {
    let dir = d.display();
    let conf = format!(
        r#"{{
  admin off
  auto_https off
  http_port {http}
  https_port {https}
}}
http://localhost:{http}, http://127.0.0.1:{http} {{
  reverse_proxy 127.0.0.1:{up}
}}
https://localhost:{https} {{
  tls {dir}/cert.pem {dir}/key.pem
  reverse_proxy 127.0.0.1:{up}
}}
"#
    );
    let path = d.join("Caddyfile");
    std::fs::write(&path, conf).unwrap();
    path
}

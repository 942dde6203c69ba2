#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark fails loudly and prints its table
//! `make bench` part for the orchestrator. Prints a Markdown table for docs/benchmarks.md:
//! - the time from a deploy call to a converged service (two replicas, start-first, each new
//!   replica health-checked and watched 2 s), against `docker service update --image` (the
//!   CLI, which also waits for the update to complete) for the same change on the same
//!   service, alternating, median of several runs;
//! - failed requests during berth's rolling updates under a steady client load (a client that
//!   balances over the replicas' host ports, as berth's edge router does on a host).
//!
//! Needs the base image (`make base-image`) and an engine that is or may become a Swarm
//! manager. Run: `cargo run --release -p berth-swarm --example bench_rollout [runs]`.

#[path = "../tests/it/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use std::process::Command;
use std::time::{Duration, Instant};

use berth_events::CancelToken;
use berth_swarm::DeployOutcome;
use fixture::{Fixture, Load, TIMEOUT};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn image_id(f: &Fixture, tag: &str) -> String {
    f.swarm
        .docker()
        .inspect_image(tag)
        .await
        .unwrap()
        .id
        .unwrap()
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let f = Fixture::new().await;
    let images = [f.image("v1", true).await, f.image("v2", true).await];
    let ids = [
        image_id(&f, &images[0]).await,
        image_id(&f, &images[1]).await,
    ];
    let mut spec = f.spec("bench", &images[0], 2);
    let name = spec.name.to_string();
    let sink = berth_swarm::EventSink::discard();
    f.swarm
        .deploy(&spec, &sink, &CancelToken::new(), TIMEOUT)
        .await
        .unwrap();

    let (mut berth, mut cli) = (Vec::new(), Vec::new());
    let (mut requests, mut failures) = (0u64, Vec::new());
    let mut current = 0;
    for _ in 0..runs {
        // berth: v(current) -> the other, under load.
        current = 1 - current;
        spec.image = images[current].clone();
        let load = Load::start(&f.swarm, &name);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let outcome = f
            .swarm
            .deploy(&spec, &sink, &CancelToken::new(), TIMEOUT)
            .await
            .unwrap();
        berth.push(started.elapsed());
        assert!(matches!(
            outcome,
            DeployOutcome::Converged { running: 2, .. }
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (r, fails, _) = load.finish().await;
        requests += r;
        failures.extend(fails);

        // The CLI: the same kind of change back, on the same service.
        current = 1 - current;
        let started = Instant::now();
        // The baseline berth is measured against: the docker CLI itself (never used by berth).
        let out = Command::new("docker")
            .args(["service", "update", "--detach=false", "--quiet", "--image"])
            .arg(&ids[current])
            .arg(&name)
            .output()
            .unwrap();
        cli.push(started.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (b, c) = (median(berth), median(cli));
    let ratio = b.as_secs_f64() / c.as_secs_f64();
    println!("| measure | berth | `docker service update` |");
    println!("|---|---|---|");
    println!(
        "| deploy call to converged, 2 replicas, start-first (median of {runs}) | {:.2} s | {:.2} s |",
        b.as_secs_f64(),
        c.as_secs_f64()
    );
    println!("| ratio berth / CLI | {ratio:.3} | |");
    println!(
        "| failed requests during {runs} rolling updates under load | {} of {requests} | |",
        failures.len()
    );
    if !failures.is_empty() {
        eprintln!("failures: {failures:?}");
    }
}

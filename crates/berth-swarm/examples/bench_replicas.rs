#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark fails loudly and prints its table
//! `make bench` part for the engine's side of the routing table at size: with 100 services of
//! one running replica each, the time to learn where every replica is reached, as the router
//! does it (`Swarm::local_replicas`: three engine requests for all services) beside asking per
//! service (`Swarm::endpoints` for each: what the router did before). Median of several rounds.
//!
//! Needs the base image (`make base-image`) and an engine that is or may become a Swarm
//! manager. Run: `cargo run --release -p berth-swarm --example bench_replicas [services]`.

#[path = "../tests/it/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use std::time::{Duration, Instant};

use futures_util::StreamExt;

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let f = fixture::Fixture::new().await;
    let image = f.image("v1", true).await;
    let specs: Vec<_> = (0..count)
        .map(|i| {
            let mut spec = f.spec(&format!("r{i}"), &image, 1);
            // No health check: 100 of them probing every second would be the load measured.
            spec.health_check = None;
            spec.update.monitor_s = 0;
            spec.stop_grace_period_s = 1;
            spec
        })
        .collect();
    let started = Instant::now();
    let deployed: Vec<_> = futures_util::stream::iter(&specs)
        .map(|s| f.deploy(s))
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(deployed.len(), count);
    eprintln!(
        "bench_replicas: {count} services running after {:.0?}",
        started.elapsed()
    );
    let names: Vec<String> = specs.iter().map(|s| s.name.to_string()).collect();
    let found = f.swarm.local_replicas().await.unwrap();
    let ours = names.iter().filter(|n| found.contains_key(*n)).count();
    assert_eq!(ours, count, "every service's replica is reachable here");

    let rounds = 20;
    let mut listing = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        f.swarm.local_replicas().await.unwrap();
        listing.push(t.elapsed());
    }
    let mut each = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for n in &names {
            assert_eq!(
                f.swarm.endpoints(n, fixture::APP_PORT).await.unwrap().len(),
                1
            );
        }
        each.push(t.elapsed());
    }
    futures_util::stream::iter(&names)
        .for_each_concurrent(16, |n| async { f.swarm.remove(n, false).await.unwrap() })
        .await;
    println!("| where {count} services' replicas are reached (median) | ms |");
    println!("|---|---|");
    println!(
        "| one listing for all (`Swarm::local_replicas`, {rounds} rounds) | {:.1} |",
        median_ms(listing)
    );
    println!(
        "| per service (`Swarm::endpoints` {count} times, 5 rounds) | {:.1} |",
        median_ms(each)
    );
}

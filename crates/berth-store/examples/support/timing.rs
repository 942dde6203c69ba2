//! Timing for the store's benchmarks: the median of many rounds of one step.

use std::time::{Duration, Instant};

/// The median time of `rounds` runs of `f`, one after the other.
pub async fn median<F, Fut>(rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut v = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        f().await;
        v.push(t.elapsed());
    }
    v.sort();
    v[v.len() / 2]
}

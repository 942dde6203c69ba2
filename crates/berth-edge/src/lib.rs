//! The edge as berth runs it: the router's listeners, its routing table kept current from the
//! store and the orchestrator ([`table`]), and its certificates kept current from the store and
//! the ACME CA ([`certs`]). berth-server hands over the settings and starts both; berth-proxy is
//! the router itself and knows nothing of where routes and certificates come from.
//!
//! Architecture invariant: reads the store and the orchestrator, writes only certificates and
//! their attempts; no HTTP API, no builds, no deployments.

pub mod certs;
pub mod handover;
pub mod status;
pub mod table;

use std::time::Duration;

use berth_events::{CancelToken, Event, Received};

pub use certs::{CertSettings, Certs};
pub use status::StatusCell;
pub use table::{Edge, EdgeSettings, Listeners, SwarmCell};

/// Why a background loop's next round began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// Its period passed.
    Timer,
    /// An event it picks announced a change (or events were missed).
    Event,
}

/// Waits for the next round of a background loop: `every` passed, or an event `wake` picks
/// (or missed events) arrived. `None` once `shutdown` came or the bus closed.
pub(crate) async fn next_round(
    events: &mut berth_events::Subscription,
    shutdown: &CancelToken,
    every: Duration,
    wake: impl Fn(&Event) -> bool,
) -> Option<Round> {
    let tick = tokio::time::sleep(every);
    tokio::pin!(tick);
    loop {
        tokio::select! {
            () = &mut tick => return Some(Round::Timer),
            () = shutdown.cancelled() => return None,
            received = events.recv() => match received {
                Received::Event(e) if wake(&e) => return Some(Round::Event),
                Received::Lagged { .. } => return Some(Round::Event),
                Received::Event(_) => {}
                Received::Closed => return None,
            },
        }
    }
}

/// When a loop that keeps a view of the store reads it again: the store's edge epoch moved
/// (every change to domains, applications' routing and certificates moves it), an event
/// announced a change, or `every` passed since the last read. Between those, a round costs
/// one read of the epoch, however large the installation.
#[derive(Debug)]
pub(crate) struct StoreWatch {
    /// The epoch before the last read, and when: a change committed during the read moves
    /// the epoch past it, so the next round reads again.
    seen: Option<(i64, std::time::Instant)>,
    every: Duration,
}

impl StoreWatch {
    pub(crate) fn new(every: Duration) -> Self {
        Self { seen: None, every }
    }

    /// Whether to read the store now (`round`: why this round began; `None` for the first
    /// read); when it says so, the caller reads at once.
    pub(crate) async fn due(&mut self, store: &berth_store::Store, round: Option<Round>) -> bool {
        let epoch = match store.edge_epoch().await {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "the edge epoch was not read");
                None
            }
        };
        let due = round != Some(Round::Timer)
            || match (self.seen, epoch) {
                (Some((seen, at)), Some(now)) => seen != now || at.elapsed() >= self.every,
                _ => true,
            };
        if due {
            self.seen = epoch.map(|e| (e, std::time::Instant::now()));
        }
        due
    }
}

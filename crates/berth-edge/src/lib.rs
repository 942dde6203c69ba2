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

/// Waits for the next round of a background loop: `every` passed, or an event `wake` picks
/// (or missed events) arrived. False once `shutdown` came or the bus closed.
pub(crate) async fn next_round(
    events: &mut berth_events::Subscription,
    shutdown: &CancelToken,
    every: Duration,
    wake: impl Fn(&Event) -> bool,
) -> bool {
    let tick = tokio::time::sleep(every);
    tokio::pin!(tick);
    loop {
        tokio::select! {
            () = &mut tick => return true,
            () = shutdown.cancelled() => return false,
            received = events.recv() => match received {
                Received::Event(e) if wake(&e) => return true,
                Received::Lagged { .. } => return true,
                Received::Event(_) => {}
                Received::Closed => return false,
            },
        }
    }
}

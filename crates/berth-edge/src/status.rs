//! The router's report of itself: what the table and certificate loops last did, written to the
//! store every [`EdgeStatus::EVERY_S`] seconds, for the control plane to show whether a router
//! is connected and what it serves, and to know not to start a second one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_domain::EdgeStatus;
use berth_events::CancelToken;
use berth_proxy::Proxy;
use berth_store::{Actor, Store, StoreError};

/// The report as the loops keep it.
#[derive(Debug, Clone)]
pub struct StatusCell(Arc<Mutex<EdgeStatus>>);

impl StatusCell {
    pub fn new() -> Self {
        let now = chrono::Utc::now();
        Self(Arc::new(Mutex::new(EdgeStatus {
            pid: std::process::id(),
            started_at: now,
            updated_at: now,
            table_version: 0,
            routes: 0,
            certificates: 0,
            certificates_loaded_at: None,
            traffic: Default::default(),
        })))
    }

    fn with(&self, f: impl FnOnce(&mut EdgeStatus)) {
        let mut s = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
    }

    /// A new table was installed.
    pub(crate) fn table(&self, routes: usize) {
        self.with(|s| {
            s.table_version += 1;
            s.routes = routes;
        });
    }

    /// Certificates were loaded into the router.
    pub(crate) fn certificates(&self, count: usize) {
        self.with(|s| {
            s.certificates = count;
            s.certificates_loaded_at = Some(chrono::Utc::now());
        });
    }

    pub fn snapshot(&self) -> EdgeStatus {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Default for StatusCell {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes the report (with the router's per-route counters) now and every few seconds until
/// `shutdown`.
pub async fn report(store: Store, status: StatusCell, proxy: Proxy, shutdown: CancelToken) {
    loop {
        // Only routes that served something: the report is written every few seconds, and
        // thousands of idle domains would make it hundreds of kilobytes each time.
        let traffic = proxy
            .stats()
            .into_iter()
            .filter(|s| s.requests > 0)
            .map(|s| (s.route, (s.requests, s.errors)))
            .collect();
        status.with(|s| s.traffic = traffic);
        if let Err(e) = write(&store, &status).await {
            tracing::warn!(error = %e, "the router's status was not written");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(EdgeStatus::EVERY_S as u64)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn write(store: &Store, status: &StatusCell) -> Result<(), StoreError> {
    status.with(|s| s.updated_at = chrono::Utc::now());
    let scope = store.scope(Actor::System).await?;
    scope.set_edge_status(&status.snapshot()).await?;
    scope.commit().await
}

/// The last report a router wrote, if any.
pub async fn read(store: &Store) -> Result<Option<EdgeStatus>, StoreError> {
    store.read_scope(Actor::System).await?.edge_status().await
}

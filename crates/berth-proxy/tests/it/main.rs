#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! The router on loopback with real listeners, real TLS handshakes and real HTTP servers
//! behind it (small hyper servers standing in for application replicas).

mod fixture;
mod routing;
mod tls;

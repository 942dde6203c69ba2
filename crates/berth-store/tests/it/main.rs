#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! The store's test suite. Every test in `both_backends!` runs twice: on a fresh SQLite file
//! and on a fresh Postgres database (`BERTH_TEST_PG_URL`, set by `make test`).

mod db;

pub use db::setup;
mod deployments;
mod hosts;
mod pipeline;
mod resources;
mod rls;
mod tenancy;
mod tokens;

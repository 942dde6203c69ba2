#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! The API's test suite, in process through `build_app`, on SQLite and Postgres.

mod api;
mod auth;
mod docs;
mod fuzz;
mod health;
mod isolation;
mod matrix;
mod resources;
mod webhooks;

pub use api::setup;

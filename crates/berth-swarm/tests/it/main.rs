#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! The orchestrator against the real Docker engine in swarm mode. The base image
//! `berth-test/busybox:latest` comes from `make base-image` (run by `make test`); the engine is
//! made a single-node swarm manager by the orchestrator's own setup when it is not one.

mod bad_input;
mod fixture;
mod operations;
mod rollout;
mod setup;

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design
//! The build engine against real git repositories made here and the real Docker engine. The
//! base image `berth-test/busybox:latest` comes from `make base-image` (run by `make test`).

mod builds;
mod repo;

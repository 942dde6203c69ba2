//! berth's system tests live in `it/` (run as the `system` test target); this library is
//! empty. They start the real `berth` binary, so it must be built first:
//! `cargo build -p berth-server` (`make test` does), or name another one in `BERTH_BIN`.

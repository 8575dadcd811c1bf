//! The OpenovaFlow flow server (`shared/spec/server.md`).
//!
//! * [`config`] — settings from flags and `FLOW_SERVER_*` variables (§1).
//! * [`http`] — routing, auth, CORS and handlers (§2–§6); [`app`] builds the router.
//! * [`backend`] — the storage trait; [`memory`] is the in-memory backend (§10.1).
//! * [`stream`] — SSE fan-out and the stream body (contract.md §9–§10).
//! * [`metrics`] — Prometheus text (§7); [`logging`] — JSON logs (§8).
//! * [`server`] — listening and graceful shutdown (§9).
//! * [`testing`] — start a real server inside a test.
#![forbid(unsafe_code)]

pub mod auth;
pub mod backend;
pub mod config;
pub mod dsn;
pub mod duration;
pub mod http;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod postgres;
pub mod server;
pub mod stream;
pub mod testing;

pub use http::{AppState, app};

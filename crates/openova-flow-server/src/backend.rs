//! The storage abstraction behind the HTTP layer (server.md §10).
//!
//! Handlers only see [`Backend`]; the memory backend ([`crate::memory`])
//! implements it today, a Postgres backend implements the same trait later.
//! Every backend provides the same contract: the fold, per-flow seq and
//! epochs, resume, resync, limits and log lines.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use openova_flow_contract::EventId;
use openova_flow_contract::FlowMessage;
use openova_flow_contract::log_lines::{LogLine, NewLogLine};
use thiserror::Error;

use crate::config::{BackendKind, Config};
use crate::metrics::Metrics;
use crate::stream::Subscription;

/// A boxed, `Send` future (keeps [`Backend`] object-safe).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a backend operation failed; the HTTP layer maps each to its status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BackendError {
    /// 413 `flow too large`: the event would exceed a node/relationship cap.
    #[error("flow too large")]
    FlowTooLarge,
    /// 503 `too many flows` (memory): no idle flow to evict.
    #[error("too many flows")]
    TooManyFlows,
    /// 503 `backend unavailable`: no connection could be obtained.
    #[error("backend unavailable")]
    Unavailable,
    /// 503 while shutting down (new streams are refused).
    #[error("shutting down")]
    ShuttingDown,
    /// 500 `<operation> failed: <detail>`; the detail must not contain secrets.
    #[error("{0}")]
    Failed(String),
}

/// The answer to an accepted POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub seq: u64,
    pub epoch: String,
}

/// A server snapshot: canonical JSON (no trailing newline) and its stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: EventId,
    pub json: Bytes,
}

/// `GET …/log-lines` parameters, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    /// Exact-match filters; `None` = no filter.
    pub exec_id: Option<String>,
    pub node_id: Option<String>,
    pub after_seq: u64,
    /// 1–5000.
    pub limit: usize,
}

/// The store. Flow ids passed in are already validated
/// ([`openova_flow_contract::is_valid_flow_id`]).
pub trait Backend: Send + Sync + 'static {
    /// `memory` or `postgres`.
    fn kind(&self) -> BackendKind;

    /// `Ok` when usable; else the `/readyz` reason (`postgres unreachable`…).
    fn readiness(&self) -> Result<(), String>;

    /// Stamps, checks caps, applies, sequences, stores and fans out one
    /// validated message; answers after it is stored and enqueued.
    fn publish<'a>(
        &'a self,
        flow_id: &'a str,
        msg: FlowMessage,
    ) -> BoxFut<'a, Result<Published, BackendError>>;

    /// The current snapshot; `None` when the flow has no incarnation.
    fn snapshot<'a>(
        &'a self,
        flow_id: &'a str,
    ) -> BoxFut<'a, Result<Option<Snapshot>, BackendError>>;

    /// Registers a stream and reads its first frames atomically with the
    /// flow's sequencing (contract.md §10). `last_event_id` is the client's
    /// id as received (header already preferred over query).
    fn subscribe<'a>(
        &'a self,
        flow_id: &'a str,
        last_event_id: Option<&'a str>,
    ) -> BoxFut<'a, Result<Subscription, BackendError>>;

    /// Removes the incarnation, retained events and log lines, and ends the
    /// flow's open streams. Idempotent.
    fn delete<'a>(&'a self, flow_id: &'a str) -> BoxFut<'a, Result<(), BackendError>>;

    /// Appends validated log lines (all or nothing); returns how many.
    fn append_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        lines: Vec<NewLogLine>,
    ) -> BoxFut<'a, Result<usize, BackendError>>;

    /// Lines with `seq > after_seq`, ascending, at most `limit`.
    fn list_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        query: LogQuery,
    ) -> BoxFut<'a, Result<Vec<LogLine>, BackendError>>;

    /// The `flow_server_flows_active` gauge.
    fn flows_active(&self) -> u64;

    /// Shutdown step 2: end every stream (at a frame boundary) and refuse new ones.
    fn begin_shutdown(&self);

    /// Shutdown step 4: release resources (pools, background tasks).
    fn close(&self) -> BoxFut<'_, ()>;
}

/// Why a backend could not be started (exit 1).
#[derive(Debug, Error)]
pub enum StartError {
    /// Postgres not usable within the boot budget, or misconfigured.
    #[error(transparent)]
    Postgres(#[from] crate::postgres::PgStartError),
}

/// Builds the configured backend. Must run inside a tokio runtime (the
/// memory backend starts its TTL sweeper).
pub async fn start(config: &Config, metrics: Arc<Metrics>) -> Result<Arc<dyn Backend>, StartError> {
    match config.backend {
        BackendKind::Memory => Ok(crate::memory::MemoryBackend::start(config, metrics)),
        BackendKind::Postgres => Ok(crate::postgres::PgBackend::start(config, metrics).await?),
    }
}

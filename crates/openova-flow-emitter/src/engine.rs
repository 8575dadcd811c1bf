//! The emission engine (emitter.md §6–§8): desired vs acknowledged state,
//! coalescing window, ordered chunked batches, indefinite retries that always
//! re-diff from the latest state, resyncs and the shutdown flush.

use std::sync::Arc;
use std::time::Duration;

use openova_flow_contract::{FlowInstance, FlowMessage, Meta};
use serde_json::Value;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::client::{FlowApi, PostOutcome, SnapshotOutcome};
use crate::graph::{Graph, MAX_ENVELOPE_BYTES, diff, undesired_owned};
use crate::metrics::{Metrics, PostOutcomeLabel, ResyncReason};
use crate::region::{Clock, DesiredSource, system_clock};

/// The value of the flow object's `meta.emittedBy`.
pub const EMITTED_BY: &str = "openova-flow-emitter";

/// Engine settings (from [`crate::config::Config`]; tests shorten them).
#[derive(Clone)]
pub struct EngineSettings {
    pub flow_id: String,
    pub region: String,
    pub emit_interval: Duration,
    pub resync_interval: Duration,
    pub max_envelope_bytes: usize,
    /// Total budget of the flush at shutdown (§7: 5 s).
    pub shutdown_budget: Duration,
    pub clock: Clock,
}

impl std::fmt::Debug for EngineSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSettings")
            .field("flow_id", &self.flow_id)
            .field("region", &self.region)
            .field("emit_interval", &self.emit_interval)
            .field("resync_interval", &self.resync_interval)
            .field("max_envelope_bytes", &self.max_envelope_bytes)
            .finish_non_exhaustive()
    }
}

impl EngineSettings {
    pub fn new(flow_id: &str, region: &str) -> Self {
        EngineSettings {
            flow_id: flow_id.to_owned(),
            region: region.to_owned(),
            emit_interval: Duration::from_millis(200),
            resync_interval: Duration::from_secs(300),
            max_envelope_bytes: MAX_ENVELOPE_BYTES,
            shutdown_budget: Duration::from_secs(5),
            clock: system_clock(),
        }
    }
}

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushEnd {
    /// The server holds the desired state (as far as this emitter knows).
    Done,
    /// Initial lists not synced yet: nothing may be sent.
    NotSynced,
    /// A retryable failure in a flush that must not retry (shutdown).
    GaveUp,
}

enum Sent {
    Accepted,
    Dropped,
    Retry(Option<Duration>),
}

/// One emitter's engine. Generic over the transport and the desired state.
pub struct Engine<C: FlowApi, S: DesiredSource> {
    settings: EngineSettings,
    client: C,
    source: Arc<S>,
    metrics: Arc<Metrics>,
    acked: Graph,
    check_flow: bool,
    upsert_flow: bool,
    last_epoch: Option<String>,
    backoff: Backoff,
}

impl<C: FlowApi, S: DesiredSource> std::fmt::Debug for Engine<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .field("acked_nodes", &self.acked.nodes.len())
            .field("acked_edges", &self.acked.edges.len())
            .field("last_epoch", &self.last_epoch)
            .finish_non_exhaustive()
    }
}

impl<C: FlowApi, S: DesiredSource> Engine<C, S> {
    /// A fresh engine: its first flush checks the flow object (§6).
    /// `reason` is recorded when the start itself is a resync (leadership).
    pub fn new(
        settings: EngineSettings,
        client: C,
        source: Arc<S>,
        metrics: Arc<Metrics>,
        reason: Option<ResyncReason>,
    ) -> Self {
        if let Some(r) = reason {
            metrics.resync(r);
        }
        Engine {
            settings,
            client,
            source,
            metrics,
            acked: Graph::new(),
            check_flow: true,
            upsert_flow: false,
            last_epoch: None,
            backoff: Backoff::new(),
        }
    }

    /// What the server is known to hold from this emitter.
    pub fn acked(&self) -> &Graph {
        &self.acked
    }

    /// The epoch of the last 2xx that carried one.
    pub fn last_epoch(&self) -> Option<&str> {
        self.last_epoch.as_deref()
    }

    /// Marks the acknowledged state unknown: the next flush checks the flow,
    /// prunes and re-sends the whole region.
    pub fn resync(&mut self, reason: ResyncReason) {
        info!(
            reason = reason.as_str(),
            "resync: region state will be re-sent"
        );
        self.metrics.resync(reason);
        self.check_flow = true;
    }

    /// Runs until `stop` is cancelled. Anything in flight is abandoned at
    /// once; call [`Engine::shutdown_flush`] afterwards for a graceful stop.
    pub async fn run(&mut self, stop: &CancellationToken) {
        let mut changes = self.source.subscribe();
        let period = self.settings.resync_interval;
        let mut resync_timer = tokio::time::interval_at(Instant::now() + period, period);
        resync_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut pending = true;
        loop {
            if !pending {
                tokio::select! {
                    () = stop.cancelled() => return,
                    r = changes.changed() => {
                        if r.is_err() {
                            // The source is gone: nothing will change any more.
                            stop.cancelled().await;
                            return;
                        }
                    }
                    _ = resync_timer.tick() => self.resync(ResyncReason::Interval),
                }
            }
            // Coalescing window: opened by the first change after idle.
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.settings.emit_interval) => {}
            }
            changes.borrow_and_update();
            pending = false;
            tokio::select! {
                () = stop.cancelled() => return,
                _ = self.flush(true) => {}
            }
        }
    }

    /// One flush without retries within the shutdown budget (§7).
    pub async fn shutdown_flush(&mut self) -> FlushEnd {
        let budget = self.settings.shutdown_budget;
        match tokio::time::timeout(budget, self.flush(false)).await {
            Ok(end) => end,
            Err(_) => {
                warn!(
                    budget_ms = budget.as_millis() as u64,
                    "shutdown flush did not finish in time"
                );
                FlushEnd::GaveUp
            }
        }
    }

    async fn wait_retry(&mut self, retry_after: Option<Duration>) {
        self.metrics.retry();
        let wait = self.backoff.next_wait(rand::random::<f64>(), retry_after);
        debug!(
            wait_ms = wait.as_millis() as u64,
            failures = self.backoff.failures(),
            "retrying after a wait"
        );
        tokio::time::sleep(wait).await;
    }

    fn flow_object(&self) -> FlowInstance {
        let mut meta = Meta::new();
        meta.insert("emittedBy".into(), Value::String(EMITTED_BY.into()));
        FlowInstance {
            id: self.settings.flow_id.clone(),
            status: "running".into(),
            started_at: (self.settings.clock)(),
            meta,
            ..FlowInstance::default()
        }
    }

    /// Sends until the server holds the latest desired state. With `retry`
    /// false, the first retryable failure ends the flush.
    pub async fn flush(&mut self, retry: bool) -> FlushEnd {
        loop {
            let Some(desired) = self.source.desired() else {
                self.metrics.set_queue_depth(0);
                return FlushEnd::NotSynced;
            };
            if let Some(reason) = self.source.take_resync() {
                self.resync(reason);
            }
            if self.check_flow {
                match self.client.snapshot().await {
                    SnapshotOutcome::Found(snap) => {
                        self.metrics.flow_check("exists");
                        self.upsert_flow = snap.is_placeholder();
                        self.acked = undesired_owned(
                            &snap.nodes,
                            &snap.relationships,
                            &desired,
                            &self.settings.flow_id,
                            &self.settings.region,
                        );
                        if !self.acked.is_empty() {
                            info!(
                                nodes = self.acked.nodes.len(),
                                edges = self.acked.edges.len(),
                                "pruning owned server items that are no longer desired"
                            );
                        }
                    }
                    SnapshotOutcome::NotFound => {
                        self.metrics.flow_check("missing");
                        self.upsert_flow = true;
                        self.acked = Graph::new();
                    }
                    SnapshotOutcome::Unauthorized { status } => {
                        warn!(status, "flow check not authorised; emitting without it");
                        self.metrics.flow_check("unauthorized");
                        self.acked = Graph::new();
                    }
                    SnapshotOutcome::Rejected { status, body } => {
                        warn!(status, body = %body, "flow check rejected; emitting without it");
                        self.metrics.flow_check("rejected");
                        self.acked = Graph::new();
                    }
                    SnapshotOutcome::Retry {
                        retry_after,
                        reason,
                    } => {
                        warn!(reason = %reason, "flow check failed");
                        self.metrics.flow_check("error");
                        if !retry {
                            return FlushEnd::GaveUp;
                        }
                        self.wait_retry(retry_after).await;
                        continue;
                    }
                }
                self.backoff.reset();
                self.check_flow = false;
            }
            if self.upsert_flow {
                let msg = FlowMessage::UpsertFlow {
                    flow: self.flow_object(),
                };
                match self.send(&msg, retry).await {
                    Sent::Accepted | Sent::Dropped => self.upsert_flow = false,
                    Sent::Retry(ra) => {
                        if !retry {
                            return FlushEnd::GaveUp;
                        }
                        self.wait_retry(ra).await;
                    }
                }
                continue;
            }
            let d = diff(&desired, &self.acked);
            self.metrics.set_queue_depth(d.len());
            if d.is_empty() {
                return FlushEnd::Done;
            }
            let batches = d.into_messages(self.settings.max_envelope_bytes);
            let mut interrupted = false;
            for msg in &batches {
                match self.send(msg, retry).await {
                    Sent::Accepted | Sent::Dropped => {
                        self.acked.apply(msg);
                        if self.check_flow {
                            // Epoch changed: resync before anything else.
                            interrupted = true;
                            break;
                        }
                    }
                    Sent::Retry(ra) => {
                        if !retry {
                            return FlushEnd::GaveUp;
                        }
                        self.wait_retry(ra).await;
                        interrupted = true;
                        break;
                    }
                }
            }
            if !interrupted {
                // Every batch of the diff was acknowledged (or dropped).
                self.metrics.set_queue_depth(0);
                return FlushEnd::Done;
            }
        }
    }

    async fn send(&mut self, msg: &FlowMessage, retry: bool) -> Sent {
        let kind = msg.message_type().as_str();
        match self.client.post(msg).await {
            PostOutcome::Accepted { epoch } => {
                self.metrics.post(kind, PostOutcomeLabel::Ok);
                self.backoff.reset();
                if let Some(e) = epoch {
                    if self.last_epoch.as_deref().is_some_and(|last| last != e) {
                        info!(old = ?self.last_epoch, new = %e, "flow server epoch changed");
                        self.resync(ResyncReason::Epoch);
                    }
                    self.last_epoch = Some(e);
                }
                Sent::Accepted
            }
            PostOutcome::Retry {
                retry_after,
                reason,
            } => {
                let label = if retry {
                    PostOutcomeLabel::Retried
                } else {
                    PostOutcomeLabel::Error
                };
                self.metrics.post(kind, label);
                warn!(r#type = kind, reason = %reason, "post failed");
                Sent::Retry(retry_after)
            }
            PostOutcome::Rejected { status, body } => {
                self.metrics.post(kind, PostOutcomeLabel::Rejected);
                warn!(r#type = kind, status, body = %body, "post rejected; batch dropped");
                Sent::Dropped
            }
        }
    }
}

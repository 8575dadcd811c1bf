//! Prometheus metrics (server.md §7): plain atomics, rendered by hand.
//!
//! Every label value the server can produce is pre-registered, so every
//! series is present (at 0) from the first scrape.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use openova_flow_contract::MessageType;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of `flow_server_ingest_duration_seconds`.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// HTTP statuses a `POST …/events` can be rejected with.
const INGEST_ERROR_STATUSES: [u16; 5] = [400, 401, 413, 500, 503];

/// SSE frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Event,
    Snapshot,
    Heartbeat,
}

/// How a stream started (contract.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOpen {
    Snapshot,
    Replay,
    Live,
}

/// Why a flow was evicted (memory backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionReason {
    Capacity,
    Ttl,
}

impl EvictionReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            EvictionReason::Capacity => "capacity",
            EvictionReason::Ttl => "ttl",
        }
    }
}

/// The process's metrics. Shared as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    backend: &'static str,
    events_ingested: [AtomicU64; 6],
    ingest_errors: [AtomicU64; INGEST_ERROR_STATUSES.len()],
    ingest_duration_buckets: [AtomicU64; DURATION_BUCKETS.len()],
    ingest_duration_count: AtomicU64,
    ingest_duration_sum_nanos: AtomicU64,
    log_lines_written: AtomicU64,
    subscribers_active: AtomicU64,
    frames_sent: [AtomicU64; 3],
    bytes_sent: AtomicU64,
    resyncs_lag: AtomicU64,
    stream_opens: [AtomicU64; 3],
    evictions: [AtomicU64; 2],
    pg_listener_reconnects: AtomicU64,
}

impl Metrics {
    pub fn new(backend: &'static str) -> Self {
        Metrics {
            backend,
            events_ingested: Default::default(),
            ingest_errors: Default::default(),
            ingest_duration_buckets: Default::default(),
            ingest_duration_count: AtomicU64::new(0),
            ingest_duration_sum_nanos: AtomicU64::new(0),
            log_lines_written: AtomicU64::new(0),
            subscribers_active: AtomicU64::new(0),
            frames_sent: Default::default(),
            bytes_sent: AtomicU64::new(0),
            resyncs_lag: AtomicU64::new(0),
            stream_opens: Default::default(),
            evictions: Default::default(),
            pg_listener_reconnects: AtomicU64::new(0),
        }
    }

    pub fn event_ingested(&self, t: MessageType, took: Duration) {
        self.events_ingested[type_index(t)].fetch_add(1, Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            self.ingest_duration_buckets[i].fetch_add(1, Relaxed);
        }
        self.ingest_duration_count.fetch_add(1, Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.ingest_duration_sum_nanos.fetch_add(nanos, Relaxed);
    }

    pub fn ingest_error(&self, status: u16) {
        if let Some(i) = INGEST_ERROR_STATUSES.iter().position(|s| *s == status) {
            self.ingest_errors[i].fetch_add(1, Relaxed);
        }
    }

    pub fn log_lines_written(&self, n: usize) {
        self.log_lines_written.fetch_add(n as u64, Relaxed);
    }

    pub fn subscriber_opened(&self) {
        self.subscribers_active.fetch_add(1, Relaxed);
    }

    pub fn subscriber_closed(&self) {
        self.subscribers_active.fetch_sub(1, Relaxed);
    }

    pub fn frames_sent(&self, kind: FrameKind, frames: u64, bytes: usize) {
        self.frames_sent[kind as usize].fetch_add(frames, Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Relaxed);
    }

    pub fn resync(&self) {
        self.resyncs_lag.fetch_add(1, Relaxed);
    }

    pub fn stream_opened(&self, how: StreamOpen) {
        self.stream_opens[how as usize].fetch_add(1, Relaxed);
    }

    pub fn flow_evicted(&self, reason: EvictionReason) {
        self.evictions[reason as usize].fetch_add(1, Relaxed);
    }

    /// For the Postgres backend's LISTEN connection.
    pub fn pg_listener_reconnected(&self) {
        self.pg_listener_reconnects.fetch_add(1, Relaxed);
    }

    /// Open SSE streams right now.
    pub fn subscribers_active(&self) -> u64 {
        self.subscribers_active.load(Relaxed)
    }

    /// Resync snapshots sent so far.
    pub fn resyncs(&self) -> u64 {
        self.resyncs_lag.load(Relaxed)
    }

    /// The Prometheus text exposition. `flows_active` comes from the backend.
    pub fn render(&self, flows_active: u64) -> String {
        let mut o = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Relaxed);

        header(
            &mut o,
            "flow_server_events_ingested_total",
            "counter",
            "Accepted events per variant.",
        );
        for t in MessageType::ALL {
            let _ = writeln!(
                o,
                "flow_server_events_ingested_total{{type=\"{t}\"}} {}",
                get(&self.events_ingested[type_index(t)])
            );
        }
        header(
            &mut o,
            "flow_server_ingest_errors_total",
            "counter",
            "Rejected POST events requests by HTTP status.",
        );
        for (i, s) in INGEST_ERROR_STATUSES.iter().enumerate() {
            let _ = writeln!(
                o,
                "flow_server_ingest_errors_total{{status=\"{s}\"}} {}",
                get(&self.ingest_errors[i])
            );
        }
        header(
            &mut o,
            "flow_server_ingest_duration_seconds",
            "histogram",
            "Accepted POST events requests, received to response ready.",
        );
        let mut cumulative = 0;
        for (i, b) in DURATION_BUCKETS.iter().enumerate() {
            cumulative += get(&self.ingest_duration_buckets[i]);
            let _ = writeln!(
                o,
                "flow_server_ingest_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = get(&self.ingest_duration_count);
        let _ = writeln!(
            o,
            "flow_server_ingest_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = get(&self.ingest_duration_sum_nanos) as f64 / 1e9;
        let _ = writeln!(o, "flow_server_ingest_duration_seconds_sum {sum}");
        let _ = writeln!(o, "flow_server_ingest_duration_seconds_count {count}");

        header(
            &mut o,
            "flow_server_log_lines_written_total",
            "counter",
            "Accepted log lines.",
        );
        let _ = writeln!(
            o,
            "flow_server_log_lines_written_total {}",
            get(&self.log_lines_written)
        );
        header(
            &mut o,
            "flow_server_flows_active",
            "gauge",
            "Flows held (memory) or flows with local subscribers (postgres).",
        );
        let _ = writeln!(o, "flow_server_flows_active {flows_active}");
        header(
            &mut o,
            "flow_server_subscribers_active",
            "gauge",
            "Open SSE streams.",
        );
        let _ = writeln!(
            o,
            "flow_server_subscribers_active {}",
            get(&self.subscribers_active)
        );
        header(
            &mut o,
            "flow_server_sse_frames_sent_total",
            "counter",
            "SSE frames written.",
        );
        for (i, k) in ["event", "snapshot", "heartbeat"].iter().enumerate() {
            let _ = writeln!(
                o,
                "flow_server_sse_frames_sent_total{{kind=\"{k}\"}} {}",
                get(&self.frames_sent[i])
            );
        }
        header(
            &mut o,
            "flow_server_sse_bytes_sent_total",
            "counter",
            "SSE bytes written.",
        );
        let _ = writeln!(
            o,
            "flow_server_sse_bytes_sent_total {}",
            get(&self.bytes_sent)
        );
        header(
            &mut o,
            "flow_server_subscriber_resyncs_total",
            "counter",
            "Resync snapshots after queue overflow.",
        );
        let _ = writeln!(
            o,
            "flow_server_subscriber_resyncs_total{{reason=\"lag\"}} {}",
            get(&self.resyncs_lag)
        );
        header(
            &mut o,
            "flow_server_stream_opens_total",
            "counter",
            "How streams started.",
        );
        for (i, k) in ["snapshot", "replay", "live"].iter().enumerate() {
            let _ = writeln!(
                o,
                "flow_server_stream_opens_total{{outcome=\"{k}\"}} {}",
                get(&self.stream_opens[i])
            );
        }
        header(
            &mut o,
            "flow_server_flow_evictions_total",
            "counter",
            "Memory-backend evictions.",
        );
        for (i, r) in [EvictionReason::Capacity, EvictionReason::Ttl]
            .iter()
            .enumerate()
        {
            let _ = writeln!(
                o,
                "flow_server_flow_evictions_total{{reason=\"{}\"}} {}",
                r.as_str(),
                get(&self.evictions[i])
            );
        }
        header(
            &mut o,
            "flow_server_pg_listener_reconnects_total",
            "counter",
            "Postgres LISTEN reconnects.",
        );
        let _ = writeln!(
            o,
            "flow_server_pg_listener_reconnects_total {}",
            get(&self.pg_listener_reconnects)
        );
        header(&mut o, "flow_server_build_info", "gauge", "Build identity.");
        let _ = writeln!(
            o,
            "flow_server_build_info{{version=\"{}\",backend=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            self.backend
        );
        o
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

fn type_index(t: MessageType) -> usize {
    MessageType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let m = Metrics::new("memory");
        m.event_ingested(MessageType::UpsertNodes, Duration::from_micros(300));
        m.event_ingested(MessageType::UpsertNodes, Duration::from_millis(3));
        m.ingest_error(400);
        m.frames_sent(FrameKind::Heartbeat, 1, 27);
        m.flow_evicted(EvictionReason::Ttl);
        let text = m.render(2);
        for line in [
            "flow_server_events_ingested_total{type=\"upsert-nodes\"} 2",
            "flow_server_events_ingested_total{type=\"snapshot\"} 0",
            "flow_server_ingest_errors_total{status=\"400\"} 1",
            "flow_server_ingest_duration_seconds_bucket{le=\"0.0005\"} 1",
            "flow_server_ingest_duration_seconds_bucket{le=\"0.005\"} 2",
            "flow_server_ingest_duration_seconds_bucket{le=\"+Inf\"} 2",
            "flow_server_ingest_duration_seconds_count 2",
            "flow_server_flows_active 2",
            "flow_server_sse_frames_sent_total{kind=\"heartbeat\"} 1",
            "flow_server_sse_bytes_sent_total 27",
            "flow_server_flow_evictions_total{reason=\"ttl\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let build = format!(
            "flow_server_build_info{{version=\"{}\",backend=\"memory\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.lines().any(|l| l == build), "{text}");
    }
}

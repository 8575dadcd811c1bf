//! Readiness state and the Prometheus metrics of emitter.md §10, rendered in
//! the text exposition format without a metrics library.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a full re-send was started (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResyncReason {
    Relist,
    Interval,
    Epoch,
    Leader,
}

impl ResyncReason {
    pub const ALL: [ResyncReason; 4] = [
        ResyncReason::Relist,
        ResyncReason::Interval,
        ResyncReason::Epoch,
        ResyncReason::Leader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResyncReason::Relist => "relist",
            ResyncReason::Interval => "interval",
            ResyncReason::Epoch => "epoch",
            ResyncReason::Leader => "leader",
        }
    }
}

/// The outcome label of `posts_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PostOutcomeLabel {
    Ok,
    Retried,
    Rejected,
    Error,
}

impl PostOutcomeLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            PostOutcomeLabel::Ok => "ok",
            PostOutcomeLabel::Retried => "retried",
            PostOutcomeLabel::Rejected => "rejected",
            PostOutcomeLabel::Error => "error",
        }
    }
}

/// Shared by the engine, the watchers, the lease loop and the health server.
#[derive(Debug, Default)]
pub struct Metrics {
    posts: Mutex<BTreeMap<(&'static str, PostOutcomeLabel), u64>>,
    retries: AtomicU64,
    queue_depth: AtomicU64,
    watched: Mutex<BTreeMap<&'static str, u64>>,
    last_success_ms: AtomicU64,
    resyncs: Mutex<BTreeMap<ResyncReason, u64>>,
    flow_checks: Mutex<BTreeMap<&'static str, u64>>,
    leader: AtomicBool,
    synced: AtomicBool,
    standby: AtomicBool,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    if let Ok(mut m) = map.lock() {
        *m.entry(key).or_insert(0) += 1;
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn post(&self, msg_type: &'static str, outcome: PostOutcomeLabel) {
        bump(&self.posts, (msg_type, outcome));
        if outcome == PostOutcomeLabel::Ok {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                .unwrap_or(0);
            self.last_success_ms.store(ms, Ordering::Relaxed);
        }
    }

    /// `posts_total{type,outcome}`, for tests and reports.
    pub fn posts(&self, msg_type: &str, outcome: PostOutcomeLabel) -> u64 {
        self.posts
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((t, o), _)| *t == msg_type && *o == outcome)
                    .map(|(_, v)| *v)
                    .sum()
            })
            .unwrap_or(0)
    }

    pub fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth
            .store(u64::try_from(depth).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn set_watched(&self, kind: &'static str, count: usize) {
        if let Ok(mut m) = self.watched.lock() {
            m.insert(kind, u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    pub fn resync(&self, reason: ResyncReason) {
        bump(&self.resyncs, reason);
    }

    pub fn resyncs(&self, reason: ResyncReason) -> u64 {
        self.resyncs
            .lock()
            .map(|m| m.get(&reason).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Outcome of the flow-existence check (§6): `exists`, `missing`,
    /// `unauthorized`, `rejected`, `error`.
    pub fn flow_check(&self, outcome: &'static str) {
        bump(&self.flow_checks, outcome);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    /// The `leader` gauge.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Relaxed);
    }

    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::Relaxed);
    }

    /// `/readyz`: synced, or standing by as a non-leader.
    pub fn ready(&self) -> bool {
        self.synced.load(Ordering::Relaxed) || self.standby.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let p = "openova_flow_emitter";
        let _ = writeln!(
            out,
            "# HELP {p}_posts_total Flow-server POSTs by message type and outcome."
        );
        let _ = writeln!(out, "# TYPE {p}_posts_total counter");
        if let Ok(m) = self.posts.lock() {
            for ((t, o), v) in m.iter() {
                let _ = writeln!(
                    out,
                    "{p}_posts_total{{type=\"{t}\",outcome=\"{}\"}} {v}",
                    o.as_str()
                );
            }
        }
        let _ = writeln!(out, "# HELP {p}_retries_total Retry waits started.");
        let _ = writeln!(out, "# TYPE {p}_retries_total counter");
        let _ = writeln!(out, "{p}_retries_total {}", self.retries());
        let _ = writeln!(
            out,
            "# HELP {p}_queue_depth Pending node and edge changes (size of the current diff)."
        );
        let _ = writeln!(out, "# TYPE {p}_queue_depth gauge");
        let _ = writeln!(
            out,
            "{p}_queue_depth {}",
            self.queue_depth.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP {p}_watched_objects Objects in each watch store."
        );
        let _ = writeln!(out, "# TYPE {p}_watched_objects gauge");
        if let Ok(m) = self.watched.lock() {
            for kind in ["HelmRelease", "HelmChart"] {
                let v = m.get(kind).copied().unwrap_or(0);
                let _ = writeln!(out, "{p}_watched_objects{{kind=\"{kind}\"}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP {p}_last_success_timestamp_seconds Time of the last 2xx from the flow server."
        );
        let _ = writeln!(out, "# TYPE {p}_last_success_timestamp_seconds gauge");
        let ms = self.last_success_ms.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{p}_last_success_timestamp_seconds {}.{:03}",
            ms / 1000,
            ms % 1000
        );
        let _ = writeln!(
            out,
            "# HELP {p}_resyncs_total Full re-sends of the region state by reason."
        );
        let _ = writeln!(out, "# TYPE {p}_resyncs_total counter");
        for r in ResyncReason::ALL {
            let _ = writeln!(
                out,
                "{p}_resyncs_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.resyncs(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP {p}_flow_checks_total Flow-existence checks (snapshot GETs) by outcome."
        );
        let _ = writeln!(out, "# TYPE {p}_flow_checks_total counter");
        if let Ok(m) = self.flow_checks.lock() {
            for (o, v) in m.iter() {
                let _ = writeln!(out, "{p}_flow_checks_total{{outcome=\"{o}\"}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP {p}_leader Whether this replica is active: leader or no election (1), or standing by (0)."
        );
        let _ = writeln!(out, "# TYPE {p}_leader gauge");
        let _ = writeln!(
            out,
            "{p}_leader {}",
            u8::from(self.leader.load(Ordering::Relaxed))
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_of_section_10() {
        let m = Metrics::new();
        m.post("upsert-nodes", PostOutcomeLabel::Ok);
        m.post("upsert-nodes", PostOutcomeLabel::Ok);
        m.post("delete-rels", PostOutcomeLabel::Rejected);
        m.retry();
        m.set_queue_depth(7);
        m.set_watched("HelmRelease", 3);
        m.resync(ResyncReason::Epoch);
        m.set_leader(true);
        let text = m.render();
        for needle in [
            "openova_flow_emitter_posts_total{type=\"upsert-nodes\",outcome=\"ok\"} 2",
            "openova_flow_emitter_posts_total{type=\"delete-rels\",outcome=\"rejected\"} 1",
            "openova_flow_emitter_retries_total 1",
            "openova_flow_emitter_queue_depth 7",
            "openova_flow_emitter_watched_objects{kind=\"HelmRelease\"} 3",
            "openova_flow_emitter_watched_objects{kind=\"HelmChart\"} 0",
            "openova_flow_emitter_last_success_timestamp_seconds ",
            "openova_flow_emitter_resyncs_total{reason=\"epoch\"} 1",
            "openova_flow_emitter_resyncs_total{reason=\"relist\"} 0",
            "openova_flow_emitter_leader 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert_eq!(m.posts("upsert-nodes", PostOutcomeLabel::Ok), 2);
    }

    #[test]
    fn readiness() {
        let m = Metrics::new();
        assert!(!m.ready());
        m.set_standby(true);
        assert!(m.ready());
        m.set_standby(false);
        m.set_synced(true);
        assert!(m.ready());
    }
}

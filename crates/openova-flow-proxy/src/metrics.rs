//! The proxy's Prometheus metrics (proxy.md §10), kept by hand: a handful of
//! labelled counters and one gauge.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why authentication or authorisation failed (`reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token anywhere.
    Missing,
    /// Malformed, unverifiable or otherwise rejected token.
    Invalid,
    /// `exp` passed (beyond the leeway).
    Expired,
    /// Valid token without the deployment or `flow:write`.
    Forbidden,
}

impl AuthFailure {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Invalid => "invalid",
            AuthFailure::Expired => "expired",
            AuthFailure::Forbidden => "forbidden",
        }
    }
}

/// Kind of upstream failure (`kind` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// Connect refused, DNS or TLS failure.
    Unreachable,
    /// A deadline passed.
    Timeout,
    /// Connection reset or broken before a response.
    Reset,
}

impl UpstreamFailure {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamFailure::Unreachable => "unreachable",
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Reset => "reset",
        }
    }
}

/// All counters; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    upstream_failures: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    jwks_reloads: Mutex<BTreeMap<&'static str, u64>>,
    streams_active: AtomicI64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K) {
    *map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_default() += 1;
}

impl Metrics {
    /// A request answered on `route` with `code`.
    pub fn request(&self, route: &'static str, code: u16) {
        bump(&self.inner.requests, (route, code));
    }

    /// An upstream call failed.
    pub fn upstream_failure(&self, route: &'static str, kind: UpstreamFailure) {
        bump(&self.inner.upstream_failures, (route, kind.as_str()));
    }

    /// A request was refused with 401 or 403.
    pub fn auth_failure(&self, reason: AuthFailure) {
        bump(&self.inner.auth_failures, reason.as_str());
    }

    /// A JWKS reload finished (`success` or `failure`).
    pub fn jwks_reload(&self, outcome: &'static str) {
        bump(&self.inner.jwks_reloads, outcome);
    }

    /// Number of JWKS reloads with this outcome so far.
    pub fn jwks_reloads(&self, outcome: &str) -> u64 {
        self.inner
            .jwks_reloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(outcome)
            .copied()
            .unwrap_or(0)
    }

    /// Counts one open stream until the guard drops.
    pub fn stream_opened(&self) -> StreamGuard {
        self.inner.streams_active.fetch_add(1, Ordering::SeqCst);
        StreamGuard {
            metrics: self.clone(),
        }
    }

    /// Streams currently open.
    pub fn streams_active(&self) -> i64 {
        self.inner.streams_active.load(Ordering::SeqCst)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "openova_flow_proxy_requests_total",
            "counter",
            "Proxied API requests by route and HTTP status.",
        );
        for ((route, code), n) in self
            .inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "openova_flow_proxy_requests_total{{route=\"{route}\",code=\"{code}\"}} {n}"
            );
        }
        header(
            &mut out,
            "openova_flow_proxy_upstream_failures_total",
            "counter",
            "Upstream calls that failed, by route and kind (unreachable, timeout, reset).",
        );
        for ((route, kind), n) in self
            .inner
            .upstream_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "openova_flow_proxy_upstream_failures_total{{route=\"{route}\",kind=\"{kind}\"}} {n}"
            );
        }
        header(
            &mut out,
            "openova_flow_proxy_auth_failures_total",
            "counter",
            "Requests refused by authentication (401) or authorisation (403), by reason.",
        );
        for (reason, n) in self
            .inner
            .auth_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "openova_flow_proxy_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        header(
            &mut out,
            "openova_flow_proxy_streams_active",
            "gauge",
            "SSE streams currently open through the proxy.",
        );
        let _ = writeln!(
            out,
            "openova_flow_proxy_streams_active {}",
            self.streams_active()
        );
        header(
            &mut out,
            "openova_flow_proxy_jwks_reloads_total",
            "counter",
            "JWKS loads and reloads, by outcome (success, failure).",
        );
        for (outcome, n) in self
            .inner
            .jwks_reloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "openova_flow_proxy_jwks_reloads_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Decrements `openova_flow_proxy_streams_active` when dropped.
#[derive(Debug)]
pub struct StreamGuard {
    metrics: Metrics,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.metrics
            .inner
            .streams_active
            .fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_labels() {
        let m = Metrics::default();
        m.request("snapshot", 200);
        m.request("snapshot", 200);
        m.request("events", 413);
        m.upstream_failure("snapshot", UpstreamFailure::Unreachable);
        m.upstream_failure("stream", UpstreamFailure::Timeout);
        m.auth_failure(AuthFailure::Missing);
        m.auth_failure(AuthFailure::Forbidden);
        m.jwks_reload("success");
        let g1 = m.stream_opened();
        let g2 = m.stream_opened();
        drop(g1);
        let text = m.render();
        for line in [
            "# TYPE openova_flow_proxy_requests_total counter",
            "openova_flow_proxy_requests_total{route=\"snapshot\",code=\"200\"} 2",
            "openova_flow_proxy_requests_total{route=\"events\",code=\"413\"} 1",
            "openova_flow_proxy_upstream_failures_total{route=\"snapshot\",kind=\"unreachable\"} 1",
            "openova_flow_proxy_upstream_failures_total{route=\"stream\",kind=\"timeout\"} 1",
            "openova_flow_proxy_auth_failures_total{reason=\"missing\"} 1",
            "openova_flow_proxy_auth_failures_total{reason=\"forbidden\"} 1",
            "# TYPE openova_flow_proxy_streams_active gauge",
            "openova_flow_proxy_streams_active 1",
            "openova_flow_proxy_jwks_reloads_total{outcome=\"success\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        drop(g2);
        assert_eq!(m.streams_active(), 0);
        assert_eq!(m.jwks_reloads("success"), 1);
        assert_eq!(m.jwks_reloads("failure"), 0);
    }

    #[test]
    fn empty_registry_still_names_every_metric() {
        let text = Metrics::default().render();
        for name in [
            "openova_flow_proxy_requests_total",
            "openova_flow_proxy_upstream_failures_total",
            "openova_flow_proxy_auth_failures_total",
            "openova_flow_proxy_streams_active",
            "openova_flow_proxy_jwks_reloads_total",
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
    }
}

//! `openova-flow-bench`: load for any OpenovaFlow flow server.
//!
//! * [`ingest`] — N connections POST upsert-nodes to F flows (rate or flat
//!   out): accepted req/s, POST latency percentiles, errors by status.
//! * [`fanout`] — S SSE subscribers over F flows while R events/s are
//!   published: delivered/lost, resyncs, seq gaps, delivery latency
//!   (POST sent → frame received, carried in node `meta.sentAtNs`), frames/s,
//!   and the server's RSS per idle subscriber (`--server-pid`).
//!
//! Runs are bounded in count and time, and refuse non-loopback targets
//! unless explicitly allowed.
#![forbid(unsafe_code)]

pub mod fanout;
pub mod hist;
pub mod ingest;
pub mod rss;
pub mod sse;
pub mod target;

use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds since the tool started (monotonic, shared by publisher and
/// subscribers of one process, so latencies need no clock sync).
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// An upsert-nodes body with `count` nodes `n<first>…` (ids cycling over
/// `distinct`), each carrying `meta.sentAtNs`.
pub fn upsert_nodes_body(first: usize, count: usize, distinct: usize, sent_at_ns: u64) -> String {
    let distinct = distinct.max(1);
    let nodes: Vec<String> = (0..count.max(1))
        .map(|i| {
            format!(
                r#"{{"id":"n{}","label":"bench","status":"running","meta":{{"{}":{sent_at_ns}}}}}"#,
                (first + i) % distinct,
                sse::SENT_AT_KEY
            )
        })
        .collect();
    format!(r#"{{"type":"upsert-nodes","nodes":[{}]}}"#, nodes.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_flow_messages() {
        let b = upsert_nodes_body(98, 3, 100, 42);
        let m = openova_flow_contract::decode_message(b.as_bytes()).unwrap();
        let json = String::from_utf8(m.to_canonical_json()).unwrap();
        assert!(json.contains(r#""id":"n98""#) && json.contains(r#""id":"n0""#));
        assert!(json.contains(r#""meta":{"sentAtNs":42}"#), "{json}");
        assert!(now_ns() <= now_ns());
    }
}

//! `ingest` mode: N connections POST upsert-nodes to F flows, at a target
//! rate or flat out, for a bounded time or request count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hist::{Histogram, Summary};
use crate::target::{Target, client};
use crate::{now_ns, upsert_nodes_body};

/// Settings of one ingest run.
#[derive(Debug, Clone)]
pub struct IngestArgs {
    /// Concurrent connections (one request in flight each).
    pub connections: usize,
    pub flows: usize,
    /// Total requests per second; 0 = flat out.
    pub rate: u64,
    pub duration: Duration,
    /// Stop after this many requests (also bounded by `duration`).
    pub requests: Option<u64>,
    pub nodes_per_event: usize,
    /// Node ids cycle over this many per flow, bounding flow size.
    pub distinct_nodes: usize,
    pub flow_prefix: String,
}

/// What an ingest run measured.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub elapsed: Duration,
    pub sent: u64,
    pub accepted: u64,
    /// By HTTP status, or `transport` for connection errors.
    pub errors: BTreeMap<String, u64>,
    pub latency: Summary,
}

impl IngestReport {
    pub fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn to_text(&self, args: &IngestArgs) -> String {
        let rate = if args.rate == 0 {
            "flat out".to_owned()
        } else {
            format!("{} req/s target", args.rate)
        };
        format!(
            "ingest: {} connections, {} flows, {rate}, {} node(s)/event\n  \
             sent {} accepted {} in {:.2}s → {:.0} accepted req/s\n  \
             POST latency {}\n  errors {:?}",
            args.connections,
            args.flows,
            args.nodes_per_event,
            self.sent,
            self.accepted,
            self.elapsed.as_secs_f64(),
            self.accepted_per_sec(),
            self.latency.display_ms(),
            self.errors,
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "mode": "ingest",
            "elapsedSecs": self.elapsed.as_secs_f64(),
            "sent": self.sent,
            "accepted": self.accepted,
            "acceptedPerSec": self.accepted_per_sec(),
            "errors": self.errors,
            "postLatency": self.latency.to_json(),
        })
    }
}

/// Runs the ingest load.
pub async fn run(target: &Target, args: &IngestArgs) -> anyhow::Result<IngestReport> {
    let latency = Arc::new(Histogram::new());
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + args.duration;
    let per_conn_interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let mut tasks = Vec::with_capacity(args.connections);
    for conn in 0..args.connections {
        // One client per task: exactly one connection each.
        let http = client(1)?;
        let target = target.clone();
        let args = args.clone();
        let (latency, errors, sent, accepted) = (
            Arc::clone(&latency),
            Arc::clone(&errors),
            Arc::clone(&sent),
            Arc::clone(&accepted),
        );
        tasks.push(tokio::spawn(async move {
            let mut tick = per_conn_interval.map(|every| {
                let mut i = tokio::time::interval(every);
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                i
            });
            let mut k: u64 = 0;
            loop {
                if let Some(t) = &mut tick {
                    tokio::select! {
                        _ = t.tick() => {}
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if args.requests.is_some_and(|max| n >= max) {
                    sent.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
                let flow_index = (conn as u64 + k * args.connections as u64) % args.flows as u64;
                let flow = format!("{}-{flow_index}", args.flow_prefix);
                let first = (k as usize * args.nodes_per_event) % args.distinct_nodes.max(1);
                let body =
                    upsert_nodes_body(first, args.nodes_per_event, args.distinct_nodes, now_ns());
                k += 1;
                let t0 = Instant::now();
                let outcome = target.post(&http, &flow, body).send().await;
                let key = match outcome {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        // Drain the body so the connection is reused.
                        let _ = resp.bytes().await;
                        if status == 200 {
                            latency.record(t0.elapsed());
                            accepted.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        status.to_string()
                    }
                    Err(_) => "transport".to_owned(),
                };
                *errors
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(key)
                    .or_default() += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    let errors = errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(IngestReport {
        elapsed,
        sent: sent.load(Ordering::Relaxed),
        accepted: accepted.load(Ordering::Relaxed),
        errors,
        latency: latency.summary(),
    })
}

//! `fanout` mode: S SSE subscribers over F flows while a publisher sends R
//! events/s; measures delivery (lost, resyncs, seq gaps), delivery latency
//! (POST sent → frame received, from `meta.sentAtNs`) and, with
//! `--server-pid`, the server's RSS per idle subscriber.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Semaphore, watch};

use crate::hist::{Histogram, Summary};
use crate::rss::read_rss_kib;
use crate::sse::{Kind, Scanner};
use crate::target::{Target, client};
use crate::{now_ns, upsert_nodes_body};

/// Settings of one fan-out run.
#[derive(Debug, Clone)]
pub struct FanoutArgs {
    pub subscribers: usize,
    pub flows: usize,
    /// Events per second over all flows; 0 = subscribers stay idle.
    pub rate: u64,
    /// How long to publish (or stay idle).
    pub duration: Duration,
    /// Concurrent publishing tasks (each owns a subset of the flows).
    pub publishers: usize,
    /// Streams being opened at once.
    pub connect_concurrency: usize,
    /// Idle time after all subscribers connected, before RSS is sampled.
    pub settle: Duration,
    /// Longest wait for subscribers to catch up after publishing.
    pub drain: Duration,
    pub server_pid: Option<u32>,
    pub flow_prefix: String,
}

/// Server memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssReport {
    pub before_kib: u64,
    pub idle_kib: u64,
    pub end_kib: u64,
    pub per_subscriber_kib: f64,
}

/// What a fan-out run measured.
#[derive(Debug, Clone, Default)]
pub struct FanoutReport {
    pub connected: usize,
    pub connect_secs: f64,
    pub stream_errors: u64,
    pub published: u64,
    pub publish_errors: u64,
    pub publish_secs: f64,
    pub post_latency: Summary,
    /// Events each subscriber should have received, summed.
    pub expected: u64,
    pub delivered: u64,
    /// Events skipped because a resync snapshot covered them.
    pub covered_by_resync: u64,
    pub lost: u64,
    pub resyncs: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub heartbeats: u64,
    pub delivery_latency: Summary,
    pub rss: Option<RssReport>,
}

impl FanoutReport {
    pub fn frames_per_sec(&self) -> f64 {
        self.delivered as f64 / self.publish_secs.max(1e-9)
    }

    pub fn to_text(&self, args: &FanoutArgs) -> String {
        let mut s = format!(
            "fanout: {} subscribers over {} flows, {} events/s for {:.0}s\n  \
             connected {} in {:.2}s, stream errors {}\n  \
             published {} ({:.0}/s achieved; errors {}) POST latency {}\n  \
             delivered {} of {} expected, lost {}, covered by resync {}, resyncs {}, seq gaps {}, duplicates {}, heartbeats {}\n  \
             delivery latency {}\n  frames/s {:.0}",
            args.subscribers,
            args.flows,
            args.rate,
            args.duration.as_secs_f64(),
            self.connected,
            self.connect_secs,
            self.stream_errors,
            self.published,
            self.published as f64 / self.publish_secs.max(1e-9),
            self.publish_errors,
            self.post_latency.display_ms(),
            self.delivered,
            self.expected,
            self.lost,
            self.covered_by_resync,
            self.resyncs,
            self.gaps,
            self.duplicates,
            self.heartbeats,
            self.delivery_latency.display_ms(),
            self.frames_per_sec(),
        );
        if let Some(r) = self.rss {
            s.push_str(&format!(
                "\n  server RSS: before {} KiB, idle with subscribers {} KiB, end {} KiB → {:.2} KiB per idle subscriber",
                r.before_kib, r.idle_kib, r.end_kib, r.per_subscriber_kib
            ));
        }
        s
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "mode": "fanout",
            "connected": self.connected,
            "connectSecs": self.connect_secs,
            "streamErrors": self.stream_errors,
            "published": self.published,
            "publishErrors": self.publish_errors,
            "publishSecs": self.publish_secs,
            "publishedPerSec": self.published as f64 / self.publish_secs.max(1e-9),
            "postLatency": self.post_latency.to_json(),
            "expected": self.expected,
            "delivered": self.delivered,
            "coveredByResync": self.covered_by_resync,
            "lost": self.lost,
            "resyncs": self.resyncs,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "heartbeats": self.heartbeats,
            "deliveryLatency": self.delivery_latency.to_json(),
            "framesPerSec": self.frames_per_sec(),
            "rss": self.rss.map(|r| json!({
                "beforeKiB": r.before_kib,
                "idleKiB": r.idle_kib,
                "endKiB": r.end_kib,
                "perSubscriberKiB": r.per_subscriber_kib,
            })),
        })
    }
}

#[derive(Default)]
struct Totals {
    expected: AtomicU64,
    delivered: AtomicU64,
    covered: AtomicU64,
    resyncs: AtomicU64,
    gaps: AtomicU64,
    duplicates: AtomicU64,
    heartbeats: AtomicU64,
    stream_errors: AtomicU64,
}

/// Published once publishing ends: the last acknowledged seq per flow and
/// the time by which subscribers must have caught up.
#[derive(Debug, Clone)]
struct Stop {
    final_seq: Arc<Vec<u64>>,
    deadline: tokio::time::Instant,
}

fn flow_name(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i}")
}

/// Runs the fan-out load.
pub async fn run(target: &Target, args: &FanoutArgs) -> anyhow::Result<FanoutReport> {
    let publish_client = client(args.publishers.max(1))?;
    // 1. Create the flows (small state: one flow object).
    let last_seq: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.flows).map(|_| AtomicU64::new(0)).collect());
    for i in 0..args.flows {
        let flow = flow_name(&args.flow_prefix, i);
        let _ = target.delete(&publish_client, &flow).send().await;
        let body = format!(
            r#"{{"type":"upsert-flow","flow":{{"id":"{flow}","status":"running","startedAt":1}}}}"#
        );
        let resp = target.post(&publish_client, &flow, body).send().await?;
        anyhow::ensure!(
            resp.status() == 200,
            "creating flow {flow}: HTTP {}",
            resp.status()
        );
        let v: serde_json::Value = resp.json().await?;
        last_seq[i].store(v["seq"].as_u64().unwrap_or(0), Ordering::Relaxed);
    }
    let before_kib = args.server_pid.and_then(read_rss_kib);

    // 2. Open the streams.
    let totals = Arc::new(Totals::default());
    let latency = Arc::new(Histogram::new());
    let ready = Arc::new(AtomicUsize::new(0));
    let ready_notify = Arc::new(tokio::sync::Notify::new());
    let (stop_tx, stop_rx) = watch::channel::<Option<Stop>>(None);
    let stream_client = client(0)?;
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let connect_started = Instant::now();
    let mut subs = Vec::with_capacity(args.subscribers);
    for s in 0..args.subscribers {
        let flow_index = s % args.flows;
        let url = target.stream_url(&flow_name(&args.flow_prefix, flow_index));
        let mut req = stream_client.get(url);
        if let Some(t) = &target.read_token {
            req = req.bearer_auth(t);
        }
        let permit = Arc::clone(&gate).acquire_owned().await?;
        subs.push(tokio::spawn(subscriber(
            req,
            flow_index,
            permit,
            Arc::clone(&totals),
            Arc::clone(&latency),
            Arc::clone(&ready),
            Arc::clone(&ready_notify),
            stop_rx.clone(),
        )));
    }
    // Wait for every stream's first frame (or its failure).
    let connect_deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let notified = ready_notify.notified();
        let done =
            ready.load(Ordering::Acquire) + totals.stream_errors.load(Ordering::Acquire) as usize;
        if done >= args.subscribers {
            break;
        }
        if tokio::time::timeout_at(connect_deadline, notified)
            .await
            .is_err()
        {
            break;
        }
    }
    let connected = ready.load(Ordering::Acquire);
    let connect_secs = connect_started.elapsed().as_secs_f64();
    tokio::time::sleep(args.settle).await;
    let idle_kib = args.server_pid.and_then(read_rss_kib);

    // 3. Publish.
    let post_latency = Arc::new(Histogram::new());
    let published = Arc::new(AtomicU64::new(0));
    let publish_errors = Arc::new(AtomicU64::new(0));
    let publish_started = Instant::now();
    let deadline = tokio::time::Instant::now() + args.duration;
    let publishers = args.publishers.clamp(1, args.flows.max(1));
    let mut pubs = Vec::new();
    if args.rate > 0 {
        let every = Duration::from_secs_f64(publishers as f64 / args.rate as f64);
        for p in 0..publishers {
            let (target, http, args) = (target.clone(), publish_client.clone(), args.clone());
            let (last_seq, post_latency, published, publish_errors) = (
                Arc::clone(&last_seq),
                Arc::clone(&post_latency),
                Arc::clone(&published),
                Arc::clone(&publish_errors),
            );
            pubs.push(tokio::spawn(async move {
                let mine: Vec<usize> = (p..args.flows).step_by(publishers).collect();
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut k = 0usize;
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                    let fi = mine[k % mine.len()];
                    let flow = flow_name(&args.flow_prefix, fi);
                    let body = upsert_nodes_body(k % 16, 1, 16, now_ns());
                    k += 1;
                    let t0 = Instant::now();
                    match target.post(&http, &flow, body).send().await {
                        Ok(resp) if resp.status() == 200 => {
                            post_latency.record(t0.elapsed());
                            if let Ok(v) = resp.json::<serde_json::Value>().await {
                                last_seq[fi]
                                    .fetch_max(v["seq"].as_u64().unwrap_or(0), Ordering::Relaxed);
                            }
                            published.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            publish_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for p in pubs {
            p.await?;
        }
    } else {
        tokio::time::sleep_until(deadline).await;
    }
    let publish_secs = publish_started.elapsed().as_secs_f64();

    // 4. Let subscribers catch up to the last acknowledged seq, then stop.
    let final_seq: Vec<u64> = last_seq.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    let _ = stop_tx.send(Some(Stop {
        final_seq: Arc::new(final_seq),
        deadline: tokio::time::Instant::now() + args.drain,
    }));
    for s in subs {
        s.await?;
    }
    let end_kib = args.server_pid.and_then(read_rss_kib);
    let rss = match (before_kib, idle_kib, end_kib) {
        (Some(b), Some(i), Some(e)) => Some(RssReport {
            before_kib: b,
            idle_kib: i,
            end_kib: e,
            per_subscriber_kib: (i as f64 - b as f64) / connected.max(1) as f64,
        }),
        _ => None,
    };
    let expected = totals.expected.load(Ordering::Relaxed);
    let delivered = totals.delivered.load(Ordering::Relaxed);
    let covered = totals.covered.load(Ordering::Relaxed);
    Ok(FanoutReport {
        connected,
        connect_secs,
        stream_errors: totals.stream_errors.load(Ordering::Relaxed),
        published: published.load(Ordering::Relaxed),
        publish_errors: publish_errors.load(Ordering::Relaxed),
        publish_secs,
        post_latency: post_latency.summary(),
        expected,
        delivered,
        covered_by_resync: covered,
        lost: expected.saturating_sub(delivered + covered),
        resyncs: totals.resyncs.load(Ordering::Relaxed),
        gaps: totals.gaps.load(Ordering::Relaxed),
        duplicates: totals.duplicates.load(Ordering::Relaxed),
        heartbeats: totals.heartbeats.load(Ordering::Relaxed),
        delivery_latency: latency.summary(),
        rss,
    })
}

/// One subscriber: reads frames, checks seq continuity, records latency.
#[allow(clippy::too_many_arguments)]
async fn subscriber(
    req: reqwest::RequestBuilder,
    flow_index: usize,
    permit: tokio::sync::OwnedSemaphorePermit,
    totals: Arc<Totals>,
    latency: Arc<Histogram>,
    ready: Arc<AtomicUsize>,
    ready_notify: Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<Option<Stop>>,
) {
    let fail = |totals: &Totals| {
        totals.stream_errors.fetch_add(1, Ordering::AcqRel);
        ready_notify.notify_one();
    };
    let mut resp = match req.send().await {
        Ok(r) if r.status() == 200 => r,
        _ => {
            fail(&totals);
            return;
        }
    };
    let mut permit = Some(permit);
    let mut scanner = Scanner::new();
    let mut frames = Vec::new();
    let mut start_seq: Option<u64> = None;
    let mut next = 0u64;
    let mut delivered = 0u64;
    let mut covered = 0u64;
    let mut stop_at: Option<(u64, tokio::time::Instant)> = None;
    loop {
        if let Some((final_seq, _)) = stop_at
            && start_seq.is_some()
            && next > final_seq
        {
            break;
        }
        let drain_deadline = stop_at.map(|(_, d)| d);
        tokio::select! {
            chunk = resp.chunk() => match chunk {
                Ok(Some(bytes)) => {
                    let received = now_ns();
                    frames.clear();
                    scanner.push(&bytes, &mut frames);
                    for f in &frames {
                        match f.kind {
                            Kind::Heartbeat => {
                                totals.heartbeats.fetch_add(1, Ordering::Relaxed);
                            }
                            Kind::Snapshot => {
                                let seq = f.seq.unwrap_or(0);
                                if start_seq.is_none() {
                                    start_seq = Some(seq);
                                    permit.take();
                                    ready.fetch_add(1, Ordering::AcqRel);
                                    ready_notify.notify_one();
                                } else {
                                    totals.resyncs.fetch_add(1, Ordering::Relaxed);
                                    covered += seq.saturating_sub(next.saturating_sub(1));
                                }
                                next = seq + 1;
                            }
                            Kind::Event => {
                                let seq = f.seq.unwrap_or(0);
                                if seq < next {
                                    totals.duplicates.fetch_add(1, Ordering::Relaxed);
                                    continue;
                                }
                                if seq > next {
                                    totals.gaps.fetch_add(seq - next, Ordering::Relaxed);
                                }
                                next = seq + 1;
                                delivered += 1;
                                if let Some(sent) = f.sent_at_ns {
                                    latency.record(Duration::from_nanos(received.saturating_sub(sent)));
                                }
                            }
                        }
                    }
                }
                _ => {
                    if start_seq.is_none() {
                        fail(&totals);
                        return;
                    }
                    totals.stream_errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            },
            changed = stop.changed(), if stop_at.is_none() => {
                if changed.is_err() {
                    break;
                }
                if let Some(s) = stop.borrow().clone() {
                    stop_at = Some((s.final_seq[flow_index], s.deadline));
                }
            },
            () = async {
                match drain_deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => break,
        }
    }
    if let (Some(start), Some((final_seq, _))) = (start_seq, stop_at) {
        totals
            .expected
            .fetch_add(final_seq.saturating_sub(start), Ordering::Relaxed);
        // Only events inside the window count as delivered.
        let beyond = next.saturating_sub(final_seq + 1);
        totals
            .delivered
            .fetch_add(delivered.saturating_sub(beyond), Ordering::Relaxed);
        totals.covered.fetch_add(covered, Ordering::Relaxed);
    }
}

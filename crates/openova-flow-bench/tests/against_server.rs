//! The load tool against a real in-process server, with tiny counts: the
//! measurements must be consistent (everything delivered, no gaps). Nothing
//! here asserts speed.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use openova_flow_bench::fanout::{self, FanoutArgs};
use openova_flow_bench::ingest::{self, IngestArgs};
use openova_flow_bench::target::Target;

fn target(url: &str, ingest: Option<&str>, read: Option<&str>) -> Target {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Target::new(url, false, ingest.map(Into::into), read.map(Into::into)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_counts_accepted_requests_and_errors() {
    let srv = openova_flow_server::testing::start(&["--ingest-token", "t"])
        .await
        .unwrap();
    let args = IngestArgs {
        connections: 3,
        flows: 2,
        rate: 0,
        duration: Duration::from_secs(60),
        requests: Some(30),
        nodes_per_event: 2,
        distinct_nodes: 5,
        flow_prefix: "it".into(),
    };
    let ok = ingest::run(&target(&srv.url(), Some("t"), None), &args)
        .await
        .unwrap();
    assert_eq!((ok.sent, ok.accepted), (30, 30));
    assert!(ok.errors.is_empty(), "{:?}", ok.errors);
    assert_eq!(ok.latency.count, 30);
    let denied = ingest::run(&target(&srv.url(), None, None), &args)
        .await
        .unwrap();
    assert_eq!(denied.accepted, 0);
    assert_eq!(denied.errors.get("401"), Some(&30));
    let snap: serde_json::Value = reqwest::get(format!("{}/v1/flows/it-0/snapshot", srv.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        snap["nodes"].as_array().unwrap().len(),
        5,
        "ids cycle over 5"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_everything_without_gaps() {
    let srv = openova_flow_server::testing::start(&["--read-token", "r"])
        .await
        .unwrap();
    let args = FanoutArgs {
        subscribers: 6,
        flows: 2,
        rate: 200,
        duration: Duration::from_millis(500),
        publishers: 2,
        connect_concurrency: 4,
        settle: Duration::ZERO,
        drain: Duration::from_secs(10),
        server_pid: Some(std::process::id()),
        flow_prefix: "fan".into(),
    };
    let r = fanout::run(&target(&srv.url(), None, Some("r")), &args)
        .await
        .unwrap();
    assert_eq!(r.connected, 6);
    assert_eq!(r.stream_errors, 0);
    assert_eq!(r.publish_errors, 0);
    assert!(r.published > 0);
    // Each event reaches the 3 subscribers of its flow.
    assert_eq!(r.expected, r.published * 3);
    assert_eq!(
        (r.delivered, r.lost, r.gaps, r.duplicates),
        (r.expected, 0, 0, 0)
    );
    assert_eq!(r.delivery_latency.count, r.delivered);
    assert!(r.rss.is_some());
    let text = r.to_text(&args);
    assert!(text.contains("lost 0"), "{text}");
    assert_eq!(r.to_json()["gaps"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_resyncs_of_slow_subscribers_as_covered_not_lost() {
    let srv = openova_flow_server::testing::start(&["--subscriber-queue", "1"])
        .await
        .unwrap();
    let args = FanoutArgs {
        subscribers: 20,
        flows: 1,
        rate: 2000,
        duration: Duration::from_millis(500),
        publishers: 8,
        connect_concurrency: 20,
        settle: Duration::ZERO,
        drain: Duration::from_secs(10),
        server_pid: None,
        flow_prefix: "slow".into(),
    };
    let r = fanout::run(&target(&srv.url(), None, None), &args)
        .await
        .unwrap();
    assert_eq!(r.gaps, 0, "a gap is always preceded by a resync snapshot");
    assert_eq!(r.lost, 0);
    assert_eq!(r.delivered + r.covered_by_resync, r.expected);
}

//! The database stops for a few seconds mid-run (server.md §3.2, §10.2,
//! D17): no acknowledged event is lost, `/readyz` flips to 503 and back to
//! 200 without a restart, POSTs answer 503 meanwhile, and a stream opened
//! before the outage receives every acknowledged event in order afterwards.
//! Uses its own cluster (it is stopped and started again).

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openova_flow_pg_testkit::PgCluster;
use pg::start_pg;
use suite::support::{Client, seq_of, upsert_node};
use tokio::sync::Mutex;

const RECOVERY: Duration = Duration::from_secs(45);

async fn wait_for_readyz(c: &Client, status: u16) -> String {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let r = c.get("/readyz").await;
        if r.status == status {
            return r.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {} {:?}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_loses_no_acknowledged_event() {
    let Some(pg) = PgCluster::start_or_skip("database_outage_loses_no_acknowledged_event") else {
        return;
    };
    let dsn = pg.dsn();
    let srv = start_pg(&dsn, &["--subscriber-queue", "4096"]).await;
    let c = Client::new(&srv);
    assert_eq!(wait_for_readyz(&c, 200).await, "ok\n");
    let mut sse = c.stream("f").await;
    assert_eq!(sse.next_event().await.event, "snapshot");

    // A writer that keeps posting and records what was acknowledged.
    let acked: Arc<Mutex<Vec<(u64, String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let statuses: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
    let writer = {
        let (c, acked, stop, statuses) = (c.clone(), acked.clone(), stop.clone(), statuses.clone());
        tokio::spawn(async move {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let node = format!("n{i}");
                let r = c.post("f", &upsert_node(&node)).await;
                if r.status == 200 {
                    let (seq, epoch) = r.seq_epoch();
                    acked.lock().await.push((seq, epoch, node));
                } else {
                    statuses.lock().await.push((r.status, r.body.clone()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    };
    let acked_len = || async { acked.lock().await.len() };
    while acked_len().await < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    pg.stop().unwrap();
    let reason = wait_for_readyz(&c, 503).await;
    assert!(
        reason == "not ready: postgres unreachable\n" || reason == "not ready: listener down\n",
        "{reason:?}"
    );
    let during = acked_len().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.start_again().unwrap();
    assert_eq!(wait_for_readyz(&c, 200).await, "ok\n");
    let after = acked_len().await;
    while acked_len().await < after + 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();

    let acked = acked.lock().await.clone();
    let statuses = statuses.lock().await.clone();
    assert!(
        statuses
            .iter()
            .any(|(s, b)| *s == 503 && b == "backend unavailable\n"),
        "POSTs during the outage answer 503 backend unavailable: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|(s, b)| *s == 503 && b == "backend unavailable\n"),
        "{statuses:?}"
    );
    println!(
        "acknowledged {} events ({} before the outage), {} refused during it",
        acked.len(),
        during,
        statuses.len()
    );
    // Seqs increase within one epoch.
    let epoch = &acked[0].1;
    assert!(
        acked.iter().all(|(_, e, _)| e == epoch),
        "epoch survives the outage"
    );
    assert!(acked.windows(2).all(|w| w[0].0 < w[1].0));

    // Every acknowledged event is in the state...
    let snap = c.snapshot("f").await.json();
    let ids: Vec<&str> = snap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for (_, _, node) in &acked {
        assert!(ids.contains(&node.as_str()), "{node} lost");
    }
    // ...and reached the stream opened before the outage, in order.
    let last = acked.last().unwrap().0;
    let mut seen = Vec::new();
    let mut expected = 1;
    while expected <= last {
        let f = tokio::time::timeout(RECOVERY, sse.next_event())
            .await
            .unwrap();
        assert_ne!(f.event, "snapshot", "queue 4096 never lags");
        assert_eq!(seq_of(&f), expected, "in order, no gap");
        seen.push(f.data);
        expected += 1;
    }
    for (_, _, node) in &acked {
        assert!(
            seen.iter()
                .any(|d| d.contains(&format!(r#""id":"{node}""#))),
            "{node} not streamed"
        );
    }
}

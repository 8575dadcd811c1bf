//! server.md §10.2 / D22: several replicas on one database, restarts,
//! retention, migrations, listener loss — against a throwaway PostgreSQL.
//! Without PostgreSQL (and without `OPENOVA_FLOW_REQUIRE_PG=1`) each test
//! prints a SKIP line and passes.

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

use std::time::Duration;

use openova_flow_contract::sse::Frame;
use openova_flow_server::config::Config;
use openova_flow_server::metrics::Metrics;
use openova_flow_server::postgres::PgBackend;
use pg::{listener_pids, shared, sql, start_pg};
use suite::support::{Client, Sse, eventually, seq_of, upsert_node};

/// Bound for recoveries that involve reconnect backoff.
const RECOVERY: Duration = Duration::from_secs(30);

/// Reads a stream and checks the contract on the way: ids of one epoch
/// increase by exactly one, except right after a `snapshot` frame.
struct Watch {
    sse: Sse,
    /// The position after the last frame: `(epoch, seq)`; `None` = id `0`.
    at: Option<(String, u64)>,
    snapshots: usize,
}

impl Watch {
    /// Opens a stream and consumes its first (snapshot) frame.
    async fn open(c: &Client, flow: &str) -> Watch {
        let mut w = Watch {
            sse: c.stream(flow).await,
            at: None,
            snapshots: 0,
        };
        let first = w.next().await;
        assert_eq!(first.event, "snapshot");
        w
    }

    /// The next non-heartbeat frame, after checking it against the position.
    async fn next(&mut self) -> Frame {
        let f = self.sse.next_event().await;
        let id = f.id.clone().expect("every non-heartbeat frame has an id");
        if f.event == "snapshot" {
            self.snapshots += 1;
            self.at = id
                .rsplit_once('-')
                .map(|(e, s)| (e.to_owned(), s.parse().unwrap()));
            return f;
        }
        let (epoch, seq) = id.rsplit_once('-').unwrap();
        let seq: u64 = seq.parse().unwrap();
        match &self.at {
            Some((e, last)) => {
                assert_eq!(e, epoch, "epoch changed without a snapshot frame");
                assert_eq!(seq, last + 1, "seq gap without a snapshot frame");
            }
            None => assert_eq!(seq, 1, "first event of a new incarnation"),
        }
        self.at = Some((epoch.to_owned(), seq));
        f
    }

    /// Reads until the position reaches `seq`; returns the event frames read.
    async fn until(&mut self, seq: u64) -> Vec<Frame> {
        let mut frames = Vec::new();
        while self.at.as_ref().is_none_or(|(_, s)| *s < seq) {
            let f = self.next().await;
            if f.event != "snapshot" {
                frames.push(f);
            }
        }
        frames
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_b_streams_events_posted_to_a_and_b_in_order() {
    let Some(pg) = shared("replica_b_streams_events_posted_to_a_and_b_in_order") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let a = start_pg(&dsn, &[]).await;
    let b = start_pg(&dsn, &[]).await;
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    // The flow does not exist yet when both streams connect.
    let mut on_b = Watch::open(&cb, "late").await;
    let mut on_a = Watch::open(&ca, "late").await;
    for i in 0..20 {
        let c = if i % 2 == 0 { &ca } else { &cb };
        let (seq, _) = c.post_ok("late", &upsert_node(&format!("n{i}"))).await;
        assert_eq!(seq, i + 1);
    }
    for w in [&mut on_a, &mut on_b] {
        let frames = w.until(20).await;
        assert_eq!(frames.len(), 20, "every event, no snapshot in between");
        assert_eq!(seq_of(&frames[0]), 1);
        assert_eq!(w.snapshots, 1);
    }
    // Read-your-writes across replicas: B's snapshot reflects A's POST.
    let (seq, epoch) = ca.post_ok("late", &upsert_node("last")).await;
    let snap = cb.snapshot("late").await;
    assert_eq!(
        snap.header("flow-event-id"),
        Some(format!("{epoch}-{seq}").as_str())
    );
    assert!(snap.body.contains(r#""id":"last""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posts_on_two_replicas_one_order_everywhere() {
    let Some(pg) = shared("concurrent_posts_on_two_replicas_one_order_everywhere") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let a = start_pg(&dsn, &["--subscriber-queue", "1024"]).await;
    let b = start_pg(&dsn, &["--subscriber-queue", "1024"]).await;
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    let mut watchers = vec![
        Watch::open(&ca, "f").await,
        Watch::open(&ca, "f").await,
        Watch::open(&cb, "f").await,
        Watch::open(&cb, "f").await,
    ];
    let mut tasks = Vec::new();
    for t in 0..6 {
        let c = if t % 2 == 0 { ca.clone() } else { cb.clone() };
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                seqs.push(c.post_ok("f", &upsert_node(&format!("t{t}-{i}"))).await.0);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one client's seqs increase"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=150).collect::<Vec<u64>>());
    let mut orders = Vec::new();
    for w in &mut watchers {
        let frames = w.until(150).await;
        assert_eq!(w.snapshots, 1, "no resync needed with a large queue");
        orders.push(frames.into_iter().map(|f| f.data).collect::<Vec<_>>());
    }
    assert!(
        orders.iter().all(|o| *o == orders[0]),
        "identical order everywhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_on_a_ends_streams_on_b() {
    let Some(pg) = shared("delete_on_a_ends_streams_on_b") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let a = start_pg(&dsn, &[]).await;
    let b = start_pg(&dsn, &[]).await;
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    ca.post_ok("f", &upsert_node("x")).await;
    let mut on_b = Watch::open(&cb, "f").await;
    let mut other = Watch::open(&cb, "g").await;
    assert_eq!(ca.delete("f").await.status, 204);
    on_b.sse.expect_end().await;
    assert_eq!(cb.snapshot("f").await.status, 404);
    // Streams of other flows stay open.
    ca.post_ok("g", &upsert_node("y")).await;
    assert_eq!(seq_of(&other.next().await), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_loss_is_caught_up_from_the_events_table() {
    let Some(pg) = shared("listener_loss_is_caught_up_from_the_events_table") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let db = sql(&dsn).await;
    let a = start_pg(&dsn, &[]).await;
    let before = listener_pids(&db).await;
    let b = start_pg(&dsn, &[]).await;
    let b_listener: Vec<i32> = listener_pids(&db)
        .await
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(b_listener.len(), 1, "one LISTEN connection per replica");
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    ca.post_ok("f", &upsert_node("first")).await;
    let mut on_b = Watch::open(&cb, "f").await;

    db.execute("SELECT pg_terminate_backend($1)", &[&b_listener[0]])
        .await
        .unwrap();
    for i in 0..10 {
        ca.post_ok("f", &upsert_node(&format!("meanwhile{i}")))
            .await;
    }
    let frames = tokio::time::timeout(RECOVERY, on_b.until(11))
        .await
        .unwrap();
    assert_eq!(frames.len(), 10);
    let metrics = Client::new(&b).get("/metrics").await.body;
    assert!(
        metrics.contains("flow_server_pg_listener_reconnects_total 1"),
        "{metrics}"
    );
    eventually("replica B ready again", || async {
        cb.get("/readyz").await.status == 200
    })
    .await;
    // And live notifications work again.
    ca.post_ok("f", &upsert_node("after")).await;
    assert_eq!(seq_of(&on_b.next().await), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimmed_gap_after_listener_loss_resyncs_with_a_snapshot() {
    let Some(pg) = shared("trimmed_gap_after_listener_loss_resyncs_with_a_snapshot") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let db = sql(&dsn).await;
    let a = start_pg(&dsn, &["--ring-capacity", "3"]).await;
    let before = listener_pids(&db).await;
    let b = start_pg(&dsn, &["--ring-capacity", "3"]).await;
    let b_listener = *listener_pids(&db)
        .await
        .iter()
        .find(|p| !before.contains(p))
        .unwrap();
    let (ca, cb) = (Client::new(&a), Client::new(&b));
    ca.post_ok("f", &upsert_node("n0")).await;
    let mut on_b = Watch::open(&cb, "f").await;
    db.execute("SELECT pg_terminate_backend($1)", &[&b_listener])
        .await
        .unwrap();
    for i in 1..=12 {
        ca.post_ok("f", &upsert_node(&format!("n{i}"))).await;
    }
    // Whatever B saw (events or a resync snapshot), it never saw a gap
    // without a snapshot, and it ends at seq 13 with A's state.
    tokio::time::timeout(RECOVERY, on_b.until(13))
        .await
        .unwrap();
    println!("resync snapshots seen on B: {}", on_b.snapshots - 1);
    // B's in-memory state (which serves new streams and resyncs) equals the
    // stored one.
    let mut again = cb.stream("f").await;
    let first = again.next_event().await;
    assert_eq!(first.id, Some(format!("{}-13", on_b.at.clone().unwrap().0)));
    assert_eq!(format!("{}\n", first.data), ca.snapshot("f").await.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_epoch_state_and_byte_identical_replay() {
    let Some(pg) = shared("restart_keeps_epoch_state_and_byte_identical_replay") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let first = start_pg(&dsn, &[]).await;
    let c = Client::new(&first);
    let mut w = Watch::open(&c, "f").await;
    let mut epoch = String::new();
    for i in 1..=5 {
        epoch = c.post_ok("f", &upsert_node(&format!("n{i}"))).await.1;
    }
    w.until(5).await;
    let original = w.sse.raw.clone();
    let snap = c.snapshot("f").await;
    drop(w);
    first.stop().await;

    let again = start_pg(&dsn, &[]).await;
    let c = Client::new(&again);
    let snap2 = c.snapshot("f").await;
    assert_eq!(snap2.body, snap.body);
    assert_eq!(
        snap2.header("flow-event-id"),
        Some(format!("{epoch}-5").as_str())
    );
    // Resume after the restart: 3..5 replayed, no snapshot frame.
    let mut sse = c.stream_with("f", Some(&format!("{epoch}-2")), "").await;
    let mut replayed = Vec::new();
    for expected in 3..=5 {
        let f = sse.next_event().await;
        assert_eq!(f.event, "upsert-nodes");
        assert_eq!(seq_of(&f), expected);
        replayed.push(f);
    }
    let raw = String::from_utf8(sse.raw.clone()).unwrap();
    let body = raw.strip_prefix("retry: 2000\n").unwrap();
    let original = String::from_utf8(original).unwrap();
    assert!(
        original.ends_with(body),
        "replayed frames are byte-identical to the originals:\n{body}\n---\n{original}"
    );
    let (seq, e) = c.post_ok("f", &upsert_node("n6")).await;
    assert_eq!((seq, e.as_str()), (6, epoch.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_exactly_ring_capacity_events() {
    let Some(pg) = shared("retention_keeps_exactly_ring_capacity_events") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let srv = start_pg(&dsn, &["--ring-capacity", "8"]).await;
    let c = Client::new(&srv);
    for i in 0..13 {
        c.post_ok("f", &upsert_node(&format!("n{i}"))).await;
    }
    let db = sql(&dsn).await;
    let row = db
        .query_one(
            "SELECT count(*), min(seq), max(seq) FROM flow_server.events WHERE flow_id = 'f'",
            &[],
        )
        .await
        .unwrap();
    let (n, lo, hi): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((n, lo, hi), (8, 6, 13));
    // The snapshot still holds every node (state, not a replay).
    assert_eq!(
        c.snapshot("f").await.json()["nodes"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let Some(pg) = shared("replicas_starting_together_migrate_once") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    let (a, b, c) = tokio::join!(
        start_pg(&dsn, &[]),
        start_pg(&dsn, &[]),
        start_pg(&dsn, &[])
    );
    for s in [&a, &b, &c] {
        assert_eq!(Client::new(s).get("/readyz").await.status, 200);
    }
    let db = sql(&dsn).await;
    let rows = db
        .query(
            "SELECT version, name FROM flow_server.schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want: Vec<(i32, String)> = openova_flow_server::postgres::migrations::MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect();
    assert_eq!(got, want);
    // Nothing outside the flow_server schema.
    let public: i64 = db
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(public, 0);
}

fn pg_config(dsn: &str) -> Config {
    Config::from_args(
        ["openova-flow-server", "--backend", "pg", "--pg-dsn", dsn],
        false,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let Some(pg) = shared("a_newer_schema_is_refused") else {
        return;
    };
    let dsn = pg.fresh_dsn();
    start_pg(&dsn, &[]).await.stop().await;
    sql(&dsn)
        .await
        .execute(
            "INSERT INTO flow_server.schema_migrations (version, name) VALUES (999, 'future')",
            &[],
        )
        .await
        .unwrap();
    let metrics = std::sync::Arc::new(Metrics::new("postgres"));
    let e = PgBackend::start(&pg_config(&dsn), metrics)
        .await
        .unwrap_err();
    let latest = openova_flow_server::postgres::migrations::latest();
    assert!(
        e.to_string().ends_with(&format!(
            "database schema version 999 is newer than this binary ({latest})"
        )),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_boot_with_the_masked_dsn() {
    // No PostgreSQL needed: nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dsn = format!("postgres://flow:s3cret@127.0.0.1:{port}/flow?sslmode=disable");
    let metrics = std::sync::Arc::new(Metrics::new("postgres"));
    let e = PgBackend::start_within(&pg_config(&dsn), metrics, Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "postgres at postgres://flow:***@127.0.0.1:{port}/flow?sslmode=disable not usable within 1s: "
        )),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
}

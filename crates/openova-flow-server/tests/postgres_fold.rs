//! contract.md §6–§7 on both backends: the same pseudo-random message
//! sequences (seeded, so failures reproduce) posted to a memory server and a
//! Postgres server give identical answers, identical snapshot bytes after
//! every step, identical live frames and, on Postgres, replayed frames equal
//! to the live ones. Caps (`flow too large`) included.

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use suite::support::{Client, Sse};

const IDS: [&str; 5] = ["a", "b", "c", "x<&>", "é"];
const FLOWS: [Option<&str>; 3] = [None, Some("f"), Some("other")];
const TYPES: [&str; 6] = [
    "contains",
    "finish-to-start",
    "start-to-start",
    "finish-to-finish",
    "start-to-finish",
    "triggers",
];

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

fn meta(rng: &mut StdRng) -> Value {
    match rng.random_range(0..4) {
        0 => json!({}),
        1 => {
            json!({"z": 1, "a": {"y": [1, 2.5, "\u{2028}"], "b": null}, "big": 9007199254740993u64})
        }
        2 => json!({"k": "line\nbreak\u{0}", "n": -0.125}),
        _ => json!({"ms": rng.random_range(0..1_000_000)}),
    }
}

fn node(rng: &mut StdRng) -> Value {
    let mut n = json!({
        "id": pick(rng, &IDS),
        "label": format!("L{}", rng.random_range(0..3)),
        "status": pick(rng, &["running", "succeeded", "weird"]),
        "meta": meta(rng),
    });
    if let Some(f) = pick(rng, &FLOWS) {
        n["flowId"] = json!(f);
    }
    if rng.random_bool(0.3) {
        n["startedAt"] = json!(rng.random_range(0..5));
    }
    n
}

fn rel(rng: &mut StdRng) -> Value {
    let mut r = json!({
        "fromId": pick(rng, &IDS),
        "toId": pick(rng, &IDS),
        "type": pick(rng, &TYPES),
    });
    if rng.random_bool(0.3) {
        r["toFlowId"] = json!("sister");
        r["condition"] = json!(pick(rng, &["on-success", "on-failure", "always"]));
        r["lag"] = json!(rng.random_range(0..40));
    }
    r
}

fn many(rng: &mut StdRng, f: fn(&mut StdRng) -> Value) -> Vec<Value> {
    let n = rng.random_range(1..5);
    (0..n).map(|_| f(rng)).collect()
}

fn message(rng: &mut StdRng) -> Value {
    match rng.random_range(0..10) {
        0 => json!({"type": "snapshot",
            "flow": {"id": "f", "status": "running", "startedAt": 1},
            "nodes": many(rng, node), "relationships": many(rng, rel)}),
        1 => json!({"type": "upsert-flow", "flow": {
            "id": "f", "status": "done", "startedAt": 2, "endedAt": 3,
            "triggeredBy": [{"flowId": "p", "when": "success"}], "meta": meta(rng)}}),
        2..=4 => json!({"type": "upsert-nodes", "nodes": many(rng, node)}),
        5..=6 => json!({"type": "upsert-rels", "relationships": many(rng, rel)}),
        7 => json!({"type": "delete-nodes",
            "ids": (0..rng.random_range(1..3)).map(|_| *pick(rng, &IDS)).collect::<Vec<_>>()}),
        _ => json!({"type": "delete-rels", "pairs": (0..rng.random_range(1..3)).map(|_| json!({
            "fromId": pick(rng, &IDS), "toId": pick(rng, &IDS), "type": pick(rng, &TYPES)})).collect::<Vec<_>>()}),
    }
}

/// Frames `(event, id-seq, data)` until `seq` is reached (posted
/// `snapshot` messages are events too).
async fn read_until(sse: &mut Sse, seq: u64) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    loop {
        let f = sse.next_event().await;
        let s = suite::support::seq_of(&f);
        out.push((f.event, s, f.data));
        if s >= seq {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sequences_fold_identically_on_both_backends() {
    let Some(pg) = pg::shared("random_sequences_fold_identically_on_both_backends") else {
        return;
    };
    let args = ["--max-nodes-per-flow", "6", "--subscriber-queue", "4096"];
    let dsn = pg.fresh_dsn();
    let mem = openova_flow_server::testing::start(&args).await.unwrap();
    let pgs = pg::start_pg(&dsn, &args).await;
    let (cm, cp) = (Client::new(&mem), Client::new(&pgs));
    let mut rng = StdRng::seed_from_u64(0x0f10_da7a);
    let mut too_large = 0;
    for round in 0..12 {
        let flow = format!("f{round}");
        let (mut sm, mut sp) = (cm.stream(&flow).await, cp.stream(&flow).await);
        for sse in [&mut sm, &mut sp] {
            assert_eq!(sse.next_event().await.id.as_deref(), Some("0"));
        }
        let mut accepted = 0;
        let mut epoch = String::new();
        for step in 0..30 {
            let body = message(&mut rng).to_string();
            let (rm, rp) = (cm.post(&flow, &body).await, cp.post(&flow, &body).await);
            assert_eq!(
                rm.status, rp.status,
                "round {round} step {step}: {body}\n{}",
                rp.body
            );
            if rm.status == 200 {
                accepted += 1;
                assert_eq!(rm.seq_epoch().0, accepted);
                let (seq, e) = rp.seq_epoch();
                assert_eq!(seq, accepted);
                epoch = e;
            } else {
                assert_eq!(rm.body, rp.body);
                too_large += usize::from(rp.body == "flow too large\n");
            }
            if accepted > 0 {
                let (snm, snp) = (cm.snapshot(&flow).await, cp.snapshot(&flow).await);
                assert_eq!(snm.body, snp.body, "round {round} step {step} after {body}");
            }
        }
        if accepted == 0 {
            continue;
        }
        let live_m = read_until(&mut sm, accepted).await;
        let live_p = read_until(&mut sp, accepted).await;
        assert_eq!(live_m, live_p, "round {round}: live frames");
        // Replay of everything from the events table equals the live frames.
        let mut replay = cp.stream_with(&flow, Some(&format!("{epoch}-0")), "").await;
        assert_eq!(
            read_until(&mut replay, accepted).await,
            live_p,
            "round {round}: replay"
        );
    }
    assert!(too_large > 0, "the sequences exercise the node cap");
}

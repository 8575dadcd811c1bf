//! One async fn per clause; see `mod.rs`.

use std::time::Duration;

use openova_flow_contract::decode_message;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

const ROUND_TRIP: [&str; 6] = [
    r#"{"type":"snapshot","flow":{"id":"f1","status":"running","startedAt":1234567890123},"nodes":[{"id":"n1","flowId":"f1","label":"hello","status":"succeeded"}],"relationships":[{"fromId":"n1","toId":"n2","type":"finish-to-start","condition":"on-success"}]}"#,
    r#"{"type":"upsert-flow","flow":{"id":"f1","status":"running","startedAt":1}}"#,
    r#"{"type":"upsert-nodes","nodes":[{"id":"n1","flowId":"f1","label":"x","status":"running"}]}"#,
    r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"}]}"#,
    r#"{"type":"delete-nodes","ids":["n1","n2"]}"#,
    r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","type":"finish-to-start"}]}"#,
];

const REL_TYPES: &str =
    "contains, finish-to-start, start-to-start, finish-to-finish, start-to-finish, triggers";

// ---- §12 compatibility checklist -------------------------------------------

pub async fn c01_round_trip_bodies_reframe_with_same_type(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    assert_eq!(sse.next_event().await.event, "snapshot");
    for body in ROUND_TRIP {
        let sent = decode_message(body.as_bytes()).unwrap();
        c.post_ok("f1", body).await;
        let f = sse.next_event().await;
        assert_eq!(f.event, sent.message_type().as_str());
        let back = decode_message(f.data.as_bytes()).unwrap();
        assert_eq!(back.message_type(), sent.message_type(), "{}", f.data);
    }
}

pub async fn c02_reference_rejections(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    for (body, text) in [
        (r#"{"type":"banana"}"#, r#"unknown message type "banana""#),
        (r#"{"type":"snapshot"}"#, "snapshot: flow is required"),
        (
            r#"{"type":"upsert-nodes"}"#,
            "upsert-nodes: nodes must be non-empty",
        ),
        (
            r#"{"type":"delete-nodes"}"#,
            "delete-nodes: ids must be non-empty",
        ),
        (
            r#"{"type":"delete-rels"}"#,
            "delete-rels: pairs must be non-empty",
        ),
    ] {
        let r = c.post("f1", body).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (400, format!("{text}\n").as_str())
        );
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
}

pub async fn c03_cross_flow_relationship_keeps_fields(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    sse.next_event().await;
    c.post_ok(
        "f1",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","toFlowId":"sister","type":"triggers","condition":"on-success","lag":30}]}"#,
    )
    .await;
    let frame = data(&sse.next_event().await);
    let snap = c.snapshot("f1").await.json();
    for rel in [&frame["relationships"][0], &snap["relationships"][0]] {
        assert_eq!(rel["toFlowId"], "sister");
        assert_eq!(rel["type"], "triggers");
        assert_eq!(rel["condition"], "on-success");
        assert_eq!(rel["lag"], 30);
    }
}

pub async fn c04_triggered_by_two_entries(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    c.post_ok(
        "child",
        r#"{"type":"upsert-flow","flow":{"id":"child","definitionId":"def-1","parentFlowId":"parentA","triggeredBy":[{"flowId":"parentA","when":"success"},{"flowId":"parentB","when":"failure"}],"status":"running","startedAt":1}}"#,
    )
    .await;
    let snap = c.snapshot("child").await.json();
    assert_eq!(snap["flow"]["triggeredBy"].as_array().unwrap().len(), 2);
    assert_eq!(snap["flow"]["definitionId"], "def-1");
    assert_eq!(snap["flow"]["parentFlowId"], "parentA");
}

pub async fn c05_healthz_and_readyz(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    for p in ["/healthz", "/readyz"] {
        let r = c.get(p).await;
        assert_eq!((r.status, r.body.as_str()), (200, "ok\n"), "{p}");
    }
}

pub async fn c06_flow_node_relationship_snapshot(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_flow("f1")).await;
    c.post_ok("f1", &upsert_node("n1")).await;
    c.post_ok(
        "f1",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"n1","toId":"n2","type":"finish-to-start"}]}"#,
    )
    .await;
    let r = c.snapshot("f1").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "snapshot");
    assert_eq!(v["flow"]["id"], "f1");
    assert_eq!(v["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(v["nodes"][0]["id"], "n1");
    assert_eq!(v["relationships"].as_array().unwrap().len(), 1);
    assert_eq!(v["relationships"][0]["type"], "finish-to-start");
}

pub async fn c07_unknown_flow_snapshot_404(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let r = Client::new(&srv).snapshot("nope").await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
}

pub async fn c08_bad_json_and_unknown_type_400(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let r = c.post("f1", "{not json}").await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("decode FlowMessage: "), "{}", r.body);
    let r = c.post("f1", r#"{"type":"unknown-thing"}"#).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "unknown message type \"unknown-thing\"\n")
    );
}

pub async fn c09_delete_then_snapshot_404(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_flow("f1")).await;
    let r = c.delete("f1").await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(c.snapshot("f1").await.status, 404);
}

pub async fn c10_stream_snapshot_then_live_frame(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    c.post_ok("f2", &upsert_flow("f2")).await;
    let mut sse = c.stream("f2").await;
    let first = sse.next_event().await;
    assert_eq!(first.event, "snapshot");
    assert!(first.data.contains("\"f2\""));
    let c2 = c.clone();
    let poster = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        c2.post_ok("f2", &upsert_node("n5")).await;
    });
    let next = tokio::time::timeout(Duration::from_secs(2), sse.next_event())
        .await
        .expect("live frame within 2 s");
    assert_eq!(next.event, "upsert-nodes");
    assert!(next.data.contains("\"n5\""));
    poster.await.unwrap();
}

pub async fn c11_seq_only_clients_and_proxy_headers(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let r = c.post("f1", &upsert_flow("f1")).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.body.ends_with("}\n"));
    assert_eq!(r.json()["seq"], 1, "clients reading only seq keep working");
    let sse = c.stream("f1").await;
    assert_eq!(
        sse.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(
        sse.header("cache-control").as_deref(),
        Some("no-cache, no-transform")
    );
    assert_eq!(sse.header("x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(sse.header("connection").as_deref(), Some("keep-alive"));
    assert_eq!(sse.header("content-encoding"), None, "never compressed");
}

// ---- §13 acceptance behaviours ---------------------------------------------

pub async fn d1_validation_texts(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let rows = [
        (
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"depends-on"}]}"#,
            format!(r#"upsert-rels: relationships[0].type must be one of {REL_TYPES}; got "depends-on""#),
        ),
        (
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","condition":"sometimes"}]}"#,
            r#"upsert-rels: relationships[0].condition must be one of on-success, on-failure, always; got "sometimes""#.to_owned(),
        ),
        (
            r#"{"type":"upsert-flow","flow":{"id":"f","triggeredBy":[{"flowId":"p","when":"maybe"}]}}"#,
            r#"upsert-flow: flow.triggeredBy[0].when must be one of success, failure, always; got "maybe""#.to_owned(),
        ),
        (
            r#"{"type":"upsert-nodes","nodes":[{"id":""}]}"#,
            "upsert-nodes: nodes[0].id must be non-empty".to_owned(),
        ),
        (
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","lag":-1}]}"#,
            "upsert-rels: relationships[0].lag must be >= 0".to_owned(),
        ),
        (
            r#"{"type":"delete-nodes","ids":[""]}"#,
            "delete-nodes: ids[0] must be non-empty".to_owned(),
        ),
        (
            r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","type":"x"}]}"#,
            format!(r#"delete-rels: pairs[0].type must be one of {REL_TYPES}; got "x""#),
        ),
        (
            r#"{"type":"upsert-nodes","nodes":[{"id":"a\u0000"}]}"#,
            "upsert-nodes: nodes[0].id must not contain U+0000".to_owned(),
        ),
    ];
    for (body, text) in rows {
        let r = c.post("f1", body).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body, format!("{text}\n"), "{body}");
    }
    assert_eq!(c.snapshot("f1").await.status, 404, "nothing was applied");
}

pub async fn d1_decode_error_and_accepted_oddities(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let r = c
        .post(
            "f1",
            r#"{"type":"upsert-flow","flow":{"id":"f","status":"running","startedAt":1.5}}"#,
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("decode FlowMessage: "), "{}", r.body);
    let r = c
        .post(
            "f1",
            r#"{"type":"upsert-nodes","nodes":[{"id":"a","surprise":true}],"extra":1}"#,
        )
        .await;
    assert_eq!(r.status, 200, "unknown keys are ignored: {}", r.body);
    let r = c
        .post(
            "f1",
            r#"{"type":"upsert-nodes","nodes":[{"id":"b","status":"weird"}]}"#,
        )
        .await;
    assert_eq!(r.status, 200, "status is an open vocabulary: {}", r.body);
}

pub async fn d1_rejected_post_consumes_no_seq(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let (s1, e1) = c.post_ok("f1", &upsert_node("a")).await;
    assert_eq!(
        c.post("f1", r#"{"type":"upsert-nodes","nodes":[{}]}"#)
            .await
            .status,
        400
    );
    let (s2, e2) = c.post_ok("f1", &upsert_node("b")).await;
    assert_eq!((s1, s2), (1, 2));
    assert_eq!(e1, e2);
}

pub async fn d2_flow_id_length(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let ok = "aZ09._:-".repeat(16);
    assert_eq!(ok.len(), 128);
    assert_eq!(c.post(&ok, &upsert_node("a")).await.status, 200);
    assert_eq!(c.snapshot(&ok).await.status, 200);
    let long = "a".repeat(129);
    let r = c.post(&long, &upsert_node("a")).await;
    assert_eq!((r.status, r.body.as_str()), (400, "invalid flowId\n"));
}

pub async fn d2_flow_id_bad_encoding_on_every_route(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    for id in ["a%2Fb", "a%20b", "%zz"] {
        let base = format!("/v1/flows/{id}");
        let reqs = [
            c.http
                .post(c.url(&format!("{base}/events")))
                .body(upsert_node("a")),
            c.http.get(c.url(&format!("{base}/snapshot"))),
            c.http.get(c.url(&format!("{base}/stream"))),
            c.http
                .post(c.url(&format!("{base}/log-lines")))
                .body(r#"{"lines":[]}"#),
            c.http.get(c.url(&format!("{base}/log-lines"))),
            c.http.delete(c.url(&base)),
        ];
        for req in reqs {
            let r = c.send(req).await;
            assert_eq!(
                (r.status, r.body.as_str()),
                (400, "invalid flowId\n"),
                "{id}"
            );
        }
    }
}

pub async fn d3_snapshot_bytes_and_escaping(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    c.post_ok(
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"n1","label":"x","status":"running"}]}"#,
    )
    .await;
    let r = c.snapshot("f1").await;
    assert_eq!(
        r.body,
        "{\"type\":\"snapshot\",\"flow\":{\"id\":\"f1\",\"status\":\"open\",\"startedAt\":0},\"nodes\":[{\"id\":\"n1\",\"flowId\":\"f1\",\"label\":\"x\",\"status\":\"running\"}],\"relationships\":[]}\n"
    );
    let mut sse = c.stream("f1").await;
    sse.next_event().await;
    c.post_ok(
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"n2","label":"<b>&","status":"running"}]}"#,
    )
    .await;
    let f = sse.next_event().await;
    assert!(
        f.data.contains(r#""label":"\u003cb\u003e\u0026""#),
        "{}",
        f.data
    );
    assert!(
        c.snapshot("f1")
            .await
            .body
            .contains(r#"\u003cb\u003e\u0026"#)
    );
}

pub async fn d3_foreign_keys_dropped_and_snapshot_arrays_present(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    sse.next_event().await;
    c.post_ok(
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","flowId":"f1","label":"A","status":"s"}],"ids":["zzz"]}"#,
    )
    .await;
    assert_eq!(
        sse.next_event().await.data,
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","flowId":"f1","label":"A","status":"s"}]}"#
    );
    c.post_ok(
        "f1",
        r#"{"type":"snapshot","flow":{"id":"f1","status":"running","startedAt":2}}"#,
    )
    .await;
    assert_eq!(
        sse.next_event().await.data,
        r#"{"type":"snapshot","flow":{"id":"f1","status":"running","startedAt":2},"nodes":[],"relationships":[]}"#
    );
}

pub async fn d4_state_survives_ring_eviction(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_flow("f1")).await;
    for i in 0..100 {
        c.post_ok("f1", &upsert_node(&format!("n{i}"))).await;
    }
    let v = c.snapshot("f1").await.json();
    assert_eq!(
        v["flow"]["status"], "running",
        "the flow object survived eviction"
    );
    assert_eq!(v["nodes"].as_array().unwrap().len(), 100);
}

pub async fn d4_delete_nodes_prunes_edges(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    for n in ["a", "b", "c"] {
        c.post_ok("f1", &upsert_node(n)).await;
    }
    c.post_ok(
        "f1",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"finish-to-start"},{"fromId":"b","toId":"c","type":"finish-to-start"},{"fromId":"a","toId":"c","type":"start-to-start"}]}"#,
    )
    .await;
    c.post_ok("f1", r#"{"type":"delete-nodes","ids":["b"]}"#)
        .await;
    let v = c.snapshot("f1").await.json();
    let rels: Vec<(String, String)> = v["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["fromId"].as_str().unwrap().into(),
                r["toId"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(rels, vec![("a".to_owned(), "c".to_owned())]);
    let ids: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "c"]);
}

pub async fn d4_node_flow_id_stamping_and_cross_flow_nodes(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    sse.next_event().await;
    c.post_ok(
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"x","label":"X"}]}"#,
    )
    .await;
    assert_eq!(data(&sse.next_event().await)["nodes"][0]["flowId"], "f1");
    c.post_ok(
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"x","flowId":"other","label":"X2"}]}"#,
    )
    .await;
    sse.next_event().await;
    let v = c.snapshot("f1").await.json();
    let nodes: Vec<(String, String)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["flowId"].as_str().unwrap().into(),
                n["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("f1".to_owned(), "x".to_owned()),
            ("other".to_owned(), "x".to_owned())
        ]
    );
    c.post_ok("f1", r#"{"type":"delete-nodes","ids":["x"]}"#)
        .await;
    assert_eq!(c.snapshot("f1").await.json()["nodes"], json!([]));
}

pub async fn d5_consecutive_seqs_one_epoch(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let a = c.post_ok("f1", &upsert_node("a")).await;
    let b = c.post_ok("f1", &upsert_node("b")).await;
    let d = c.post_ok("f1", &upsert_node("c")).await;
    assert_eq!((a.0, b.0, d.0), (1, 2, 3));
    assert!(a.1 == b.1 && b.1 == d.1);
    assert_eq!(a.1.len(), 8);
    assert!(a.1.bytes().all(|b| b.is_ascii_alphanumeric()));
}

pub async fn d5_concurrent_posts_delivered_in_order(s: &dyn Starter) {
    let srv = s.start(&["--subscriber-queue", "1024"]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    assert_eq!(sse.next_event().await.id.as_deref(), Some("0"));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                seqs.push(c.post_ok("f1", &upsert_node(&format!("t{t}-{i}"))).await.0);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    assert_eq!(all, (1..=400).collect::<Vec<u64>>());
    for expected in 1..=400 {
        let f = sse.next_event().await;
        assert_eq!(f.event, "upsert-nodes");
        assert_eq!(seq_of(&f), expected);
    }
}

pub async fn d5_delete_restarts_at_seq_1_with_new_epoch(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_node("a")).await;
    let (_, old) = c.post_ok("f1", &upsert_node("b")).await;
    assert_eq!(c.delete("f1").await.status, 204);
    let (seq, new) = c.post_ok("f1", &upsert_node("c")).await;
    assert_eq!(seq, 1);
    assert_ne!(old, new);
}

/// Posts `n` upsert-nodes; returns the epoch.
async fn post_n(c: &Client, flow: &str, n: usize) -> String {
    let mut epoch = String::new();
    for i in 0..n {
        epoch = c.post_ok(flow, &upsert_node(&format!("n{i}"))).await.1;
    }
    epoch
}

/// Asserts the stream replays exactly `from..=to` (no snapshot frame) and
/// that the first frame carries the retry prefix.
async fn expect_replay(sse: &mut Sse, epoch: &str, from: u64, to: u64) {
    for seq in from..=to {
        let f = sse.next_event().await;
        assert_eq!(f.event, "upsert-nodes", "replay, no snapshot frame");
        assert_eq!(f.id.as_deref(), Some(format!("{epoch}-{seq}").as_str()));
        if seq == from {
            assert_eq!(f.retry, Some(2000));
        }
    }
    assert!(sse.raw.starts_with(b"retry: 2000\nevent: upsert-nodes\n"));
}

pub async fn d6_resume_header_replays_without_snapshot(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let e = post_n(&c, "f1", 5).await;
    let mut sse = c.stream_with("f1", Some(&format!("{e}-2")), "").await;
    expect_replay(&mut sse, &e, 3, 5).await;
    c.post_ok("f1", &upsert_node("live")).await;
    assert_eq!(sse.next_event().await.id, Some(format!("{e}-6")));
}

pub async fn d6_resume_query_param_replays(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let e = post_n(&c, "f1", 5).await;
    let mut sse = c
        .stream_with("f1", None, &format!("?lastEventId={e}-2"))
        .await;
    expect_replay(&mut sse, &e, 3, 5).await;
}

pub async fn d6_resume_header_beats_query(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let e = post_n(&c, "f1", 5).await;
    let mut sse = c
        .stream_with(
            "f1",
            Some(&format!("{e}-3")),
            &format!("?lastEventId={e}-1"),
        )
        .await;
    expect_replay(&mut sse, &e, 4, 5).await;
}

pub async fn d6_resume_at_head_is_live(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "64"]).await;
    let c = Client::new(&srv);
    let e = post_n(&c, "f1", 5).await;
    let mut sse = c.stream_with("f1", Some(&format!("{e}-5")), "").await;
    c.post_ok("f1", &upsert_node("next")).await;
    let f = sse.next_event().await;
    assert_eq!(f.event, "upsert-nodes", "nothing before the next POST");
    assert_eq!(f.id, Some(format!("{e}-6")));
    assert!(sse.raw.starts_with(b"retry: 2000\nevent: upsert-nodes\n"));
}

pub async fn d6_resume_miss_gets_snapshot(s: &dyn Starter) {
    let srv = s.start(&["--ring-capacity", "4"]).await;
    let c = Client::new(&srv);
    let e = post_n(&c, "f1", 10).await;
    for last in [
        format!("{e}-2"),
        "Zz9Zz9Zz-3".to_owned(),
        "garbage".to_owned(),
        "0".to_owned(),
        format!("{e}-11"),
    ] {
        let mut sse = c.stream_with("f1", Some(&last), "").await;
        let f = sse.next_event().await;
        assert_eq!(f.event, "snapshot", "{last}");
        assert_eq!(f.id, Some(format!("{e}-10")), "{last}");
        assert_eq!(f.retry, Some(2000));
        assert_eq!(data(&f)["nodes"].as_array().unwrap().len(), 10);
    }
    // Oldest retained is 7: resuming from 6 still replays.
    let mut sse = c.stream_with("f1", Some(&format!("{e}-6")), "").await;
    expect_replay(&mut sse, &e, 7, 10).await;
}

pub async fn d6_snapshot_then_next_id_with_racing_posts(s: &dyn Starter) {
    let srv = s.start(&["--subscriber-queue", "4096"]).await;
    let c = Client::new(&srv);
    let (_, e) = c.post_ok("f1", &upsert_node("seed")).await;
    let poster = {
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                c.post_ok("f1", &upsert_node(&format!("r{i}"))).await;
            }
        })
    };
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(c.stream("f1").await);
    }
    poster.await.unwrap();
    for mut sse in streams {
        let snap = sse.next_event().await;
        assert_eq!(snap.event, "snapshot");
        let mut expect = seq_of(&snap) + 1;
        let nodes = data(&snap)["nodes"].as_array().unwrap().len() as u64;
        assert_eq!(
            nodes,
            expect - 1,
            "snapshot stamped with the seq folded into it"
        );
        while expect <= 301 {
            let f = sse.next_event().await;
            assert_eq!(f.id, Some(format!("{e}-{expect}")), "no gap, no duplicate");
            expect += 1;
        }
    }
}

pub async fn d7_lagging_subscriber_resyncs_with_snapshot(s: &dyn Starter) {
    let srv = s.start(&["--subscriber-queue", "2"]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    assert_eq!(sse.next_event().await.event, "snapshot");
    // ~24 MiB of frames: far more than the socket buffers, so the stalled
    // reader's queue overflows. Every POST completes while it is stalled.
    let big = "x".repeat(80 * 1024);
    let total = 300u64;
    for i in 0..total {
        let body = format!(
            r#"{{"type":"upsert-nodes","nodes":[{{"id":"n{}","label":"{big}"}}]}}"#,
            i % 3
        );
        let r = tokio::time::timeout(WAIT, c.post("f1", &body))
            .await
            .expect("POST completes while a subscriber is stalled");
        assert_eq!(r.status, 200);
    }
    let mut last: Option<u64> = None;
    let mut resyncs = 0;
    loop {
        let f = sse.next_event().await;
        let seq = seq_of(&f);
        if f.event == "snapshot" {
            resyncs += 1;
            assert_eq!(data(&f)["nodes"].as_array().unwrap().len(), 3);
        } else if let Some(prev) = last {
            assert_eq!(
                seq,
                prev + 1,
                "no seq gap without a preceding snapshot frame"
            );
        }
        last = Some(seq);
        if seq == total {
            break;
        }
    }
    assert!(resyncs >= 1, "the lagging subscriber was resynced");
    c.post_ok("f1", &upsert_node("after")).await;
    assert_eq!(seq_of(&sse.next_event().await), total + 1);
    let m = c.get("/metrics").await.body;
    assert!(
        !m.contains("flow_server_subscriber_resyncs_total{reason=\"lag\"} 0"),
        "{m}"
    );
}

pub async fn d8_heartbeat_exact_frame_after_idle(s: &dyn Starter) {
    let srv = s.start(&["--heartbeat", "200ms"]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("idle").await;
    let snap = sse.next().await.unwrap();
    assert_eq!(snap.event, "snapshot");
    assert_eq!(snap.retry, Some(2000));
    let first_len = sse.raw.len();
    let hb = sse.next().await.unwrap();
    assert_eq!(hb.event, "heartbeat");
    assert_eq!(hb.id, None);
    assert_eq!(&sse.raw[first_len..], b"event: heartbeat\ndata: {}\n\n");
    assert!(
        sse.raw
            .starts_with(b"retry: 2000\nevent: snapshot\nid: 0\n")
    );
    assert_eq!(
        sse.next().await.unwrap().event,
        "heartbeat",
        "repeats while idle"
    );
}

pub async fn d9_unknown_flow_stream_and_snapshot(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    assert_eq!(c.snapshot("new1").await.status, 404);
    let mut sse = c.stream("new1").await;
    let f = sse.next_event().await;
    assert_eq!(f.event, "snapshot");
    assert_eq!(f.id.as_deref(), Some("0"));
    assert_eq!(
        f.data,
        r#"{"type":"snapshot","flow":{"id":"new1","status":"open","startedAt":0},"nodes":[],"relationships":[]}"#
    );
    let (seq, epoch) = c
        .post_ok(
            "new1",
            r#"{"type":"upsert-nodes","nodes":[{"id":"x","label":"X","status":"pending"}]}"#,
        )
        .await;
    assert_eq!(seq, 1);
    let f = sse.next_event().await;
    assert_eq!(f.id, Some(format!("{epoch}-1")));
    assert_eq!(
        f.data,
        r#"{"type":"upsert-nodes","nodes":[{"id":"x","flowId":"new1","label":"X","status":"pending"}]}"#
    );
}

pub async fn d9_delete_nodes_only_flow_has_snapshot(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    c.post_ok("f9", r#"{"type":"delete-nodes","ids":["ghost"]}"#)
        .await;
    let r = c.snapshot("f9").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        "{\"type\":\"snapshot\",\"flow\":{\"id\":\"f9\",\"status\":\"open\",\"startedAt\":0},\"nodes\":[],\"relationships\":[]}\n"
    );
    assert!(r.header("flow-event-id").unwrap().ends_with("-1"));
}

pub async fn d10_delete_ends_streams_and_resume_gets_new_state(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    assert_eq!(c.delete("never-seen").await.status, 204);
    let (_, old) = c.post_ok("f1", &upsert_flow("f1")).await;
    let mut a = c.stream("f1").await;
    let mut b = c.stream_with("f1", Some(&format!("{old}-1")), "").await;
    assert_eq!(a.next_event().await.event, "snapshot");
    assert_eq!(c.delete("f1").await.status, 204);
    a.expect_end().await;
    b.expect_end().await;
    let (seq, new) = c
        .post_ok(
            "f1",
            r#"{"type":"upsert-flow","flow":{"id":"f1","status":"pending","startedAt":9}}"#,
        )
        .await;
    assert_eq!(seq, 1);
    let mut r = c.stream_with("f1", Some(&format!("{old}-1")), "").await;
    let f = r.next_event().await;
    assert_eq!(f.event, "snapshot");
    assert_eq!(f.id, Some(format!("{new}-1")));
    assert_eq!(data(&f)["flow"]["status"], "pending");
}

fn padded_event(total_len: usize) -> String {
    let base = r#"{"type":"upsert-flow","flow":{"id":"f","status":"x","startedAt":1}}"#;
    let mut body = base.to_owned();
    body.push_str(&" ".repeat(total_len - base.len()));
    body
}

pub async fn d11_body_limit_exact_and_plus_one(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let limit = 1_048_576;
    let r = c.post("f1", &padded_event(limit)).await;
    assert_eq!(r.status, 200, "exactly the limit is accepted: {}", r.body);
    let r = c.post("f1", &padded_event(limit + 1)).await;
    assert_eq!((r.status, r.body.as_str()), (413, "payload too large\n"));
    // Without Content-Length (streamed body) the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(padded_event(limit + 1).into_bytes())];
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = c.post_raw("/v1/flows/f1/events", body).await;
    assert_eq!(r.status, 413);
    let r = c
        .post_raw(
            "/v1/flows/f1/log-lines",
            format!("{{\"lines\":[]}}{}", " ".repeat(limit)),
        )
        .await;
    assert_eq!(r.status, 413, "applies to every request body");
    assert_eq!(
        c.snapshot("f1")
            .await
            .header("flow-event-id")
            .map(|i| i.ends_with("-1")),
        Some(true)
    );
}

pub async fn d11_oversized_content_length_refused_unread(s: &dyn Starter) {
    let srv = s.start(&["--max-body-bytes", "100"]).await;
    let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    // Announce a large body and send none of it: the answer must not wait for it.
    sock.write_all(
        b"POST /v1/flows/f1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, sock.read(&mut buf))
        .await
        .expect("answered without reading the body")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.ends_with("payload too large\n"), "{head}");
}

pub async fn d11_max_nodes_per_flow(s: &dyn Starter) {
    let srv = s.start(&["--max-nodes-per-flow", "2"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_node("a")).await;
    c.post_ok("f1", &upsert_node("b")).await;
    c.post_ok("f1", &upsert_node("a")).await; // replacing does not grow
    let before = c.snapshot("f1").await.body;
    let r = c.post("f1", &upsert_node("c")).await;
    assert_eq!((r.status, r.body.as_str()), (413, "flow too large\n"));
    assert_eq!(c.snapshot("f1").await.body, before, "state unchanged");
    let r = c
        .post(
            "f2",
            r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#,
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(c.snapshot("f2").await.status, 404, "no incarnation created");
    // 4 × 2 relationships fit, a ninth does not.
    let rels: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"fromId":"a","toId":"t{i}","type":"contains"}}"#))
        .collect();
    c.post_ok(
        "f1",
        &format!(
            r#"{{"type":"upsert-rels","relationships":[{}]}}"#,
            rels.join(",")
        ),
    )
    .await;
    let r = c
        .post(
            "f1",
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"t9","type":"contains"}]}"#,
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        c.post_ok("f1", &upsert_node("b")).await.0,
        5,
        "rejections consumed no seq"
    );
}

pub async fn d11_max_flows_evicts_least_recently_updated_idle_flow(s: &dyn Starter) {
    if !memory_only(s, "d11 MAX_FLOWS") {
        return;
    }
    let srv = s.start(&["--max-flows", "2"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_node("a")).await;
    c.post_ok("f2", &upsert_node("a")).await;
    c.post_ok("f1", &upsert_node("b")).await; // f1 is now the most recent
    c.post_ok("f3", &upsert_node("a")).await;
    assert_eq!(
        c.snapshot("f2").await.status,
        404,
        "least recently updated evicted"
    );
    assert_eq!(c.snapshot("f1").await.status, 200);
    assert_eq!(c.snapshot("f3").await.status, 200);
    let _s1 = c.stream("f1").await;
    let _s3 = c.stream("f3").await;
    let r = c.post("f4", &upsert_node("a")).await;
    assert_eq!((r.status, r.body.as_str()), (503, "too many flows\n"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let m = c.get("/metrics").await.body;
    assert!(
        m.contains("flow_server_flow_evictions_total{reason=\"capacity\"} 1"),
        "{m}"
    );
    assert!(m.contains("flow_server_flows_active 2"), "{m}");
}

pub async fn d11_max_subscribers(s: &dyn Starter) {
    let srv = s.start(&["--max-subscribers", "1"]).await;
    let c = Client::new(&srv);
    let first = c.stream("f1").await;
    let r = c.get("/v1/flows/f2/stream").await;
    assert_eq!((r.status, r.body.as_str()), (503, "too many subscribers\n"));
    assert_eq!(r.header("retry-after"), Some("1"));
    drop(first);
    eventually("the slot to be released", || async {
        let r = c
            .http
            .get(c.url("/v1/flows/f2/stream"))
            .send()
            .await
            .unwrap();
        r.status() == 200
    })
    .await;
}

pub async fn d11_idle_flow_ttl(s: &dyn Starter) {
    if !memory_only(s, "d11 FLOW_TTL") {
        return;
    }
    let srv = s.start(&["--flow-ttl", "300ms"]).await;
    let c = Client::new(&srv);
    c.post_ok("idle", &upsert_node("a")).await;
    c.post_ok("watched", &upsert_node("a")).await;
    let mut sse = c.stream("watched").await;
    sse.next_event().await;
    eventually("the idle flow to be dropped", || async {
        c.snapshot("idle").await.status == 404
    })
    .await;
    assert_eq!(
        c.snapshot("watched").await.status,
        200,
        "kept: it has a subscriber"
    );
    let m = c.get("/metrics").await.body;
    assert!(
        m.contains("flow_server_flow_evictions_total{reason=\"ttl\"} 1"),
        "{m}"
    );
}

pub async fn d11_log_lines_per_flow(s: &dyn Starter) {
    if !memory_only(s, "d11 LOG_LINES_PER_FLOW") {
        return;
    }
    let srv = s.start(&["--log-lines-per-flow", "3"]).await;
    let c = Client::new(&srv);
    for i in 1..=5 {
        let body = format!(r#"{{"lines":[{{"nodeId":"n","execId":"e","message":"m{i}"}}]}}"#);
        assert_eq!(c.post_raw("/v1/flows/f1/log-lines", body).await.status, 200);
    }
    let v = c.get("/v1/flows/f1/log-lines").await.json();
    let msgs: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(msgs, ["m3", "m4", "m5"]);
}

pub async fn d12_ingest_tokens(s: &dyn Starter) {
    let srv = s.start(&["--ingest-token", "a,b"]).await;
    let c = Client::new(&srv);
    let url = c.url("/v1/flows/f1/events");
    for req in [
        c.http.post(&url).body(upsert_node("x")),
        c.http.post(&url).bearer_auth("c").body(upsert_node("x")),
        c.http
            .post(&url)
            .header("Authorization", "Basic a")
            .body(upsert_node("x")),
        c.http.delete(c.url("/v1/flows/f1")),
        c.http
            .post(c.url("/v1/flows/f1/log-lines"))
            .body(r#"{"lines":[]}"#),
        c.http
            .post(c.url("/v1/flows/a%2Fb/events"))
            .body(upsert_node("x")),
    ] {
        let r = c.send(req).await;
        assert_eq!((r.status, r.body.as_str()), (401, "unauthorized\n"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let r = c
        .send(
            c.http
                .post(&url)
                .header("Authorization", "Bearer a")
                .body(upsert_node("x")),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .send(
            c.http
                .post(&url)
                .header("Authorization", "bearer b")
                .body(upsert_node("y")),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(c.snapshot("f1").await.status, 200, "reads stay open");
    assert_eq!(c.get("/v1/flows/f1/log-lines").await.status, 200);
    let m = c.get("/metrics").await.body;
    assert!(
        m.contains("flow_server_ingest_errors_total{status=\"401\"} 4"),
        "{m}"
    );
}

pub async fn d12_read_tokens(s: &dyn Starter) {
    let srv = s.start(&["--read-token", "r"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_node("a")).await;
    let stream = c.url("/v1/flows/f1/stream");
    for req in [
        c.http.get(&stream),
        c.http.get(format!("{stream}?access_token=x")),
        c.http.get(c.url("/v1/flows/f1/snapshot")),
        c.http.get(c.url("/v1/flows/f1/log-lines")),
        c.http.get(c.url("/v1/flows/a%2Fb/snapshot")),
    ] {
        let r = c.send(req).await;
        assert_eq!((r.status, r.body.as_str()), (401, "unauthorized\n"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    for req in [
        c.http.get(format!("{stream}?access_token=r")),
        c.http.get(&stream).bearer_auth("r"),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut sse = Sse::new(resp);
        assert_eq!(sse.next_event().await.event, "snapshot");
    }
    let r = c
        .send(c.http.get(c.url("/v1/flows/f1/snapshot")).bearer_auth("r"))
        .await;
    assert_eq!(r.status, 200);
    for p in ["/", "/healthz", "/readyz", "/metrics"] {
        assert_eq!(c.get(p).await.status, 200, "{p} is open");
    }
}

pub async fn d13_cors_unset(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let r = c
        .send(
            c.http
                .get(c.url("/healthz"))
                .header("Origin", "https://ui.example"),
        )
        .await;
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers
    );
    let r = c
        .send(
            c.http
                .request(reqwest::Method::OPTIONS, c.url("/healthz"))
                .header("Origin", "https://ui.example")
                .header("Access-Control-Request-Method", "GET"),
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

pub async fn d13_cors_set(s: &dyn Starter) {
    let srv = s.start(&["--cors-origins", "https://ui.example"]).await;
    let c = Client::new(&srv);
    c.post_ok("f1", &upsert_node("a")).await;
    let r = c
        .send(
            c.http
                .get(c.url("/v1/flows/f1/snapshot"))
                .header("Origin", "https://ui.example"),
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ui.example")
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("Flow-Event-Id")
    );
    assert!(
        r.headers.get_all("vary").iter().any(|v| v == "Origin"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let r = c
        .send(
            c.http
                .get(c.url("/v1/flows/f1/snapshot"))
                .header("Origin", "https://evil.example"),
        )
        .await;
    assert_eq!(r.status, 200, "still processed");
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = c
        .send(
            c.http
                .request(reqwest::Method::OPTIONS, c.url("/v1/flows/f1/events"))
                .header("Origin", "https://ui.example")
                .header("Access-Control-Request-Method", "POST"),
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, HEAD, POST, DELETE")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("authorization, content-type, last-event-id")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://ui.example")
    );
}

pub async fn d14_metrics(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    for n in ["a", "b", "c"] {
        c.post_ok("f1", &upsert_node(n)).await;
    }
    assert_eq!(c.post("f1", "{").await.status, 400);
    let r = c.get("/metrics").await;
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let lines: Vec<&str> = r.body.lines().collect();
    for want in [
        "flow_server_events_ingested_total{type=\"upsert-nodes\"} 3",
        "flow_server_ingest_errors_total{status=\"400\"} 1",
        "flow_server_ingest_duration_seconds_count 3",
    ] {
        assert!(lines.contains(&want), "missing {want}\n{}", r.body);
    }
    for name in [
        "flow_server_events_ingested_total",
        "flow_server_ingest_errors_total",
        "flow_server_ingest_duration_seconds",
        "flow_server_log_lines_written_total",
        "flow_server_flows_active",
        "flow_server_subscribers_active",
        "flow_server_sse_frames_sent_total",
        "flow_server_sse_bytes_sent_total",
        "flow_server_subscriber_resyncs_total",
        "flow_server_stream_opens_total",
        "flow_server_flow_evictions_total",
        "flow_server_pg_listener_reconnects_total",
        "flow_server_build_info",
    ] {
        assert!(
            r.body.contains(&format!("# TYPE {name} ")),
            "missing {name}\n{}",
            r.body
        );
    }
    assert!(r.body.contains(&format!("backend=\"{}\"", s.backend())));
}

pub async fn d17_root_descriptor_and_head(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    for accept in [Some("application/json"), Some("*/*"), None] {
        let mut req = c.http.get(c.url("/"));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        let r = c.send(req).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(r.header("vary"), Some("Accept"));
        let v: Value = r.json();
        assert_eq!(v["service"], "openova-flow-server");
        assert_eq!(v["backend"], s.backend());
        assert_eq!(v["endpoints"]["ingest"], "POST /v1/flows/{flowId}/events");
    }
    let r = c.send(c.http.head(c.url("/"))).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = c.send(c.http.head(c.url("/v1/flows/f1/stream"))).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
}

pub async fn d17_readyz_503_while_shutting_down(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let mut sse = c.stream("f1").await;
    sse.next_event().await;
    srv.state().begin_shutdown();
    let r = c.get("/readyz").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "not ready: shutting down\n")
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(c.get("/healthz").await.status, 200, "alive while draining");
    sse.expect_end().await;
}

pub async fn d18_routing(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    for p in [
        "/nope",
        "/v1/flows",
        "/v1/flows/",
        "/v1/flows/f1/",
        "/v1/flows/f1/foo",
        "/v1/flows/f1/events/x",
    ] {
        let r = c.get(p).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "404 page not found\n"),
            "{p}"
        );
    }
    let r = c.get("/v1/flows/f1").await;
    assert_eq!((r.status, r.body.as_str()), (405, "method not allowed\n"));
    assert_eq!(r.header("allow"), Some("DELETE"));
    let r = c.send(c.http.put(c.url("/v1/flows/f1/events"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = c.send(c.http.post(c.url("/healthz"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    let r = c.send(c.http.delete(c.url("/v1/flows/f1/"))).await;
    assert_eq!(r.status, 404, "no delete on a trailing slash");
}

pub async fn d19_log_lines(s: &dyn Starter) {
    let srv = s.start(&[]).await;
    let c = Client::new(&srv);
    let path = "/v1/flows/f1/log-lines";
    let r = c
        .post_raw(
            path,
            r#"{"lines":[{"nodeId":"fsn1:bp-cilium","execId":"e-17","level":"warn","message":"retrying","occurredAt":1715680800123},{"nodeId":"n2","execId":"e-18","message":"m"}]}"#,
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (200, "{\"written\":2}\n"));
    let r = c.get(path).await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(r#"{"lines":[{"seq":"#), "{}", r.body);
    let v = r.json();
    let lines = v["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let first = serde_json::to_string(&lines[0]).unwrap();
    let seq0 = lines[0]["seq"].as_u64().unwrap();
    assert!(r.body.contains(&format!(
        r#"{{"seq":{seq0},"nodeId":"fsn1:bp-cilium","execId":"e-17","level":"warn","message":"retrying","occurredAt":1715680800123}}"#
    )), "{first}");
    assert_eq!(lines[1]["level"], "info", "absent level → info");
    assert!(lines[1]["occurredAt"].as_i64().unwrap() > 1_700_000_000_000);
    let r = c
        .post_raw(
            path,
            r#"{"lines":[{"nodeId":"n","execId":"e","level":"fatal"}]}"#,
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "lines[0].level must be one of debug, info, warn, error; got \"fatal\"\n"
        )
    );
    let r = c.post_raw(path, "nope").await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("parse body: "));
    let r = c.get(&format!("{path}?limit=5001")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "limit must be between 1 and 5000\n")
    );
    let r = c.get(&format!("{path}?afterSeq=-1")).await;
    assert_eq!((r.status, r.body.as_str()), (400, "invalid afterSeq\n"));
    let r = c.get(&format!("{path}?execId=none")).await;
    assert_eq!((r.status, r.body.as_str()), (200, "{\"lines\":[]}\n"));
    let r = c.get("/v1/flows/unknown/log-lines").await;
    assert_eq!(r.body, "{\"lines\":[]}\n");
    let r = c.get(&format!("{path}?nodeId=n2")).await.json();
    assert_eq!(r["lines"].as_array().unwrap().len(), 1);
    // Paging with afterSeq returns each line once.
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let v = c
            .get(&format!("{path}?limit=1&afterSeq={after}"))
            .await
            .json();
        let page = v["lines"].as_array().unwrap();
        if page.is_empty() {
            break;
        }
        after = page[0]["seq"].as_u64().unwrap();
        seen.push(page[0]["nodeId"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["fsn1:bp-cilium", "n2"]);
    assert_eq!(
        c.snapshot("f1").await.status,
        404,
        "log lines create no incarnation"
    );
}

pub async fn d20_testing_api_restart_on_same_port(s: &dyn Starter) {
    if !memory_only(s, "testing::start_on") {
        return;
    }
    let srv = s.start(&[]).await;
    let addr = srv.addr;
    Client::new(&srv).post_ok("f1", &upsert_node("a")).await;
    srv.stop().await;
    let again = openova_flow_server::testing::start_on(addr, &[])
        .await
        .unwrap();
    assert_eq!(again.addr, addr);
    let c = Client::new(&again);
    assert_eq!(
        c.snapshot("f1").await.status,
        404,
        "memory state is lost on restart"
    );
    assert_eq!(c.get("/healthz").await.status, 200);
}

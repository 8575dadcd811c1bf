//! The stream route (proxy.md §9): T3, T5, T6, T10, resume, Acceptance
//! 13–15. The real flow server where it can produce the case; a controlled
//! upstream where the test must decide exactly when bytes are written or
//! must see the upstream body being dropped.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::common::*;

/// One upstream stream opened by the proxy: push chunks with `tx`; `dropped`
/// fires when the upstream server drops the response body (the proxy closed
/// the connection).
struct UpstreamConn {
    tx: mpsc::Sender<Bytes>,
    dropped: oneshot::Receiver<()>,
}

struct DropSignal(Option<oneshot::Sender<()>>);
impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            let _ = s.send(());
        }
    }
}

/// A recording upstream whose `/v1/flows/{id}/stream` answers 200
/// `text/event-stream` and hands each connection to the test.
async fn controlled_upstream() -> (Recording, mpsc::UnboundedReceiver<UpstreamConn>) {
    let (conn_tx, conn_rx) = mpsc::unbounded_channel::<UpstreamConn>();
    let conn_tx = Arc::new(Mutex::new(conn_tx));
    let router = Router::new().route(
        "/v1/flows/{id}/stream",
        get(move || {
            let conn_tx = conn_tx.clone();
            async move {
                let (tx, rx) = mpsc::channel::<Bytes>(16);
                let (drop_tx, drop_rx) = oneshot::channel();
                let _ = conn_tx.lock().unwrap().send(UpstreamConn {
                    tx,
                    dropped: drop_rx,
                });
                let state = (rx, DropSignal(Some(drop_tx)));
                let body = futures::stream::unfold(state, |(mut rx, guard)| async move {
                    let chunk = rx.recv().await?;
                    Some((Ok::<Bytes, Infallible>(chunk), (rx, guard)))
                });
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .header("cache-control", "no-cache, no-transform")
                    .body(Body::from_stream(body))
                    .unwrap()
            }
        }),
    );
    (recording(router).await, conn_rx)
}

async fn open(p: &Proxy, token: &str) -> reqwest::Response {
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp
}

/// T3: an EventSource-style `?access_token=` opens the stream; the upstream
/// sees no `access_token` (nor any query).
#[tokio::test]
async fn t3_query_token_for_eventsource() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .get(p.url(&format!(
            "/api/v1/flows/d1/stream?access_token={}",
            reader()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut sse = SseReader::new(resp);
    let first = sse.event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame_event(&first), Some("snapshot"));

    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let resp = client()
        .get(p.url(&format!(
            "/api/v1/flows/d1/stream?access_token={}&lastEventId=e-1",
            reader()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _conn = conns.recv().await.unwrap();
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query, None);
    assert!(seen[0].headers.get("authorization").is_none());
    assert_eq!(seen[0].headers["last-event-id"], "e-1");
}

/// T5: each frame written upstream reaches the client within 50 ms. The
/// upstream writes one frame, then nothing until the client has it, so any
/// buffering in the proxy shows up as a timeout rather than a slow number;
/// 50 ms is the spec's bound and about 50× what loopback needs.
#[tokio::test]
async fn t5_frames_arrive_within_50ms_of_being_written() {
    let _serial = TIMING.lock().await;
    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    let conn = conns.recv().await.unwrap();
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let frame = format!("event: upsert-nodes\nid: e-{i}\ndata: {{\"n\":{i}}}\n\n");
        let sent = Instant::now();
        conn.tx.send(Bytes::from(frame.clone())).await.unwrap();
        let got = sse.frame(Duration::from_secs(2)).await.unwrap();
        let latency = sent.elapsed();
        assert_eq!(got, frame);
        assert!(
            latency < Duration::from_millis(50),
            "frame {i} took {latency:?}"
        );
        worst = worst.max(latency);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("t5 controlled upstream: worst frame latency {worst:?}");
}

/// T5 against the real server: the time from sending the POST to the frame
/// arriving through the proxy (an upper bound on the emit → arrive time,
/// since it also includes the POST itself) stays under 50 ms.
#[tokio::test]
async fn t5_real_server_event_reaches_the_client_within_50ms() {
    let _serial = TIMING.lock().await;
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    sse.event(Duration::from_secs(5)).await.unwrap();
    let ingest = client();
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let body = upsert_node("d1", &format!("n{i}"));
        let sent = Instant::now();
        let resp = ingest
            .post(format!("{}/v1/flows/d1/events", server.url()))
            .bearer_auth(INGEST_TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let frame = sse.event(Duration::from_secs(2)).await.unwrap();
        let latency = sent.elapsed();
        assert!(frame.contains(&format!("\"n{i}\"")));
        assert!(
            latency < Duration::from_millis(50),
            "event {i} took {latency:?}"
        );
        worst = worst.max(latency);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("t5 real server: worst POST→frame latency {worst:?}");
}

/// T6 against the real server: the client goes away; the server's own
/// subscriber gauge drops within 1 s (it writes a heartbeat every 100 ms, so
/// it notices a closed connection on its next write).
#[tokio::test]
async fn t6_client_close_closes_the_upstream_within_1s_real_server() {
    let _serial = TIMING.lock().await;
    let server = guarded_flow_server(&["--heartbeat", "100ms"]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let metrics_url = format!("{}/metrics", server.url());
    let mut sse = SseReader::new(open(&p, &reader()).await);
    sse.event(Duration::from_secs(5)).await.unwrap();
    let subscribed = eventually(Duration::from_secs(2), || async {
        metric(&metrics_url, "flow_server_subscribers_active").await == Some(1.0)
    })
    .await;
    assert!(subscribed.is_some());
    assert_eq!(p.state.metrics().streams_active(), 1);
    // Let a few heartbeats through, then close.
    sse.frame(Duration::from_secs(2)).await.unwrap();
    drop(sse);
    let closed = eventually(Duration::from_secs(3), || async {
        metric(&metrics_url, "flow_server_subscribers_active").await == Some(0.0)
    })
    .await
    .expect("the server still has the subscriber after 3 s");
    eprintln!("t6 real server: upstream subscription gone {closed:?} after the client closed");
    assert!(closed < Duration::from_secs(1), "took {closed:?}");
    assert_eq!(p.state.metrics().streams_active(), 0);
}

/// T6 with an upstream that writes every 100 ms: it sees its response body
/// dropped within 1 s of the client closing.
#[tokio::test]
async fn t6_client_close_drops_the_upstream_response_within_1s() {
    let _serial = TIMING.lock().await;
    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    let UpstreamConn { tx, mut dropped } = conns.recv().await.unwrap();
    let writer = tokio::spawn(async move {
        while tx
            .send(Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    sse.frame(Duration::from_secs(2)).await.unwrap();
    sse.frame(Duration::from_secs(2)).await.unwrap();
    assert!(
        dropped.try_recv().is_err(),
        "upstream closed while the client was reading"
    );
    let closed_at = Instant::now();
    drop(sse);
    tokio::time::timeout(Duration::from_secs(1), &mut dropped)
        .await
        .expect("upstream response not dropped within 1 s")
        .unwrap();
    eprintln!(
        "t6 controlled upstream: dropped {:?} after the client closed",
        closed_at.elapsed()
    );
    writer.abort();
    assert!(
        eventually(Duration::from_secs(1), || async {
            p.state.metrics().streams_active() == 0
        })
        .await
        .is_some()
    );
}

/// Stronger than T6: even while the upstream is silent (between 15 s
/// heartbeats), a client disconnect is noticed and the upstream dropped
/// within 1 s — the proxy's HTTP/1 server sees the closed socket without
/// having to write to it.
#[tokio::test]
async fn client_close_is_noticed_while_the_upstream_is_silent() {
    let _serial = TIMING.lock().await;
    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    let UpstreamConn { tx, mut dropped } = conns.recv().await.unwrap();
    tx.send(Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"))
        .await
        .unwrap();
    sse.frame(Duration::from_secs(2)).await.unwrap();
    let closed_at = Instant::now();
    drop(sse);
    tokio::time::timeout(Duration::from_secs(1), &mut dropped)
        .await
        .expect("upstream response not dropped within 1 s of a silent close")
        .unwrap();
    eprintln!(
        "silent upstream: dropped {:?} after the client closed",
        closed_at.elapsed()
    );
    drop(tx);
}

/// T10: `Last-Event-ID` from the header or the `lastEventId` query reaches
/// the upstream as the header; the header wins.
#[tokio::test]
async fn t10_last_event_id_forwarding() {
    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let cases: [(Option<&str>, Option<&str>, Option<&str>); 4] = [
        (Some("ep-5"), None, Some("ep-5")),
        (None, Some("ep-6"), Some("ep-6")),
        (Some("ep-7"), Some("ep-1"), Some("ep-7")),
        (None, None, None),
    ];
    for (i, (header, query, want)) in cases.into_iter().enumerate() {
        let url = match query {
            Some(q) => p.url(&format!("/api/v1/flows/d1/stream?lastEventId={q}")),
            None => p.url("/api/v1/flows/d1/stream"),
        };
        let mut rb = client().get(url).bearer_auth(reader());
        if let Some(h) = header {
            rb = rb.header("last-event-id", h);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let _conn = conns.recv().await.unwrap();
        let seen = &up.requests()[i];
        assert_eq!(
            seen.headers
                .get("last-event-id")
                .map(|v| v.to_str().unwrap()),
            want,
            "case {i}"
        );
        assert_eq!(seen.query, None, "case {i}");
        assert_eq!(seen.headers["accept"], "text/event-stream");
    }
    // Over 256 bytes: dropped.
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .header("last-event-id", "x".repeat(257))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _conn = conns.recv().await.unwrap();
    assert!(
        up.requests()
            .last()
            .unwrap()
            .headers
            .get("last-event-id")
            .is_none()
    );
}

/// Resume through the proxy against the real server: with `Last-Event-ID:
/// E-1` the stream replays E-2 and E-3 (no snapshot frame); with
/// `?lastEventId=E-2` it starts at E-3; header beats query.
#[tokio::test]
async fn resume_through_the_proxy() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    post_direct(&server.url(), "d1", &upsert_node("d1", "n1")).await;
    post_direct(&server.url(), "d1", &upsert_node("d1", "n2")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let snap = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    let current = snap.headers()["flow-event-id"].to_str().unwrap().to_owned();
    let (epoch, seq) = current.rsplit_once('-').unwrap();
    assert_eq!(seq, "3");

    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .header("last-event-id", format!("{epoch}-1"))
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(resp);
    let f2 = sse.event(Duration::from_secs(5)).await.unwrap();
    let f3 = sse.event(Duration::from_secs(5)).await.unwrap();
    assert!(f2.starts_with("retry: 2000\n"), "{f2}");
    assert_eq!(frame_event(&f2), Some("upsert-nodes"));
    assert_eq!(frame_id(&f2), Some(format!("{epoch}-2").as_str()));
    assert_eq!(frame_id(&f3), Some(format!("{epoch}-3").as_str()));

    let resp = client()
        .get(p.url(&format!("/api/v1/flows/d1/stream?lastEventId={epoch}-2")))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(resp);
    let f = sse.event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame_id(&f), Some(format!("{epoch}-3").as_str()));

    let resp = client()
        .get(p.url(&format!("/api/v1/flows/d1/stream?lastEventId={epoch}-2")))
        .bearer_auth(reader())
        .header("last-event-id", format!("{epoch}-1"))
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(resp);
    let f = sse.event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        frame_id(&f),
        Some(format!("{epoch}-2").as_str()),
        "header wins"
    );
}

/// Acceptance 13: no total deadline on streams (a 1 s proxy timeout, a 3 s
/// stream fed by 200 ms heartbeats), and an idle upstream ends the response.
#[tokio::test]
async fn acceptance_13_no_total_deadline_but_an_idle_timeout() {
    let server = guarded_flow_server(&["--heartbeat", "200ms"]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let mut cfg = guarded_config(&server.url());
    cfg.proxy_timeout = Duration::from_secs(1);
    cfg.stream_idle_timeout = Duration::from_secs(2);
    let p = proxy(cfg).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    let start = Instant::now();
    let mut heartbeats = 0;
    while start.elapsed() < Duration::from_secs(3) {
        let f = sse
            .frame(Duration::from_secs(2))
            .await
            .expect("stream ended early");
        if frame_event(&f) == Some("heartbeat") {
            heartbeats += 1;
        }
    }
    assert!(heartbeats >= 5, "only {heartbeats} heartbeats in 3 s");

    // Silent after the headers: the response ends after the idle timeout.
    let (up, mut conns) = controlled_upstream().await;
    let mut cfg = config(&up.url());
    cfg.stream_idle_timeout = Duration::from_millis(300);
    let p = proxy(cfg).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    let conn = conns.recv().await.unwrap();
    conn.tx
        .send(Bytes::from_static(b"event: heartbeat\ndata: {}\n\n"))
        .await
        .unwrap();
    sse.frame(Duration::from_secs(2)).await.unwrap();
    let quiet_from = Instant::now();
    assert!(
        sse.ends_within(Duration::from_secs(5)).await,
        "idle stream not ended"
    );
    let ended = quiet_from.elapsed();
    assert!(
        ended >= Duration::from_millis(250),
        "ended after {ended:?}, before the idle timeout"
    );
    drop(conn);

    // Silent before the headers: 504.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let mut cfg = config(&format!("http://{addr}"));
    cfg.stream_idle_timeout = Duration::from_millis(300);
    let p = proxy(cfg).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error":"openova-flow-server timeout"}"#
    );
    hold.abort();
}

/// Acceptance 14: exactly the stream headers, no compression, and the bytes
/// equal the upstream bytes even when chunks split frames.
#[tokio::test]
async fn acceptance_14_headers_and_bytes_unchanged() {
    let (up, mut conns) = controlled_upstream().await;
    let p = proxy(config(&up.url())).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    assert!(h.get("content-encoding").is_none());
    assert!(h.get("connection").is_none() || h["connection"] != "close");
    assert!(h.get("content-length").is_none());
    let conn = conns.recv().await.unwrap();
    let chunks: [&[u8]; 4] = [
        b"retry: 2000\nevent: snapshot\nid: e-1\nda",
        b"ta: {\"type\":\"snapshot\",\"label\":\"\\u003cb\\u003e \xc3\xa9\"}\n",
        b"\n",
        b"event: heartbeat\ndata: {}\n\n",
    ];
    let mut sse = SseReader::new(resp);
    let mut got = Vec::new();
    for c in chunks {
        conn.tx.send(Bytes::from_static(c)).await.unwrap();
        got.extend_from_slice(&sse.chunk(Duration::from_secs(2)).await.unwrap());
    }
    drop(conn);
    while let Some(b) = sse.chunk(Duration::from_secs(2)).await {
        got.extend_from_slice(&b);
    }
    assert_eq!(got, chunks.concat());
}

/// Acceptance 15: upstream EOF ends the client response — with the real
/// server, a DELETE of the flow ends its streams.
#[tokio::test]
async fn acceptance_15_upstream_eof_ends_the_response() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    sse.event(Duration::from_secs(5)).await.unwrap();
    let resp = client()
        .delete(format!("{}/v1/flows/d1", server.url()))
        .bearer_auth(INGEST_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(sse.ends_within(Duration::from_secs(5)).await);
    assert!(
        eventually(Duration::from_secs(1), || async {
            p.state.metrics().streams_active() == 0
        })
        .await
        .is_some()
    );
}

/// Shutdown of the proxy ends its open streams so a graceful server stop
/// does not hang on them.
#[tokio::test]
async fn proxy_shutdown_ends_open_streams() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let mut sse = SseReader::new(open(&p, &reader()).await);
    sse.event(Duration::from_secs(5)).await.unwrap();
    p.state.shutdown();
    assert!(sse.ends_within(Duration::from_secs(2)).await);
}

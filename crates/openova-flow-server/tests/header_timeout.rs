//! server.md §4: request headers have a fixed 10 s read timeout; SSE streams
//! have none. (Takes about 10 s of wall time; runs in parallel with the rest.)

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d11_incomplete_request_headers_are_dropped_after_10s_but_streams_are_not() {
    let srv = openova_flow_server::testing::start(&["--heartbeat", "1h"])
        .await
        .unwrap();
    let mut slow = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    stream
        .write_all(b"GET /v1/flows/f1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(30), slow.read(&mut buf))
        .await
        .expect("closed by the header read timeout")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "not before the timeout"
    );

    // The idle stream (no heartbeat for an hour) is still open.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/flows/f1/events", srv.url()))
        .body(r#"{"type":"upsert-nodes","nodes":[{"id":"late"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"late") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the stream is still delivering")
            .unwrap();
        assert!(n > 0, "stream closed");
        got.extend_from_slice(&buf[..n]);
    }
}

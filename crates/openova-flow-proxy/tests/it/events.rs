//! POST events (proxy.md §8): T7 body limit, Acceptance 11, and the
//! deadline of Acceptance 12.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;

use crate::common::*;

const MIB: usize = 1_048_576;

/// A valid upsert-flow padded with trailing spaces to exactly `len` bytes
/// (still valid JSON, so the real server accepts it).
fn padded_message(len: usize) -> String {
    let mut m = upsert_flow("d1");
    m.push_str(&" ".repeat(len - m.len()));
    m
}

#[tokio::test]
async fn t7_body_limit_is_one_mib() {
    let up = recording(Router::new().fallback(|| async { r#"{"seq":1}"# })).await;
    let p = proxy(config(&up.url())).await;

    // 1 MiB + 1 with Content-Length: 413 before reading, upstream untouched.
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(vec![b'x'; MIB + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error":"payload too large"}"#
    );

    // 1 MiB + 1 streamed without Content-Length: 413 once the extra byte arrives.
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![b'y'; MIB])),
        Ok(Bytes::from_static(b"z")),
    ];
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(
        up.requests().is_empty(),
        "upstream contacted for an oversized body"
    );

    // Exactly 1 MiB, both ways: forwarded whole.
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(vec![b'x'; MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![b'y'; MIB - 1])),
        Ok(Bytes::from_static(b"z")),
    ];
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = up.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body.len(), MIB);
    assert_eq!(seen[1].body.len(), MIB);
    assert_eq!(seen[1].headers["content-length"], MIB.to_string().as_str());
    assert_eq!(seen[1].body.last(), Some(&b'z'));
}

/// The same limit against the real server: exactly 1 MiB is accepted by the
/// server (same limit as the proxy), one byte more is the proxy's own 413.
#[tokio::test]
async fn t7_real_server_accepts_exactly_one_mib() {
    let server = guarded_flow_server(&[]).await;
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(padded_message(MIB))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(padded_message(MIB + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "the proxy answered, not the server"
    );
    let snap = client()
        .get(format!("{}/v1/flows/d1/snapshot", server.url()))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snap.headers()["flow-event-id"]
            .to_str()
            .unwrap()
            .rsplit_once('-')
            .unwrap()
            .1,
        "1"
    );
}

/// Acceptance 11 with the real server: bodies are not parsed by the proxy
/// (an unknown key and odd whitespace are the server's business) and the
/// server's answers come back unchanged, errors included.
#[tokio::test]
async fn acceptance_11_bodies_and_answers_unchanged() {
    let server = guarded_flow_server(&[]).await;
    let p = proxy(guarded_config(&server.url())).await;
    let send = |body: &'static str, ct: Option<&'static str>| {
        let mut rb = client()
            .post(p.url("/api/v1/flows/d1/events"))
            .bearer_auth(writer())
            .body(body);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        rb.send()
    };
    let resp = send(
        "{ \"type\" : \"upsert-flow\", \"flow\":{\"id\":\"d1\",\"status\":\"running\",\"startedAt\":1}, \"future\": 1 }",
        Some("application/json"),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with("{\"seq\":1,\"epoch\":\"") && text.ends_with("\"}\n"),
        "{text:?}"
    );
    for (body, status) in [
        ("{not json", 400),
        (r#"{"type":"upsert-nodes"}"#, 400),
        (
            r#"{"type":"upsert-nodes","nodes":[{"id":"n1","flowId":"d1","label":"x","status":"running"}]}"#,
            200,
        ),
    ] {
        let direct = post_direct(&server.url(), "d2", body).await;
        let direct_status = direct.status();
        let direct_text = direct.text().await.unwrap();
        let through = send(body, None).await.unwrap();
        assert_eq!(through.status(), status);
        assert_eq!(through.status(), direct_status);
        let through_text = through.text().await.unwrap();
        if status == 400 {
            assert_eq!(through_text, direct_text, "{body}");
        }
    }
}

/// Acceptance 12: an upstream slower than `OPENOVA_FLOW_PROXY_TIMEOUT` is 504
/// on snapshot and events.
#[tokio::test]
async fn acceptance_12_slow_upstream_is_504() {
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "late"
    };
    let up = recording(
        Router::new()
            .route("/v1/flows/{id}/snapshot", get(slow))
            .route("/v1/flows/{id}/events", post(slow)),
    )
    .await;
    let mut cfg = config(&up.url());
    cfg.proxy_timeout = Duration::from_millis(300);
    let p = proxy(cfg).await;
    for (method, path, token) in [
        ("GET", "/api/v1/flows/d1/snapshot", reader()),
        ("POST", "/api/v1/flows/d1/events", writer()),
    ] {
        let started = std::time::Instant::now();
        let resp = client()
            .request(method.parse().unwrap(), p.url(path))
            .bearer_auth(token)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 504, "{path}");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(
            resp.text().await.unwrap(),
            r#"{"error":"openova-flow-server timeout"}"#
        );
    }
    let text = client()
        .get(p.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(
        "openova_flow_proxy_upstream_failures_total{route=\"events\",kind=\"timeout\"} 1"
    ));
    assert!(text.contains("openova_flow_proxy_requests_total{route=\"snapshot\",code=\"504\"} 1"));
}

/// An upstream that accepts the connection and closes it without answering:
/// 502 unreachable, counted as `reset`.
#[tokio::test]
async fn connection_closed_before_a_response_is_502_reset() {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            drop(sock);
        }
    });
    let p = proxy(config(&format!("http://{addr}"))).await;
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(upsert_flow("d1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error":"openova-flow-server unreachable"}"#
    );
    let text = client()
        .get(p.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "openova_flow_proxy_upstream_failures_total{route=\"events\",kind=\"reset\"} 1"
        ),
        "{text}"
    );
    closer.abort();
}

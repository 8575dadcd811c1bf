//! The reference implementation's 11 proxy cases (proxy.md §12, R1–R11),
//! against the real flow server where it can produce the case.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use openova_flow_proxy::{Config, EnvArgs};

use crate::common::*;

#[tokio::test]
async fn r1_snapshot_status_body_and_content_type_pass_through() {
    let server = guarded_flow_server(&[]).await;
    assert_eq!(
        post_direct(&server.url(), "d1", &upsert_flow("d1"))
            .await
            .status(),
        200
    );
    assert_eq!(
        post_direct(&server.url(), "d1", &upsert_node("d1", "n1"))
            .await
            .status(),
        200
    );
    let direct = client()
        .get(format!("{}/v1/flows/d1/snapshot", server.url()))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    let direct_ct = direct.headers()["content-type"].clone();
    let direct_id = direct.headers()["flow-event-id"].clone();
    let direct_body = direct.bytes().await.unwrap();

    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], direct_ct);
    assert_eq!(resp.headers()["flow-event-id"], direct_id);
    assert_eq!(
        resp.headers()["content-length"].to_str().unwrap(),
        direct_body.len().to_string()
    );
    assert_eq!(resp.bytes().await.unwrap(), direct_body);
    let snap: serde_json::Value = serde_json::from_slice(&direct_body).unwrap();
    assert_eq!(snap["flow"]["id"], "d1");
    assert_eq!(snap["nodes"][0]["id"], "n1");
}

#[tokio::test]
async fn r2_snapshot_upstream_404_passes_through() {
    let server = guarded_flow_server(&[]).await;
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "404 page not found\n");
}

/// R3, R7, R10: an empty deploymentId segment reaches the handler and is
/// 400, and the upstream is never contacted.
#[tokio::test]
async fn r3_r7_r10_empty_deployment_id_is_400() {
    let up = recording(Router::new().fallback(|| async { "should not be called" })).await;
    let p = proxy(config(&up.url())).await;
    let token = hs(&writer_claims(&["*"]));
    for (method, path) in [
        ("GET", "/api/v1/flows//snapshot"),
        ("POST", "/api/v1/flows//events"),
        ("GET", "/api/v1/flows//stream"),
        ("GET", "/api/v1/deployments//flow"),
    ] {
        let resp = client()
            .request(method.parse().unwrap(), p.url(path))
            .bearer_auth(&token)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{method} {path}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(
            resp.text().await.unwrap(),
            r#"{"error":"invalid deploymentId"}"#
        );
    }
    assert!(up.requests().is_empty());
}

#[tokio::test]
async fn r4_unreachable_upstream_is_502() {
    let p = proxy(config("http://127.0.0.1:1")).await;
    for (method, path, token) in [
        ("GET", "/api/v1/flows/d1/snapshot", reader()),
        ("POST", "/api/v1/flows/d1/events", writer()),
        ("GET", "/api/v1/flows/d1/stream", reader()),
    ] {
        let resp = client()
            .request(method.parse().unwrap(), p.url(path))
            .bearer_auth(token)
            .body(upsert_flow("d1"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(
            resp.text().await.unwrap(),
            r#"{"error":"openova-flow-server unreachable"}"#
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
        "openova_flow_proxy_upstream_failures_total{route=\"snapshot\",kind=\"unreachable\"} 1"
    ));
}

#[tokio::test]
async fn r5_events_body_byte_for_byte_and_answer_unchanged() {
    // Recording upstream: exact bytes and the answer of the reference test.
    let up = recording(Router::new().route(
        "/v1/flows/{id}/events",
        post(|| async { ([("content-type", "application/json")], r#"{"seq":42}"#) }),
    ))
    .await;
    let p = proxy(config(&up.url())).await;
    let body = "{\"type\":\"upsert-flow\",  \"flow\":{\"id\":\"d1\",\"status\":\"running\",\"startedAt\":1}}\n";
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), r#"{"seq":42}"#);
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/flows/d1/events");
    assert_eq!(seen[0].body, body.as_bytes());
    assert_eq!(
        seen[0].headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        seen[0].headers["content-length"],
        body.len().to_string().as_str()
    );

    // Real server: the event is applied and its answer comes back unchanged.
    let server = guarded_flow_server(&[]).await;
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(upsert_flow("d1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let answer: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(answer["seq"], 1);
    assert!(answer["epoch"].is_string());
}

#[tokio::test]
async fn r6_events_upstream_400_with_its_body() {
    let server = guarded_flow_server(&[]).await;
    let direct = post_direct(&server.url(), "d1", r#"{"type":"banana"}"#).await;
    assert_eq!(direct.status(), 400);
    let direct_body = direct.text().await.unwrap();
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(r#"{"type":"banana"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), direct_body);
}

/// R8: frames arrive one by one, not held back, with the stream headers.
/// Each frame is awaited at the client before the next is emitted, so a
/// proxy that buffered would fail on the first frame.
#[tokio::test]
async fn r8_stream_frames_arrive_separately_with_sse_headers() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let p = proxy(guarded_config(&server.url())).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    let mut sse = SseReader::new(resp);
    let first = sse.event(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame_event(&first), Some("snapshot"));
    assert!(first.starts_with("retry: 2000\n"));

    post_direct(&server.url(), "d1", &upsert_node("d1", "n1")).await;
    let a = sse.event(Duration::from_secs(2)).await.unwrap();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    post_direct(&server.url(), "d1", &upsert_node("d1", "n2")).await;
    let b = sse.event(Duration::from_secs(2)).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!(frame_event(&a), Some("upsert-nodes"));
    assert!(a.contains("\"n1\"") && !a.contains("\"n2\""));
    assert_eq!(frame_event(&b), Some("upsert-nodes"));
    assert!(b.contains("\"n2\""));
}

/// R9: a non-200 stream answer is passed through without SSE headers. The
/// real server answers 404 for an unknown path, reached here through a base
/// URL with a prefix it does not serve.
#[tokio::test]
async fn r9_stream_upstream_404_passes_through() {
    let server = guarded_flow_server(&[]).await;
    let p = proxy(guarded_config(&format!("{}/no-such-prefix", server.url()))).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(resp.headers().get("x-accel-buffering").is_none());
    assert_eq!(resp.text().await.unwrap(), "404 page not found\n");

    // And a recording upstream shows the prefix is kept in the upstream URL.
    let up = recording(Router::new().route(
        "/flow/v1/flows/{id}/stream",
        get(|| async { (http::StatusCode::NOT_FOUND, "nope") }),
    ))
    .await;
    let p = proxy(config(&format!("{}/flow/", up.url()))).await;
    let resp = client()
        .get(p.url("/api/v1/flows/d1/stream"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(up.requests()[0].path, "/flow/v1/flows/d1/stream");
}

#[tokio::test]
async fn r11_default_upstream_is_the_port_80_service() {
    let args = EnvArgs {
        jwt_secret: Some(SECRET.into()),
        ..EnvArgs::default()
    };
    let cfg = Config::from_args(&args).unwrap();
    assert_eq!(
        cfg.server_url.as_str(),
        "http://openova-flow-server.catalyst-system.svc.cluster.local"
    );
    assert!(!cfg.server_url.as_str().contains(":8080"));
    assert_eq!(Config::new(None, None).server_url, cfg.server_url);
}

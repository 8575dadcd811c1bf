//! T4 — the user's credential never goes upstream; only allow-listed headers
//! travel in either direction (proxy.md §7).

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use openova_flow_proxy::Secret;

use crate::common::*;

/// Headers a browser might send, none of which may reach the upstream
/// (apart from those on the route's allow-list).
fn noisy(rb: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    rb.bearer_auth(token)
        .header("cookie", format!("catalyst_session={token}; other=1"))
        .header("x-user-id", "alice")
        .header("x-remote-user", "alice")
        .header("x-forwarded-for", "10.1.2.3")
        .header("accept-encoding", "gzip")
        .header("user-agent", "browser/1.0")
        .header("origin", "https://console.example")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eDp5")
}

fn upstream_answer() -> impl IntoResponse {
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
            ("etag", "\"v1\""),
            ("retry-after", "3"),
            ("flow-event-id", "ep-9"),
            ("set-cookie", "session=upstream"),
            ("x-upstream-secret", "internal"),
            ("www-authenticate", "Bearer"),
        ],
        "{}",
    )
}

/// Allowed request headers per route, beyond what the HTTP client always
/// adds (`host`, and `accept`/`content-length` where relevant).
fn assert_only(seen: &Seen, allowed: &[&str]) {
    for name in seen.headers.keys() {
        assert!(
            allowed.contains(&name.as_str()) || name == "host",
            "{} forwarded to {}: {:?}",
            name,
            seen.path,
            seen.headers[name]
        );
    }
}

#[tokio::test]
async fn t4_no_credential_forwarded_and_allow_listed_headers_only() {
    let up = recording(
        Router::new()
            .route(
                "/v1/flows/{id}/snapshot",
                get(|| async { upstream_answer() }),
            )
            .route(
                "/v1/flows/{id}/events",
                post(|| async { upstream_answer() }),
            )
            .route(
                "/v1/flows/{id}/stream",
                get(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, upstream_answer()) }),
            ),
    )
    .await;
    let mut cfg = config(&up.url());
    cfg.read_token = Some(Secret::new(READ_TOKEN));
    cfg.ingest_token = Some(Secret::new(INGEST_TOKEN));
    let p = proxy(cfg).await;
    let token = writer();
    let q = format!("?access_token={token}&lastEventId=ep-1");

    let snap = noisy(
        client().get(p.url(&format!("/api/v1/flows/d1/snapshot{q}"))),
        &token,
    )
    .header("accept", "application/json, text/plain")
    .send()
    .await
    .unwrap();
    let events = noisy(
        client().post(p.url(&format!("/api/v1/flows/d1/events{q}"))),
        &token,
    )
    .header("content-type", "application/json")
    .body(upsert_flow("d1"))
    .send()
    .await
    .unwrap();
    let stream = noisy(
        client().get(p.url(&format!("/api/v1/flows/d1/stream{q}"))),
        &token,
    )
    .send()
    .await
    .unwrap();

    // Response headers: allow-list only (a non-200 stream answer included).
    assert_eq!(snap.status(), 200);
    assert_eq!(events.status(), 200);
    assert_eq!(stream.status(), 503);
    for resp in [&snap, &events, &stream] {
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["etag"], "\"v1\"");
        assert_eq!(h["retry-after"], "3");
        assert_eq!(h["flow-event-id"], "ep-9");
        assert!(h.get("set-cookie").is_none());
        assert!(h.get("x-upstream-secret").is_none());
        assert!(h.get("www-authenticate").is_none());
    }

    let seen = up.requests();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(
            s.query, None,
            "{}: the client's query is never reused",
            s.path
        );
        assert!(s.headers.get("cookie").is_none());
        for v in s.headers.values() {
            assert!(
                !v.to_str().unwrap_or("").contains(&token),
                "{}: user token leaked",
                s.path
            );
        }
    }
    let (snap_seen, events_seen, stream_seen) = (&seen[0], &seen[1], &seen[2]);
    assert_eq!(snap_seen.path, "/v1/flows/d1/snapshot");
    assert_eq!(
        snap_seen.headers["authorization"],
        format!("Bearer {READ_TOKEN}").as_str()
    );
    assert_eq!(snap_seen.headers["accept"], "application/json, text/plain");
    assert_only(snap_seen, &["accept", "authorization"]);

    assert_eq!(events_seen.path, "/v1/flows/d1/events");
    assert_eq!(
        events_seen.headers["authorization"],
        format!("Bearer {INGEST_TOKEN}").as_str()
    );
    assert_eq!(events_seen.headers["content-type"], "application/json");
    assert_only(
        events_seen,
        &["content-type", "content-length", "authorization", "accept"],
    );

    assert_eq!(stream_seen.path, "/v1/flows/d1/stream");
    assert_eq!(
        stream_seen.headers["authorization"],
        format!("Bearer {READ_TOKEN}").as_str()
    );
    assert_eq!(stream_seen.headers["accept"], "text/event-stream");
    assert_eq!(stream_seen.headers["last-event-id"], "ep-1");
    assert_only(stream_seen, &["accept", "last-event-id", "authorization"]);
}

#[tokio::test]
async fn t4_no_authorization_upstream_when_no_server_token_is_configured() {
    let up = recording(Router::new().fallback(|| async { "{}" })).await;
    let p = proxy(config(&up.url())).await;
    let token = writer();
    noisy(client().get(p.url("/api/v1/flows/d1/snapshot")), &token)
        .send()
        .await
        .unwrap();
    noisy(client().post(p.url("/api/v1/flows/d1/events")), &token)
        .body("{}")
        .send()
        .await
        .unwrap();
    for s in up.requests() {
        assert!(s.headers.get("authorization").is_none(), "{}", s.path);
        assert!(s.headers.get("cookie").is_none(), "{}", s.path);
        assert!(s.headers.get("proxy-authorization").is_none(), "{}", s.path);
    }
    // Snapshot without a client Accept gets application/json.
    let auth = format!("Bearer {token}");
    let (status, _) = raw_request(
        p.served.addr,
        "GET",
        "/api/v1/flows/d1/snapshot",
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        up.requests().last().unwrap().headers["accept"],
        "application/json"
    );
}

/// The real server accepts only its own tokens: through the proxy every
/// route works with the proxy's tokens, and a proxy holding a wrong read
/// token gets the server's 401 passed through unchanged — the user's JWT,
/// which was valid for the proxy, was not what went upstream.
#[tokio::test]
async fn t4_real_server_sees_only_the_proxy_tokens() {
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
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .header("cookie", format!("catalyst_session={}", reader()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let mut wrong = guarded_config(&server.url());
    wrong.read_token = Some(Secret::new("not-the-servers-token"));
    wrong.ingest_token = None;
    let p = proxy(wrong).await;
    let resp = client()
        .get(p.url(&format!(
            "/api/v1/flows/d1/snapshot?access_token={}",
            reader()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(
        resp.headers().get("www-authenticate").is_none(),
        "upstream's header not passed back"
    );
    assert_eq!(resp.text().await.unwrap(), "unauthorized\n");
    let resp = client()
        .post(p.url("/api/v1/flows/d1/events"))
        .bearer_auth(writer())
        .body(upsert_flow("d1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "no ingest token configured: the user's JWT is not a substitute"
    );
}

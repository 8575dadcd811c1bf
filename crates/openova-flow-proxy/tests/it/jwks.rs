//! T2 — JWKS rotation over HTTP, and Acceptance 16 — readiness waits for the
//! JWKS URL.

use std::time::Duration;

use openova_flow_proxy::JwksSource;

use crate::common::*;

#[tokio::test]
async fn t2_rotation_reloads_once_then_rate_limits() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let jwks = jwks_server(&["rsa-a"]).await;
    let mut cfg = guarded_config(&server.url());
    cfg.jwt_secret = None;
    cfg.jwks = Some(JwksSource::Url(jwks.url()));
    let p = proxy(cfg).await;
    let ready = eventually(Duration::from_secs(5), || async {
        client()
            .get(p.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert!(ready.is_some(), "JWKS never loaded");
    assert_eq!(jwks.fetches(), 1);

    // Key A works without any fetch.
    let a = sign("rsa-a", Some("rsa-a"), &claims_for(&["d1"]));
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(jwks.fetches(), 1);

    // The IdP rotates: it now serves A + B and issues tokens signed by B.
    jwks.set(&["rsa-a", "rsa-b"]);
    let b = sign("rsa-b", Some("rsa-b"), &claims_for(&["d1"]));
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(jwks.fetches(), 2, "exactly one reload");
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(jwks.fetches(), 2);

    // Another unknown kid within 60 s: 401 without fetching.
    let c = sign("rsa-other", Some("rsa-other"), &claims_for(&["d1"]));
    let resp = client()
        .get(p.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(jwks.fetches(), 2, "rate-limited: no further fetch");

    let text = client()
        .get(p.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("openova_flow_proxy_jwks_reloads_total{outcome=\"success\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn acceptance_16_readyz_waits_for_the_jwks_url() {
    // Reserve a port, then free it so nothing listens there yet.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config("http://127.0.0.1:1");
    cfg.jwt_secret = None;
    cfg.jwks = Some(JwksSource::Url(format!("http://{addr}/jwks.json")));
    let p = proxy(cfg).await;
    let token = sign("ec-a", Some("ec-a"), &claims_for(&["d1"]));
    for _ in 0..3 {
        let resp = client().get(p.url("/readyz")).send().await.unwrap();
        assert_eq!(resp.status(), 503);
        // Nothing to verify with yet: 401, not a crash or a pass.
        let resp = client()
            .get(p.url("/api/v1/deployments/d1/flow"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(
        client()
            .get(p.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let jwks = jwks_server_on(listener, &["ec-a"]);
    let took = eventually(Duration::from_secs(5), || async {
        client()
            .get(p.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert!(took.is_some(), "readyz never turned 200");
    assert!(jwks.fetches() >= 1);
    let resp = client()
        .get(p.url("/api/v1/deployments/d1/flow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = client()
        .get(p.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("openova_flow_proxy_jwks_reloads_total{outcome=\"failure\"}"),
        "{text}"
    );
}

/// The background refresh lets a key removed from the JWKS stop verifying
/// (every 10 min by default; 100 ms here).
#[tokio::test]
async fn periodic_refresh_retires_removed_keys() {
    let jwks = jwks_server(&["rsa-a", "ed-a"]).await;
    let mut cfg = config("http://127.0.0.1:1");
    cfg.jwt_secret = None;
    cfg.jwks = Some(JwksSource::Url(jwks.url()));
    cfg.jwks_refresh_interval = Duration::from_millis(100);
    let p = proxy(cfg).await;
    let token = sign("ed-a", Some("ed-a"), &claims_for(&["d1"]));
    let status = || async {
        client()
            .get(p.url("/api/v1/deployments/d1/flow"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert!(
        eventually(Duration::from_secs(5), || async { status().await == 200 })
            .await
            .is_some()
    );
    jwks.set(&["rsa-a"]);
    let retired = eventually(Duration::from_secs(5), || async { status().await == 401 }).await;
    assert!(retired.is_some(), "removed key still verifies");
}

/// A JWKS endpoint that fails keeps the previous key set.
#[tokio::test]
async fn failed_refresh_keeps_the_previous_keys() {
    let jwks = jwks_server(&["ec-a"]).await;
    let mut cfg = config("http://127.0.0.1:1");
    cfg.jwt_secret = None;
    cfg.jwks = Some(JwksSource::Url(jwks.url()));
    cfg.jwks_refresh_interval = Duration::from_millis(50);
    let p = proxy(cfg).await;
    assert!(
        eventually(Duration::from_secs(5), || async { p.state.is_ready() })
            .await
            .is_some()
    );
    *jwks.doc.lock().unwrap() = serde_json::json!({"keys": "broken"});
    let failed = eventually(Duration::from_secs(5), || async {
        p.state.metrics().jwks_reloads("failure") >= 2
    })
    .await;
    assert!(failed.is_some());
    let token = sign("ec-a", Some("ec-a"), &claims_for(&["d1"]));
    let resp = client()
        .get(p.url("/api/v1/deployments/d1/flow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

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

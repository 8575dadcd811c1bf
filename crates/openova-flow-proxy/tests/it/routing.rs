//! Routes and routers (Acceptance 1, 10), path injection (T8), the
//! deployments file (T9), the ops routes.

use std::time::Duration;

use axum::Router;
use openova_flow_proxy::{ProxyState, api_router, ops_router};

use crate::common::*;

#[tokio::test]
async fn acceptance_1_routes_live_on_their_own_router() {
    init();
    let state = ProxyState::new(config("http://127.0.0.1:1")).await.unwrap();
    let api = serve(api_router(state.clone())).await;
    let ops = serve(ops_router(state.clone())).await;
    let token = writer();
    let get = |url: String| {
        let token = token.clone();
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        get(format!("{}/api/v1/deployments/d1/flow", api.url())).await,
        200
    );
    assert_eq!(
        get(format!("{}/api/v1/flows/d1/snapshot", api.url())).await,
        502
    );
    assert_eq!(
        get(format!("{}/api/v1/flows/d1/stream", api.url())).await,
        502
    );
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            get(format!("{}{path}", api.url())).await,
            404,
            "{path} on the api router"
        );
        assert_eq!(
            get(format!("{}{path}", ops.url())).await,
            200,
            "{path} on the ops router"
        );
    }
    for path in ["/api/v1/deployments/d1/flow", "/api/v1/flows/d1/snapshot"] {
        assert_eq!(
            get(format!("{}{path}", ops.url())).await,
            404,
            "{path} on the ops router"
        );
    }
    let resp = client()
        .post(format!("{}/api/v1/flows/d1/events", api.url()))
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let p = proxy(config("http://127.0.0.1:1")).await;
    for path in [
        "/api/v1/flows/d1",
        "/api/v1/flows/d1/",
        "/api/v1/flows/d1/snapshot/x",
        "/api/v1/flows/d1/log-lines",
        "/api/v1/deployments/d1",
        "/api/v2/flows/d1/snapshot",
    ] {
        let resp = client().get(p.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    for (method, path) in [
        ("POST", "/api/v1/flows/d1/snapshot"),
        ("GET", "/api/v1/flows/d1/events"),
        ("DELETE", "/api/v1/flows/d1/stream"),
        ("POST", "/api/v1/deployments/d1/flow"),
        ("PUT", "/api/v1/flows//events"),
    ] {
        let resp = client()
            .request(method.parse().unwrap(), p.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method} {path}");
    }
}

#[tokio::test]
async fn acceptance_10_descriptor_with_mount_prefix() {
    let p = proxy(config("http://127.0.0.1:1")).await;
    let resp = client()
        .get(p.url("/api/v1/deployments/5a175e0a88c99cec/flow"))
        .bearer_auth(hs(&claims_for(&["5a175e0a88c99cec"])))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"deploymentId":"5a175e0a88c99cec","openovaFlowEnabled":true,"snapshotUrl":"/api/v1/flows/5a175e0a88c99cec/snapshot","streamUrl":"/api/v1/flows/5a175e0a88c99cec/stream"}"#
    );

    // Nested under a prefix by the host: the URLs carry it.
    let nested = serve(Router::new().nest("/console/api-gw", api_router(p.state.clone()))).await;
    let resp = client()
        .get(format!(
            "{}/console/api-gw/api/v1/deployments/d1/flow",
            nested.url()
        ))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["snapshotUrl"], "/console/api-gw/api/v1/flows/d1/snapshot");
    assert_eq!(v["streamUrl"], "/console/api-gw/api/v1/flows/d1/stream");
    assert_eq!(v.as_object().unwrap().len(), 4);
}

/// T8: ids that could change the upstream URL are 400 before any upstream
/// contact; without a token the answer is 401 first.
#[tokio::test]
async fn t8_path_injection_is_400_and_never_reaches_upstream() {
    let up = recording(Router::new().fallback(|| async { "{}" })).await;
    let p = proxy(config(&up.url())).await;
    let token = hs(&writer_claims(&["*"]));
    let long = "a".repeat(129);
    for id in [
        "a%2Fb",
        "a%2fb",
        "..",
        "%2E%2E",
        ".",
        "a%3Fb",
        "a%23b",
        "x@evil.host",
        "a%20b",
        "%zz",
        "%FF",
        long.as_str(),
    ] {
        let auth = format!("Bearer {token}");
        for (method, route) in [("GET", "snapshot"), ("GET", "stream"), ("POST", "events")] {
            let path = format!("/api/v1/flows/{id}/{route}");
            let (status, body) = raw_request(
                p.served.addr,
                method,
                &path,
                &[("authorization", &auth)],
                "{}",
            )
            .await;
            assert_eq!(status, 400, "{path}");
            assert_eq!(body, r#"{"error":"invalid deploymentId"}"#);
            let (status, _) = raw_request(p.served.addr, method, &path, &[], "{}").await;
            assert_eq!(status, 401, "{path} without a token");
        }
        let path = format!("/api/v1/deployments/{id}/flow");
        let (status, _) =
            raw_request(p.served.addr, "GET", &path, &[("authorization", &auth)], "").await;
        assert_eq!(status, 400, "{path}");
    }
    assert!(up.requests().is_empty(), "{:?}", up.requests());
    // 128 characters is fine and arrives as one segment.
    let ok = "a".repeat(128);
    let resp = client()
        .get(p.url(&format!("/api/v1/flows/{ok}/snapshot")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.requests()[0].path, format!("/v1/flows/{ok}/snapshot"));
}

/// T9: an id with an entry goes to its `serverUrl`, others to the default;
/// a changed file is picked up; a broken edit keeps the previous map.
#[tokio::test]
async fn t9_deployments_file() {
    let default_up = recording(Router::new().fallback(|| async { "default" })).await;
    let tenant_up = recording(Router::new().fallback(|| async { "tenant" })).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("deployments.yaml");
    std::fs::write(
        &file,
        format!("d1:\n  serverUrl: {}/tenant-7/\n", tenant_up.url()),
    )
    .unwrap();
    let mut cfg = config(&default_up.url());
    cfg.deployments_file = Some(file.clone());
    let p = proxy(cfg).await;
    let token = hs(&claims_for(&["*"]));
    let body = |id: &'static str| {
        let token = token.clone();
        let url = p.url(&format!("/api/v1/flows/{id}/snapshot"));
        async move {
            client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(body("d1").await, "tenant");
    assert_eq!(
        tenant_up.requests()[0].path,
        "/tenant-7/v1/flows/d1/snapshot"
    );
    assert_eq!(body("d2").await, "default");
    assert_eq!(default_up.requests()[0].path, "/v1/flows/d2/snapshot");

    // A broken edit is ignored…
    std::fs::write(&file, "d1: [oops\n").unwrap();
    bump_mtime(&file, 5);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(body("d1").await, "tenant");
    // …a valid one is picked up.
    std::fs::write(&file, format!("d2:\n  serverUrl: {}\n", tenant_up.url())).unwrap();
    bump_mtime(&file, 10);
    let switched = eventually(Duration::from_secs(3), || async {
        body("d2").await == "tenant"
    })
    .await;
    assert!(switched.is_some(), "new deployments file not picked up");
    assert_eq!(body("d1").await, "default");
}

fn bump_mtime(path: &std::path::Path, secs: u64) {
    let t = std::time::SystemTime::now() + Duration::from_secs(secs);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[tokio::test]
async fn ops_routes() {
    let p = proxy(config("http://127.0.0.1:1")).await;
    let resp = client().get(p.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok\n");
    let resp = client().get(p.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a secret is key material");
    client()
        .get(p.url("/api/v1/deployments/d1/flow"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    let resp = client().get(p.url("/metrics")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("openova_flow_proxy_requests_total{route=\"descriptor\",code=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("openova_flow_proxy_streams_active 0"));
}

#[tokio::test]
async fn state_construction_checks_key_sources() {
    init();
    let mut cfg = config("http://127.0.0.1:1");
    cfg.jwt_secret = None;
    let err = ProxyState::new(cfg.clone()).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("no token verification key configured"),
        "{err}"
    );
    cfg.jwks = Some(openova_flow_proxy::JwksSource::Url(
        "http://idp.example/jwks".into(),
    ));
    let err = ProxyState::new(cfg).await.unwrap_err();
    assert!(
        err.to_string().starts_with("invalid OPENOVA_FLOW_JWKS_URL"),
        "{err}"
    );
}

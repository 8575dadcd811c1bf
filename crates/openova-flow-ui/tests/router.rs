//! The UI router's HTTP behaviour: content types, cache validators, CSP,
//! status codes for bad input, HEAD and other methods.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use openova_flow_ui::{ASSETS, UiConfig, index_html, index_response, router, router_with};
use tower::ServiceExt;

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn h(headers: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn flow_page_is_html_with_the_flow_and_a_strict_csp() {
    let app: Router = router();
    let (status, headers, body) = call(&app, Method::GET, "/flows/dep-abc.1:x_y", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(h(&headers, header::CACHE_CONTROL), "no-cache");
    assert_eq!(h(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let csp = h(&headers, header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self'"),
        "{csp}"
    );
    assert!(body.contains(r#"data-flow-id="dep-abc.1:x_y""#));
    assert!(body.contains(r#"data-api-base="/v1/flows""#));
    assert!(body.contains(r#"src="../ui/app.mjs""#));
    assert!(!body.contains("{{"), "unsubstituted placeholder");
    assert!(
        !body.contains("<script>") && !body.contains(" style="),
        "inline code would break the CSP"
    );
}

#[tokio::test]
async fn percent_encoded_flow_ids_are_decoded_then_validated() {
    let app: Router = router();
    let (status, _, body) = call(&app, Method::GET, "/flows/a%3Ab", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#"data-flow-id="a:b""#));
    for bad in [
        "/flows/a%2Fb",
        "/flows/a%20b",
        "/flows/%22%3E%3Cscript%3E",
        &format!("/flows/{}", "a".repeat(129)),
    ] {
        let (status, headers, body) = call(&app, Method::GET, bad, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body, "invalid flowId\n");
        assert_eq!(
            h(&headers, header::CONTENT_TYPE),
            "text/plain; charset=utf-8"
        );
    }
}

#[tokio::test]
async fn assets_have_types_etags_and_revalidate() {
    let app: Router = router();
    for a in ASSETS {
        let (status, headers, body) =
            call(&app, Method::GET, &format!("/ui/{}", a.name), &[]).await;
        assert_eq!(status, StatusCode::OK, "{}", a.name);
        assert_eq!(h(&headers, header::CONTENT_TYPE), a.content_type);
        assert_eq!(h(&headers, header::CACHE_CONTROL), "no-cache");
        assert_eq!(h(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(body, a.body);
        let etag = h(&headers, header::ETAG).to_owned();
        let (status, headers, body) = call(
            &app,
            Method::GET,
            &format!("/ui/{}", a.name),
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(h(&headers, header::ETAG), etag);
        assert!(body.is_empty());
        let (status, ..) = call(
            &app,
            Method::GET,
            &format!("/ui/{}", a.name),
            &[("if-none-match", "\"other\"")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let js = ASSETS.iter().find(|a| a.name == "app.mjs").unwrap();
    assert_eq!(js.content_type, "text/javascript; charset=utf-8");
}

#[tokio::test]
async fn unknown_assets_404_and_other_methods_405() {
    let app: Router = router();
    let (status, _, body) = call(&app, Method::GET, "/ui/nope.js", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "404 page not found\n")
    );
    let (status, _, _) = call(&app, Method::GET, "/ui/../Cargo.toml", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (m, uri) in [(Method::POST, "/flows/f1"), (Method::DELETE, "/ui/app.mjs")] {
        let (status, headers, body) = call(&app, m, uri, &[]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(h(&headers, header::ALLOW), "GET, HEAD");
        assert_eq!(body, "method not allowed\n");
    }
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let app: Router = router();
    let (status, headers, body) = call(&app, Method::HEAD, "/flows/f1", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn proxy_configuration_changes_the_api_base_only() {
    let app: Router = router_with(UiConfig::new("/api/v1/flows").unwrap());
    let (_, headers, body) = call(&app, Method::GET, "/flows/5a175e0a88c99cec", &[]).await;
    assert!(body.contains(r#"data-api-base="/api/v1/flows""#));
    assert!(h(&headers, header::CONTENT_SECURITY_POLICY).contains("connect-src 'self';"));
    let app: Router = router_with(UiConfig::new("http://127.0.0.1:9999/v1/flows").unwrap());
    let (_, headers, body) = call(&app, Method::GET, "/flows/f", &[]).await;
    assert!(body.contains(r#"data-api-base="http://127.0.0.1:9999/v1/flows""#));
    assert!(
        h(&headers, header::CONTENT_SECURITY_POLICY)
            .contains("connect-src 'self' http://127.0.0.1:9999;")
    );
}

#[tokio::test]
async fn router_merges_into_a_host_with_state() {
    #[derive(Clone)]
    struct HostState;
    let app: Router = Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .merge(router::<HostState>())
        .with_state(HostState);
    let (status, ..) = call(&app, Method::GET, "/flows/f1", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ..) = call(&app, Method::GET, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn index_is_the_page_without_a_flow() {
    let html = index_html();
    assert!(html.contains(r#"data-flow-id="""#));
    assert!(html.contains(r#"src="ui/app.mjs""#));
    let resp = index_response(&UiConfig::default());
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        h(resp.headers(), header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert!(!h(resp.headers(), header::CONTENT_SECURITY_POLICY).is_empty());
}

//! TLS towards the upstream: verified by default, skipped only with
//! `OPENOVA_FLOW_TLS_SKIP_VERIFY`, which never applies to the JWKS fetch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use openova_flow_proxy::JwksSource;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::common::*;

/// A TLS listener with the self-signed fixture certificate, for `axum::serve`.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((sock, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(sock).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn https(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    init();
    let cert = CertificateDer::from(std::fs::read(fixture_path("tls-cert.der")).unwrap());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        std::fs::read(fixture_path("tls-key.der")).unwrap(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

#[tokio::test]
async fn upstream_tls_is_verified_unless_skip_verify() {
    let (addr, task) =
        https(Router::new().route("/v1/flows/{id}/snapshot", get(|| async { "over tls" }))).await;
    let url = format!("https://{addr}");

    let strict = proxy(config(&url)).await;
    let resp = client()
        .get(strict.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        502,
        "a self-signed upstream must not be trusted by default"
    );

    let mut cfg = config(&url);
    cfg.tls_skip_verify = true;
    let lax = proxy(cfg).await;
    let resp = client()
        .get(lax.url("/api/v1/flows/d1/snapshot"))
        .bearer_auth(reader())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "over tls");
    task.abort();
}

#[tokio::test]
async fn jwks_fetch_always_verifies_tls() {
    let doc = jwks_doc(&["ec-a"]).to_string();
    let (addr, task) =
        https(Router::new().route("/jwks.json", get(move || async move { doc }))).await;
    let mut cfg = config("http://127.0.0.1:1");
    cfg.jwt_secret = None;
    cfg.tls_skip_verify = true;
    cfg.jwks = Some(JwksSource::Url(format!(
        "https://127.0.0.1:{}/jwks.json",
        addr.port()
    )));
    let p = proxy(cfg).await;
    let failures = eventually(Duration::from_secs(5), || async {
        p.state.metrics().jwks_reloads("failure") >= 2
    })
    .await;
    assert!(failures.is_some(), "the JWKS fetch never failed");
    assert!(!p.state.is_ready());
    assert_eq!(p.state.metrics().jwks_reloads("success"), 0);
    task.abort();
}

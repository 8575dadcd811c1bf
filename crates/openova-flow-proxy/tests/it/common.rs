//! Test harness: fixture keys and token minting, the proxy served on a
//! loopback port, the real flow server (in-process), a JWKS endpoint, and a
//! recording upstream for the cases the real server cannot produce
//! (a slow or silent upstream, exact header capture).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt as _;
use http::HeaderMap;
use http_body_util::BodyExt as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use openova_flow_proxy::{Config, JwksSource, ProxyState, Secret, api_router, ops_router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const SECRET: &str = "integration-test-hs256-secret";
pub const READ_TOKEN: &str = "server-read-token";
pub const INGEST_TOKEN: &str = "server-ingest-token";

/// Serialises the tests whose assertions are deadlines (latency, prompt
/// close), so two of them never compete for the two CPU cores.
pub static TIMING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn public_jwk(name: &str) -> Value {
    let all: Value =
        serde_json::from_slice(&std::fs::read(fixture_path("jwks-public-keys.json")).unwrap())
            .unwrap();
    all[name].clone()
}

pub fn jwks_doc(names: &[&str]) -> Value {
    json!({ "keys": names.iter().map(|n| public_jwk(n)).collect::<Vec<_>>() })
}

pub fn now() -> i64 {
    i64::try_from(get_current_timestamp()).unwrap()
}

/// Waits until the wall clock is early in a second. JWT times are whole
/// seconds, so "`nbf` 31 s ahead" only stays 31 s ahead if the token is
/// checked within the second it was minted in; tests of that boundary start
/// here so a busy machine has ~900 ms instead of a random fraction.
pub async fn start_of_second() {
    let sub = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    if sub > 100 {
        tokio::time::sleep(Duration::from_millis(u64::from(1005 - sub))).await;
    }
}

/// Claims that may read `deployments`, valid for five minutes.
pub fn claims_for(deployments: &[&str]) -> Value {
    json!({"sub":"alice","exp": now() + 300, "deployments": deployments})
}

/// Read + write (`scope: flow:write`) on `deployments`.
pub fn writer_claims(deployments: &[&str]) -> Value {
    let mut c = claims_for(deployments);
    c["scope"] = "openid flow:write".into();
    c
}

/// Signs with fixture key `name` (rsa-*, ec-*, ed-*), header `kid` = `kid`.
pub fn sign(name: &str, kid: Option<&str>, claims: &Value) -> String {
    let pem = std::fs::read(fixture_path(&format!("{name}.pem"))).unwrap();
    let (key, alg) = if name.starts_with("rsa") {
        (EncodingKey::from_rsa_pem(&pem).unwrap(), Algorithm::RS256)
    } else if name.starts_with("ec") {
        (EncodingKey::from_ec_pem(&pem).unwrap(), Algorithm::ES256)
    } else {
        (EncodingKey::from_ed_pem(&pem).unwrap(), Algorithm::EdDSA)
    };
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &key).unwrap()
}

/// HS256 with the test secret.
pub fn hs(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A read token for `d1` (HS256).
pub fn reader() -> String {
    hs(&claims_for(&["d1"]))
}

/// A read + write token for `d1` (HS256).
pub fn writer() -> String {
    hs(&writer_claims(&["d1"]))
}

/// A configuration with the HS256 secret, the upstream `server_url`, and
/// short test intervals.
pub fn config(server_url: &str) -> Config {
    let mut c = Config::new(None, Some(Secret::new(SECRET)));
    c.server_url = openova_flow_proxy::BaseUrl::parse(server_url).unwrap();
    c.jwks_initial_retry = Duration::from_millis(50);
    c.deployments_check_interval = Duration::from_millis(50);
    c
}

/// Writes a JWKS file with the given fixture keys and adds it to `c` (whose
/// HS256 secret is kept only if `with_secret`).
pub fn config_with_jwks_file(
    mut c: Config,
    dir: &Path,
    names: &[&str],
    with_secret: bool,
) -> Config {
    let path = dir.join("jwks.json");
    std::fs::write(&path, jwks_doc(names).to_string()).unwrap();
    c.jwks = Some(JwksSource::File(path));
    if !with_secret {
        c.jwt_secret = None;
    }
    c
}

/// Something served on a loopback port until dropped.
pub struct Served {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Served {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(router: Router) -> Served {
    serve_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), router)
}

pub fn serve_on(listener: TcpListener, router: Router) -> Served {
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served { addr, task }
}

/// The proxy (api + ops routers) on a loopback port.
pub struct Proxy {
    pub served: Served,
    pub state: ProxyState,
}

impl Proxy {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.served.url())
    }
}

pub async fn proxy(config: Config) -> Proxy {
    init();
    let state = ProxyState::new(config).await.unwrap();
    let app = api_router(state.clone()).merge(ops_router(state.clone()));
    Proxy {
        served: serve(app).await,
        state,
    }
}

pub fn client() -> reqwest::Client {
    init();
    reqwest::Client::builder().build().unwrap()
}

/// The real flow server, in-process.
pub async fn flow_server(args: &[&str]) -> openova_flow_server::testing::TestServer {
    openova_flow_server::testing::start(args).await.unwrap()
}

/// The real flow server with its own read and ingest tokens, so that only a
/// request carrying exactly those is accepted.
pub async fn guarded_flow_server(extra: &[&str]) -> openova_flow_server::testing::TestServer {
    let mut args = vec!["--read-token", READ_TOKEN, "--ingest-token", INGEST_TOKEN];
    args.extend_from_slice(extra);
    flow_server(&args).await
}

/// Proxy configuration for [`guarded_flow_server`].
pub fn guarded_config(server_url: &str) -> Config {
    let mut c = config(server_url);
    c.read_token = Some(Secret::new(READ_TOKEN));
    c.ingest_token = Some(Secret::new(INGEST_TOKEN));
    c
}

/// POSTs a message straight to the flow server (not through the proxy).
pub async fn post_direct(server_url: &str, flow: &str, body: &str) -> reqwest::Response {
    client()
        .post(format!("{server_url}/v1/flows/{flow}/events"))
        .bearer_auth(INGEST_TOKEN)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

pub fn upsert_flow(id: &str) -> String {
    format!(r#"{{"type":"upsert-flow","flow":{{"id":"{id}","status":"running","startedAt":1}}}}"#)
}

pub fn upsert_node(flow: &str, node: &str) -> String {
    format!(
        r#"{{"type":"upsert-nodes","nodes":[{{"id":"{node}","flowId":"{flow}","label":"x","status":"running"}}]}}"#
    )
}

/// Reads the value of an unlabelled metric from a Prometheus text page.
pub async fn metric(url: &str, name: &str) -> Option<f64> {
    let text = client().get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Polls `f` until it returns true or `deadline` passes; returns the time taken.
pub async fn eventually<F, Fut>(deadline: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// One request as an upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An upstream whose `router` answers, recording every request first.
pub struct Recording {
    pub served: Served,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recording {
    pub fn url(&self) -> String {
        self.served.url()
    }
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub async fn recording(router: Router) -> Recording {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    let app = router.layer(axum::middleware::from_fn(
        move |req: Request, next: axum::middleware::Next| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                log.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().map(str::to_owned),
                    headers: parts.headers.clone(),
                    body: bytes.clone(),
                });
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        },
    ));
    Recording {
        served: serve(app).await,
        seen,
    }
}

/// A JWKS endpoint whose document can be replaced, counting fetches.
pub struct JwksServer {
    pub served: Served,
    pub doc: Arc<Mutex<Value>>,
    pub fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub fn url(&self) -> String {
        format!("{}/jwks.json", self.served.url())
    }
    pub fn set(&self, names: &[&str]) {
        *self.doc.lock().unwrap() = jwks_doc(names);
    }
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

pub async fn jwks_server(names: &[&str]) -> JwksServer {
    jwks_server_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), names)
}

pub fn jwks_server_on(listener: TcpListener, names: &[&str]) -> JwksServer {
    let doc = Arc::new(Mutex::new(jwks_doc(names)));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (d, f) = (doc.clone(), fetches.clone());
    let router = Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (d, f) = (d.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let body = d.lock().unwrap().to_string();
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap()
            }
        }),
    );
    JwksServer {
        served: serve_on(listener, router),
        doc,
        fetches,
    }
}

/// Reads an SSE response chunk by chunk.
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    pub buf: String,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            stream: resp.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next chunk as it arrived, or `None` at the end of the body.
    pub async fn chunk(&mut self, deadline: Duration) -> Option<Bytes> {
        match tokio::time::timeout(deadline, self.stream.next()).await {
            Ok(Some(Ok(b))) => Some(b),
            Ok(Some(Err(e))) => panic!("stream error: {e}"),
            Ok(None) => None,
            Err(_) => panic!("no chunk within {deadline:?}"),
        }
    }

    /// The next complete SSE frame (up to a blank line), heartbeats included.
    pub async fn frame(&mut self, deadline: Duration) -> Option<String> {
        let start = Instant::now();
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let frame = self.buf[..i + 2].to_owned();
                self.buf.drain(..i + 2);
                return Some(frame);
            }
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_default();
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(Some(Ok(b))) => self.buf.push_str(std::str::from_utf8(&b).unwrap()),
                Ok(Some(Err(e))) => panic!("stream error: {e}"),
                Ok(None) => return None,
                Err(_) => panic!("no complete frame within {deadline:?}; have {:?}", self.buf),
            }
        }
    }

    /// The next frame that is not a heartbeat.
    pub async fn event(&mut self, deadline: Duration) -> Option<String> {
        let start = Instant::now();
        loop {
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_default();
            let f = self.frame(left).await?;
            if !f.contains("event: heartbeat\n") {
                return Some(f);
            }
        }
    }

    /// Whether the body ends within `deadline` (frames read meanwhile are dropped).
    pub async fn ends_within(&mut self, deadline: Duration) -> bool {
        let start = Instant::now();
        loop {
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_default();
            match tokio::time::timeout(left, self.stream.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => {}
                Err(_) => return false,
            }
        }
    }
}

/// The `id:` line of a frame.
pub fn frame_id(frame: &str) -> Option<&str> {
    frame.lines().find_map(|l| l.strip_prefix("id: "))
}

/// The `event:` line of a frame.
pub fn frame_event(frame: &str) -> Option<&str> {
    frame.lines().find_map(|l| l.strip_prefix("event: "))
}

/// Sends one HTTP/1.1 request with the path exactly as given (no client-side
/// normalisation of `..` or `%2E%2E`), returns status and body.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

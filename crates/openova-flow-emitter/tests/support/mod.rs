//! Test support: a recording, fault-injecting HTTP proxy in front of the real
//! in-process flow server, HelmRelease fixtures and polling helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

/// What the proxy does with the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status (not forwarded).
    Status(u16),
    /// Answer 429 with this `Retry-After` value (not forwarded).
    TooMany(&'static str),
    /// Forward, then drop the connection instead of answering.
    Drop,
    /// Wait, then forward.
    Delay(Duration),
}

/// One request as seen by the proxy.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub raw_len: usize,
    pub status: u16,
    pub at: Instant,
}

impl Recorded {
    /// The FlowMessage `type` of a POST, if any.
    pub fn msg_type(&self) -> Option<&str> {
        self.body.get("type").and_then(Value::as_str)
    }
}

#[derive(Debug, Default)]
struct ProxyState {
    upstream: String,
    faults: VecDeque<Fault>,
    log: Vec<Recorded>,
}

/// A recording, fault-injecting proxy on 127.0.0.1:0.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let state = Arc::new(Mutex::new(ProxyState {
            upstream: upstream.to_owned(),
            ..ProxyState::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(forward).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    pub fn log(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// The POSTs to the events route, in order.
    pub fn posts(&self) -> Vec<Recorded> {
        self.log()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
            .collect()
    }

    /// The POSTs the server accepted (2xx).
    pub fn accepted_posts(&self) -> Vec<Recorded> {
        self.posts()
            .into_iter()
            .filter(|r| r.status / 100 == 2)
            .collect()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Acceptance 10: no request ever carried a `snapshot` message.
    pub fn assert_no_snapshot_posted(&self) {
        assert!(
            self.posts()
                .iter()
                .all(|r| r.msg_type() != Some("snapshot")),
            "an emitter posted a snapshot"
        );
    }
}

async fn forward(State(state): State<Arc<Mutex<ProxyState>>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let auth = req.headers().get("authorization").cloned();
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let (fault, upstream) = {
        let mut s = state.lock().unwrap();
        (s.faults.pop_front(), s.upstream.clone())
    };
    let record = |status: u16| Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        raw_len: bytes.len(),
        status,
        at: Instant::now(),
    };
    match fault {
        Some(Fault::Status(code)) => {
            state.lock().unwrap().log.push(record(code));
            return (StatusCode::from_u16(code).unwrap(), "injected\n").into_response();
        }
        Some(Fault::TooMany(ra)) => {
            state.lock().unwrap().log.push(record(429));
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down\n").into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from_static(ra));
            return r;
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Drop) | None => {}
    }
    let client = http();
    let mut rb = client.request(method.clone(), format!("{upstream}{path_q}"));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    if !bytes.is_empty() {
        rb = rb
            .header("content-type", "application/json")
            .body(bytes.clone());
    }
    let resp = match rb.send().await {
        Ok(r) => r,
        Err(_) => {
            state.lock().unwrap().log.push(record(502));
            return (StatusCode::BAD_GATEWAY, "upstream down\n").into_response();
        }
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    state.lock().unwrap().log.push(record(status));
    if matches!(fault, Some(Fault::Drop)) {
        let stream = futures::stream::iter(vec![
            Ok::<Bytes, std::io::Error>(Bytes::from_static(b"{")),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "dropped",
            )),
        ]);
        return Response::builder()
            .status(200)
            .body(Body::from_stream(stream))
            .unwrap();
    }
    let mut out = Response::builder().status(status);
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            out = out.header(k, v);
        }
    }
    out.body(Body::from(body)).unwrap()
}

/// A plain HTTP client for tests (installs the ring provider first).
pub fn http() -> reqwest::Client {
    openova_flow_emitter::install_crypto_provider();
    reqwest::Client::new()
}

/// Polls `cond` every 20 ms until it yields `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut cond: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET the server snapshot as JSON (`None` on 404).
pub async fn snapshot(server_url: &str, flow: &str) -> Option<Value> {
    let r = http()
        .get(format!("{server_url}/v1/flows/{flow}/snapshot"))
        .send()
        .await
        .unwrap();
    if r.status() == 404 {
        return None;
    }
    assert!(r.status().is_success(), "snapshot status {}", r.status());
    Some(r.json().await.unwrap())
}

/// Node statuses of a snapshot by id.
pub fn statuses(snap: &Value) -> std::collections::BTreeMap<String, String> {
    snap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Relationship keys of a snapshot as `(from, to, type)`.
pub fn rels(snap: &Value) -> Vec<(String, String, String)> {
    snap["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["fromId"].as_str().unwrap().to_owned(),
                r["toId"].as_str().unwrap().to_owned(),
                r["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A HelmRelease object; `ready` is `None` (no status), or the Ready
/// condition's status and reason.
pub fn hr(name: &str, ready: Option<(&str, &str)>, deps: &[&str]) -> Value {
    let conditions: Vec<Value> = ready
        .map(|(s, r)| {
            json!({"type": "Ready", "status": s, "reason": r, "message": format!("{r} for {name}"),
                   "lastTransitionTime": "2025-01-01T00:00:00Z"})
        })
        .into_iter()
        .collect();
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
        "spec": {
            "interval": "5m",
            "chart": {"spec": {"chart": name, "version": "1.0.0", "sourceRef": {"kind": "HelmRepository", "name": "openova"}}},
            "dependsOn": deps.iter().map(|d| json!({"name": d})).collect::<Vec<_>>()
        },
        "status": {"observedGeneration": 1, "conditions": conditions}
    })
}

pub const SUCCEEDED: Option<(&str, &str)> = Some(("True", "InstallSucceeded"));
pub const RUNNING: Option<(&str, &str)> = Some(("Unknown", "Progressing"));

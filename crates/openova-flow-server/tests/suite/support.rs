//! HTTP + SSE helpers for the acceptance suite.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Once;
use std::time::Duration;

use openova_flow_contract::sse::{Frame, FrameParser};
use openova_flow_server::testing::TestServer;
use serde_json::Value;

/// Generous bound for anything that should happen "soon".
pub const WAIT: Duration = Duration::from_secs(10);

/// How a server under test is started; the suite runs once per backend.
pub trait Starter: Sync {
    /// `memory` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Starts a server with these extra CLI-style args.
    fn start<'a>(
        &'a self,
        args: &'a [&'a str],
    ) -> Pin<Box<dyn Future<Output = TestServer> + Send + 'a>>;
}

/// The in-memory backend.
pub struct Memory;

impl Starter for Memory {
    fn backend(&self) -> &'static str {
        "memory"
    }
    fn start<'a>(
        &'a self,
        args: &'a [&'a str],
    ) -> Pin<Box<dyn Future<Output = TestServer> + Send + 'a>> {
        Box::pin(async move {
            openova_flow_server::testing::start(args)
                .await
                .expect("start memory server")
        })
    }
}

/// Skips memory-only clauses on other backends, saying so.
pub fn memory_only(s: &dyn Starter, clause: &str) -> bool {
    if s.backend() == "memory" {
        return true;
    }
    println!("SKIP {clause}: memory backend only");
    false
}

pub fn http() -> reqwest::Client {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client")
}

/// A client bound to one server.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

/// A finished response: status, headers, body text.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
    /// `(seq, epoch)` of a POST events answer.
    pub fn seq_epoch(&self) -> (u64, String) {
        assert_eq!(self.status, 200, "{}", self.body);
        let v = self.json();
        (
            v["seq"].as_u64().expect("seq"),
            v["epoch"].as_str().expect("epoch").to_owned(),
        )
    }
}

impl Client {
    pub fn new(server: &TestServer) -> Self {
        Client {
            http: http(),
            base: server.url(),
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Resp {
        self.send(self.http.post(self.url(path)).body(body)).await
    }

    /// POST one event to a flow.
    pub async fn post(&self, flow: &str, body: &str) -> Resp {
        self.post_raw(&format!("/v1/flows/{flow}/events"), body.to_owned())
            .await
    }

    /// POST that must succeed; returns `(seq, epoch)`.
    pub async fn post_ok(&self, flow: &str, body: &str) -> (u64, String) {
        self.post(flow, body).await.seq_epoch()
    }

    pub async fn delete(&self, flow: &str) -> Resp {
        self.send(self.http.delete(self.url(&format!("/v1/flows/{flow}"))))
            .await
    }

    pub async fn snapshot(&self, flow: &str) -> Resp {
        self.get(&format!("/v1/flows/{flow}/snapshot")).await
    }

    /// Opens a stream; panics unless 200.
    pub async fn stream(&self, flow: &str) -> Sse {
        self.stream_with(flow, None, "").await
    }

    /// Opens a stream with an optional `Last-Event-ID` and a query string.
    pub async fn stream_with(&self, flow: &str, last_event_id: Option<&str>, query: &str) -> Sse {
        let mut req = self
            .http
            .get(self.url(&format!("/v1/flows/{flow}/stream{query}")));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let resp = req.send().await.expect("stream request");
        assert_eq!(resp.status().as_u16(), 200, "stream status");
        Sse::new(resp)
    }
}

/// An open SSE response being read frame by frame.
pub struct Sse {
    pub resp: reqwest::Response,
    parser: FrameParser,
    pending: VecDeque<Frame>,
    /// Every body byte received so far.
    pub raw: Vec<u8>,
    eof: bool,
}

impl Sse {
    pub fn new(resp: reqwest::Response) -> Self {
        Sse {
            resp,
            parser: FrameParser::new(),
            pending: VecDeque::new(),
            raw: Vec::new(),
            eof: false,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.resp
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The next frame (heartbeats included); `None` at the end of the body.
    /// Panics if nothing arrives within [`WAIT`].
    pub async fn next(&mut self) -> Option<Frame> {
        self.next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no SSE frame within {WAIT:?}"))
    }

    /// `Some(frame or end)` or `None` if nothing arrived within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Option<Option<Frame>> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(Some(f));
            }
            if self.eof {
                return Some(None);
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return None,
                Ok(Ok(Some(bytes))) => {
                    self.raw.extend_from_slice(&bytes);
                    self.pending.extend(self.parser.push(&bytes));
                }
                Ok(Ok(None)) | Ok(Err(_)) => self.eof = true,
            }
        }
    }

    /// The next frame that is not a heartbeat; panics at the end of the body.
    pub async fn next_event(&mut self) -> Frame {
        loop {
            let f = self.next().await.expect("stream ended");
            if f.event != "heartbeat" {
                return f;
            }
        }
    }

    /// Asserts the body ends (after any remaining frames) within [`WAIT`].
    pub async fn expect_end(&mut self) {
        while self.next().await.is_some() {}
    }
}

/// Parses a frame's data as JSON.
pub fn data(f: &Frame) -> Value {
    serde_json::from_str(&f.data).unwrap_or_else(|e| panic!("{e}: {:?}", f.data))
}

/// The seq of an `<epoch>-<seq>` id.
pub fn seq_of(f: &Frame) -> u64 {
    let id = f.id.as_deref().expect("id line");
    id.rsplit_once('-')
        .and_then(|(_, s)| s.parse().ok())
        .unwrap_or_else(|| panic!("bad id {id}"))
}

pub fn upsert_node(id: &str) -> String {
    format!(
        r#"{{"type":"upsert-nodes","nodes":[{{"id":"{id}","label":"{id}","status":"running"}}]}}"#
    )
}

pub fn upsert_flow(id: &str) -> String {
    format!(r#"{{"type":"upsert-flow","flow":{{"id":"{id}","status":"running","startedAt":1}}}}"#)
}

/// Polls `f` until it returns true, up to [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if f().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! The flow-server client: `POST …/events` and `GET …/snapshot`, classified
//! into the outcomes the engine acts on (emitter.md §6–§7).

use std::future::Future;
use std::time::{Duration, SystemTime};

use openova_flow_contract::{FlowInstance, FlowMessage, FlowNode, Relationship, decode_message};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use crate::backoff::parse_retry_after;
use crate::config::Secret;

/// First bytes of a rejected response body that are logged.
pub const LOGGED_BODY_BYTES: usize = 1024;

/// What one POST ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// 2xx; `epoch` from `{"seq":n,"epoch":"…"}` when present.
    Accepted { epoch: Option<String> },
    /// Network error, timeout, 5xx, 408 or 429: retry after a wait.
    Retry {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Any other 4xx: log and drop.
    Rejected { status: u16, body: String },
}

/// A server snapshot as far as the emitter cares.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSnapshot {
    pub flow: FlowInstance,
    pub nodes: Vec<FlowNode>,
    pub relationships: Vec<Relationship>,
}

impl ServerSnapshot {
    /// `true` when `flow` is the placeholder a server synthesises for an
    /// incarnation that never received a flow object (`open`, `startedAt` 0).
    pub fn is_placeholder(&self) -> bool {
        self.flow.status == "open" && self.flow.started_at == 0
    }
}

/// What one snapshot GET ended in.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOutcome {
    Found(Box<ServerSnapshot>),
    NotFound,
    /// 401/403: skip the check.
    Unauthorized {
        status: u16,
    },
    Retry {
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Any other 4xx, or a 200 body that is not a snapshot.
    Rejected {
        status: u16,
        body: String,
    },
}

/// The two requests the engine makes. Implemented over HTTP by
/// [`HttpFlowClient`]; the trait keeps the engine independent of transport.
pub trait FlowApi: Send + Sync + 'static {
    fn post(&self, msg: &FlowMessage) -> impl Future<Output = PostOutcome> + Send;
    fn snapshot(&self) -> impl Future<Output = SnapshotOutcome> + Send;
}

/// Percent-encodes one URL path segment (RFC 3986 unreserved characters and
/// `:` stay as they are).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Classifies an HTTP status for POST/GET retries.
pub fn is_retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

fn first_bytes(body: &str) -> String {
    let mut end = body.len().min(LOGGED_BODY_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_owned()
}

/// Reads the epoch out of a POST response body.
pub fn epoch_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("epoch")?.as_str().map(str::to_owned)
}

/// The reqwest implementation.
#[derive(Debug, Clone)]
pub struct HttpFlowClient {
    http: reqwest::Client,
    events_url: String,
    snapshot_url: String,
    token: Option<Secret>,
}

impl HttpFlowClient {
    /// `base_url` without trailing `/`; `timeout` is the total deadline of
    /// one request.
    pub fn new(
        base_url: &str,
        flow_id: &str,
        token: Option<Secret>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("openova-flow-emitter/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let flow = encode_segment(flow_id);
        Ok(HttpFlowClient {
            http,
            events_url: format!("{base_url}/v1/flows/{flow}/events"),
            snapshot_url: format!("{base_url}/v1/flows/{flow}/snapshot"),
            token,
        })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.header(AUTHORIZATION, format!("Bearer {}", t.expose())),
            None => rb,
        }
    }
}

impl FlowApi for HttpFlowClient {
    async fn post(&self, msg: &FlowMessage) -> PostOutcome {
        let body = msg.to_canonical_json();
        let req = self
            .auth(self.http.post(&self.events_url))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return PostOutcome::Retry {
                    retry_after: None,
                    reason: transport_reason(&e),
                };
            }
        };
        let status = resp.status();
        let ra = retry_after(resp.headers());
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return PostOutcome::Retry {
                    retry_after: None,
                    reason: transport_reason(&e),
                };
            }
        };
        if status.is_success() {
            PostOutcome::Accepted {
                epoch: epoch_of(&bytes),
            }
        } else if is_retryable_status(status.as_u16()) || !status.is_client_error() {
            PostOutcome::Retry {
                retry_after: ra,
                reason: format!("HTTP {}", status.as_u16()),
            }
        } else {
            PostOutcome::Rejected {
                status: status.as_u16(),
                body: first_bytes(&String::from_utf8_lossy(&bytes)),
            }
        }
    }

    async fn snapshot(&self) -> SnapshotOutcome {
        let resp = match self.auth(self.http.get(&self.snapshot_url)).send().await {
            Ok(r) => r,
            Err(e) => {
                return SnapshotOutcome::Retry {
                    retry_after: None,
                    reason: transport_reason(&e),
                };
            }
        };
        let status = resp.status();
        let ra = retry_after(resp.headers());
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return SnapshotOutcome::Retry {
                    retry_after: None,
                    reason: transport_reason(&e),
                };
            }
        };
        match status {
            s if s.is_success() => match decode_message(&bytes) {
                Ok(FlowMessage::Snapshot {
                    flow,
                    nodes,
                    relationships,
                }) => SnapshotOutcome::Found(Box::new(ServerSnapshot {
                    flow,
                    nodes,
                    relationships,
                })),
                Ok(other) => SnapshotOutcome::Rejected {
                    status: s.as_u16(),
                    body: format!("expected a snapshot, got {}", other.message_type()),
                },
                Err(e) => SnapshotOutcome::Rejected {
                    status: s.as_u16(),
                    body: first_bytes(&e.to_string()),
                },
            },
            StatusCode::NOT_FOUND => SnapshotOutcome::NotFound,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SnapshotOutcome::Unauthorized {
                status: status.as_u16(),
            },
            s if is_retryable_status(s.as_u16()) || !s.is_client_error() => {
                SnapshotOutcome::Retry {
                    retry_after: ra,
                    reason: format!("HTTP {}", s.as_u16()),
                }
            }
            s => SnapshotOutcome::Rejected {
                status: s.as_u16(),
                body: first_bytes(&String::from_utf8_lossy(&bytes)),
            },
        }
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        // Without the URL: it is not secret, but the error chain is enough.
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_encoding() {
        assert_eq!(encode_segment("dep-abc.x_y:z"), "dep-abc.x_y:z");
        assert_eq!(encode_segment("a/b c%"), "a%2Fb%20c%25");
    }

    #[test]
    fn status_classes() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn epoch_and_placeholder() {
        assert_eq!(
            epoch_of(br#"{"seq":3,"epoch":"q7Xk2mPz"}"#).as_deref(),
            Some("q7Xk2mPz")
        );
        assert_eq!(epoch_of(br#"{"seq":3}"#), None);
        assert_eq!(epoch_of(b"garbage"), None);
        let mut s = ServerSnapshot {
            flow: FlowInstance::synthesised("f"),
            nodes: vec![],
            relationships: vec![],
        };
        assert!(s.is_placeholder());
        s.flow.started_at = 5;
        assert!(!s.is_placeholder());
    }

    #[test]
    fn logged_body_is_cut_on_a_char_boundary() {
        let body = "é".repeat(600);
        let cut = first_bytes(&body);
        assert!(cut.len() <= LOGGED_BODY_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}

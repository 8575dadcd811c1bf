//! HTTP access to a flow server (or the proxy: the same `/v1/flows/…` routes
//! under its `/api` prefix). Every failure is one line saying what, where,
//! and how to fix it.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Response, StatusCode};

/// Header carrying a snapshot's event id (server.md §3.4).
pub const FLOW_EVENT_ID: &str = "flow-event-id";

/// A flow API endpoint plus optional bearer token.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
    http: Client,
}

/// Timeout of one snapshot/POST exchange (streams have none).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Api {
    /// `server` is the base URL (`http://localhost:8080`, or the proxy's
    /// `https://console.example.org/api`); `/v1/flows/<id>/…` is appended.
    pub fn new(server: &str, token: Option<String>) -> Result<Self> {
        let base = server.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(|| {
                anyhow!(
                    "invalid --server / OPENOVA_FLOW_SERVER {server:?}: expected an http:// or https:// URL such as http://localhost:8080"
                )
            })?;
        if rest.is_empty() || rest.contains(['?', '#', ' ']) {
            bail!(
                "invalid --server / OPENOVA_FLOW_SERVER {server:?}: expected an http:// or https:// URL without query, such as http://localhost:8080"
            );
        }
        // reqwest is built without a default provider; the workspace's is
        // ring. Installing twice is a no-op (the binary also does it first).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Api {
            base: base.to_owned(),
            token: token.filter(|t| !t.is_empty()),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `<base>/v1/flows/<flowId>/<resource>`.
    pub fn url(&self, flow_id: &str, resource: &str) -> String {
        format!("{}/v1/flows/{flow_id}/{resource}", self.base)
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self
            .token
            .as_deref()
            .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            Some(mut v) => {
                v.set_sensitive(true);
                req.header(AUTHORIZATION, v)
            }
            None => req,
        }
    }

    /// The snapshot body (canonical JSON + `\n`) and its `Flow-Event-Id`.
    pub async fn snapshot(&self, flow_id: &str) -> Result<(String, Option<String>)> {
        let url = self.url(flow_id, "snapshot");
        let resp = self
            .auth(self.http.get(&url).timeout(REQUEST_TIMEOUT))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unreachable_error("GET", &url, &e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            bail!(
                "GET {url}: 404: flow {flow_id} does not exist on {} (nothing posted yet, or deleted/evicted)",
                self.base
            );
        }
        let resp = ensure_ok("GET", &url, resp).await?;
        let id = resp
            .headers()
            .get(FLOW_EVENT_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp
            .text()
            .await
            .map_err(|e| anyhow!("GET {url}: reading the body failed: {e}"))?;
        Ok((body, id))
    }

    /// POSTs one body to `events` or `log-lines`; returns the response body.
    pub async fn post(&self, flow_id: &str, resource: &str, body: Vec<u8>) -> Result<String> {
        let url = self.url(flow_id, resource);
        let resp = self
            .auth(self.http.post(&url).timeout(REQUEST_TIMEOUT))
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable_error("POST", &url, &e))?;
        let resp = ensure_ok("POST", &url, resp).await?;
        resp.text()
            .await
            .map_err(|e| anyhow!("POST {url}: reading the response failed: {e}"))
    }

    /// Opens the SSE stream, resuming after `last_event_id` when given.
    /// Returns the 200 response; other statuses are errors ([`StreamError`]).
    pub async fn open_stream(
        &self,
        flow_id: &str,
        last_event_id: Option<&str>,
    ) -> Result<Response, StreamError> {
        let url = self.url(flow_id, "stream");
        let mut req = self
            .auth(self.http.get(&url))
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| StreamError::Retry(unreachable_error("GET", &url, &e).to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = body_excerpt(resp).await;
        let line = format!("GET {url}: {}{text}", status.as_u16());
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(StreamError::Fatal(format!("{line}{}", TOKEN_HINT)));
        }
        if status.is_client_error()
            && status != StatusCode::TOO_MANY_REQUESTS
            && status != StatusCode::REQUEST_TIMEOUT
        {
            return Err(StreamError::Fatal(line));
        }
        Err(StreamError::Retry(line))
    }
}

const TOKEN_HINT: &str = " (pass a read token with --token or OPENOVA_FLOW_TOKEN)";

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Worth retrying (network, 5xx, 429).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (401, 403, 400, 404 …).
    #[error("{0}")]
    Fatal(String),
}

fn unreachable_error(method: &str, url: &str, e: &reqwest::Error) -> anyhow::Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    anyhow!(
        "{method} {url}: {what} ({}); check --server / OPENOVA_FLOW_SERVER",
        root_cause(e)
    )
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

async fn body_excerpt(resp: Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    let one_line: String = text
        .trim()
        .replace(['\n', '\r'], " ")
        .chars()
        .take(300)
        .collect();
    if one_line.is_empty() {
        String::new()
    } else {
        format!(" {one_line}")
    }
}

async fn ensure_ok(method: &str, url: &str, resp: Response) -> Result<Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let hint = if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        TOKEN_HINT
    } else {
        ""
    };
    bail!(
        "{method} {url}: {}{}{hint}",
        status.as_u16(),
        body_excerpt(resp).await
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_server_validation() {
        let api = Api::new("http://localhost:8080/", None).unwrap();
        assert_eq!(
            api.url("dep-1", "stream"),
            "http://localhost:8080/v1/flows/dep-1/stream"
        );
        let proxy = Api::new("https://console.example.org/api", Some(String::new())).unwrap();
        assert_eq!(
            proxy.url("a:b", "snapshot"),
            "https://console.example.org/api/v1/flows/a:b/snapshot"
        );
        assert!(proxy.token.is_none(), "an empty token is no token");
        for bad in ["localhost:8080", "ftp://x", "http://", "http://h/?q=1"] {
            let e = Api::new(bad, None).unwrap_err().to_string();
            assert!(e.contains("OPENOVA_FLOW_SERVER"), "{e}");
        }
    }
}

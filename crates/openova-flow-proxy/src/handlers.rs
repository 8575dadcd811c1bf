//! The four `/api/v1` routes (proxy.md §2, §4, §7–§9).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt as _;
use http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName, RETRY_AFTER,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Serialize;

use crate::auth::token::{Credential, find_credential};
use crate::auth::{Claims, Unauthenticated, may_read, may_write};
use crate::config::MAX_EVENTS_BODY_BYTES;
use crate::error::ProxyError;
use crate::ids::{DeploymentId, query_param, raw_id_segment};
use crate::metrics::{AuthFailure, UpstreamFailure};
use crate::state::ProxyState;
use crate::upstream::{Op, upstream_url};

/// The snapshot's current event id, passed back so a console can resume.
pub const FLOW_EVENT_ID: HeaderName = HeaderName::from_static("flow-event-id");
/// Request header carrying the SSE resume point.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// Stops nginx-style buffering of the stream.
pub const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");
/// Longest `Last-Event-ID` forwarded.
pub const MAX_LAST_EVENT_ID: usize = 256;

/// Upstream response headers passed back (snapshot, events, non-200 stream).
const PASSED_BACK: [HeaderName; 5] = [
    CONTENT_TYPE,
    CACHE_CONTROL,
    ETAG,
    RETRY_AFTER,
    FLOW_EVENT_ID,
];

/// A proxied route, as named in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/v1/flows/{id}/snapshot`
    Snapshot,
    /// `GET /api/v1/flows/{id}/stream`
    Stream,
    /// `POST /api/v1/flows/{id}/events`
    Events,
    /// `GET /api/v1/deployments/{id}/flow`
    Descriptor,
}

impl Route {
    /// Metric / log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Snapshot => "snapshot",
            Route::Stream => "stream",
            Route::Events => "events",
            Route::Descriptor => "descriptor",
        }
    }
}

/// What the access log line needs, filled as the request progresses.
#[derive(Debug, Default)]
struct LogCtx {
    deployment_id: Option<String>,
    sub: Option<String>,
}

/// A request that passed authentication, validation and authorisation.
struct Admitted {
    id: DeploymentId,
}

impl ProxyState {
    /// Authenticate (401) → validate the id (400) → authorise (403).
    async fn admit(
        &self,
        route: Route,
        parts: &Parts,
        ctx: &mut LogCtx,
    ) -> Result<Admitted, ProxyError> {
        let claims = match self.authenticate(parts).await {
            Ok(c) => c,
            Err(u) => {
                self.inner.metrics.auth_failure(u.reason);
                return Err(ProxyError::Unauthenticated(u));
            }
        };
        ctx.sub = claims.sub().map(str::to_owned);
        let id = DeploymentId::from_raw_segment(raw_id_segment(parts.uri.path()))
            .map_err(|_| ProxyError::InvalidId)?;
        ctx.deployment_id = Some(id.as_str().to_owned());
        let allowed = may_read(&claims, &self.inner.config.deployments_claim, id.as_str())
            && (route != Route::Events || may_write(&claims));
        if !allowed {
            self.inner.metrics.auth_failure(AuthFailure::Forbidden);
            return Err(ProxyError::Forbidden);
        }
        Ok(Admitted { id })
    }

    async fn authenticate(&self, parts: &Parts) -> Result<Claims, Unauthenticated> {
        match find_credential(&parts.headers, parts.uri.query()) {
            Credential::None => Err(Unauthenticated {
                reason: AuthFailure::Missing,
                presented: false,
            }),
            Credential::Unusable => Err(Unauthenticated {
                reason: AuthFailure::Invalid,
                presented: true,
            }),
            Credential::Token(token, _) => self.inner.auth.verify(&token).await,
        }
    }

    fn upstream_failed(&self, route: Route, e: &reqwest::Error) -> ProxyError {
        let kind = classify(e);
        self.inner.metrics.upstream_failure(route.as_str(), kind);
        tracing::warn!(route = route.as_str(), kind = kind.as_str(), error = %error_chain(e), "upstream call failed");
        ProxyError::Upstream(kind)
    }

    fn finish(&self, route: Route, ctx: &LogCtx, status: StatusCode, started: Instant) {
        self.inner.metrics.request(route.as_str(), status.as_u16());
        tracing::info!(
            route = route.as_str(),
            deploymentId = ctx.deployment_id.as_deref().unwrap_or(""),
            status = status.as_u16(),
            durationMs = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            sub = ctx.sub.as_deref().unwrap_or(""),
            "request"
        );
    }

    fn bearer(&self, rb: reqwest::RequestBuilder, op: Op) -> reqwest::RequestBuilder {
        let token = match op {
            Op::Events => &self.inner.config.ingest_token,
            Op::Snapshot | Op::Stream => &self.inner.config.read_token,
        };
        match token {
            Some(t) => rb.bearer_auth(t.expose()),
            None => rb,
        }
    }

    fn url(&self, id: &DeploymentId, op: Op) -> String {
        upstream_url(&self.inner.upstreams.base_for(id), id, op)
    }
}

/// Runs a handler body, turns its error into the JSON answer, counts and logs.
async fn run<F>(st: &ProxyState, route: Route, f: F) -> Response
where
    F: AsyncFnOnce(&mut LogCtx) -> Result<Response, ProxyError>,
{
    let started = Instant::now();
    let mut ctx = LogCtx::default();
    let resp = match f(&mut ctx).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    st.finish(route, &ctx, resp.status(), started);
    resp
}

/// `GET /api/v1/flows/{deploymentId}/snapshot`
pub(crate) async fn snapshot(State(st): State<ProxyState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    run(&st, Route::Snapshot, async |ctx| {
        let adm = st.admit(Route::Snapshot, &parts, ctx).await?;
        let accept = parts
            .headers
            .get(ACCEPT)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let rb = st
            .inner
            .client
            .get(st.url(&adm.id, Op::Snapshot))
            .header(ACCEPT, accept)
            .timeout(st.inner.config.proxy_timeout);
        let resp = st
            .bearer(rb, Op::Snapshot)
            .send()
            .await
            .map_err(|e| st.upstream_failed(Route::Snapshot, &e))?;
        Ok(pass_through(resp))
    })
    .await
}

/// `POST /api/v1/flows/{deploymentId}/events`
pub(crate) async fn events(State(st): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    run(&st, Route::Events, async |ctx| {
        let adm = st.admit(Route::Events, &parts, ctx).await?;
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_EVENTS_BODY_BYTES as u64) {
            return Err(ProxyError::PayloadTooLarge);
        }
        let bytes = read_limited(body, MAX_EVENTS_BODY_BYTES).await?;
        let mut rb = st
            .inner
            .client
            .post(st.url(&adm.id, Op::Events))
            .timeout(st.inner.config.proxy_timeout);
        if let Some(ct) = parts.headers.get(CONTENT_TYPE) {
            rb = rb.header(CONTENT_TYPE, ct.clone());
        }
        let resp = st
            .bearer(rb.body(bytes), Op::Events)
            .send()
            .await
            .map_err(|e| st.upstream_failed(Route::Events, &e))?;
        Ok(pass_through(resp))
    })
    .await
}

/// Reads at most `limit` bytes; one more is 413.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ProxyError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ProxyError::PayloadTooLarge)
        }
        Err(_) => Err(ProxyError::BadBody),
    }
}

/// `GET /api/v1/flows/{deploymentId}/stream`
pub(crate) async fn stream(State(st): State<ProxyState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    run(&st, Route::Stream, async |ctx| {
        let adm = st.admit(Route::Stream, &parts, ctx).await?;
        let idle = st.inner.config.stream_idle_timeout;
        let mut rb = st
            .inner
            .client
            .get(st.url(&adm.id, Op::Stream))
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id(&parts.headers, parts.uri.query()) {
            rb = rb.header(LAST_EVENT_ID, id);
        }
        let send = st.bearer(rb, Op::Stream).send();
        let resp = match tokio::time::timeout(idle, send).await {
            Ok(r) => r.map_err(|e| st.upstream_failed(Route::Stream, &e))?,
            Err(_) => {
                st.inner
                    .metrics
                    .upstream_failure(Route::Stream.as_str(), UpstreamFailure::Timeout);
                return Err(ProxyError::Upstream(UpstreamFailure::Timeout));
            }
        };
        if resp.status() != StatusCode::OK {
            return Ok(pass_through(resp));
        }
        Ok(sse_response(&st, resp, idle))
    })
    .await
}

/// The resume point: the `Last-Event-ID` header, else (absent or empty) the
/// `lastEventId` query parameter; dropped when over 256 bytes or not a valid
/// header value.
pub fn last_event_id(headers: &HeaderMap, query: Option<&str>) -> Option<HeaderValue> {
    let value = match headers.get(LAST_EVENT_ID).filter(|v| !v.is_empty()) {
        Some(v) => v.clone(),
        None => HeaderValue::from_str(&query_param(query, "lastEventId")?).ok()?,
    };
    (!value.is_empty() && value.len() <= MAX_LAST_EVENT_ID).then_some(value)
}

/// 200 with exactly the stream headers; each upstream chunk is forwarded as
/// it arrives. Ends on upstream EOF or error, after `idle` without a chunk,
/// or at shutdown. Dropping the body (client gone) drops the upstream
/// response and so closes its connection.
fn sse_response(st: &ProxyState, resp: reqwest::Response, idle: Duration) -> Response {
    struct Pump {
        upstream: futures::stream::BoxStream<'static, reqwest::Result<Bytes>>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        idle: Duration,
        _open: crate::metrics::StreamGuard,
    }
    let pump = Pump {
        upstream: resp.bytes_stream().boxed(),
        shutdown: st.inner.shutdown.subscribe(),
        idle,
        _open: st.inner.metrics.stream_opened(),
    };
    let body = futures::stream::unfold(pump, |mut p| async move {
        let next = tokio::select! {
            biased;
            _ = p.shutdown.wait_for(|stop| *stop) => return None,
            next = tokio::time::timeout(p.idle, p.upstream.next()) => next,
        };
        match next {
            Ok(Some(Ok(chunk))) => Some((Ok::<Bytes, Infallible>(chunk), p)),
            Ok(Some(Err(e))) => {
                tracing::info!(error = %error_chain(&e), "upstream stream failed; ending the response");
                None
            }
            Ok(None) => None,
            Err(_) => {
                tracing::info!(
                    idleSecs = p.idle.as_secs_f64(),
                    "upstream stream idle; ending the response"
                );
                None
            }
        }
    });
    let mut out = Response::new(Body::from_stream(body));
    let h = out.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(X_ACCEL_BUFFERING, HeaderValue::from_static("no"));
    out
}

/// Upstream status, allow-listed headers and the body, streamed unchanged
/// (its exact length, when known, becomes the `Content-Length`).
fn pass_through(resp: reqwest::Response) -> Response {
    let status = resp.status();
    let mut headers = HeaderMap::new();
    for name in PASSED_BACK {
        for v in resp.headers().get_all(&name) {
            headers.append(name.clone(), v.clone());
        }
    }
    let body = Body::new(reqwest::Body::from(resp));
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// The deployment descriptor of proxy.md §2.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    deployment_id: String,
    openova_flow_enabled: bool,
    snapshot_url: String,
    stream_url: String,
}

/// `GET /api/v1/deployments/{deploymentId}/flow`
pub(crate) async fn descriptor(State(st): State<ProxyState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    run(&st, Route::Descriptor, async |ctx| {
        let adm = st.admit(Route::Descriptor, &parts, ctx).await?;
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |o| o.0.path().to_owned());
        let prefix = mount_prefix(&original, parts.uri.path());
        let seg = adm.id.to_path_segment();
        let d = Descriptor {
            deployment_id: adm.id.as_str().to_owned(),
            openova_flow_enabled: true,
            snapshot_url: format!("{prefix}/api/v1/flows/{seg}/snapshot"),
            stream_url: format!("{prefix}/api/v1/flows/{seg}/stream"),
        };
        let body = serde_json::to_string(&d).unwrap_or_default();
        Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

/// The path the router is nested under: the original path minus the path
/// the router saw.
pub fn mount_prefix<'a>(original_path: &'a str, router_path: &str) -> &'a str {
    original_path
        .strip_suffix(router_path)
        .map_or("", |p| p.trim_end_matches('/'))
}

fn classify(e: &reqwest::Error) -> UpstreamFailure {
    if e.is_timeout() {
        UpstreamFailure::Timeout
    } else if e.is_connect() {
        UpstreamFailure::Unreachable
    } else {
        UpstreamFailure::Reset
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_event_id_header_wins_and_limits_apply() {
        let mut h = HeaderMap::new();
        assert_eq!(last_event_id(&h, None), None);
        assert_eq!(last_event_id(&h, Some("lastEventId=ep-7")).unwrap(), "ep-7");
        h.insert(LAST_EVENT_ID, HeaderValue::from_static(""));
        assert_eq!(
            last_event_id(&h, Some("lastEventId=ep-7")).unwrap(),
            "ep-7",
            "an empty header counts as absent"
        );
        assert_eq!(last_event_id(&h, None), None);
        assert_eq!(last_event_id(&HeaderMap::new(), Some("lastEventId=")), None);
        h.insert(LAST_EVENT_ID, HeaderValue::from_static("ep-9"));
        assert_eq!(last_event_id(&h, Some("lastEventId=ep-7")).unwrap(), "ep-9");
        h.insert(
            LAST_EVENT_ID,
            HeaderValue::from_str(&"x".repeat(256)).unwrap(),
        );
        assert!(last_event_id(&h, None).is_some());
        h.insert(
            LAST_EVENT_ID,
            HeaderValue::from_str(&"x".repeat(257)).unwrap(),
        );
        assert_eq!(last_event_id(&h, None), None);
        let h = HeaderMap::new();
        assert_eq!(
            last_event_id(&h, Some(&format!("lastEventId={}", "y".repeat(257)))),
            None
        );
        // Not a valid header value (a newline) → dropped.
        assert_eq!(last_event_id(&h, Some("lastEventId=a%0Ab")), None);
    }

    #[test]
    fn mount_prefix_is_what_the_host_added() {
        assert_eq!(
            mount_prefix("/api/v1/deployments/d/flow", "/api/v1/deployments/d/flow"),
            ""
        );
        assert_eq!(
            mount_prefix(
                "/console/api/v1/deployments/d/flow",
                "/api/v1/deployments/d/flow"
            ),
            "/console"
        );
        assert_eq!(mount_prefix("/weird", "/api/v1/deployments/d/flow"), "");
    }
}

//! The HTTP surface (server.md §2–§6).
//!
//! One fallback handler routes every request by hand, so the exact rules of
//! §2 hold: no path normalisation, 404 before 405 (with `Allow`), then auth
//! (401), flowId (400), body size (413), decoding (400), capacity, backend.
//! The routing, auth and negotiation helpers are pure functions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use openova_flow_contract::event_id::pick_last_event_id;
use openova_flow_contract::log_lines::{decode_log_lines, lines_response_json};
use openova_flow_contract::{decode_message, is_valid_flow_id};

use crate::auth::{TokenSet, bearer_token};
use crate::backend::{Backend, BackendError, LogQuery};
use crate::config::{Config, CorsOrigins};
use crate::metrics::{self, Metrics};
use crate::stream::{SseBody, SubscriberLimiter};

/// Serves the built-in UI page for `GET /` when the client prefers HTML
/// (§3.1). Installed with [`AppState::set_ui`]; without it `/` is JSON only.
pub type UiHandler = Arc<dyn Fn(&http::request::Parts) -> Response + Send + Sync>;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    ingest_auth: Option<TokenSet>,
    read_auth: Option<TokenSet>,
    subscribers: Arc<SubscriberLimiter>,
    shutting_down: AtomicBool,
    ui: OnceLock<UiHandler>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.0.backend.kind())
            .field("subscribers", &self.0.subscribers.open())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(config: Config, backend: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Self {
        let subscribers = SubscriberLimiter::new(config.max_subscribers, Arc::clone(&metrics));
        AppState(Arc::new(Inner {
            ingest_auth: config.ingest_tokens.as_ref().map(TokenSet::new),
            read_auth: config.read_tokens.as_ref().map(TokenSet::new),
            config,
            backend,
            metrics,
            subscribers,
            shutting_down: AtomicBool::new(false),
            ui: OnceLock::new(),
        }))
    }

    /// Installs the UI page served to browsers on `GET /`. Only the first
    /// call has an effect.
    pub fn set_ui(&self, ui: UiHandler) {
        let _ = self.0.ui.set(ui);
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.0.backend
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// Open SSE streams.
    pub fn open_streams(&self) -> usize {
        self.0.subscribers.open()
    }

    /// Shutdown steps 1–2: `/readyz` answers 503, every stream ends.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
        self.0.backend.begin_shutdown();
    }
}

/// The router: one fallback handler routes every request (see the module
/// docs), except the UI page (`/flows/{flowId}`, `/ui/…`, and `GET /` for
/// browsers, §3.1) served by `openova-flow-ui`.
pub fn app(state: AppState) -> Router {
    let ui_config = openova_flow_ui::UiConfig::default();
    state.set_ui(Arc::new(move |_| {
        openova_flow_ui::index_response(&ui_config)
    }));
    Router::new()
        .merge(openova_flow_ui::router())
        .fallback(dispatch)
        .with_state(state)
}

/// A routed path (§2). Flow ids are still raw (percent-encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Root,
    Healthz,
    Readyz,
    Metrics,
    Events(&'a str),
    Snapshot(&'a str),
    Stream(&'a str),
    LogLines(&'a str),
    Flow(&'a str),
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthClass {
    Open,
    Ingest,
    Read,
}

impl<'a> Route<'a> {
    /// Exact matching, no normalisation; `None` → 404.
    pub fn parse(path: &'a str) -> Option<Route<'a>> {
        match path {
            "/" => return Some(Route::Root),
            "/healthz" => return Some(Route::Healthz),
            "/readyz" => return Some(Route::Readyz),
            "/metrics" => return Some(Route::Metrics),
            _ => {}
        }
        let rest = path.strip_prefix("/v1/flows/")?;
        let mut parts = rest.split('/');
        let id = parts.next().filter(|id| !id.is_empty())?;
        let route = match parts.next() {
            None => Route::Flow(id),
            Some("events") => Route::Events(id),
            Some("snapshot") => Route::Snapshot(id),
            Some("stream") => Route::Stream(id),
            Some("log-lines") => Route::LogLines(id),
            Some(_) => return None,
        };
        parts.next().is_none().then_some(route)
    }

    /// The `Allow` header value: the methods of this path.
    pub fn allow(self) -> &'static str {
        match self {
            Route::Events(_) => "POST",
            Route::LogLines(_) => "GET, HEAD, POST",
            Route::Flow(_) => "DELETE",
            _ => "GET, HEAD",
        }
    }

    pub fn allows(self, m: &Method) -> bool {
        match self {
            Route::Events(_) => m == Method::POST,
            Route::LogLines(_) => m == Method::GET || m == Method::HEAD || m == Method::POST,
            Route::Flow(_) => m == Method::DELETE,
            _ => m == Method::GET || m == Method::HEAD,
        }
    }

    pub fn auth_class(self, m: &Method) -> AuthClass {
        match self {
            Route::Root | Route::Healthz | Route::Readyz | Route::Metrics => AuthClass::Open,
            Route::Events(_) | Route::Flow(_) => AuthClass::Ingest,
            Route::LogLines(_) if m == Method::POST => AuthClass::Ingest,
            Route::Snapshot(_) | Route::Stream(_) | Route::LogLines(_) => AuthClass::Read,
        }
    }

    fn flow_id(self) -> Option<&'a str> {
        match self {
            Route::Events(id)
            | Route::Snapshot(id)
            | Route::Stream(id)
            | Route::LogLines(id)
            | Route::Flow(id) => Some(id),
            _ => None,
        }
    }
}

/// Percent-decodes a path segment and checks the flowId rule; `None` → 400.
pub fn decode_flow_id(raw: &str) -> Option<String> {
    let decoded = percent_decode(raw, false)?;
    is_valid_flow_id(&decoded).then_some(decoded)
}

/// Percent-decoding (`+` → space in query strings). `None` on a bad escape
/// or invalid UTF-8.
pub fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The first value of query parameter `name`, decoded (`None` if absent or
/// undecodable).
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k, true)? == name).then(|| percent_decode(v, true))?
    })
}

/// The query string with `access_token` values replaced by `***` (for logs).
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if percent_decode(k, true).as_deref() == Some("access_token") => {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// §3.1: `true` when `Accept` names `text/html` explicitly with q > 0 and at
/// least the q applying to `application/json`.
pub fn prefers_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut html, mut json, mut app_any, mut any) = (None, None, None, None);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let slot = match media.as_str() {
            "text/html" => &mut html,
            "application/json" => &mut json,
            "application/*" => &mut app_any,
            "*/*" => &mut any,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(q);
        }
    }
    let html = html.unwrap_or(0.0);
    let json = json.or(app_any).or(any).unwrap_or(0.0);
    html > 0.0 && html >= json
}

/// An error response: text + `\n`, plain text, nosniff; 503 adds `Retry-After: 1`.
pub fn text_response(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if status.is_server_error() {
        r.extensions_mut().insert(ErrorText(text.to_owned()));
    }
    r
}

/// The text of a 5xx, for the error log line.
#[derive(Debug, Clone)]
struct ErrorText(String);

fn not_found() -> Response {
    text_response(StatusCode::NOT_FOUND, "404 page not found")
}

fn body_response(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn backend_error(op: &str, e: BackendError) -> Response {
    match e {
        BackendError::FlowTooLarge => {
            text_response(StatusCode::PAYLOAD_TOO_LARGE, "flow too large")
        }
        BackendError::TooManyFlows => {
            text_response(StatusCode::SERVICE_UNAVAILABLE, "too many flows")
        }
        BackendError::Unavailable => {
            text_response(StatusCode::SERVICE_UNAVAILABLE, "backend unavailable")
        }
        BackendError::ShuttingDown => {
            text_response(StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down")
        }
        BackendError::Failed(detail) => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("{op} failed: {detail}"),
        ),
    }
}

const FLOW_EVENT_ID: HeaderName = HeaderName::from_static("flow-event-id");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Every request.
async fn dispatch(State(st): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(redact_query);
    let origin =
        st.0.config
            .cors_origins
            .as_ref()
            .and_then(|c| allowed_origin(c, req.headers().get(header::ORIGIN)));
    let mut resp = route(&st, req).await;
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Flow-Event-Id"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let status = resp.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let logged_path = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    if let Some(ErrorText(error)) = resp.extensions().get::<ErrorText>() {
        tracing::error!(method = %method, path = %logged_path, status, error = %error, "request failed");
    } else {
        tracing::debug!(method = %method, path = %logged_path, status, durationMs = duration_ms, "request served");
    }
    resp
}

fn allowed_origin(cors: &CorsOrigins, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
    let origin = origin?;
    match cors {
        CorsOrigins::Any => Some(HeaderValue::from_static("*")),
        CorsOrigins::List(list) => {
            let o = origin.to_str().ok()?;
            list.iter().any(|l| l == o).then(|| origin.clone())
        }
    }
}

async fn route(st: &AppState, req: Request) -> Response {
    let method = req.method().clone();
    if st.0.config.cors_origins.is_some()
        && method == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight();
    }
    let path = req.uri().path().to_owned();
    let Some(route) = Route::parse(&path) else {
        return not_found();
    };
    if !route.allows(&method) {
        let mut r = text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(route.allow()));
        return r;
    }
    let is_ingest_post = matches!(route, Route::Events(_));
    let resp = authorized_route(st, route, req).await;
    if is_ingest_post && resp.status() != StatusCode::OK {
        st.0.metrics.ingest_error(resp.status().as_u16());
    }
    resp
}

async fn authorized_route(st: &AppState, route: Route<'_>, req: Request) -> Response {
    let method = req.method().clone();
    let tokens = match route.auth_class(&method) {
        AuthClass::Open => None,
        AuthClass::Ingest => st.0.ingest_auth.as_ref(),
        AuthClass::Read => st.0.read_auth.as_ref(),
    };
    if let Some(tokens) = tokens {
        let header_ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .is_some_and(|t| tokens.matches(t));
        let query_ok = route.auth_class(&method) == AuthClass::Read
            && query_param(req.uri().query(), "access_token").is_some_and(|t| tokens.matches(&t));
        if !header_ok && !query_ok {
            let mut r = text_response(StatusCode::UNAUTHORIZED, "unauthorized");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    let flow_id = match route.flow_id() {
        Some(raw) => match decode_flow_id(raw) {
            Some(id) => id,
            None => return text_response(StatusCode::BAD_REQUEST, "invalid flowId"),
        },
        None => String::new(),
    };
    match route {
        Route::Root => root(st, req),
        Route::Healthz => text_ok("ok"),
        Route::Readyz => readyz(st),
        Route::Metrics => body_response(
            metrics::CONTENT_TYPE,
            st.0.metrics.render(st.0.backend.flows_active()),
        ),
        Route::Events(_) => post_events(st, &flow_id, req).await,
        Route::Snapshot(_) => snapshot(st, &flow_id).await,
        Route::Stream(_) => stream(st, &flow_id, req).await,
        Route::LogLines(_) if method == Method::POST => post_log_lines(st, &flow_id, req).await,
        Route::LogLines(_) => {
            get_log_lines(st, &flow_id, req.uri().query().map(str::to_owned)).await
        }
        Route::Flow(_) => delete(st, &flow_id).await,
    }
}

fn text_ok(text: &str) -> Response {
    body_response("text/plain; charset=utf-8", format!("{text}\n"))
}

fn preflight() -> Response {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, last-event-id"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// The `GET /` descriptor (§3.1), with its trailing newline.
pub fn descriptor_json(backend: &str) -> String {
    format!(
        concat!(
            r#"{{"service":"openova-flow-server","description":"OpenovaFlow HTTP+SSE event router.","#,
            r#""docs":"https://docs.openova.io/openova-flow","version":"{version}","backend":"{backend}","#,
            r#""endpoints":{{"healthz":"GET /healthz","readyz":"GET /readyz","metrics":"GET /metrics","#,
            r#""ingest":"POST /v1/flows/{{flowId}}/events","snapshot":"GET /v1/flows/{{flowId}}/snapshot","#,
            r#""stream":"GET /v1/flows/{{flowId}}/stream (SSE)","logLinesAppend":"POST /v1/flows/{{flowId}}/log-lines","#,
            r#""logLinesList":"GET /v1/flows/{{flowId}}/log-lines","delete":"DELETE /v1/flows/{{flowId}}"}}}}"#,
            "\n"
        ),
        version = env!("CARGO_PKG_VERSION"),
        backend = backend
    )
}

fn root(st: &AppState, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if let Some(ui) = st.0.ui.get()
        && prefers_html(accept)
    {
        let mut r = ui(&parts);
        r.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
        return r;
    }
    let mut r = body_response(
        "application/json; charset=utf-8",
        descriptor_json(st.0.backend.kind().as_str()),
    );
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    r
}

fn readyz(st: &AppState) -> Response {
    if st.0.shutting_down.load(Ordering::SeqCst) {
        return text_response(StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down");
    }
    match st.0.backend.readiness() {
        Ok(()) => text_ok("ok"),
        Err(reason) => text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("not ready: {reason}"),
        ),
    }
}

enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads a request body of at most `max` bytes; a larger `Content-Length`
/// is refused without reading.
async fn read_body(req: Request, max: usize) -> Result<Bytes, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(req.into_body(), max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

async fn post_events(st: &AppState, flow_id: &str, req: Request) -> Response {
    let started = Instant::now();
    let body = match read_body(req, st.0.config.max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return text_response(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
        }
        Err(BodyError::Read(e)) => {
            return text_response(StatusCode::BAD_REQUEST, &format!("decode FlowMessage: {e}"));
        }
    };
    let msg = match decode_message(&body) {
        Ok(m) => m,
        Err(e) => return text_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let event_type = msg.message_type();
    match st.0.backend.publish(flow_id, msg).await {
        Ok(p) => {
            st.0.metrics.event_ingested(event_type, started.elapsed());
            body_response(
                "application/json",
                format!("{{\"seq\":{},\"epoch\":\"{}\"}}\n", p.seq, p.epoch),
            )
        }
        Err(e) => backend_error("append", e),
    }
}

async fn snapshot(st: &AppState, flow_id: &str) -> Response {
    match st.0.backend.snapshot(flow_id).await {
        Ok(Some(s)) => {
            let mut body = Vec::with_capacity(s.json.len() + 1);
            body.extend_from_slice(&s.json);
            body.push(b'\n');
            let mut r = body_response("application/json", body);
            if let Ok(v) = HeaderValue::from_str(&s.id.to_string()) {
                r.headers_mut().insert(FLOW_EVENT_ID, v);
            }
            r
        }
        Ok(None) => not_found(),
        Err(e) => backend_error("snapshot read", e),
    }
}

fn sse_headers(r: &mut Response, version: Version) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    if version == Version::HTTP_11 {
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
}

async fn stream(st: &AppState, flow_id: &str, req: Request) -> Response {
    let version = req.version();
    if req.method() == Method::HEAD {
        let mut r = Response::new(Body::empty());
        sse_headers(&mut r, version);
        return r;
    }
    let Some(permit) = st.0.subscribers.try_acquire() else {
        return text_response(StatusCode::SERVICE_UNAVAILABLE, "too many subscribers");
    };
    let header_id = req
        .headers()
        .get(LAST_EVENT_ID)
        .and_then(|v| v.to_str().ok());
    let query_id = query_param(req.uri().query(), "lastEventId");
    let last = pick_last_event_id(header_id, query_id.as_deref());
    let sub = match st.0.backend.subscribe(flow_id, last).await {
        Ok(s) => s,
        Err(e) => return backend_error("snapshot read", e),
    };
    let body = SseBody::new(
        sub,
        st.0.config.heartbeat,
        Arc::clone(&st.0.metrics),
        Some(permit),
    );
    let mut r = Response::new(Body::new(body));
    sse_headers(&mut r, version);
    r
}

async fn delete(st: &AppState, flow_id: &str) -> Response {
    match st.0.backend.delete(flow_id).await {
        Ok(()) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Err(e) => backend_error("drop", e),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn post_log_lines(st: &AppState, flow_id: &str, req: Request) -> Response {
    let body = match read_body(req, st.0.config.max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return text_response(StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
        }
        Err(BodyError::Read(e)) => {
            return text_response(StatusCode::BAD_REQUEST, &format!("parse body: {e}"));
        }
    };
    let lines = match decode_log_lines(&body, now_ms()) {
        Ok(l) => l,
        Err(e) => return text_response(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let written = if lines.is_empty() {
        0
    } else {
        match st.0.backend.append_log_lines(flow_id, lines).await {
            Ok(n) => n,
            Err(e) => return backend_error("append", e),
        }
    };
    st.0.metrics.log_lines_written(written);
    body_response("application/json", format!("{{\"written\":{written}}}\n"))
}

/// Parses the `GET …/log-lines` parameters (§3.7); `Err` is the 400 text.
pub fn parse_log_query(query: Option<&str>) -> Result<LogQuery, &'static str> {
    let non_empty = |name| query_param(query, name).filter(|v| !v.is_empty());
    let after_seq = match non_empty("afterSeq") {
        None => 0,
        Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().map_err(|_| "invalid afterSeq")?
        }
        Some(_) => return Err("invalid afterSeq"),
    };
    let limit = match non_empty("limit") {
        None => 500,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or("limit must be between 1 and 5000")?,
    };
    Ok(LogQuery {
        exec_id: non_empty("execId"),
        node_id: non_empty("nodeId"),
        after_seq,
        limit,
    })
}

async fn get_log_lines(st: &AppState, flow_id: &str, query: Option<String>) -> Response {
    let q = match parse_log_query(query.as_deref()) {
        Ok(q) => q,
        Err(text) => return text_response(StatusCode::BAD_REQUEST, text),
    };
    match st.0.backend.list_log_lines(flow_id, q).await {
        Ok(lines) => {
            let mut body = lines_response_json(&lines);
            body.push(b'\n');
            body_response("application/json", body)
        }
        Err(e) => backend_error("list", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_section_2() {
        assert_eq!(Route::parse("/"), Some(Route::Root));
        assert_eq!(Route::parse("/v1/flows/f1"), Some(Route::Flow("f1")));
        assert_eq!(
            Route::parse("/v1/flows/f1/events"),
            Some(Route::Events("f1"))
        );
        assert_eq!(
            Route::parse("/v1/flows/a%2Fb/stream"),
            Some(Route::Stream("a%2Fb"))
        );
        for p in [
            "/v1/flows",
            "/v1/flows/",
            "/v1/flows/f1/",
            "/v1/flows/f1/foo",
            "/v1/flows/f1/events/x",
            "/v1/flows//events",
            "/nope",
            "/healthz/",
            "//healthz",
        ] {
            assert_eq!(Route::parse(p), None, "{p}");
        }
        assert_eq!(Route::Flow("f").allow(), "DELETE");
        assert_eq!(Route::Healthz.allow(), "GET, HEAD");
        assert!(Route::LogLines("f").allows(&Method::HEAD));
        assert!(!Route::Events("f").allows(&Method::PUT));
        assert_eq!(
            Route::LogLines("f").auth_class(&Method::POST),
            AuthClass::Ingest
        );
        assert_eq!(
            Route::LogLines("f").auth_class(&Method::GET),
            AuthClass::Read
        );
    }

    #[test]
    fn flow_id_decoding() {
        assert_eq!(decode_flow_id("f%31").as_deref(), Some("f1"));
        assert_eq!(decode_flow_id(&"a".repeat(128)).map(|s| s.len()), Some(128));
        for bad in [
            "a%2Fb",
            "a%20b",
            "%zz",
            "%",
            "%4",
            "%C3%A9",
            &"a".repeat(129),
        ] {
            assert_eq!(decode_flow_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn query_params() {
        let q = Some("a=1&lastEventId=E-2&access_token=x%2By&b&a=9&sp=a+b");
        assert_eq!(query_param(q, "a").as_deref(), Some("1"));
        assert_eq!(query_param(q, "lastEventId").as_deref(), Some("E-2"));
        assert_eq!(query_param(q, "access_token").as_deref(), Some("x+y"));
        assert_eq!(query_param(q, "b").as_deref(), Some(""));
        assert_eq!(query_param(q, "sp").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "nope"), None);
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(
            redact_query("lastEventId=E-1&access_token=s3cret"),
            "lastEventId=E-1&access_token=***"
        );
    }

    #[test]
    fn html_negotiation_section_3_1() {
        assert!(prefers_html(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!prefers_html(Some("*/*")));
        assert!(!prefers_html(None));
        assert!(!prefers_html(Some("application/json")));
        assert!(!prefers_html(Some("text/html;q=0.5, application/json")));
        assert!(prefers_html(Some("text/html, application/json")));
        assert!(!prefers_html(Some("text/html;q=0")));
        assert!(!prefers_html(Some("text/html;q=0.4, application/*;q=0.5")));
    }

    #[test]
    fn log_query_rules_section_3_7() {
        let q = parse_log_query(Some("execId=e&nodeId=&afterSeq=3&limit=5000")).unwrap();
        assert_eq!(q.exec_id.as_deref(), Some("e"));
        assert_eq!(q.node_id, None);
        assert_eq!((q.after_seq, q.limit), (3, 5000));
        let d = parse_log_query(None).unwrap();
        assert_eq!((d.after_seq, d.limit), (0, 500));
        assert_eq!(
            parse_log_query(Some("afterSeq=-1")),
            Err("invalid afterSeq")
        );
        assert_eq!(parse_log_query(Some("afterSeq=x")), Err("invalid afterSeq"));
        assert_eq!(
            parse_log_query(Some("limit=5001")),
            Err("limit must be between 1 and 5000")
        );
        assert_eq!(
            parse_log_query(Some("limit=0")),
            Err("limit must be between 1 and 5000")
        );
    }

    #[test]
    fn descriptor_is_valid_json_with_keys_in_order() {
        let d = descriptor_json("memory");
        assert!(d.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v["backend"], "memory");
        assert_eq!(
            v["endpoints"]["stream"],
            "GET /v1/flows/{flowId}/stream (SSE)"
        );
        assert!(d.starts_with(r#"{"service":"openova-flow-server","description":"#));
    }
}

//! The OpenovaFlow live graph page.
//!
//! Plain HTML, CSS and JavaScript modules (SVG drawing, no framework, no build
//! step) embedded in the binary with `include_str!`. The page subscribes to a
//! flow's SSE stream, folds it on the client (contract.md §7) and draws the
//! DAG: one lane per region, columns by dependency depth.
//!
//! * [`router`] / [`router_with`] — `GET /flows/{flowId}` (the page) and
//!   `GET /ui/{asset}` (scripts, styles, icon), with content types, cache
//!   validators and a strict Content-Security-Policy.
//! * [`index_html`] / [`index_response`] — the page without a flow (a form to
//!   open one), for the flow server's `GET /` when the browser asks for HTML
//!   ([`wants_html`], server.md §3.1).
//! * [`UiConfig`] — where the page sends its API calls: the flow server's own
//!   `/v1/flows` (default) or, e.g., the proxy's `/api/v1/flows`.
#![forbid(unsafe_code)]

mod accept;
mod assets;
mod config;
mod http_util;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{MethodRouter, get};

pub use accept::{wants_html, wants_html_accept};
pub use assets::{ASSETS, Asset};
pub use config::{ConfigError, UiConfig};

/// The page HTML for one flow (or the index when `flow_id` is `None`).
/// `asset_base` is the relative path from the page to the `/ui/` assets.
pub fn page_html(config: &UiConfig, flow_id: Option<&str>, asset_base: &str) -> String {
    assets::INDEX_TEMPLATE
        .replace("{{API_BASE}}", &http_util::escape_attr(config.api_base()))
        .replace(
            "{{FLOW_ID}}",
            &http_util::escape_attr(flow_id.unwrap_or("")),
        )
        .replace("{{ASSET_BASE}}", &http_util::escape_attr(asset_base))
}

/// The index page (no flow selected) as served at `/`, with the default
/// configuration: assets under `ui/`, API under `/v1/flows`.
pub fn index_html() -> String {
    page_html(&UiConfig::default(), None, "ui/")
}

/// The index page as a complete response for `GET /`. The host negotiates
/// (e.g. with [`wants_html`]) and adds `Vary: Accept`, since `/` serves
/// either this page or its own JSON.
pub fn index_response(config: &UiConfig) -> Response {
    http_util::html_response(config, page_html(config, None, "ui/"))
}

/// The UI routes with the default configuration (API at `/v1/flows`).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(UiConfig::default())
}

/// The UI routes: `GET|HEAD /flows/{flowId}` and `GET|HEAD /ui/{asset}`.
/// Generic over the host's state so it can be merged into any router.
pub fn router_with<S>(config: UiConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let config = Arc::new(config);
    let page_cfg = Arc::clone(&config);
    Router::new()
        .route(
            "/flows/{flow_id}",
            read_only(get(move |Path(flow_id): Path<String>| {
                let cfg = Arc::clone(&page_cfg);
                async move { flow_page(&cfg, &flow_id) }
            })),
        )
        .route(
            "/ui/{asset}",
            read_only(get(
                |Path(name): Path<String>, headers: HeaderMap| async move {
                    asset_response(&name, &headers)
                },
            )),
        )
}

fn read_only<S>(m: MethodRouter<S>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    m.fallback(|| async { http_util::method_not_allowed() })
}

fn flow_page(config: &UiConfig, flow_id: &str) -> Response {
    if !openova_flow_contract::is_valid_flow_id(flow_id) {
        return http_util::text_error(StatusCode::BAD_REQUEST, "invalid flowId");
    }
    http_util::html_response(config, page_html(config, Some(flow_id), "../ui/"))
}

fn asset_response(name: &str, headers: &HeaderMap) -> Response {
    match assets::find(name) {
        Some(asset) => http_util::asset_response(asset, headers),
        None => http_util::text_error(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

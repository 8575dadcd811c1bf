//! `openova-flow-proxy`: an authenticated, per-deployment-authorised
//! pass-through from a console's own origin to the OpenovaFlow server
//! (`shared/spec/proxy.md`).
//!
//! A host builds a [`Config`] (in code, or from the environment with
//! [`EnvArgs`] + [`Config::from_args`]), creates a [`ProxyState`], and mounts
//! [`api_router`] (the four `/api/v1` routes, authentication and
//! authorisation included) and, if it has none of its own, [`ops_router`]
//! (`/healthz`, `/readyz`, `/metrics`).
//!
//! ```no_run
//! # async fn host() -> anyhow::Result<()> {
//! use openova_flow_proxy::{Config, ProxyState, Secret, api_router, ops_router};
//! let config = Config::new(None, Some(Secret::new("development-secret")));
//! let state = ProxyState::new(config).await?;
//! let app = axum::Router::new()
//!     .nest("/console", api_router(state.clone()))
//!     .merge(ops_router(state));
//! # let _ = app; Ok(()) }
//! ```
//!
//! The routers never compress. A host that wraps them in a compression layer
//! must exclude `text/event-stream` (tower-http:
//! `NotForContentType::const_new("text/event-stream")`), or SSE bytes are held
//! back until the stream ends. CORS and OPTIONS are the host's concern.
//!
//! Modules: [`config`] (settings), [`ids`] (deploymentId rules), [`auth`]
//! (tokens, JWKS, claims), [`upstream`] (resolution and URLs), [`metrics`],
//! [`error`] (the proxy's own JSON errors), [`duration`] (Go durations).
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod duration;
pub mod error;
mod handlers;
pub mod ids;
pub mod metrics;
mod ops;
mod state;
pub mod upstream;

use axum::Router;
use axum::routing::{get, post};

pub use config::{BaseUrl, Config, ConfigError, EnvArgs, JwksSource, Secret};
pub use handlers::{Route, last_event_id, mount_prefix};
pub use state::ProxyState;

/// The four `/api/v1` routes with authentication and authorisation enforced
/// inside. Each route is also registered with an empty id segment
/// (`/api/v1/flows//snapshot`) so that it answers 400, not 404.
pub fn api_router(state: ProxyState) -> Router {
    Router::new()
        .route(
            "/api/v1/flows/{deploymentId}/snapshot",
            get(handlers::snapshot),
        )
        .route("/api/v1/flows//snapshot", get(handlers::snapshot))
        .route("/api/v1/flows/{deploymentId}/stream", get(handlers::stream))
        .route("/api/v1/flows//stream", get(handlers::stream))
        .route(
            "/api/v1/flows/{deploymentId}/events",
            post(handlers::events),
        )
        .route("/api/v1/flows//events", post(handlers::events))
        .route(
            "/api/v1/deployments/{deploymentId}/flow",
            get(handlers::descriptor),
        )
        .route("/api/v1/deployments//flow", get(handlers::descriptor))
        .with_state(state)
}

/// `/healthz`, `/readyz` and `/metrics`, kept apart because a host console
/// API usually has its own.
pub fn ops_router(state: ProxyState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

//! `/healthz`, `/readyz`, `/metrics` (proxy.md §10).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;

use crate::state::ProxyState;

pub(crate) async fn healthz() -> Response {
    ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

pub(crate) async fn readyz(State(st): State<ProxyState>) -> Response {
    if st.is_ready() {
        ([(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not ready: JWKS not loaded yet\n",
        )
            .into_response()
    }
}

pub(crate) async fn metrics(State(st): State<ProxyState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        st.metrics().render(),
    )
        .into_response()
}

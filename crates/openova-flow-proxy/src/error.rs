//! Errors the proxy itself answers with (proxy.md §4): JSON
//! `{"error":"…"}`, `Content-Type: application/json`.

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

use crate::auth::Unauthenticated;
use crate::metrics::UpstreamFailure;

/// A request the proxy answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// 401, with `WWW-Authenticate`.
    Unauthenticated(Unauthenticated),
    /// 403.
    Forbidden,
    /// 400: the deploymentId is not valid.
    InvalidId,
    /// 413: events body over 1 MiB.
    PayloadTooLarge,
    /// 400: the request body could not be read.
    BadBody,
    /// 502 / 504.
    Upstream(UpstreamFailure),
}

impl ProxyError {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ProxyError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ProxyError::Forbidden => StatusCode::FORBIDDEN,
            ProxyError::InvalidId | ProxyError::BadBody => StatusCode::BAD_REQUEST,
            ProxyError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::Upstream(UpstreamFailure::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Upstream(UpstreamFailure::Unreachable | UpstreamFailure::Reset) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }

    /// The `error` text of the JSON body.
    pub fn message(self) -> &'static str {
        match self {
            ProxyError::Unauthenticated(_) => "unauthenticated",
            ProxyError::Forbidden => "forbidden",
            ProxyError::InvalidId => "invalid deploymentId",
            ProxyError::PayloadTooLarge => "payload too large",
            ProxyError::BadBody => "unreadable request body",
            ProxyError::Upstream(UpstreamFailure::Timeout) => "openova-flow-server timeout",
            ProxyError::Upstream(UpstreamFailure::Unreachable | UpstreamFailure::Reset) => {
                "openova-flow-server unreachable"
            }
        }
    }
}

/// The `WWW-Authenticate` value of a 401.
pub fn www_authenticate(presented: bool) -> &'static str {
    if presented {
        r#"Bearer realm="openova-flow", error="invalid_token""#
    } else {
        r#"Bearer realm="openova-flow""#
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message() }).to_string();
        let mut resp = (self.status(), body).into_response();
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let ProxyError::Unauthenticated(u) = self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(www_authenticate(u.presented)),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::AuthFailure;
    use http_body_util::BodyExt;

    async fn parts(e: ProxyError) -> (StatusCode, http::HeaderMap, String) {
        let resp = e.into_response();
        let (p, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (
            p.status,
            p.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn every_error_matches_the_table() {
        let missing = Unauthenticated {
            reason: AuthFailure::Missing,
            presented: false,
        };
        let bad = Unauthenticated {
            reason: AuthFailure::Invalid,
            presented: true,
        };
        let cases = [
            (
                ProxyError::InvalidId,
                400,
                r#"{"error":"invalid deploymentId"}"#,
            ),
            (
                ProxyError::Unauthenticated(missing),
                401,
                r#"{"error":"unauthenticated"}"#,
            ),
            (ProxyError::Forbidden, 403, r#"{"error":"forbidden"}"#),
            (
                ProxyError::PayloadTooLarge,
                413,
                r#"{"error":"payload too large"}"#,
            ),
            (
                ProxyError::Upstream(UpstreamFailure::Unreachable),
                502,
                r#"{"error":"openova-flow-server unreachable"}"#,
            ),
            (
                ProxyError::Upstream(UpstreamFailure::Reset),
                502,
                r#"{"error":"openova-flow-server unreachable"}"#,
            ),
            (
                ProxyError::Upstream(UpstreamFailure::Timeout),
                504,
                r#"{"error":"openova-flow-server timeout"}"#,
            ),
        ];
        for (err, status, body) in cases {
            let (s, h, b) = parts(err).await;
            assert_eq!(s.as_u16(), status);
            assert_eq!(b, body);
            assert_eq!(h[CONTENT_TYPE], "application/json");
            assert_eq!(h.contains_key(WWW_AUTHENTICATE), status == 401);
        }
        let (_, h, _) = parts(ProxyError::Unauthenticated(missing)).await;
        assert_eq!(h[WWW_AUTHENTICATE], r#"Bearer realm="openova-flow""#);
        let (_, h, _) = parts(ProxyError::Unauthenticated(bad)).await;
        assert_eq!(
            h[WWW_AUTHENTICATE],
            r#"Bearer realm="openova-flow", error="invalid_token""#
        );
    }
}

//! Response builders: headers shared by the page and its assets.

use axum::body::Body;
use axum::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::assets::Asset;
use crate::config::UiConfig;

const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

fn security_headers(h: &mut HeaderMap) {
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(COOP, HeaderValue::from_static("same-origin"));
    h.insert(CORP, HeaderValue::from_static("same-origin"));
}

fn build(status: StatusCode, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r
}

/// The page: `text/html`, never cached without revalidation, strict CSP.
pub(crate) fn html_response(config: &UiConfig, html: String) -> Response {
    let mut r = build(StatusCode::OK, Body::from(html));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h);
    if let Ok(v) = HeaderValue::from_str(&config.content_security_policy()) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    r
}

/// An embedded asset, or `304 Not Modified` when `If-None-Match` matches.
pub(crate) fn asset_response(asset: &Asset, req: &HeaderMap) -> Response {
    let etag = asset.etag();
    let matches = req
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    let mut r = if matches {
        build(StatusCode::NOT_MODIFIED, Body::empty())
    } else {
        let mut r = build(StatusCode::OK, Body::from(asset.body));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        r
    };
    let h = r.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
    security_headers(h);
    r
}

/// The flow server's error style: text, `\n`, `nosniff`.
pub(crate) fn text_error(status: StatusCode, text: &str) -> Response {
    let mut r = build(status, Body::from(format!("{text}\n")));
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

pub(crate) fn method_not_allowed() -> Response {
    let mut r = text_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// Escapes a value for a double-quoted HTML attribute.
pub(crate) fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_attr;

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(escape_attr(r#"a"b'<c>&"#), "a&quot;b&#39;&lt;c&gt;&amp;");
        assert_eq!(escape_attr("/v1/flows"), "/v1/flows");
    }
}

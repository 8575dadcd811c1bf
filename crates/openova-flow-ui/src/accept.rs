//! The `GET /` negotiation of server.md §3.1: HTML only when `Accept` names
//! `text/html` explicitly with q > 0 and at least the q that applies to
//! `application/json` (explicit, else `application/*`, else `*/*`, else 0).

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

/// `true` when the request's `Accept` header(s) prefer the UI page.
pub fn wants_html(headers: &HeaderMap) -> bool {
    let joined: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    wants_html_accept(&joined.join(","))
}

/// [`wants_html`] on the text of an `Accept` header.
pub fn wants_html_accept(accept: &str) -> bool {
    let mut html: Option<f32> = None;
    let (mut json, mut app_any, mut any): (Option<f32>, Option<f32>, Option<f32>) =
        (None, None, None);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = Some(1.0_f32);
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = v
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
            }
        }
        let Some(q) = q else { continue }; // malformed q: ignore the range
        let slot = match media.as_str() {
            "text/html" => &mut html,
            "application/json" => &mut json,
            "application/*" => &mut app_any,
            "*/*" => &mut any,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
    }
    let json_q = json.or(app_any).or(any).unwrap_or(0.0);
    html.is_some_and(|h| h > 0.0 && h >= json_q)
}

#[cfg(test)]
mod tests {
    use super::wants_html_accept as w;

    #[test]
    fn browsers_get_html() {
        assert!(w(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        ));
        assert!(w("text/html"));
        assert!(w("TEXT/HTML"));
    }

    #[test]
    fn curl_and_api_clients_get_json() {
        assert!(!w(""));
        assert!(!w("*/*"));
        assert!(!w("application/json"));
        assert!(!w("text/*"));
    }

    #[test]
    fn q_values_decide() {
        assert!(!w("text/html;q=0"));
        assert!(!w("text/html;q=0.5, application/json"));
        assert!(w("text/html;q=0.5, application/json;q=0.5"));
        assert!(!w("text/html;q=0.5, application/*"));
        assert!(w("text/html;q=0.9, application/*;q=0.8"));
        assert!(!w("text/html;q=0.4, */*;q=0.5"));
        assert!(w("application/json;q=0.1, text/html"));
        // explicit application/json beats application/* and */*
        assert!(w("text/html;q=0.5, application/json;q=0.2, */*"));
    }

    #[test]
    fn malformed_q_ignores_that_range() {
        assert!(!w("text/html;q=abc"));
        assert!(!w("text/html;q=2"));
        assert!(w("text/html, application/json;q=x"));
    }
}

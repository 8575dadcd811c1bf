//! Where the token comes from (proxy.md §5 "Token source"). Pure.

use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

use crate::ids::query_param;

/// Name of the session cookie holding a raw compact JWT.
pub const SESSION_COOKIE: &str = "catalyst_session";
/// Query parameter EventSource clients use (they cannot set headers).
pub const TOKEN_QUERY_PARAM: &str = "access_token";

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer …`
    Header,
    /// `?access_token=…`
    Query,
    /// `catalyst_session` cookie
    Cookie,
}

/// Result of looking for a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No credential at all.
    None,
    /// An `Authorization` header that is not a usable Bearer credential
    /// (another scheme, empty, not text). It is not replaced by a query or
    /// cookie token.
    Unusable,
    /// A token to verify.
    Token(String, TokenSource),
}

/// The first credential present, in the order `Authorization: Bearer` →
/// `access_token` query parameter → `catalyst_session` cookie, with no
/// fall-back once one is present.
pub fn find_credential(headers: &HeaderMap, query: Option<&str>) -> Credential {
    if let Some(value) = headers.get(AUTHORIZATION) {
        return match value.to_str().ok().and_then(bearer_token) {
            Some(t) => Credential::Token(t.to_owned(), TokenSource::Header),
            None => Credential::Unusable,
        };
    }
    if let Some(t) = query_param(query, TOKEN_QUERY_PARAM) {
        return Credential::Token(t, TokenSource::Query);
    }
    if let Some(t) = session_cookie(headers) {
        return Credential::Token(t, TokenSource::Cookie);
    }
    Credential::None
}

/// `Bearer <token>` (scheme case-insensitive) → the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `catalyst_session` cookie's value (quotes stripped), from any `Cookie`
/// header.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| name.trim() == SESSION_COOKIE)
        .map(|(_, value)| {
            let v = value.trim();
            v.strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn tok(t: &str, s: TokenSource) -> Credential {
        Credential::Token(t.to_owned(), s)
    }

    #[test]
    fn each_source_is_found() {
        assert_eq!(
            find_credential(&headers(&[("authorization", "Bearer h.h.h")]), None),
            tok("h.h.h", TokenSource::Header)
        );
        assert_eq!(
            find_credential(&headers(&[("authorization", "bearer   h.h.h  ")]), None),
            tok("h.h.h", TokenSource::Header)
        );
        assert_eq!(
            find_credential(&HeaderMap::new(), Some("x=1&access_token=q.q.q")),
            tok("q.q.q", TokenSource::Query)
        );
        assert_eq!(
            find_credential(
                &headers(&[("cookie", "a=b; catalyst_session=c.c.c; z=1")]),
                None
            ),
            tok("c.c.c", TokenSource::Cookie)
        );
        assert_eq!(
            find_credential(
                &headers(&[("cookie", "a=b"), ("cookie", "catalyst_session=\"c.c.c\"")]),
                None
            ),
            tok("c.c.c", TokenSource::Cookie)
        );
        assert_eq!(find_credential(&HeaderMap::new(), None), Credential::None);
        assert_eq!(
            find_credential(
                &headers(&[("cookie", "other=1; catalyst_sessionx=2")]),
                Some("a=b")
            ),
            Credential::None
        );
    }

    #[test]
    fn explicit_token_beats_the_cookie_and_header_beats_query() {
        let h = headers(&[
            ("authorization", "Bearer hdr"),
            ("cookie", "catalyst_session=ck"),
        ]);
        assert_eq!(
            find_credential(&h, Some("access_token=qry")),
            tok("hdr", TokenSource::Header)
        );
        let h = headers(&[("cookie", "catalyst_session=ck")]);
        assert_eq!(
            find_credential(&h, Some("access_token=qry")),
            tok("qry", TokenSource::Query)
        );
    }

    #[test]
    fn an_unusable_header_does_not_fall_back() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer    ",
            "Token abc",
            "abc",
        ] {
            let h = headers(&[("authorization", value), ("cookie", "catalyst_session=ck")]);
            assert_eq!(
                find_credential(&h, Some("access_token=q")),
                Credential::Unusable,
                "{value:?}"
            );
        }
    }
}

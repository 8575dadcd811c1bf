//! `deploymentId` handling (proxy.md §6): taking the raw segment out of the
//! request path, percent-decoding it strictly, validating it, and encoding it
//! again as exactly one upstream path segment. Pure functions.

use std::fmt;

/// A validated deployment id: 1–128 characters of `[A-Za-z0-9._:-]`, not `.`
/// or `..`. It is also the upstream `flowId`, verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeploymentId(String);

/// Why a path segment is not a deployment id. Every variant answers
/// `400 {"error":"invalid deploymentId"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// `%` not followed by two hex digits.
    #[error("bad percent-encoding")]
    BadPercentEncoding,
    /// The decoded bytes are not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// Empty, too long, a character outside the grammar, or a dot segment.
    #[error("outside the flowId grammar")]
    Grammar,
}

impl DeploymentId {
    /// Validates an already-decoded id.
    pub fn parse(decoded: &str) -> Result<Self, InvalidId> {
        if decoded == "." || decoded == ".." || !openova_flow_contract::is_valid_flow_id(decoded) {
            return Err(InvalidId::Grammar);
        }
        Ok(Self(decoded.to_owned()))
    }

    /// Percent-decodes a raw path segment, then validates it.
    pub fn from_raw_segment(raw: &str) -> Result<Self, InvalidId> {
        let bytes = percent_decode(raw).ok_or(InvalidId::BadPercentEncoding)?;
        let text = String::from_utf8(bytes).map_err(|_| InvalidId::NotUtf8)?;
        Self::parse(&text)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as one percent-encoded path segment: every byte outside RFC 3986
    /// `unreserved` and `:` is encoded, so the result can never contain `/`,
    /// `?`, `#` or `@`. (For valid ids this is the identity; it is kept as a
    /// second line of defence.)
    pub fn to_path_segment(&self) -> String {
        encode_path_segment(&self.0)
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The raw (still percent-encoded) `{deploymentId}` segment of a router-relative
/// path such as `/api/v1/flows/{id}/snapshot` or `/api/v1/deployments/{id}/flow`:
/// the fifth `/`-separated piece. An empty segment (`/api/v1/flows//snapshot`)
/// yields `""`.
pub fn raw_id_segment(path: &str) -> &str {
    path.split('/').nth(4).unwrap_or("")
}

/// Strict percent-decoding: `%` must be followed by two hex digits, otherwise
/// `None`. `+` is kept as is (this is for paths).
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Decodes one `application/x-www-form-urlencoded` query component (`+` is a
/// space). Invalid escapes or non-UTF-8 yield `None`.
pub fn query_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    String::from_utf8(percent_decode(&spaced)?).ok()
}

/// The first value of query parameter `name` in a raw query string, decoded.
/// A parameter whose value does not decode is treated as absent.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (query_decode(k)? == name).then_some(v)
        })
        .next()
        .and_then(query_decode)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn encode_path_segment(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_pass_and_round_trip_as_one_segment() {
        for id in [
            "5a175e0a88c99cec",
            "a",
            "dep-1.x_y:z",
            "...",
            ".a",
            &"a".repeat(128),
        ] {
            let parsed = DeploymentId::from_raw_segment(id).unwrap();
            assert_eq!(parsed.as_str(), id);
            assert_eq!(parsed.to_path_segment(), id);
        }
    }

    #[test]
    fn percent_encoded_valid_characters_decode() {
        let id = DeploymentId::from_raw_segment("dep%2D1%3Ax").unwrap();
        assert_eq!(id.as_str(), "dep-1:x");
    }

    #[test]
    fn injection_and_grammar_violations_are_rejected() {
        for raw in [
            "",
            ".",
            "..",
            "%2E%2E",
            "%2e",
            "a%2Fb",
            "a%2fb",
            "a%3Fb",
            "a%23b",
            "x@evil.host",
            "a%20b",
            "a b",
            "a+b",
            "%00",
            "é",
            "%C3%A9",
            &"a".repeat(129),
        ] {
            assert_eq!(
                DeploymentId::from_raw_segment(raw),
                Err(InvalidId::Grammar),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn bad_percent_encoding_and_non_utf8_are_rejected() {
        for raw in ["%", "%z", "%zz", "a%2", "%G0"] {
            assert_eq!(
                DeploymentId::from_raw_segment(raw),
                Err(InvalidId::BadPercentEncoding),
                "{raw:?}"
            );
        }
        assert_eq!(
            DeploymentId::from_raw_segment("%FF"),
            Err(InvalidId::NotUtf8)
        );
    }

    #[test]
    fn encoder_escapes_everything_that_could_change_the_url() {
        assert_eq!(
            encode_path_segment("a/b?c#d@e%f g"),
            "a%2Fb%3Fc%23d%40e%25f%20g"
        );
        assert_eq!(encode_path_segment("é"), "%C3%A9");
    }

    #[test]
    fn raw_segment_is_the_fifth_piece() {
        assert_eq!(raw_id_segment("/api/v1/flows/abc/snapshot"), "abc");
        assert_eq!(raw_id_segment("/api/v1/flows//snapshot"), "");
        assert_eq!(raw_id_segment("/api/v1/flows/a%2Fb/stream"), "a%2Fb");
        assert_eq!(raw_id_segment("/api/v1/deployments/d1/flow"), "d1");
        assert_eq!(raw_id_segment("/api"), "");
    }

    #[test]
    fn query_params_decode_and_first_wins() {
        let q = Some("a=1&access_token=x%2By+z&access_token=second&lastEventId=e-1");
        assert_eq!(query_param(q, "access_token").as_deref(), Some("x+y z"));
        assert_eq!(query_param(q, "lastEventId").as_deref(), Some("e-1"));
        assert_eq!(query_param(q, "missing"), None);
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(query_param(Some("flag"), "flag").as_deref(), Some(""));
        assert_eq!(query_param(Some("a=%zz"), "a"), None);
        assert_eq!(
            query_param(Some("acc%65ss_token=t"), "access_token").as_deref(),
            Some("t")
        );
    }
}

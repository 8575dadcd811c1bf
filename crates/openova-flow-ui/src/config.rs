//! Where the page sends its API calls.

use thiserror::Error;

/// The page's configuration, rendered into `data-api-base` of the HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiConfig {
    api_base: String,
    /// The origin of an absolute API base, added to CSP `connect-src`.
    api_origin: Option<String>,
}

/// A rejected [`UiConfig`] value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error(
        "invalid UI API base {0:?}: expected an absolute path such as /v1/flows or /api/v1/flows, \
         or an http(s) URL such as https://flow.example.org/v1/flows"
    )]
    InvalidApiBase(String),
}

/// The flow server's own routes.
pub const DEFAULT_API_BASE: &str = "/v1/flows";

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            api_origin: None,
        }
    }
}

impl UiConfig {
    /// `api_base` is the prefix before `/{flowId}/stream|snapshot|log-lines`:
    /// an absolute path (same origin: `/v1/flows`, the proxy's
    /// `/api/v1/flows`) or an `http(s)://host[:port]/path` URL (then that
    /// origin is allowed in the page's CSP and must allow the page's origin
    /// with CORS). A trailing `/` is trimmed.
    pub fn new(api_base: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::InvalidApiBase(api_base.to_owned());
        let trimmed = api_base.trim_end_matches('/');
        let safe = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%:@!$&()*+,;=".contains(&b))
        };
        if let Some(path) = trimmed.strip_prefix('/') {
            if path.starts_with('/') || !safe(trimmed) || trimmed.is_empty() {
                return Err(bad());
            }
            return Ok(UiConfig {
                api_base: trimmed.to_owned(),
                api_origin: None,
            });
        }
        for scheme in ["http://", "https://"] {
            if let Some(rest) = trimmed.strip_prefix(scheme) {
                let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let host_ok = !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
                if !host_ok || !safe(path) {
                    return Err(bad());
                }
                return Ok(UiConfig {
                    api_base: trimmed.to_owned(),
                    api_origin: Some(format!("{scheme}{host}")),
                });
            }
        }
        Err(bad())
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The `Content-Security-Policy` of the page: scripts, styles and images
    /// from this origin only, no inline code, network access to this origin
    /// (and the API origin when it is another one), no framing, no forms.
    pub fn content_security_policy(&self) -> String {
        let connect = match &self.api_origin {
            Some(o) => format!("'self' {o}"),
            None => "'self'".to_owned(),
        };
        format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_servers_own_routes() {
        assert_eq!(UiConfig::default().api_base(), "/v1/flows");
        assert!(
            UiConfig::default()
                .content_security_policy()
                .contains("connect-src 'self';")
        );
    }

    #[test]
    fn paths_are_accepted_and_trimmed() {
        assert_eq!(
            UiConfig::new("/api/v1/flows/").unwrap().api_base(),
            "/api/v1/flows"
        );
        assert_eq!(UiConfig::new("/v1/flows").unwrap(), UiConfig::default());
    }

    #[test]
    fn urls_add_their_origin_to_connect_src() {
        let c = UiConfig::new("http://127.0.0.1:8080/v1/flows").unwrap();
        assert_eq!(c.api_base(), "http://127.0.0.1:8080/v1/flows");
        assert!(
            c.content_security_policy()
                .contains("connect-src 'self' http://127.0.0.1:8080;")
        );
        let c = UiConfig::new("https://flow.example.org").unwrap();
        assert!(
            c.content_security_policy()
                .contains("https://flow.example.org;")
        );
    }

    #[test]
    fn unsafe_or_relative_values_are_rejected() {
        for bad in [
            "",
            "/",
            "v1/flows",
            "//evil.example/v1",
            "/v1/\"flows",
            "/v1/<x>",
            "javascript:alert(1)",
            "ftp://h/x",
            "http://",
            "http://h x/",
            "https://h/'x",
        ] {
            assert!(UiConfig::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn csp_is_strict() {
        let csp = UiConfig::default().content_security_policy();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ] {
            assert!(csp.contains(part), "{part}");
        }
        assert!(!csp.contains("unsafe"));
    }
}

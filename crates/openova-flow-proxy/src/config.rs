//! Configuration (proxy.md §3): built in code with [`Config::new`] or read
//! from the environment / command line through [`EnvArgs`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration::parse_go_duration;

/// The default upstream: the flow server's in-cluster Service on port 80.
pub const DEFAULT_SERVER_URL: &str = "http://openova-flow-server.catalyst-system.svc.cluster.local";
/// Default top-level claim that lists the deployments a token may read.
pub const DEFAULT_DEPLOYMENTS_CLAIM: &str = "deployments";
/// Largest events body forwarded: 1 MiB, the flow server's own limit.
pub const MAX_EVENTS_BODY_BYTES: usize = 1_048_576;

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; use only where it is needed (a header, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An upstream base URL: absolute `http`/`https`, with a host, no
/// credentials, query or fragment; a trailing `/` is trimmed and a path prefix
/// is kept (`https://h/flow` → `https://h/flow/v1/flows/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Validates and normalises a base URL; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(text.trim()).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "scheme must be http or https, not {}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("a host is required".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not allowed".to_owned());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("a query or fragment is not allowed".to_owned());
        }
        let mut s = url.as_str().to_owned();
        while s.ends_with('/') {
            s.pop();
        }
        Ok(Self(s))
    }

    /// The normalised URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the asymmetric verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS document on disk (re-read on an unknown `kid`).
    File(PathBuf),
    /// A JWKS document fetched over HTTPS (plain `http` only for loopback hosts).
    Url(String),
}

/// Proxy configuration. Build it with [`Config::new`] (defaults for
/// everything) and adjust the public fields, or with [`Config::from_args`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Default upstream base URL (`OPENOVA_FLOW_SERVER_URL`).
    pub server_url: BaseUrl,
    /// Per-deployment upstreams (`OPENOVA_FLOW_DEPLOYMENTS_FILE`).
    pub deployments_file: Option<PathBuf>,
    /// Bearer sent upstream on POST events (`OPENOVA_FLOW_SERVER_INGEST_TOKEN`).
    pub ingest_token: Option<Secret>,
    /// Bearer sent upstream on snapshot and stream (`OPENOVA_FLOW_SERVER_READ_TOKEN`).
    pub read_token: Option<Secret>,
    /// Disable TLS verification towards the flow server only (`OPENOVA_FLOW_TLS_SKIP_VERIFY`).
    pub tls_skip_verify: bool,
    /// Total deadline for snapshot and events (`OPENOVA_FLOW_PROXY_TIMEOUT`, 10 s).
    pub proxy_timeout: Duration,
    /// JWKS source (`OPENOVA_FLOW_JWKS_FILE` or `OPENOVA_FLOW_JWKS_URL`).
    pub jwks: Option<JwksSource>,
    /// HS256 secret for development (`OPENOVA_FLOW_JWT_SECRET`).
    pub jwt_secret: Option<Secret>,
    /// Required `iss` (`OPENOVA_FLOW_JWT_ISSUER`).
    pub jwt_issuer: Option<String>,
    /// Required member of `aud` (`OPENOVA_FLOW_JWT_AUDIENCE`).
    pub jwt_audience: Option<String>,
    /// Claim listing readable deployment ids (`OPENOVA_FLOW_DEPLOYMENTS_CLAIM`).
    pub deployments_claim: String,

    /// Stream: idle-read timeout, before and after the response headers (45 s).
    pub stream_idle_timeout: Duration,
    /// Connect timeout for every upstream request (5 s).
    pub connect_timeout: Duration,
    /// Leeway on `exp` and `nbf` (30 s).
    pub leeway: Duration,
    /// Minimum time between two JWKS reloads triggered by an unknown `kid` (60 s).
    pub jwks_min_reload_interval: Duration,
    /// Background JWKS reload period (10 min).
    pub jwks_refresh_interval: Duration,
    /// Timeout of one JWKS URL fetch (5 s).
    pub jwks_fetch_timeout: Duration,
    /// Retry period while the JWKS URL has never loaded (2 s).
    pub jwks_initial_retry: Duration,
    /// How often the deployments file's modification time is checked (10 s).
    pub deployments_check_interval: Duration,
}

impl Config {
    /// A configuration with every default and the given key material. At
    /// least one of `jwks` / `jwt_secret` must be set (checked by
    /// [`crate::ProxyState::new`]).
    pub fn new(jwks: Option<JwksSource>, jwt_secret: Option<Secret>) -> Self {
        Self {
            server_url: BaseUrl(DEFAULT_SERVER_URL.to_owned()),
            deployments_file: None,
            ingest_token: None,
            read_token: None,
            tls_skip_verify: false,
            proxy_timeout: Duration::from_secs(10),
            jwks,
            jwt_secret,
            jwt_issuer: None,
            jwt_audience: None,
            deployments_claim: DEFAULT_DEPLOYMENTS_CLAIM.to_owned(),
            stream_idle_timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(5),
            leeway: Duration::from_secs(30),
            jwks_min_reload_interval: Duration::from_secs(60),
            jwks_refresh_interval: Duration::from_secs(600),
            jwks_fetch_timeout: Duration::from_secs(5),
            jwks_initial_retry: Duration::from_secs(2),
            deployments_check_interval: Duration::from_secs(10),
        }
    }

    /// Validates the raw environment / flag values.
    pub fn from_args(args: &EnvArgs) -> Result<Self, ConfigError> {
        let server_url = match non_empty(&args.server_url) {
            Some(v) => BaseUrl::parse(v).map_err(|detail| ConfigError::Invalid {
                var: "OPENOVA_FLOW_SERVER_URL",
                value: v.to_owned(),
                expected: format!("an absolute http or https URL ({detail})"),
            })?,
            None => BaseUrl(DEFAULT_SERVER_URL.to_owned()),
        };
        let tls_skip_verify = match non_empty(&args.tls_skip_verify) {
            Some(v) => parse_bool(v).ok_or_else(|| ConfigError::Invalid {
                var: "OPENOVA_FLOW_TLS_SKIP_VERIFY",
                value: v.to_owned(),
                expected: "true, false, 1 or 0".to_owned(),
            })?,
            None => false,
        };
        let proxy_timeout = match non_empty(&args.proxy_timeout) {
            Some(v) => parse_go_duration(v)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| ConfigError::Invalid {
                    var: "OPENOVA_FLOW_PROXY_TIMEOUT",
                    value: v.to_owned(),
                    expected: "a duration greater than zero such as 10s or 1m30s".to_owned(),
                })?,
            None => Duration::from_secs(10),
        };
        let jwks = match (non_empty(&args.jwks_file), non_empty(&args.jwks_url)) {
            (Some(_), Some(_)) => return Err(ConfigError::BothJwksSources),
            (Some(f), None) => Some(JwksSource::File(PathBuf::from(f))),
            (None, Some(u)) => {
                check_jwks_url(u).map_err(|detail| ConfigError::Invalid {
                    var: "OPENOVA_FLOW_JWKS_URL",
                    value: u.to_owned(),
                    expected: detail,
                })?;
                Some(JwksSource::Url(u.trim().to_owned()))
            }
            (None, None) => None,
        };
        let jwt_secret = args
            .jwt_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        if jwks.is_none() && jwt_secret.is_none() {
            return Err(ConfigError::NoKeySource);
        }
        let deployments_claim = non_empty(&args.deployments_claim)
            .unwrap_or(DEFAULT_DEPLOYMENTS_CLAIM)
            .to_owned();
        let mut cfg = Self::new(jwks, jwt_secret);
        cfg.server_url = server_url;
        cfg.deployments_file = non_empty(&args.deployments_file).map(PathBuf::from);
        cfg.ingest_token = args
            .server_ingest_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        cfg.read_token = args
            .server_read_token
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        cfg.tls_skip_verify = tls_skip_verify;
        cfg.proxy_timeout = proxy_timeout;
        cfg.jwt_issuer = non_empty(&args.jwt_issuer).map(str::to_owned);
        cfg.jwt_audience = non_empty(&args.jwt_audience).map(str::to_owned);
        cfg.deployments_claim = deployments_claim;
        Ok(cfg)
    }
}

/// The raw settings, each an environment variable and a long flag. Values are
/// validated by [`Config::from_args`] so that every error names its variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnvArgs {
    /// Default upstream base URL [default: <http://openova-flow-server.catalyst-system.svc.cluster.local>]
    #[arg(long, env = "OPENOVA_FLOW_SERVER_URL")]
    pub server_url: Option<String>,
    /// YAML map `deploymentId → {serverUrl}` of per-deployment upstreams
    #[arg(long, env = "OPENOVA_FLOW_DEPLOYMENTS_FILE")]
    pub deployments_file: Option<String>,
    /// Bearer token sent upstream on POST events (prefer the env var)
    #[arg(long, env = "OPENOVA_FLOW_SERVER_INGEST_TOKEN", hide_env_values = true)]
    pub server_ingest_token: Option<String>,
    /// Bearer token sent upstream on snapshot and stream (prefer the env var)
    #[arg(long, env = "OPENOVA_FLOW_SERVER_READ_TOKEN", hide_env_values = true)]
    pub server_read_token: Option<String>,
    /// Disable TLS verification towards the flow server only: true, false, 1, 0 [default: false]
    #[arg(long, env = "OPENOVA_FLOW_TLS_SKIP_VERIFY")]
    pub tls_skip_verify: Option<String>,
    /// Total deadline for snapshot and events, Go duration [default: 10s]
    #[arg(long, env = "OPENOVA_FLOW_PROXY_TIMEOUT")]
    pub proxy_timeout: Option<String>,
    /// JWKS document on disk (RS256, ES256, EdDSA keys)
    #[arg(long, env = "OPENOVA_FLOW_JWKS_FILE")]
    pub jwks_file: Option<String>,
    /// JWKS document fetched over HTTPS (RS256, ES256, EdDSA keys)
    #[arg(long, env = "OPENOVA_FLOW_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// HS256 secret, for development (prefer the env var)
    #[arg(long, env = "OPENOVA_FLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// When set, the token's `iss` must equal it
    #[arg(long, env = "OPENOVA_FLOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// When set, the token's `aud` (string or array) must contain it
    #[arg(long, env = "OPENOVA_FLOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Top-level claim listing readable deployment ids [default: deployments]
    #[arg(long, env = "OPENOVA_FLOW_DEPLOYMENTS_CLAIM")]
    pub deployments_claim: Option<String>,
}

/// A configuration problem: one line naming the setting and how to fix it.
/// The binary exits 2 on any of them.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse.
    #[error("invalid {var} {value:?}: expected {expected}")]
    Invalid {
        /// Environment variable.
        var: &'static str,
        /// The offending value (never a secret).
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// No way to verify tokens.
    #[error(
        "no token verification key configured: set OPENOVA_FLOW_JWKS_FILE or OPENOVA_FLOW_JWKS_URL \
         (RS256/ES256/EdDSA) or OPENOVA_FLOW_JWT_SECRET (HS256); there is no unauthenticated mode"
    )]
    NoKeySource,
    /// Two JWKS sources.
    #[error("OPENOVA_FLOW_JWKS_FILE and OPENOVA_FLOW_JWKS_URL are both set: set only one of them")]
    BothJwksSources,
    /// The JWKS file could not be loaded at start.
    #[error("cannot load OPENOVA_FLOW_JWKS_FILE {path:?}: {detail}")]
    JwksFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The deployments file could not be loaded at start.
    #[error("cannot load OPENOVA_FLOW_DEPLOYMENTS_FILE {path:?}: {detail}")]
    DeploymentsFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// `true`/`false`/`1`/`0`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `OPENOVA_FLOW_PROXY_LISTEN_ADDR`: `host:port`, `[v6]:port`, or `:port`
/// (all interfaces).
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, ConfigError> {
    let t = text.trim();
    let full = if t.starts_with(':') {
        format!("0.0.0.0{t}")
    } else {
        t.to_owned()
    };
    full.parse().map_err(|_| ConfigError::Invalid {
        var: "OPENOVA_FLOW_PROXY_LISTEN_ADDR",
        value: text.to_owned(),
        expected: "host:port, [v6]:port or :port, e.g. :8080".to_owned(),
    })
}

/// A JWKS URL must be absolute `https`; plain `http` is accepted only for a
/// loopback host (tests, sidecars).
pub fn check_jwks_url(text: &str) -> Result<(), String> {
    let url =
        reqwest::Url::parse(text.trim()).map_err(|e| format!("an absolute https URL ({e})"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        "http" => Err("an https URL (plain http is only allowed for loopback hosts)".to_owned()),
        other => Err(format!("an https URL, not {other}")),
    }
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|h| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> EnvArgs {
        EnvArgs {
            jwt_secret: Some("dev-secret".into()),
            ..EnvArgs::default()
        }
    }

    #[test]
    fn defaults_r11_port_80_service() {
        let cfg = Config::from_args(&args()).unwrap();
        assert_eq!(
            cfg.server_url.as_str(),
            "http://openova-flow-server.catalyst-system.svc.cluster.local"
        );
        assert!(!cfg.server_url.as_str().contains(":8080"));
        assert_eq!(cfg.proxy_timeout, Duration::from_secs(10));
        assert_eq!(cfg.stream_idle_timeout, Duration::from_secs(45));
        assert_eq!(cfg.deployments_claim, "deployments");
        assert!(!cfg.tls_skip_verify);
        assert_eq!(cfg.leeway, Duration::from_secs(30));
        assert_eq!(cfg.jwks_min_reload_interval, Duration::from_secs(60));
    }

    #[test]
    fn base_urls_are_normalised() {
        assert_eq!(
            BaseUrl::parse("https://h/flow/").unwrap().as_str(),
            "https://h/flow"
        );
        assert_eq!(
            BaseUrl::parse("http://h:8080").unwrap().as_str(),
            "http://h:8080"
        );
        assert_eq!(BaseUrl::parse("http://h//").unwrap().as_str(), "http://h");
        for bad in [
            "ftp://h",
            "h:80",
            "/relative",
            "http://",
            "https://u:p@h",
            "http://h/?q=1",
            "http://h/#f",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_setting_is_read() {
        let a = EnvArgs {
            server_url: Some("https://flow.example/prefix/".into()),
            deployments_file: Some("/etc/deps.yaml".into()),
            server_ingest_token: Some("ing".into()),
            server_read_token: Some("rd".into()),
            tls_skip_verify: Some("1".into()),
            proxy_timeout: Some("1m30s".into()),
            jwks_url: Some("https://idp.example/jwks".into()),
            jwt_issuer: Some("https://idp.example".into()),
            jwt_audience: Some("console".into()),
            deployments_claim: Some("deps".into()),
            ..EnvArgs::default()
        };
        let cfg = Config::from_args(&a).unwrap();
        assert_eq!(cfg.server_url.as_str(), "https://flow.example/prefix");
        assert_eq!(cfg.deployments_file, Some(PathBuf::from("/etc/deps.yaml")));
        assert_eq!(cfg.ingest_token, Some(Secret::new("ing")));
        assert_eq!(cfg.read_token, Some(Secret::new("rd")));
        assert!(cfg.tls_skip_verify);
        assert_eq!(cfg.proxy_timeout, Duration::from_secs(90));
        assert_eq!(
            cfg.jwks,
            Some(JwksSource::Url("https://idp.example/jwks".into()))
        );
        assert_eq!(cfg.jwt_secret, None);
        assert_eq!(cfg.jwt_issuer.as_deref(), Some("https://idp.example"));
        assert_eq!(cfg.jwt_audience.as_deref(), Some("console"));
        assert_eq!(cfg.deployments_claim, "deps");
    }

    type Edit = fn(&mut EnvArgs);

    #[test]
    fn malformed_values_name_their_variable() {
        let cases: [(Edit, &str); 5] = [
            (
                |a| a.proxy_timeout = Some("fast".into()),
                "invalid OPENOVA_FLOW_PROXY_TIMEOUT \"fast\"",
            ),
            (
                |a| a.proxy_timeout = Some("0s".into()),
                "invalid OPENOVA_FLOW_PROXY_TIMEOUT \"0s\"",
            ),
            (
                |a| a.tls_skip_verify = Some("yes".into()),
                "invalid OPENOVA_FLOW_TLS_SKIP_VERIFY \"yes\"",
            ),
            (
                |a| a.server_url = Some("ftp://x".into()),
                "invalid OPENOVA_FLOW_SERVER_URL \"ftp://x\"",
            ),
            (
                |a| a.jwks_url = Some("http://idp.example/jwks".into()),
                "invalid OPENOVA_FLOW_JWKS_URL",
            ),
        ];
        for (set, want) in cases {
            let mut a = args();
            set(&mut a);
            let err = Config::from_args(&a).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn key_source_rules() {
        let none = EnvArgs::default();
        assert!(matches!(
            Config::from_args(&none),
            Err(ConfigError::NoKeySource)
        ));
        let empty_secret = EnvArgs {
            jwt_secret: Some(String::new()),
            ..EnvArgs::default()
        };
        assert!(matches!(
            Config::from_args(&empty_secret),
            Err(ConfigError::NoKeySource)
        ));
        let both = EnvArgs {
            jwks_file: Some("/a".into()),
            jwks_url: Some("https://b".into()),
            ..EnvArgs::default()
        };
        assert!(matches!(
            Config::from_args(&both),
            Err(ConfigError::BothJwksSources)
        ));
        let file_only = EnvArgs {
            jwks_file: Some("/a".into()),
            ..EnvArgs::default()
        };
        let cfg = Config::from_args(&file_only).unwrap();
        assert_eq!(cfg.jwks, Some(JwksSource::File("/a".into())));
    }

    #[test]
    fn jwks_url_must_be_https_except_loopback() {
        assert!(check_jwks_url("https://idp.example/jwks").is_ok());
        assert!(check_jwks_url("http://127.0.0.1:9/jwks").is_ok());
        assert!(check_jwks_url("http://localhost/jwks").is_ok());
        assert!(check_jwks_url("http://[::1]:9/jwks").is_ok());
        assert!(check_jwks_url("http://idp.example/jwks").is_err());
        assert!(check_jwks_url("file:///etc/jwks").is_err());
    }

    #[test]
    fn booleans_and_listen_addresses() {
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("TRUE"), None);
        assert_eq!(
            parse_listen_addr(":8080").unwrap(),
            "0.0.0.0:8080".parse().unwrap()
        );
        assert_eq!(
            parse_listen_addr("127.0.0.1:0").unwrap().ip().to_string(),
            "127.0.0.1"
        );
        assert!(parse_listen_addr("[::1]:80").is_ok());
        assert!(parse_listen_addr("8080").is_err());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let mut cfg = Config::new(None, Some(Secret::new("hs-secret-value")));
        cfg.read_token = Some(Secret::new("read-token-value"));
        cfg.ingest_token = Some(Secret::new("ingest-token-value"));
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("hs-secret-value"));
        assert!(!dbg.contains("read-token-value"));
        assert!(!dbg.contains("ingest-token-value"));
    }
}

//! Configuration (emitter.md §1): every setting is an environment variable and
//! a long CLI flag (flag > env > default). Invalid input is reported as one
//! `config: …` line and the binary exits with code 2.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::duration::parse_go_duration;

/// Raw command line / environment, before validation. Every value is taken as
/// a string so that each failure can be reported in the spec's own words.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "openova-flow-emitter",
    version,
    about = "Watches Flux HelmReleases and HelmCharts in this cluster and keeps this region's part of a deployment flow up to date on the OpenovaFlow server."
)]
pub struct Args {
    /// Flow server base URL (absolute http/https; may carry a path prefix).
    #[arg(long, env = "FLOW_SERVER_URL")]
    pub flow_server_url: Option<String>,
    /// The deployment flow id (1–128 characters of [A-Za-z0-9._:-]).
    #[arg(long, env = "FLOW_ID")]
    pub flow_id: Option<String>,
    /// This cluster's region key ([A-Za-z0-9._-]{1,63}, e.g. fsn1).
    #[arg(long, env = "REGION_KEY")]
    pub region_key: Option<String>,
    /// Namespace to watch; unset → flux-system; empty → all namespaces.
    #[arg(long, env = "NAMESPACE_FILTER")]
    pub namespace_filter: Option<String>,
    /// Coalescing window before a flush (Go duration).
    #[arg(long, env = "EMIT_INTERVAL")]
    pub emit_interval: Option<String>,
    /// Total deadline of one flow-server request (Go duration).
    #[arg(long, env = "POST_TIMEOUT")]
    pub post_timeout: Option<String>,
    /// Health/metrics listen address (`:port` = all interfaces).
    #[arg(long, env = "HEALTH_LISTEN_ADDR")]
    pub health_listen_addr: Option<String>,
    /// Kubeconfig file; unset → in-cluster configuration.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Bearer token for the flow server (never logged).
    #[arg(long, env = "FLOW_SERVER_TOKEN", hide_env_values = true)]
    pub flow_server_token: Option<String>,
    /// Periodic full re-send of this region's state (Go duration).
    #[arg(long, env = "RESYNC_INTERVAL")]
    pub resync_interval: Option<String>,
    /// Lease name for leader election; unset → always active.
    #[arg(long, env = "LEASE_NAME")]
    pub lease_name: Option<String>,
    /// Lease holder identity; required with LEASE_NAME.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
}

/// A secret value whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Leader-election settings (§9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    pub name: String,
    pub holder: String,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL without trailing `/`.
    pub flow_server_url: String,
    pub flow_id: String,
    pub region: String,
    /// `None` = all namespaces.
    pub namespace: Option<String>,
    pub emit_interval: Duration,
    pub post_timeout: Duration,
    pub health_listen_addr: SocketAddr,
    pub kubeconfig: Option<PathBuf>,
    pub token: Option<Secret>,
    pub resync_interval: Duration,
    pub lease: Option<LeaseConfig>,
}

/// One configuration problem, displayed as the spec's one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config: {0} is required")]
    Required(&'static str),
    #[error("config: bad {name}: {value:?} ({why})")]
    Bad {
        name: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("config: POD_NAME is required when LEASE_NAME is set")]
    PodNameRequired,
}

fn bad(name: &'static str, value: &str, why: &'static str) -> ConfigError {
    ConfigError::Bad {
        name,
        value: value.to_owned(),
        why,
    }
}

fn required(value: Option<&String>, name: &'static str) -> Result<String, ConfigError> {
    match value.map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(ConfigError::Required(name)),
    }
}

fn duration(
    value: Option<&String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => parse_go_duration(v.trim()).ok_or_else(|| {
            bad(
                name,
                v,
                "expected a positive Go duration such as 200ms, 10s, 1m30s",
            )
        }),
    }
}

/// `[A-Za-z0-9._-]{1,63}` (§1).
pub fn is_valid_region_key(key: &str) -> bool {
    (1..=63).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `:port` → all interfaces; otherwise an IP socket address.
pub fn parse_listen_addr(text: &str) -> Option<SocketAddr> {
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().ok()?;
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    text.parse().ok()
}

fn flow_server_url(raw: &str) -> Result<String, ConfigError> {
    const WHY: &str = "expected an absolute http:// or https:// URL";
    let trimmed = raw.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|_| bad("FLOW_SERVER_URL", raw, WHY))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("FLOW_SERVER_URL", raw, WHY));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "FLOW_SERVER_URL",
            raw,
            "the URL must not carry a query or fragment",
        ));
    }
    Ok(trimmed.to_owned())
}

impl Config {
    /// Validates raw arguments; the first problem wins.
    pub fn from_args(args: &Args) -> Result<Config, ConfigError> {
        let url = required(args.flow_server_url.as_ref(), "FLOW_SERVER_URL")?;
        let flow_id = required(args.flow_id.as_ref(), "FLOW_ID")?;
        let region = required(args.region_key.as_ref(), "REGION_KEY")?;
        let flow_server_url = flow_server_url(&url)?;
        if !openova_flow_contract::is_valid_flow_id(&flow_id) {
            return Err(bad(
                "FLOW_ID",
                &flow_id,
                "expected 1-128 characters of [A-Za-z0-9._:-]",
            ));
        }
        if !is_valid_region_key(&region) {
            return Err(bad(
                "REGION_KEY",
                &region,
                "expected 1-63 characters of [A-Za-z0-9._-]",
            ));
        }
        let namespace = match &args.namespace_filter {
            None => Some("flux-system".to_owned()),
            Some(ns) if ns.trim().is_empty() => None,
            Some(ns) => Some(ns.trim().to_owned()),
        };
        let emit_interval = duration(
            args.emit_interval.as_ref(),
            "EMIT_INTERVAL",
            Duration::from_millis(200),
        )?;
        let post_timeout = duration(
            args.post_timeout.as_ref(),
            "POST_TIMEOUT",
            Duration::from_secs(10),
        )?;
        let resync_interval = duration(
            args.resync_interval.as_ref(),
            "RESYNC_INTERVAL",
            Duration::from_secs(300),
        )?;
        let health_listen_addr = match &args.health_listen_addr {
            None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8081),
            Some(a) => parse_listen_addr(a.trim()).ok_or_else(|| {
                bad(
                    "HEALTH_LISTEN_ADDR",
                    a,
                    "expected :port or ip:port, e.g. :8081 or 127.0.0.1:8081",
                )
            })?,
        };
        let token = args
            .flow_server_token
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.clone()));
        let lease = match args.lease_name.as_ref().map(|s| s.trim()) {
            None | Some("") => None,
            Some(name) => {
                let holder = match args.pod_name.as_ref().map(|s| s.trim()) {
                    Some(p) if !p.is_empty() => p.to_owned(),
                    _ => return Err(ConfigError::PodNameRequired),
                };
                Some(LeaseConfig {
                    name: name.to_owned(),
                    holder,
                })
            }
        };
        Ok(Config {
            flow_server_url,
            flow_id,
            region,
            namespace,
            emit_interval,
            post_timeout,
            health_listen_addr,
            kubeconfig: args
                .kubeconfig
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            token,
            resync_interval,
            lease,
        })
    }

    /// `true` when ids are namespace-qualified (all namespaces watched, §3).
    pub fn qualify(&self) -> bool {
        self.namespace.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Args {
        Args {
            flow_server_url: Some("http://flow.example:8080/".into()),
            flow_id: Some("dep-abc".into()),
            region_key: Some(" fsn1 ".into()),
            ..Args::default()
        }
    }

    #[test]
    fn defaults() {
        let c = Config::from_args(&base()).unwrap();
        assert_eq!(c.flow_server_url, "http://flow.example:8080");
        assert_eq!(c.region, "fsn1");
        assert_eq!(c.namespace.as_deref(), Some("flux-system"));
        assert!(!c.qualify());
        assert_eq!(c.emit_interval, Duration::from_millis(200));
        assert_eq!(c.post_timeout, Duration::from_secs(10));
        assert_eq!(c.resync_interval, Duration::from_secs(300));
        assert_eq!(c.health_listen_addr, "0.0.0.0:8081".parse().unwrap());
        assert!(c.token.is_none() && c.lease.is_none() && c.kubeconfig.is_none());
    }

    #[test]
    fn required_values_acceptance_1() {
        for (field, name) in [(0, "FLOW_SERVER_URL"), (1, "FLOW_ID"), (2, "REGION_KEY")] {
            let mut a = base();
            match field {
                0 => a.flow_server_url = None,
                1 => a.flow_id = Some("  ".into()),
                _ => a.region_key = None,
            }
            let e = Config::from_args(&a).unwrap_err();
            assert_eq!(e.to_string(), format!("config: {name} is required"));
        }
        let mut a = base();
        a.lease_name = Some("emitter".into());
        assert_eq!(
            Config::from_args(&a).unwrap_err(),
            ConfigError::PodNameRequired
        );
        a.pod_name = Some("pod-1".into());
        assert_eq!(
            Config::from_args(&a).unwrap().lease,
            Some(LeaseConfig {
                name: "emitter".into(),
                holder: "pod-1".into()
            })
        );
    }

    #[test]
    fn bad_values_are_named() {
        type Edit = fn(&mut Args);
        let cases: Vec<(Edit, &str)> = vec![
            (|a| a.emit_interval = Some("fast".into()), "EMIT_INTERVAL"),
            (|a| a.post_timeout = Some("0s".into()), "POST_TIMEOUT"),
            (
                |a| a.resync_interval = Some("-5m".into()),
                "RESYNC_INTERVAL",
            ),
            (
                |a| a.health_listen_addr = Some("eight".into()),
                "HEALTH_LISTEN_ADDR",
            ),
            (
                |a| a.flow_server_url = Some("ftp://x".into()),
                "FLOW_SERVER_URL",
            ),
            (
                |a| a.flow_server_url = Some("/relative".into()),
                "FLOW_SERVER_URL",
            ),
            (
                |a| a.flow_server_url = Some("http://x/?q=1".into()),
                "FLOW_SERVER_URL",
            ),
            (|a| a.flow_id = Some("a/b".into()), "FLOW_ID"),
            (|a| a.region_key = Some("fsn:1".into()), "REGION_KEY"),
            (|a| a.region_key = Some("x".repeat(64)), "REGION_KEY"),
        ];
        for (edit, name) in cases {
            let mut a = base();
            edit(&mut a);
            let msg = Config::from_args(&a).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("config: bad {name}: ")), "{msg}");
            assert!(!msg.contains('\n'));
        }
        let mut a = base();
        a.emit_interval = Some("fast".into());
        assert!(
            Config::from_args(&a)
                .unwrap_err()
                .to_string()
                .starts_with("config: bad EMIT_INTERVAL: \"fast\"")
        );
    }

    #[test]
    fn namespace_filter_rules() {
        let mut a = base();
        a.namespace_filter = Some(String::new());
        let c = Config::from_args(&a).unwrap();
        assert_eq!(c.namespace, None);
        assert!(c.qualify());
        a.namespace_filter = Some("apps".into());
        assert_eq!(
            Config::from_args(&a).unwrap().namespace.as_deref(),
            Some("apps")
        );
    }

    #[test]
    fn url_with_path_prefix_and_listen_forms() {
        let mut a = base();
        a.flow_server_url = Some("https://h/prefix/flow//".into());
        a.health_listen_addr = Some("127.0.0.1:9000".into());
        a.flow_server_token = Some("s3cret".into());
        let c = Config::from_args(&a).unwrap();
        assert_eq!(c.flow_server_url, "https://h/prefix/flow");
        assert_eq!(c.health_listen_addr, "127.0.0.1:9000".parse().unwrap());
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(parse_listen_addr(":0").unwrap().port(), 0);
        assert!(parse_listen_addr("[::1]:80").is_some());
        assert!(parse_listen_addr(":99999").is_none());
    }

    #[test]
    fn flags_win_over_env_via_clap() {
        let args = Args::try_parse_from([
            "openova-flow-emitter",
            "--flow-server-url",
            "http://a",
            "--flow-id",
            "f",
            "--region-key",
            "hel1-1",
            "--namespace-filter",
            "",
        ])
        .unwrap();
        let c = Config::from_args(&args).unwrap();
        assert_eq!(c.region, "hel1-1");
        assert!(c.qualify());
    }
}

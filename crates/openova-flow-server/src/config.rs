//! Configuration (server.md §1): every setting is an environment variable and
//! the same-named long flag; precedence flag > env > default.
//!
//! clap only collects the raw strings; [`Config::from_args`] validates them so
//! every failure is one line naming the environment variable and the value
//! (exit 2). An empty value means "unset" (the default applies), which keeps
//! charts that render `value: ""` working.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use openova_flow_contract::quote::go_quote;
use thiserror::Error;

use crate::dsn::Dsn;
use crate::duration::parse_go_duration;

/// The raw command line / environment, exactly as clap sees it.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "openova-flow-server",
    version,
    about = "OpenovaFlow HTTP+SSE event router: ingests FlowMessages per flow and serves snapshots and live streams.",
    after_help = "Every flag can also be set with its FLOW_SERVER_* environment variable (flag > env > default). \
                  Prefer the environment for the DSN and tokens: flags are visible in process lists."
)]
pub struct Args {
    /// Listen address.
    #[arg(
        long,
        env = "FLOW_SERVER_LISTEN_ADDR",
        default_value = ":8080",
        value_name = "ADDR",
        help = "Listen address: host:port, [v6]:port, or :port for all interfaces"
    )]
    pub listen_addr: String,
    /// Events retained per flow for resume (1–1000000).
    #[arg(
        long,
        env = "FLOW_SERVER_RING_CAPACITY",
        default_value = "4096",
        value_name = "N"
    )]
    pub ring_capacity: String,
    /// Storage backend: memory, mem, postgres or pg.
    #[arg(
        long,
        env = "FLOW_SERVER_BACKEND",
        default_value = "memory",
        value_name = "NAME"
    )]
    pub backend: String,
    /// PostgreSQL DSN (libpq URI or key=value); required for the postgres backend.
    #[arg(
        long,
        env = "FLOW_SERVER_PG_DSN",
        hide_env_values = true,
        value_name = "DSN"
    )]
    pub pg_dsn: Option<String>,
    /// Pooled PostgreSQL connections (1–1024).
    #[arg(
        long,
        env = "FLOW_SERVER_PG_POOL",
        default_value = "16",
        value_name = "N"
    )]
    pub pg_pool: String,
    /// SSE heartbeat after this much idleness (Go duration, > 0).
    #[arg(
        long,
        env = "FLOW_SERVER_HEARTBEAT",
        default_value = "15s",
        value_name = "DURATION"
    )]
    pub heartbeat: String,
    /// Largest accepted request body in bytes.
    #[arg(
        long,
        env = "FLOW_SERVER_MAX_BODY_BYTES",
        default_value = "1048576",
        value_name = "BYTES"
    )]
    pub max_body_bytes: String,
    /// Flows held by the memory backend (least recently updated idle flow evicted).
    #[arg(
        long,
        env = "FLOW_SERVER_MAX_FLOWS",
        default_value = "10000",
        value_name = "N"
    )]
    pub max_flows: String,
    /// Nodes per flow; relationships are capped at 4× this value.
    #[arg(
        long,
        env = "FLOW_SERVER_MAX_NODES_PER_FLOW",
        default_value = "50000",
        value_name = "N"
    )]
    pub max_nodes_per_flow: String,
    /// Open SSE streams per process.
    #[arg(
        long,
        env = "FLOW_SERVER_MAX_SUBSCRIBERS",
        default_value = "20000",
        value_name = "N"
    )]
    pub max_subscribers: String,
    /// Frames queued per subscriber before it is resynced with a snapshot.
    #[arg(
        long,
        env = "FLOW_SERVER_SUBSCRIBER_QUEUE",
        default_value = "256",
        value_name = "N"
    )]
    pub subscriber_queue: String,
    /// Idle-flow TTL of the memory backend (Go duration; 0 disables).
    #[arg(
        long,
        env = "FLOW_SERVER_FLOW_TTL",
        default_value = "168h",
        value_name = "DURATION"
    )]
    pub flow_ttl: String,
    /// Log lines kept per flow by the memory backend (newest N).
    #[arg(
        long,
        env = "FLOW_SERVER_LOG_LINES_PER_FLOW",
        default_value = "10000",
        value_name = "N"
    )]
    pub log_lines_per_flow: String,
    /// Comma-separated bearer tokens for writes (POST, DELETE); unset = open.
    #[arg(
        long,
        env = "FLOW_SERVER_INGEST_TOKEN",
        hide_env_values = true,
        value_name = "TOKENS"
    )]
    pub ingest_token: Option<String>,
    /// Comma-separated bearer tokens for reads (snapshot, stream, log lines); unset = open.
    #[arg(
        long,
        env = "FLOW_SERVER_READ_TOKEN",
        hide_env_values = true,
        value_name = "TOKENS"
    )]
    pub read_token: Option<String>,
    /// Comma-separated allowed CORS origins, or *; unset = no CORS headers.
    #[arg(long, env = "FLOW_SERVER_CORS_ORIGINS", value_name = "ORIGINS")]
    pub cors_origins: Option<String>,
    /// tracing filter directive, e.g. info or openova_flow_server=debug.
    #[arg(long, env = "RUST_LOG", default_value = "info", value_name = "FILTER")]
    pub log_filter: String,
}

/// Which store backs the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Memory,
    Postgres,
}

impl BackendKind {
    /// The name used in `/`, metrics and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Postgres => "postgres",
        }
    }
}

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// An IP literal and port.
    Socket(SocketAddr),
    /// `:port`: every interface.
    AllInterfaces(u16),
    /// A host name and port, resolved when binding.
    Host(String, u16),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Socket(a) => write!(f, "{a}"),
            ListenAddr::AllInterfaces(p) => write!(f, ":{p}"),
            ListenAddr::Host(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

/// A comma-separated secret list. `Debug` shows only the count.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens(Vec<String>);

impl Tokens {
    /// Entries trimmed, empty ones dropped; `None` when nothing is left.
    pub fn parse(raw: Option<&str>) -> Option<Tokens> {
        let list = comma_list(raw?);
        (!list.is_empty()).then_some(Tokens(list))
    }

    /// The configured tokens (for building the auth digests only).
    pub fn expose(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens(<{} redacted>)", self.0.len())
    }
}

/// Allowed CORS origins (server.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: ListenAddr,
    pub ring_capacity: usize,
    pub backend: BackendKind,
    pub pg_dsn: Option<Dsn>,
    pub pg_pool: u32,
    pub heartbeat: Duration,
    pub max_body_bytes: usize,
    pub max_flows: usize,
    pub max_nodes_per_flow: usize,
    pub max_subscribers: usize,
    pub subscriber_queue: usize,
    /// `None` when disabled (`0`).
    pub flow_ttl: Option<Duration>,
    pub log_lines_per_flow: usize,
    pub ingest_tokens: Option<Tokens>,
    pub read_tokens: Option<Tokens>,
    pub cors_origins: Option<CorsOrigins>,
    pub log_filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen_addr: ListenAddr::AllInterfaces(8080),
            ring_capacity: 4096,
            backend: BackendKind::Memory,
            pg_dsn: None,
            pg_pool: 16,
            heartbeat: Duration::from_secs(15),
            max_body_bytes: 1 << 20,
            max_flows: 10_000,
            max_nodes_per_flow: 50_000,
            max_subscribers: 20_000,
            subscriber_queue: 256,
            flow_ttl: Some(Duration::from_secs(168 * 3600)),
            log_lines_per_flow: 10_000,
            ingest_tokens: None,
            read_tokens: None,
            cors_origins: None,
            log_filter: "info".to_owned(),
        }
    }
}

/// Why the configuration was refused. `Display` is the one stderr line.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    #[error("invalid {var} {value}: {expected}")]
    Invalid {
        var: &'static str,
        /// Already quoted (Go `%q` style), masked when secret.
        value: String,
        expected: &'static str,
    },
    #[error("FLOW_SERVER_PG_DSN is required when FLOW_SERVER_BACKEND=postgres")]
    DsnRequired,
    /// clap's own error (unknown flag, `--help`, `--version`): print with `exit()`.
    #[error("{0}")]
    Cli(#[from] clap::Error),
}

impl ConfigError {
    /// The process exit code: 0 for `--help`/`--version`, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConfigError::Cli(e) => e.exit_code(),
            _ => 2,
        }
    }
}

fn invalid(var: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: go_quote(value),
        expected,
    }
}

impl Config {
    /// Parses a command line (`args[0]` is the program name). With `use_env`
    /// false the `FLOW_SERVER_*` / `RUST_LOG` variables are ignored (tests).
    pub fn from_args<I, T>(args: I, use_env: bool) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = Args::command();
        if !use_env {
            cmd = cmd.mut_args(|a| a.env(clap::builder::Resettable::Reset));
        }
        let matches = cmd.try_get_matches_from(args)?;
        let raw = Args::from_arg_matches(&matches)?;
        Config::from_raw(&raw)
    }

    /// Validates raw values (server.md §1).
    pub fn from_raw(a: &Args) -> Result<Config, ConfigError> {
        let d = Config::default();
        let backend = match or_default(&a.backend, "memory") {
            "memory" | "mem" => BackendKind::Memory,
            "postgres" | "pg" => BackendKind::Postgres,
            other => {
                return Err(invalid(
                    "FLOW_SERVER_BACKEND",
                    other,
                    "expected memory, mem, postgres or pg",
                ));
            }
        };
        let pg_dsn = match a.pg_dsn.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(Dsn::parse(raw).ok_or_else(|| ConfigError::Invalid {
                var: "FLOW_SERVER_PG_DSN",
                // Never echo a DSN that may hold a password.
                value: go_quote(&crate::dsn::mask_dsn(raw)),
                expected: "expected a postgres:// or postgresql:// URI, or libpq key=value pairs",
            })?),
        };
        if backend == BackendKind::Postgres && pg_dsn.is_none() {
            return Err(ConfigError::DsnRequired);
        }
        let heartbeat = or_default(&a.heartbeat, "15s");
        let heartbeat = parse_go_duration(heartbeat)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                invalid(
                    "FLOW_SERVER_HEARTBEAT",
                    heartbeat,
                    "expected a duration such as 15s (greater than 0)",
                )
            })?;
        let ttl = or_default(&a.flow_ttl, "168h");
        let flow_ttl = parse_go_duration(ttl).ok_or_else(|| {
            invalid(
                "FLOW_SERVER_FLOW_TTL",
                ttl,
                "expected a duration such as 168h, or 0 to disable",
            )
        })?;
        let log_filter = or_default(&a.log_filter, "info").to_owned();
        if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
            return Err(invalid(
                "RUST_LOG",
                &log_filter,
                "expected a tracing filter such as info or openova_flow_server=debug",
            ));
        }
        let cors_origins = match a.cors_origins.as_deref() {
            None => None,
            Some(raw) => parse_cors(raw).map_err(|()| {
                invalid(
                    "FLOW_SERVER_CORS_ORIGINS",
                    raw,
                    "expected * or comma-separated origins such as https://ui.example",
                )
            })?,
        };
        Ok(Config {
            listen_addr: parse_listen_addr(or_default(&a.listen_addr, ":8080")).ok_or_else(
                || {
                    invalid(
                        "FLOW_SERVER_LISTEN_ADDR",
                        &a.listen_addr,
                        "expected host:port, [v6]:port or :port",
                    )
                },
            )?,
            ring_capacity: int_in(
                "FLOW_SERVER_RING_CAPACITY",
                &a.ring_capacity,
                d.ring_capacity,
                1,
                1_000_000,
                "expected an integer between 1 and 1000000",
            )?,
            backend,
            pg_dsn,
            pg_pool: int_in(
                "FLOW_SERVER_PG_POOL",
                &a.pg_pool,
                d.pg_pool as usize,
                1,
                1024,
                "expected an integer between 1 and 1024",
            )? as u32,
            heartbeat,
            max_body_bytes: at_least_one(
                "FLOW_SERVER_MAX_BODY_BYTES",
                &a.max_body_bytes,
                d.max_body_bytes,
            )?,
            max_flows: at_least_one("FLOW_SERVER_MAX_FLOWS", &a.max_flows, d.max_flows)?,
            max_nodes_per_flow: at_least_one(
                "FLOW_SERVER_MAX_NODES_PER_FLOW",
                &a.max_nodes_per_flow,
                d.max_nodes_per_flow,
            )?,
            max_subscribers: at_least_one(
                "FLOW_SERVER_MAX_SUBSCRIBERS",
                &a.max_subscribers,
                d.max_subscribers,
            )?,
            subscriber_queue: at_least_one(
                "FLOW_SERVER_SUBSCRIBER_QUEUE",
                &a.subscriber_queue,
                d.subscriber_queue,
            )?,
            flow_ttl: (!flow_ttl.is_zero()).then_some(flow_ttl),
            log_lines_per_flow: at_least_one(
                "FLOW_SERVER_LOG_LINES_PER_FLOW",
                &a.log_lines_per_flow,
                d.log_lines_per_flow,
            )?,
            ingest_tokens: Tokens::parse(a.ingest_token.as_deref()),
            read_tokens: Tokens::parse(a.read_token.as_deref()),
            cors_origins,
            log_filter,
        })
    }
}

fn or_default<'a>(value: &'a str, default: &'a str) -> &'a str {
    let v = value.trim();
    if v.is_empty() { default } else { v }
}

fn int_in(
    var: &'static str,
    raw: &str,
    default: usize,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<usize, ConfigError> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(default);
    }
    v.parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(var, raw, expected))
}

fn at_least_one(var: &'static str, raw: &str, default: usize) -> Result<usize, ConfigError> {
    int_in(
        var,
        raw,
        default,
        1,
        usize::MAX,
        "expected an integer of at least 1",
    )
}

/// Entries trimmed, empty entries dropped.
pub fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_cors(raw: &str) -> Result<Option<CorsOrigins>, ()> {
    let list = comma_list(raw);
    if list.is_empty() {
        return Ok(None);
    }
    if list.iter().any(|o| o == "*") {
        return Ok(Some(CorsOrigins::Any));
    }
    for o in &list {
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .ok_or(())?;
        if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
            return Err(());
        }
    }
    Ok(Some(CorsOrigins::List(list)))
}

/// `host:port`, `[v6]:port` or `:port`.
pub fn parse_listen_addr(s: &str) -> Option<ListenAddr> {
    let port = |p: &str| -> Option<u16> {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    if let Some(p) = s.strip_prefix(':') {
        return port(p).map(ListenAddr::AllInterfaces);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, p) = rest.split_once("]:")?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        return Some(ListenAddr::Socket(SocketAddr::new(
            IpAddr::V6(ip),
            port(p)?,
        )));
    }
    let (host, p) = s.rsplit_once(':')?;
    let p = port(p)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(_) => Some(ListenAddr::Socket(SocketAddr::new(ip, p))),
            // A bare v6 literal must be bracketed.
            IpAddr::V6(_) => None,
        };
    }
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    host_ok.then(|| ListenAddr::Host(host.to_owned(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut v = vec!["openova-flow-server"];
        v.extend_from_slice(args);
        Config::from_args(v, false)
    }

    fn err(args: &[&str]) -> String {
        parse(args).unwrap_err().to_string()
    }

    #[test]
    fn defaults_section_1() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.listen_addr, ListenAddr::AllInterfaces(8080));
        assert_eq!(c.ring_capacity, 4096);
        assert_eq!(c.backend, BackendKind::Memory);
        assert_eq!(c.heartbeat, Duration::from_secs(15));
        assert_eq!(c.max_body_bytes, 1_048_576);
        assert_eq!(c.max_flows, 10_000);
        assert_eq!(c.max_nodes_per_flow, 50_000);
        assert_eq!(c.max_subscribers, 20_000);
        assert_eq!(c.subscriber_queue, 256);
        assert_eq!(c.flow_ttl, Some(Duration::from_secs(168 * 3600)));
        assert_eq!(c.log_lines_per_flow, 10_000);
        assert_eq!(c.pg_pool, 16);
        assert!(c.ingest_tokens.is_none() && c.read_tokens.is_none());
        assert!(c.cors_origins.is_none());
        assert_eq!(c.log_filter, "info");
    }

    #[test]
    fn error_texts_section_1() {
        assert_eq!(
            err(&["--backend", "redis"]),
            r#"invalid FLOW_SERVER_BACKEND "redis": expected memory, mem, postgres or pg"#
        );
        assert_eq!(
            err(&["--backend", "pg"]),
            "FLOW_SERVER_PG_DSN is required when FLOW_SERVER_BACKEND=postgres"
        );
        assert_eq!(
            err(&["--ring-capacity", "abc"]),
            r#"invalid FLOW_SERVER_RING_CAPACITY "abc": expected an integer between 1 and 1000000"#
        );
        assert_eq!(
            err(&["--ring-capacity", "1000001"]),
            r#"invalid FLOW_SERVER_RING_CAPACITY "1000001": expected an integer between 1 and 1000000"#
        );
        assert!(err(&["--heartbeat", "fast"]).starts_with(
            r#"invalid FLOW_SERVER_HEARTBEAT "fast": expected a duration such as 15s"#
        ));
        assert!(err(&["--heartbeat", "0"]).starts_with(r#"invalid FLOW_SERVER_HEARTBEAT "0": "#));
        assert!(err(&["--pg-pool", "0"]).starts_with(r#"invalid FLOW_SERVER_PG_POOL "0": "#));
        assert!(err(&["--max-flows", "0"]).starts_with(r#"invalid FLOW_SERVER_MAX_FLOWS "0": "#));
        assert!(
            err(&["--listen-addr", "nope"])
                .starts_with(r#"invalid FLOW_SERVER_LISTEN_ADDR "nope": "#)
        );
        assert!(err(&["--log-filter", "a=b=c"]).starts_with(r#"invalid RUST_LOG "a=b=c": "#));
        assert!(
            err(&["--cors-origins", "ui.example"])
                .starts_with(r#"invalid FLOW_SERVER_CORS_ORIGINS "ui.example": "#)
        );
    }

    #[test]
    fn invalid_dsn_is_masked_in_the_error() {
        let e = err(&["--backend", "pg", "--pg-dsn", "s3cret"]);
        assert!(e.starts_with("invalid FLOW_SERVER_PG_DSN \"***\": "), "{e}");
        let ok = parse(&[
            "--backend",
            "postgres",
            "--pg-dsn",
            "postgres://u:s3cret@db/f",
        ])
        .unwrap();
        assert_eq!(ok.backend, BackendKind::Postgres);
        assert!(!format!("{ok:?}").contains("s3cret"));
        assert_eq!(parse(&["--pg-pool", "1024"]).unwrap().pg_pool, 1024);
    }

    #[test]
    fn values_parse() {
        let c = parse(&[
            "--listen-addr",
            "127.0.0.1:0",
            "--backend",
            "mem",
            "--heartbeat",
            "200ms",
            "--flow-ttl",
            "0",
            "--ingest-token",
            " a, ,b ",
            "--read-token",
            " , ",
            "--cors-origins",
            "https://ui.example, http://localhost:3000",
        ])
        .unwrap();
        assert_eq!(
            c.listen_addr,
            ListenAddr::Socket("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(c.heartbeat, Duration::from_millis(200));
        assert_eq!(c.flow_ttl, None);
        assert_eq!(c.ingest_tokens.unwrap().expose(), ["a", "b"]);
        assert!(c.read_tokens.is_none(), "no entries left = unset");
        assert_eq!(
            c.cors_origins,
            Some(CorsOrigins::List(vec![
                "https://ui.example".into(),
                "http://localhost:3000".into()
            ]))
        );
        assert_eq!(
            parse(&["--cors-origins", "https://a, *"])
                .unwrap()
                .cors_origins,
            Some(CorsOrigins::Any)
        );
        assert_eq!(parse(&["--ring-capacity", ""]).unwrap().ring_capacity, 4096);
    }

    #[test]
    fn listen_addr_forms() {
        assert_eq!(
            parse_listen_addr(":80"),
            Some(ListenAddr::AllInterfaces(80))
        );
        assert_eq!(
            parse_listen_addr("[::1]:80"),
            Some(ListenAddr::Socket("[::1]:80".parse().unwrap()))
        );
        assert_eq!(
            parse_listen_addr("localhost:80"),
            Some(ListenAddr::Host("localhost".into(), 80))
        );
        for bad in [
            "", ":", "80", ":x", ":65536", "::1:80", "[::1]80", "a b:1", "h:",
        ] {
            assert_eq!(parse_listen_addr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn d20_every_env_var_has_its_flag() {
        let cmd = Args::command();
        let mut envs = Vec::new();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let env = arg
                .get_env()
                .unwrap_or_else(|| panic!("--{long} has no env var"))
                .to_string_lossy()
                .into_owned();
            if env != "RUST_LOG" {
                assert_eq!(
                    env,
                    format!("FLOW_SERVER_{}", long.to_uppercase().replace('-', "_")),
                    "flag --{long}"
                );
            } else {
                assert_eq!(long, "log-filter");
            }
            envs.push(env);
        }
        for var in [
            "FLOW_SERVER_LISTEN_ADDR",
            "FLOW_SERVER_RING_CAPACITY",
            "FLOW_SERVER_BACKEND",
            "FLOW_SERVER_PG_DSN",
            "FLOW_SERVER_PG_POOL",
            "FLOW_SERVER_HEARTBEAT",
            "FLOW_SERVER_MAX_BODY_BYTES",
            "FLOW_SERVER_MAX_FLOWS",
            "FLOW_SERVER_MAX_NODES_PER_FLOW",
            "FLOW_SERVER_MAX_SUBSCRIBERS",
            "FLOW_SERVER_SUBSCRIBER_QUEUE",
            "FLOW_SERVER_FLOW_TTL",
            "FLOW_SERVER_LOG_LINES_PER_FLOW",
            "FLOW_SERVER_INGEST_TOKEN",
            "FLOW_SERVER_READ_TOKEN",
            "FLOW_SERVER_CORS_ORIGINS",
            "RUST_LOG",
        ] {
            assert!(envs.iter().any(|e| e == var), "{var} has no flag");
        }
    }
}

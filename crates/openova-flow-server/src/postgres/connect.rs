//! From `FLOW_SERVER_PG_DSN` to connection settings (server.md §1, §10.2).
//!
//! tokio-postgres parses libpq URIs and `key=value` strings itself, but knows
//! only `sslmode` `disable`/`prefer`/`require` and no `sslrootcert`. So those
//! two are taken out of the DSN here (pure, tested) and implemented by our own
//! rustls connector ([`super::tls`]) with libpq's meaning:
//!
//! | sslmode | TLS | verification |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers it | none (chain checked if `sslrootcert` is set) |
//! | `require` | always | none, or the chain when `sslrootcert` is set (libpq: "verify-ca behaviour") |
//! | `verify-ca` | always | chain against `sslrootcert` |
//! | `verify-full` | always | chain and host name |
//!
//! `sslrootcert` is a PEM file, or `system` for the machine's CA bundle;
//! without it, `verify-*` use `~/.postgresql/root.crt` like libpq.
//! Every connection gets a 5 s connect timeout and `statement_timeout = 5s`.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;
use tokio_postgres::config::{Host, SslMode as PgSslMode};

/// Connect timeout of every connection (server.md §10.2).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `statement_timeout` of every connection, in milliseconds.
pub const STATEMENT_TIMEOUT_MS: u32 = 5_000;

/// `application_name` when the DSN sets none.
pub const APPLICATION_NAME: &str = "openova-flow-server";

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file (`sslrootcert=<path>`, or libpq's default `~/.postgresql/root.crt`).
    File(PathBuf),
    /// `sslrootcert=system`: the machine's CA bundle.
    System,
}

/// How the TLS layer must check the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only.
    Nothing,
    /// The certificate chain, not the host name.
    Chain(RootCert),
    /// Chain and host name.
    Full(RootCert),
}

/// Everything needed to open connections.
#[derive(Debug, Clone)]
pub struct ConnectSettings {
    /// tokio-postgres settings, with timeouts and the `-c` options applied.
    pub config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    /// Meaningful when TLS may be used (`ssl_mode` ≠ `disable`).
    pub verify: Verify,
}

/// Why a DSN cannot be used. Never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DsnError {
    #[error(
        "invalid sslmode {0:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
    )]
    SslMode(String),
    #[error("malformed key=value DSN")]
    KeyValue,
    #[error("{0}")]
    Driver(String),
}

/// The DSN split into what tokio-postgres understands and our TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SplitDsn {
    /// The DSN without `sslmode` / `sslrootcert`.
    rest: String,
    ssl_mode: Option<String>,
    ssl_root_cert: Option<String>,
}

/// Parses a DSN (libpq URI or `key=value`) into connection settings.
pub fn parse(dsn: &str) -> Result<ConnectSettings, DsnError> {
    let dsn = dsn.trim();
    let split = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        split_uri(dsn)
    } else {
        split_key_values(dsn)?
    };
    let ssl_mode = match split.ssl_mode.as_deref() {
        None | Some("") => SslMode::Prefer,
        Some(s) => SslMode::parse(s).ok_or_else(|| DsnError::SslMode(s.to_owned()))?,
    };
    let root = match split.ssl_root_cert.as_deref() {
        Some("system") => Some(RootCert::System),
        Some(p) if !p.is_empty() => Some(RootCert::File(PathBuf::from(p))),
        _ => None,
    };
    let verify = verify_for(ssl_mode, root, default_root_cert());
    // tokio-postgres' own messages name options and values, never the password.
    let mut config = tokio_postgres::Config::from_str(&split.rest)
        .map_err(|e| DsnError::Driver(scrub(&e.to_string(), dsn)))?;
    apply_defaults(&mut config, ssl_mode);
    Ok(ConnectSettings {
        config,
        ssl_mode,
        verify,
    })
}

/// libpq's rules for what to verify.
fn verify_for(mode: SslMode, root: Option<RootCert>, default_root: Option<PathBuf>) -> Verify {
    match mode {
        SslMode::Disable | SslMode::Allow | SslMode::Prefer | SslMode::Require => match root {
            Some(r) => Verify::Chain(r),
            None => Verify::Nothing,
        },
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let r = root.unwrap_or_else(|| {
                RootCert::File(default_root.unwrap_or_else(|| PathBuf::from("root.crt")))
            });
            if mode == SslMode::VerifyCa {
                Verify::Chain(r)
            } else {
                Verify::Full(r)
            }
        }
    }
}

/// `~/.postgresql/root.crt`, libpq's default `sslrootcert`.
fn default_root_cert() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
}

fn apply_defaults(config: &mut tokio_postgres::Config, mode: SslMode) {
    config.connect_timeout(CONNECT_TIMEOUT);
    let statement_timeout = format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}");
    let options = match config.get_options() {
        Some(o) if !o.trim().is_empty() => format!("{o} {statement_timeout}"),
        _ => statement_timeout,
    };
    config.options(options);
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    // libpq ignores sslmode on Unix sockets (PostgreSQL has no TLS there).
    let all_unix = !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, Host::Unix(_)));
    config.ssl_mode(match mode {
        _ if all_unix => PgSslMode::Disable,
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow | SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
}

/// Removes `sslmode` / `sslrootcert` from a URI's query string.
fn split_uri(dsn: &str) -> SplitDsn {
    let base = dsn.split_once('#').map_or(dsn, |(b, _)| b);
    let Some((head, query)) = base.split_once('?') else {
        return SplitDsn {
            rest: base.to_owned(),
            ssl_mode: None,
            ssl_root_cert: None,
        };
    };
    let mut out = SplitDsn {
        rest: String::new(),
        ssl_mode: None,
        ssl_root_cert: None,
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match percent_decode(k).as_str() {
            "sslmode" => out.ssl_mode = Some(percent_decode(v)),
            "sslrootcert" => out.ssl_root_cert = Some(percent_decode(v)),
            _ => kept.push(pair),
        }
    }
    out.rest = if kept.is_empty() {
        head.to_owned()
    } else {
        format!("{head}?{}", kept.join("&"))
    };
    out
}

/// Removes `sslmode` / `sslrootcert` from a libpq `key=value` string.
fn split_key_values(dsn: &str) -> Result<SplitDsn, DsnError> {
    let pairs = crate::dsn::parse_key_values(dsn).ok_or(DsnError::KeyValue)?;
    let mut out = SplitDsn {
        rest: String::new(),
        ssl_mode: None,
        ssl_root_cert: None,
    };
    let mut kept = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "sslmode" => out.ssl_mode = Some(v),
            "sslrootcert" => out.ssl_root_cert = Some(v),
            _ => kept.push(format!("{k}={}", crate::dsn::quote_kv(&v))),
        }
    }
    out.rest = kept.join(" ");
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Belt and braces: a driver message never echoes the password, but if it
/// ever quoted the DSN, mask it.
fn scrub(message: &str, dsn: &str) -> String {
    if message.contains(dsn) {
        message.replace(dsn, &crate::dsn::mask_dsn(dsn))
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_loses_ssl_keys_and_keeps_the_rest() {
        let s = split_uri(
            "postgres://u:p@db:5432/flow?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(s.rest, "postgres://u:p@db:5432/flow?application_name=x");
        assert_eq!(s.ssl_mode.as_deref(), Some("verify-full"));
        assert_eq!(s.ssl_root_cert.as_deref(), Some("/etc/ca.pem"));
        let s = split_uri("postgresql://db/flow?sslmode=disable");
        assert_eq!(s.rest, "postgresql://db/flow");
        let s = split_uri("postgresql://db/flow");
        assert_eq!(
            (s.rest.as_str(), s.ssl_mode),
            ("postgresql://db/flow", None)
        );
    }

    #[test]
    fn key_values_lose_ssl_keys_and_keep_quoting() {
        let s = split_key_values(
            "host=db password='a b\\'c' sslmode = require sslrootcert='/x y/ca.pem' dbname=flow",
        )
        .unwrap();
        assert_eq!(s.rest, "host=db password='a b\\'c' dbname=flow");
        assert_eq!(s.ssl_mode.as_deref(), Some("require"));
        assert_eq!(s.ssl_root_cert.as_deref(), Some("/x y/ca.pem"));
        assert_eq!(split_key_values("host='db"), Err(DsnError::KeyValue));
    }

    #[test]
    fn libpq_verification_rules() {
        let ca = || Some(RootCert::File("/ca.pem".into()));
        let home = || Some(PathBuf::from("/h/.postgresql/root.crt"));
        assert_eq!(verify_for(SslMode::Prefer, None, home()), Verify::Nothing);
        assert_eq!(verify_for(SslMode::Require, None, home()), Verify::Nothing);
        assert_eq!(
            verify_for(SslMode::Require, ca(), home()),
            Verify::Chain(RootCert::File("/ca.pem".into()))
        );
        assert_eq!(
            verify_for(SslMode::VerifyCa, None, home()),
            Verify::Chain(RootCert::File("/h/.postgresql/root.crt".into()))
        );
        assert_eq!(
            verify_for(SslMode::VerifyFull, Some(RootCert::System), home()),
            Verify::Full(RootCert::System)
        );
    }

    #[test]
    fn parse_applies_timeouts_options_and_ssl_mode() {
        let s = parse(
            "postgres://flow:s3cret@db:5432/flow?sslmode=verify-full&options=-c%20search_path%3Dx",
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull);
        assert_eq!(s.config.get_ssl_mode(), PgSslMode::Require);
        assert_eq!(s.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(
            s.config.get_options(),
            Some("-c search_path=x -c statement_timeout=5000")
        );
        assert_eq!(s.config.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(s.config.get_dbname(), Some("flow"));

        let s = parse("host=db user=flow password=s3cret dbname=flow sslmode=disable").unwrap();
        assert_eq!(s.config.get_ssl_mode(), PgSslMode::Disable);
        assert_eq!(s.config.get_options(), Some("-c statement_timeout=5000"));
        assert_eq!(s.config.get_password(), Some(&b"s3cret"[..]));

        let s = parse("postgres://db/flow?application_name=mine").unwrap();
        assert_eq!(s.ssl_mode, SslMode::Prefer);
        assert_eq!(s.config.get_ssl_mode(), PgSslMode::Prefer);
        assert_eq!(s.config.get_application_name(), Some("mine"));
    }

    #[test]
    fn unix_sockets_never_use_tls() {
        let s = parse("host=/var/run/postgresql dbname=flow sslmode=require").unwrap();
        assert_eq!(s.config.get_ssl_mode(), PgSslMode::Disable);
    }

    #[test]
    fn errors_never_contain_the_password() {
        let e = parse("postgres://flow:s3cret@db/flow?sslmode=sometimes").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid sslmode \"sometimes\": expected disable, allow, prefer, require, verify-ca or verify-full"
        );
        let e = parse("postgres://flow:s3cret@db/flow?frobnicate=1").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = parse("host=db password=s3cret bogus_key=1").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%2Fa%20b%zz%4"), "/a b%zz%4");
    }
}

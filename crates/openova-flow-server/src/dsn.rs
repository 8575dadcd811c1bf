//! PostgreSQL DSN handling that never leaks the password (server.md §8).

use std::fmt;

/// A DSN as configured. `Debug` and `Display` print the masked form only.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn(String);

impl Dsn {
    /// Wraps a DSN after checking its shape: a `postgres://` or
    /// `postgresql://` URI, or libpq `key=value` pairs.
    pub fn parse(raw: &str) -> Option<Dsn> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Some(Dsn(raw.to_owned()));
        }
        parse_key_values(raw)
            .filter(|kv| !kv.is_empty())
            .map(|_| Dsn(raw.to_owned()))
    }

    /// The DSN itself, for the code that connects. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The loggable form: password replaced by `***`.
    pub fn masked(&self) -> String {
        mask_dsn(&self.0)
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dsn({})", self.masked())
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Masks a DSN for logs and error texts:
/// URI → `postgres://flow:***@db:5432/flow` (and a `password` query parameter
/// → `password=***`); key/value → `password=***`; anything unparsable → `***`.
pub fn mask_dsn(dsn: &str) -> String {
    let dsn = dsn.trim();
    for scheme in ["postgres://", "postgresql://"] {
        if let Some(rest) = dsn.strip_prefix(scheme) {
            return format!("{scheme}{}", mask_uri_rest(rest));
        }
    }
    match parse_key_values(dsn) {
        Some(kv) if !kv.is_empty() => kv
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("password") {
                    format!("{k}=***")
                } else {
                    format!("{k}={}", quote_kv(v))
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => "***".to_owned(),
    }
}

fn mask_uri_rest(rest: &str) -> String {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host}"),
                None => format!("{userinfo}{host}"),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            let mut t = format!("{path}?{}", masked.join("&"));
            if let Some(f) = fragment {
                t.push('#');
                t.push_str(f);
            }
            t
        }
        None => tail.to_owned(),
    };
    format!("{authority}{tail}")
}

/// Quotes a libpq `key=value` value when it is empty or holds whitespace,
/// `'` or `\`.
pub(crate) fn quote_kv(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '\t', '\n', '\'', '\\']) {
        return v.to_owned();
    }
    let mut out = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// libpq `key=value` pairs: whitespace-separated, spaces around `=` allowed,
/// values optionally single-quoted with `\` escapes. `None` if malformed.
/// Shared by DSN masking and the Postgres connector.
pub(crate) fn parse_key_values(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            key.push(c);
        }
        if key.is_empty() {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_uri_password() {
        assert_eq!(
            mask_dsn("postgres://flow:s3cret@db:5432/flow"),
            "postgres://flow:***@db:5432/flow"
        );
        assert_eq!(
            mask_dsn("postgresql://flow:p%40ss@db/flow?sslmode=require&password=s3cret"),
            "postgresql://flow:***@db/flow?sslmode=require&password=***"
        );
        assert_eq!(mask_dsn("postgres://db/flow"), "postgres://db/flow");
        assert_eq!(
            mask_dsn("postgres://flow@db/flow"),
            "postgres://flow@db/flow"
        );
    }

    #[test]
    fn masks_key_value_password() {
        assert_eq!(
            mask_dsn("host=db user=flow password=s3cret dbname=flow"),
            "host=db user=flow password=*** dbname=flow"
        );
        assert_eq!(
            mask_dsn("host = db password = 'a s3cret \\' x' sslmode=verify-full"),
            "host=db password=*** sslmode=verify-full"
        );
    }

    #[test]
    fn unparsable_is_fully_masked() {
        assert_eq!(mask_dsn("s3cret"), "***");
        assert_eq!(mask_dsn("host=db password='s3cret"), "***");
        assert!(Dsn::parse("s3cret").is_none());
        assert!(Dsn::parse("").is_none());
    }

    #[test]
    fn debug_and_display_never_show_the_password() {
        let d = Dsn::parse("postgres://u:s3cret@h/db").unwrap();
        assert!(!format!("{d:?} {d}").contains("s3cret"));
        assert_eq!(d.expose(), "postgres://u:s3cret@h/db");
    }
}

//! Flux `postBuild.substitute` as the bootstrap kit uses it: `${NAME}`,
//! `${NAME:=default}` and `${NAME:-default}` (default when unset or empty);
//! `$${` is a literal `${`. Unknown names become `""`, exactly as Flux does.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvsubstError {
    #[error(
        "unsupported envsubst form `{0}` (only ${{NAME}}, ${{NAME:=default}}, ${{NAME:-default}})"
    )]
    Unsupported(String),
    #[error("unterminated `${{` at byte {0}")]
    Unterminated(usize),
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Substitutes every placeholder in `text` from `vars`.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, EnvsubstError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0usize;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            consumed += pos + 3;
            rest = after;
            continue;
        }
        let Some(body_start) = tail.strip_prefix("${") else {
            out.push('$');
            consumed += pos + 1;
            rest = &tail[1..];
            continue;
        };
        let end = body_start
            .find('}')
            .ok_or(EnvsubstError::Unterminated(consumed + pos))?;
        let body = &body_start[..end];
        let (name, default) = match body.find(':') {
            None => (body, None),
            Some(i) => {
                let op = &body[i..];
                let d = op
                    .strip_prefix(":=")
                    .or_else(|| op.strip_prefix(":-"))
                    .ok_or_else(|| EnvsubstError::Unsupported(format!("${{{body}}}")))?;
                (&body[..i], Some(d))
            }
        };
        if !valid_name(name) {
            return Err(EnvsubstError::Unsupported(format!("${{{body}}}")));
        }
        let value = vars.get(name).map(String::as_str).unwrap_or_default();
        match default {
            Some(d) if value.is_empty() => out.push_str(d),
            _ => out.push_str(value),
        }
        consumed += pos + 2 + end + 1;
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_and_defaults() {
        let v = vars(&[("A", "x"), ("EMPTY", "")]);
        assert_eq!(substitute("a=${A} b=${B}", &v).unwrap(), "a=x b=");
        assert_eq!(
            substitute("${A:=d} ${B:=d} ${EMPTY:-e}", &v).unwrap(),
            "x d e"
        );
        assert_eq!(
            substitute("url: ${U:=http://h.svc:80/p}", &v).unwrap(),
            "url: http://h.svc:80/p"
        );
    }

    #[test]
    fn literals_pass_through() {
        let v = vars(&[("A", "x")]);
        assert_eq!(
            substitute("$${A} $A cost $5 $", &v).unwrap(),
            "${A} $A cost $5 $"
        );
    }

    #[test]
    fn unsupported_forms_fail() {
        let v = vars(&[]);
        assert!(matches!(
            substitute("${A:+x}", &v),
            Err(EnvsubstError::Unsupported(_))
        ));
        assert!(matches!(
            substitute("${A-x}", &v),
            Err(EnvsubstError::Unsupported(_))
        ));
        assert!(matches!(
            substitute("${1A}", &v),
            Err(EnvsubstError::Unsupported(_))
        ));
        assert_eq!(
            substitute("ok ${A", &v),
            Err(EnvsubstError::Unterminated(3))
        );
    }
}

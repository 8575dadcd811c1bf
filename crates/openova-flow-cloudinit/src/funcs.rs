//! The Terraform functions `render-cloudinit` implements, as plain functions
//! over [`Value`]s. `templatefile` needs the evaluator and lives in
//! [`crate::eval`]. Every behaviour here is pinned by a unit test whose
//! expected value was recorded from Terraform (see `tests/terraform_recorded.rs`).

use std::collections::BTreeMap;

use base64::Engine as _;
use sha2::Digest as _;
use unicode_segmentation::UnicodeSegmentation;

use crate::json;
use crate::regex_compat;
use crate::value::{Number, Value};

/// The functions implemented here (plus `templatefile`).
pub const NAMES: &[&str] = &[
    "alltrue",
    "base64encode",
    "coalesce",
    "contains",
    "format",
    "join",
    "jsonencode",
    "length",
    "lower",
    "regexall",
    "replace",
    "sha256",
    "templatefile",
    "upper",
];

/// Calls a function by name. `Ok(None)` when the name is not implemented.
/// Errors are messages; the caller adds the call's location.
pub fn call(name: &str, args: &[Value]) -> Result<Option<Value>, String> {
    let f: fn(&[Value]) -> Result<Value, String> = match name {
        "alltrue" => alltrue,
        "base64encode" => base64encode,
        "coalesce" => coalesce,
        "contains" => contains,
        "format" => format,
        "join" => join,
        "jsonencode" => jsonencode,
        "length" => length,
        "lower" => lower,
        "regexall" => regexall,
        "replace" => replace,
        "sha256" => sha256,
        "upper" => upper,
        _ => return Ok(None),
    };
    f(args).map(Some)
}

fn arity(args: &[Value], names: &[&str]) -> Result<(), String> {
    if args.len() == names.len() {
        Ok(())
    } else {
        Err(format!(
            "expects {} argument(s) ({}), got {}",
            names.len(),
            names.join(", "),
            args.len()
        ))
    }
}

fn not_null<'a>(v: &'a Value, param: &str) -> Result<&'a Value, String> {
    if matches!(v, Value::Null) {
        Err(format!(
            "invalid value for \"{param}\" parameter: argument must not be null"
        ))
    } else {
        Ok(v)
    }
}

fn string_arg(v: &Value, param: &str) -> Result<String, String> {
    not_null(v, param)?
        .as_string_lossless()
        .ok_or_else(|| format!("invalid value for \"{param}\" parameter: string required"))
}

fn list_arg<'a>(v: &'a Value, param: &str) -> Result<&'a [Value], String> {
    match not_null(v, param)? {
        Value::List(items) => Ok(items),
        other => Err(format!(
            "invalid value for \"{param}\" parameter: list required, got {}",
            other.type_name()
        )),
    }
}

fn jsonencode(args: &[Value]) -> Result<Value, String> {
    arity(args, &["val"])?;
    Ok(Value::string(json::encode(&args[0])))
}

fn base64encode(args: &[Value]) -> Result<Value, String> {
    arity(args, &["str"])?;
    let s = string_arg(&args[0], "str")?;
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
    ))
}

fn sha256(args: &[Value]) -> Result<Value, String> {
    arity(args, &["str"])?;
    let s = string_arg(&args[0], "str")?;
    let digest = sha2::Sha256::digest(s.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Value::string(hex))
}

/// Go's `unicode.ToUpper`/`ToLower` are simple (one rune → one rune)
/// mappings; Rust's are full mappings, so multi-character results keep the
/// original character (`ß` stays `ß`).
fn simple_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            let mut mapped: Vec<char> = if upper {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            if mapped.len() == 1 {
                mapped.remove(0)
            } else {
                c
            }
        })
        .collect()
}

fn upper(args: &[Value]) -> Result<Value, String> {
    arity(args, &["str"])?;
    Ok(Value::string(simple_case(
        &string_arg(&args[0], "str")?,
        true,
    )))
}

fn lower(args: &[Value]) -> Result<Value, String> {
    arity(args, &["str"])?;
    Ok(Value::string(simple_case(
        &string_arg(&args[0], "str")?,
        false,
    )))
}

fn replace(args: &[Value]) -> Result<Value, String> {
    arity(args, &["str", "substr", "replace"])?;
    let s = string_arg(&args[0], "str")?;
    let sub = string_arg(&args[1], "substr")?;
    let rep = string_arg(&args[2], "replace")?;
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = regex_compat::compile(&sub[1..sub.len() - 1])
            .map_err(|e| format!("invalid regular expression {sub}: {e}"))?;
        return Ok(Value::string(re.replace_all(&s, rep.as_str()).into_owned()));
    }
    Ok(Value::string(s.replace(&sub, &rep)))
}

fn coalesce(args: &[Value]) -> Result<Value, String> {
    if args.is_empty() {
        return Err("at least one argument is required".into());
    }
    // Terraform unifies the argument types first: mixed primitives become strings.
    let kinds: std::collections::BTreeSet<&str> = args
        .iter()
        .filter(|a| !matches!(a, Value::Null))
        .map(Value::type_name)
        .collect();
    let to_string = kinds.len() > 1
        && args
            .iter()
            .all(|a| a.is_primitive() || matches!(a, Value::Null));
    if kinds.len() > 1 && !to_string {
        return Err("all arguments must have the same type".into());
    }
    for a in args {
        match a {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            other if to_string => {
                let s = other.as_string_lossless().unwrap_or_default();
                if !s.is_empty() {
                    return Ok(Value::string(s));
                }
            }
            other => return Ok(other.clone()),
        }
    }
    Err("no non-null, non-empty-string arguments".into())
}

fn join(args: &[Value]) -> Result<Value, String> {
    if args.len() < 2 {
        return Err("expects a separator and at least one list".into());
    }
    let sep = string_arg(&args[0], "separator")?;
    let mut parts = Vec::new();
    for list in &args[1..] {
        for (i, item) in list_arg(list, "lists")?.iter().enumerate() {
            if matches!(item, Value::Null) {
                return Err(format!(
                    "invalid value for \"lists\" parameter: element {i} is null; cannot concatenate null values"
                ));
            }
            parts.push(item.as_string_lossless().ok_or_else(|| {
                format!("invalid value for \"lists\" parameter: element {i}: string required")
            })?);
        }
    }
    Ok(Value::string(parts.join(&sep)))
}

fn contains(args: &[Value]) -> Result<Value, String> {
    arity(args, &["list", "value"])?;
    let list = list_arg(&args[0], "list")?;
    // Type-sensitive equality: contains(["1"], 1) is false in Terraform.
    Ok(Value::Bool(list.iter().any(|v| v == &args[1])))
}

fn length(args: &[Value]) -> Result<Value, String> {
    arity(args, &["value"])?;
    let n = match not_null(&args[0], "value")? {
        Value::String(s) => s.graphemes(true).count(),
        Value::List(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => {
            return Err(
                "invalid value for \"value\" parameter: argument must be a string, a collection type, or a structural type"
                    .into(),
            );
        }
    };
    Ok(Value::Number(Number::from(
        i64::try_from(n).unwrap_or(i64::MAX),
    )))
}

fn alltrue(args: &[Value]) -> Result<Value, String> {
    arity(args, &["list"])?;
    for item in list_arg(&args[0], "list")? {
        match item {
            // Recorded: alltrue([null]) is false.
            Value::Null => return Ok(Value::Bool(false)),
            other => match other.as_bool_converted() {
                Some(true) => {}
                Some(false) => return Ok(Value::Bool(false)),
                None => return Err("invalid value for \"list\" parameter: bool required".into()),
            },
        }
    }
    Ok(Value::Bool(true))
}

fn regexall(args: &[Value]) -> Result<Value, String> {
    arity(args, &["pattern", "string"])?;
    let pattern = string_arg(&args[0], "pattern")?;
    let s = string_arg(&args[1], "string")?;
    let re = regex_compat::compile(&pattern)
        .map_err(|e| format!("invalid regular expression pattern: {e}"))?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let named = names.iter().filter(|n| n.is_some()).count();
    if named > 0 && named != names.len() {
        return Err(
            "invalid regular expression pattern: must not mix named and unnamed capture groups"
                .into(),
        );
    }
    let mut out = Vec::new();
    for caps in re.captures_iter(&s) {
        let text = |i: usize| Value::string(caps.get(i).map_or("", |m| m.as_str()));
        out.push(if names.is_empty() {
            text(0)
        } else if named > 0 {
            Value::Object(
                names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, n)| n.map(|n| (n.to_string(), text(i + 1))))
                    .collect::<BTreeMap<_, _>>(),
            )
        } else {
            Value::List((1..=names.len()).map(text).collect())
        });
    }
    Ok(Value::List(out))
}

/// `format` with the verbs `%s %d %v %q %%` (Terraform's meanings); any
/// other verb, flag, width or precision is refused rather than guessed.
fn format(args: &[Value]) -> Result<Value, String> {
    let Some(spec) = args.first() else {
        return Err("expects a format string".into());
    };
    let spec = string_arg(spec, "format")?;
    let values = &args[1..];
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = spec.char_indices().peekable();
    while let Some((pos, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some((_, verb)) = chars.next() else {
            return Err(format!("unterminated format verb at {pos}"));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !matches!(verb, 's' | 'd' | 'v' | 'q') {
            return Err(format!(
                "format verb or flag '{verb}' at {pos} is not implemented by render-cloudinit (it implements %s %d %v %q %%)"
            ));
        }
        let Some(arg) = values.get(next) else {
            return Err(format!(
                "not enough arguments for \"%{verb}\" at {pos}: need index {} but have {} total",
                next + 1,
                values.len()
            ));
        };
        next += 1;
        let null_err = || {
            format!("unsupported value for \"%{verb}\" at {pos}: null value cannot be formatted")
        };
        match verb {
            's' => out.push_str(&arg.as_string_lossless().ok_or_else(|| {
                if matches!(arg, Value::Null) {
                    null_err()
                } else {
                    format!("unsupported value for \"%s\" at {pos}: string required")
                }
            })?),
            'd' => {
                let n = arg
                    .as_number_converted()
                    .and_then(Number::as_int)
                    .ok_or_else(|| {
                        format!("unsupported value for \"%d\" at {pos}: an integer is required")
                    })?;
                out.push_str(&n.to_string());
            }
            'v' => match arg {
                Value::Null => return Err(null_err()),
                p if p.is_primitive() => out.push_str(&p.as_string_lossless().unwrap_or_default()),
                other => out.push_str(&json::encode(other)),
            },
            _ => {
                let s = arg.as_string_lossless().ok_or_else(|| {
                    if matches!(arg, Value::Null) {
                        null_err()
                    } else {
                        format!("unsupported value for \"%q\" at {pos}: string required")
                    }
                })?;
                json::encode_string(&s, &mut out);
            }
        }
    }
    if next < values.len() {
        return Err(format!(
            "invalid value for \"args\" parameter: too many arguments; only {next} used by format string"
        ));
    }
    Ok(Value::string(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn n(i: i64) -> Value {
        Value::Number(Number::from(i))
    }
    fn ok(name: &str, args: &[Value]) -> Value {
        call(name, args).unwrap().unwrap()
    }
    fn err(name: &str, args: &[Value]) -> String {
        call(name, args).unwrap_err()
    }

    #[test]
    fn unknown_functions_are_reported_as_such() {
        assert_eq!(call("merge", &[]).unwrap(), None);
    }

    #[test]
    fn replace_literal_and_regex() {
        assert_eq!(ok("replace", &[s("x.y"), s("."), s("-")]), s("x-y"));
        assert_eq!(
            ok("replace", &[s("a1b22c"), s("/([0-9]+)/"), s("<$1>")]),
            s("a<1>b<22>c")
        );
        assert_eq!(
            ok(
                "replace",
                &[s("a1b22c"), s("/(?P<d>[0-9]+)/"), s("<${d}$$>")]
            ),
            s("a<1$>b<22$>c")
        );
        // "/" alone is a literal, not an empty regex.
        assert_eq!(ok("replace", &[s("a/b"), s("/"), s("_")]), s("a_b"));
        assert!(err("replace", &[Value::Null, s("a"), s("b")]).contains("must not be null"));
        assert!(err("replace", &[s("a"), s("/(/"), s("b")]).contains("invalid regular expression"));
    }

    #[test]
    fn format_verbs() {
        assert_eq!(
            ok(
                "format",
                &[s("%q|%s|%d|%v|%%"), s("a\"<"), s("s"), n(3), n(4)]
            ),
            s(r#""a\"\u003c"|s|3|4|%"#)
        );
        assert_eq!(ok("format", &[s("%v"), Value::List(vec![n(1)])]), s("[1]"));
        assert_eq!(ok("format", &[s("%s"), Value::Bool(true)]), s("true"));
        assert!(
            err(
                "format",
                &[s("%d"), Value::Number(Number::parse("1.5").unwrap())]
            )
            .contains("an integer is required")
        );
        assert!(err("format", &[s("%s %s"), s("a")]).contains("not enough arguments"));
        assert!(
            err("format", &[s("%s"), s("a"), s("b")]).contains("too many arguments; only 1 used")
        );
        assert!(err("format", &[s("%5s"), s("a")]).contains("not implemented by render-cloudinit"));
        assert!(err("format", &[s("%x"), n(1)]).contains("not implemented"));
        assert!(err("format", &[s("%s"), Value::Null]).contains("null"));
        assert!(err("format", &[s("%")]).contains("unterminated"));
    }

    #[test]
    fn coalesce_rules() {
        assert_eq!(ok("coalesce", &[s(""), s("b")]), s("b"));
        assert_eq!(ok("coalesce", &[Value::Null, n(1)]), n(1));
        assert_eq!(ok("coalesce", &[n(1), s("b")]), s("1"));
        assert!(err("coalesce", &[Value::Null, s("")]).contains("no non-null, non-empty-string"));
        assert!(err("coalesce", &[]).contains("at least one"));
    }

    #[test]
    fn join_contains_length_alltrue() {
        assert_eq!(
            ok(
                "join",
                &[s(","), Value::List(vec![s("a"), n(1), Value::Bool(true)])]
            ),
            s("a,1,true")
        );
        assert!(
            err("join", &[s(","), Value::List(vec![s("a"), Value::Null])])
                .contains("element 1 is null")
        );
        assert_eq!(
            ok("contains", &[Value::List(vec![s("a")]), s("a")]),
            Value::Bool(true)
        );
        assert_eq!(
            ok("contains", &[Value::List(vec![s("1")]), n(1)]),
            Value::Bool(false)
        );
        assert_eq!(ok("length", &[s("e\u{301}x")]), n(2));
        assert_eq!(ok("length", &[s("👩‍👩‍👧")]), n(1));
        assert!(err("length", &[Value::Null]).contains("must not be null"));
        assert!(err("length", &[n(1)]).contains("collection"));
        assert_eq!(ok("alltrue", &[Value::List(vec![])]), Value::Bool(true));
        assert_eq!(
            ok(
                "alltrue",
                &[Value::List(vec![Value::Bool(true), s("true")])]
            ),
            Value::Bool(true)
        );
        assert_eq!(
            ok("alltrue", &[Value::List(vec![Value::Null])]),
            Value::Bool(false)
        );
        assert!(err("alltrue", &[Value::List(vec![n(1)])]).contains("bool required"));
    }

    #[test]
    fn regexall_shapes() {
        assert_eq!(
            ok("regexall", &[s("[a-z]"), s("a1b2")]),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(
            ok("regexall", &[s("([a-z])([0-9])"), s("a1b2")]),
            Value::List(vec![
                Value::List(vec![s("a"), s("1")]),
                Value::List(vec![s("b"), s("2")])
            ])
        );
        let named = ok("regexall", &[s("(?P<l>[a-z])(?P<d>[0-9])"), s("a1")]);
        assert_eq!(crate::json::encode(&named), r#"[{"d":"1","l":"a"}]"#);
        assert_eq!(
            ok("regexall", &[s("\\d"), s("\u{663}3")]),
            Value::List(vec![s("3")])
        );
        assert!(err("regexall", &[s("(?P<a>x)(y)"), s("xy")]).contains("mix named"));
    }

    #[test]
    fn encodings_and_case() {
        assert_eq!(ok("base64encode", &[s("héllo")]), s("aMOpbGxv"));
        assert_eq!(
            ok("sha256", &[s("héllo")]),
            s("3c48591d8d098a4538f5e013dfcf406e948eac4d3277b10bf614e295d6068179")
        );
        assert_eq!(ok("upper", &[s("straße")]), s("STRAßE"));
        assert_eq!(ok("lower", &[s("ÀB")]), s("àb"));
        assert_eq!(ok("jsonencode", &[Value::Null]), s("null"));
        assert!(err("upper", &[s("a"), s("b")]).contains("expects 1 argument"));
    }
}

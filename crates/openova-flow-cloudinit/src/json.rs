//! `jsonencode()` byte for byte as Terraform (Go `encoding/json` with HTML
//! escaping, keys sorted), and JSON → [`Value`] for `.tfvars.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::value::{Number, Value};

/// Encodes a value as Terraform's `jsonencode` does: minified, object keys
/// bytewise-sorted, `<` `>` `&` U+2028 U+2029 escaped, `\n \r \t \b \f` as
/// short escapes, other C0 controls as `\u00XX`, everything else raw.
pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    encode_into(value, &mut out);
    out
}

fn encode_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => encode_string(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_into(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode_string(k, out);
                out.push(':');
                encode_into(v, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal as Go's `json.Marshal` writes it.
pub fn encode_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON document as a [`Value`] (`.tfvars.json`, `jsondecode`). Numbers
/// outside the exact range are an error.
pub fn decode(text: &str) -> Result<Value, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    from_json(&json)
}

/// Converts a parsed JSON value.
pub fn from_json(json: &serde_json::Value) -> Result<Value, String> {
    Ok(match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            let parsed = if let Some(i) = n.as_i64() {
                Number::int(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Number::int(i128::from(u))
            } else {
                n.as_f64().and_then(Number::from_f64)
            };
            Value::Number(
                parsed.ok_or_else(|| format!("number {n} is outside the supported range"))?,
            )
        }
        serde_json::Value::String(s) => Value::string(s.clone()),
        serde_json::Value::Array(items) => {
            Value::List(items.iter().map(from_json).collect::<Result<_, _>>()?)
        }
        serde_json::Value::Object(map) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                out.insert(crate::value::nfc(k.clone()), from_json(v)?);
            }
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn html_and_line_separators_are_escaped() {
        assert_eq!(
            encode(&s("<a&b>\u{2028}")),
            r#""\u003ca\u0026b\u003e\u2028""#
        );
        assert_eq!(encode(&s("\u{2029}")), r#""\u2029""#);
    }

    #[test]
    fn controls_use_short_escapes_where_go_does() {
        assert_eq!(
            encode(&s("\t\n\r\u{8}\u{c}\u{1}\u{1f}")),
            r#""\t\n\r\b\f\u0001\u001f""#
        );
    }

    #[test]
    fn slash_del_and_non_ascii_stay_raw() {
        assert_eq!(encode(&s("/\u{7f} é")), "\"/\u{7f} é\"");
        assert_eq!(encode(&s("\\\"")), r#""\\\"""#);
    }

    #[test]
    fn object_keys_sort_bytewise() {
        let v = Value::Object(
            [("b", 1), ("a", 2), ("B", 3)]
                .into_iter()
                .map(|(k, n)| (k.to_string(), Value::Number(Number::from(n))))
                .collect(),
        );
        assert_eq!(encode(&v), r#"{"B":3,"a":2,"b":1}"#);
    }

    #[test]
    fn numbers_and_nested_values() {
        let v = Value::List(vec![
            Value::Number(Number::parse("1.5").unwrap()),
            Value::Bool(true),
            Value::Null,
            Value::Number(Number::parse("-0").unwrap()),
            Value::Number(Number::from(1000)),
            Value::Object(BTreeMap::new()),
            Value::List(vec![]),
        ]);
        assert_eq!(encode(&v), "[1.5,true,null,-0,1000,{},[]]");
    }

    #[test]
    fn decode_round_trips_and_rejects_huge_numbers() {
        let v = decode(r#"{"b":[1,2.5,"x",null,true],"a":{}}"#).unwrap();
        assert_eq!(encode(&v), r#"{"a":{},"b":[1,2.5,"x",null,true]}"#);
        assert!(decode("1e30").is_err());
        assert!(decode("{").is_err());
    }
}

//! Go `%q` quoting, as used inside the reference's error texts (contract.md §5.3).

use std::fmt::Write as _;

/// Quotes `s` the way Go's `%q` does for the characters the contract pins:
/// `"` and `\` escaped, `\a \b \f \n \r \t \v` as escapes, other ASCII control
/// characters and DEL as `\xNN` (lowercase hex), printable characters copied.
/// Non-ASCII control characters become `\uNNNN` (parity not required there).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go_percent_q() {
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(go_quote("banana"), r#""banana""#);
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("\x07\x08\x0c\n\r\t\x0b"), r#""\a\b\f\n\r\t\v""#);
        assert_eq!(go_quote("\0\x1f\x7f"), r#""\x00\x1f\x7f""#);
        assert_eq!(go_quote("/é<>&"), "\"/é<>&\"");
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
    }
}

//! Go RE2 patterns on Rust's `regex` crate.
//!
//! Both implement RE2 syntax; the differences that matter are Perl classes,
//! which are ASCII-only in Go (`\d` = `[0-9]`) and Unicode-aware in Rust. This
//! module rewrites them to explicit ASCII classes before compiling, and
//! rejects the few RE2 forms Rust lacks (`\C`, `\Q…\E`).

use regex::Regex;

/// Compiles a Go RE2 pattern with Go's semantics for Perl classes.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| {
        // The regex crate's messages are multi-line; keep the last line.
        let text = e.to_string();
        text.lines()
            .last()
            .unwrap_or("invalid pattern")
            .trim()
            .to_string()
    })
}

fn class_body(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "0-9",
        'w' => "0-9A-Za-z_",
        's' => "\\t\\n\\x0C\\r ",
        _ => return None,
    })
}

/// Rewrites `\d \w \s \D \W \S \b \B` to their ASCII meaning, inside and
/// outside bracket expressions.
pub fn translate(pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut class_depth = 0usize;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err("trailing backslash at end of expression".into());
                };
                match next {
                    'd' | 'w' | 's' => {
                        let body = class_body(next).unwrap_or_default();
                        if class_depth > 0 {
                            out.push_str(body);
                        } else {
                            out.push('[');
                            out.push_str(body);
                            out.push(']');
                        }
                    }
                    'D' | 'W' | 'S' => {
                        let body = class_body(next.to_ascii_lowercase()).unwrap_or_default();
                        out.push_str("[^");
                        out.push_str(body);
                        out.push(']');
                    }
                    'b' | 'B' if class_depth == 0 => {
                        out.push_str("(?-u:\\");
                        out.push(next);
                        out.push(')');
                    }
                    'C' => return Err("\\C is not supported".into()),
                    'Q' => return Err("\\Q…\\E quoting is not supported".into()),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' => {
                out.push('[');
                if class_depth > 0 && chars.peek() == Some(&':') {
                    // POSIX class `[:alpha:]`: copy through to its closing `:]`.
                    for d in chars.by_ref() {
                        out.push(d);
                        if d == ']' {
                            break;
                        }
                    }
                    continue;
                }
                class_depth += 1;
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                class_start = true;
            }
            ']' if class_depth > 0 && !at_class_start => {
                class_depth -= 1;
                out.push(']');
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii() {
        let re = compile(r"^\d+$").unwrap();
        assert!(re.is_match("0123"));
        assert!(
            !re.is_match("\u{663}"),
            "Arabic-Indic digit is not \\d in Go"
        );
        assert!(!compile(r"\w").unwrap().is_match("é"));
        assert!(compile(r"\W").unwrap().is_match("é"));
        assert!(!compile(r"\s").unwrap().is_match("\u{a0}"));
        assert!(
            !compile(r"\s").unwrap().is_match("\u{b}"),
            "Go's \\s has no \\v"
        );
    }

    #[test]
    fn classes_inside_brackets() {
        let re = compile(r"^[\d_-]+$").unwrap();
        assert!(re.is_match("1_2-3"));
        assert!(!re.is_match("a"));
        let re = compile(r"^[^\s]+$").unwrap();
        assert!(re.is_match("ab"));
        assert!(!re.is_match("a b"));
        assert!(compile(r"^[\D]$").unwrap().is_match("x"));
        assert!(compile(r"[[:alpha:]]").unwrap().is_match("q"));
        assert!(compile(r"[]a]").unwrap().is_match("]"));
    }

    #[test]
    fn word_boundaries_and_escapes() {
        assert!(compile(r"\bfoo\b").unwrap().is_match("a foo b"));
        assert!(compile(r"\.").unwrap().is_match("."));
        assert!(!compile(r"\.").unwrap().is_match("x"));
        assert!(compile(r"\\d").unwrap().is_match("\\d"));
    }

    #[test]
    fn unsupported_and_invalid_patterns_fail() {
        assert!(compile(r"\C").is_err());
        assert!(compile(r"\Qa.b\E").is_err());
        assert!(compile("(").is_err());
        assert!(compile("\\").is_err());
    }

    #[test]
    fn multiline_comment_pattern_of_main_tf() {
        let re = compile("(?m)^[ ]*#( |$).*\n").unwrap();
        let out = re.replace_all("#cloud-config\n# c\n  # d\n#\nkeep # x\n#!/bin/sh\n", "");
        assert_eq!(out, "#cloud-config\nkeep # x\n#!/bin/sh\n");
    }
}

//! Multi-document YAML with absolute line numbers.
//!
//! `serde_yaml` reports error positions but gives parsed values no spans, so
//! a file is split at its document markers first (`---` / `...` at column 0,
//! which YAML forbids anywhere else) and each document is parsed on its own.
//! Every document then knows its line range, and parse errors are shifted
//! back to lines of the whole file.

use serde_yaml::Value;

use crate::InputError;

/// One YAML document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 1-based line of the document's first line (after its `---` marker).
    pub first_line: usize,
    /// 1-based last line of the document (inclusive).
    pub last_line: usize,
    /// The parsed document.
    pub value: Value,
}

/// The kind of a document marker line.
fn is_marker(line: &str) -> Option<&str> {
    let line = line.trim_end_matches(['\n', '\r']);
    for marker in ["---", "..."] {
        if let Some(rest) = line.strip_prefix(marker)
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            return Some(rest);
        }
    }
    None
}

/// Splits `text` into documents and parses each one. Empty documents (only
/// comments or whitespace) are dropped. Errors name `file` and the absolute line.
pub fn parse_documents(file: &str, text: &str) -> Result<Vec<Document>, InputError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // (index of first line, text) per chunk
    let mut chunks: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 0usize;
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = is_marker(line) {
            chunks.push((start, std::mem::take(&mut current)));
            start = i;
            // Content after `--- ` stays on its line (columns kept).
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                current.push('\n');
            } else {
                current.push_str(&" ".repeat(4));
                current.push_str(rest);
                current.push('\n');
            }
        } else {
            current.push_str(line);
        }
    }
    chunks.push((start, current));

    let mut docs = Vec::new();
    for (start, chunk) in chunks {
        if chunk
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        let line_count = chunk.lines().count().max(1);
        let value: Value = serde_yaml::from_str(&chunk).map_err(|e| {
            let rel = e.location().map_or(1, |l| l.line());
            let message = strip_location(&e.to_string());
            // serde_yaml places duplicate keys at their mapping; point at the repeat.
            let rel = message
                .split_once("duplicate entry with key \"")
                .and_then(|(_, k)| k.strip_suffix('"'))
                .and_then(|key| duplicate_key_line(&chunk, rel, key))
                .unwrap_or(rel);
            InputError::at(file, start + rel, message)
        })?;
        if value.is_null() {
            continue;
        }
        docs.push(Document {
            first_line: start + 1,
            last_line: start + line_count,
            value,
        });
    }
    Ok(docs)
}

/// 1-based line (within `chunk`, from `from` on) of the second occurrence of
/// `key:` at one indentation.
fn duplicate_key_line(chunk: &str, from: usize, key: &str) -> Option<usize> {
    let mut first_at_indent: Vec<usize> = Vec::new();
    for (i, l) in chunk.lines().enumerate().skip(from.saturating_sub(1)) {
        let t = l.trim_start();
        let t = t.strip_prefix("- ").unwrap_or(t);
        let bare = t.strip_prefix(key).and_then(|r| r.strip_prefix(':'));
        let quoted = t
            .strip_prefix('"')
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix("\":"));
        if bare
            .or(quoted)
            .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
        {
            let ind = indent(l);
            if first_at_indent.contains(&ind) {
                return Some(i + 1);
            }
            first_at_indent.push(ind);
        }
    }
    None
}

/// serde_yaml appends " at line L column C" to its messages; the audit
/// prints the position itself.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// `value[path[0]][path[1]]…` through mappings.
pub fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = untag(value);
    for key in path {
        v = untag(v.as_mapping()?.get(*key)?);
    }
    Some(v)
}

/// The string at `path`, if it is a string.
pub fn get_str<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(value, path)?.as_str()
}

/// A scalar rendered as text (strings as is, numbers and bools in YAML form).
pub fn scalar_text(value: &Value) -> Option<String> {
    match untag(value) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Strips YAML tags (`!foo value`).
pub fn untag(value: &Value) -> &Value {
    match value {
        Value::Tagged(t) => untag(&t.value),
        v => v,
    }
}

/// The 1-based lines of a file (index 0 = line 1), without line ends.
pub fn lines_of(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Indentation (leading spaces) of a line.
pub fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_comment_or_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Best-effort line numbers for the items of the block sequence under
/// `key:` within lines `first..=last` (1-based). Returns one line per item
/// when the sequence is written in block style, else an empty vector.
pub fn seq_item_lines(lines: &[&str], first: usize, last: usize, key: &str) -> Vec<usize> {
    let last = last.min(lines.len());
    let mut out = Vec::new();
    let prefix = format!("{key}:");
    let Some(key_line) = (first..=last).find(|&n| {
        let l = lines[n - 1].trim_start();
        if is_comment_or_blank(lines[n - 1]) {
            return false;
        }
        match l.strip_prefix(&prefix) {
            Some(rest) => {
                let rest = rest.trim();
                rest.is_empty() || rest.starts_with('#')
            }
            None => false,
        }
    }) else {
        return out;
    };
    let key_indent = indent(lines[key_line - 1]);
    let mut item_indent = None;
    for n in key_line + 1..=last {
        let l = lines[n - 1];
        if is_comment_or_blank(l) {
            continue;
        }
        let ind = indent(l);
        let t = l.trim_start();
        let is_item = t == "-" || t.starts_with("- ");
        match item_indent {
            None => {
                // A block sequence may sit at the key's own indentation.
                if is_item && ind >= key_indent {
                    item_indent = Some(ind);
                    out.push(n);
                } else {
                    break;
                }
            }
            Some(ii) => {
                if ind < ii || (ind == ii && !is_item) || (ind <= key_indent && !is_item) {
                    break;
                }
                if ind == ii && is_item {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The first line in `first..=last` (1-based) that is not a comment and
/// satisfies `pred`.
pub fn find_line(
    lines: &[&str],
    first: usize,
    last: usize,
    pred: impl Fn(&str) -> bool,
) -> Option<usize> {
    let last = last.min(lines.len());
    (first..=last).find(|&n| !is_comment_or_blank(lines[n - 1]) && pred(lines[n - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_with_line_ranges() {
        let text = "# header\n---\na: 1\n---\n# only a comment\n---\nb: 2\nc: 3\n";
        let docs = parse_documents("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].first_line, 2);
        assert_eq!(get_str(&docs[1].value, &["b"]), None);
        assert_eq!(
            scalar_text(get(&docs[1].value, &["b"]).unwrap()).unwrap(),
            "2"
        );
        assert_eq!(docs[1].first_line, 6);
        assert_eq!(docs[1].last_line, 8);
    }

    #[test]
    fn document_without_leading_marker() {
        let docs = parse_documents("f.yaml", "a: x\n").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(get_str(&docs[0].value, &["a"]), Some("x"));
        assert_eq!(docs[0].first_line, 1);
    }

    #[test]
    fn errors_carry_absolute_lines() {
        let text = "---\na: 1\n---\nb: 2\nc: [unclosed\n";
        let err = parse_documents("kit/x.yaml", text).unwrap_err().to_string();
        assert!(err.starts_with("kit/x.yaml:"), "{err}");
        let line: usize = err.split(':').nth(1).unwrap().parse().unwrap();
        assert!((5..=6).contains(&line), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }

    #[test]
    fn error_in_first_document_line() {
        let err = parse_documents("f", "a: 1\n  b: 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:2: "), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors_at_the_repeat() {
        let err = parse_documents("f", "a: 1\na: 2\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "f:2: duplicate entry with key \"a\"");
        let text = "---\nx: 1\n---\nm:\n  k: 1\n  other:\n    k: 2\n  k: 3\n";
        let err = parse_documents("f", text).unwrap_err().to_string();
        assert_eq!(err, "f:8: m: duplicate entry with key \"k\"");
    }

    #[test]
    fn marker_with_inline_content() {
        let docs = parse_documents("f", "--- {a: 1}\n--- {b: 2}\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(get(&docs[1].value, &["b"]).is_some());
    }

    #[test]
    fn dots_end_a_document() {
        let docs = parse_documents("f", "a: 1\n...\n---\nb: 1\n").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn markers_need_column_zero_and_a_separator() {
        assert!(is_marker("---\n").is_some());
        assert!(is_marker("--- # c").is_some());
        assert!(is_marker(" ---").is_none());
        assert!(is_marker("----").is_none());
        assert!(is_marker("---x").is_none());
    }

    #[test]
    fn sequence_item_lines() {
        let text = "spec:\n  dependsOn:\n    - name: a\n    # c\n    - name: b\n      namespace: x\n  chart: {}\n";
        let lines = lines_of(text);
        assert_eq!(seq_item_lines(&lines, 1, 7, "dependsOn"), vec![3, 5]);
        // Flow style: no items.
        let lines = lines_of("dependsOn: [{name: a}]\n");
        assert!(seq_item_lines(&lines, 1, 1, "dependsOn").is_empty());
        // Sequence at the key's indentation.
        let lines = lines_of("resources:\n- a.yaml\n- b.yaml\nother: 1\n");
        assert_eq!(seq_item_lines(&lines, 1, 4, "resources"), vec![2, 3]);
        // Missing key.
        assert!(seq_item_lines(&lines, 1, 4, "nope").is_empty());
    }

    #[test]
    fn find_line_skips_comments() {
        let lines = lines_of("# name: a\nname: a\n");
        assert_eq!(find_line(&lines, 1, 2, |l| l.contains("name: a")), Some(2));
        assert_eq!(find_line(&lines, 1, 9, |l| l.contains("zzz")), None);
    }

    #[test]
    fn tags_are_transparent() {
        let docs = parse_documents("f", "a: !custom\n  b: x\n").unwrap();
        assert_eq!(get_str(&docs[0].value, &["a", "b"]), Some("x"));
    }
}

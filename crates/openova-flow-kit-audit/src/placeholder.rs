//! Flux post-build substitution placeholders and the cloud-init
//! `postBuild.substitute` keys.
//!
//! Allowed forms: `${NAME}`, `${NAME:=default}`, `${NAME:-default}` with
//! `NAME` = `[A-Za-z_][A-Za-z0-9_]*`; `$$` is an escaped `$` (so `$${X}` is
//! the literal text `${X}`). Anything else inside `${…}` is unsupported.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::InputError;
use crate::yaml;

/// One `${…}` occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `${NAME}`: must be provided by the substitute map.
    Required {
        /// Variable name.
        name: String,
    },
    /// `${NAME:=d}` or `${NAME:-d}`.
    Defaulted {
        /// Variable name.
        name: String,
        /// `:=` or `:-`.
        op: &'static str,
        /// The default text.
        default: String,
    },
    /// Any other `${…}` text, verbatim.
    Unsupported {
        /// The text from `${` to `}` (or to the end when unterminated).
        text: String,
    },
}

impl Placeholder {
    /// The variable name, for supported forms.
    pub fn name(&self) -> Option<&str> {
        match self {
            Placeholder::Required { name } | Placeholder::Defaulted { name, .. } => Some(name),
            Placeholder::Unsupported { .. } => None,
        }
    }

    /// The placeholder as written.
    pub fn text(&self) -> String {
        match self {
            Placeholder::Required { name } => format!("${{{name}}}"),
            Placeholder::Defaulted { name, op, default } => format!("${{{name}{op}{default}}}"),
            Placeholder::Unsupported { text } => text.clone(),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn classify(body: &str) -> Placeholder {
    let unsupported = || Placeholder::Unsupported {
        text: format!("${{{body}}}"),
    };
    let mut chars = body.char_indices();
    match chars.next() {
        Some((_, c)) if is_name_start(c) => {}
        _ => return unsupported(),
    }
    let end = body
        .char_indices()
        .find(|&(_, c)| !is_name_char(c))
        .map_or(body.len(), |(i, _)| i);
    let (name, rest) = body.split_at(end);
    if rest.is_empty() {
        return Placeholder::Required {
            name: name.to_string(),
        };
    }
    for op in [":=", ":-"] {
        if let Some(default) = rest.strip_prefix(op) {
            if default.contains('$') {
                return unsupported();
            }
            return Placeholder::Defaulted {
                name: name.to_string(),
                op,
                default: default.to_string(),
            };
        }
    }
    unsupported()
}

/// Every placeholder in `s`, in order.
pub fn scan(s: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => match s[i + 2..].find('}') {
                Some(j) => {
                    out.push(classify(&s[i + 2..i + 2 + j]));
                    i += 2 + j + 1;
                }
                None => {
                    out.push(Placeholder::Unsupported {
                        text: s[i..].to_string(),
                    });
                    break;
                }
            },
            _ => i += 1,
        }
    }
    out
}

/// Every string (mapping keys and scalar values) in a YAML value, depth first.
pub fn strings_of(value: &Value, out: &mut Vec<String>) {
    match yaml::untag(value) {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(seq) => seq.iter().for_each(|v| strings_of(v, out)),
        Value::Mapping(m) => {
            for (k, v) in m {
                strings_of(k, out);
                strings_of(v, out);
            }
        }
        _ => {}
    }
}

/// A `postBuild.substitute` key of the cloud-init template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstituteKey {
    /// Variable name.
    pub name: String,
    /// 1-based line in the template.
    pub line: usize,
}

/// A `postBuild:` block with a `substitute:` child found in template text.
#[derive(Debug)]
struct Block {
    postbuild_line: usize,
    substitute_line: usize,
    substitute_indent: usize,
}

fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t.strip_prefix('"').unwrap_or(t);
    let end = t.find(|c: char| !is_name_char(c)).unwrap_or(t.len());
    let (name, rest) = t.split_at(end);
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let rest = rest.strip_prefix(':')?;
    (name.starts_with(is_name_start) && (rest.is_empty() || rest.starts_with([' ', '\t'])))
        .then_some(name)
}

fn is_blank_or_comment(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

/// `true` when the line holds a template directive `%{` (not the literal `%%{`).
fn has_directive(line: &str) -> bool {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(1))
        .any(|i| b[i] == b'%' && b[i + 1] == b'{' && (i == 0 || b[i - 1] != b'%'))
}

fn find_blocks(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if key_of(l) != Some("postBuild") {
            continue;
        }
        let pb_indent = yaml::indent(l);
        for (j, m) in lines.iter().enumerate().skip(i + 1) {
            if is_blank_or_comment(m) {
                continue;
            }
            if yaml::indent(m) <= pb_indent {
                break;
            }
            if key_of(m) == Some("substitute") {
                blocks.push(Block {
                    postbuild_line: i + 1,
                    substitute_line: j + 1,
                    substitute_indent: yaml::indent(m),
                });
                break;
            }
        }
    }
    blocks
}

/// The document (between `---` lines at any indentation) around line `n`.
fn document_around<'a>(lines: &'a [&'a str], n: usize) -> &'a [&'a str] {
    let is_sep = |l: &&str| l.trim() == "---";
    let start = lines[..n - 1].iter().rposition(is_sep).map_or(0, |p| p + 1);
    let end = lines[n - 1..]
        .iter()
        .position(is_sep)
        .map_or(lines.len(), |p| n - 1 + p);
    &lines[start..end]
}

/// Reads the keys of the `bootstrap-kit` Kustomization's
/// `postBuild.substitute` map from the template text, statically.
pub fn substitute_keys(file: &str, text: &str) -> Result<Vec<SubstituteKey>, InputError> {
    let lines = yaml::lines_of(text);
    let blocks = find_blocks(&lines);
    let block = match blocks.as_slice() {
        [] => {
            return Err(InputError::file(
                file,
                "has no postBuild.substitute block for the bootstrap-kit Kustomization",
            ));
        }
        [one] => one,
        many => {
            let mine: Vec<&Block> = many
                .iter()
                .filter(|b| {
                    let doc = document_around(&lines, b.postbuild_line);
                    doc.iter().any(|l| l.trim() == "kind: Kustomization")
                        && doc.iter().any(|l| l.trim() == "name: bootstrap-kit")
                })
                .collect();
            match mine[..] {
                [one] => one,
                _ => {
                    return Err(InputError::file(
                        file,
                        "has several postBuild.substitute blocks and none belongs unambiguously to the Kustomization named bootstrap-kit",
                    ));
                }
            }
        }
    };
    let mut keys: Vec<SubstituteKey> = Vec::new();
    let mut key_indent = None;
    let mut seen = BTreeSet::new();
    for (idx, l) in lines.iter().enumerate().skip(block.substitute_line) {
        let n = idx + 1;
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let ind = yaml::indent(l);
        if has_directive(l) {
            // A directive right after the block (e.g. `%{ endif ~}`) ends it;
            // one followed by more keys, or indented into it, is inside it.
            let next_indent = lines
                .iter()
                .skip(idx + 1)
                .find(|m| !is_blank_or_comment(m) && !has_directive(m))
                .map(|m| yaml::indent(m));
            if ind > block.substitute_indent
                || next_indent.is_some_and(|i| i > block.substitute_indent)
            {
                return Err(InputError::at(
                    file,
                    n,
                    "template directive inside postBuild.substitute; keep that block free of %{ } directives so its keys can be read statically",
                ));
            }
            break;
        }
        if ind <= block.substitute_indent {
            break;
        }
        let ki = *key_indent.get_or_insert(ind);
        if ind > ki {
            continue; // continuation of a multi-line value
        }
        if ind < ki {
            return Err(InputError::at(
                file,
                n,
                "unreadable line in postBuild.substitute (inconsistent indentation)",
            ));
        }
        let Some(name) = key_of(l) else {
            return Err(InputError::at(
                file,
                n,
                "unreadable line in postBuild.substitute; expected `NAME: value` with NAME = [A-Za-z_][A-Za-z0-9_]*",
            ));
        };
        if !seen.insert(name.to_string()) {
            return Err(InputError::at(
                file,
                n,
                format!("duplicate postBuild.substitute key {name}"),
            ));
        }
        keys.push(SubstituteKey {
            name: name.to_string(),
            line: n,
        });
    }
    if keys.is_empty() {
        return Err(InputError::at(
            file,
            block.substitute_line,
            "postBuild.substitute has no keys",
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: &str) -> Placeholder {
        Placeholder::Required { name: n.into() }
    }

    #[test]
    fn scans_supported_forms() {
        assert_eq!(
            scan("openova-flow.${SOVEREIGN_FQDN}"),
            [req("SOVEREIGN_FQDN")]
        );
        assert_eq!(
            scan("${A:=1} and ${_b:-x y} ${C}"),
            [
                Placeholder::Defaulted {
                    name: "A".into(),
                    op: ":=",
                    default: "1".into()
                },
                Placeholder::Defaulted {
                    name: "_b".into(),
                    op: ":-",
                    default: "x y".into()
                },
                req("C"),
            ]
        );
        assert_eq!(
            scan("${U:=http://x.svc:80/a}"),
            [Placeholder::Defaulted {
                name: "U".into(),
                op: ":=",
                default: "http://x.svc:80/a".into()
            }]
        );
        assert_eq!(scan("${E:=}")[0].name(), Some("E"));
    }

    #[test]
    fn escapes_and_plain_dollars() {
        assert!(scan("$${NOT_ME} $5 $ end$").is_empty());
        assert_eq!(scan("$$${X}"), [req("X")]);
        assert!(scan("no placeholders").is_empty());
    }

    #[test]
    fn unsupported_forms() {
        for (s, text) in [
            ("${1X}", "${1X}"),
            ("${}", "${}"),
            ("${X=d}", "${X=d}"),
            ("${X-d}", "${X-d}"),
            ("${X,,}", "${X,,}"),
            ("${#X}", "${#X}"),
            ("${X:1:2}", "${X:1:2}"),
            ("a ${X:=${Y}}", "${X:=${Y}"),
            ("${OPEN", "${OPEN"),
        ] {
            assert_eq!(
                scan(s)[0],
                Placeholder::Unsupported { text: text.into() },
                "{s}"
            );
        }
    }

    #[test]
    fn text_round_trips() {
        for s in ["${A}", "${A:=x}", "${A:-}", "${!}"] {
            assert_eq!(scan(s)[0].text(), s);
        }
    }

    #[test]
    fn strings_include_keys_and_nested_values() {
        let v: Value = serde_yaml::from_str("a:\n  - x\n  - ${K}: y\nb: 1\n").unwrap();
        let mut out = Vec::new();
        strings_of(&v, &mut out);
        assert_eq!(out, ["a", "x", "${K}", "y", "b"]);
    }

    const TFTPL: &str = r#"#cloud-config
write_files:
  - path: /var/lib/openova/flux-bootstrap.yaml
    content: |
      ---
      apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: bootstrap-kit
        namespace: flux-system
      spec:
        # comment with $${SOVEREIGN_FQDN:-x}
        postBuild:
          substitute:
            SOVEREIGN_FQDN: ${jsonencode(sovereign_fqdn)}

            "SOVEREIGN_LB_IP": ${jsonencode(load_balancer_ipv4)}
            # a comment
            SOVEREIGN_IS_PRIMARY: ${jsonencode(is_primary ? "true" : "false")}
        path: ${gitops_path}
%{ if flow_ingest_token != "" ~}
  - path: /x
%{ endif ~}
"#;

    #[test]
    fn reads_substitute_keys() {
        let keys = substitute_keys("t.tftpl", TFTPL).unwrap();
        let names: Vec<(&str, usize)> = keys.iter().map(|k| (k.name.as_str(), k.line)).collect();
        assert_eq!(
            names,
            [
                ("SOVEREIGN_FQDN", 15),
                ("SOVEREIGN_LB_IP", 17),
                ("SOVEREIGN_IS_PRIMARY", 19)
            ]
        );
    }

    #[test]
    fn directive_in_block_is_an_error() {
        let t = TFTPL.replace(
            "            # a comment\n",
            "%{ if true ~}\n            X: y\n%{ endif ~}\n",
        );
        let e = substitute_keys("t", &t).unwrap_err().to_string();
        assert!(e.starts_with("t:18: template directive"), "{e}");
        // A directive after the block ends it.
        let t = "postBuild:\n  substitute:\n    A: x\n%{ endif ~}\nnext: 1\n";
        assert_eq!(substitute_keys("t", t).unwrap().len(), 1);
        let t = "postBuild:\n  substitute:\n    A: x\n    %{ if y }\n";
        assert!(substitute_keys("t", t).is_err());
        // `%%{` is a literal, not a directive.
        assert!(!has_directive("a: %%{ x }"));
        assert!(has_directive("%{ if x }"));
    }

    #[test]
    fn unreadable_and_missing_blocks() {
        let t = TFTPL.replace("            # a comment\n", "            - not a key\n");
        let e = substitute_keys("t", &t).unwrap_err().to_string();
        assert!(e.contains("t:18: unreadable line"), "{e}");
        let e = substitute_keys("t", "#cloud-config\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no postBuild.substitute block"), "{e}");
        let e = substitute_keys("t", "postBuild:\n  substitute:\nx: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no keys"), "{e}");
        let e = substitute_keys("t", "postBuild:\n  substitute:\n    A: 1\n    A: 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate postBuild.substitute key A"), "{e}");
    }

    #[test]
    fn picks_the_bootstrap_kit_block_among_several() {
        let other = "      ---\n      kind: Kustomization\n      metadata:\n        name: apps\n      spec:\n        postBuild:\n          substitute:\n            OTHER: x\n";
        let t = format!("{TFTPL}{other}");
        let keys = substitute_keys("t", &t).unwrap();
        assert_eq!(keys.len(), 3);
        let ambiguous = format!("{other}{other}");
        assert!(substitute_keys("t", &ambiguous).is_err());
    }

    #[test]
    fn multi_line_values_are_skipped() {
        let t = "postBuild:\n  substitute:\n    A: >-\n      long\n      text\n    B: x\n";
        let keys = substitute_keys("t", t).unwrap();
        assert_eq!(
            keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
    }
}

//! Inputs and verdicts of the `kit-schema` gate.
//!
//! The gate validates every document of every slot file, after Flux-style
//! substitution with a primary's and a secondary's sample values, against the
//! Flux v2.4 API models (PyPI `cloudcoil-models-fluxcd`, pydantic, unknown
//! fields forbidden, strict types) through `schema/flux_schema.py`. Negative
//! fixtures (`tests/fixtures/schema-invalid/*.yaml`, first line
//! `# expect: <substring>`) prove the validator rejects what it should.
//! This module builds the request and judges the answer; the xtask runs
//! the Python driver.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::InputError;
use crate::yaml;

/// Substitute values of the primary region used for validation.
pub const SAMPLE_PRIMARY: &[(&str, &str)] = &[
    ("SOVEREIGN_FQDN", "sovereign.example.org"),
    ("SOVEREIGN_LB_IP", "203.0.113.10"),
    ("SOVEREIGN_DEPLOYMENT_ID", "0123456789012345"),
    ("SOVEREIGN_REGION_KEY", "fsn1"),
    ("SOVEREIGN_IS_PRIMARY", "true"),
    ("SOVEREIGN_FLOW_SERVER_URL", ""),
];

/// Substitute values of a secondary region used for validation.
pub const SAMPLE_SECONDARY: &[(&str, &str)] = &[
    ("SOVEREIGN_FQDN", "sovereign.example.org"),
    ("SOVEREIGN_LB_IP", "203.0.113.11"),
    ("SOVEREIGN_DEPLOYMENT_ID", "0123456789012345"),
    ("SOVEREIGN_REGION_KEY", "hel1-1"),
    ("SOVEREIGN_IS_PRIMARY", "false"),
    (
        "SOVEREIGN_FLOW_SERVER_URL",
        "https://openova-flow.sovereign.example.org",
    ),
];

/// A variable map from pairs.
pub fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Flux post-build substitution on text: `${X}` → value (`""` when unset),
/// `${X:=d}` / `${X:-d}` → value, or `d` when unset or empty, `$$` → `$`.
/// Other `${…}` forms are left as they are.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        if let Some(body_end) = tail.strip_prefix("${").and_then(|b| b.find('}')) {
            let whole = &tail[..2 + body_end + 1];
            let replacement = match crate::placeholder::scan(whole).first() {
                Some(crate::placeholder::Placeholder::Required { name }) => {
                    Some(vars.get(name).cloned().unwrap_or_default())
                }
                Some(crate::placeholder::Placeholder::Defaulted { name, default, .. }) => Some(
                    vars.get(name)
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .unwrap_or_else(|| default.clone()),
                ),
                _ => None,
            };
            match replacement {
                Some(r) => out.push_str(&r),
                None => out.push_str(whole),
            }
            rest = &tail[whole.len()..];
            continue;
        }
        out.push('$');
        rest = &tail[1..];
    }
    out.push_str(rest);
    out
}

/// One document sent to the validator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaDoc {
    /// Display path of its file.
    pub file: String,
    /// 1-based line of its `kind:`.
    pub line: usize,
    /// The document as JSON.
    pub doc: serde_json::Value,
}

/// A set of documents that must validate (`expect` = None) or must fail with
/// an error containing `expect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaCase {
    /// Name shown in verdicts.
    pub id: String,
    /// Required error substring for negative cases.
    pub expect: Option<String>,
    /// The documents.
    pub docs: Vec<SchemaDoc>,
}

/// The validator's answer: error lines per case id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaResults {
    /// `file:line: Kind/name: field: message` lines per case.
    pub results: BTreeMap<String, Vec<String>>,
}

/// The driver's stdin document for `cases`.
pub fn request_json(cases: &[SchemaCase]) -> String {
    // Plain strings, numbers and JSON values: serialization cannot fail.
    serde_json::json!({ "cases": cases }).to_string()
}

/// Parses the driver's stdout.
pub fn parse_answer(stdout: &[u8]) -> Result<SchemaResults, String> {
    serde_json::from_slice(stdout).map_err(|e| e.to_string())
}

/// `<substring>` of a first line `# expect: <substring>`.
pub fn expectation(text: &str) -> Option<String> {
    text.lines()
        .next()?
        .strip_prefix("# expect:")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Substitutes each file with `vars`, parses it and collects its documents.
pub fn case_for_files(
    id: &str,
    files: &[(String, String)],
    vars: &BTreeMap<String, String>,
    expect: Option<String>,
) -> Result<SchemaCase, InputError> {
    let mut docs = Vec::new();
    for (display, text) in files {
        let text = substitute(text, vars);
        let lines = yaml::lines_of(&text);
        for d in yaml::parse_documents(display, &text)? {
            let line = yaml::find_line(&lines, d.first_line, d.last_line, |l| {
                l.starts_with("kind:")
            })
            .unwrap_or(d.first_line);
            let doc = serde_json::to_value(&d.value).map_err(|e| {
                InputError::at(
                    display,
                    line,
                    format!("document is not JSON-compatible: {e}"),
                )
            })?;
            docs.push(SchemaDoc {
                file: display.clone(),
                line,
                doc,
            });
        }
    }
    Ok(SchemaCase {
        id: id.to_string(),
        expect,
        docs,
    })
}

/// What is wrong with the validator's answer; empty when every positive case
/// validated and every negative case failed with its expected text.
pub fn verdicts(cases: &[SchemaCase], answer: &SchemaResults) -> Vec<String> {
    let mut problems = Vec::new();
    for case in cases {
        let Some(errors) = answer.results.get(&case.id) else {
            problems.push(format!("{}: the validator returned no result", case.id));
            continue;
        };
        match &case.expect {
            None => problems.extend(errors.iter().map(|e| format!("{}: {e}", case.id))),
            Some(want) if errors.is_empty() => problems.push(format!(
                "{}: accepted, but it must fail with \"{want}\" (is the validator still strict?)",
                case.id
            )),
            Some(want) if !errors.iter().any(|e| e.contains(want.as_str())) => {
                problems.push(format!(
                    "{}: failed without \"{want}\"; got: {}",
                    case.id,
                    errors.join(" | ")
                ))
            }
            Some(_) => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_follows_flux_rules() {
        let v = vars(&[("A", "1"), ("E", "")]);
        assert_eq!(substitute("x${A}y", &v), "x1y");
        assert_eq!(substitute("${MISSING}", &v), "");
        assert_eq!(substitute("${E:=d} ${E:-d} ${A:=d} ${U:-u}", &v), "d d 1 u");
        assert_eq!(substitute("$${A} $$ $5 $", &v), "${A} $ $5 $");
        assert_eq!(substitute("${A=x} ${", &v), "${A=x} ${");
        assert_eq!(substitute("€${A}€", &v), "€1€");
    }

    #[test]
    fn primary_and_secondary_samples_cover_the_substitute_keys() {
        let p = vars(SAMPLE_PRIMARY);
        let s = vars(SAMPLE_SECONDARY);
        assert_eq!(p.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        assert_eq!(p["SOVEREIGN_IS_PRIMARY"], "true");
        assert_eq!(s["SOVEREIGN_IS_PRIMARY"], "false");
    }

    #[test]
    fn cases_carry_substituted_documents() {
        let files = vec![(
            "kit/57.yaml".to_string(),
            "# c\n---\nkind: HelmRelease\nspec:\n  values:\n    flowId: \"${SOVEREIGN_DEPLOYMENT_ID}\"\n    enabled: ${SOVEREIGN_IS_PRIMARY}\n".to_string(),
        )];
        let c = case_for_files("kit (primary)", &files, &vars(SAMPLE_PRIMARY), None).unwrap();
        assert_eq!(c.docs.len(), 1);
        assert_eq!(c.docs[0].line, 3);
        assert_eq!(
            c.docs[0].doc["spec"]["values"]["flowId"],
            "0123456789012345"
        );
        assert_eq!(c.docs[0].doc["spec"]["values"]["enabled"], true);
        let bad = vec![("f".to_string(), "a: [\n".to_string())];
        assert!(case_for_files("x", &bad, &vars(&[]), None).is_err());
    }

    #[test]
    fn request_and_answer_round_trip() {
        let c = case_for_files(
            "k",
            &[("f".into(), "kind: A\n".into())],
            &vars(&[]),
            Some("x".into()),
        )
        .unwrap();
        let req: serde_json::Value = serde_json::from_str(&request_json(&[c])).unwrap();
        assert_eq!(req["cases"][0]["id"], "k");
        assert_eq!(req["cases"][0]["expect"], "x");
        assert_eq!(req["cases"][0]["docs"][0]["doc"]["kind"], "A");
        let a = parse_answer(br#"{"results": {"k": ["e"]}}"#).unwrap();
        assert_eq!(a.results["k"], ["e"]);
        assert!(parse_answer(b"nope").is_err());
    }

    #[test]
    fn expectations() {
        assert_eq!(
            expectation("# expect: Extra inputs\nkind: X\n").as_deref(),
            Some("Extra inputs")
        );
        assert_eq!(expectation("kind: X\n# expect: y\n"), None);
        assert_eq!(expectation("# expect:   \n"), None);
    }

    #[test]
    fn verdict_rules() {
        let case = |id: &str, expect: Option<&str>| SchemaCase {
            id: id.into(),
            expect: expect.map(str::to_string),
            docs: vec![],
        };
        let cases = vec![
            case("good", None),
            case("bad-ok", Some("Extra")),
            case("bad-accepted", Some("Extra")),
            case("bad-other", Some("Extra")),
            case("missing", None),
        ];
        let answer = SchemaResults {
            results: [
                ("good", vec![]),
                (
                    "bad-ok",
                    vec!["f:1: HelmRelease/a: spec.x: Extra inputs are not permitted".to_string()],
                ),
                ("bad-accepted", vec![]),
                ("bad-other", vec!["f:1: other".to_string()]),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        let p = verdicts(&cases, &answer);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("bad-accepted: accepted"));
        assert!(p[1].starts_with("bad-other: failed without \"Extra\""));
        assert!(p[2].starts_with("missing: the validator returned no result"));
        let answer = SchemaResults {
            results: [("good".to_string(), vec!["f:1: boom".to_string()])]
                .into_iter()
                .collect(),
        };
        assert_eq!(verdicts(&cases[..1], &answer), ["good: f:1: boom"]);
    }
}

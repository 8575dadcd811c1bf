//! Renderers: the human phase log, and json / dot / mermaid documents.

use std::collections::BTreeMap;
use std::io::{self, Write};

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;

use crate::report::{Counts, Finding, Level, Line, Node, Report};

/// Where each line goes and whether it is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Send everything to stderr (machine formats keep stdout for the document).
    pub all_to_stderr: bool,
    /// Colour lines written to stdout.
    pub color_stdout: bool,
    /// Colour lines written to stderr.
    pub color_stderr: bool,
}

const RESET: &str = "\x1b[0m";

/// `(to_stderr, prefix, colour)` of a line level.
fn shape(level: Level) -> (bool, &'static str, &'static str) {
    match level {
        Level::Banner => (false, "", "\x1b[1;36m"),
        Level::Info => (false, "  ", ""),
        Level::Ok => (false, "OK: ", "\x1b[1;32m"),
        Level::Warn => (false, "WARN: ", "\x1b[1;33m"),
        Level::Error => (true, "ERROR: ", "\x1b[1;31m"),
        Level::Detail => (true, "         ", ""),
    }
}

/// One line as printed (without newline).
pub fn format_line(line: &Line, color: bool) -> String {
    let (_, prefix, c) = shape(line.level);
    match (line.level, color && !c.is_empty()) {
        (Level::Banner, false) => format!("== {} ==", line.text),
        (Level::Banner, true) => format!("{c}== {} =={RESET}", line.text),
        (_, false) => format!("{prefix}{}", line.text),
        (_, true) => format!("{c}{}{RESET} {}", prefix.trim_end(), line.text),
    }
}

/// Writes the phase log. Banners after the first are preceded by a blank line.
pub fn write_lines(
    lines: &[Line],
    style: Style,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<()> {
    for (i, line) in lines.iter().enumerate() {
        let (to_err, _, _) = shape(line.level);
        let to_err = to_err || style.all_to_stderr;
        let (w, color): (&mut dyn Write, bool) = if to_err {
            (&mut *stderr, style.color_stderr)
        } else {
            (&mut *stdout, style.color_stdout)
        };
        if line.level == Level::Banner && i > 0 {
            writeln!(w)?;
        }
        writeln!(w, "{}", format_line(line, color))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    result: &'static str,
    exit_code: u8,
    kit_dir: &'a str,
    expected_file: &'a str,
    counts: Counts,
    nodes: &'a [Node],
    topological_order: &'a [String],
    findings: &'a [Finding],
}

/// The json document (pretty, deterministic).
pub fn to_json(report: &Report) -> String {
    let doc = JsonReport {
        result: if report.passed() { "passed" } else { "failed" },
        exit_code: report.exit_code,
        kit_dir: &report.kit_dir,
        expected_file: &report.expected_file,
        counts: report.counts,
        nodes: &report.nodes,
        topological_order: &report.topological_order,
        findings: &report.findings,
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

const DOT: &str = r#"digraph "bootstrap-kit" {
  rankdir=LR;
  node [shape=box];
{%- for n in nodes %}
  "{{ n.name | dotq }}" [label="{{ n.slot | dotq }} {{ n.name | dotq }}\n{{ n.wave | dotq }}"{% if not n.present %}, style=dashed{% endif %}];
{%- endfor %}
{%- for e in edges %}
  "{{ e.0 | dotq }}" -> "{{ e.1 | dotq }}";
{%- endfor %}
}
"#;

const MERMAID: &str = r#"flowchart LR
{%- for n in nodes %}
  {{ n.id }}["{{ n.slot | mmdq }} {{ n.name | mmdq }}"]
{%- endfor %}
{%- for e in edges %}
  {{ e.0 }} --> {{ e.1 }}
{%- endfor %}
{%- if deferred %}
  classDef deferred stroke-dasharray: 5 5
  class {{ deferred | join(",") }} deferred
{%- endif %}
"#;

/// Escapes a DOT double-quoted string body.
pub fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Escapes a Mermaid quoted label (`"` → `#quot;`).
pub fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', " ")
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("dotq", |s: String| dot_escape(&s));
    env.add_filter("mmdq", |s: String| mermaid_escape(&s));
    env
}

#[derive(Serialize)]
struct GraphNode<'a> {
    id: String,
    name: &'a str,
    slot: &'a str,
    wave: &'a str,
    present: bool,
}

/// Mermaid node ids: the name with every non-alphanumeric character
/// replaced by `_`, made unique with a numeric suffix when two names collide.
fn mermaid_ids<'a>(names: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, String> {
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    for name in names {
        if ids.contains_key(name) {
            continue;
        }
        let base: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let count = taken.entry(base.clone()).or_default();
        *count += 1;
        let id = if *count == 1 {
            base
        } else {
            format!("{base}_{count}")
        };
        ids.insert(name, id);
    }
    ids
}

fn render(template: &str, ctx: minijinja::Value) -> String {
    let env = environment();
    // The templates are constants exercised by the tests; a failure here is a bug.
    let mut s = env
        .render_str(template, ctx)
        .unwrap_or_else(|e| format!("template error: {e}"));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// `flux deps`-style DOT: one node per HR, one edge per dependsOn entry.
pub fn to_dot(report: &Report) -> String {
    let nodes: Vec<GraphNode<'_>> = report
        .nodes
        .iter()
        .map(|n| GraphNode {
            id: String::new(),
            name: &n.name,
            slot: n.slot.as_deref().unwrap_or("??"),
            wave: &n.wave,
            present: n.present,
        })
        .collect();
    let edges: Vec<(String, String)> = report
        .nodes
        .iter()
        .flat_map(|n| {
            n.effective_depends_on()
                .iter()
                .map(move |d| (n.name.clone(), d.clone()))
        })
        .collect();
    render(
        DOT,
        context! { nodes => minijinja::Value::from(minijinja::value::Serde(&nodes)), edges },
    )
}

/// Mermaid `flowchart LR` with deferred nodes dashed.
pub fn to_mermaid(report: &Report) -> String {
    let all_names = report.nodes.iter().flat_map(|n| {
        std::iter::once(n.name.as_str()).chain(n.effective_depends_on().iter().map(String::as_str))
    });
    let ids = mermaid_ids(all_names);
    let nodes: Vec<GraphNode<'_>> = report
        .nodes
        .iter()
        .map(|n| GraphNode {
            id: ids[n.name.as_str()].clone(),
            name: &n.name,
            slot: n.slot.as_deref().unwrap_or("??"),
            wave: &n.wave,
            present: n.present,
        })
        .collect();
    let edges: Vec<(String, String)> = report
        .nodes
        .iter()
        .flat_map(|n| {
            let ids = &ids;
            n.effective_depends_on()
                .iter()
                .map(move |d| (ids[n.name.as_str()].clone(), ids[d.as_str()].clone()))
        })
        .collect();
    let deferred: Vec<String> = nodes
        .iter()
        .filter(|n| !n.present)
        .map(|n| n.id.clone())
        .collect();
    render(
        MERMAID,
        context! { nodes => minijinja::Value::from(minijinja::value::Serde(&nodes)), edges, deferred },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, slot: &str, present: bool, deps: &[&str]) -> Node {
        let deps: Vec<String> = deps.iter().map(|s| s.to_string()).collect();
        Node {
            name: name.into(),
            slot: Some(slot.into()),
            wave: if present { "present" } else { "W2.K1" }.into(),
            present,
            file: present.then(|| format!("kit/{slot}.yaml")),
            namespace: present.then(|| "flux-system".into()),
            target_namespace: None,
            depends_on: present.then(|| deps.clone()),
            expected_depends_on: Some(deps),
        }
    }

    fn report() -> Report {
        Report {
            kit_dir: "kit".into(),
            expected_file: "kit/e.yaml".into(),
            lines: vec![],
            findings: vec![],
            counts: Counts::default(),
            nodes: vec![
                node("bp-a", "01", true, &[]),
                node("bp-b", "02", true, &["bp-a"]),
                node("bp-c\"q", "05a", false, &["bp-a", "bp-b"]),
            ],
            topological_order: vec!["bp-a".into(), "bp-b".into()],
            exit_code: 0,
        }
    }

    #[test]
    fn dot_document() {
        let dot = to_dot(&report());
        assert!(
            dot.starts_with("digraph \"bootstrap-kit\" {\n  rankdir=LR;\n"),
            "{dot}"
        );
        assert!(
            dot.contains(r#""bp-a" [label="01 bp-a\npresent"];"#),
            "{dot}"
        );
        assert!(
            dot.contains(r#""bp-c\"q" [label="05a bp-c\"q\nW2.K1", style=dashed];"#),
            "{dot}"
        );
        assert_eq!(dot.matches(" -> ").count(), 3);
        assert!(dot.contains(r#""bp-b" -> "bp-a";"#));
        assert!(dot.ends_with("}\n"));
    }

    #[test]
    fn mermaid_document() {
        let m = to_mermaid(&report());
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(m.contains("  bp_a[\"01 bp-a\"]\n"), "{m}");
        assert!(m.contains("  bp_c_q[\"05a bp-c#quot;q\"]\n"), "{m}");
        assert!(m.contains("  bp_b --> bp_a\n"));
        assert!(
            m.contains("  classDef deferred stroke-dasharray: 5 5\n  class bp_c_q deferred\n"),
            "{m}"
        );
    }

    #[test]
    fn mermaid_ids_are_unique() {
        let ids = mermaid_ids(["a-b", "a.b", "a_b", "a-b"].into_iter());
        assert_eq!(ids["a-b"], "a_b");
        assert_eq!(ids["a.b"], "a_b_2");
        assert_eq!(ids["a_b"], "a_b_3");
    }

    #[test]
    fn json_document() {
        let j: serde_json::Value = serde_json::from_str(&to_json(&report())).unwrap();
        assert_eq!(j["result"], "passed");
        assert_eq!(j["exit_code"], 0);
        assert_eq!(j["nodes"][2]["present"], false);
        assert_eq!(j["nodes"][2]["depends_on"], serde_json::Value::Null);
        assert_eq!(j["counts"]["present"], 0);
        assert_eq!(j["topological_order"][1], "bp-b");
    }

    #[test]
    fn lines_route_and_colour() {
        let lines = vec![
            Line {
                level: Level::Banner,
                text: "Phase 1: x".into(),
            },
            Line {
                level: Level::Info,
                text: "info".into(),
            },
            Line {
                level: Level::Error,
                text: "bad".into(),
            },
            Line {
                level: Level::Detail,
                text: "more".into(),
            },
            Line {
                level: Level::Banner,
                text: "Phase 2: y".into(),
            },
            Line {
                level: Level::Warn,
                text: "hm".into(),
            },
            Line {
                level: Level::Ok,
                text: "fine".into(),
            },
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let plain = Style {
            all_to_stderr: false,
            color_stdout: false,
            color_stderr: false,
        };
        write_lines(&lines, plain, &mut out, &mut err).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "== Phase 1: x ==\n  info\n\n== Phase 2: y ==\nWARN: hm\nOK: fine\n"
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "ERROR: bad\n         more\n"
        );

        let (mut out, mut err) = (Vec::new(), Vec::new());
        let machine = Style {
            all_to_stderr: true,
            color_stdout: true,
            color_stderr: false,
        };
        write_lines(&lines, machine, &mut out, &mut err).unwrap();
        assert!(out.is_empty());
        assert!(!String::from_utf8(err).unwrap().contains('\x1b'));

        assert_eq!(format_line(&lines[2], true), "\x1b[1;31mERROR:\x1b[0m bad");
        assert_eq!(
            format_line(&lines[0], true),
            "\x1b[1;36m== Phase 1: x ==\x1b[0m"
        );
        assert_eq!(format_line(&lines[1], true), "  info");
    }

    #[test]
    fn escapes() {
        assert_eq!(dot_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(mermaid_escape("a\"b"), "a#quot;b");
    }
}

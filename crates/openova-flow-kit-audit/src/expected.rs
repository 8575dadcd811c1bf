//! `expected-bootstrap-deps.yaml`: the declared DAG.
//!
//! ```yaml
//! slots:
//!   - slot: 56            # int, or a string such as "5a" for sub-slots
//!     name: bp-openova-flow-server
//!     depends_on: [bp-cilium, bp-cert-manager, bp-cnpg]   # set semantics; [] for roots
//!     wave: present       # present | W2.K1 | W2.K2 | W2.K3 | W2.K4
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::InputError;
use crate::slot::{SlotLabel, Wave};
use crate::yaml::{self, Document};

/// One declared slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSlot {
    /// The declared slot, when given.
    pub slot: Option<SlotLabel>,
    /// HelmRelease `metadata.name`.
    pub name: String,
    /// Declared dependencies (a set).
    pub depends_on: BTreeSet<String>,
    /// Rollout wave.
    pub wave: Wave,
    /// 1-based line of the entry, when it could be located.
    pub line: Option<usize>,
}

/// The whole expected DAG, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectedDag {
    /// Entries in file order.
    pub slots: Vec<ExpectedSlot>,
}

impl ExpectedDag {
    /// Entry by HelmRelease name.
    pub fn get(&self, name: &str) -> Option<&ExpectedSlot> {
        self.slots.iter().find(|s| s.name == name)
    }
}

/// Parses the expected file. Every structural problem is an input error.
pub fn parse_expected(file: &str, text: &str) -> Result<ExpectedDag, InputError> {
    let docs = yaml::parse_documents(file, text)?;
    let doc: &Document = match docs.as_slice() {
        [] => {
            return Err(InputError::file(
                file,
                "is empty; declare the expected DAG under a top-level `slots:` list",
            ));
        }
        [one] => one,
        [_, second, ..] => {
            return Err(InputError::at(
                file,
                second.first_line,
                "holds more than one YAML document; keep the expected DAG in one document",
            ));
        }
    };
    let lines = yaml::lines_of(text);
    let slots_line = yaml::find_line(&lines, doc.first_line, doc.last_line, |l| {
        l.starts_with("slots:")
    })
    .unwrap_or(doc.first_line);
    let Some(slots) = yaml::get(&doc.value, &["slots"]) else {
        return Err(InputError::at(
            file,
            doc.first_line,
            "has no top-level `slots:` list",
        ));
    };
    let Some(items) = slots.as_sequence() else {
        return Err(InputError::at(
            file,
            slots_line,
            "`slots` must be a list of {slot, name, depends_on, wave} entries",
        ));
    };
    if items.is_empty() {
        return Err(InputError::at(
            file,
            slots_line,
            "`slots` is empty; declare at least one slot",
        ));
    }
    let item_lines = yaml::seq_item_lines(&lines, doc.first_line, doc.last_line, "slots");
    let line_of = |i: usize| -> usize {
        if item_lines.len() == items.len() {
            item_lines[i]
        } else {
            slots_line
        }
    };

    let mut out = ExpectedDag::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let line = line_of(i);
        let at = |msg: String| InputError::at(file, line, msg);
        let item = yaml::untag(item);
        if item.as_mapping().is_none() {
            return Err(at(format!("slots[{i}] is not a mapping")));
        }
        let name = match yaml::get(item, &["name"]) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(_) => return Err(at(format!("slots[{i}]: `name` must be a non-empty string"))),
            None => return Err(at(format!("slots[{i}] has no `name`"))),
        };
        let wave = match yaml::get(item, &["wave"]) {
            Some(Value::String(s)) => Wave::parse(s).ok_or_else(|| {
                at(format!(
                    "slots[{i}] ({name}): unknown wave {s:?}; use one of present, W2.K1, W2.K2, W2.K3, W2.K4"
                ))
            })?,
            Some(_) => return Err(at(format!("slots[{i}] ({name}): `wave` must be a string"))),
            None => return Err(at(format!("slots[{i}] ({name}) has no `wave`"))),
        };
        let slot = match yaml::get(item, &["slot"]) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                Some(n.as_u64().and_then(SlotLabel::from_int).ok_or_else(|| {
                    at(format!(
                        "slots[{i}] ({name}): slot {n} is not a number from 0 to 999"
                    ))
                })?)
            }
            Some(Value::String(s)) => Some(SlotLabel::parse(s).ok_or_else(|| {
                at(format!(
                    "slots[{i}] ({name}): slot {s:?} is not a slot number such as 16 or \"05a\""
                ))
            })?),
            Some(_) => {
                return Err(at(format!(
                    "slots[{i}] ({name}): `slot` must be an integer or a string such as \"05a\""
                )));
            }
        };
        let depends_on = match yaml::get(item, &["depends_on"]) {
            None | Some(Value::Null) => BTreeSet::new(),
            Some(Value::Sequence(seq)) => {
                let mut deps = BTreeSet::new();
                for d in seq {
                    match yaml::untag(d) {
                        Value::String(s) if !s.trim().is_empty() => {
                            deps.insert(s.trim().to_string());
                        }
                        _ => {
                            return Err(at(format!(
                                "slots[{i}] ({name}): every depends_on entry must be a HelmRelease name"
                            )));
                        }
                    }
                }
                deps
            }
            Some(_) => {
                return Err(at(format!(
                    "slots[{i}] ({name}): `depends_on` must be a list of names ([] for roots)"
                )));
            }
        };
        if let Some(first) = seen.insert(name.clone(), i) {
            return Err(at(format!(
                "duplicate HelmRelease name '{name}' in slots[{first}] and slots[{i}]"
            )));
        }
        out.slots.push(ExpectedSlot {
            slot,
            name,
            depends_on,
            wave,
            line: (item_lines.len() == items.len()).then_some(line),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# header
slots:
  - slot: 1
    name: bp-a
    depends_on: []
    wave: present
  - slot: \"5a\"
    name: bp-b
    depends_on: [bp-a, bp-a]
    wave: W2.K1
  - name: bp-c
    wave: W2.K4
";

    #[test]
    fn parses_entries() {
        let dag = parse_expected("e.yaml", GOOD).unwrap();
        assert_eq!(dag.slots.len(), 3);
        let b = dag.get("bp-b").unwrap();
        assert_eq!(b.slot.as_ref().unwrap().canonical(), "05a");
        assert_eq!(b.depends_on.iter().collect::<Vec<_>>(), ["bp-a"]);
        assert_eq!(b.wave, Wave::W2K1);
        assert_eq!(b.line, Some(7));
        let c = dag.get("bp-c").unwrap();
        assert!(c.slot.is_none());
        assert!(c.depends_on.is_empty());
        assert_eq!(dag.slots[0].slot.as_ref().unwrap().display(), "01");
    }

    fn err(text: &str) -> String {
        parse_expected("e.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn structural_errors() {
        assert!(err("").contains("is empty"));
        assert!(err("# only comments\n").contains("is empty"));
        assert!(err("slots: []\n").contains("`slots` is empty"));
        assert!(err("other: 1\n").contains("no top-level `slots:`"));
        assert!(err("slots: {a: 1}\n").contains("must be a list"));
        assert!(err("slots:\n  - 5\n").contains("slots[0] is not a mapping"));
        assert!(err("slots:\n  - wave: present\n").contains("has no `name`"));
        assert!(err("slots:\n  - name: bp-a\n").contains("has no `wave`"));
        assert!(err("slots:\n  - {name: 7, wave: present}\n").contains("non-empty string"));
        assert!(err("slots:\n  - {name: a, wave: 3}\n").contains("`wave` must be a string"));
        assert!(err("a: 1\n---\nb: 2\n").contains("more than one YAML document"));
    }

    #[test]
    fn unknown_wave_names_the_entry_and_line() {
        let e = err("slots:\n  - name: bp-a\n    wave: W3\n");
        assert_eq!(
            e,
            "e.yaml:2: slots[0] (bp-a): unknown wave \"W3\"; use one of present, W2.K1, W2.K2, W2.K3, W2.K4"
        );
    }

    #[test]
    fn duplicate_names() {
        let e = err("slots:\n  - {name: bp-a, wave: present}\n  - {name: bp-a, wave: present}\n");
        assert_eq!(
            e,
            "e.yaml:3: duplicate HelmRelease name 'bp-a' in slots[0] and slots[1]"
        );
    }

    #[test]
    fn bad_slots_and_deps() {
        assert!(
            err("slots:\n  - {name: a, wave: present, slot: x1}\n").contains("not a slot number")
        );
        assert!(err("slots:\n  - {name: a, wave: present, slot: -1}\n").contains("not a number"));
        assert!(
            err("slots:\n  - {name: a, wave: present, slot: [1]}\n")
                .contains("integer or a string")
        );
        assert!(
            err("slots:\n  - {name: a, wave: present, depends_on: x}\n").contains("must be a list")
        );
        assert!(
            err("slots:\n  - {name: a, wave: present, depends_on: [1]}\n")
                .contains("HelmRelease name")
        );
    }

    #[test]
    fn yaml_errors_carry_file_and_line() {
        let e = err("slots:\n  - name: a\n   wave: present\n");
        assert!(e.starts_with("e.yaml:3:"), "{e}");
    }
}

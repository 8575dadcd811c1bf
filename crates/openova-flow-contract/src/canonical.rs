//! Canonical output serialisation (contract.md §6).
//!
//! The server never echoes request bytes: every body and SSE `data:` line is
//! written from parsed values by these `Serialize` impls through
//! [`CanonicalFormatter`], so equal values serialise to identical bytes.
//!
//! * fixed key order per object (§6.1), omit-empty rules (§3 "Emitted")
//! * `meta` keys sorted bytewise, recursively
//! * HTML-safe escaping: `<` `>` `&` U+2028 U+2029 as `\uXXXX`, control
//!   characters as short escapes or `\u00xx` (lowercase), everything else literal.

use std::io;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::message::{FlowInstance, FlowMessage, FlowNode, Meta, RelPair, Relationship, Triggerer};

/// Serialises `value` to canonical compact JSON (no trailing newline).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write(&mut out, value);
    out
}

/// Serialises `value` to canonical JSON as a `String`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    // The formatter only ever writes valid UTF-8 (serde_json guarantees it
    // for strings; our escapes are ASCII).
    String::from_utf8(to_vec(value)).unwrap_or_default()
}

/// Appends canonical JSON for `value` to `out`.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(out, CanonicalFormatter);
    // Serialising our types into a Vec cannot fail: no I/O errors, no
    // non-string map keys, no non-finite floats (serde_json::Value can't hold them).
    if let Err(e) = value.serialize(&mut ser) {
        debug_assert!(false, "canonical serialisation failed: {e}");
    }
}

/// serde_json's compact formatter plus HTML-safe escaping (§6.1).
#[derive(Debug, Clone, Copy, Default)]
pub struct CanonicalFormatter;

impl serde_json::ser::Formatter for CanonicalFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(esc)?;
            start = i + c.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }
}

/// A JSON value serialised with object keys sorted bytewise at every depth,
/// whatever map type serde_json was built with.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

struct SortedMeta<'a>(&'a Meta);

impl Serialize for SortedMeta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // BTreeMap<String, _> iterates in bytewise key order already.
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, &Sorted(v))?;
        }
        m.end()
    }
}

impl Serialize for FlowInstance {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        if let Some(v) = &self.definition_id {
            m.serialize_entry("definitionId", v)?;
        }
        if let Some(v) = &self.parent_flow_id {
            m.serialize_entry("parentFlowId", v)?;
        }
        if !self.triggered_by.is_empty() {
            m.serialize_entry("triggeredBy", &self.triggered_by)?;
        }
        m.serialize_entry("status", &self.status)?;
        m.serialize_entry("startedAt", &self.started_at)?;
        if let Some(v) = &self.ended_at {
            m.serialize_entry("endedAt", v)?;
        }
        if !self.meta.is_empty() {
            m.serialize_entry("meta", &SortedMeta(&self.meta))?;
        }
        m.end()
    }
}

impl Serialize for Triggerer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("flowId", &self.flow_id)?;
        m.serialize_entry("when", self.when.as_str())?;
        m.end()
    }
}

impl Serialize for FlowNode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("flowId", &self.flow_id)?;
        m.serialize_entry("label", &self.label)?;
        m.serialize_entry("status", &self.status)?;
        if let Some(v) = &self.family {
            m.serialize_entry("family", v)?;
        }
        if let Some(v) = &self.region {
            m.serialize_entry("region", v)?;
        }
        if let Some(v) = &self.started_at {
            m.serialize_entry("startedAt", v)?;
        }
        if let Some(v) = &self.ended_at {
            m.serialize_entry("endedAt", v)?;
        }
        if !self.meta.is_empty() {
            m.serialize_entry("meta", &SortedMeta(&self.meta))?;
        }
        m.end()
    }
}

impl Serialize for Relationship {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("fromId", &self.from_id)?;
        m.serialize_entry("toId", &self.to_id)?;
        if let Some(v) = &self.from_flow_id {
            m.serialize_entry("fromFlowId", v)?;
        }
        if let Some(v) = &self.to_flow_id {
            m.serialize_entry("toFlowId", v)?;
        }
        m.serialize_entry("type", self.rel_type.as_str())?;
        if let Some(c) = self.condition {
            m.serialize_entry("condition", c.as_str())?;
        }
        if self.lag != 0 {
            m.serialize_entry("lag", &self.lag)?;
        }
        m.end()
    }
}

impl Serialize for RelPair {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("fromId", &self.from_id)?;
        m.serialize_entry("toId", &self.to_id)?;
        m.serialize_entry("type", self.rel_type.as_str())?;
        m.end()
    }
}

/// Envelope keys in order `type, flow, nodes, relationships, ids, pairs`,
/// each variant with only its own keys (§6.2).
impl Serialize for FlowMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.message_type().as_str())?;
        match self {
            FlowMessage::Snapshot {
                flow,
                nodes,
                relationships,
            } => {
                m.serialize_entry("flow", flow)?;
                m.serialize_entry("nodes", nodes)?;
                m.serialize_entry("relationships", relationships)?;
            }
            FlowMessage::UpsertFlow { flow } => m.serialize_entry("flow", flow)?,
            FlowMessage::UpsertNodes { nodes } => m.serialize_entry("nodes", nodes)?,
            FlowMessage::UpsertRels { relationships } => {
                m.serialize_entry("relationships", relationships)?
            }
            FlowMessage::DeleteNodes { ids } => m.serialize_entry("ids", ids)?,
            FlowMessage::DeleteRels { pairs } => m.serialize_entry("pairs", pairs)?,
        }
        m.end()
    }
}

impl FlowMessage {
    /// Canonical JSON of this message (one line, no trailing newline).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        to_vec(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_safe_escaping_table_6_1() {
        let s = "\"\\\u{8}\u{c}\n\r\t\u{1}\u{1f}<>&\u{2028}\u{2029}/\u{7f}é";
        assert_eq!(
            to_string(s),
            r#""\"\\\b\f\n\r\t\u0001\u001f\u003c\u003e\u0026\u2028\u2029/"#.to_owned()
                + "\u{7f}é\""
        );
    }

    #[test]
    fn meta_keys_sorted_recursively_arrays_keep_order() {
        let mut meta = Meta::new();
        meta.insert("b".into(), json!({"z": 1, "a": [{"y": 1, "x": 2}]}));
        meta.insert("a".into(), json!(1));
        assert_eq!(
            to_string(&SortedMeta(&meta)),
            r#"{"a":1,"b":{"a":[{"x":2,"y":1}],"z":1}}"#
        );
    }

    #[test]
    fn meta_integers_exact_floats_shortest() {
        let mut meta = Meta::new();
        meta.insert("big".into(), json!(9_007_199_254_740_993_i64));
        meta.insert("u".into(), json!(u64::MAX));
        meta.insert("f".into(), json!(0.1));
        assert_eq!(
            to_string(&SortedMeta(&meta)),
            r#"{"big":9007199254740993,"f":0.1,"u":18446744073709551615}"#
        );
    }
}

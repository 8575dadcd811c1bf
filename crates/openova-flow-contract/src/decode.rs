//! Decoding and validation (contract.md §5).
//!
//! [`decode_message`] turns request bytes into a validated [`FlowMessage`] or
//! one [`DecodeError`] whose `Display` is the exact 400 body text (without the
//! trailing `\n`). Check order, first failure wins: decode (§5.1) → the
//! reference's variant check (§5.3) → our content checks (§5.4).

use serde::Deserialize;
use thiserror::Error;

use crate::message::{
    Condition, FlowInstance, FlowMessage, FlowNode, MessageType, Meta, RelPair, Relationship,
    RelationshipType, TriggerWhen, Triggerer,
};
use crate::quote::go_quote;

/// Why a FlowMessage was rejected. `to_string()` is the exact 400 body text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not JSON, wrong JSON type, non-integer number, trailing data, empty body,
    /// duplicate key. The detail is the parser's one-line message.
    #[error("decode FlowMessage: {0}")]
    Json(String),
    /// Any `type` other than the six, including missing (`""`).
    #[error("unknown message type {}", go_quote(.0))]
    UnknownType(String),
    /// `snapshot` / `upsert-flow` without `flow`.
    #[error("{0}: flow is required")]
    FlowRequired(MessageType),
    /// The variant's array is absent or empty.
    #[error("{variant}: {field} must be non-empty")]
    EmptyArray {
        variant: MessageType,
        field: &'static str,
    },
    /// One of our content checks (§5.4). `detail` starts with the offending
    /// path, e.g. `nodes[1].id must be non-empty`.
    #[error("{variant}: {detail}")]
    Invalid {
        variant: MessageType,
        detail: String,
    },
}

/// Decodes and validates one FlowMessage from a request body.
pub fn decode_message(body: &[u8]) -> Result<FlowMessage, DecodeError> {
    let raw: Option<RawEnvelope> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let raw = raw.unwrap_or_default();
    let type_name = raw.r#type.unwrap_or_default();
    let Some(variant) = MessageType::parse(&type_name) else {
        return Err(DecodeError::UnknownType(type_name));
    };

    // §5.3: the reference's variant check, before any content check.
    let non_empty = |present: bool, field: &'static str| {
        if present {
            Ok(())
        } else {
            Err(DecodeError::EmptyArray { variant, field })
        }
    };
    match variant {
        MessageType::Snapshot | MessageType::UpsertFlow if raw.flow.is_none() => {
            return Err(DecodeError::FlowRequired(variant));
        }
        MessageType::UpsertNodes => {
            non_empty(raw.nodes.as_ref().is_some_and(|v| !v.is_empty()), "nodes")?
        }
        MessageType::UpsertRels => non_empty(
            raw.relationships.as_ref().is_some_and(|v| !v.is_empty()),
            "relationships",
        )?,
        MessageType::DeleteNodes => {
            non_empty(raw.ids.as_ref().is_some_and(|v| !v.is_empty()), "ids")?
        }
        MessageType::DeleteRels => {
            non_empty(raw.pairs.as_ref().is_some_and(|v| !v.is_empty()), "pairs")?
        }
        _ => {}
    }

    // §5.4: content checks, only on the keys the variant uses, in key order
    // flow → nodes → relationships → ids → pairs.
    let v = Validator { variant };
    let msg = match variant {
        MessageType::Snapshot => FlowMessage::Snapshot {
            flow: v.flow(raw.flow.unwrap_or_default())?,
            nodes: v.nodes(raw.nodes.unwrap_or_default())?,
            relationships: v.relationships(raw.relationships.unwrap_or_default())?,
        },
        MessageType::UpsertFlow => FlowMessage::UpsertFlow {
            flow: v.flow(raw.flow.unwrap_or_default())?,
        },
        MessageType::UpsertNodes => FlowMessage::UpsertNodes {
            nodes: v.nodes(raw.nodes.unwrap_or_default())?,
        },
        MessageType::UpsertRels => FlowMessage::UpsertRels {
            relationships: v.relationships(raw.relationships.unwrap_or_default())?,
        },
        MessageType::DeleteNodes => FlowMessage::DeleteNodes {
            ids: v.ids(raw.ids.unwrap_or_default())?,
        },
        MessageType::DeleteRels => FlowMessage::DeleteRels {
            pairs: v.pairs(raw.pairs.unwrap_or_default())?,
        },
    };
    Ok(msg)
}

const REL_TYPES: &str =
    "contains, finish-to-start, start-to-start, finish-to-finish, start-to-finish, triggers";

struct Validator {
    variant: MessageType,
}

impl Validator {
    fn err(&self, detail: String) -> DecodeError {
        DecodeError::Invalid {
            variant: self.variant,
            detail,
        }
    }

    fn non_empty(&self, value: &str, path: impl FnOnce() -> String) -> Result<(), DecodeError> {
        if value.is_empty() {
            Err(self.err(format!("{} must be non-empty", path())))
        } else {
            Ok(())
        }
    }

    fn no_nul(&self, value: &str, path: impl FnOnce() -> String) -> Result<(), DecodeError> {
        if value.contains('\0') {
            Err(self.err(format!("{} must not contain U+0000", path())))
        } else {
            Ok(())
        }
    }

    fn rel_type(
        &self,
        value: &str,
        path: impl FnOnce() -> String,
    ) -> Result<RelationshipType, DecodeError> {
        RelationshipType::parse(value).ok_or_else(|| {
            self.err(format!(
                "{} must be one of {REL_TYPES}; got {}",
                path(),
                go_quote(value)
            ))
        })
    }

    fn flow(&self, raw: RawFlow) -> Result<FlowInstance, DecodeError> {
        let mut triggered_by = Vec::new();
        for (i, t) in raw.triggered_by.unwrap_or_default().into_iter().enumerate() {
            let when_raw = t.when.unwrap_or_default();
            let when = TriggerWhen::parse(&when_raw).ok_or_else(|| {
                self.err(format!(
                    "flow.triggeredBy[{i}].when must be one of success, failure, always; got {}",
                    go_quote(&when_raw)
                ))
            })?;
            triggered_by.push(Triggerer {
                flow_id: t.flow_id.unwrap_or_default(),
                when,
            });
        }
        Ok(FlowInstance {
            id: raw.id.unwrap_or_default(),
            definition_id: raw.definition_id,
            parent_flow_id: raw.parent_flow_id,
            triggered_by,
            status: raw.status.unwrap_or_default(),
            started_at: raw.started_at.unwrap_or(0),
            ended_at: raw.ended_at,
            meta: raw.meta.unwrap_or_default(),
        })
    }

    fn nodes(&self, raw: Vec<RawNode>) -> Result<Vec<FlowNode>, DecodeError> {
        raw.into_iter()
            .enumerate()
            .map(|(i, n)| {
                let id = n.id.unwrap_or_default();
                let flow_id = n.flow_id.unwrap_or_default();
                self.non_empty(&id, || format!("nodes[{i}].id"))?;
                self.no_nul(&id, || format!("nodes[{i}].id"))?;
                self.no_nul(&flow_id, || format!("nodes[{i}].flowId"))?;
                Ok(FlowNode {
                    id,
                    flow_id,
                    label: n.label.unwrap_or_default(),
                    status: n.status.unwrap_or_default(),
                    family: n.family,
                    region: n.region,
                    started_at: n.started_at,
                    ended_at: n.ended_at,
                    meta: n.meta.unwrap_or_default(),
                })
            })
            .collect()
    }

    fn relationships(&self, raw: Vec<RawRel>) -> Result<Vec<Relationship>, DecodeError> {
        raw.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let from_id = r.from_id.unwrap_or_default();
                let to_id = r.to_id.unwrap_or_default();
                self.non_empty(&from_id, || format!("relationships[{i}].fromId"))?;
                self.non_empty(&to_id, || format!("relationships[{i}].toId"))?;
                let rel_type = self.rel_type(r.r#type.as_deref().unwrap_or(""), || format!("relationships[{i}].type"))?;
                let condition = match r.condition.as_deref().unwrap_or("") {
                    "" => None,
                    c => Some(Condition::parse(c).ok_or_else(|| {
                        self.err(format!(
                            "relationships[{i}].condition must be one of on-success, on-failure, always; got {}",
                            go_quote(c)
                        ))
                    })?),
                };
                let lag = r.lag.unwrap_or(0);
                if lag < 0 {
                    return Err(self.err(format!("relationships[{i}].lag must be >= 0")));
                }
                self.no_nul(&from_id, || format!("relationships[{i}].fromId"))?;
                self.no_nul(&to_id, || format!("relationships[{i}].toId"))?;
                Ok(Relationship {
                    from_id,
                    to_id,
                    from_flow_id: r.from_flow_id,
                    to_flow_id: r.to_flow_id,
                    rel_type,
                    condition,
                    lag,
                })
            })
            .collect()
    }

    fn ids(&self, raw: Vec<String>) -> Result<Vec<String>, DecodeError> {
        for (i, id) in raw.iter().enumerate() {
            self.non_empty(id, || format!("ids[{i}]"))?;
            self.no_nul(id, || format!("ids[{i}]"))?;
        }
        Ok(raw)
    }

    fn pairs(&self, raw: Vec<RawPair>) -> Result<Vec<RelPair>, DecodeError> {
        raw.into_iter()
            .enumerate()
            .map(|(i, p)| {
                let from_id = p.from_id.unwrap_or_default();
                let to_id = p.to_id.unwrap_or_default();
                self.non_empty(&from_id, || format!("pairs[{i}].fromId"))?;
                self.non_empty(&to_id, || format!("pairs[{i}].toId"))?;
                let rel_type = self.rel_type(p.r#type.as_deref().unwrap_or(""), || {
                    format!("pairs[{i}].type")
                })?;
                self.no_nul(&from_id, || format!("pairs[{i}].fromId"))?;
                self.no_nul(&to_id, || format!("pairs[{i}].toId"))?;
                Ok(RelPair {
                    from_id,
                    to_id,
                    rel_type,
                })
            })
            .collect()
    }
}

// ---- Raw wire shapes -------------------------------------------------------
//
// Every key is optional (absent and `null` mean the same), unknown keys are
// ignored, and serde's derive rejects a duplicated known key, which is the
// §5.1 rule. Integers are `i64`, so `1.5`, `1e3`, `1.0` and `"1"` fail.

#[derive(Debug, Default, Deserialize)]
struct RawEnvelope {
    r#type: Option<String>,
    flow: Option<RawFlow>,
    nodes: Option<Vec<RawNode>>,
    relationships: Option<Vec<RawRel>>,
    ids: Option<Vec<String>>,
    pairs: Option<Vec<RawPair>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFlow {
    id: Option<String>,
    definition_id: Option<String>,
    parent_flow_id: Option<String>,
    triggered_by: Option<Vec<RawTriggerer>>,
    status: Option<String>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTriggerer {
    flow_id: Option<String>,
    when: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNode {
    id: Option<String>,
    flow_id: Option<String>,
    label: Option<String>,
    status: Option<String>,
    family: Option<String>,
    region: Option<String>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRel {
    from_id: Option<String>,
    to_id: Option<String>,
    from_flow_id: Option<String>,
    to_flow_id: Option<String>,
    r#type: Option<String>,
    condition: Option<String>,
    lag: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPair {
    from_id: Option<String>,
    to_id: Option<String>,
    r#type: Option<String>,
}

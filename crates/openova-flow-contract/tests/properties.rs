//! Property tests: decode(encode(m)) == m for every valid message, and
//! re-applying upserts is idempotent.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use openova_flow_contract::{
    Condition, FlowInstance, FlowLimits, FlowMessage, FlowNode, FlowState, Meta, RelPair,
    Relationship, RelationshipType, TriggerWhen, Triggerer, decode_message,
};
use proptest::prelude::*;
use serde_json::Value;

fn any_string() -> impl Strategy<Value = String> {
    // Includes the characters the canonical escaping cares about.
    prop_oneof![
        "[a-z0-9:._-]{0,12}",
        "\\PC{0,8}",
        prop::sample::select(vec![
            "<b>&",
            "\u{2028}\u{2029}",
            "\"\\/",
            "\u{1}\u{1f}\u{7f}",
            "é😀"
        ])
        .prop_map(String::from),
    ]
}

fn key_string() -> impl Strategy<Value = String> {
    any_string().prop_filter("non-empty, no NUL", |s| !s.is_empty() && !s.contains('\0'))
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any_string().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn meta() -> impl Strategy<Value = Meta> {
    prop::collection::btree_map(any_string(), json_value(), 0..3)
}

fn flow() -> impl Strategy<Value = FlowInstance> {
    (
        any_string(),
        prop::option::of(any_string()),
        prop::option::of(any_string()),
        prop::collection::vec(
            (
                any_string(),
                prop::sample::select(TriggerWhen::ALL.to_vec()),
            ),
            0..3,
        ),
        any_string(),
        any::<i64>(),
        prop::option::of(any::<i64>()),
        meta(),
    )
        .prop_map(
            |(id, definition_id, parent_flow_id, trig, status, started_at, ended_at, meta)| {
                FlowInstance {
                    id,
                    definition_id,
                    parent_flow_id,
                    triggered_by: trig
                        .into_iter()
                        .map(|(flow_id, when)| Triggerer { flow_id, when })
                        .collect(),
                    status,
                    started_at,
                    ended_at,
                    meta,
                }
            },
        )
}

fn node() -> impl Strategy<Value = FlowNode> {
    (
        key_string(),
        any_string().prop_filter("no NUL", |s| !s.contains('\0')),
        any_string(),
        any_string(),
        prop::option::of(any_string()),
        prop::option::of(any_string()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        meta(),
    )
        .prop_map(
            |(id, flow_id, label, status, family, region, started_at, ended_at, meta)| FlowNode {
                id,
                flow_id,
                label,
                status,
                family,
                region,
                started_at,
                ended_at,
                meta,
            },
        )
}

fn rel_type() -> impl Strategy<Value = RelationshipType> {
    prop::sample::select(RelationshipType::ALL.to_vec())
}

fn relationship() -> impl Strategy<Value = Relationship> {
    (
        key_string(),
        key_string(),
        prop::option::of(any_string()),
        prop::option::of(any_string()),
        rel_type(),
        prop::option::of(prop::sample::select(Condition::ALL.to_vec())),
        0..=i64::MAX,
    )
        .prop_map(
            |(from_id, to_id, from_flow_id, to_flow_id, rel_type, condition, lag)| Relationship {
                from_id,
                to_id,
                from_flow_id,
                to_flow_id,
                rel_type,
                condition,
                lag,
            },
        )
}

fn message() -> impl Strategy<Value = FlowMessage> {
    prop_oneof![
        (
            flow(),
            prop::collection::vec(node(), 0..4),
            prop::collection::vec(relationship(), 0..4)
        )
            .prop_map(|(flow, nodes, relationships)| FlowMessage::Snapshot {
                flow,
                nodes,
                relationships
            }),
        flow().prop_map(|flow| FlowMessage::UpsertFlow { flow }),
        prop::collection::vec(node(), 1..4).prop_map(|nodes| FlowMessage::UpsertNodes { nodes }),
        prop::collection::vec(relationship(), 1..4)
            .prop_map(|relationships| FlowMessage::UpsertRels { relationships }),
        prop::collection::vec(key_string(), 1..4).prop_map(|ids| FlowMessage::DeleteNodes { ids }),
        prop::collection::vec((key_string(), key_string(), rel_type()), 1..4).prop_map(|p| {
            FlowMessage::DeleteRels {
                pairs: p
                    .into_iter()
                    .map(|(from_id, to_id, rel_type)| RelPair {
                        from_id,
                        to_id,
                        rel_type,
                    })
                    .collect(),
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_encode_is_identity(m in message()) {
        let bytes = m.to_canonical_json();
        let back = decode_message(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&back, &m);
        // Canonical output is a fixed point.
        prop_assert_eq!(back.to_canonical_json(), bytes);
    }

    #[test]
    fn canonical_output_is_one_html_safe_line(m in message()) {
        let text = String::from_utf8(m.to_canonical_json()).unwrap();
        prop_assert!(!text.contains('\n'));
        prop_assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        let (ls, ps) = ('\u{2028}', '\u{2029}');
        prop_assert!(!text.contains(ls) && !text.contains(ps));
    }

    #[test]
    fn reapplying_upserts_is_idempotent(
        base in prop::collection::vec(message(), 0..4),
        nodes in prop::collection::vec(node(), 1..6),
        rels in prop::collection::vec(relationship(), 1..6),
        f in flow(),
    ) {
        let mut state = FlowState::new();
        for m in base {
            state.apply_unchecked(m);
        }
        for upsert in [
            FlowMessage::UpsertNodes { nodes },
            FlowMessage::UpsertRels { relationships: rels },
            FlowMessage::UpsertFlow { flow: f },
        ] {
            state.apply(upsert.clone(), &FlowLimits::UNLIMITED).unwrap();
            let once = state.clone();
            state.apply(upsert, &FlowLimits::UNLIMITED).unwrap();
            prop_assert_eq!(&state, &once);
        }
    }

    #[test]
    fn snapshot_of_state_rebuilds_the_same_state(msgs in prop::collection::vec(message(), 0..6)) {
        let mut state = FlowState::new();
        for m in msgs {
            state.apply_unchecked(m);
        }
        let snap = state.to_message("url");
        let mut rebuilt = FlowState::new();
        rebuilt.apply_unchecked(decode_message(&snap.to_canonical_json()).unwrap());
        prop_assert_eq!(rebuilt.snapshot("url").to_canonical_json(), state.snapshot("url").to_canonical_json());
    }

    #[test]
    fn delete_nodes_leaves_no_dangling_edges(msgs in prop::collection::vec(message(), 1..8)) {
        let mut state = FlowState::new();
        let mut deleted = Vec::new();
        for m in msgs {
            if let FlowMessage::DeleteNodes { ids } = &m {
                deleted.extend(ids.clone());
            }
            // Re-upserting a deleted id brings it back legitimately.
            if let FlowMessage::UpsertRels { relationships } = &m {
                deleted.retain(|d| !relationships.iter().any(|r| &r.from_id == d || &r.to_id == d));
            }
            if let FlowMessage::Snapshot { .. } = &m {
                deleted.clear();
            }
            state.apply_unchecked(m);
        }
        for r in state.relationships() {
            prop_assert!(!deleted.contains(&r.from_id) && !deleted.contains(&r.to_id));
        }
    }
}

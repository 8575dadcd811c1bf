//! contract.md §5: decoding (§5.1), the reference's variant check and texts
//! (§5.3), our added validation (§5.4) and the rejection examples (§5.5).
//! One test per rule; names carry the section.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use openova_flow_contract::{DecodeError, FlowMessage, decode_message};

fn reject(body: &str) -> String {
    match decode_message(body.as_bytes()) {
        Ok(m) => panic!("expected {body} to be rejected, got {m:?}"),
        Err(e) => e.to_string(),
    }
}

fn accept(body: &str) -> FlowMessage {
    decode_message(body.as_bytes())
        .unwrap_or_else(|e| panic!("expected {body} to be accepted, got {e}"))
}

fn assert_decode_error(body: &str) {
    let text = reject(body);
    assert!(text.starts_with("decode FlowMessage: "), "{body} → {text}");
    assert!(!text.contains('\n'), "one line: {text:?}");
}

// ---- §5.1 decoding rules ---------------------------------------------------

#[test]
fn s5_1_not_json_wrong_type_trailing_empty_are_decode_errors() {
    for body in [
        "{not json}",
        "",
        "   ",
        "[]",
        "\"x\"",
        "5",
        "true",
        r#"{"type":"upsert-flow","flow":{}} x"#,
        "{}{}",
    ] {
        assert_decode_error(body);
    }
}

#[test]
fn s5_1_trailing_whitespace_is_fine() {
    accept("{\"type\":\"delete-nodes\",\"ids\":[\"a\"]}\n\t ");
}

#[test]
fn s5_1_integers_must_be_json_integers_in_i64() {
    for v in ["1.5", "1e3", "1.0", "\"1\"", "9223372036854775808", "true"] {
        assert_decode_error(&format!(
            r#"{{"type":"upsert-flow","flow":{{"id":"f","startedAt":{v}}}}}"#
        ));
        assert_decode_error(&format!(
            r#"{{"type":"upsert-nodes","nodes":[{{"id":"n","endedAt":{v}}}]}}"#
        ));
        assert_decode_error(&format!(
            r#"{{"type":"upsert-rels","relationships":[{{"fromId":"a","toId":"b","type":"triggers","lag":{v}}}]}}"#
        ));
    }
    let m = accept(
        r#"{"type":"upsert-flow","flow":{"id":"f","startedAt":-9223372036854775808,"endedAt":9223372036854775807}}"#,
    );
    let FlowMessage::UpsertFlow { flow } = m else {
        unreachable!()
    };
    assert_eq!(flow.started_at, i64::MIN);
    assert_eq!(flow.ended_at, Some(i64::MAX));
}

#[test]
fn s5_1_meta_must_be_object_or_null_values_any_json() {
    assert_decode_error(r#"{"type":"upsert-flow","flow":{"id":"f","meta":[]}}"#);
    assert_decode_error(r#"{"type":"upsert-flow","flow":{"id":"f","meta":"x"}}"#);
    assert_decode_error(r#"{"type":"upsert-nodes","nodes":[{"id":"n","meta":1}]}"#);
    let m = accept(
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","meta":{"a":[1,2.5,"x",null,{"b":true}],"n":null}}]}"#,
    );
    let FlowMessage::UpsertNodes { nodes } = m else {
        unreachable!()
    };
    assert_eq!(nodes[0].meta.len(), 2);
    accept(r#"{"type":"upsert-nodes","nodes":[{"id":"n","meta":null}]}"#);
}

#[test]
fn s5_1_null_means_absent_for_every_key() {
    let m = accept(
        r#"{"type":"snapshot","flow":{"id":null,"definitionId":null,"parentFlowId":null,"triggeredBy":null,"status":null,"startedAt":null,"endedAt":null,"meta":null},"nodes":null,"relationships":null,"ids":null,"pairs":null}"#,
    );
    let FlowMessage::Snapshot {
        flow,
        nodes,
        relationships,
    } = m
    else {
        unreachable!()
    };
    assert_eq!(flow.id, "");
    assert_eq!(flow.status, "");
    assert_eq!(flow.started_at, 0);
    assert_eq!(flow.definition_id, None);
    assert!(nodes.is_empty() && relationships.is_empty());
    let m = accept(
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":null,"label":null,"status":null,"family":null,"region":null,"startedAt":null,"endedAt":null,"meta":null}]}"#,
    );
    let FlowMessage::UpsertNodes { nodes } = m else {
        unreachable!()
    };
    assert_eq!(nodes[0].flow_id, "");
    assert_eq!(nodes[0].family, None);
    let m = accept(
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains","fromFlowId":null,"toFlowId":null,"condition":null,"lag":null}]}"#,
    );
    let FlowMessage::UpsertRels { relationships } = m else {
        unreachable!()
    };
    assert_eq!(relationships[0].condition, None);
    assert_eq!(relationships[0].lag, 0);
}

#[test]
fn s5_1_unknown_keys_ignored_at_every_level_keys_case_sensitive() {
    accept(r#"{"type":"upsert-nodes","x":1,"nodes":[{"id":"n","extra":{"deep":[1]}}]}"#);
    accept(
        r#"{"type":"upsert-flow","flow":{"id":"f","foo":"bar","triggeredBy":[{"flowId":"p","when":"always","z":0}]}}"#,
    );
    // "Type" is an unknown key, so the type is missing.
    assert_eq!(
        reject(r#"{"Type":"upsert-flow","flow":{}}"#),
        r#"unknown message type """#
    );
    // "ID" is not "id".
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"ID":"n"}]}"#),
        "upsert-nodes: nodes[0].id must be non-empty"
    );
}

#[test]
fn s5_1_duplicate_keys_rejected_except_in_meta() {
    assert_decode_error(r#"{"type":"delete-nodes","type":"delete-nodes","ids":["a"]}"#);
    assert_decode_error(r#"{"type":"upsert-flow","flow":{"id":"a","id":"b"}}"#);
    assert_decode_error(r#"{"type":"upsert-nodes","nodes":[{"id":"a","label":"x","label":"y"}]}"#);
    assert_decode_error(
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","fromId":"a","toId":"b","type":"contains"}]}"#,
    );
    assert_decode_error(
        r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","toId":"c","type":"contains"}]}"#,
    );
    assert_decode_error(
        r#"{"type":"upsert-flow","flow":{"id":"f","triggeredBy":[{"flowId":"p","when":"always","when":"success"}]}}"#,
    );
    let m = accept(r#"{"type":"upsert-nodes","nodes":[{"id":"n","meta":{"k":1,"k":2}}]}"#);
    let FlowMessage::UpsertNodes { nodes } = m else {
        unreachable!()
    };
    assert_eq!(
        nodes[0].meta["k"],
        serde_json::json!(2),
        "inside meta the last occurrence wins"
    );
}

#[test]
fn s5_1_null_and_empty_object_decode_to_empty_type() {
    assert_eq!(reject("null"), r#"unknown message type """#);
    assert_eq!(reject("{}"), r#"unknown message type """#);
}

#[test]
fn s5_1_foreign_keys_must_be_type_correct_but_are_dropped() {
    // Decoded (so type errors count) …
    assert_decode_error(r#"{"type":"upsert-nodes","nodes":[{"id":"n"}],"ids":"not-an-array"}"#);
    assert_decode_error(r#"{"type":"delete-nodes","ids":["a"],"flow":{"startedAt":1.5}}"#);
    // … but not validated and not kept.
    let m = accept(
        r#"{"type":"upsert-nodes","nodes":[{"id":"n"}],"ids":[""],"pairs":[{"type":"nope"}]}"#,
    );
    assert_eq!(
        m,
        FlowMessage::UpsertNodes {
            nodes: vec![openova_flow_contract::FlowNode {
                id: "n".into(),
                ..Default::default()
            }]
        }
    );
}

// ---- §5.3 the reference's variant check ------------------------------------

#[test]
fn s5_3_required_keys_per_variant() {
    assert_eq!(
        reject(r#"{"type":"snapshot"}"#),
        "snapshot: flow is required"
    );
    assert_eq!(
        reject(r#"{"type":"snapshot","flow":null,"nodes":[]}"#),
        "snapshot: flow is required"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-flow"}"#),
        "upsert-flow: flow is required"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-nodes"}"#),
        "upsert-nodes: nodes must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[]}"#),
        "upsert-nodes: nodes must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-rels"}"#),
        "upsert-rels: relationships must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-rels","relationships":[]}"#),
        "upsert-rels: relationships must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-nodes"}"#),
        "delete-nodes: ids must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-nodes","ids":null}"#),
        "delete-nodes: ids must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-rels"}"#),
        "delete-rels: pairs must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-rels","pairs":[]}"#),
        "delete-rels: pairs must be non-empty"
    );
}

#[test]
fn s5_3_snapshot_needs_only_flow() {
    let m = accept(r#"{"type":"snapshot","flow":{"id":"f"}}"#);
    assert!(
        matches!(m, FlowMessage::Snapshot { ref nodes, ref relationships, .. } if nodes.is_empty() && relationships.is_empty())
    );
    accept(r#"{"type":"snapshot","flow":{}}"#);
}

#[test]
fn s5_3_unknown_type_quoted_like_go() {
    assert_eq!(
        reject(r#"{"type":"banana"}"#),
        r#"unknown message type "banana""#
    );
    assert_eq!(
        reject(r#"{"type":"unknown-thing"}"#),
        r#"unknown message type "unknown-thing""#
    );
    assert_eq!(reject(r#"{"type":""}"#), r#"unknown message type """#);
    assert_eq!(
        reject(r#"{"type":"Snapshot"}"#),
        r#"unknown message type "Snapshot""#
    );
    assert_eq!(
        reject(r#"{"type":"a\"b\\c\n\u0001\u007f"}"#),
        r#"unknown message type "a\"b\\c\n\x01\x7f""#
    );
    assert_decode_error(r#"{"type":5}"#);
}

#[test]
fn s5_2_variant_check_precedes_content_checks() {
    // An invalid node in a message whose variant check fails: the variant text wins.
    assert_eq!(
        reject(r#"{"type":"snapshot","nodes":[{"id":""}]}"#),
        "snapshot: flow is required"
    );
    // Decode errors precede everything.
    assert_decode_error(r#"{"type":"banana","flow":{"startedAt":"x"}}"#);
}

// ---- §5.4 our added validation ---------------------------------------------

const REL_TYPES: &str =
    "contains, finish-to-start, start-to-start, finish-to-finish, start-to-finish, triggers";

#[test]
fn s5_4_triggered_by_when_in_enumeration() {
    for w in ["success", "failure", "always"] {
        accept(&format!(
            r#"{{"type":"upsert-flow","flow":{{"id":"c","triggeredBy":[{{"flowId":"p","when":"{w}"}}]}}}}"#
        ));
    }
    assert_eq!(
        reject(
            r#"{"type":"upsert-flow","flow":{"id":"c","triggeredBy":[{"flowId":"p","when":"success"},{"flowId":"q","when":"maybe"}]}}"#
        ),
        r#"upsert-flow: flow.triggeredBy[1].when must be one of success, failure, always; got "maybe""#
    );
    assert_eq!(
        reject(r#"{"type":"snapshot","flow":{"triggeredBy":[{"flowId":"p"}]}}"#),
        r#"snapshot: flow.triggeredBy[0].when must be one of success, failure, always; got """#
    );
}

#[test]
fn s5_4_node_id_non_empty() {
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"label":"x"}]}"#),
        "upsert-nodes: nodes[1].id must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{}]}"#),
        "upsert-nodes: nodes[0].id must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"snapshot","flow":{},"nodes":[{"id":""}]}"#),
        "snapshot: nodes[0].id must be non-empty"
    );
}

#[test]
fn s5_4_relationship_from_and_to_non_empty() {
    assert_eq!(
        reject(r#"{"type":"upsert-rels","relationships":[{"toId":"b","type":"contains"}]}"#),
        "upsert-rels: relationships[0].fromId must be non-empty"
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"},{"fromId":"a","type":"x"}]}"#
        ),
        "upsert-rels: relationships[1].toId must be non-empty"
    );
    assert_eq!(
        reject(
            r#"{"type":"snapshot","flow":{},"relationships":[{"fromId":"","toId":"","type":"x"}]}"#
        ),
        "snapshot: relationships[0].fromId must be non-empty"
    );
}

#[test]
fn s5_4_relationship_type_in_enumeration() {
    for t in REL_TYPES.split(", ") {
        accept(&format!(
            r#"{{"type":"upsert-rels","relationships":[{{"fromId":"a","toId":"b","type":"{t}"}}]}}"#
        ));
    }
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"depends-on"}]}"#
        ),
        format!(
            r#"upsert-rels: relationships[0].type must be one of {REL_TYPES}; got "depends-on""#
        )
    );
    assert_eq!(
        reject(r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b"}]}"#),
        format!(r#"upsert-rels: relationships[0].type must be one of {REL_TYPES}; got """#)
    );
}

#[test]
fn s5_4_condition_empty_or_in_enumeration() {
    for c in ["", "on-success", "on-failure", "always"] {
        accept(&format!(
            r#"{{"type":"upsert-rels","relationships":[{{"fromId":"a","toId":"b","type":"triggers","condition":"{c}"}}]}}"#
        ));
    }
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","condition":"sometimes"}]}"#
        ),
        r#"upsert-rels: relationships[0].condition must be one of on-success, on-failure, always; got "sometimes""#
    );
}

#[test]
fn s5_4_lag_non_negative() {
    accept(
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","lag":0}]}"#,
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","lag":-5}]}"#
        ),
        "upsert-rels: relationships[0].lag must be >= 0"
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","lag":-1}]}"#
        ),
        "upsert-rels: relationships[0].lag must be >= 0"
    );
}

#[test]
fn s5_4_rule_order_within_a_relationship() {
    // fromId → toId → type → condition → lag → NUL.
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a\u0000","toId":"b","type":"x","condition":"y","lag":-1}]}"#
        ),
        format!(r#"upsert-rels: relationships[0].type must be one of {REL_TYPES}; got "x""#)
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a\u0000","toId":"b","type":"contains","condition":"y","lag":-1}]}"#
        ),
        r#"upsert-rels: relationships[0].condition must be one of on-success, on-failure, always; got "y""#
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a\u0000","toId":"b","type":"contains","lag":-1}]}"#
        ),
        "upsert-rels: relationships[0].lag must be >= 0"
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b\u0000","type":"contains"}]}"#
        ),
        "upsert-rels: relationships[0].toId must not contain U+0000"
    );
}

#[test]
fn s5_4_ids_non_empty() {
    assert_eq!(
        reject(r#"{"type":"delete-nodes","ids":[""]}"#),
        "delete-nodes: ids[0] must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-nodes","ids":["a",""]}"#),
        "delete-nodes: ids[1] must be non-empty"
    );
}

#[test]
fn s5_4_pairs_rules() {
    assert_eq!(
        reject(r#"{"type":"delete-rels","pairs":[{"toId":"b","type":"contains"}]}"#),
        "delete-rels: pairs[0].fromId must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-rels","pairs":[{"fromId":"a","type":"contains"}]}"#),
        "delete-rels: pairs[0].toId must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","type":"x"}]}"#),
        format!(r#"delete-rels: pairs[0].type must be one of {REL_TYPES}; got "x""#)
    );
    assert_eq!(
        reject(
            r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b\u0000","type":"contains"}]}"#
        ),
        "delete-rels: pairs[0].toId must not contain U+0000"
    );
}

#[test]
fn s5_4_no_nul_in_key_strings() {
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"id":"a\u0000"}]}"#),
        "upsert-nodes: nodes[0].id must not contain U+0000"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"id":"a","flowId":"f\u0000"}]}"#),
        "upsert-nodes: nodes[0].flowId must not contain U+0000"
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"\u0000","toId":"b","type":"contains"}]}"#
        ),
        "upsert-rels: relationships[0].fromId must not contain U+0000"
    );
    assert_eq!(
        reject(r#"{"type":"delete-nodes","ids":["x","\u0000"]}"#),
        "delete-nodes: ids[1] must not contain U+0000"
    );
    assert_eq!(
        reject(
            r#"{"type":"delete-rels","pairs":[{"fromId":"a\u0000","toId":"b","type":"contains"}]}"#
        ),
        "delete-rels: pairs[0].fromId must not contain U+0000"
    );
    // NUL is fine where the rule does not apply (label, meta, flow.id).
    accept(
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","label":"x\u0000","meta":{"k":"\u0000"}}]}"#,
    );
    accept(r#"{"type":"upsert-flow","flow":{"id":"f\u0000"}}"#);
}

#[test]
fn s5_4_empty_rule_precedes_nul_rule_within_an_element() {
    // "per element, after its other rules": id NUL beats nothing, but an empty
    // id in a later element is reported after a NUL in an earlier one.
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"id":"a\u0000"},{"id":""}]}"#),
        "upsert-nodes: nodes[0].id must not contain U+0000"
    );
}

#[test]
fn s5_2_key_order_flow_then_nodes_then_relationships() {
    assert_eq!(
        reject(
            r#"{"type":"snapshot","relationships":[{"fromId":""}],"nodes":[{"id":""}],"flow":{"triggeredBy":[{"when":"x"}]}}"#
        ),
        r#"snapshot: flow.triggeredBy[0].when must be one of success, failure, always; got "x""#
    );
    assert_eq!(
        reject(
            r#"{"type":"snapshot","relationships":[{"fromId":""}],"nodes":[{"id":""}],"flow":{}}"#
        ),
        "snapshot: nodes[0].id must be non-empty"
    );
    assert_eq!(
        reject(r#"{"type":"snapshot","relationships":[{"fromId":""}],"flow":{}}"#),
        "snapshot: relationships[0].fromId must be non-empty"
    );
}

#[test]
fn s5_4_not_checked_fields_are_accepted_as_is() {
    accept(
        r#"{"type":"upsert-flow","flow":{"id":"","status":"weird","startedAt":-1,"triggeredBy":[{"when":"always"}]}}"#,
    );
    accept(
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":"elsewhere","status":"weird","label":"","family":"","region":"","startedAt":-5}]}"#,
    );
}

// ---- §5.5 rejection examples -----------------------------------------------

#[test]
fn s5_5_rejection_examples() {
    assert_decode_error("{not json}");
    assert_eq!(
        reject(r#"{"type":"banana"}"#),
        r#"unknown message type "banana""#
    );
    assert_eq!(
        reject(r#"{"type":"snapshot"}"#),
        "snapshot: flow is required"
    );
    assert_eq!(
        reject(r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"label":"x"}]}"#),
        "upsert-nodes: nodes[1].id must be non-empty"
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"depends-on"}]}"#
        ),
        "upsert-rels: relationships[0].type must be one of contains, finish-to-start, start-to-start, finish-to-finish, start-to-finish, triggers; got \"depends-on\""
    );
    assert_eq!(
        reject(
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","lag":-5}]}"#
        ),
        "upsert-rels: relationships[0].lag must be >= 0"
    );
    assert_decode_error(
        r#"{"type":"upsert-flow","flow":{"id":"f","status":"running","startedAt":1.5}}"#,
    );
}

#[test]
fn error_variants_are_structured() {
    assert_eq!(
        decode_message(br#"{"type":"delete-nodes"}"#),
        Err(DecodeError::EmptyArray {
            variant: openova_flow_contract::MessageType::DeleteNodes,
            field: "ids"
        })
    );
}

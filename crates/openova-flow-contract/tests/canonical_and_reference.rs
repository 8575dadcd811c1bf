//! The reference's contract tests (round trip of each variant, rejection of
//! unknown/missing, cross-flow relationship, triggeredBy chain) and golden
//! canonical JSON for every variant (contract.md §2, §6).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use openova_flow_contract::{FlowMessage, FlowState, MessageType, decode_message};

/// The reference's round-trip set: contract.md §2, first block, all valid.
const ROUND_TRIP: [&str; 6] = [
    r#"{"type":"snapshot","flow":{"id":"f1","status":"running","startedAt":1234567890123},"nodes":[{"id":"n1","flowId":"f1","label":"hello","status":"succeeded"}],"relationships":[{"fromId":"n1","toId":"n2","type":"finish-to-start","condition":"on-success"}]}"#,
    r#"{"type":"upsert-flow","flow":{"id":"f1","status":"running","startedAt":1}}"#,
    r#"{"type":"upsert-nodes","nodes":[{"id":"n1","flowId":"f1","label":"x","status":"running"}]}"#,
    r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"}]}"#,
    r#"{"type":"delete-nodes","ids":["n1","n2"]}"#,
    r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","type":"finish-to-start"}]}"#,
];

fn canonical(body: &str) -> String {
    let m = decode_message(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
    String::from_utf8(m.to_canonical_json()).unwrap()
}

#[test]
fn reference_round_trip_of_each_variant() {
    let types = [
        "snapshot",
        "upsert-flow",
        "upsert-nodes",
        "upsert-rels",
        "delete-nodes",
        "delete-rels",
    ];
    for (body, ty) in ROUND_TRIP.iter().zip(types) {
        let m = decode_message(body.as_bytes()).unwrap();
        assert_eq!(m.message_type().as_str(), ty);
        let again = decode_message(&m.to_canonical_json()).unwrap();
        assert_eq!(again, m, "re-decodes to the same message");
        assert_eq!(again.message_type(), MessageType::parse(ty).unwrap());
    }
}

/// These bodies are already canonical: the output is byte-identical.
#[test]
fn golden_canonical_json_round_trip_set_is_a_fixed_point() {
    for body in ROUND_TRIP {
        assert_eq!(canonical(body), body);
    }
}

#[test]
fn golden_snapshot_always_carries_flow_nodes_relationships() {
    assert_eq!(
        canonical(r#"{"type":"snapshot","flow":{"id":"f"}}"#),
        r#"{"type":"snapshot","flow":{"id":"f","status":"","startedAt":0},"nodes":[],"relationships":[]}"#
    );
}

#[test]
fn golden_upsert_flow_full_key_order_and_omissions() {
    assert_eq!(
        canonical(
            r#"{"flow":{"meta":{"z":1,"a":{"y":[3,{"b":1,"a":2}],"x":null}},"endedAt":0,"startedAt":5,"status":"succeeded","triggeredBy":[{"when":"success","flowId":"parentA"},{"flowId":"parentB","when":"failure"}],"parentFlowId":"parentA","definitionId":"def-1","id":"child"},"type":"upsert-flow"}"#
        ),
        r#"{"type":"upsert-flow","flow":{"id":"child","definitionId":"def-1","parentFlowId":"parentA","triggeredBy":[{"flowId":"parentA","when":"success"},{"flowId":"parentB","when":"failure"}],"status":"succeeded","startedAt":5,"endedAt":0,"meta":{"a":{"x":null,"y":[3,{"a":2,"b":1}]},"z":1}}}"#
    );
    // Empty string ids are "present"; empty triggeredBy / meta are omitted.
    assert_eq!(
        canonical(
            r#"{"type":"upsert-flow","flow":{"definitionId":"","triggeredBy":[],"meta":{}}}"#
        ),
        r#"{"type":"upsert-flow","flow":{"id":"","definitionId":"","status":"","startedAt":0}}"#
    );
}

#[test]
fn golden_upsert_nodes_key_order_and_omissions() {
    assert_eq!(
        canonical(
            r#"{"type":"upsert-nodes","nodes":[{"meta":{"kind":"Sandbox"},"endedAt":0,"startedAt":0,"region":"fsn1","family":"cert-manager","status":"succeeded","label":"bp-cert-manager","flowId":"dep-abc","id":"fsn1:bp-cert-manager"},{"id":"x"}]}"#
        ),
        r#"{"type":"upsert-nodes","nodes":[{"id":"fsn1:bp-cert-manager","flowId":"dep-abc","label":"bp-cert-manager","status":"succeeded","family":"cert-manager","region":"fsn1","startedAt":0,"endedAt":0,"meta":{"kind":"Sandbox"}},{"id":"x","flowId":"","label":"","status":""}]}"#
    );
}

#[test]
fn golden_upsert_rels_key_order_and_omissions() {
    assert_eq!(
        canonical(
            r#"{"type":"upsert-rels","relationships":[{"lag":30,"condition":"on-success","type":"triggers","toFlowId":"sister","fromFlowId":"me","toId":"b","fromId":"a"},{"fromId":"a","toId":"b","type":"contains","condition":"","lag":0}]}"#
        ),
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","fromFlowId":"me","toFlowId":"sister","type":"triggers","condition":"on-success","lag":30},{"fromId":"a","toId":"b","type":"contains"}]}"#
    );
}

#[test]
fn golden_delete_variants() {
    assert_eq!(
        canonical(r#"{"ids":["b","a","b"],"type":"delete-nodes"}"#),
        r#"{"type":"delete-nodes","ids":["b","a","b"]}"#
    );
    assert_eq!(
        canonical(
            r#"{"type":"delete-rels","pairs":[{"type":"triggers","toId":"y","fromId":"x"}]}"#
        ),
        r#"{"type":"delete-rels","pairs":[{"fromId":"x","toId":"y","type":"triggers"}]}"#
    );
}

#[test]
fn golden_foreign_keys_dropped_d3() {
    assert_eq!(
        canonical(r#"{"type":"upsert-nodes","nodes":[{"id":"n"}],"ids":["n"],"flow":{"id":"f"}}"#),
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":"","label":"","status":""}]}"#
    );
}

#[test]
fn golden_html_safe_escaping_d3() {
    assert_eq!(
        canonical(
            r#"{"type":"upsert-nodes","nodes":[{"id":"n","label":"<b>&","status":"\u2028\u2029\u0001/"}]}"#
        ),
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":"","label":"\u003cb\u003e\u0026","status":"\u2028\u2029\u0001/"}]}"#
    );
}

#[test]
fn golden_meta_numbers_exact() {
    assert_eq!(
        canonical(
            r#"{"type":"upsert-nodes","nodes":[{"id":"n","meta":{"big":9007199254740993,"neg":-9223372036854775808,"f":1.5,"one":1.0}}]}"#
        ),
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":"","label":"","status":"","meta":{"big":9007199254740993,"f":1.5,"neg":-9223372036854775808,"one":1.0}}]}"#
    );
}

#[test]
fn reference_rejects_unknown_and_missing() {
    for (body, text) in [
        (r#"{"type":"banana"}"#, r#"unknown message type "banana""#),
        (r#"{"type":"snapshot"}"#, "snapshot: flow is required"),
        (
            r#"{"type":"upsert-nodes"}"#,
            "upsert-nodes: nodes must be non-empty",
        ),
        (
            r#"{"type":"delete-nodes"}"#,
            "delete-nodes: ids must be non-empty",
        ),
        (
            r#"{"type":"delete-rels"}"#,
            "delete-rels: pairs must be non-empty",
        ),
    ] {
        assert_eq!(
            decode_message(body.as_bytes()).unwrap_err().to_string(),
            text
        );
    }
}

#[test]
fn reference_cross_flow_relationship_keeps_to_flow_id_type_lag() {
    let body = r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","toFlowId":"sister","type":"triggers","condition":"on-success","lag":30}]}"#;
    let m = decode_message(body.as_bytes()).unwrap();
    let FlowMessage::UpsertRels { relationships } = &m else {
        unreachable!()
    };
    assert_eq!(relationships[0].to_flow_id.as_deref(), Some("sister"));
    assert_eq!(relationships[0].lag, 30);
    assert_eq!(canonical(body), body);
    let mut state = FlowState::new();
    state.apply_unchecked(m);
    let snap = String::from_utf8(state.snapshot("f").to_canonical_json()).unwrap();
    assert!(
        snap.contains(r#""toFlowId":"sister","type":"triggers","condition":"on-success","lag":30"#),
        "{snap}"
    );
}

#[test]
fn reference_triggered_by_chain() {
    let body = r#"{"type":"upsert-flow","flow":{"id":"child","definitionId":"def-1","parentFlowId":"parentA","triggeredBy":[{"flowId":"parentA","when":"success"},{"flowId":"parentB","when":"failure"}],"status":"running","startedAt":1}}"#;
    let m = decode_message(body.as_bytes()).unwrap();
    let mut state = FlowState::new();
    state.apply_unchecked(m);
    let flow = state.flow().unwrap();
    assert_eq!(flow.triggered_by.len(), 2);
    assert_eq!(flow.parent_flow_id.as_deref(), Some("parentA"));
    assert_eq!(canonical(body), body);
}

#[test]
fn realistic_examples_are_canonical() {
    for body in [
        r#"{"type":"upsert-nodes","nodes":[{"id":"fsn1:bp-cert-manager","flowId":"dep-abc","label":"bp-cert-manager","status":"succeeded","family":"cert-manager","region":"fsn1"}]}"#,
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","toFlowId":"sister","type":"triggers","condition":"on-success","lag":30}]}"#,
    ] {
        assert_eq!(canonical(body), body);
    }
}

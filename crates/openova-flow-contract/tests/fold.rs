//! contract.md §6.3 (server snapshots) and §7 (the fold).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use openova_flow_contract::{FlowLimits, FlowMessage, FlowState, FoldError, decode_message};

fn msg(body: &str) -> FlowMessage {
    decode_message(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"))
}

/// Stamps with `url` and applies without caps, like the server does.
fn apply(state: &mut FlowState, url: &str, body: &str) {
    let mut m = msg(body);
    m.stamp_flow_id(url);
    state.apply(m, &FlowLimits::UNLIMITED).unwrap();
}

fn snapshot(state: &FlowState, url: &str) -> String {
    String::from_utf8(state.snapshot(url).to_canonical_json()).unwrap()
}

#[test]
fn s6_3_snapshot_of_a_flow_with_one_upsert_nodes_is_byte_exact() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"n1","flowId":"f1","label":"x","status":"running"}]}"#,
    );
    assert_eq!(
        snapshot(&s, "f1"),
        r#"{"type":"snapshot","flow":{"id":"f1","status":"open","startedAt":0},"nodes":[{"id":"n1","flowId":"f1","label":"x","status":"running"}],"relationships":[]}"#
    );
}

#[test]
fn s6_3_empty_state_synthesises_flow_and_empty_arrays() {
    assert_eq!(
        snapshot(&FlowState::new(), "new1"),
        r#"{"type":"snapshot","flow":{"id":"new1","status":"open","startedAt":0},"nodes":[],"relationships":[]}"#
    );
}

#[test]
fn s6_3_snapshot_order_nodes_by_flow_id_then_id_rels_by_from_to_type() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"b"},{"id":"a","flowId":"z"},{"id":"c","flowId":"A"},{"id":"a"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"b","toId":"a","type":"contains"},{"fromId":"a","toId":"b","type":"triggers"},{"fromId":"a","toId":"b","type":"finish-to-start"},{"fromId":"a","toId":"a","type":"start-to-start"}]}"#,
    );
    let keys: Vec<(String, String)> = s
        .nodes()
        .map(|n| (n.flow_id.clone(), n.id.clone()))
        .collect();
    assert_eq!(
        keys,
        [("A", "c"), ("f", "a"), ("f", "b"), ("z", "a")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let rels: Vec<String> = s
        .relationships()
        .map(|r| format!("{}>{}:{}", r.from_id, r.to_id, r.rel_type))
        .collect();
    assert_eq!(
        rels,
        [
            "a>a:start-to-start",
            "a>b:finish-to-start",
            "a>b:triggers",
            "b>a:contains"
        ]
    );
}

#[test]
fn s7_1_node_key_with_empty_flow_id_is_stamped_with_url_flow_id() {
    let mut m = msg(
        r#"{"type":"upsert-nodes","nodes":[{"id":"n"},{"id":"n","flowId":""},{"id":"m","flowId":"other"}]}"#,
    );
    m.stamp_flow_id("f1");
    assert_eq!(
        String::from_utf8(m.to_canonical_json()).unwrap(),
        r#"{"type":"upsert-nodes","nodes":[{"id":"n","flowId":"f1","label":"","status":""},{"id":"n","flowId":"f1","label":"","status":""},{"id":"m","flowId":"other","label":"","status":""}]}"#
    );
    let mut s = FlowState::new();
    s.apply(m, &FlowLimits::UNLIMITED).unwrap();
    assert_eq!(
        s.node_count(),
        2,
        "the two empty-flowId nodes share the key (f1, n)"
    );
    assert!(s.node("f1", "n").is_some());
    assert!(s.node("", "n").is_none());
    // Snapshot messages are stamped too.
    let mut snap = msg(r#"{"type":"snapshot","flow":{"id":"x"},"nodes":[{"id":"n"}]}"#);
    snap.stamp_flow_id("f9");
    let FlowMessage::Snapshot { nodes, .. } = snap else {
        unreachable!()
    };
    assert_eq!(nodes[0].flow_id, "f9");
}

#[test]
fn s7_1_same_id_under_two_flow_ids_coexists_and_one_delete_removes_both_d4() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f1",
        r#"{"type":"upsert-nodes","nodes":[{"id":"x"},{"id":"x","flowId":"other"},{"id":"y"}]}"#,
    );
    assert_eq!(s.node_count(), 3);
    apply(&mut s, "f1", r#"{"type":"delete-nodes","ids":["x"]}"#);
    assert_eq!(s.node_count(), 1);
    assert!(s.node("f1", "y").is_some());
}

#[test]
fn s7_2_snapshot_replaces_everything() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-flow","flow":{"id":"f","status":"running","startedAt":1}}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"id":"b"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"snapshot","flow":{"id":"g","status":"pending"},"nodes":[{"id":"c"}]}"#,
    );
    assert_eq!(
        snapshot(&s, "f"),
        r#"{"type":"snapshot","flow":{"id":"g","status":"pending","startedAt":0},"nodes":[{"id":"c","flowId":"f","label":"","status":""}],"relationships":[]}"#
    );
    // After a replacing snapshot the indexes are consistent: deleting works.
    apply(&mut s, "f", r#"{"type":"delete-nodes","ids":["c"]}"#);
    assert_eq!(s.node_count(), 0);
}

#[test]
fn s7_2_upsert_flow_replaces_whole_object_no_field_merge() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-flow","flow":{"id":"f","definitionId":"d","status":"running","startedAt":1,"meta":{"a":1}}}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-flow","flow":{"id":"f","status":"succeeded"}}"#,
    );
    assert_eq!(
        snapshot(&s, "f"),
        r#"{"type":"snapshot","flow":{"id":"f","status":"succeeded","startedAt":0},"nodes":[],"relationships":[]}"#
    );
    // The flow object is stored as sent, its id is not rewritten.
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-flow","flow":{"id":"elsewhere"}}"#,
    );
    assert_eq!(s.flow().unwrap().id, "elsewhere");
}

#[test]
fn s7_2_upsert_nodes_replaces_whole_node_and_later_elements_win() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","label":"A","family":"x","meta":{"k":1}}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","status":"running"},{"id":"a","status":"failed"}]}"#,
    );
    let n = s.node("f", "a").unwrap();
    assert_eq!(n.status, "failed");
    assert_eq!(n.label, "");
    assert_eq!(n.family, None);
    assert!(n.meta.is_empty());
}

#[test]
fn s7_2_upsert_rels_keyed_by_from_to_type_flow_ids_are_payload() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"triggers","toFlowId":"x","lag":1},{"fromId":"a","toId":"b","type":"triggers","toFlowId":"y"},{"fromId":"a","toId":"b","type":"contains"}]}"#,
    );
    assert_eq!(s.relationship_count(), 2);
    let r = s
        .relationships()
        .find(|r| r.rel_type.as_str() == "triggers")
        .unwrap();
    assert_eq!(r.to_flow_id.as_deref(), Some("y"));
    assert_eq!(r.lag, 0);
}

#[test]
fn s7_2_delete_nodes_prunes_incident_edges_d4() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"id":"b"},{"id":"c"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"finish-to-start"},{"fromId":"b","toId":"c","type":"finish-to-start"},{"fromId":"a","toId":"c","type":"finish-to-start"},{"fromId":"b","toId":"b","type":"contains"},{"fromId":"c","toId":"b","type":"triggers","fromFlowId":"zz","toFlowId":"yy"}]}"#,
    );
    apply(&mut s, "f", r#"{"type":"delete-nodes","ids":["b"]}"#);
    let rels: Vec<String> = s
        .relationships()
        .map(|r| format!("{}>{}", r.from_id, r.to_id))
        .collect();
    assert_eq!(
        rels,
        ["a>c"],
        "a→b, b→c, the self-loop and c→b (flowIds not consulted) are gone"
    );
    assert_eq!(s.node_count(), 2);
}

#[test]
fn s7_2_delete_nodes_removes_edges_to_ids_that_never_existed() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"ghost","toId":"x","type":"contains"},{"fromId":"y","toId":"ghost","type":"contains"},{"fromId":"y","toId":"x","type":"contains"}]}"#,
    );
    apply(&mut s, "f", r#"{"type":"delete-nodes","ids":["ghost"]}"#);
    assert_eq!(s.relationship_count(), 1);
}

#[test]
fn s7_2_delete_rels_by_key_and_missing_is_noop() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"},{"fromId":"a","toId":"b","type":"triggers"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"delete-rels","pairs":[{"fromId":"a","toId":"b","type":"contains"},{"fromId":"q","toId":"r","type":"contains"}]}"#,
    );
    assert_eq!(s.relationship_count(), 1);
    // The remaining edge is still prunable through the reverse index.
    apply(&mut s, "f", r#"{"type":"delete-nodes","ids":["b"]}"#);
    assert_eq!(s.relationship_count(), 0);
    let before = s.clone();
    apply(&mut s, "f", r#"{"type":"delete-nodes","ids":["nothing"]}"#);
    assert_eq!(s, before);
}

#[test]
fn s7_2_caps_reject_whole_message_and_change_nothing_d11() {
    let limits = FlowLimits::from_max_nodes(2);
    assert_eq!(limits.max_relationships, 8);
    let mut s = FlowState::new();
    let mut m = msg(r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"id":"b"}]}"#);
    m.stamp_flow_id("f");
    s.apply(m, &limits).unwrap();
    let before = s.clone();
    let mut third = msg(r#"{"type":"upsert-nodes","nodes":[{"id":"a","status":"x"},{"id":"c"}]}"#);
    third.stamp_flow_id("f");
    assert_eq!(s.apply(third, &limits), Err(FoldError::FlowTooLarge));
    assert_eq!(s, before, "state unchanged");
    assert_eq!(FoldError::FlowTooLarge.to_string(), "flow too large");
    // Replacing existing keys is fine at the cap; duplicates in one message count once.
    let mut same = msg(r#"{"type":"upsert-nodes","nodes":[{"id":"a","status":"y"},{"id":"a"}]}"#);
    same.stamp_flow_id("f");
    s.apply(same, &limits).unwrap();
    // A snapshot above the cap is refused; one at the cap is accepted.
    let mut big =
        msg(r#"{"type":"snapshot","flow":{},"nodes":[{"id":"1"},{"id":"2"},{"id":"3"}]}"#);
    big.stamp_flow_id("f");
    assert_eq!(s.apply(big, &limits), Err(FoldError::FlowTooLarge));
    // Relationship cap.
    let rels: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"fromId":"a","toId":"t{i}","type":"contains"}}"#))
        .collect();
    let body = format!(
        r#"{{"type":"upsert-rels","relationships":[{}]}}"#,
        rels.join(",")
    );
    assert_eq!(s.apply(msg(&body), &limits), Err(FoldError::FlowTooLarge));
    // Deletes are never refused.
    s.apply(msg(r#"{"type":"delete-nodes","ids":["a"]}"#), &limits)
        .unwrap();
}

#[test]
fn s7_2_to_message_matches_the_snapshot_view() {
    let mut s = FlowState::new();
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-nodes","nodes":[{"id":"a","label":"<x>"}]}"#,
    );
    apply(
        &mut s,
        "f",
        r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"finish-to-start"}]}"#,
    );
    assert_eq!(
        s.to_message("f").to_canonical_json(),
        s.snapshot("f").to_canonical_json()
    );
}

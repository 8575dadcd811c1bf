//! The fold of contract.md §7 as table changes (pure; executed by
//! [`super::store`]).
//!
//! Same rules as [`openova_flow_contract::FlowState`], which the tests use as
//! the oracle: whole-object replace by key, later elements of one message win,
//! `delete-nodes` removes an id under every flowId and prunes relationships by
//! endpoint id only, caps refuse a message that grows a count past its cap.

use std::collections::BTreeMap;

use openova_flow_contract::canonical;
use openova_flow_contract::message::{FlowMessage, FlowNode, Relationship};

/// A `nodes` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub flow_id: String,
    pub id: String,
    /// Canonical JSON of the node.
    pub json: String,
}

/// A `relationships` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelRow {
    pub from_id: String,
    pub to_id: String,
    pub rel_type: &'static str,
    /// Canonical JSON of the relationship.
    pub json: String,
}

/// What one message does to the tables. Rows are de-duplicated (the last
/// element with a key wins) and sorted by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Replace everything: flow, nodes, relationships.
    Snapshot {
        flow: String,
        nodes: Vec<NodeRow>,
        rels: Vec<RelRow>,
    },
    UpsertFlow {
        flow: String,
    },
    UpsertNodes(Vec<NodeRow>),
    UpsertRels(Vec<RelRow>),
    /// Distinct ids.
    DeleteNodes(Vec<String>),
    /// Distinct `(fromId, toId, type)` keys.
    DeleteRels(Vec<(String, String, &'static str)>),
}

impl Change {
    /// The new `flows.flow` value, when the message sets it.
    pub fn flow(&self) -> Option<&str> {
        match self {
            Change::Snapshot { flow, .. } | Change::UpsertFlow { flow } => Some(flow),
            _ => None,
        }
    }
}

/// Plans a stamped, validated message.
pub fn plan(msg: &FlowMessage) -> Change {
    match msg {
        FlowMessage::Snapshot {
            flow,
            nodes,
            relationships,
        } => Change::Snapshot {
            flow: canonical::to_string(flow),
            nodes: node_rows(nodes),
            rels: rel_rows(relationships),
        },
        FlowMessage::UpsertFlow { flow } => Change::UpsertFlow {
            flow: canonical::to_string(flow),
        },
        FlowMessage::UpsertNodes { nodes } => Change::UpsertNodes(node_rows(nodes)),
        FlowMessage::UpsertRels { relationships } => Change::UpsertRels(rel_rows(relationships)),
        FlowMessage::DeleteNodes { ids } => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Change::DeleteNodes(ids)
        }
        FlowMessage::DeleteRels { pairs } => {
            let mut keys: Vec<_> = pairs
                .iter()
                .map(|p| (p.from_id.clone(), p.to_id.clone(), p.rel_type.as_str()))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            Change::DeleteRels(keys)
        }
    }
}

fn node_rows(nodes: &[FlowNode]) -> Vec<NodeRow> {
    let mut by_key = BTreeMap::new();
    for n in nodes {
        by_key.insert((n.flow_id.as_str(), n.id.as_str()), n);
    }
    by_key
        .into_iter()
        .map(|((flow_id, id), n)| NodeRow {
            flow_id: flow_id.to_owned(),
            id: id.to_owned(),
            json: canonical::to_string(n),
        })
        .collect()
}

fn rel_rows(rels: &[Relationship]) -> Vec<RelRow> {
    let mut by_key = BTreeMap::new();
    for r in rels {
        by_key.insert(
            (r.from_id.as_str(), r.to_id.as_str(), r.rel_type.as_str()),
            r,
        );
    }
    by_key
        .into_iter()
        .map(|((from_id, to_id, rel_type), r)| RelRow {
            from_id: from_id.to_owned(),
            to_id: to_id.to_owned(),
            rel_type,
            json: canonical::to_string(r),
        })
        .collect()
}

/// The cap rule of `FlowState::check`: refuse a count that grows past its
/// cap; a message that keeps or shrinks a count is always accepted.
pub fn exceeds(after: u64, before: u64, cap: usize) -> bool {
    after > cap as u64 && after > before
}

/// The server snapshot JSON (contract.md §6.3) from stored canonical texts:
/// `flow` (synthesised when `None`), nodes ordered by `(flowId, id)` and
/// relationships by `(fromId, toId, type)`, bytewise.
pub fn snapshot_json<S: AsRef<str>>(
    url_flow_id: &str,
    flow: Option<&str>,
    nodes: &[S],
    rels: &[S],
) -> Vec<u8> {
    let size = nodes
        .iter()
        .chain(rels)
        .map(|s| s.as_ref().len() + 1)
        .sum::<usize>()
        + 256;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"type\":\"snapshot\",\"flow\":");
    match flow {
        Some(f) => out.extend_from_slice(f.as_bytes()),
        None => canonical::write(
            &mut out,
            &openova_flow_contract::FlowInstance::synthesised(url_flow_id),
        ),
    }
    out.extend_from_slice(b",\"nodes\":[");
    join(&mut out, nodes);
    out.extend_from_slice(b"],\"relationships\":[");
    join(&mut out, rels);
    out.extend_from_slice(b"]}");
    out
}

fn join<S: AsRef<str>>(out: &mut Vec<u8>, items: &[S]) {
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(s.as_ref().as_bytes());
    }
}

/// A table-shaped model of the fold, used to prove [`plan`] + the SQL rules
/// equal `FlowState` (the SQL statements in `store` implement exactly these
/// set operations).
#[cfg(test)]
pub(crate) mod model {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, Clone)]
    pub struct Tables {
        pub flow: Option<String>,
        pub nodes: BTreeMap<(String, String), String>,
        pub rels: BTreeMap<(String, String, &'static str), String>,
    }

    impl Tables {
        /// Applies a change like the SQL does; returns (node_count, rel_count).
        pub fn apply(&mut self, c: &Change) -> (u64, u64) {
            match c {
                Change::Snapshot { flow, nodes, rels } => {
                    self.flow = Some(flow.clone());
                    self.nodes.clear();
                    self.rels.clear();
                    self.upsert_nodes(nodes);
                    self.upsert_rels(rels);
                }
                Change::UpsertFlow { flow } => self.flow = Some(flow.clone()),
                Change::UpsertNodes(n) => self.upsert_nodes(n),
                Change::UpsertRels(r) => self.upsert_rels(r),
                Change::DeleteNodes(ids) => {
                    // DELETE … WHERE node_id = ANY(ids)
                    self.nodes.retain(|(_, id), _| !ids.contains(id));
                    // DELETE … WHERE from_id = ANY(ids) OR to_id = ANY(ids)
                    self.rels
                        .retain(|(f, t, _), _| !ids.contains(f) && !ids.contains(t));
                }
                Change::DeleteRels(keys) => {
                    for (f, t, ty) in keys {
                        self.rels.remove(&(f.clone(), t.clone(), *ty));
                    }
                }
            }
            (self.nodes.len() as u64, self.rels.len() as u64)
        }

        fn upsert_nodes(&mut self, rows: &[NodeRow]) {
            for r in rows {
                self.nodes
                    .insert((r.flow_id.clone(), r.id.clone()), r.json.clone());
            }
        }

        fn upsert_rels(&mut self, rows: &[RelRow]) {
            for r in rows {
                self.rels.insert(
                    (r.from_id.clone(), r.to_id.clone(), r.rel_type),
                    r.json.clone(),
                );
            }
        }

        pub fn snapshot(&self, url_flow_id: &str) -> Vec<u8> {
            let nodes: Vec<&str> = self.nodes.values().map(String::as_str).collect();
            let rels: Vec<&str> = self.rels.values().map(String::as_str).collect();
            snapshot_json(url_flow_id, self.flow.as_deref(), &nodes, &rels)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::model::Tables;
    use super::*;
    use openova_flow_contract::message::{RelPair, RelationshipType};
    use openova_flow_contract::{FlowInstance, FlowLimits, FlowState, decode_message};
    use proptest::prelude::*;

    fn node(flow_id: &str, id: &str, label: &str) -> FlowNode {
        FlowNode {
            id: id.into(),
            flow_id: flow_id.into(),
            label: label.into(),
            status: "running".into(),
            ..FlowNode::default()
        }
    }

    fn rel(from: &str, to: &str, t: RelationshipType) -> Relationship {
        Relationship::new(from, to, t)
    }

    /// Applies `msgs` to both the model tables and `FlowState`, with the same
    /// cap check, and asserts identical snapshots after every step.
    fn assert_same(msgs: Vec<FlowMessage>, limits: FlowLimits) {
        let mut state = FlowState::new();
        let mut tables = Tables::default();
        for (i, msg) in msgs.into_iter().enumerate() {
            let want = state.apply(msg.clone(), &limits);
            let before = (tables.nodes.len() as u64, tables.rels.len() as u64);
            let mut trial = tables.clone();
            let (n, r) = trial.apply(&plan(&msg));
            let refused = exceeds(n, before.0, limits.max_nodes)
                || exceeds(r, before.1, limits.max_relationships);
            assert_eq!(refused, want.is_err(), "step {i}: cap decision");
            if !refused {
                tables = trial;
            }
            assert_eq!(
                String::from_utf8(tables.snapshot("f1")).unwrap(),
                String::from_utf8(state.snapshot("f1").to_canonical_json()).unwrap(),
                "step {i}"
            );
        }
    }

    #[test]
    fn reference_sequence_matches_flow_state() {
        use RelationshipType::*;
        let msgs = vec![
            FlowMessage::UpsertNodes {
                nodes: vec![
                    node("f1", "a", "1"),
                    node("f1", "b", "1"),
                    node("f1", "a", "2"),
                ],
            },
            FlowMessage::UpsertNodes {
                nodes: vec![node("other", "x", "o"), node("f1", "x", "f")],
            },
            FlowMessage::UpsertRels {
                relationships: vec![
                    rel("a", "b", FinishToStart),
                    rel("b", "c", Triggers),
                    rel("b", "c", Contains),
                    rel("q", "r", StartToStart),
                ],
            },
            FlowMessage::DeleteNodes {
                ids: vec!["b".into(), "x".into(), "b".into(), "never".into()],
            },
            FlowMessage::DeleteRels {
                pairs: vec![RelPair {
                    from_id: "q".into(),
                    to_id: "r".into(),
                    rel_type: StartToStart,
                }],
            },
            FlowMessage::UpsertFlow {
                flow: FlowInstance {
                    id: "f1".into(),
                    status: "running".into(),
                    started_at: 1,
                    ..FlowInstance::default()
                },
            },
            FlowMessage::Snapshot {
                flow: FlowInstance::synthesised("f1"),
                nodes: vec![node("f1", "z", "z"), node("f1", "y", "y")],
                relationships: vec![rel("z", "y", Contains)],
            },
        ];
        assert_same(msgs, FlowLimits::from_max_nodes(10));
    }

    #[test]
    fn caps_match_flow_state() {
        let two = |a: &str, b: &str| FlowMessage::UpsertNodes {
            nodes: vec![node("f1", a, ""), node("f1", b, "")],
        };
        assert_same(
            vec![
                two("a", "b"),
                two("c", "c"),
                two("a", "b"),
                FlowMessage::Snapshot {
                    flow: FlowInstance::synthesised("f1"),
                    nodes: vec![
                        node("f1", "1", ""),
                        node("f1", "2", ""),
                        node("f1", "3", ""),
                    ],
                    relationships: vec![],
                },
                FlowMessage::DeleteNodes {
                    ids: vec!["a".into()],
                },
                two("c", "d"),
            ],
            FlowLimits::from_max_nodes(2),
        );
    }

    #[test]
    fn snapshot_json_without_a_posted_flow_is_synthesised() {
        let empty: [&str; 0] = [];
        assert_eq!(
            String::from_utf8(snapshot_json("f1", None, &empty, &empty)).unwrap(),
            r#"{"type":"snapshot","flow":{"id":"f1","status":"open","startedAt":0},"nodes":[],"relationships":[]}"#
        );
    }

    #[test]
    fn stored_payloads_decode_back_to_the_same_message() {
        let msg = FlowMessage::UpsertNodes {
            nodes: vec![node("f1", "a<&>", "\u{2028}\u{0}")],
        };
        let json = msg.to_canonical_json();
        assert_eq!(decode_message(&json).unwrap(), msg);
    }

    fn arb_id() -> impl Strategy<Value = String> + Clone {
        prop::sample::select(vec!["a", "b", "c", "é", "B"]).prop_map(str::to_owned)
    }

    fn arb_node() -> impl Strategy<Value = FlowNode> {
        (prop::sample::select(vec!["f1", "g"]), arb_id(), "[xy]{0,2}")
            .prop_map(|(f, id, l)| node(f, &id, &l))
    }

    fn arb_rel() -> impl Strategy<Value = Relationship> {
        let t = prop::sample::select(RelationshipType::ALL.to_vec());
        (arb_id(), arb_id(), t).prop_map(|(a, b, t)| rel(&a, &b, t))
    }

    fn arb_msg() -> impl Strategy<Value = FlowMessage> {
        let t = prop::sample::select(RelationshipType::ALL.to_vec());
        let p = (arb_id(), arb_id(), t).prop_map(|(a, b, t)| RelPair {
            from_id: a,
            to_id: b,
            rel_type: t,
        });
        prop_oneof![
            prop::collection::vec(arb_node(), 0..5)
                .prop_map(|nodes| FlowMessage::UpsertNodes { nodes }),
            prop::collection::vec(arb_rel(), 0..5)
                .prop_map(|relationships| FlowMessage::UpsertRels { relationships }),
            prop::collection::vec(arb_id(), 0..3).prop_map(|ids| FlowMessage::DeleteNodes { ids }),
            prop::collection::vec(p, 0..3).prop_map(|pairs| FlowMessage::DeleteRels { pairs }),
            "[a-z]{1,3}".prop_map(|s| FlowMessage::UpsertFlow {
                flow: FlowInstance {
                    id: s,
                    ..FlowInstance::default()
                }
            }),
            (
                prop::collection::vec(arb_node(), 0..4),
                prop::collection::vec(arb_rel(), 0..4)
            )
                .prop_map(|(nodes, relationships)| FlowMessage::Snapshot {
                    flow: FlowInstance::synthesised("f1"),
                    nodes,
                    relationships,
                }),
        ]
    }

    proptest! {
        #[test]
        fn any_message_sequence_matches_flow_state(
            msgs in prop::collection::vec(arb_msg(), 0..25),
            cap in 1usize..6,
        ) {
            assert_same(msgs, FlowLimits::from_max_nodes(cap));
        }
    }
}

//! The region graph, the desired-vs-acknowledged diff and its batching into
//! FlowMessages (emitter.md §7–§8). Pure.

use std::collections::{BTreeMap, BTreeSet};

use openova_flow_contract::{
    FlowMessage, FlowNode, RelPair, Relationship, RelationshipType, canonical,
};

/// Largest serialised envelope the emitter sends (512 KiB, §7).
pub const MAX_ENVELOPE_BYTES: usize = 512 * 1024;

/// Nodes by id and edges by `(fromId, toId, type)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub nodes: BTreeMap<String, FlowNode>,
    pub edges: BTreeMap<RelPair, Relationship>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert_node(&mut self, node: FlowNode) {
        self.nodes.insert(node.id.clone(), node);
    }

    pub fn insert_edge(&mut self, edge: Relationship) {
        self.edges.insert(edge.pair(), edge);
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.edges.is_empty()
    }

    /// Records a message the server accepted, mirroring the server's fold
    /// (`delete-nodes` also forgets every edge touching the ids).
    pub fn apply(&mut self, msg: &FlowMessage) {
        match msg {
            FlowMessage::UpsertNodes { nodes } => {
                for n in nodes {
                    self.insert_node(n.clone());
                }
            }
            FlowMessage::UpsertRels { relationships } => {
                for r in relationships {
                    self.insert_edge(r.clone());
                }
            }
            FlowMessage::DeleteRels { pairs } => {
                for p in pairs {
                    self.edges.remove(p);
                }
            }
            FlowMessage::DeleteNodes { ids } => {
                let gone: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
                for id in ids {
                    self.nodes.remove(id);
                }
                self.edges.retain(|k, _| {
                    !gone.contains(k.from_id.as_str()) && !gone.contains(k.to_id.as_str())
                });
            }
            FlowMessage::Snapshot { .. } | FlowMessage::UpsertFlow { .. } => {}
        }
    }
}

/// What one flush must send, in the order it is sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub upsert_nodes: Vec<FlowNode>,
    pub upsert_rels: Vec<Relationship>,
    pub delete_rels: Vec<RelPair>,
    pub delete_nodes: Vec<String>,
}

impl Diff {
    /// Number of pending node and edge changes (the queue-depth metric).
    pub fn len(&self) -> usize {
        self.upsert_nodes.len()
            + self.upsert_rels.len()
            + self.delete_rels.len()
            + self.delete_nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches, in order: upsert-nodes, upsert-rels, delete-rels,
    /// delete-nodes; each kind chunked so one envelope stays ≤ `max_bytes`
    /// (an item larger than that on its own is sent alone).
    pub fn into_messages(self, max_bytes: usize) -> Vec<FlowMessage> {
        let mut out = Vec::new();
        chunk(self.upsert_nodes, max_bytes, &mut out, |nodes| {
            FlowMessage::UpsertNodes { nodes }
        });
        chunk(self.upsert_rels, max_bytes, &mut out, |relationships| {
            FlowMessage::UpsertRels { relationships }
        });
        chunk(self.delete_rels, max_bytes, &mut out, |pairs| {
            FlowMessage::DeleteRels { pairs }
        });
        chunk(self.delete_nodes, max_bytes, &mut out, |ids| {
            FlowMessage::DeleteNodes { ids }
        });
        out
    }
}

fn chunk<T: serde::Serialize>(
    items: Vec<T>,
    max_bytes: usize,
    out: &mut Vec<FlowMessage>,
    wrap: impl Fn(Vec<T>) -> FlowMessage,
) {
    if items.is_empty() {
        return;
    }
    let overhead = canonical::to_vec(&wrap(Vec::new())).len();
    let mut batch = Vec::new();
    let mut size = overhead;
    for item in items {
        let len = canonical::to_vec(&item).len();
        let added = if batch.is_empty() { len } else { len + 1 };
        if !batch.is_empty() && size + added > max_bytes {
            out.push(wrap(std::mem::take(&mut batch)));
            size = overhead;
            batch.push(item);
            size += len;
        } else {
            batch.push(item);
            size += added;
        }
    }
    out.push(wrap(batch));
}

/// Desired vs acknowledged (§7): nodes new or different, edges new or
/// different, acknowledged edges no longer desired (except those touching a
/// node deleted in the same flush) and acknowledged nodes no longer desired.
pub fn diff(desired: &Graph, acked: &Graph) -> Diff {
    let upsert_nodes = desired
        .nodes
        .iter()
        .filter(|(id, n)| acked.nodes.get(*id) != Some(*n))
        .map(|(_, n)| n.clone())
        .collect();
    let upsert_rels = desired
        .edges
        .iter()
        .filter(|(k, e)| acked.edges.get(*k) != Some(*e))
        .map(|(_, e)| e.clone())
        .collect();
    let delete_nodes: Vec<String> = acked
        .nodes
        .keys()
        .filter(|id| !desired.nodes.contains_key(*id))
        .cloned()
        .collect();
    let gone: BTreeSet<&str> = delete_nodes.iter().map(String::as_str).collect();
    let delete_rels = acked
        .edges
        .keys()
        .filter(|k| !desired.edges.contains_key(*k))
        .filter(|k| !gone.contains(k.from_id.as_str()) && !gone.contains(k.to_id.as_str()))
        .cloned()
        .collect();
    Diff {
        upsert_nodes,
        upsert_rels,
        delete_rels,
        delete_nodes,
    }
}

/// `[a-z0-9]([-a-z0-9.]*[a-z0-9])?`, at most 253 characters (DNS-1123 subdomain).
pub fn is_dns1123_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// `true` when `id` has the shape of an id this emitter produces for its
/// region: `<region>:` followed by a DNS-1123 name or `<namespace>/<name>`.
pub fn is_owned_id(id: &str, region: &str) -> bool {
    let Some(rest) = id.strip_prefix(region).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    match rest.split_once('/') {
        Some((ns, name)) => {
            is_dns1123_name(ns) && !ns.contains('.') && ns.len() <= 63 && is_dns1123_name(name)
        }
        None => is_dns1123_name(rest),
    }
}

/// The owned part of a server snapshot that is not desired (§8 prune): nodes
/// of this flow and region with an owned id, finish-to-start edges into an
/// owned id, `contains` edges out of one into the region node.
pub fn undesired_owned(
    server_nodes: &[FlowNode],
    server_rels: &[Relationship],
    desired: &Graph,
    flow_id: &str,
    region: &str,
) -> Graph {
    let mut g = Graph::new();
    for n in server_nodes {
        if n.flow_id == flow_id
            && n.region.as_deref() == Some(region)
            && is_owned_id(&n.id, region)
            && !desired.nodes.contains_key(&n.id)
        {
            g.insert_node(n.clone());
        }
    }
    for r in server_rels {
        let owned = match r.rel_type {
            RelationshipType::FinishToStart => is_owned_id(&r.to_id, region),
            RelationshipType::Contains => r.to_id == region && is_owned_id(&r.from_id, region),
            _ => false,
        };
        if owned && !desired.edges.contains_key(&r.pair()) {
            g.insert_edge(r.clone());
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use openova_flow_contract::Condition;

    fn node(id: &str, status: &str) -> FlowNode {
        FlowNode {
            id: id.into(),
            flow_id: "f".into(),
            label: id.into(),
            status: status.into(),
            region: Some("fsn1".into()),
            ..Default::default()
        }
    }

    fn fts(from: &str, to: &str) -> Relationship {
        let mut r = Relationship::new(from, to, RelationshipType::FinishToStart);
        r.condition = Some(Condition::OnSuccess);
        r
    }

    fn graph(nodes: &[(&str, &str)], edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (id, s) in nodes {
            g.insert_node(node(id, s));
        }
        for (a, b) in edges {
            g.insert_edge(fts(a, b));
        }
        g
    }

    #[test]
    fn diff_upserts_only_changes() {
        let acked = graph(&[("a", "running"), ("b", "running")], &[("a", "b")]);
        let desired = graph(
            &[("a", "running"), ("b", "succeeded"), ("c", "pending")],
            &[("a", "b"), ("b", "c")],
        );
        let d = diff(&desired, &acked);
        let ids: Vec<&str> = d.upsert_nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(d.upsert_rels, vec![fts("b", "c")]);
        assert!(d.delete_nodes.is_empty() && d.delete_rels.is_empty());
        assert_eq!(d.len(), 3);
        assert!(diff(&desired, &desired).is_empty());
    }

    #[test]
    fn edge_condition_or_lag_change_is_an_upsert() {
        let acked = graph(&[], &[("a", "b")]);
        let mut desired = acked.clone();
        desired.edges.values_mut().for_each(|e| e.lag = 5);
        assert_eq!(diff(&desired, &acked).upsert_rels.len(), 1);
    }

    #[test]
    fn removed_dependency_is_one_delete_rels_acceptance_14() {
        let acked = graph(
            &[("a", "x"), ("b", "x"), ("c", "x")],
            &[("a", "c"), ("b", "c")],
        );
        let desired = graph(&[("a", "x"), ("b", "x"), ("c", "x")], &[("a", "c")]);
        let msgs = diff(&desired, &acked).into_messages(MAX_ENVELOPE_BYTES);
        assert_eq!(
            msgs,
            vec![FlowMessage::DeleteRels {
                pairs: vec![fts("b", "c").pair()]
            }]
        );
    }

    #[test]
    fn deleted_node_sends_no_delete_rels_for_its_edges_acceptance_15() {
        let acked = graph(
            &[("a", "x"), ("b", "x"), ("c", "x")],
            &[("a", "b"), ("b", "c"), ("a", "c")],
        );
        let desired = graph(&[("a", "x"), ("c", "x")], &[("a", "c")]);
        let msgs = diff(&desired, &acked).into_messages(MAX_ENVELOPE_BYTES);
        assert_eq!(
            msgs,
            vec![FlowMessage::DeleteNodes {
                ids: vec!["b".into()]
            }]
        );
    }

    #[test]
    fn order_is_upsert_nodes_rels_then_deletes() {
        let acked = graph(&[("old", "x"), ("a", "x")], &[("a", "z")]);
        let desired = graph(&[("a", "y"), ("new", "x")], &[("a", "new")]);
        let kinds: Vec<_> = diff(&desired, &acked)
            .into_messages(MAX_ENVELOPE_BYTES)
            .iter()
            .map(|m| m.message_type().as_str())
            .collect();
        assert_eq!(
            kinds,
            ["upsert-nodes", "upsert-rels", "delete-rels", "delete-nodes"]
        );
    }

    #[test]
    fn ack_mirrors_server_pruning() {
        let mut acked = graph(&[("a", "x"), ("b", "x")], &[("a", "b"), ("x", "y")]);
        acked.apply(&FlowMessage::DeleteNodes {
            ids: vec!["b".into()],
        });
        assert_eq!(acked.nodes.len(), 1);
        assert_eq!(acked.edges.len(), 1);
        // A still-desired edge to the deleted node is re-sent next time.
        let desired = graph(&[("a", "x")], &[("a", "b"), ("x", "y")]);
        assert_eq!(diff(&desired, &acked).upsert_rels, vec![fts("a", "b")]);
        acked.apply(&FlowMessage::DeleteRels {
            pairs: vec![fts("x", "y").pair()],
        });
        assert!(acked.edges.is_empty());
    }

    #[test]
    fn chunking_respects_the_512_kib_boundary() {
        let mut desired = Graph::new();
        for i in 0..3000 {
            let mut n = node(&format!("fsn1:bp-node-{i:05}"), "running");
            n.meta
                .insert("message".into(), serde_json::Value::String("m".repeat(400)));
            desired.insert_node(n);
        }
        let msgs = diff(&desired, &Graph::new()).into_messages(MAX_ENVELOPE_BYTES);
        assert!(msgs.len() >= 3);
        let mut total = 0;
        for m in &msgs {
            let len = m.to_canonical_json().len();
            assert!(len <= MAX_ENVELOPE_BYTES, "{len}");
            let FlowMessage::UpsertNodes { nodes } = m else {
                panic!()
            };
            total += nodes.len();
        }
        assert_eq!(total, 3000);
        // every chunk but the last is full: adding its successor would overflow
        let FlowMessage::UpsertNodes { nodes: second } = &msgs[1] else {
            panic!()
        };
        let first_len = msgs[0].to_canonical_json().len();
        let next_len = canonical::to_vec(&second[0]).len();
        assert!(first_len + 1 + next_len > MAX_ENVELOPE_BYTES);
    }

    #[test]
    fn chunking_exact_limit_and_oversized_items() {
        let items: Vec<String> = (0..10).map(|i| format!("id-{i}")).collect();
        let full = FlowMessage::DeleteNodes { ids: items.clone() }
            .to_canonical_json()
            .len();
        let exact = Diff {
            delete_nodes: items.clone(),
            ..Diff::default()
        }
        .into_messages(full);
        assert_eq!(exact.len(), 1);
        let split = Diff {
            delete_nodes: items.clone(),
            ..Diff::default()
        }
        .into_messages(full - 1);
        assert_eq!(split.len(), 2);
        let tiny = Diff {
            delete_nodes: items,
            ..Diff::default()
        }
        .into_messages(1);
        assert_eq!(tiny.len(), 10);
        assert!(Diff::default().into_messages(MAX_ENVELOPE_BYTES).is_empty());
    }

    #[test]
    fn owned_ids() {
        assert!(is_owned_id("fsn1:bp-gone", "fsn1"));
        assert!(is_owned_id("fsn1:apps/web", "fsn1"));
        assert!(is_owned_id("fsn1:a.b-c", "fsn1"));
        for id in [
            "fsn1:sandbox:x",
            "fsn1",
            "fsn1:",
            "hel1:bp-x",
            "fsn1:Bad",
            "fsn1:a/b/c",
            "fsn1:-x",
            "fsn12:x",
            "fsn1:a.b/c",
        ] {
            assert!(!is_owned_id(id, "fsn1"), "{id}");
        }
    }

    #[test]
    fn prune_selects_owned_undesired_items_acceptance_21() {
        let mut gone = node("fsn1:bp-gone", "succeeded");
        gone.flow_id = "f".into();
        let keep = node("fsn1:bp-keep", "succeeded");
        let sandbox = node("fsn1:sandbox:x", "running");
        let mut other_region = node("hel1:bp-gone", "running");
        other_region.region = Some("hel1".into());
        let mut other_flow = node("fsn1:bp-y", "running");
        other_flow.flow_id = "g".into();
        let rels = vec![
            fts("fsn1:bp-keep", "fsn1:bp-gone"),
            fts("fsn1:bp-gone", "hel1:x"),
            Relationship::new("fsn1:bp-gone", "fsn1", RelationshipType::Contains),
            Relationship::new("fsn1:sandbox:x", "fsn1", RelationshipType::Contains),
            Relationship::new("fsn1:bp-keep", "fsn1", RelationshipType::Contains),
        ];
        let mut desired = Graph::new();
        desired.insert_node(keep.clone());
        desired.insert_edge(Relationship::new(
            "fsn1:bp-keep",
            "fsn1",
            RelationshipType::Contains,
        ));
        let g = undesired_owned(
            &[gone, keep, sandbox, other_region, other_flow],
            &rels,
            &desired,
            "f",
            "fsn1",
        );
        assert_eq!(g.nodes.keys().collect::<Vec<_>>(), ["fsn1:bp-gone"]);
        let pairs: Vec<_> = g
            .edges
            .keys()
            .map(|p| (p.from_id.as_str(), p.to_id.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("fsn1:bp-gone", "fsn1"), ("fsn1:bp-keep", "fsn1:bp-gone")]
        );
        // Seeded as acknowledged, the diff deletes the node only.
        let msgs = diff(&desired, &g).into_messages(MAX_ENVELOPE_BYTES);
        assert_eq!(
            msgs.last(),
            Some(&FlowMessage::DeleteNodes {
                ids: vec!["fsn1:bp-gone".into()]
            })
        );
    }
}

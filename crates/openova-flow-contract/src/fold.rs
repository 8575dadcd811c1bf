//! The materialised flow state and the fold (contract.md §7).
//!
//! One [`FlowState`] per flow incarnation: the optional flow object, nodes by
//! `(flowId, id)`, relationships by `(fromId, toId, type)`. Every accepted
//! message is applied whole or not at all. Snapshots read this state (never a
//! replay), so nothing is lost to ring eviction.
//!
//! Messages must be stamped ([`FlowMessage::stamp_flow_id`]) before they are
//! applied; a node with an empty `flowId` is kept under `""`.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::message::{
    FlowInstance, FlowMessage, FlowNode, RelPair, Relationship, RelationshipType,
};

/// Size caps applied by [`FlowState::check`] (server.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimits {
    pub max_nodes: usize,
    pub max_relationships: usize,
}

impl FlowLimits {
    /// No caps: for clients folding a stream.
    pub const UNLIMITED: FlowLimits = FlowLimits {
        max_nodes: usize::MAX,
        max_relationships: usize::MAX,
    };

    /// The server's rule: relationships are capped at 4× the node cap.
    pub fn from_max_nodes(max_nodes: usize) -> Self {
        FlowLimits {
            max_nodes,
            max_relationships: max_nodes.saturating_mul(4),
        }
    }
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits::from_max_nodes(50_000)
    }
}

/// Why a message could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FoldError {
    /// The message would take the flow past a node or relationship cap (413).
    #[error("flow too large")]
    FlowTooLarge,
}

type NodeKey = (String, String); // (flowId, id)
type RelKey = (String, String, RelationshipType); // (fromId, toId, type)

/// The materialised state of one flow incarnation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowState {
    flow: Option<FlowInstance>,
    nodes: BTreeMap<NodeKey, FlowNode>,
    /// `(id, flowId)` for every node: delete-nodes removes an id under any flowId.
    node_ids: BTreeSet<(String, String)>,
    rels: BTreeMap<RelKey, Relationship>,
    /// `(toId, fromId, type)` for every relationship: pruning by target id.
    rels_by_to: BTreeSet<(String, String, RelationshipType)>,
}

impl FlowState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The posted flow object, if any was posted in this incarnation.
    pub fn flow(&self) -> Option<&FlowInstance> {
        self.flow.as_ref()
    }

    /// Nodes ascending by `(flowId, id)`.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &FlowNode> {
        self.nodes.values()
    }

    /// Relationships ascending by `(fromId, toId, type)`.
    pub fn relationships(&self) -> impl ExactSizeIterator<Item = &Relationship> {
        self.rels.values()
    }

    pub fn node(&self, flow_id: &str, id: &str) -> Option<&FlowNode> {
        self.nodes.get(&(flow_id.to_owned(), id.to_owned()))
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn relationship_count(&self) -> usize {
        self.rels.len()
    }

    /// Checks the caps without changing anything. A message that grows a count
    /// past its cap is refused; one that keeps or shrinks it never is.
    pub fn check(&self, msg: &FlowMessage, limits: &FlowLimits) -> Result<(), FoldError> {
        let (nodes_after, rels_after) = match msg {
            FlowMessage::Snapshot {
                nodes,
                relationships,
                ..
            } => (
                nodes.iter().map(node_key).collect::<BTreeSet<_>>().len(),
                relationships
                    .iter()
                    .map(rel_key)
                    .collect::<BTreeSet<_>>()
                    .len(),
            ),
            FlowMessage::UpsertNodes { nodes } => {
                let new: BTreeSet<_> = nodes
                    .iter()
                    .map(node_key)
                    .filter(|k| !self.nodes.contains_key(k))
                    .collect();
                (self.nodes.len() + new.len(), self.rels.len())
            }
            FlowMessage::UpsertRels { relationships } => {
                let new: BTreeSet<_> = relationships
                    .iter()
                    .map(rel_key)
                    .filter(|k| !self.rels.contains_key(k))
                    .collect();
                (self.nodes.len(), self.rels.len() + new.len())
            }
            FlowMessage::UpsertFlow { .. }
            | FlowMessage::DeleteNodes { .. }
            | FlowMessage::DeleteRels { .. } => {
                return Ok(());
            }
        };
        let grows_past = |after: usize, now: usize, cap: usize| after > cap && after > now;
        if grows_past(nodes_after, self.nodes.len(), limits.max_nodes)
            || grows_past(rels_after, self.rels.len(), limits.max_relationships)
        {
            return Err(FoldError::FlowTooLarge);
        }
        Ok(())
    }

    /// Checks the caps, then applies the message (all or nothing).
    pub fn apply(&mut self, msg: FlowMessage, limits: &FlowLimits) -> Result<(), FoldError> {
        self.check(&msg, limits)?;
        self.apply_unchecked(msg);
        Ok(())
    }

    /// Applies a message whose caps were already checked (§7.2).
    pub fn apply_unchecked(&mut self, msg: FlowMessage) {
        match msg {
            FlowMessage::Snapshot {
                flow,
                nodes,
                relationships,
            } => {
                *self = FlowState {
                    flow: Some(flow),
                    ..FlowState::default()
                };
                nodes.into_iter().for_each(|n| self.put_node(n));
                relationships.into_iter().for_each(|r| self.put_rel(r));
            }
            FlowMessage::UpsertFlow { flow } => self.flow = Some(flow),
            FlowMessage::UpsertNodes { nodes } => nodes.into_iter().for_each(|n| self.put_node(n)),
            FlowMessage::UpsertRels { relationships } => {
                relationships.into_iter().for_each(|r| self.put_rel(r))
            }
            FlowMessage::DeleteNodes { ids } => ids.iter().for_each(|id| self.delete_node_id(id)),
            FlowMessage::DeleteRels { pairs } => pairs.iter().for_each(|p| self.delete_rel(p)),
        }
    }

    fn put_node(&mut self, node: FlowNode) {
        let key = node_key(&node);
        self.node_ids.insert((key.1.clone(), key.0.clone()));
        self.nodes.insert(key, node);
    }

    fn put_rel(&mut self, rel: Relationship) {
        let key = rel_key(&rel);
        self.rels_by_to
            .insert((key.1.clone(), key.0.clone(), key.2));
        self.rels.insert(key, rel);
    }

    fn delete_node_id(&mut self, id: &str) {
        let flow_ids: Vec<String> = range_with_first(&self.node_ids, id)
            .map(|(_, f)| f.clone())
            .collect();
        for flow_id in flow_ids {
            self.node_ids.remove(&(id.to_owned(), flow_id.clone()));
            self.nodes.remove(&(flow_id, id.to_owned()));
        }
        // Edges from `id`: a prefix range of the primary map.
        let from: Vec<RelKey> = self
            .rels
            .range((id.to_owned(), String::new(), RelationshipType::Contains)..)
            .take_while(|(k, _)| k.0 == id)
            .map(|(k, _)| k.clone())
            .collect();
        for key in from {
            self.rels_by_to
                .remove(&(key.1.clone(), key.0.clone(), key.2));
            self.rels.remove(&key);
        }
        // Edges to `id`: a prefix range of the reverse index.
        let to: Vec<(String, String, RelationshipType)> = self
            .rels_by_to
            .range((id.to_owned(), String::new(), RelationshipType::Contains)..)
            .take_while(|k| k.0 == id)
            .cloned()
            .collect();
        for (to_id, from_id, t) in to {
            self.rels.remove(&(from_id.clone(), to_id.clone(), t));
            self.rels_by_to.remove(&(to_id, from_id, t));
        }
    }

    fn delete_rel(&mut self, pair: &RelPair) {
        let key = (pair.from_id.clone(), pair.to_id.clone(), pair.rel_type);
        if self.rels.remove(&key).is_some() {
            self.rels_by_to.remove(&(key.1, key.0, key.2));
        }
    }

    /// The server-generated snapshot of this state (§6.3), ready to serialise
    /// canonically without cloning the state.
    pub fn snapshot<'a>(&'a self, url_flow_id: &'a str) -> SnapshotView<'a> {
        SnapshotView {
            state: self,
            url_flow_id,
        }
    }

    /// The state as an owned `snapshot` message (flow synthesised if none).
    pub fn to_message(&self, url_flow_id: &str) -> FlowMessage {
        FlowMessage::Snapshot {
            flow: self
                .flow
                .clone()
                .unwrap_or_else(|| FlowInstance::synthesised(url_flow_id)),
            nodes: self.nodes.values().cloned().collect(),
            relationships: self.rels.values().cloned().collect(),
        }
    }
}

fn node_key(n: &FlowNode) -> NodeKey {
    (n.flow_id.clone(), n.id.clone())
}

fn rel_key(r: &Relationship) -> RelKey {
    (r.from_id.clone(), r.to_id.clone(), r.rel_type)
}

fn range_with_first<'a>(
    set: &'a BTreeSet<(String, String)>,
    first: &'a str,
) -> impl Iterator<Item = &'a (String, String)> {
    set.range((first.to_owned(), String::new())..)
        .take_while(move |k| k.0 == first)
}

/// A borrowed server snapshot: `{"type":"snapshot","flow":…,"nodes":[…],"relationships":[…]}`.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotView<'a> {
    state: &'a FlowState,
    url_flow_id: &'a str,
}

impl SnapshotView<'_> {
    /// Canonical JSON bytes (no trailing newline).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        crate::canonical::to_vec(self)
    }
}

impl Serialize for SnapshotView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Seq<I>(std::cell::Cell<Option<I>>);
        impl<'b, T: Serialize + 'b, I: Iterator<Item = &'b T>> Serialize for Seq<I> {
            fn serialize<S2: Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
                s.collect_seq(self.0.take().into_iter().flatten())
            }
        }
        let synthesised;
        let flow = match &self.state.flow {
            Some(f) => f,
            None => {
                synthesised = FlowInstance::synthesised(self.url_flow_id);
                &synthesised
            }
        };
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("type", "snapshot")?;
        m.serialize_entry("flow", flow)?;
        m.serialize_entry(
            "nodes",
            &Seq(std::cell::Cell::new(Some(self.state.nodes.values()))),
        )?;
        m.serialize_entry(
            "relationships",
            &Seq(std::cell::Cell::new(Some(self.state.rels.values()))),
        )?;
        m.end()
    }
}

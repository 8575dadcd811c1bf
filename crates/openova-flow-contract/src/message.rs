//! The FlowMessage variants and their objects (contract.md §1–§4).
//!
//! These are the *validated* shapes: every enumeration is a Rust enum, every
//! "absent means empty" rule is already applied. A foreign key (e.g. `ids` on
//! an `upsert-nodes`) has no place to live here, which is how it is dropped.

use std::collections::BTreeMap;
use std::fmt;

/// `meta`: an opaque JSON object. Keys are kept sorted bytewise, which is also
/// the canonical output order (§6.1).
pub type Meta = BTreeMap<String, serde_json::Value>;

/// The six message variants (§2).
#[derive(Debug, Clone, PartialEq)]
pub enum FlowMessage {
    /// Replace the whole flow state.
    Snapshot {
        flow: FlowInstance,
        nodes: Vec<FlowNode>,
        relationships: Vec<Relationship>,
    },
    /// Replace the flow object.
    UpsertFlow { flow: FlowInstance },
    /// Insert or replace nodes by node key.
    UpsertNodes { nodes: Vec<FlowNode> },
    /// Insert or replace relationships by relationship key.
    UpsertRels { relationships: Vec<Relationship> },
    /// Remove nodes by id (any flowId) and every relationship touching them.
    DeleteNodes { ids: Vec<String> },
    /// Remove relationships by key.
    DeleteRels { pairs: Vec<RelPair> },
}

/// The discriminator of a [`FlowMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageType {
    Snapshot,
    UpsertFlow,
    UpsertNodes,
    UpsertRels,
    DeleteNodes,
    DeleteRels,
}

impl MessageType {
    /// Every variant, in the order of contract.md §2.
    pub const ALL: [MessageType; 6] = [
        MessageType::Snapshot,
        MessageType::UpsertFlow,
        MessageType::UpsertNodes,
        MessageType::UpsertRels,
        MessageType::DeleteNodes,
        MessageType::DeleteRels,
    ];

    /// The wire name (`type` value and SSE `event:` name).
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageType::Snapshot => "snapshot",
            MessageType::UpsertFlow => "upsert-flow",
            MessageType::UpsertNodes => "upsert-nodes",
            MessageType::UpsertRels => "upsert-rels",
            MessageType::DeleteNodes => "delete-nodes",
            MessageType::DeleteRels => "delete-rels",
        }
    }

    /// Parses a wire name; `None` for anything else (including `""`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FlowMessage {
    /// The variant's discriminator.
    pub fn message_type(&self) -> MessageType {
        match self {
            FlowMessage::Snapshot { .. } => MessageType::Snapshot,
            FlowMessage::UpsertFlow { .. } => MessageType::UpsertFlow,
            FlowMessage::UpsertNodes { .. } => MessageType::UpsertNodes,
            FlowMessage::UpsertRels { .. } => MessageType::UpsertRels,
            FlowMessage::DeleteNodes { .. } => MessageType::DeleteNodes,
            FlowMessage::DeleteRels { .. } => MessageType::DeleteRels,
        }
    }

    /// Stamps every node whose `flowId` is empty with the URL flowId (§7.1).
    /// The server calls this before the event is sequenced, stored and
    /// broadcast, so frames, the fold and snapshots all carry the stamp.
    pub fn stamp_flow_id(&mut self, url_flow_id: &str) {
        if let FlowMessage::Snapshot { nodes, .. } | FlowMessage::UpsertNodes { nodes } = self {
            for node in nodes.iter_mut().filter(|n| n.flow_id.is_empty()) {
                node.flow_id = url_flow_id.to_owned();
            }
        }
    }
}

/// One runtime flow (§3.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowInstance {
    pub id: String,
    pub definition_id: Option<String>,
    pub parent_flow_id: Option<String>,
    /// Emitted only when non-empty; absent and `[]` are the same value.
    pub triggered_by: Vec<Triggerer>,
    /// Open vocabulary; `""` when absent.
    pub status: String,
    /// Unix ms; `0` when absent.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub meta: Meta,
}

impl FlowInstance {
    /// The flow object a server synthesises for an incarnation that never
    /// received one (§6.3).
    pub fn synthesised(url_flow_id: &str) -> Self {
        FlowInstance {
            id: url_flow_id.to_owned(),
            status: "open".to_owned(),
            ..FlowInstance::default()
        }
    }
}

/// A soft reference to a flow that triggered this one (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggerer {
    pub flow_id: String,
    pub when: TriggerWhen,
}

/// `Triggerer.when` (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TriggerWhen {
    Success,
    Failure,
    Always,
}

impl TriggerWhen {
    pub const ALL: [TriggerWhen; 3] = [
        TriggerWhen::Success,
        TriggerWhen::Failure,
        TriggerWhen::Always,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TriggerWhen::Success => "success",
            TriggerWhen::Failure => "failure",
            TriggerWhen::Always => "always",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A node; its key is `(flow_id, id)` (§3.3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowNode {
    pub id: String,
    /// Empty until stamped with the URL flowId (§7.1).
    pub flow_id: String,
    pub label: String,
    pub status: String,
    pub family: Option<String>,
    pub region: Option<String>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub meta: Meta,
}

/// An edge; its key is `(from_id, to_id, rel_type)` (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relationship {
    pub from_id: String,
    pub to_id: String,
    pub from_flow_id: Option<String>,
    pub to_flow_id: Option<String>,
    pub rel_type: RelationshipType,
    /// `None` for absent or `""`.
    pub condition: Option<Condition>,
    /// Seconds, `>= 0`; emitted when non-zero.
    pub lag: i64,
}

impl Relationship {
    /// A same-flow edge with no condition and no lag.
    pub fn new(
        from_id: impl Into<String>,
        to_id: impl Into<String>,
        rel_type: RelationshipType,
    ) -> Self {
        Relationship {
            from_id: from_id.into(),
            to_id: to_id.into(),
            from_flow_id: None,
            to_flow_id: None,
            rel_type,
            condition: None,
            lag: 0,
        }
    }

    /// This relationship's key as a `delete-rels` pair.
    pub fn pair(&self) -> RelPair {
        RelPair {
            from_id: self.from_id.clone(),
            to_id: self.to_id.clone(),
            rel_type: self.rel_type,
        }
    }
}

/// The key of a relationship, as carried by `delete-rels` (§3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPair {
    pub from_id: String,
    pub to_id: String,
    pub rel_type: RelationshipType,
}

/// The six relationship types (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationshipType {
    Contains,
    FinishToStart,
    StartToStart,
    FinishToFinish,
    StartToFinish,
    Triggers,
}

impl RelationshipType {
    pub const ALL: [RelationshipType; 6] = [
        RelationshipType::Contains,
        RelationshipType::FinishToStart,
        RelationshipType::StartToStart,
        RelationshipType::FinishToFinish,
        RelationshipType::StartToFinish,
        RelationshipType::Triggers,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RelationshipType::Contains => "contains",
            RelationshipType::FinishToStart => "finish-to-start",
            RelationshipType::StartToStart => "start-to-start",
            RelationshipType::FinishToFinish => "finish-to-finish",
            RelationshipType::StartToFinish => "start-to-finish",
            RelationshipType::Triggers => "triggers",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// `true` for the four PMI dependency kinds (temporal edges that count
    /// for depth); `false` for `contains` (grouping) and `triggers`.
    pub const fn is_temporal(self) -> bool {
        !matches!(
            self,
            RelationshipType::Contains | RelationshipType::Triggers
        )
    }
}

/// Ordered bytewise by wire name, which is the snapshot order (§6.3).
impl Ord for RelationshipType {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for RelationshipType {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RelationshipType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Relationship.condition` (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    OnSuccess,
    OnFailure,
    Always,
}

impl Condition {
    pub const ALL: [Condition; 3] = [
        Condition::OnSuccess,
        Condition::OnFailure,
        Condition::Always,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Condition::OnSuccess => "on-success",
            Condition::OnFailure => "on-failure",
            Condition::Always => "always",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip() {
        for t in MessageType::ALL {
            assert_eq!(MessageType::parse(t.as_str()), Some(t));
        }
        for t in RelationshipType::ALL {
            assert_eq!(RelationshipType::parse(t.as_str()), Some(t));
        }
        for c in Condition::ALL {
            assert_eq!(Condition::parse(c.as_str()), Some(c));
        }
        for w in TriggerWhen::ALL {
            assert_eq!(TriggerWhen::parse(w.as_str()), Some(w));
        }
        assert_eq!(MessageType::parse(""), None);
        assert_eq!(RelationshipType::parse("Contains"), None);
        assert_eq!(Condition::parse(""), None);
        assert_eq!(TriggerWhen::parse("maybe"), None);
    }

    #[test]
    fn relationship_type_orders_bytewise_by_name() {
        let mut all = RelationshipType::ALL.to_vec();
        all.sort();
        let names: Vec<_> = all.iter().map(|t| t.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn stamping_fills_only_empty_flow_ids() {
        let mut m = FlowMessage::UpsertNodes {
            nodes: vec![
                FlowNode {
                    id: "a".into(),
                    ..Default::default()
                },
                FlowNode {
                    id: "b".into(),
                    flow_id: "other".into(),
                    ..Default::default()
                },
            ],
        };
        m.stamp_flow_id("f1");
        let FlowMessage::UpsertNodes { nodes } = m else {
            unreachable!()
        };
        assert_eq!(nodes[0].flow_id, "f1");
        assert_eq!(nodes[1].flow_id, "other");
    }
}

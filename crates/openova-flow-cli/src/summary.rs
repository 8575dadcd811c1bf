//! From a folded [`FlowState`] to what the terminal shows: per-region counts
//! and the nodes worth listing. The same rules as the page (docs/ui.md):
//! regions are the top-level group nodes (`meta.isGroup` or the target of a
//! `contains` edge) or the nodes' `region` field; statuses other than the
//! four canonical ones count as pending.

use std::collections::{BTreeMap, BTreeSet};

use openova_flow_contract::{FlowNode, FlowState, RelationshipType};

/// The four statuses drawn; anything else is [`Status::Pending`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    pub fn from_wire(s: &str) -> Status {
        match s {
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

/// Node counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub pending: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        self.total += 1;
        match s {
            Status::Pending => self.pending += 1,
            Status::Running => self.running += 1,
            Status::Succeeded => self.succeeded += 1,
            Status::Failed => self.failed += 1,
        }
    }

    /// Succeeded share in whole percent (0 when empty), rounded down.
    pub fn percent(&self) -> usize {
        (self.succeeded * 100).checked_div(self.total).unwrap_or(0)
    }

    /// Nothing pending or running, and at least one node.
    pub fn done(&self) -> bool {
        self.total > 0 && self.pending == 0 && self.running == 0
    }
}

/// One region (lane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionSummary {
    /// Region key; `""` for nodes without one.
    pub id: String,
    pub label: String,
    pub counts: Counts,
}

/// One drawable (non-group) node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub label: String,
    pub region: String,
    pub status: Status,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub started_at: Option<i64>,
}

/// What the terminal view needs from a flow state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub flow_status: String,
    pub regions: Vec<RegionSummary>,
    pub overall: Counts,
    /// Non-group nodes by id, in id order.
    pub nodes: BTreeMap<String, NodeInfo>,
}

fn meta_str(n: &FlowNode, key: &str) -> Option<String> {
    n.meta.get(key).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Summarises `state` as seen on the page for `flow_id`.
pub fn summarise(state: &FlowState, flow_id: &str) -> Summary {
    // id -> node; the node under the page's flowId wins over cross-flow ones.
    let mut by_id: BTreeMap<&str, &FlowNode> = BTreeMap::new();
    for n in state.nodes() {
        if n.flow_id == flow_id || !by_id.contains_key(n.id.as_str()) {
            by_id.insert(&n.id, n);
        }
    }
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut containers: BTreeSet<&str> = BTreeSet::new();
    for r in state.relationships() {
        if r.rel_type == RelationshipType::Contains && by_id.contains_key(r.to_id.as_str()) {
            containers.insert(&r.to_id);
            parent.entry(&r.from_id).or_insert(&r.to_id);
        }
    }
    let top_group = |id: &str| -> Option<&str> {
        let mut cur = id;
        let mut top = None;
        let mut seen = BTreeSet::new();
        while let Some(p) = parent.get(cur) {
            if !seen.insert(cur) {
                break;
            }
            cur = p;
            top = Some(*p);
        }
        top
    };
    let lane_of_group = |g: &FlowNode| g.region.clone().unwrap_or_else(|| g.id.clone());

    let mut regions: BTreeMap<String, RegionSummary> = BTreeMap::new();
    let lane = |id: String, label: Option<&str>, regions: &mut BTreeMap<String, RegionSummary>| {
        let r = regions.entry(id.clone()).or_insert_with(|| RegionSummary {
            label: if id.is_empty() {
                "(no region)".into()
            } else {
                id.clone()
            },
            id,
            counts: Counts::default(),
        });
        if let Some(l) = label.filter(|l| !l.is_empty()) {
            r.label = l.to_owned();
        }
    };
    let mut summary = Summary {
        flow_status: state.flow().map(|f| f.status.clone()).unwrap_or_default(),
        ..Summary::default()
    };
    for (&id, &n) in &by_id {
        let is_group = n.meta.get("isGroup") == Some(&serde_json::Value::Bool(true))
            || containers.contains(id);
        let top = top_group(id).and_then(|t| by_id.get(t).copied());
        let region = match (is_group, top) {
            (true, None) => {
                lane(lane_of_group(n), Some(&n.label), &mut regions);
                continue;
            }
            (_, Some(g)) => {
                let r = lane_of_group(g);
                lane(r.clone(), Some(&g.label), &mut regions);
                r
            }
            (false, None) => {
                let r = n.region.clone().unwrap_or_default();
                lane(r.clone(), None, &mut regions);
                r
            }
        };
        let status = Status::from_wire(&n.status);
        if let Some(r) = regions.get_mut(&region) {
            r.counts.add(status);
        }
        summary.overall.add(status);
        summary.nodes.insert(
            id.to_owned(),
            NodeInfo {
                id: id.to_owned(),
                label: if n.label.is_empty() {
                    id.to_owned()
                } else {
                    n.label.clone()
                },
                region,
                status,
                reason: meta_str(n, "reason"),
                message: meta_str(n, "message"),
                started_at: n.started_at,
            },
        );
    }
    let mut list: Vec<RegionSummary> = regions.into_values().collect();
    list.sort_by(|a, b| {
        (a.id.is_empty(), &a.label, &a.id).cmp(&(b.id.is_empty(), &b.label, &b.id))
    });
    summary.regions = list;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use openova_flow_contract::{FlowLimits, decode_message};

    pub(crate) fn fold(msgs: &[&str]) -> FlowState {
        let mut s = FlowState::new();
        for m in msgs {
            let mut msg = decode_message(m.as_bytes()).unwrap();
            msg.stamp_flow_id("dep");
            s.apply(msg, &FlowLimits::UNLIMITED).unwrap();
        }
        s
    }

    #[test]
    fn regions_from_group_nodes_and_contains_edges() {
        let s = fold(&[
            r#"{"type":"upsert-nodes","nodes":[
              {"id":"fsn1","label":"fsn1","status":"running","region":"fsn1","meta":{"isGroup":true}},
              {"id":"fsn1:a","label":"a","status":"succeeded","region":"fsn1"},
              {"id":"fsn1:b","label":"b","status":"failed","region":"fsn1","meta":{"reason":"InstallFailed","message":"boom"}},
              {"id":"hel1:a","label":"a","status":"weird","region":"hel1"},
              {"id":"loose","label":"loose","status":"running"}]}"#,
            r#"{"type":"upsert-rels","relationships":[
              {"fromId":"fsn1:a","toId":"fsn1","type":"contains"},
              {"fromId":"fsn1:b","toId":"fsn1","type":"contains"},
              {"fromId":"fsn1:a","toId":"fsn1:b","type":"finish-to-start"}]}"#,
        ]);
        let sum = summarise(&s, "dep");
        let ids: Vec<_> = sum.regions.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["fsn1", "hel1", ""]);
        assert_eq!(
            sum.regions[0].counts,
            Counts {
                total: 2,
                pending: 0,
                running: 0,
                succeeded: 1,
                failed: 1
            }
        );
        assert_eq!(
            sum.regions[1].counts.pending, 1,
            "unknown status counts as pending"
        );
        assert_eq!(sum.regions[2].label, "(no region)");
        assert_eq!(sum.overall.total, 4);
        assert!(
            !sum.nodes.contains_key("fsn1"),
            "group nodes are lanes, not nodes"
        );
        let b = &sum.nodes["fsn1:b"];
        assert_eq!(
            (b.status, b.reason.as_deref(), b.message.as_deref()),
            (Status::Failed, Some("InstallFailed"), Some("boom"))
        );
    }

    #[test]
    fn counts_percent_and_done() {
        let mut c = Counts::default();
        assert_eq!(c.percent(), 0);
        assert!(!c.done());
        c.add(Status::Succeeded);
        c.add(Status::Failed);
        c.add(Status::Succeeded);
        assert_eq!(c.percent(), 66);
        assert!(c.done());
        c.add(Status::Running);
        assert!(!c.done());
    }

    #[test]
    fn contains_cycles_terminate() {
        let s = fold(&[
            r#"{"type":"upsert-nodes","nodes":[{"id":"a"},{"id":"b"}]}"#,
            r#"{"type":"upsert-rels","relationships":[{"fromId":"a","toId":"b","type":"contains"},{"fromId":"b","toId":"a","type":"contains"}]}"#,
        ]);
        assert_eq!(summarise(&s, "dep").overall.total, 2);
    }
}

//! The synthetic region node and its worst-of-children rollup (emitter.md §5).

use openova_flow_contract::{FlowNode, Meta};
use serde_json::Value;

use crate::mapper::{FAILED, PENDING, RUNNING, SUCCEEDED};

/// Worst child status: `failed` > `running` > `pending` > `succeeded`; any
/// other status counts as `running`; no children → `pending`.
pub fn rollup<'a>(children: impl IntoIterator<Item = &'a str>) -> &'static str {
    fn rank(status: &str) -> u8 {
        match status {
            SUCCEEDED => 0,
            PENDING => 1,
            FAILED => 3,
            _ => 2,
        }
    }
    let worst = children.into_iter().map(rank).max();
    match worst {
        None => PENDING,
        Some(0) => SUCCEEDED,
        Some(1) => PENDING,
        Some(2) => RUNNING,
        Some(_) => FAILED,
    }
}

/// The region's group node with the given rollup status.
pub fn region_node(region: &str, flow_id: &str, status: &str) -> FlowNode {
    let mut meta = Meta::new();
    meta.insert("isGroup".into(), Value::Bool(true));
    meta.insert("layout".into(), Value::String("lane-vertical".into()));
    FlowNode {
        id: region.to_owned(),
        flow_id: flow_id.to_owned(),
        label: region.to_owned(),
        status: status.to_owned(),
        family: Some("region".into()),
        region: Some(region.to_owned()),
        started_at: None,
        ended_at: None,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openova_flow_contract::canonical;

    #[test]
    fn rollup_table_section_5() {
        let cases: &[(&[&str], &str)] = &[
            (&[], PENDING),
            (&[SUCCEEDED, SUCCEEDED], SUCCEEDED),
            (&[SUCCEEDED, RUNNING], RUNNING),
            (&[FAILED, SUCCEEDED, RUNNING, PENDING], FAILED),
            (&[PENDING, FAILED], FAILED),
            (&[PENDING, SUCCEEDED], PENDING),
            (&[RUNNING, PENDING], RUNNING),
            (&[SUCCEEDED, "bogus"], RUNNING),
            (&["bogus", PENDING], RUNNING),
            (&[""], RUNNING),
        ];
        for (children, want) in cases {
            assert_eq!(rollup(children.iter().copied()), *want, "{children:?}");
        }
    }

    #[test]
    fn region_node_shape_matches_spec_example() {
        let n = region_node("fsn1", "dep-abc", RUNNING);
        assert_eq!(
            canonical::to_string(&n),
            r#"{"id":"fsn1","flowId":"dep-abc","label":"fsn1","status":"running","family":"region","region":"fsn1","meta":{"isGroup":true,"layout":"lane-vertical"}}"#
        );
    }
}

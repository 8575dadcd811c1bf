//! HelmRelease (+ its HelmChart) → FlowNode and edges (emitter.md §3–§5).
//!
//! Pure: no clock, no I/O. Timing (`startedAt`/`endedAt`) is added later by
//! [`crate::timing`], which needs the previous observation and a clock.

use std::collections::BTreeSet;

use openova_flow_contract::{Condition, FlowNode, Meta, Relationship, RelationshipType};
use serde_json::{Value, json};

use crate::model::{HelmChart, HelmRelease, KubeCondition, ready_condition, true_condition};
use crate::timing::parse_rfc3339_ms;

pub const PENDING: &str = "pending";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// The label that names a release's family.
pub const FAMILY_LABEL: &str = "catalyst.openova.io/family";
/// Longest `meta.message`, in Unicode scalar values.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// What every mapping of one emitter shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapContext {
    /// Already normalised with [`region_key`].
    pub region: String,
    pub flow_id: String,
    /// `true` when all namespaces are watched: ids outside `flux-system` carry
    /// their namespace.
    pub qualify: bool,
}

impl MapContext {
    pub fn new(region: &str, flow_id: &str, qualify: bool) -> Self {
        MapContext {
            region: region_key(region),
            flow_id: flow_id.to_owned(),
            qualify,
        }
    }

    /// `id(ns, name)` (§3).
    pub fn node_id(&self, namespace: &str, name: &str) -> String {
        if self.qualify && !namespace.is_empty() && namespace != "flux-system" {
            format!("{}:{namespace}/{name}", self.region)
        } else {
            format!("{}:{name}", self.region)
        }
    }
}

/// The region key, trimmed; `default` when empty (kept for the reference test).
pub fn region_key(region: &str) -> String {
    let r = region.trim();
    if r.is_empty() {
        "default".to_owned()
    } else {
        r.to_owned()
    }
}

/// One mapped HelmRelease.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The node, without `startedAt`/`endedAt`.
    pub node: FlowNode,
    /// `finish-to-start` edges from each HelmRelease dependency, deduplicated.
    pub depends_on: Vec<Relationship>,
    /// The node's `contains` edge to the region node.
    pub contains: Relationship,
    /// The Ready condition's `lastTransitionTime` in unix ms, when it parses.
    pub ready_transition_ms: Option<i64>,
}

impl Mapped {
    /// Every edge of this node: dependencies first, then `contains`.
    pub fn edges(&self) -> impl Iterator<Item = &Relationship> {
        self.depends_on
            .iter()
            .chain(std::iter::once(&self.contains))
    }
}

/// `true` for the Ready=False reasons that mean failure (§3 row 5).
pub fn is_failure_reason(reason: &str) -> bool {
    matches!(
        reason,
        "InstallFailed"
            | "UpgradeFailed"
            | "RetriesExhausted"
            | "ArtifactFailed"
            | "ChartPullFailed"
    ) || reason.ends_with("Failed")
}

/// The status decision of §3 (first matching row wins) and the condition the
/// reason/message come from.
pub fn decide_status<'a>(
    hr: &'a HelmRelease,
    chart: Option<&'a HelmChart>,
) -> (&'static str, Option<&'a KubeCondition>) {
    if let Some(chart_ready) = chart.and_then(|c| ready_condition(&c.conditions))
        && chart_ready.status == "False"
    {
        return (FAILED, Some(chart_ready));
    }
    if let Some(stalled) = true_condition(&hr.conditions, "Stalled") {
        return (FAILED, Some(stalled));
    }
    let current = match (hr.observed_generation, hr.generation) {
        (Some(observed), Some(generation)) => observed >= generation,
        _ => true,
    };
    match ready_condition(&hr.conditions) {
        Some(ready) if ready.status == "True" => {
            (if current { SUCCEEDED } else { RUNNING }, Some(ready))
        }
        Some(ready) if ready.status == "False" => {
            let reason = ready.reason.as_deref().unwrap_or("");
            if is_failure_reason(reason) {
                (FAILED, Some(ready))
            } else if reason == "DependencyNotReady" {
                (PENDING, Some(ready))
            } else {
                (RUNNING, Some(ready))
            }
        }
        Some(ready) => (RUNNING, Some(ready)),
        None => match true_condition(&hr.conditions, "Reconciling") {
            Some(reconciling) => (RUNNING, Some(reconciling)),
            None => (PENDING, None),
        },
    }
}

/// Cuts `message` to [`MAX_MESSAGE_CHARS`] scalar values, the last being `…`.
pub fn truncate_message(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let mut out: String = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    out.push('…');
    out
}

/// `family`: the trimmed family label, else the name with one leading `bp-`
/// removed; `None` if that is empty.
pub fn family(hr: &HelmRelease) -> Option<String> {
    if let Some(label) = hr.labels.get(FAMILY_LABEL).map(|l| l.trim())
        && !label.is_empty()
    {
        return Some(label.to_owned());
    }
    let base = hr.name.strip_prefix("bp-").unwrap_or(&hr.name);
    (!base.is_empty()).then(|| base.to_owned())
}

fn insert_str(meta: &mut Meta, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        meta.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

/// Maps one HelmRelease; `None` for an object without a name.
pub fn map_release(
    hr: &HelmRelease,
    chart: Option<&HelmChart>,
    ctx: &MapContext,
) -> Option<Mapped> {
    if hr.name.is_empty() {
        return None;
    }
    let id = ctx.node_id(&hr.namespace, &hr.name);
    let (status, deciding) = decide_status(hr, chart);

    let mut meta = Meta::new();
    insert_str(&mut meta, "namespace", Some(&hr.namespace));
    let chart_ref_text = hr
        .chart_ref
        .as_ref()
        .and_then(|r| match (&r.kind, &r.name) {
            (Some(kind), Some(name)) => Some(format!("{kind}/{name}")),
            _ => None,
        });
    let chart_name = chart
        .and_then(|c| c.chart.as_deref())
        .or(hr.history_chart_name.as_deref())
        .or(hr.chart_name.as_deref())
        .or(chart_ref_text.as_deref());
    insert_str(&mut meta, "chart", chart_name);
    let artifact_version = chart
        .and_then(|c| c.artifact_revision.as_deref())
        .map(|r| r.split('@').next().unwrap_or(r))
        .filter(|v| !v.is_empty());
    let chart_version = artifact_version
        .or(hr.history_chart_version.as_deref())
        .or(hr.chart_version.as_deref());
    insert_str(&mut meta, "chartVersion", chart_version);
    if let Some(cond) = deciding {
        insert_str(&mut meta, "reason", cond.reason.as_deref());
        if let Some(m) = cond.message.as_deref().filter(|m| !m.is_empty()) {
            meta.insert("message".into(), Value::String(truncate_message(m)));
        }
    }
    if let Some(g) = hr.observed_generation {
        meta.insert("observedGeneration".into(), json!(g));
    }
    if hr.suspend {
        meta.insert("suspended".into(), Value::Bool(true));
    }

    let mut deps = BTreeSet::new();
    let mut external = BTreeSet::new();
    for d in &hr.depends_on {
        match d.kind.as_deref() {
            None | Some("HelmRelease") => {
                let ns = d.namespace.as_deref().unwrap_or(&hr.namespace);
                deps.insert(ctx.node_id(ns, &d.name));
            }
            Some(kind) => {
                external.insert((
                    kind.to_owned(),
                    d.namespace.clone().unwrap_or_default(),
                    d.name.clone(),
                    d.api_version.clone(),
                ));
            }
        }
    }
    if !external.is_empty() {
        let list: Vec<Value> = external
            .into_iter()
            .map(|(kind, ns, name, api_version)| {
                let mut o = serde_json::Map::new();
                if let Some(av) = api_version {
                    o.insert("apiVersion".into(), Value::String(av));
                }
                o.insert("kind".into(), Value::String(kind));
                o.insert("name".into(), Value::String(name));
                if !ns.is_empty() {
                    o.insert("namespace".into(), Value::String(ns));
                }
                Value::Object(o)
            })
            .collect();
        meta.insert("externalDeps".into(), Value::Array(list));
    }
    let depends_on = deps
        .into_iter()
        .map(|from| {
            let mut r = Relationship::new(from, id.clone(), RelationshipType::FinishToStart);
            r.condition = Some(Condition::OnSuccess);
            r
        })
        .collect();
    let mut contains =
        Relationship::new(id.clone(), ctx.region.clone(), RelationshipType::Contains);
    contains.condition = Some(Condition::Always);

    let ready_transition_ms = ready_condition(&hr.conditions)
        .and_then(|c| c.last_transition_time.as_deref())
        .and_then(parse_rfc3339_ms);

    Some(Mapped {
        node: FlowNode {
            id,
            flow_id: ctx.flow_id.clone(),
            label: hr.name.clone(),
            status: status.to_owned(),
            family: family(hr),
            region: Some(ctx.region.clone()),
            started_at: None,
            ended_at: None,
            meta,
        },
        depends_on,
        contains,
        ready_transition_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HelmChart;
    use serde_json::json;

    fn hr(v: Value) -> HelmRelease {
        HelmRelease::from_value(&v)
    }

    fn ctx(region: &str) -> MapContext {
        MapContext::new(region, "dep-abc", false)
    }

    fn ready(status: &str, reason: &str) -> Value {
        json!({"type": "Ready", "status": status, "reason": reason, "message": format!("{reason} msg")})
    }

    fn release(name: &str, conditions: Vec<Value>) -> HelmRelease {
        hr(json!({
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"chart": {"spec": {"chart": name, "version": "1.0.0"}}},
            "status": {"conditions": conditions}
        }))
    }

    fn map(h: &HelmRelease) -> Mapped {
        map_release(h, None, &ctx("fsn1")).unwrap()
    }

    fn status_of(conds: Vec<Value>) -> String {
        map(&release("bp-x", conds)).node.status
    }

    // ---- the reference's mapper cases (§3) ----

    #[test]
    fn reference_ready_true() {
        let h = hr(json!({
            "metadata": {"name": "bp-cert-manager", "namespace": "flux-system"},
            "spec": {"dependsOn": [{"name": "bp-cilium"}]},
            "status": {"conditions": [ready("True", "InstallSucceeded")]}
        }));
        let m = map(&h);
        assert_eq!(m.node.status, SUCCEEDED);
        assert_eq!(m.node.id, "fsn1:bp-cert-manager");
        assert_eq!(m.node.family.as_deref(), Some("cert-manager"));
        assert_eq!(m.node.region.as_deref(), Some("fsn1"));
        assert_eq!(m.node.label, "bp-cert-manager");
        assert_eq!(m.node.flow_id, "dep-abc");
        assert_eq!(m.depends_on.len(), 1);
        assert_eq!(m.depends_on[0].from_id, "fsn1:bp-cilium");
        assert_eq!(m.depends_on[0].to_id, "fsn1:bp-cert-manager");
        assert_eq!(m.depends_on[0].rel_type, RelationshipType::FinishToStart);
        assert_eq!(m.depends_on[0].condition, Some(Condition::OnSuccess));
    }

    #[test]
    fn reference_progressing_in_other_region() {
        let h = release("bp-x", vec![ready("False", "Progressing")]);
        let m = map_release(&h, None, &ctx("hel1")).unwrap();
        assert_eq!(m.node.status, RUNNING);
        assert_eq!(m.node.region.as_deref(), Some("hel1"));
        assert_eq!(m.node.id, "hel1:bp-x");
    }

    #[test]
    fn reference_failures_unknown_and_pending() {
        for reason in ["InstallFailed", "UpgradeFailed", "RetriesExhausted"] {
            assert_eq!(status_of(vec![ready("False", reason)]), FAILED, "{reason}");
        }
        assert_eq!(status_of(vec![ready("Unknown", "Reconciling")]), RUNNING);
        let none = hr(json!({"metadata": {"name": "bp-x"}}));
        let m = map(&none);
        assert_eq!(m.node.status, PENDING);
        assert!(!m.node.meta.contains_key("reason"));
    }

    #[test]
    fn reference_family_label_and_region_fallback() {
        let h = hr(json!({"metadata": {"name": "bp-stalwart", "labels": {FAMILY_LABEL: "mail"}}}));
        assert_eq!(map(&h).node.family.as_deref(), Some("mail"));
        let c = release("bp-cilium", vec![]);
        let m = map_release(&c, None, &ctx("")).unwrap();
        assert_eq!(m.node.id, "default:bp-cilium");
        assert_eq!(m.node.region.as_deref(), Some("default"));
        assert_eq!(m.contains.to_id, "default");
    }

    #[test]
    fn reference_multi_and_no_depends_on() {
        let deps = ["bp-a", "bp-b", "bp-c", "bp-d", "bp-e", "bp-f"];
        let h = hr(json!({
            "metadata": {"name": "bp-guacamole", "namespace": "flux-system"},
            "spec": {"dependsOn": deps.iter().map(|d| json!({"name": d})).collect::<Vec<_>>()}
        }));
        let m = map(&h);
        assert_eq!(m.depends_on.len(), 6);
        for e in &m.depends_on {
            assert!(e.from_id.starts_with("fsn1:bp-"));
            assert_eq!(e.to_id, "fsn1:bp-guacamole");
        }
        assert_eq!(map(&release("bp-x", vec![])).depends_on.len(), 0);
    }

    // ---- additional cases (ours) ----

    #[test]
    fn generation_awareness_acceptance_3() {
        let mk = |generation: i64, observed: i64| {
            hr(json!({
                "metadata": {"name": "bp-x", "generation": generation},
                "status": {"observedGeneration": observed, "conditions": [ready("True", "UpgradeSucceeded")]}
            }))
        };
        assert_eq!(map(&mk(3, 2)).node.status, RUNNING);
        let m = map(&mk(3, 3));
        assert_eq!(m.node.status, SUCCEEDED);
        assert_eq!(m.node.meta["observedGeneration"], json!(3));
        assert_eq!(map(&mk(3, 4)).node.status, SUCCEEDED);
    }

    #[test]
    fn stalled_wins_with_its_reason() {
        let m = map(&release(
            "bp-x",
            vec![
                ready("False", "PendingRelease"),
                json!({"type": "Stalled", "status": "True", "reason": "RetriesExceeded", "message": "gave up"}),
            ],
        ));
        assert_eq!(m.node.status, FAILED);
        assert_eq!(m.node.meta["reason"], json!("RetriesExceeded"));
        assert_eq!(m.node.meta["message"], json!("gave up"));
        // Stalled=False is not a stall.
        assert_eq!(
            status_of(vec![
                ready("True", "x"),
                json!({"type": "Stalled", "status": "False"})
            ]),
            SUCCEEDED
        );
    }

    #[test]
    fn failure_reasons() {
        for reason in [
            "ArtifactFailed",
            "ChartPullFailed",
            "TestFailed",
            "AnythingFailed",
        ] {
            assert_eq!(status_of(vec![ready("False", reason)]), FAILED, "{reason}");
        }
        assert_eq!(status_of(vec![ready("False", "Failedish")]), RUNNING);
        assert_eq!(status_of(vec![ready("False", "")]), RUNNING);
    }

    #[test]
    fn dependency_not_ready_is_pending_even_when_reconciling() {
        let m = map(&release(
            "bp-x",
            vec![
                json!({"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry"}),
                ready("False", "DependencyNotReady"),
            ],
        ));
        assert_eq!(m.node.status, PENDING);
        assert_eq!(m.node.meta["reason"], json!("DependencyNotReady"));
    }

    #[test]
    fn reconciling_without_ready_is_running() {
        let m = map(&release(
            "bp-x",
            vec![
                json!({"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "installing"}),
            ],
        ));
        assert_eq!(m.node.status, RUNNING);
        assert_eq!(m.node.meta["reason"], json!("Progressing"));
        assert_eq!(
            status_of(vec![json!({"type": "Reconciling", "status": "False"})]),
            PENDING
        );
    }

    fn chart(ready_cond: Option<Value>) -> HelmChart {
        HelmChart::from_value(&json!({
            "metadata": {"name": "flux-system-bp-x", "namespace": "flux-system"},
            "spec": {"chart": "bp-x-chart"},
            "status": {
                "conditions": ready_cond.into_iter().collect::<Vec<_>>(),
                "artifact": {"revision": "2.3.4@sha256:abc"}
            }
        }))
    }

    #[test]
    fn chart_failure_acceptance_6() {
        let h = release("bp-x", vec![ready("True", "InstallSucceeded")]);
        let broken = chart(Some(
            json!({"type": "Ready", "status": "False", "reason": "ChartPullFailed", "message": "404 not found"}),
        ));
        let m = map_release(&h, Some(&broken), &ctx("fsn1")).unwrap();
        assert_eq!(m.node.status, FAILED);
        assert_eq!(m.node.meta["reason"], json!("ChartPullFailed"));
        assert_eq!(m.node.meta["message"], json!("404 not found"));
        let fixed = chart(Some(
            json!({"type": "Ready", "status": "True", "reason": "ChartPullSucceeded"}),
        ));
        let m = map_release(&h, Some(&fixed), &ctx("fsn1")).unwrap();
        assert_eq!(m.node.status, SUCCEEDED);
        assert_eq!(m.node.meta["reason"], json!("InstallSucceeded"));
        assert_eq!(m.node.meta["chart"], json!("bp-x-chart"));
        assert_eq!(m.node.meta["chartVersion"], json!("2.3.4"));
        let storage = chart(Some(
            json!({"type": "Ready", "status": "False", "reason": "StorageOperationFailed"}),
        ));
        assert_eq!(
            map_release(&h, Some(&storage), &ctx("fsn1"))
                .unwrap()
                .node
                .status,
            FAILED
        );
        assert_eq!(
            map_release(&h, Some(&chart(None)), &ctx("fsn1"))
                .unwrap()
                .node
                .status,
            SUCCEEDED
        );
    }

    #[test]
    fn suspend_flag() {
        let h = hr(json!({
            "metadata": {"name": "bp-x"},
            "spec": {"suspend": true},
            "status": {"conditions": [ready("True", "x")]}
        }));
        let m = map(&h);
        assert_eq!(m.node.status, SUCCEEDED);
        assert_eq!(m.node.meta["suspended"], json!(true));
        assert!(
            !map(&release("bp-x", vec![]))
                .node
                .meta
                .contains_key("suspended")
        );
    }

    #[test]
    fn qualified_ids_acceptance_4() {
        let q = MapContext::new("fsn1", "f", true);
        let web = hr(json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"dependsOn": [{"name": "db"}, {"name": "cilium", "namespace": "flux-system"}, {"name": "db"}]}
        }));
        let m = map_release(&web, None, &q).unwrap();
        assert_eq!(m.node.id, "fsn1:apps/web");
        let froms: Vec<&str> = m.depends_on.iter().map(|e| e.from_id.as_str()).collect();
        assert_eq!(froms, vec!["fsn1:apps/db", "fsn1:cilium"]);
        assert_eq!(m.contains.from_id, "fsn1:apps/web");
        let flux = hr(json!({"metadata": {"name": "web", "namespace": "flux-system"}}));
        assert_eq!(map_release(&flux, None, &q).unwrap().node.id, "fsn1:web");
        // Unqualified: the dependency namespace does not appear in ids.
        let m = map_release(&web, None, &ctx("fsn1")).unwrap();
        assert_eq!(m.node.id, "fsn1:web");
        let froms: Vec<&str> = m.depends_on.iter().map(|e| e.from_id.as_str()).collect();
        assert_eq!(froms, vec!["fsn1:cilium", "fsn1:db"]);
    }

    #[test]
    fn long_message_is_cut() {
        let long = "é".repeat(600);
        let m = map(&release(
            "bp-x",
            vec![
                json!({"type": "Ready", "status": "False", "reason": "Progressing", "message": long}),
            ],
        ));
        let msg = m.node.meta["message"].as_str().unwrap();
        assert_eq!(msg.chars().count(), 512);
        assert!(msg.ends_with('…'));
        assert!(msg.starts_with("éé"));
        let exact = "a".repeat(512);
        assert_eq!(truncate_message(&exact), exact);
    }

    #[test]
    fn family_rules() {
        let blank = hr(json!({"metadata": {"name": "bp-x", "labels": {FAMILY_LABEL: "  "}}}));
        assert_eq!(family(&blank).as_deref(), Some("x"));
        let twice = hr(json!({"metadata": {"name": "bp-bp-x"}}));
        assert_eq!(family(&twice).as_deref(), Some("bp-x"));
        let only = hr(json!({"metadata": {"name": "bp-"}}));
        assert_eq!(family(&only), None);
        let plain = hr(json!({"metadata": {"name": "podinfo"}}));
        assert_eq!(family(&plain).as_deref(), Some("podinfo"));
        let trimmed = hr(json!({"metadata": {"name": "x", "labels": {FAMILY_LABEL: " mail "}}}));
        assert_eq!(family(&trimmed).as_deref(), Some("mail"));
    }

    #[test]
    fn chart_ref_oci_and_helmchart_shapes() {
        let oci = hr(json!({
            "metadata": {"name": "podinfo", "namespace": "flux-system"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
        }));
        assert_eq!(oci.chart_key(), None);
        let m = map(&oci);
        assert_eq!(m.node.meta["chart"], json!("OCIRepository/podinfo"));
        assert!(!m.node.meta.contains_key("chartVersion"));
        // spec.chart template shape.
        let m = map(&release("bp-x", vec![]));
        assert_eq!(m.node.meta["chart"], json!("bp-x"));
        assert_eq!(m.node.meta["chartVersion"], json!("1.0.0"));
        assert_eq!(m.node.meta["namespace"], json!("flux-system"));
        // history wins over the template.
        let h = hr(json!({
            "metadata": {"name": "bp-x"},
            "spec": {"chart": {"spec": {"chart": "tpl", "version": "1"}}},
            "status": {"history": [{"chartName": "hist", "chartVersion": "9"}, {"chartName": "old"}]}
        }));
        let m = map(&h);
        assert_eq!(m.node.meta["chart"], json!("hist"));
        assert_eq!(m.node.meta["chartVersion"], json!("9"));
        assert!(!m.node.meta.contains_key("namespace"));
    }

    #[test]
    fn external_deps_acceptance_5() {
        let h = hr(json!({
            "metadata": {"name": "app", "namespace": "flux-system"},
            "spec": {"dependsOn": [
                {"name": "repo", "kind": "OCIRepository", "apiVersion": "source.toolkit.fluxcd.io/v1"},
                {"name": "a", "kind": "Kustomization", "namespace": "z"},
                {"name": "b", "kind": "Kustomization", "namespace": "a"},
                {"name": "db", "kind": "HelmRelease", "ready": true},
                {"name": "  "}
            ]}
        }));
        let m = map(&h);
        assert_eq!(m.depends_on.len(), 1);
        let froms: Vec<&str> = m.depends_on.iter().map(|e| e.from_id.as_str()).collect();
        assert_eq!(froms, vec!["fsn1:db"]);
        assert_eq!(
            m.node.meta["externalDeps"],
            json!([
                {"kind": "Kustomization", "name": "b", "namespace": "a"},
                {"kind": "Kustomization", "name": "a", "namespace": "z"},
                {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository", "name": "repo"}
            ])
        );
        assert!(
            !map(&release("x", vec![]))
                .node
                .meta
                .contains_key("externalDeps")
        );
    }

    #[test]
    fn contains_edge_acceptance_8() {
        let m = map(&release("bp-x", vec![]));
        assert_eq!(m.contains.from_id, "fsn1:bp-x");
        assert_eq!(m.contains.to_id, "fsn1");
        assert_eq!(m.contains.rel_type, RelationshipType::Contains);
        assert_eq!(m.contains.condition, Some(Condition::Always));
        assert_eq!(
            m.edges()
                .filter(|e| e.rel_type == RelationshipType::Contains)
                .count(),
            1
        );
    }

    #[test]
    fn nameless_objects_are_skipped_and_meta_never_null() {
        assert!(map_release(&hr(json!({"metadata": {}})), None, &ctx("fsn1")).is_none());
        let m = map(&release(
            "bp-x",
            vec![json!({"type": "Ready", "status": "True"})],
        ));
        assert!(m.node.meta.values().all(|v| !v.is_null()));
        assert!(!m.node.meta.contains_key("reason"));
        assert!(!m.node.meta.contains_key("message"));
    }

    #[test]
    fn ready_transition_time_is_parsed() {
        let m = map(&release(
            "bp-x",
            vec![
                json!({"type": "Ready", "status": "True", "lastTransitionTime": "1970-01-01T00:00:01Z"}),
            ],
        ));
        assert_eq!(m.ready_transition_ms, Some(1000));
    }
}

//! A tolerant model of the Flux objects the emitter reads (emitter.md §2).
//!
//! Both served versions (`v2`/`v2beta2`, `v1`/`v1beta2`) decode into the same
//! model. Every field is optional and read independently from the JSON value,
//! so an unexpected type in one field never loses the whole object.

use std::collections::BTreeMap;

use serde_json::Value;

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn owned_str(v: &Value, ptr: &str) -> Option<String> {
    str_at(v, ptr).map(str::to_owned)
}

fn non_blank(v: &Value, ptr: &str) -> Option<String> {
    str_at(v, ptr)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One `status.conditions[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeCondition {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

impl KubeCondition {
    fn from_value(v: &Value) -> Option<Self> {
        Some(KubeCondition {
            type_: owned_str(v, "/type")?,
            status: owned_str(v, "/status").unwrap_or_default(),
            reason: owned_str(v, "/reason"),
            message: owned_str(v, "/message"),
            last_transition_time: owned_str(v, "/lastTransitionTime"),
        })
    }
}

fn conditions(v: &Value) -> Vec<KubeCondition> {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(KubeCondition::from_value).collect())
        .unwrap_or_default()
}

/// The Ready condition as the reference reads it: the first `type: Ready`
/// entry whose status is `True`, `False` or `Unknown`.
pub fn ready_condition(conditions: &[KubeCondition]) -> Option<&KubeCondition> {
    conditions
        .iter()
        .find(|c| c.type_ == "Ready" && matches!(c.status.as_str(), "True" | "False" | "Unknown"))
}

/// The first condition of `type_` with status `True`.
pub fn true_condition<'a>(
    conditions: &'a [KubeCondition],
    type_: &str,
) -> Option<&'a KubeCondition> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// `spec.chartRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChartRef {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// One `spec.dependsOn[]` entry, tolerant of the fields Flux is adding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependsOn {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
}

impl DependsOn {
    fn from_value(v: &Value) -> Option<Self> {
        let name = non_blank(v, "/name")?;
        Some(DependsOn {
            api_version: non_blank(v, "/apiVersion"),
            kind: non_blank(v, "/kind"),
            name,
            namespace: non_blank(v, "/namespace"),
        })
    }
}

/// A Flux HelmRelease (`helm.toolkit.fluxcd.io` `v2` or `v2beta2`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    pub generation: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub suspend: bool,
    /// `spec.chart.spec.chart`.
    pub chart_name: Option<String>,
    /// `spec.chart.spec.version`.
    pub chart_version: Option<String>,
    pub chart_ref: Option<ChartRef>,
    /// Entries with a non-blank name; the rest are dropped when parsed.
    pub depends_on: Vec<DependsOn>,
    pub observed_generation: Option<i64>,
    pub conditions: Vec<KubeCondition>,
    /// `status.helmChart` (`namespace/name`).
    pub status_helm_chart: Option<String>,
    /// `status.history[0].chartName` / `.chartVersion`.
    pub history_chart_name: Option<String>,
    pub history_chart_version: Option<String>,
}

impl HelmRelease {
    /// Reads a HelmRelease from its JSON form (either served version).
    pub fn from_value(v: &Value) -> Self {
        let labels = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let chart_ref = v
            .pointer("/spec/chartRef")
            .filter(|c| c.is_object())
            .map(|c| ChartRef {
                kind: non_blank(c, "/kind"),
                name: non_blank(c, "/name"),
                namespace: non_blank(c, "/namespace"),
            });
        let depends_on = v
            .pointer("/spec/dependsOn")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(DependsOn::from_value).collect())
            .unwrap_or_default();
        HelmRelease {
            name: str_at(v, "/metadata/name").unwrap_or_default().to_owned(),
            namespace: str_at(v, "/metadata/namespace")
                .unwrap_or_default()
                .to_owned(),
            generation: v.pointer("/metadata/generation").and_then(Value::as_i64),
            labels,
            suspend: v
                .pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            chart_name: non_blank(v, "/spec/chart/spec/chart"),
            chart_version: non_blank(v, "/spec/chart/spec/version"),
            chart_ref,
            depends_on,
            observed_generation: v
                .pointer("/status/observedGeneration")
                .and_then(Value::as_i64),
            conditions: conditions(v),
            status_helm_chart: non_blank(v, "/status/helmChart"),
            history_chart_name: non_blank(v, "/status/history/0/chartName"),
            history_chart_version: non_blank(v, "/status/history/0/chartVersion"),
        }
    }

    /// The chart key `namespace/name` of this release's HelmChart (§2), if any.
    pub fn chart_key(&self) -> Option<String> {
        if let Some(k) = &self.status_helm_chart {
            return Some(k.clone());
        }
        let r = self.chart_ref.as_ref()?;
        if r.kind.as_deref() != Some("HelmChart") {
            return None;
        }
        let name = r.name.as_ref()?;
        let ns = r.namespace.as_deref().unwrap_or(&self.namespace);
        Some(format!("{ns}/{name}"))
    }
}

/// A Flux HelmChart (`source.toolkit.fluxcd.io` `v1` or `v1beta2`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelmChart {
    pub name: String,
    pub namespace: String,
    /// `spec.chart`.
    pub chart: Option<String>,
    pub conditions: Vec<KubeCondition>,
    /// `status.artifact.revision`.
    pub artifact_revision: Option<String>,
}

impl HelmChart {
    pub fn from_value(v: &Value) -> Self {
        HelmChart {
            name: str_at(v, "/metadata/name").unwrap_or_default().to_owned(),
            namespace: str_at(v, "/metadata/namespace")
                .unwrap_or_default()
                .to_owned(),
            chart: non_blank(v, "/spec/chart"),
            conditions: conditions(v),
            artifact_revision: non_blank(v, "/status/artifact/revision"),
        }
    }

    /// `namespace/name`, the key HelmReleases point at.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerant_of_wrong_types_and_unknown_fields() {
        let hr = HelmRelease::from_value(&json!({
            "metadata": {"name": "x", "namespace": 7, "generation": "two", "labels": {"a": 1, "b": "c"}},
            "spec": {"suspend": "yes", "chart": [], "dependsOn": [
                {"name": " a "}, {"name": ""}, {"nope": 1}, "str",
                {"name": "b", "kind": "HelmRelease", "ready": true, "readyExpr": "x", "apiVersion": "helm.toolkit.fluxcd.io/v2"}
            ], "unknown": {}},
            "status": {"conditions": [{"status": "True"}, {"type": "Ready", "status": "True"}], "history": "none"}
        }));
        assert_eq!(hr.name, "x");
        assert_eq!(hr.namespace, "");
        assert_eq!(hr.generation, None);
        assert_eq!(hr.labels.len(), 1);
        assert!(!hr.suspend);
        assert_eq!(hr.depends_on.len(), 2);
        assert_eq!(hr.depends_on[0].name, "a");
        assert_eq!(hr.depends_on[1].kind.as_deref(), Some("HelmRelease"));
        assert_eq!(hr.conditions.len(), 1);
        assert!(ready_condition(&hr.conditions).is_some());
    }

    #[test]
    fn ready_condition_ignores_other_status_values() {
        let c = |s: &str| KubeCondition {
            type_: "Ready".into(),
            status: s.into(),
            ..Default::default()
        };
        let conds = vec![c("Maybe"), c("False")];
        assert_eq!(ready_condition(&conds).unwrap().status, "False");
        assert!(ready_condition(&[c("")]).is_none());
    }

    #[test]
    fn chart_key_rules() {
        let mut hr = HelmRelease::from_value(&json!({
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "HelmChart", "name": "web-chart"}}
        }));
        assert_eq!(hr.chart_key().as_deref(), Some("apps/web-chart"));
        hr.chart_ref.as_mut().unwrap().namespace = Some("flux-system".into());
        assert_eq!(hr.chart_key().as_deref(), Some("flux-system/web-chart"));
        hr.status_helm_chart = Some("flux-system/apps-web".into());
        assert_eq!(hr.chart_key().as_deref(), Some("flux-system/apps-web"));
        let oci = HelmRelease::from_value(&json!({
            "metadata": {"name": "p", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
        }));
        assert_eq!(oci.chart_key(), None);
    }
}

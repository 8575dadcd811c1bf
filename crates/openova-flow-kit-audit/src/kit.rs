//! Slot files, `kustomization.yaml` and chart metadata.

use serde_yaml::Value;

use crate::InputError;
use crate::yaml::{self, Document};

/// Label carrying a HelmRelease's slot.
pub const SLOT_LABEL: &str = "catalyst.openova.io/slot";
/// Annotation that turns Flux's post-build substitution off for one object.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// One `spec.dependsOn` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependsOnRef {
    /// `name`.
    pub name: String,
    /// `namespace`, when given.
    pub namespace: Option<String>,
    /// `kind`, when given (Flux ≥ 2.7 style references).
    pub kind: Option<String>,
    /// 1-based line of the entry.
    pub line: usize,
}

/// The fields of one `kind: HelmRelease` document that the audit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmReleaseDoc {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// Display path of its file.
    pub file: String,
    /// Base name of its file.
    pub file_name: String,
    /// 1-based line where the document starts.
    pub line: usize,
    /// The `catalyst.openova.io/slot` label (numbers rendered as text).
    pub slot_label: Option<String>,
    /// `spec.dependsOn`.
    pub depends_on: Vec<DependsOnRef>,
    /// `spec.chart.spec.chart`.
    pub chart: Option<String>,
    /// `spec.chart.spec.version`.
    pub version: Option<String>,
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
}

/// A parsed slot file.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotFile {
    /// Base name (`57-openova-flow-emitter.yaml`).
    pub file_name: String,
    /// Display path.
    pub display: String,
    /// Raw text.
    pub text: String,
    /// Its documents.
    pub documents: Vec<Document>,
    /// Its HelmReleases, in document order.
    pub helmreleases: Vec<HelmReleaseDoc>,
}

/// `true` when the document is a HelmRelease (any API version).
pub fn is_helmrelease(doc: &Document) -> bool {
    yaml::get_str(&doc.value, &["kind"]) == Some("HelmRelease")
}

/// `true` when the document opts out of Flux substitution.
pub fn substitution_disabled(doc: &Document) -> bool {
    yaml::get_str(
        &doc.value,
        &["metadata", "annotations", SUBSTITUTE_ANNOTATION],
    ) == Some("disabled")
}

/// Parses a slot file: its documents and HelmReleases.
pub fn parse_slot_file(file_name: &str, display: &str, text: &str) -> Result<SlotFile, InputError> {
    let documents = yaml::parse_documents(display, text)?;
    let lines = yaml::lines_of(text);
    let mut helmreleases = Vec::new();
    for doc in documents.iter().filter(|d| is_helmrelease(d)) {
        helmreleases.push(parse_helmrelease(file_name, display, &lines, doc)?);
    }
    Ok(SlotFile {
        file_name: file_name.to_string(),
        display: display.to_string(),
        text: text.to_string(),
        documents,
        helmreleases,
    })
}

fn non_empty_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    yaml::get_str(v, path)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn parse_helmrelease(
    file_name: &str,
    display: &str,
    lines: &[&str],
    doc: &Document,
) -> Result<HelmReleaseDoc, InputError> {
    let v = &doc.value;
    let line = yaml::find_line(lines, doc.first_line, doc.last_line, |l| {
        l.trim_start().starts_with("kind:")
    })
    .unwrap_or(doc.first_line);
    let name = non_empty_str(v, &["metadata", "name"])
        .ok_or_else(|| InputError::at(display, line, "HelmRelease without metadata.name"))?;
    let namespace = non_empty_str(v, &["metadata", "namespace"]).ok_or_else(|| {
        InputError::at(
            display,
            line,
            format!("HelmRelease '{name}' without metadata.namespace"),
        )
    })?;
    let slot_label = yaml::get(v, &["metadata", "labels", SLOT_LABEL]).and_then(yaml::scalar_text);

    let dep_lines = yaml::seq_item_lines(lines, doc.first_line, doc.last_line, "dependsOn");
    let deps_key_line = yaml::find_line(lines, doc.first_line, doc.last_line, |l| {
        l.trim_start().starts_with("dependsOn:")
    })
    .unwrap_or(line);
    let mut depends_on = Vec::new();
    match yaml::get(v, &["spec", "dependsOn"]) {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let item_line = if dep_lines.len() == items.len() {
                    dep_lines[i]
                } else {
                    deps_key_line
                };
                let Some(dep) = non_empty_str(item, &["name"]) else {
                    return Err(InputError::at(
                        display,
                        item_line,
                        format!("HelmRelease '{name}': spec.dependsOn[{i}] needs a `name`"),
                    ));
                };
                depends_on.push(DependsOnRef {
                    name: dep.to_string(),
                    namespace: non_empty_str(item, &["namespace"]).map(str::to_string),
                    kind: non_empty_str(item, &["kind"]).map(str::to_string),
                    line: item_line,
                });
            }
        }
        Some(_) => {
            return Err(InputError::at(
                display,
                deps_key_line,
                format!(
                    "HelmRelease '{name}': spec.dependsOn must be a list of {{name: …}} entries"
                ),
            ));
        }
    }
    Ok(HelmReleaseDoc {
        name: name.to_string(),
        namespace: namespace.to_string(),
        file: display.to_string(),
        file_name: file_name.to_string(),
        line,
        slot_label,
        depends_on,
        chart: non_empty_str(v, &["spec", "chart", "spec", "chart"]).map(str::to_string),
        version: yaml::get(v, &["spec", "chart", "spec", "version"]).and_then(yaml::scalar_text),
        target_namespace: non_empty_str(v, &["spec", "targetNamespace"]).map(str::to_string),
    })
}

/// One `resources:` entry of `kustomization.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The entry as written.
    pub path: String,
    /// 1-based line.
    pub line: usize,
}

impl Resource {
    /// The entry without a leading `./`.
    pub fn normalized(&self) -> &str {
        self.path.trim_start_matches("./")
    }
}

/// Reads `resources:` from `kustomization.yaml`.
pub fn parse_kustomization(display: &str, text: &str) -> Result<Vec<Resource>, InputError> {
    let docs = yaml::parse_documents(display, text)?;
    let Some(doc) = docs.first() else {
        return Err(InputError::file(
            display,
            "is empty; list the slot files under `resources:`",
        ));
    };
    let lines = yaml::lines_of(text);
    let item_lines = yaml::seq_item_lines(&lines, doc.first_line, doc.last_line, "resources");
    let key_line = yaml::find_line(&lines, doc.first_line, doc.last_line, |l| {
        l.starts_with("resources:")
    })
    .unwrap_or(doc.first_line);
    match yaml::get(&doc.value, &["resources"]) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let line = if item_lines.len() == items.len() {
                    item_lines[i]
                } else {
                    key_line
                };
                match yaml::untag(item) {
                    Value::String(s) => Ok(Resource {
                        path: s.clone(),
                        line,
                    }),
                    _ => Err(InputError::at(
                        display,
                        line,
                        "resources entries must be strings",
                    )),
                }
            })
            .collect(),
        Some(_) => Err(InputError::at(
            display,
            key_line,
            "`resources` must be a list of file names",
        )),
    }
}

/// Reads `version` from a chart's `Chart.yaml`.
pub fn parse_chart_version(display: &str, text: &str) -> Result<String, InputError> {
    let docs = yaml::parse_documents(display, text)?;
    docs.first()
        .and_then(|d| yaml::get(&d.value, &["version"]))
        .and_then(yaml::scalar_text)
        .ok_or_else(|| InputError::file(display, "has no `version`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: &str = "\
---
apiVersion: v1
kind: Namespace
metadata:
  name: catalyst-system
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: bp-x
  namespace: flux-system
  labels:
    catalyst.openova.io/slot: \"56\"
spec:
  targetNamespace: catalyst-system
  dependsOn:
    - name: bp-a
    - name: bp-b
      namespace: other
    - kind: Kustomization
      name: k
  chart:
    spec:
      chart: x
      version: 1.0.0
";

    #[test]
    fn reads_helmrelease_fields() {
        let f = parse_slot_file("56-x.yaml", "kit/56-x.yaml", SLOT).unwrap();
        assert_eq!(f.documents.len(), 2);
        let hr = &f.helmreleases[0];
        assert_eq!(hr.name, "bp-x");
        assert_eq!(hr.namespace, "flux-system");
        assert_eq!(hr.line, 8);
        assert_eq!(hr.slot_label.as_deref(), Some("56"));
        assert_eq!(hr.chart.as_deref(), Some("x"));
        assert_eq!(hr.version.as_deref(), Some("1.0.0"));
        assert_eq!(hr.target_namespace.as_deref(), Some("catalyst-system"));
        let names: Vec<&str> = hr.depends_on.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["bp-a", "bp-b", "k"]);
        assert_eq!(hr.depends_on[1].namespace.as_deref(), Some("other"));
        assert_eq!(hr.depends_on[2].kind.as_deref(), Some("Kustomization"));
        let lines: Vec<usize> = hr.depends_on.iter().map(|d| d.line).collect();
        assert_eq!(lines, [17, 18, 20]);
    }

    #[test]
    fn numeric_slot_label_is_text() {
        let t = "kind: HelmRelease\nmetadata:\n  name: a\n  namespace: n\n  labels:\n    catalyst.openova.io/slot: 7\n";
        let f = parse_slot_file("07-a.yaml", "07-a.yaml", t).unwrap();
        assert_eq!(f.helmreleases[0].slot_label.as_deref(), Some("7"));
    }

    #[test]
    fn missing_metadata_is_an_input_error() {
        let e = parse_slot_file("f", "f", "kind: HelmRelease\nmetadata:\n  namespace: n\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f:1: HelmRelease without metadata.name");
        let e = parse_slot_file("f", "f", "---\nkind: HelmRelease\nmetadata:\n  name: a\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f:2: HelmRelease 'a' without metadata.namespace");
    }

    #[test]
    fn malformed_depends_on() {
        let base = "kind: HelmRelease\nmetadata: {name: a, namespace: n}\nspec:\n  dependsOn:\n";
        let e = parse_slot_file("f", "f", &format!("{base}    - namespace: x\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "f:5: HelmRelease 'a': spec.dependsOn[0] needs a `name`");
        let e = parse_slot_file(
            "f",
            "f",
            "kind: HelmRelease\nmetadata: {name: a, namespace: n}\nspec:\n  dependsOn: bp-b\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("must be a list"), "{e}");
    }

    #[test]
    fn substitution_annotation() {
        let t = "kind: ConfigMap\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n";
        let f = parse_slot_file("f", "f", t).unwrap();
        assert!(substitution_disabled(&f.documents[0]));
        assert!(f.helmreleases.is_empty());
    }

    #[test]
    fn kustomization_resources() {
        let t = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - 01-a.yaml\n  # - 02-b.yaml\n  - ./03-c.yaml\n";
        let r = parse_kustomization("k.yaml", t).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].path.as_str(), r[0].line), ("01-a.yaml", 4));
        assert_eq!((r[1].normalized(), r[1].line), ("03-c.yaml", 6));
        assert!(
            parse_kustomization("k", "kind: Kustomization\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_kustomization("k", "resources: a\n").is_err());
        assert!(parse_kustomization("k", "resources: [1]\n").is_err());
        assert!(
            parse_kustomization("k", "")
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
    }

    #[test]
    fn chart_version() {
        assert_eq!(
            parse_chart_version("c", "name: x\nversion: 0.1.0\n").unwrap(),
            "0.1.0"
        );
        assert_eq!(parse_chart_version("c", "version: 1\n").unwrap(), "1");
        assert_eq!(
            parse_chart_version("c/Chart.yaml", "name: x\n")
                .unwrap_err()
                .to_string(),
            "c/Chart.yaml: has no `version`"
        );
    }
}

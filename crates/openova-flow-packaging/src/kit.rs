//! Bootstrap-kit slots 56–58 as Flux applies them (packaging.md §1.5 step 5):
//! the `postBuild.substitute` map from a region's rendered cloud-init, and a
//! slot's HelmRelease chart, version and `values` after substitution.

use std::collections::BTreeMap;

use serde::Deserialize as _;
use serde_json::Value;
use thiserror::Error;

use crate::envsubst::{self, EnvsubstError};

#[derive(Debug, Error)]
pub enum KitError {
    #[error("cloud-init is not YAML: {0}")]
    UserData(serde_yaml::Error),
    #[error(
        "cloud-init has no write_files entry with a Kustomization carrying spec.postBuild.substitute"
    )]
    NoSubstitute,
    #[error("{0}")]
    Envsubst(#[from] EnvsubstError),
    #[error("slot file is not YAML after substitution: {0}")]
    Slot(serde_yaml::Error),
    #[error("slot file has no HelmRelease with spec.chart.spec.chart")]
    NoHelmRelease,
}

fn yaml_docs(text: &str) -> Result<Vec<Value>, serde_yaml::Error> {
    let mut out = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v = Value::deserialize(de)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `postBuild.substitute` map of the Flux Kustomization that a region's
/// cloud-init writes (any `write_files` entry whose content holds one).
pub fn substitute_map(user_data: &str) -> Result<BTreeMap<String, String>, KitError> {
    let cloud: Value = serde_yaml::from_str(user_data).map_err(KitError::UserData)?;
    for file in cloud["write_files"].as_array().into_iter().flatten() {
        let Some(content) = file["content"].as_str() else {
            continue;
        };
        let Ok(docs) = yaml_docs(content) else {
            continue;
        };
        for d in docs {
            if d["kind"] == "Kustomization"
                && let Some(map) = d["spec"]["postBuild"]["substitute"].as_object()
            {
                return Ok(map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect());
            }
        }
    }
    Err(KitError::NoSubstitute)
}

/// A slot's HelmRelease after Flux's substitution.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRelease {
    pub chart: String,
    pub version: String,
    pub values: Value,
}

/// Substitutes `vars` into a slot file and returns its HelmRelease.
pub fn slot_release(
    slot_text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<SlotRelease, KitError> {
    let text = envsubst::substitute(slot_text, vars)?;
    let docs = yaml_docs(&text).map_err(KitError::Slot)?;
    let hr = docs
        .into_iter()
        .find(|d| d["kind"] == "HelmRelease" && d["spec"]["chart"]["spec"]["chart"].is_string())
        .ok_or(KitError::NoHelmRelease)?;
    let spec = &hr["spec"];
    Ok(SlotRelease {
        chart: scalar(&spec["chart"]["spec"]["chart"]),
        version: scalar(&spec["chart"]["spec"]["version"]),
        values: if spec["values"].is_null() {
            serde_json::json!({})
        } else {
            spec["values"].clone()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_DATA: &str = r#"#cloud-config
write_files:
  - path: /etc/rancher/k3s/config.yaml
    content: |
      token: "x"
  - path: /var/lib/openova/flux-bootstrap.yaml
    permissions: "0644"
    content: |
      apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      metadata:
        name: openova
      ---
      apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: bootstrap-kit
      spec:
        postBuild:
          substitute:
            SOVEREIGN_FQDN: "sov.example.org"
            SOVEREIGN_IS_PRIMARY: "false"
            SOVEREIGN_DEPLOYMENT_ID: "0123456789012345"
"#;

    #[test]
    fn finds_the_substitute_map() {
        let m = substitute_map(USER_DATA).unwrap();
        assert_eq!(m["SOVEREIGN_FQDN"], "sov.example.org");
        assert_eq!(m["SOVEREIGN_IS_PRIMARY"], "false");
        assert_eq!(m["SOVEREIGN_DEPLOYMENT_ID"], "0123456789012345");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn missing_substitute_is_an_error() {
        assert!(matches!(
            substitute_map("#cloud-config\nwrite_files: []\n"),
            Err(KitError::NoSubstitute)
        ));
        assert!(matches!(
            substitute_map("a: [\n"),
            Err(KitError::UserData(_))
        ));
    }

    const SLOT: &str = r#"# comment
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: bp-x
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: bp-openova-flow-emitter
spec:
  chart:
    spec:
      chart: openova-flow-emitter
      version: 0.1.0
  values:
    enabled: ${SOVEREIGN_IS_PRIMARY}
    flowServerUrl: "${SOVEREIGN_FLOW_SERVER_URL:=http://svc}"
    flowId: "${SOVEREIGN_DEPLOYMENT_ID}"
    instances: ${N:=1}
"#;

    #[test]
    fn slot_values_are_substituted_and_typed_like_flux() {
        let vars: BTreeMap<String, String> = [
            ("SOVEREIGN_IS_PRIMARY", "false"),
            ("SOVEREIGN_DEPLOYMENT_ID", "0123456789012345"),
            ("SOVEREIGN_FLOW_SERVER_URL", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let r = slot_release(SLOT, &vars).unwrap();
        assert_eq!(r.chart, "openova-flow-emitter");
        assert_eq!(r.version, "0.1.0");
        assert_eq!(r.values["enabled"], false);
        assert_eq!(r.values["flowServerUrl"], "http://svc");
        assert_eq!(r.values["flowId"], "0123456789012345");
        assert_eq!(r.values["instances"], 1);
    }

    #[test]
    fn slot_without_helmrelease_is_an_error() {
        assert!(matches!(
            slot_release("kind: HelmRepository\n", &BTreeMap::new()),
            Err(KitError::NoHelmRelease)
        ));
    }
}

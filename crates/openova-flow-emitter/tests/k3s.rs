//! Real-cluster tier (emitter.md §12): a K3s container with the Flux
//! HelmRelease/HelmChart CRDs applied (no Flux controllers); the test writes
//! statuses through the status subresource and the emitter maps them.
//!
//! Runs where a container engine can pull `rancher/k3s`; otherwise prints
//! `skipping real-cluster tier: <reason>` and passes.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use openova_flow_emitter::app::{self, Tuning};
use openova_flow_emitter::config::{Args, Config};
use openova_flow_emitter::metrics::Metrics;
use openova_flow_server::testing;
use serde_json::{Value, json};
use support::*;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};
use tokio_util::sync::CancellationToken;

const K3S_IMAGE: &str = "rancher/k3s";
const K3S_TAG: &str = "v1.31.4-k3s1";

fn engine_unavailable() -> Option<String> {
    match std::process::Command::new("docker").arg("info").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "no container engine reachable (docker info: {})",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("failed")
                .trim()
        )),
        Err(e) => Some(format!("no container engine CLI ({e})")),
    }
}

fn crd(group: &str, kind: &str, plural: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({
                "name": v, "served": true, "storage": i == 0,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}}
            })
        })
        .collect();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "scope": "Namespaced",
            "versions": versions
        }
    })
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: format!("{group}/{version}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

#[tokio::test]
async fn k3s_real_cluster_tier() {
    if let Some(reason) = engine_unavailable() {
        println!("skipping real-cluster tier: {reason}");
        return;
    }
    let container = match GenericImage::new(K3S_IMAGE, K3S_TAG)
        .with_exposed_port(6443.tcp())
        .with_wait_for(WaitFor::message_on_stderr(
            "Node controller sync successful",
        ))
        .with_privileged(true)
        .with_cmd([
            "server",
            "--disable=traefik,metrics-server,servicelb",
            "--tls-san=127.0.0.1",
        ])
        .with_startup_timeout(Duration::from_secs(240))
        .start()
        .await
    {
        Ok(c) => c,
        Err(e) => {
            println!("skipping real-cluster tier: cannot start {K3S_IMAGE}:{K3S_TAG} ({e})");
            return;
        }
    };
    let port = container.get_host_port_ipv4(6443.tcp()).await.unwrap();
    let raw = container
        .copy_file_from("/etc/rancher/k3s/k3s.yaml", Vec::new())
        .await
        .unwrap();
    let kubeconfig = String::from_utf8(raw).unwrap().replace(
        "https://127.0.0.1:6443",
        &format!("https://127.0.0.1:{port}"),
    );
    let kc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kc.path(), kubeconfig).unwrap();

    let server = testing::start(&[]).await.unwrap();
    let args = Args {
        flow_server_url: Some(server.url()),
        flow_id: Some("dep-k3s".into()),
        region_key: Some("fsn1".into()),
        namespace_filter: Some("default".into()),
        emit_interval: Some("100ms".into()),
        kubeconfig: Some(kc.path().to_owned()),
        ..Args::default()
    };
    let cfg = Config::from_args(&args).unwrap();
    let client = app::kube_client(&cfg).await.unwrap();

    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &resource(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    for c in [
        crd(
            "helm.toolkit.fluxcd.io",
            "HelmRelease",
            "helmreleases",
            &["v2", "v2beta2"],
        ),
        crd(
            "source.toolkit.fluxcd.io",
            "HelmChart",
            "helmcharts",
            &["v1", "v1beta2"],
        ),
    ] {
        crds.create(&PostParams::default(), &serde_json::from_value(c).unwrap())
            .await
            .unwrap();
    }
    let hrs: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &resource(
            "helm.toolkit.fluxcd.io",
            "v2",
            "HelmRelease",
            "helmreleases",
        ),
    );
    eventually(Duration::from_secs(60), "CRDs established", || {
        let hrs = hrs.clone();
        async move { hrs.list(&Default::default()).await.ok().map(|_| ()) }
    })
    .await;
    for (name, deps) in [
        ("bp-cilium", vec![]),
        ("bp-cert-manager", vec!["bp-cilium"]),
    ] {
        let mut o = hr(name, None, &deps);
        o["metadata"]["namespace"] = json!("default");
        o.as_object_mut().unwrap().remove("status");
        hrs.create(&PostParams::default(), &serde_json::from_value(o).unwrap())
            .await
            .unwrap();
    }

    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let (m, s, c2) = (metrics.clone(), stop.clone(), cfg.clone());
    let task = tokio::spawn(async move {
        app::run(&c2, client, m, s, &Tuning::default())
            .await
            .unwrap();
    });
    let url = server.url();
    let wait = |want: Vec<(&'static str, &'static str)>| {
        let url = url.clone();
        async move {
            eventually(Duration::from_secs(60), &format!("{want:?}"), || {
                let (url, want) = (url.clone(), want.clone());
                async move {
                    let st = statuses(&snapshot(&url, "dep-k3s").await?);
                    want.iter()
                        .all(|(id, s)| st.get(*id).map(String::as_str) == Some(*s))
                        .then_some(())
                }
            })
            .await
        }
    };
    wait(vec![
        ("fsn1:bp-cilium", "pending"),
        ("fsn1:bp-cert-manager", "pending"),
    ])
    .await;
    for (name, reason) in [
        ("bp-cilium", "InstallSucceeded"),
        ("bp-cert-manager", "InstallSucceeded"),
    ] {
        let status = json!({"status": {"observedGeneration": 1, "conditions": [{
            "type": "Ready", "status": "True", "reason": reason, "message": "done",
            "lastTransitionTime": "2025-01-01T00:00:00Z", "observedGeneration": 1}]}});
        hrs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
    wait(vec![
        ("fsn1:bp-cilium", "succeeded"),
        ("fsn1:bp-cert-manager", "succeeded"),
        ("fsn1", "succeeded"),
    ])
    .await;
    stop.cancel();
    task.await.unwrap();
}

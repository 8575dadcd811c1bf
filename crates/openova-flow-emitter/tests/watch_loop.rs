//! The whole emitter (`app::run`: kube-rs client, discovery, watchers,
//! engine, leader election, health) against the Kubernetes API test server
//! and the real in-process flow server.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use openova_flow_contract::sse::FrameParser;
use openova_flow_emitter::app::{self, Tuning};
use openova_flow_emitter::config::{Args, Config};
use openova_flow_emitter::health;
use openova_flow_emitter::metrics::{Metrics, ResyncReason};
use openova_flow_kube_testserver::{KubeTestServer, Settings};
use openova_flow_server::testing;
use serde_json::{Value, json};
use support::*;
use tokio_util::sync::CancellationToken;

const FLOW: &str = "dep-abc";
const HR_GROUP: &str = "helm.toolkit.fluxcd.io";
const HC_GROUP: &str = "source.toolkit.fluxcd.io";
const WAIT: Duration = Duration::from_secs(20);

async fn kube() -> KubeTestServer {
    let k = KubeTestServer::start_with(Settings {
        bookmark_interval: Duration::from_millis(100),
        ..Settings::default()
    })
    .await
    .unwrap();
    k.add_flux_kinds();
    k
}

fn tuning() -> Tuning {
    Tuning {
        discovery_retry: Duration::from_millis(200),
        shutdown_budget: Duration::from_secs(5),
        lease_duration: Duration::from_secs(2),
        lease_renew: Duration::from_millis(300),
        lease_retry: Duration::from_millis(200),
        lease_lost_after: Duration::from_millis(1200),
    }
}

struct Running {
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _kubeconfig: tempfile::NamedTempFile,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

fn config(
    flow_url: &str,
    kube: &KubeTestServer,
    edit: impl FnOnce(&mut Args),
) -> (Config, tempfile::NamedTempFile) {
    let kc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kc.path(), kube.kubeconfig_yaml("flux-system")).unwrap();
    let mut args = Args {
        flow_server_url: Some(flow_url.to_owned()),
        flow_id: Some(FLOW.into()),
        region_key: Some("fsn1".into()),
        emit_interval: Some("50ms".into()),
        kubeconfig: Some(kc.path().to_owned()),
        ..Args::default()
    };
    edit(&mut args);
    (Config::from_args(&args).unwrap(), kc)
}

async fn run_app(flow_url: &str, kube: &KubeTestServer, edit: impl FnOnce(&mut Args)) -> Running {
    let (cfg, kc) = config(flow_url, kube, edit);
    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let (m, s) = (metrics.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let client = app::kube_client(&cfg).await.unwrap();
        app::run(&cfg, client, m, s, &tuning()).await.unwrap();
    });
    Running {
        metrics,
        stop,
        task,
        _kubeconfig: kc,
    }
}

fn apply_hr(k: &KubeTestServer, o: Value) {
    k.apply(HR_GROUP, "helmreleases", o).unwrap();
}

async fn wait_statuses(url: &str, want: &[(&str, &str)]) -> Value {
    eventually(WAIT, &format!("server statuses {want:?}"), || async {
        let snap = snapshot(url, FLOW).await?;
        let st = statuses(&snap);
        want.iter()
            .all(|(id, s)| st.get(*id).map(String::as_str) == Some(*s))
            .then_some(snap)
    })
    .await
}

async fn wait_absent(url: &str, id: &str) -> Value {
    eventually(WAIT, &format!("{id} gone from the server"), || async {
        let snap = snapshot(url, FLOW).await?;
        (!statuses(&snap).contains_key(id)).then_some(snap)
    })
    .await
}

#[tokio::test]
async fn v2beta2_fallback_emits_the_same_nodes_acceptance_7() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    k.set_served(HR_GROUP, "v2", false);
    apply_hr(&k, hr("bp-cilium", SUCCEEDED, &[]));
    apply_hr(&k, hr("bp-cert-manager", RUNNING, &["bp-cilium"]));
    let app = run_app(&server.url(), &k, |_| {}).await;
    let snap = wait_statuses(
        &server.url(),
        &[
            ("fsn1:bp-cilium", "succeeded"),
            ("fsn1:bp-cert-manager", "running"),
            ("fsn1", "running"),
        ],
    )
    .await;
    assert!(rels(&snap).contains(&(
        "fsn1:bp-cilium".into(),
        "fsn1:bp-cert-manager".into(),
        "finish-to-start".into()
    )));
    assert_eq!(k.request_count("helm.toolkit.fluxcd.io/v2", "discovery"), 1);
    assert!(k.request_count("helm.toolkit.fluxcd.io/v2beta2", "discovery") >= 1);
    assert!(k.request_count("helmreleases", "watch") >= 1);
    app.stop().await;
}

#[tokio::test]
async fn watch_410_relists_and_deletes_what_vanished_meanwhile_acceptance_20() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    apply_hr(&k, hr("a", SUCCEEDED, &[]));
    apply_hr(&k, hr("b", RUNNING, &["a"]));
    let app = run_app(&server.url(), &k, |_| {}).await;
    wait_statuses(
        &server.url(),
        &[("fsn1:a", "succeeded"), ("fsn1:b", "running")],
    )
    .await;
    assert!(
        k.wait_until(WAIT, |k| k.active_watches("helmreleases") == 1)
            .await
    );

    // Live changes flow through the open watch.
    apply_hr(&k, hr("b", SUCCEEDED, &["a"]));
    wait_statuses(&server.url(), &[("fsn1:b", "succeeded")]).await;

    // A dropped connection resumes without a relist.
    let lists = k.request_count("helmreleases", "list");
    k.drop_watches();
    apply_hr(&k, hr("c", RUNNING, &["b"]));
    wait_statuses(&server.url(), &[("fsn1:c", "running")]).await;
    assert_eq!(k.request_count("helmreleases", "list"), lists);

    // Disconnected while `a` is deleted and history is compacted: the
    // re-watch gets 410 Gone, the watcher relists and `a` is deleted.
    k.pause_watches();
    k.drop_watches();
    assert!(
        k.wait_until(WAIT, |k| k.active_watches("helmreleases") == 0)
            .await
    );
    k.delete(HR_GROUP, "helmreleases", "flux-system", "a");
    apply_hr(&k, hr("c", SUCCEEDED, &["b"]));
    k.compact();
    k.resume_watches();
    let snap = wait_absent(&server.url(), "fsn1:a").await;
    let snap = if statuses(&snap)["fsn1:c"] == "succeeded" {
        snap
    } else {
        wait_statuses(&server.url(), &[("fsn1:c", "succeeded")]).await
    };
    assert!(k.request_count("helmreleases", "list") > lists);
    assert!(app.metrics.resyncs(ResyncReason::Relist) >= 1);
    // The dependency edge into a deleted node may dangle; the node is gone.
    assert!(
        rels(&snap)
            .iter()
            .all(|(f, _, t)| !(f == "fsn1:a" && t == "contains"))
    );
    app.stop().await;
}

#[tokio::test]
async fn helm_chart_failure_and_fix_acceptance_6() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    let mut release = hr("bp-x", SUCCEEDED, &[]);
    release["status"]["helmChart"] = json!("flux-system/flux-system-bp-x");
    apply_hr(&k, release);
    let chart = |status: &str, reason: &str, message: &str| {
        json!({
            "metadata": {"name": "flux-system-bp-x", "namespace": "flux-system"},
            "spec": {"chart": "bp-x"},
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message}],
                       "artifact": {"revision": "1.2.3@sha256:abc"}}
        })
    };
    k.apply(
        HC_GROUP,
        "helmcharts",
        chart("True", "ChartPullSucceeded", "pulled"),
    )
    .unwrap();
    let app = run_app(&server.url(), &k, |_| {}).await;
    let snap = wait_statuses(&server.url(), &[("fsn1:bp-x", "succeeded")]).await;
    let node = |snap: &Value| {
        snap["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == "fsn1:bp-x")
            .unwrap()
            .clone()
    };
    assert_eq!(node(&snap)["meta"]["chartVersion"], json!("1.2.3"));
    k.apply(
        HC_GROUP,
        "helmcharts",
        chart("False", "ChartPullFailed", "404 not found"),
    )
    .unwrap();
    let snap = wait_statuses(
        &server.url(),
        &[("fsn1:bp-x", "failed"), ("fsn1", "failed")],
    )
    .await;
    assert_eq!(node(&snap)["meta"]["reason"], json!("ChartPullFailed"));
    assert_eq!(node(&snap)["meta"]["message"], json!("404 not found"));
    k.apply(
        HC_GROUP,
        "helmcharts",
        chart("True", "ChartPullSucceeded", "pulled"),
    )
    .unwrap();
    let snap = wait_statuses(&server.url(), &[("fsn1:bp-x", "succeeded")]).await;
    assert_eq!(node(&snap)["meta"]["reason"], json!("InstallSucceeded"));
    app.stop().await;
}

#[tokio::test]
async fn without_helmcharts_served_the_emitter_runs_unrefined() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    k.set_served(HC_GROUP, "v1", false);
    k.set_served(HC_GROUP, "v1beta2", false);
    apply_hr(&k, hr("bp-a", SUCCEEDED, &[]));
    let app = run_app(&server.url(), &k, |_| {}).await;
    wait_statuses(&server.url(), &[("fsn1:bp-a", "succeeded")]).await;
    assert!(app.metrics.ready());
    app.stop().await;
}

#[tokio::test]
async fn readyz_waits_for_the_initial_lists_and_metrics_are_complete_acceptance_23() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    k.set_served(HR_GROUP, "v2", false);
    k.set_served(HR_GROUP, "v2beta2", false);
    apply_hr(&k, hr("bp-a", SUCCEEDED, &[]));
    let app = run_app(&server.url(), &k, |_| {}).await;
    let listener = health::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hstop = CancellationToken::new();
    tokio::spawn(health::serve(listener, app.metrics.clone(), hstop.clone()));
    let get = |path: &'static str| {
        let base = base.clone();
        async move {
            let r = http().get(format!("{base}{path}")).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok\n".to_owned()));
    // HelmRelease not served: never synced, not ready, nothing posted.
    assert!(
        k.wait_until(WAIT, |k| k
            .request_count("helm.toolkit.fluxcd.io/v2beta2", "discovery")
            >= 2)
            .await
    );
    assert_eq!(get("/readyz").await.0, 503);
    assert!(snapshot(&server.url(), FLOW).await.is_none());
    // Served later: discovery retry finds it.
    k.set_served(HR_GROUP, "v2", true);
    wait_statuses(&server.url(), &[("fsn1:bp-a", "succeeded")]).await;
    assert_eq!(get("/readyz").await.0, 200);
    let (code, text) = get("/metrics").await;
    assert_eq!(code, 200);
    for name in [
        "openova_flow_emitter_posts_total{type=\"upsert-nodes\",outcome=\"ok\"}",
        "openova_flow_emitter_retries_total",
        "openova_flow_emitter_queue_depth 0",
        "openova_flow_emitter_watched_objects{kind=\"HelmRelease\"} 1",
        "openova_flow_emitter_watched_objects{kind=\"HelmChart\"} 0",
        "openova_flow_emitter_last_success_timestamp_seconds",
        "openova_flow_emitter_resyncs_total{reason=\"relist\"}",
        "\nopenova_flow_emitter_leader 1\n",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    hstop.cancel();
    app.stop().await;
}

/// Reads SSE frames from the flow server and records, per node id, the
/// order in which nodes were first seen `succeeded`.
async fn subscribe_succeeded(url: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let resp = http()
        .get(format!("{url}/v1/flows/{FLOW}/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::spawn(async move {
        let mut parser = FrameParser::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut body = resp.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            for frame in parser.push(&chunk) {
                let Ok(v) = serde_json::from_str::<Value>(&frame.data) else {
                    continue;
                };
                for n in v["nodes"].as_array().into_iter().flatten() {
                    let id = n["id"].as_str().unwrap_or_default().to_owned();
                    if n["status"] == "succeeded"
                        && id.starts_with("fsn1:")
                        && seen.insert(id.clone())
                    {
                        let _ = tx.send(id);
                    }
                }
            }
        }
    });
    rx
}

#[tokio::test]
async fn full_path_sse_subscriber_sees_nodes_succeed_in_dependency_order() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    let chain = [
        "bp-cilium",
        "bp-cert-manager",
        "bp-flux-web",
        "bp-openova-flow",
    ];
    for (i, name) in chain.iter().enumerate() {
        let deps: Vec<&str> = chain[..i].last().into_iter().copied().collect();
        let blocked = Some(("False", "DependencyNotReady"));
        apply_hr(&k, hr(name, if i == 0 { None } else { blocked }, &deps));
    }
    let mut seen = subscribe_succeeded(&server.url()).await;
    let app = run_app(&server.url(), &k, |_| {}).await;
    wait_statuses(
        &server.url(),
        &[
            ("fsn1:bp-cilium", "pending"),
            ("fsn1:bp-openova-flow", "pending"),
        ],
    )
    .await;
    // Flux reconciles in dependency order: each release turns Ready only
    // after the emitter's update for its dependency reached subscribers.
    let mut order = Vec::new();
    for (i, name) in chain.iter().enumerate() {
        let deps: Vec<&str> = chain[..i].last().into_iter().copied().collect();
        apply_hr(&k, hr(name, RUNNING, &deps));
        apply_hr(&k, hr(name, SUCCEEDED, &deps));
        let id = tokio::time::timeout(WAIT, seen.recv())
            .await
            .unwrap()
            .unwrap();
        order.push(id);
    }
    let want: Vec<String> = chain.iter().map(|n| format!("fsn1:{n}")).collect();
    assert_eq!(order, want);
    let snap = wait_statuses(&server.url(), &[("fsn1", "succeeded")]).await;
    for w in chain.windows(2) {
        assert!(rels(&snap).contains(&(
            format!("fsn1:{}", w[0]),
            format!("fsn1:{}", w[1]),
            "finish-to-start".into()
        )));
    }
    app.stop().await;
}

/// An emitter in its own runtime, so a test can kill it outright (no
/// graceful shutdown, lease not released), like a crashed pod.
struct Pod {
    runtime: Option<tokio::runtime::Runtime>,
    metrics: Arc<Metrics>,
    _kubeconfig: tempfile::NamedTempFile,
}

impl Pod {
    fn start(flow_url: &str, k: &KubeTestServer, name: &str) -> Pod {
        let (cfg, kc) = config(flow_url, k, |a| {
            a.lease_name = Some("openova-flow-emitter".into());
            a.pod_name = Some(name.into());
        });
        let metrics = Arc::new(Metrics::new());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let m = metrics.clone();
        runtime.spawn(async move {
            let client = app::kube_client(&cfg).await.unwrap();
            let _ = app::run(&cfg, client, m, CancellationToken::new(), &tuning()).await;
        });
        Pod {
            runtime: Some(runtime),
            metrics,
            _kubeconfig: kc,
        }
    }

    fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    fn leader(&self) -> bool {
        self.metrics.is_leader()
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn leader_election_one_poster_standby_takes_over_acceptance_22() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    apply_hr(&k, hr("bp-a", SUCCEEDED, &[]));
    let proxy_a = FaultProxy::start(&server.url()).await;
    let proxy_b = FaultProxy::start(&server.url()).await;
    let mut a = Pod::start(&proxy_a.url(), &k, "pod-a");
    wait_statuses(&server.url(), &[("fsn1:bp-a", "succeeded")]).await;
    assert!(a.leader());
    let b = Pod::start(&proxy_b.url(), &k, "pod-b");
    // The standby is ready, idle and posts nothing while a holds the lease.
    eventually(WAIT, "standby ready", || async {
        b.metrics.ready().then_some(())
    })
    .await;
    apply_hr(&k, hr("bp-b", RUNNING, &["bp-a"]));
    wait_statuses(&server.url(), &[("fsn1:bp-b", "running")]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!b.leader());
    assert!(
        proxy_b.log().is_empty(),
        "standby made requests: {:?}",
        proxy_b.log()
    );
    assert!(k.request_count("helmreleases", "watch") >= 1);
    let lease = k
        .get(
            "coordination.k8s.io",
            "leases",
            "flux-system",
            "openova-flow-emitter",
        )
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], json!("pod-a"));

    // Kill the holder: b takes over within lease duration + retry period and
    // resyncs (its first flush re-sends the region).
    a.kill();
    let killed = tokio::time::Instant::now();
    apply_hr(&k, hr("bp-b", SUCCEEDED, &["bp-a"]));
    eventually(WAIT, "b accepted posts", || async {
        proxy_b
            .accepted_posts()
            .iter()
            .any(|r| r.msg_type() == Some("upsert-nodes"))
            .then_some(())
    })
    .await;
    let took = killed.elapsed();
    wait_statuses(
        &server.url(),
        &[("fsn1:bp-b", "succeeded"), ("fsn1", "succeeded")],
    )
    .await;
    assert!(b.leader());
    assert_eq!(b.metrics.resyncs(ResyncReason::Leader), 1);
    let t = tuning();
    println!(
        "standby took over and posted {} ms after the holder was killed",
        took.as_millis()
    );
    assert!(
        took < t.lease_duration + t.lease_retry + Duration::from_secs(3),
        "{took:?}"
    );
    let lease = k
        .get(
            "coordination.k8s.io",
            "leases",
            "flux-system",
            "openova-flow-emitter",
        )
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], json!("pod-b"));
}

#[tokio::test]
async fn graceful_stop_of_the_holder_releases_the_lease() {
    let server = testing::start(&[]).await.unwrap();
    let k = kube().await;
    apply_hr(&k, hr("bp-a", SUCCEEDED, &[]));
    let app = run_app(&server.url(), &k, |a| {
        a.lease_name = Some("emitter".into());
        a.pod_name = Some("pod-a".into());
    })
    .await;
    wait_statuses(&server.url(), &[("fsn1:bp-a", "succeeded")]).await;
    app.stop().await;
    let lease = k
        .get("coordination.k8s.io", "leases", "flux-system", "emitter")
        .unwrap();
    assert!(
        lease["spec"]
            .get("holderIdentity")
            .is_none_or(Value::is_null)
    );
}

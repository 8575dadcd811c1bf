//! The emission engine against the real flow server (in-process, on
//! 127.0.0.1:0) behind a recording, fault-injecting proxy.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use openova_flow_emitter::client::HttpFlowClient;
use openova_flow_emitter::engine::{Engine, EngineSettings, FlushEnd};
use openova_flow_emitter::graph::{MAX_ENVELOPE_BYTES, is_owned_id};
use openova_flow_emitter::mapper::MapContext;
use openova_flow_emitter::metrics::{Metrics, PostOutcomeLabel, ResyncReason};
use openova_flow_emitter::model::HelmRelease;
use openova_flow_emitter::region::{DesiredSource, Event, Region, SharedRegion, system_clock};
use openova_flow_server::testing::{self, TestServer};
use serde_json::{Value, json};
use support::*;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const FLOW: &str = "dep-abc";
const WAIT: Duration = Duration::from_secs(20);

type TestEngine = Engine<HttpFlowClient, SharedRegion>;

struct Emitter {
    region: Arc<SharedRegion>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    task: JoinHandle<TestEngine>,
}

impl Emitter {
    fn start(url: &str, region_key: &str, tweak: impl FnOnce(&mut EngineSettings)) -> Self {
        let metrics = Arc::new(Metrics::new());
        let region = SharedRegion::new(
            Region::new(MapContext::new(region_key, FLOW, false), system_clock()),
            metrics.clone(),
        );
        let mut settings = EngineSettings::new(FLOW, region_key);
        settings.emit_interval = Duration::from_millis(50);
        settings.resync_interval = Duration::from_secs(3600);
        tweak(&mut settings);
        let client = HttpFlowClient::new(url, FLOW, None, Duration::from_secs(5)).unwrap();
        let mut engine = Engine::new(settings, client, region.clone(), metrics.clone(), None);
        let stop = CancellationToken::new();
        let s = stop.clone();
        let task = tokio::spawn(async move {
            engine.run(&s).await;
            engine
        });
        Emitter {
            region,
            metrics,
            stop,
            task,
        }
    }

    fn sync(&self, objects: &[Value]) {
        self.region.release_event(Event::Init);
        for o in objects {
            self.region
                .release_event(Event::InitApply(HelmRelease::from_value(o)));
        }
        self.region.release_event(Event::InitDone);
        self.region.chart_event(Event::Init);
        self.region.chart_event(Event::InitDone);
    }

    fn apply(&self, o: &Value) {
        self.region
            .release_event(Event::Apply(HelmRelease::from_value(o)));
    }

    fn delete(&self, o: &Value) {
        self.region
            .release_event(Event::Delete(HelmRelease::from_value(o)));
    }

    async fn stop(self) -> TestEngine {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

async fn server_and_proxy() -> (TestServer, FaultProxy) {
    let server = testing::start(&[]).await.unwrap();
    let proxy = FaultProxy::start(&server.url()).await;
    (server, proxy)
}

/// Waits until the server's statuses for `region` equal `want` (by id).
async fn wait_statuses(server_url: &str, want: &[(&str, &str)]) -> Value {
    eventually(WAIT, &format!("server statuses {want:?}"), || async {
        let snap = snapshot(server_url, FLOW).await?;
        let st = statuses(&snap);
        want.iter()
            .all(|(id, s)| st.get(*id).map(String::as_str) == Some(*s))
            .then_some(snap)
    })
    .await
}

/// Waits until the server holds exactly the emitter's desired graph.
async fn wait_converged(server_url: &str, e: &Emitter) -> Value {
    let desired = e.region.desired().unwrap();
    eventually(WAIT, "server equals desired state", || {
        let desired = desired.clone();
        async move {
            let snap = snapshot(server_url, FLOW).await?;
            let region = desired
                .nodes
                .keys()
                .next()
                .map(|id| id.split(':').next().unwrap().to_owned())?;
            let nodes: Vec<&Value> = snap["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["region"] == json!(region))
                .filter(|n| {
                    let id = n["id"].as_str().unwrap();
                    id == region || is_owned_id(id, &region)
                })
                .collect();
            let same_nodes = nodes.len() == desired.nodes.len()
                && nodes.iter().all(|n| {
                    desired
                        .nodes
                        .get(n["id"].as_str().unwrap())
                        .is_some_and(|d| {
                            serde_json::from_slice::<Value>(
                                &openova_flow_contract::canonical::to_vec(d),
                            )
                            .unwrap()
                                == **n
                        })
                });
            let server_rels: std::collections::BTreeSet<_> = rels(&snap)
                .into_iter()
                .filter(|(f, t, ty)| match ty.as_str() {
                    "contains" => is_owned_id(f, &region),
                    _ => is_owned_id(t, &region),
                })
                .collect();
            let want_rels: std::collections::BTreeSet<_> = desired
                .edges
                .keys()
                .map(|k| {
                    (
                        k.from_id.clone(),
                        k.to_id.clone(),
                        k.rel_type.as_str().to_owned(),
                    )
                })
                .collect();
            (same_nodes && server_rels == want_rels).then_some(snap)
        }
    })
    .await
}

fn types(posts: &[Recorded]) -> Vec<String> {
    posts
        .iter()
        .map(|r| r.msg_type().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn startup_posts_upsert_flow_first_then_nodes_and_edges_acceptance_9() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    // Nothing may be sent before the initial lists are synced.
    e.region.release_event(Event::Init);
    e.region
        .release_event(Event::InitApply(HelmRelease::from_value(&hr(
            "bp-cilium",
            SUCCEEDED,
            &[],
        ))));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(proxy.log().is_empty(), "nothing before InitDone");
    e.region.release_event(Event::InitDone);
    e.region.charts_unavailable();
    wait_statuses(
        &server.url(),
        &[("fsn1:bp-cilium", "succeeded"), ("fsn1", "succeeded")],
    )
    .await;
    // Nodes and edges travel in separate POSTs: wait for the whole graph
    // (edges included) before looking at what was posted.
    let snap = wait_converged(&server.url(), &e).await;
    assert_eq!(snap["flow"]["id"], json!(FLOW));
    assert_eq!(snap["flow"]["status"], json!("running"));
    assert_eq!(
        snap["flow"]["meta"]["emittedBy"],
        json!("openova-flow-emitter")
    );
    let log = proxy.log();
    assert_eq!(log[0].method, "GET");
    assert!(log[0].path.ends_with("/snapshot"));
    assert_eq!(log[0].status, 404);
    assert_eq!(
        types(&proxy.posts()),
        ["upsert-flow", "upsert-nodes", "upsert-rels"]
    );
    assert_eq!(
        rels(&snap),
        [(
            "fsn1:bp-cilium".to_owned(),
            "fsn1".to_owned(),
            "contains".to_owned()
        )]
    );

    // A second emitter start against the known flow posts no flow object.
    e.stop().await;
    proxy.clear();
    let e2 = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e2.sync(&[
        hr("bp-cilium", SUCCEEDED, &[]),
        hr("bp-cert-manager", RUNNING, &["bp-cilium"]),
    ]);
    wait_converged(&server.url(), &e2).await;
    assert!(!types(&proxy.posts()).contains(&"upsert-flow".to_owned()));
    proxy.assert_no_snapshot_posted();
}

#[tokio::test]
async fn ten_changes_in_one_window_are_one_upsert_with_the_last_status_acceptance_12() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |s| {
        s.emit_interval = Duration::from_millis(400)
    });
    // A failed sibling pins the region rollup, so only `x` changes.
    e.sync(&[
        hr("x", RUNNING, &[]),
        hr("y", Some(("False", "InstallFailed")), &[]),
    ]);
    wait_converged(&server.url(), &e).await;
    proxy.clear();
    let statuses = [
        ("False", "Progressing"),
        ("Unknown", "Progressing"),
        ("False", "UpgradeFailed"),
    ];
    for i in 0..9 {
        e.apply(&hr("x", Some(statuses[i % 3]), &[]));
    }
    e.apply(&hr("x", SUCCEEDED, &[]));
    wait_statuses(&server.url(), &[("fsn1:x", "succeeded")]).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let posts = proxy.posts();
    assert_eq!(types(&posts), ["upsert-nodes"]);
    let nodes = posts[0].body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["id"], json!("fsn1:x"));
    assert_eq!(nodes[0]["status"], json!("succeeded"));

    // A change that leaves the mapped output unchanged posts nothing.
    proxy.clear();
    let mut same = hr("x", SUCCEEDED, &[]);
    same["metadata"]["annotations"] = json!({"reconcile.fluxcd.io/requestedAt": "now"});
    same["status"]["lastHandledReconcileAt"] = json!("now");
    e.apply(&same);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(proxy.posts().is_empty());
}

#[tokio::test]
async fn edges_shrink_and_deletes_in_order_acceptance_14_15() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[
        hr("a", SUCCEEDED, &[]),
        hr("b", RUNNING, &["a"]),
        hr("c", SUCCEEDED, &["a", "b"]),
    ]);
    wait_converged(&server.url(), &e).await;
    assert_eq!(
        statuses(&snapshot(&server.url(), FLOW).await.unwrap())["fsn1"],
        "running"
    );

    // Removing one dependsOn entry: exactly one delete-rels with that pair.
    proxy.clear();
    e.apply(&hr("c", SUCCEEDED, &["a"]));
    let snap = wait_converged(&server.url(), &e).await;
    let posts = proxy.posts();
    assert_eq!(types(&posts), ["delete-rels"]);
    assert_eq!(
        posts[0].body["pairs"],
        json!([{"fromId": "fsn1:b", "toId": "fsn1:c", "type": "finish-to-start"}])
    );
    assert!(!rels(&snap).contains(&("fsn1:b".into(), "fsn1:c".into(), "finish-to-start".into())));

    // Deleting the only running HR: the region node turns succeeded (an
    // upsert first), then delete-nodes with its id only — no delete-rels.
    proxy.clear();
    e.delete(&hr("b", RUNNING, &["a"]));
    let snap = wait_converged(&server.url(), &e).await;
    let posts = proxy.posts();
    assert_eq!(types(&posts), ["upsert-nodes", "delete-nodes"]);
    assert_eq!(posts[0].body["nodes"][0]["id"], json!("fsn1"));
    assert_eq!(posts[0].body["nodes"][0]["status"], json!("succeeded"));
    assert_eq!(posts[1].body["ids"], json!(["fsn1:b"]));
    assert!(
        rels(&snap)
            .iter()
            .all(|(f, t, _)| f != "fsn1:b" && t != "fsn1:b")
    );
    proxy.assert_no_snapshot_posted();
}

#[tokio::test]
async fn outage_of_five_503s_ends_in_the_latest_state_acceptance_16() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[hr("a", RUNNING, &[]), hr("b", RUNNING, &["a"])]);
    wait_converged(&server.url(), &e).await;
    proxy.push_faults((0..5).map(|_| support::Fault::Status(503)));
    e.apply(&hr("a", SUCCEEDED, &[]));
    // Changes made during the outage are included.
    eventually(WAIT, "first 503", || async {
        proxy.log().iter().any(|r| r.status == 503).then_some(())
    })
    .await;
    e.apply(&hr("b", Some(("False", "UpgradeFailed")), &["a"]));
    e.apply(&hr("c", RUNNING, &["b"]));
    e.delete(&hr("a", SUCCEEDED, &[]));
    let snap = wait_converged(&server.url(), &e).await;
    assert_eq!(proxy.posts().iter().filter(|r| r.status == 503).count(), 5);
    assert!(e.metrics.retries() >= 5);
    assert!(e.metrics.posts("upsert-nodes", PostOutcomeLabel::Retried) >= 1);
    let st = statuses(&snap);
    assert!(!st.contains_key("fsn1:a"));
    assert_eq!(st["fsn1:b"], "failed");
    assert_eq!(st["fsn1:c"], "running");
    assert_eq!(st["fsn1"], "failed");
}

#[tokio::test]
async fn retry_after_is_honoured_acceptance_17() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[hr("a", RUNNING, &[])]);
    wait_converged(&server.url(), &e).await;
    proxy.push_faults([support::Fault::TooMany("2")]);
    e.apply(&hr("a", SUCCEEDED, &[]));
    wait_converged(&server.url(), &e).await;
    let posts = proxy.posts();
    let i = posts.iter().position(|r| r.status == 429).unwrap();
    let gap = posts[i + 1].at - posts[i].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
}

#[tokio::test]
async fn a_400_is_dropped_not_retried_and_later_changes_flow_acceptance_18() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[
        hr("a", RUNNING, &[]),
        hr("b", Some(("False", "InstallFailed")), &[]),
    ]);
    wait_converged(&server.url(), &e).await;
    proxy.clear();
    proxy.push_faults([support::Fault::Status(400)]);
    e.apply(&hr("a", Some(("False", "Upgrading")), &[]));
    eventually(WAIT, "rejected metric", || async {
        (e.metrics.posts("upsert-nodes", PostOutcomeLabel::Rejected) == 1).then_some(())
    })
    .await;
    e.apply(&hr("a", SUCCEEDED, &[]));
    wait_statuses(&server.url(), &[("fsn1:a", "succeeded")]).await;
    let posts = proxy.posts();
    assert_eq!(
        posts.len(),
        2,
        "the rejected batch was not retried: {:?}",
        types(&posts)
    );
    assert_eq!(posts[0].status, 400);
    assert_eq!(posts[1].status, 200);
    assert!(e.metrics.render().contains("outcome=\"rejected\"} 1"));
}

#[tokio::test]
async fn dropped_connection_and_slow_server_are_retried() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    proxy.push_faults([
        support::Fault::Delay(Duration::from_millis(300)),
        support::Fault::Drop,
    ]);
    e.sync(&[hr("a", RUNNING, &[]), hr("b", RUNNING, &["a"])]);
    wait_converged(&server.url(), &e).await;
    assert!(e.metrics.retries() >= 1);
    proxy.assert_no_snapshot_posted();
}

#[tokio::test]
async fn server_restart_empty_is_repaired_after_the_next_post_acceptance_19() {
    let (server, proxy) = server_and_proxy().await;
    let addr = server.addr;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[hr("a", SUCCEEDED, &[]), hr("b", RUNNING, &["a"])]);
    wait_converged(&server.url(), &e).await;
    server.stop().await;
    let server = testing::start_on(addr, &[]).await.unwrap();
    assert!(snapshot(&server.url(), FLOW).await.is_none());
    e.apply(&hr("b", SUCCEEDED, &["a"]));
    let snap = wait_converged(&server.url(), &e).await;
    assert_eq!(
        snap["flow"]["meta"]["emittedBy"],
        json!("openova-flow-emitter")
    );
    assert_eq!(e.metrics.resyncs(ResyncReason::Epoch), 1);
    proxy.assert_no_snapshot_posted();
}

#[tokio::test]
async fn server_restart_empty_is_repaired_by_the_resync_interval_acceptance_19() {
    let (server, proxy) = server_and_proxy().await;
    let addr = server.addr;
    let e = Emitter::start(&proxy.url(), "fsn1", |s| {
        s.resync_interval = Duration::from_millis(700)
    });
    e.sync(&[hr("a", SUCCEEDED, &[]), hr("b", RUNNING, &["a"])]);
    wait_converged(&server.url(), &e).await;
    server.stop().await;
    let server = testing::start_on(addr, &[]).await.unwrap();
    let snap = wait_converged(&server.url(), &e).await;
    assert_eq!(snap["flow"]["status"], json!("running"));
    assert!(e.metrics.resyncs(ResyncReason::Interval) >= 1);
}

async fn post_raw(url: &str, body: Value) {
    let r = http()
        .post(format!("{url}/v1/flows/{FLOW}/events"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test]
async fn startup_prunes_owned_leftovers_only_acceptance_21() {
    let (server, proxy) = server_and_proxy().await;
    post_raw(
        &server.url(),
        json!({"type": "upsert-flow", "flow": {"id": FLOW, "status": "running", "startedAt": 5}}),
    )
    .await;
    post_raw(&server.url(), json!({"type": "upsert-nodes", "nodes": [
        {"id": "fsn1:bp-gone", "flowId": FLOW, "label": "bp-gone", "status": "succeeded", "region": "fsn1"},
        {"id": "fsn1:sandbox:x", "flowId": FLOW, "label": "x", "status": "running", "region": "fsn1"},
        {"id": "hel1:bp-gone", "flowId": FLOW, "label": "bp-gone", "status": "running", "region": "hel1"}
    ]})).await;
    post_raw(
        &server.url(),
        json!({"type": "upsert-rels", "relationships": [
            {"fromId": "fsn1:a", "toId": "fsn1:bp-gone", "type": "finish-to-start"},
            {"fromId": "fsn1:bp-a", "toId": "fsn1:sandbox:x", "type": "finish-to-start"}
        ]}),
    )
    .await;
    let e = Emitter::start(&proxy.url(), "fsn1", |_| {});
    e.sync(&[hr("bp-a", SUCCEEDED, &[])]);
    let snap = wait_converged(&server.url(), &e).await;
    let st = statuses(&snap);
    assert!(!st.contains_key("fsn1:bp-gone"));
    assert!(st.contains_key("fsn1:sandbox:x"));
    assert!(st.contains_key("hel1:bp-gone"));
    assert_eq!(
        snap["flow"]["startedAt"],
        json!(5),
        "known flow: no upsert-flow"
    );
    assert!(rels(&snap).contains(&(
        "fsn1:bp-a".into(),
        "fsn1:sandbox:x".into(),
        "finish-to-start".into()
    )));
    assert!(!types(&proxy.posts()).contains(&"upsert-flow".to_owned()));
}

#[tokio::test]
async fn two_regions_share_one_flow_and_never_erase_each_other_acceptance_11() {
    let (server, proxy) = server_and_proxy().await;
    let fsn = Emitter::start(&proxy.url(), "fsn1", |_| {});
    let hel = Emitter::start(&proxy.url(), "hel1-1", |_| {});
    fsn.sync(&[
        hr("bp-cilium", SUCCEEDED, &[]),
        hr("bp-cert-manager", RUNNING, &["bp-cilium"]),
    ]);
    hel.sync(&[hr("bp-cilium", RUNNING, &[])]);
    wait_converged(&server.url(), &fsn).await;
    wait_converged(&server.url(), &hel).await;
    // fsn1 relists (resync) and then restarts: hel1-1's nodes stay.
    fsn.sync(&[hr("bp-cilium", SUCCEEDED, &[])]);
    wait_converged(&server.url(), &fsn).await;
    assert_eq!(fsn.metrics.resyncs(ResyncReason::Relist), 1);
    fsn.stop().await;
    let fsn = Emitter::start(&proxy.url(), "fsn1", |_| {});
    fsn.sync(&[hr("bp-cilium", SUCCEEDED, &[])]);
    wait_converged(&server.url(), &fsn).await;
    let snap = wait_converged(&server.url(), &hel).await;
    let st = statuses(&snap);
    assert_eq!(st["hel1-1:bp-cilium"], "running");
    assert_eq!(st["hel1-1"], "running");
    assert_eq!(st["fsn1:bp-cilium"], "succeeded");
    assert!(!st.contains_key("fsn1:bp-cert-manager"));
    proxy.assert_no_snapshot_posted();
}

#[tokio::test]
async fn shutdown_flush_posts_pending_changes_once_acceptance_24() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |s| {
        s.emit_interval = Duration::from_secs(30)
    });
    e.sync(&[hr("a", RUNNING, &[])]);
    let region = e.region.clone();
    let mut engine = e.stop().await;
    // Nothing was flushed yet (30 s window); the shutdown flush sends it all.
    assert!(proxy.posts().is_empty());
    region.release_event(Event::Apply(HelmRelease::from_value(&hr(
        "a",
        SUCCEEDED,
        &[],
    ))));
    let started = Instant::now();
    assert_eq!(engine.shutdown_flush().await, FlushEnd::Done);
    assert!(started.elapsed() < Duration::from_secs(5));
    let st = statuses(&snapshot(&server.url(), FLOW).await.unwrap());
    assert_eq!(st["fsn1:a"], "succeeded");
    // Without a server, the shutdown flush gives up within its budget.
    server.stop().await;
    region.release_event(Event::Apply(HelmRelease::from_value(&hr(
        "a",
        RUNNING,
        &[],
    ))));
    let started = Instant::now();
    assert_eq!(engine.shutdown_flush().await, FlushEnd::GaveUp);
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn thousand_releases_reach_the_server_in_at_most_20_posts_acceptance_13() {
    let (server, proxy) = server_and_proxy().await;
    let e = Emitter::start(&proxy.url(), "fsn1", |s| {
        s.emit_interval = Duration::from_millis(200)
    });
    let objects: Vec<Value> = (0..1000)
        .map(|i| {
            let deps: Vec<String> = [i / 2, i / 3]
                .into_iter()
                .filter(|d| *d < i)
                .map(|d| format!("bp-app-{d:04}"))
                .collect();
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            let mut o = hr(
                &format!("bp-app-{i:04}"),
                if i % 3 == 0 { RUNNING } else { SUCCEEDED },
                &deps,
            );
            o["metadata"]["labels"] =
                json!({"catalyst.openova.io/family": format!("family-{}", i % 17)});
            o
        })
        .collect();
    let started = Instant::now();
    e.sync(&objects);
    let snap = wait_converged(&server.url(), &e).await;
    let elapsed = started.elapsed();
    let posts = proxy.accepted_posts();
    assert_eq!(snap["nodes"].as_array().unwrap().len(), 1001);
    let contains = rels(&snap).iter().filter(|r| r.2 == "contains").count();
    assert_eq!(contains, 1000);
    assert!(posts.len() <= 20, "{} POSTs", posts.len());
    for p in &posts {
        assert!(
            p.raw_len <= MAX_ENVELOPE_BYTES,
            "envelope of {} bytes",
            p.raw_len
        );
    }
    let bytes: usize = posts.iter().map(|p| p.raw_len).sum();
    let last_accepted = posts.last().unwrap().at - started;
    let edges = rels(&snap).len();
    println!(
        "BENCH emitter 1000 HelmReleases: {} POSTs ({} bytes, {} relationships), last POST accepted {} ms after InitDone (EMIT_INTERVAL 200ms window included; converged snapshot seen after {} ms)",
        posts.len(),
        bytes,
        edges,
        last_accepted.as_millis(),
        elapsed.as_millis()
    );
    proxy.clear();

    // Status change → server latency (recorded, not asserted).
    let mut lat = Vec::new();
    for round in 0..20 {
        let name = format!("bp-app-{:04}", round * 3);
        let mark = proxy.posts().len();
        let t0 = Instant::now();
        e.apply(&hr(
            &name,
            if round % 2 == 0 { SUCCEEDED } else { RUNNING },
            &[],
        ));
        let t1 = eventually(WAIT, "change posted", || async {
            proxy
                .posts()
                .get(mark)
                .filter(|r| r.status == 200)
                .map(|r| r.at)
        })
        .await;
        lat.push(t1 - t0);
        wait_converged(&server.url(), &e).await;
    }
    lat.sort();
    println!(
        "BENCH emitter status change -> server accepted: p50 {} ms, max {} ms over {} changes (EMIT_INTERVAL 200ms)",
        lat[lat.len() / 2].as_millis(),
        lat[lat.len() - 1].as_millis(),
        lat.len()
    );
}

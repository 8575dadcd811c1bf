//! kube-rs's real client and runtime watcher against the test server.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::ApiResource;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, ResourceExt};
use openova_flow_kube_testserver::{KubeTestServer, Settings};
use serde_json::json;

const G: &str = "helm.toolkit.fluxcd.io";

fn client(server: &KubeTestServer) -> Client {
    let cfg = kube::Config::new(server.url().parse().unwrap());
    Client::try_from(cfg).unwrap()
}

fn hr_resource(version: &str) -> ApiResource {
    ApiResource {
        group: G.into(),
        version: version.into(),
        api_version: format!("{G}/{version}"),
        kind: "HelmRelease".into(),
        plural: "helmreleases".into(),
    }
}

fn hr(name: &str, ns: &str, reason: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"interval": "5m"},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": reason}]}
    })
}

async fn next_event(
    stream: &mut (impl futures::Stream<Item = Result<Event<DynamicObject>, watcher::Error>> + Unpin),
) -> Event<DynamicObject> {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("watch event within 10 s")
            .expect("stream continues");
        match item {
            Ok(ev) => return ev,
            Err(_) => continue, // recoverable watcher errors (410, drops)
        }
    }
}

fn reason(o: &DynamicObject) -> String {
    o.data["status"]["conditions"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn discovery_and_version_switching() {
    let server = KubeTestServer::start().await.unwrap();
    server.add_flux_kinds();
    let c = client(&server);
    let v = c.apiserver_version().await.unwrap();
    assert_eq!(v.major, "1");
    let groups = c.list_api_groups().await.unwrap();
    assert!(groups.groups.iter().any(|g| g.name == G));
    let res = c
        .list_api_group_resources(&format!("{G}/v2"))
        .await
        .unwrap();
    assert_eq!(res.resources[0].name, "helmreleases");
    server.set_served(G, "v2", false);
    let err = c
        .list_api_group_resources(&format!("{G}/v2"))
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 404));
    assert!(
        c.list_api_group_resources(&format!("{G}/v2beta2"))
            .await
            .is_ok()
    );
    // An unserved version also refuses lists.
    let api: Api<DynamicObject> =
        Api::namespaced_with(c.clone(), "flux-system", &hr_resource("v2"));
    assert!(api.list(&ListParams::default()).await.is_err());
}

#[tokio::test]
async fn paginated_list_is_a_consistent_snapshot() {
    let server = KubeTestServer::start().await.unwrap();
    server.add_flux_kinds();
    for i in 0..7 {
        server
            .apply(
                G,
                "helmreleases",
                hr(&format!("r{i}"), "flux-system", "Progressing"),
            )
            .unwrap();
    }
    server
        .apply(G, "helmreleases", hr("other", "apps", "Progressing"))
        .unwrap();
    let api: Api<DynamicObject> =
        Api::namespaced_with(client(&server), "flux-system", &hr_resource("v2"));
    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let rv = first.metadata.resource_version.clone().unwrap();
    // A change between pages does not leak into later pages.
    server
        .apply(G, "helmreleases", hr("r9", "flux-system", "x"))
        .unwrap();
    let mut names: Vec<String> = first.items.iter().map(|o| o.name_any()).collect();
    let mut token = first.metadata.continue_.clone();
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        let page = api
            .list(&ListParams::default().limit(3).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(page.metadata.resource_version.as_deref(), Some(rv.as_str()));
        names.extend(page.items.iter().map(|o| o.name_any()));
        token = page.metadata.continue_.clone();
    }
    assert_eq!(names, ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    assert_eq!(
        first.items[0].types.as_ref().unwrap().api_version,
        format!("{G}/v2")
    );
}

#[tokio::test]
async fn watcher_relists_after_410_and_resumes_after_drops() {
    let server = KubeTestServer::start_with(Settings {
        bookmark_interval: Duration::from_millis(50),
        ..Settings::default()
    })
    .await
    .unwrap();
    server.add_flux_kinds();
    server
        .apply(G, "helmreleases", hr("a", "flux-system", "Progressing"))
        .unwrap();
    server
        .apply(G, "helmreleases", hr("b", "flux-system", "Progressing"))
        .unwrap();
    let api: Api<DynamicObject> =
        Api::namespaced_with(client(&server), "flux-system", &hr_resource("v2beta2"));
    let mut stream = watcher(api, watcher::Config::default().page_size(1)).boxed();

    assert!(matches!(next_event(&mut stream).await, Event::Init));
    let mut listed = Vec::new();
    loop {
        match next_event(&mut stream).await {
            Event::InitApply(o) => listed.push(o.name_any()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(listed, ["a", "b"]);
    assert!(
        server.request_count("helmreleases", "list") >= 2,
        "paginated"
    );

    server
        .apply(
            G,
            "helmreleases",
            hr("a", "flux-system", "InstallSucceeded"),
        )
        .unwrap();
    match next_event(&mut stream).await {
        Event::Apply(o) => assert_eq!(
            (o.name_any(), reason(&o)),
            ("a".into(), "InstallSucceeded".into())
        ),
        other => panic!("unexpected {other:?}"),
    }

    // Bookmarks advance the watcher; then a dropped connection resumes
    // from the last resourceVersion without a relist.
    let lists = server.request_count("helmreleases", "list");
    let watches = server.request_count("helmreleases", "watch");
    server.drop_watches();
    // The stream is lazy: the drop is seen server-side, the change happens
    // while disconnected, and polling reconnects from the last version.
    assert!(
        server
            .wait_until(Duration::from_secs(5), |s| s.active_watches("helmreleases")
                == 0)
            .await
    );
    server
        .apply(G, "helmreleases", hr("b", "flux-system", "UpgradeFailed"))
        .unwrap();
    match next_event(&mut stream).await {
        Event::Apply(o) => assert_eq!(reason(&o), "UpgradeFailed"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(server.request_count("helmreleases", "watch") > watches);
    assert_eq!(
        server.request_count("helmreleases", "list"),
        lists,
        "no relist after a drop"
    );

    // Objects change while the watch is broken and history is compacted:
    // the re-watch gets 410 Gone and the watcher relists.
    server.delete(G, "helmreleases", "flux-system", "a");
    server
        .apply(G, "helmreleases", hr("c", "flux-system", "Progressing"))
        .unwrap();
    server.compact();
    server.drop_watches();
    assert!(matches!(next_event(&mut stream).await, Event::Init));
    let mut relisted = Vec::new();
    loop {
        match next_event(&mut stream).await {
            Event::InitApply(o) => relisted.push(o.name_any()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(relisted, ["b", "c"]);
    server.delete(G, "helmreleases", "flux-system", "b");
    match next_event(&mut stream).await {
        Event::Delete(o) => assert_eq!(o.name_any(), "b"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn leases_use_optimistic_concurrency() {
    let server = KubeTestServer::start().await.unwrap();
    let api: Api<Lease> = Api::namespaced(client(&server), "flux-system");
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("emitter".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("pod-a".into()),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        }),
    };
    let created = api.create(&PostParams::default(), &lease).await.unwrap();
    let dup = api
        .create(&PostParams::default(), &lease)
        .await
        .unwrap_err();
    assert!(matches!(dup, kube::Error::Api(s) if s.code == 409));
    let mut mine = created.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("pod-b".into());
    let updated = api
        .replace("emitter", &PostParams::default(), &mine)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    // A stale resourceVersion conflicts.
    let stale = api
        .replace("emitter", &PostParams::default(), &created)
        .await
        .unwrap_err();
    assert!(matches!(stale, kube::Error::Api(s) if s.code == 409));
    let got = api.get("emitter").await.unwrap();
    assert_eq!(got.spec.unwrap().holder_identity.as_deref(), Some("pod-b"));
    let missing = api.get("nope").await.unwrap_err();
    assert!(matches!(missing, kube::Error::Api(s) if s.code == 404));
    assert_eq!(server.request_count("leases", "update"), 2);
}

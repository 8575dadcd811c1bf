//! The page in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini) against a real flow server, and through the
//! real proxy.
//!
//! Needs Debian's `chromium` and `chromium-driver`. `cargo xtask ci` runs
//! this through its `ui-browser` gate with `OPENOVA_FLOW_REQUIRE_BROWSER=1`,
//! so a missing browser fails CI; a plain `cargo test` without them prints a
//! SKIP notice. Artefacts (screenshots) go to `<target>/ui-artefacts/`;
//! with `OPENOVA_FLOW_UPDATE_SCREENSHOTS=1` the README's screenshot
//! `docs/img/flow-multi-region.png` is rewritten too.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use openova_flow_server::testing::start;
use openova_flow_ui::{UiConfig, router_with};
use serde_json::{Value, json};

// ------------------------------------------------------------ browser

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// (chromium binary, chromedriver), or `None` after a SKIP notice.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/lib/chromium/chromium")).filter(|p| p.is_file()))
        .or_else(|| find_on_path("chromium"))
        .or_else(|| find_on_path("chromium-browser"));
    let driver = find_on_path("chromedriver")
        .or_else(|| Some(PathBuf::from("/usr/lib/chromium/chromedriver")).filter(|p| p.is_file()));
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            assert!(
                std::env::var("OPENOVA_FLOW_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "chromium/chromedriver not found but OPENOVA_FLOW_REQUIRE_BROWSER=1: \
                 apt-get install -y chromium chromium-driver"
            );
            eprintln!(
                "SKIP: chromium or chromedriver not installed; the browser tests did not run (apt-get install -y chromium chromium-driver)"
            );
            None
        }
    }
}

struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn launch(chromium: &Path, chromedriver: &Path) -> Browser {
    let port = free_port();
    let driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest_client()
            .get(format!("{url}/status"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not come up on {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1440,900".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": chromium, "args": args }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .unwrap();
    Browser {
        client,
        driver,
        _profile: profile,
    }
}

fn reqwest_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

// ------------------------------------------------------------ page helpers

/// Evaluates `expr` (a JS expression; `arguments[0]` = `arg`) until it is
/// truthy or `limit` passes; returns the last value.
async fn wait_for(c: &Client, expr: &str, arg: Value, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    let script = format!("return ({expr});");
    loop {
        let v = c.execute(&script, vec![arg.clone()]).await.unwrap();
        let truthy =
            !matches!(v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
        if truthy || Instant::now() >= deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eval(c: &Client, expr: &str, arg: Value) -> Value {
    c.execute(&format!("return ({expr});"), vec![arg])
        .await
        .unwrap()
}

const NODE_STATUS: &str = "(document.querySelector(`#nodes g.node[data-node-id=\"${arguments[0]}\"]`)?.dataset.status ?? null)";
const NODE_COUNT: &str = "document.querySelectorAll('#nodes g.node').length";
const CONN_STATE: &str = "document.getElementById('conn').dataset.state";

async fn post(base: &str, flow: &str, body: &Value) -> Value {
    let r = reqwest_client()
        .post(format!("{base}/v1/flows/{flow}/events"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{body}");
    r.json().await.unwrap()
}

async fn post_log_lines(base: &str, flow: &str, body: &Value) {
    let r = reqwest_client()
        .post(format!("{base}/v1/flows/{flow}/log-lines"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// ------------------------------------------------------------ flows

type Release<'a> = (&'a str, &'a str, &'a [&'a str]);

/// The emitter's shape (emitter.md §3–§5) for one region.
fn region_events(region: &str, releases: &[Release<'_>]) -> Vec<Value> {
    let mut nodes = vec![json!({
        "id": region, "label": region, "status": "running", "family": "region",
        "region": region, "meta": {"isGroup": true, "layout": "lane-vertical"}
    })];
    let mut rels = Vec::new();
    for (name, status, deps) in releases {
        let id = format!("{region}:{name}");
        let mut meta = json!({"namespace": "flux-system", "chart": name.trim_start_matches("bp-"), "chartVersion": "1.4.2"});
        match *status {
            "failed" => {
                meta["reason"] = json!("InstallFailed");
                meta["message"] = json!(
                    "Helm install failed for release flux-system/bp-harbor with chart harbor@1.4.2: context deadline exceeded"
                );
            }
            "running" => meta["reason"] = json!("Progressing"),
            "pending" => meta["reason"] = json!("DependencyNotReady"),
            _ => meta["reason"] = json!("InstallSucceeded"),
        }
        nodes.push(json!({
            "id": id, "label": name, "status": status, "family": name.trim_start_matches("bp-"),
            "region": region, "startedAt": 1_715_680_000_000_i64, "meta": meta
        }));
        rels.push(json!({"fromId": id, "toId": region, "type": "contains", "condition": "always"}));
        for d in *deps {
            rels.push(json!({"fromId": format!("{region}:{d}"), "toId": id, "type": "finish-to-start", "condition": "on-success"}));
        }
    }
    vec![
        json!({"type": "upsert-nodes", "nodes": nodes}),
        json!({"type": "upsert-rels", "relationships": rels}),
    ]
}

const FSN1: &[Release<'_>] = &[
    ("bp-cilium", "succeeded", &[]),
    ("bp-cert-manager", "succeeded", &["bp-cilium"]),
    ("bp-flux", "succeeded", &["bp-cilium"]),
    ("bp-external-secrets", "succeeded", &["bp-cert-manager"]),
    ("bp-cnpg", "succeeded", &["bp-cert-manager"]),
    (
        "bp-keycloak",
        "running",
        &["bp-cnpg", "bp-external-secrets"],
    ),
    ("bp-harbor", "running", &["bp-cnpg"]),
    ("bp-openova-flow", "pending", &["bp-keycloak"]),
    ("bp-console", "pending", &["bp-keycloak", "bp-harbor"]),
];

const HEL1: &[Release<'_>] = &[
    ("bp-cilium", "succeeded", &[]),
    ("bp-cert-manager", "succeeded", &["bp-cilium"]),
    ("bp-flux", "succeeded", &["bp-cilium"]),
    ("bp-external-secrets", "running", &["bp-cert-manager"]),
    ("bp-cnpg", "succeeded", &["bp-cert-manager"]),
    ("bp-harbor", "failed", &["bp-cnpg"]),
    (
        "bp-keycloak",
        "pending",
        &["bp-cnpg", "bp-external-secrets"],
    ),
    ("bp-console", "pending", &["bp-keycloak", "bp-harbor"]),
];

// ------------------------------------------------------------ hosts

/// Serves `app` on a loopback port of this process.
async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

fn artefact_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("ui-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ------------------------------------------------------------ scenarios

async fn live_multi_region_flow(c: &Client) {
    let server = start(&[]).await.unwrap();
    // The flow server itself serves the page (GET / for browsers, /flows/{id}).
    let base = server.url();
    let api = server.url();

    // GET / with a browser's Accept is the index page; open a flow from it.
    c.goto(&format!("{base}/")).await.unwrap();
    assert!(
        wait_for(
            c,
            "!document.getElementById('open-flow').hidden",
            json!(null),
            Duration::from_secs(5)
        )
        .await
        .as_bool()
        .unwrap()
    );
    let input = c.find(Locator::Id("open-id")).await.unwrap();
    input.send_keys("dep-7f3a").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    let path = wait_for(
        c,
        "location.pathname === '/flows/dep-7f3a' && location.pathname",
        json!(null),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(path, json!("/flows/dep-7f3a"));
    let live = wait_for(
        c,
        &format!("{CONN_STATE} === 'live'"),
        json!(null),
        Duration::from_secs(5),
    )
    .await;
    if live != json!(true) {
        std::fs::write(
            artefact_dir().join("debug.png"),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
        panic!("not live: {}", eval(c, "document.getElementById('conn').textContent + ' | ' + document.documentElement.dataset.error", json!(null)).await);
    }
    assert_eq!(
        eval(c, "document.getElementById('empty').hidden", json!(null)).await,
        json!(false)
    );

    // Nodes posted after the page connected appear live.
    post(&api, "dep-7f3a", &json!({"type":"upsert-flow","flow":{"id":"dep-7f3a","status":"running","startedAt":1_715_680_000_000_i64,"meta":{"emittedBy":"openova-flow-emitter"}}})).await;
    for ev in region_events("fsn1", FSN1)
        .iter()
        .chain(&region_events("hel1", HEL1))
    {
        post(&api, "dep-7f3a", ev).await;
    }
    let n = wait_for(
        c,
        &format!("{NODE_COUNT} === 17 && {NODE_COUNT}"),
        json!(null),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(n, json!(17), "9 + 8 releases; region nodes are lanes");
    let lanes = eval(
        c,
        "[...document.querySelectorAll('#lanes g.lane')].map(g => g.dataset.lane)",
        json!(null),
    )
    .await;
    assert_eq!(lanes, json!(["fsn1", "hel1"]));
    assert_eq!(
        eval(
            c,
            "document.querySelectorAll('#edges path.edge').length",
            json!(null)
        )
        .await,
        json!(10 + 9)
    );
    // Columns follow dependency depth: bp-console (depth 4 in fsn1) right of bp-cilium.
    let xs = eval(c, "['fsn1:bp-cilium','fsn1:bp-cnpg','fsn1:bp-keycloak','fsn1:bp-console'].map(id => document.querySelector(`g.node[data-node-id=\"${id}\"]`).transform.baseVal[0].matrix.e)", json!(null)).await;
    let xs: Vec<f64> = xs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
    // Header counts per region.
    let card = eval(
        c,
        "({...document.querySelector('.region-card[data-lane=\"hel1\"]').dataset})",
        json!(null),
    )
    .await;
    assert_eq!(card["total"], "8");
    assert_eq!(card["failed"], "1");
    assert_eq!(
        eval(
            c,
            "document.getElementById('overall').dataset.succeeded",
            json!(null)
        )
        .await,
        json!("9")
    );
    assert_eq!(
        eval(
            c,
            "document.getElementById('flow-status').textContent",
            json!(null)
        )
        .await,
        json!("running")
    );

    // A status change shows within a second of the POST being answered.
    post(&api, "dep-7f3a", &json!({"type":"upsert-nodes","nodes":[{"id":"fsn1:bp-keycloak","label":"bp-keycloak","status":"succeeded","region":"fsn1","meta":{"reason":"InstallSucceeded"}}]})).await;
    let t = Instant::now();
    let s = wait_for(
        c,
        &format!("{NODE_STATUS} === 'succeeded' && {NODE_STATUS}"),
        json!("fsn1:bp-keycloak"),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(s, json!("succeeded"), "status change not shown within 1 s");
    println!(
        "status change visible {} ms after the POST answered",
        t.elapsed().as_millis()
    );
    // Unknown statuses are drawn as pending.
    post(&api, "dep-7f3a", &json!({"type":"upsert-nodes","nodes":[{"id":"hel1:bp-console","label":"bp-console","status":"Unknown","region":"hel1"}]})).await;
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_STATUS} === 'pending' && {NODE_STATUS}"),
            json!("hel1:bp-console"),
            Duration::from_secs(1)
        )
        .await,
        json!("pending")
    );

    // Log lines of the failed node, shown in the side panel.
    post_log_lines(&api, "dep-7f3a", &json!({"lines":[
        {"nodeId":"hel1:bp-harbor","execId":"e-1","level":"info","message":"install started","occurredAt":1_715_680_000_000_i64},
        {"nodeId":"hel1:bp-harbor","execId":"e-1","level":"error","message":"timed out waiting for the condition","occurredAt":1_715_680_300_000_i64}
    ]})).await;

    // Keyboard only: focus the graph, jump to the next failed node, open it.
    let graph = c.find(Locator::Id("graph")).await.unwrap();
    graph.send_keys("f").await.unwrap();
    let key = wait_for(c, "!document.getElementById('details').hidden && document.getElementById('details').dataset.key", json!(null), Duration::from_secs(2)).await;
    assert_eq!(key, json!("dep-7f3a\u{0}hel1:bp-harbor"));
    let fields = eval(c, "Object.fromEntries([...document.querySelectorAll('#d-fields dd')].map(d => [d.dataset.field, d.textContent]))", json!(null)).await;
    assert_eq!(fields["reason"], "InstallFailed");
    assert!(
        fields["message"]
            .as_str()
            .unwrap()
            .contains("context deadline exceeded")
    );
    assert_eq!(fields["chart"], "harbor@1.4.2");
    assert_eq!(fields["started"], "2024-05-14T09:46:40Z");
    assert!(fields["status"].as_str().unwrap().contains("failed"));
    let logs = wait_for(c, "document.querySelectorAll('#d-log li').length === 2 && [...document.querySelectorAll('#d-log li')].map(l => l.textContent)", json!(null), Duration::from_secs(5)).await;
    assert!(
        logs[1]
            .as_str()
            .unwrap()
            .contains("ERROR timed out waiting"),
        "{logs}"
    );
    // Waiting-for of a pending node lists its unfinished dependencies.
    c.execute("document.querySelector('g.node[data-node-id=\"hel1:bp-keycloak\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))", vec![]).await.unwrap();
    let waiting = wait_for(c, "document.getElementById('details').dataset.key.endsWith('hel1:bp-keycloak') && [...document.querySelectorAll('#d-wait li')].map(l => l.textContent)", json!(null), Duration::from_secs(2)).await;
    assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
    assert!(
        waiting[0]
            .as_str()
            .unwrap()
            .starts_with("bp-external-secrets"),
        "{waiting}"
    );
    // Arrow keys move the selection; Escape closes the panel.
    let graph = c.find(Locator::Id("graph")).await.unwrap();
    graph.send_keys(&Key::Left.to_string()).await.unwrap();
    let sel = wait_for(
        c,
        "document.querySelector('#nodes g.node.selected')?.dataset.nodeId",
        json!(null),
        Duration::from_secs(1),
    )
    .await;
    // keycloak is row 1 of depth 3 (after harbor); row 1 of depth 2 is external-secrets.
    assert_eq!(
        sel,
        json!("hel1:bp-external-secrets"),
        "left moves to the same row of the previous column"
    );
    graph.send_keys(&Key::Escape.to_string()).await.unwrap();
    assert_eq!(
        wait_for(
            c,
            "document.getElementById('details').hidden",
            json!(null),
            Duration::from_secs(1)
        )
        .await,
        json!(true)
    );

    let png = c.screenshot().await.unwrap();
    std::fs::write(artefact_dir().join("flow-multi-region-live.png"), &png).unwrap();
    // The README picture: the failed node selected, its details open,
    // zoomed out one step so both lanes fit beside the panel.
    graph.send_keys("f").await.unwrap();
    graph.send_keys("-").await.unwrap();
    wait_for(
        c,
        "!document.getElementById('details').hidden",
        json!(null),
        Duration::from_secs(2),
    )
    .await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(artefact_dir().join("flow-multi-region.png"), &png).unwrap();
    if std::env::var("OPENOVA_FLOW_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("flow-multi-region.png"), &png).unwrap();
    }

    // Regions collapse (keyboard: the region card is a button).
    c.find(Locator::Css(".region-card[data-lane='fsn1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_COUNT} === 8 && {NODE_COUNT}"),
            json!(null),
            Duration::from_secs(1)
        )
        .await,
        json!(8)
    );
    c.find(Locator::Css(".region-card[data-lane='fsn1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_COUNT} === 17 && {NODE_COUNT}"),
            json!(null),
            Duration::from_secs(1)
        )
        .await,
        json!(17)
    );

    // DELETE ends the stream; the browser reconnects (Last-Event-ID of the old
    // epoch) and gets the new incarnation's snapshot.
    let before = eval(
        c,
        "document.getElementById('conn').dataset.lastEventId",
        json!(null),
    )
    .await;
    let r = reqwest_client()
        .delete(format!("{api}/v1/flows/dep-7f3a"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_COUNT} === 0"),
            json!(null),
            Duration::from_secs(10)
        )
        .await,
        json!(true)
    );
    let after = post(&api, "dep-7f3a", &json!({"type":"upsert-nodes","nodes":[{"id":"fsn1:bp-cilium","label":"bp-cilium","status":"running","region":"fsn1"}]})).await;
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_COUNT} === 1"),
            json!(null),
            Duration::from_secs(5)
        )
        .await,
        json!(true)
    );
    let now = eval(
        c,
        "document.getElementById('conn').dataset.lastEventId",
        json!(null),
    )
    .await;
    assert_ne!(before, now);
    assert_eq!(
        now,
        json!(format!("{}-1", after["epoch"].as_str().unwrap()))
    );
    server.stop().await;
}

async fn many_nodes(c: &Client) {
    let server = start(&[]).await.unwrap();
    // The flow server itself serves the page (GET / for browsers, /flows/{id}).
    let base = server.url();
    let api = server.url();
    for region in ["fsn1", "hel1", "nbg1", "ash1"] {
        let names: Vec<String> = (0..150).map(|i| format!("hr-{i:03}")).collect();
        let deps: Vec<Vec<String>> = (0..150)
            .map(|i: usize| {
                if i == 0 {
                    vec![]
                } else {
                    vec![format!("hr-{:03}", (i - 1) / 4)]
                }
            })
            .collect();
        let releases: Vec<Release<'_>> = names
            .iter()
            .zip(&deps)
            .enumerate()
            .map(|(i, (n, _))| {
                (
                    n.as_str(),
                    ["succeeded", "running", "pending", "failed"][i % 4],
                    &[][..],
                )
            })
            .collect();
        let mut evs = region_events(region, &releases);
        let rels: Vec<Value> = deps
            .iter()
            .enumerate()
            .flat_map(|(i, ds)| ds.iter().map(move |d| json!({"fromId": format!("{region}:{d}"), "toId": format!("{region}:hr-{i:03}"), "type": "finish-to-start"})))
            .collect();
        evs.push(json!({"type":"upsert-rels","relationships": rels}));
        for ev in &evs {
            post(&api, "big", ev).await;
        }
    }
    c.goto(&format!("{base}/flows/big")).await.unwrap();
    let n = wait_for(
        c,
        &format!("{NODE_COUNT} === 600 && {NODE_COUNT}"),
        json!(null),
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(n, json!(600));
    assert_eq!(
        eval(
            c,
            "document.querySelectorAll('#edges path.edge').length",
            json!(null)
        )
        .await,
        json!(4 * 149)
    );
    post(&api, "big", &json!({"type":"upsert-nodes","nodes":[{"id":"ash1:hr-149","label":"hr-149","status":"succeeded","region":"ash1"}]})).await;
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_STATUS} === 'succeeded' && {NODE_STATUS}"),
            json!("ash1:hr-149"),
            Duration::from_secs(2)
        )
        .await,
        json!("succeeded")
    );
    std::fs::write(
        artefact_dir().join("flow-600-nodes.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    server.stop().await;
}

async fn read_token_prompt(c: &Client) {
    let server = start(&["--read-token", "r3ad"]).await.unwrap();
    let base = server.url();
    post(&server.url(), "sec", &json!({"type":"upsert-nodes","nodes":[{"id":"a","label":"a","status":"running","region":"fsn1"}]})).await;
    c.goto(&format!("{base}/flows/sec")).await.unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{CONN_STATE} === 'unauthorized'"),
            json!(null),
            Duration::from_secs(10)
        )
        .await,
        json!(true)
    );
    assert_eq!(
        eval(
            c,
            "document.getElementById('token-form-wrap').hidden",
            json!(null)
        )
        .await,
        json!(false)
    );
    let input = c.find(Locator::Id("token-input")).await.unwrap();
    input.send_keys("r3ad").await.unwrap();
    input.send_keys(&Key::Enter.to_string()).await.unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_STATUS} === 'running'"),
            json!("a"),
            Duration::from_secs(5)
        )
        .await,
        json!(true)
    );
    assert_eq!(eval(c, CONN_STATE, json!(null)).await, json!("live"));
    // Token from the URL fragment: used, kept for the tab, removed from the URL.
    c.goto(&format!("{base}/flows/sec#access_token=r3ad"))
        .await
        .unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_STATUS} === 'running'"),
            json!("a"),
            Duration::from_secs(5)
        )
        .await,
        json!(true)
    );
    assert_eq!(eval(c, "location.hash", json!(null)).await, json!(""));
    server.stop().await;
}

fn hs256(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn through_the_proxy(c: &Client) {
    let server = start(&[]).await.unwrap();
    let mut cfg =
        openova_flow_proxy::Config::new(None, Some(openova_flow_proxy::Secret::new("dev-secret")));
    cfg.server_url = openova_flow_proxy::BaseUrl::parse(&server.url()).unwrap();
    let proxy = openova_flow_proxy::ProxyState::new(cfg).await.unwrap();
    // A console host: the proxy's API routes plus the page, configured for them.
    let host = openova_flow_proxy::api_router(proxy)
        .merge(router_with(UiConfig::new("/api/v1/flows").unwrap()));
    let (base, _task) = serve(host).await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = hs256(
        "dev-secret",
        &json!({"sub": "ops@example.org", "exp": exp, "deployments": ["5a175e0a88c99cec"]}),
    );
    for ev in region_events("fsn1", &FSN1[..3])
        .iter()
        .chain(&region_events("hel1", &HEL1[..3]))
    {
        post(&server.url(), "5a175e0a88c99cec", ev).await;
    }
    c.goto(&format!(
        "{base}/flows/5a175e0a88c99cec#access_token={token}"
    ))
    .await
    .unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_COUNT} === 6"),
            json!(null),
            Duration::from_secs(10)
        )
        .await,
        json!(true)
    );
    assert_eq!(
        eval(c, "document.documentElement.dataset.apiBase", json!(null)).await,
        json!("/api/v1/flows")
    );
    post(&server.url(), "5a175e0a88c99cec", &json!({"type":"upsert-nodes","nodes":[{"id":"hel1:bp-flux","label":"bp-flux","status":"failed","region":"hel1"}]})).await;
    assert_eq!(
        wait_for(
            c,
            &format!("{NODE_STATUS} === 'failed'"),
            json!("hel1:bp-flux"),
            Duration::from_secs(1)
        )
        .await,
        json!(true)
    );
    // The proxy has no log-lines route: the panel says so instead of failing.
    c.find(Locator::Id("graph"))
        .await
        .unwrap()
        .send_keys("f")
        .await
        .unwrap();
    let note = wait_for(c, "document.getElementById('d-log-note').textContent.includes('not available') && document.getElementById('d-log-note').textContent", json!(null), Duration::from_secs(5)).await;
    assert_eq!(note, json!("Log lines are not available through this API."));
    // Without a token the proxy answers 401: the page asks for one.
    c.goto(&format!("{base}/flows/other")).await.unwrap();
    c.execute("sessionStorage.clear()", vec![]).await.unwrap();
    c.goto(&format!("{base}/flows/other")).await.unwrap();
    assert_eq!(
        wait_for(
            c,
            &format!("{CONN_STATE} === 'unauthorized'"),
            json!(null),
            Duration::from_secs(10)
        )
        .await,
        json!(true)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_headless_chromium() {
    let Some((chromium, driver)) = tools() else {
        return;
    };
    let b = launch(&chromium, &driver).await;
    let c = &b.client;
    let started = Instant::now();
    live_multi_region_flow(c).await;
    println!("scenario live multi-region flow: ok");
    read_token_prompt(c).await;
    println!("scenario read token: ok");
    through_the_proxy(c).await;
    println!("scenario through the proxy: ok");
    many_nodes(c).await;
    println!("scenario 600 nodes: ok");
    println!(
        "browser scenarios took {} ms",
        started.elapsed().as_millis()
    );
    b.client.clone().close().await.unwrap();
}

//! Runs every `sh exercised` block of
//! docs/runbooks/openova-flow-multi-region-verify.md with bash against a
//! local flow server seeded with a two-region flow: the runbook's commands
//! are known to work as written, and its gates fail on a broken flow.
//! Needs bash and curl (CI installs them).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;
use openova_flow_server::testing::{TestServer, start};
use serde_json::json;

const RUNBOOK: &str = "../../docs/runbooks/openova-flow-multi-region-verify.md";
const READ_TOKEN: &str = "runbook-read";

/// The `sh exercised` blocks, in order.
fn exercised_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == "```sh exercised" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.push(current.take().unwrap()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated code block in the runbook");
    blocks
}

async fn post(server: &TestServer, flow: &str, body: serde_json::Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/flows/{flow}/events", server.url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Seeds the emitter's shape: a region node per region, `releases` per region.
async fn seed(
    server: &TestServer,
    flow: &str,
    regions: &[&str],
    releases: usize,
    failed: Option<&str>,
) {
    post(
        server,
        flow,
        json!({"type":"upsert-flow","flow":{"id":flow,"status":"running","startedAt":1}}),
    )
    .await;
    for r in regions {
        let mut nodes = vec![
            json!({"id": r, "label": r, "status": "succeeded", "region": r, "meta": {"isGroup": true}}),
        ];
        let mut rels = Vec::new();
        for i in 0..releases {
            let id = format!("{r}:bp-{i}");
            let status = if failed == Some(id.as_str()) {
                "failed"
            } else {
                "succeeded"
            };
            nodes.push(json!({"id": id, "label": format!("bp-{i}"), "status": status, "region": r,
                "meta": {"reason": if status == "failed" { "InstallFailed" } else { "InstallSucceeded" }}}));
            rels.push(json!({"fromId": id, "toId": r, "type": "contains", "condition": "always"}));
            if i > 0 {
                rels.push(json!({"fromId": format!("{r}:bp-{}", i - 1), "toId": id, "type": "finish-to-start"}));
            }
        }
        post(server, flow, json!({"type":"upsert-nodes","nodes":nodes})).await;
        post(
            server,
            flow,
            json!({"type":"upsert-rels","relationships":rels}),
        )
        .await;
    }
}

/// Runs one block with `bash -eo pipefail`; returns (exit code, stdout+stderr).
async fn run_block(block: &str, env: Vec<(&'static str, String)>, dir: PathBuf) -> (i32, String) {
    let block = block.to_owned();
    tokio::task::spawn_blocking(move || {
        let bin_dir = cargo_bin("openova-flow").parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .args(["-eo", "pipefail", "-c", &block])
            .current_dir(dir)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .envs(env)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

fn env_for(server: &TestServer, flow: &str, regions: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FLOW_SERVER", server.url()),
        ("OPENOVA_FLOW_SERVER", server.url()),
        ("OPENOVA_FLOW_TOKEN", READ_TOKEN.to_owned()),
        ("DEPLOYMENT_ID", flow.to_owned()),
        ("REGIONS", regions.to_owned()),
        ("RELEASES_PER_REGION", "3".to_owned()),
    ]
}

fn require_tools() {
    for tool in ["bash", "curl", "grep"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        assert!(
            found,
            "{tool} is not on PATH: the runbook test needs it (apt-get install -y {tool})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exercised_runbook_command_passes_on_a_healthy_two_region_flow() {
    require_tools();
    let markdown =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RUNBOOK)).unwrap();
    let blocks = exercised_blocks(&markdown);
    assert!(
        blocks.len() >= 7,
        "expected the runbook's exercised blocks, found {}",
        blocks.len()
    );
    let server = start(&["--read-token", READ_TOKEN]).await.unwrap();
    seed(&server, "dep-ok", &["fsn1", "hel1"], 3, None).await;
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let (code, out) = run_block(
            block,
            env_for(&server, "dep-ok", "fsn1 hel1"),
            dir.path().to_path_buf(),
        )
        .await;
        assert_eq!(
            code, 0,
            "runbook block {i} failed:\n{block}\n--- output ---\n{out}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_gates_fail_on_a_broken_flow() {
    require_tools();
    let markdown =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RUNBOOK)).unwrap();
    let blocks = exercised_blocks(&markdown);
    let find = |needle: &str| blocks.iter().find(|b| b.contains(needle)).unwrap().clone();
    let server = start(&["--read-token", READ_TOKEN]).await.unwrap();
    // hel1 never posted; fsn1 has a failed release.
    seed(&server, "dep-bad", &["fsn1"], 3, Some("fsn1:bp-1")).await;
    let dir = tempfile::tempdir().unwrap();
    let env = || env_for(&server, "dep-bad", "fsn1 hel1");

    let (code, out) = run_block(
        &find("is missing from the flow"),
        env(),
        dir.path().to_path_buf(),
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        out.contains("region hel1 is missing from the flow"),
        "{out}"
    );

    // hel1 missing: never done; the gate times out with exit 4.
    let mut short = env();
    short.push(("FLOW_TIMEOUT", "1s".to_owned()));
    let (code, out) = run_block(&find("--until-done"), short, dir.path().to_path_buf()).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("watch: timed out after 1s: 2/3 succeeded (66%), 1 failed"),
        "{out}"
    );

    // The flow is complete per node count but one node failed: exit 3.
    let mut env1 = env_for(&server, "dep-bad", "fsn1");
    env1.retain(|(k, _)| *k != "REGIONS");
    env1.push(("REGIONS", "fsn1".to_owned()));
    let (code, out) = run_block(&find("--until-done"), env1, dir.path().to_path_buf()).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("fsn1 bp-1 failed (InstallFailed)"), "{out}");

    // Wrong token: the snapshot gate fails (401).
    let mut bad = env();
    bad.retain(|(k, _)| *k != "OPENOVA_FLOW_TOKEN");
    bad.push(("OPENOVA_FLOW_TOKEN", "wrong".to_owned()));
    let (code, out) = run_block(&find("-o snapshot.json"), bad, dir.path().to_path_buf()).await;
    assert_ne!(code, 0);
    assert!(out.contains("401"), "{out}");

    // Unknown deployment: 404.
    let (code, out) = run_block(
        &find("-o snapshot.json"),
        env_for(&server, "nope", "fsn1"),
        dir.path().to_path_buf(),
    )
    .await;
    assert_ne!(code, 0);
    assert!(out.contains("404"), "{out}");
    server.stop().await;
}

#[test]
fn block_extraction() {
    let md = "text\n```sh exercised\necho a\necho b\n```\n```sh\nkubectl x\n```\n```sh exercised\ntrue\n```\n";
    assert_eq!(
        exercised_blocks(md),
        vec!["echo a\necho b\n".to_owned(), "true\n".to_owned()]
    );
}

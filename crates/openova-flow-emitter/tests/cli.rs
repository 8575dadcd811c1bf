//! The binary: configuration errors (exit 2), a busy health port (exit 1),
//! and SIGTERM with pending changes (flushed, exit 0).
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::Command as AssertCommand;
use openova_flow_kube_testserver::KubeTestServer;
use openova_flow_server::testing;
use predicates::prelude::*;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_openova-flow-emitter");

fn emitter() -> AssertCommand {
    let mut c = AssertCommand::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

fn one_line(expected: &'static str) -> impl Predicate<str> {
    predicate::str::starts_with(expected).and(predicate::function(|s: &str| {
        s.trim_end().lines().count() == 1
    }))
}

#[test]
fn required_values_exit_2_acceptance_1() {
    emitter()
        .assert()
        .code(2)
        .stderr(one_line("config: FLOW_SERVER_URL is required"));
    emitter()
        .env("FLOW_SERVER_URL", "http://127.0.0.1:1")
        .assert()
        .code(2)
        .stderr(one_line("config: FLOW_ID is required"));
    emitter()
        .env("FLOW_SERVER_URL", "http://127.0.0.1:1")
        .env("FLOW_ID", "dep-abc")
        .assert()
        .code(2)
        .stderr(one_line("config: REGION_KEY is required"));
    emitter()
        .args([
            "--flow-server-url",
            "http://127.0.0.1:1",
            "--flow-id",
            "dep-abc",
            "--region-key",
            "fsn1",
        ])
        .env("LEASE_NAME", "emitter")
        .assert()
        .code(2)
        .stderr(one_line(
            "config: POD_NAME is required when LEASE_NAME is set",
        ));
}

#[test]
fn bad_values_exit_2_and_flags_win_over_env() {
    emitter()
        .args([
            "--flow-server-url",
            "http://127.0.0.1:1",
            "--flow-id",
            "dep-abc",
        ])
        .env("REGION_KEY", "fsn1")
        .env("EMIT_INTERVAL", "fast")
        .assert()
        .code(2)
        .stderr(one_line("config: bad EMIT_INTERVAL: \"fast\""));
    // The flag's valid value wins over the invalid env value; the next
    // problem reported is the missing Kubernetes configuration.
    emitter()
        .args([
            "--flow-server-url",
            "http://127.0.0.1:1",
            "--flow-id",
            "dep-abc",
            "--region-key",
            "fsn1",
        ])
        .env("FLOW_ID", "bad/id")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .assert()
        .code(2)
        .stderr(one_line("config: no usable Kubernetes configuration"));
    emitter()
        .args([
            "--flow-server-url",
            "http://127.0.0.1:1",
            "--flow-id",
            "dep-abc",
            "--region-key",
            "fsn1",
        ])
        .assert()
        .code(2)
        .stderr(one_line("config: no usable Kubernetes configuration"));
}

#[tokio::test]
async fn busy_health_port_exits_1() {
    let kube = KubeTestServer::start().await.unwrap();
    let kc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kc.path(), kube.kubeconfig_yaml("flux-system")).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .env("FLOW_SERVER_URL", "http://127.0.0.1:1")
        .env("FLOW_ID", "dep-abc")
        .env("REGION_KEY", "fsn1")
        .env("KUBECONFIG", kc.path())
        .env("HEALTH_LISTEN_ADDR", busy.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("health: cannot listen on"));
}

#[tokio::test]
async fn sigterm_flushes_pending_changes_and_exits_0_acceptance_24() {
    let server = testing::start(&[]).await.unwrap();
    let kube = KubeTestServer::start().await.unwrap();
    kube.add_flux_kinds();
    kube.apply(
        "helm.toolkit.fluxcd.io",
        "helmreleases",
        hr("bp-cilium", SUCCEEDED, &[]),
    )
    .unwrap();
    kube.apply(
        "helm.toolkit.fluxcd.io",
        "helmreleases",
        hr("bp-cert-manager", RUNNING, &["bp-cilium"]),
    )
    .unwrap();
    let kc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kc.path(), kube.kubeconfig_yaml("flux-system")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A 30 s window: nothing is flushed before SIGTERM.
    let mut child = Command::new(BIN)
        .env_clear()
        .env("FLOW_SERVER_URL", server.url())
        .env("FLOW_ID", "dep-abc")
        .env("REGION_KEY", "fsn1")
        .env("KUBECONFIG", kc.path())
        .env("EMIT_INTERVAL", "30s")
        .env("HEALTH_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    eventually(Duration::from_secs(20), "readyz 200", || {
        let ready = ready.clone();
        async move {
            let r = http().get(&ready).send().await.ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    let metrics = http()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("openova_flow_emitter_watched_objects{kind=\"HelmRelease\"} 2"));
    assert!(
        snapshot(&server.url(), "dep-abc").await.is_none(),
        "nothing flushed yet"
    );

    let term = tokio::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = eventually(Duration::from_secs(10), "process exit", || {
        let s = child.try_wait().unwrap();
        async move { s }
    })
    .await;
    assert_eq!(status.code(), Some(0));
    assert!(
        term.elapsed() < Duration::from_secs(6),
        "{:?}",
        term.elapsed()
    );
    let snap = snapshot(&server.url(), "dep-abc").await.unwrap();
    let st = statuses(&snap);
    assert_eq!(st["fsn1:bp-cilium"], "succeeded");
    assert_eq!(st["fsn1:bp-cert-manager"], "running");
    assert_eq!(snap["flow"]["meta"]["emittedBy"], "openova-flow-emitter");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "JSON log lines: {first}"
    );
    assert!(stdout.contains("final flush finished"));
}

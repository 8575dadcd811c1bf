//! `openova-flow` against a real flow server (the server crate's testing API),
//! run as a child process like a user or script would.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use openova_flow_server::testing::{TestServer, start};
use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(cargo_bin("openova-flow"));
    c.env_remove("OPENOVA_FLOW_SERVER")
        .env_remove("OPENOVA_FLOW_TOKEN")
        .env("NO_COLOR", "1");
    c
}

/// Runs to completion off the async runtime (the server keeps serving).
async fn run(mut cmd: Command, stdin: Option<&str>) -> (i32, String, String) {
    let input = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(i) = input {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    })
    .await
    .unwrap()
}

/// A long-running child whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Next line within `limit`, without blocking the runtime.
    async fn line(&mut self, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.lines.try_recv() {
                Ok(l) => return Some(l),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                Err(mpsc::TryRecvError::Empty) if Instant::now() >= deadline => return None,
                Err(mpsc::TryRecvError::Empty) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
            }
        }
    }

    /// Lines until one contains `needle` (all of them returned).
    async fn until(&mut self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(l) = self.line(Duration::from_secs(10)).await {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return seen;
            }
        }
        panic!("no line containing {needle:?}; saw {seen:#?}");
    }

    async fn exit_code(mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("child still running after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(server: &TestServer, flow: &str, body: &str) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}/v1/flows/{flow}/events", server.url()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{body}");
    r.json().await.unwrap()
}

fn node(region: &str, name: &str, status: &str) -> String {
    format!(
        r#"{{"type":"upsert-nodes","nodes":[{{"id":"{region}:{name}","label":"{name}","status":"{status}","region":"{region}"}}]}}"#
    )
}

fn with_server(cmd: &mut Command, server: &TestServer) {
    cmd.args(["--server", &server.url()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_json_lines_then_snapshot_and_summary() {
    let server = start(&[]).await.unwrap();
    let input = format!(
        "{}\n\n{}\n{}\n",
        r#"{"type":"upsert-flow","flow":{"id":"dep","status":"running","startedAt":1}}"#,
        node("fsn1", "bp-cilium", "succeeded"),
        node("hel1", "bp-cilium", "failed"),
    );
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["post", "dep"]);
    let (code, out, err) = run(cmd, Some(&input)).await;
    assert_eq!(code, 0, "{err}");
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    let mut cmd = bin();
    cmd.env("OPENOVA_FLOW_SERVER", server.url())
        .args(["snapshot", "dep"]);
    let (code, out, _) = run(cmd, None).await;
    assert_eq!(code, 0);
    let snap: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(snap["nodes"][0]["flowId"], "dep", "stamped by the server");

    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["snapshot", "dep", "--summary"]);
    let (code, out, _) = run(cmd, None).await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0]
            .starts_with("dep · running · 2 regions · 1/2 succeeded (50%), 1 failed   [snapshot "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("fsn1  [#") && lines[1].ends_with("1/1    100%"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("hel1  [x") && lines[2].ends_with("1 failed"),
        "{out}"
    );
    assert_eq!(lines[3], "Failed (1):");
    assert_eq!(lines[4], "  ✗ hel1  bp-cilium");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_posts_nothing_and_says_where() {
    let server = start(&[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            node("fsn1", "a", "running"),
            r#"{"type":"upsert-nodes","nodes":[{"label":"x"}]}"#
        ),
    )
    .unwrap();
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["post", "dep"]).arg(&file);
    let (code, out, err) = run(cmd, None).await;
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("line 2: upsert-nodes: nodes[0].id must be non-empty; nothing was posted"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["snapshot", "dep"]);
    let (code, _, err) = run(cmd, None).await;
    assert_eq!(code, 1);
    assert!(err.contains("404: flow dep does not exist"), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_connection_errors_are_one_line() {
    let (code, _, err) = run(
        {
            let mut c = bin();
            c.args(["--server", "localhost:1", "snapshot", "x"]);
            c
        },
        None,
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("invalid --server / OPENOVA_FLOW_SERVER \"localhost:1\""),
        "{err}"
    );
    let (code, _, err) = run(
        {
            let mut c = bin();
            c.args(["--server", "http://127.0.0.1:1", "snapshot", "x"]);
            c
        },
        None,
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("GET http://127.0.0.1:1/v1/flows/x/snapshot: cannot connect"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1);
    let (code, _, err) = run(
        {
            let mut c = bin();
            c.args(["snapshot", "a/b"]);
            c
        },
        None,
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("invalid flow id \"a/b\""), "{err}");
    let (code, ..) = run(
        {
            let mut c = bin();
            c.args(["watch"]);
            c
        },
        None,
    )
    .await;
    assert_eq!(code, 2, "missing argument is a usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_snapshot_then_live_frames_and_resumes_by_id() {
    let server = start(&[]).await.unwrap();
    let first = post(&server, "dep", &node("fsn1", "a", "running")).await;
    let epoch = first["epoch"].as_str().unwrap().to_owned();
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["tail", "dep", "--count", "2"]);
    let mut tail = Running::spawn(cmd);
    let l1 = tail.line(Duration::from_secs(10)).await.unwrap();
    assert!(
        l1.starts_with(&format!("snapshot {epoch}-1 {{\"type\":\"snapshot\"")),
        "{l1}"
    );
    post(&server, "dep", &node("fsn1", "a", "succeeded")).await;
    let l2 = tail.line(Duration::from_secs(10)).await.unwrap();
    assert!(
        l2.starts_with(&format!(
            "upsert-nodes {epoch}-2 {{\"type\":\"upsert-nodes\""
        )),
        "{l2}"
    );
    assert!(l2.contains(r#""status":"succeeded""#));
    assert_eq!(
        tail.exit_code(Duration::from_secs(10)).await,
        0,
        "--count 2 stops"
    );

    // Resume: after E-1 the retained E-2 is replayed, no snapshot frame.
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args([
        "tail",
        "dep",
        "--count",
        "1",
        "--data-only",
        "--last-event-id",
        &format!("{epoch}-1"),
    ]);
    let (code, out, _) = run(cmd, None).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["type"], "upsert-nodes");
    assert_eq!(v["nodes"][0]["status"], "succeeded");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_reconnects_after_the_server_restarts() {
    let server = start(&[]).await.unwrap();
    let addr = server.addr;
    post(&server, "dep", &node("fsn1", "a", "running")).await;
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["tail", "dep", "--count", "3"]);
    let mut tail = Running::spawn(cmd);
    assert!(
        tail.line(Duration::from_secs(10))
            .await
            .unwrap()
            .starts_with("snapshot ")
    );
    server.stop().await; // ends the stream; memory state is gone
    let server = openova_flow_server::testing::start_on(addr, &[])
        .await
        .unwrap();
    // The reconnect's first frame is a snapshot of the new incarnation (id 0: none yet).
    let l = tail.line(Duration::from_secs(15)).await.unwrap();
    assert!(l.starts_with("snapshot 0 "), "{l}");
    let r = post(&server, "dep", &node("hel1", "b", "pending")).await;
    let l = tail.line(Duration::from_secs(10)).await.unwrap();
    assert!(
        l.starts_with(&format!("upsert-nodes {}-1 ", r["epoch"].as_str().unwrap())),
        "{l}"
    );
    assert_eq!(tail.exit_code(Duration::from_secs(10)).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_until_done_follows_transitions_and_exits_0() {
    let server = start(&[]).await.unwrap();
    post(&server, "dep", &node("fsn1", "bp-cilium", "running")).await;
    post(&server, "dep", &node("hel1", "bp-cilium", "pending")).await;
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args([
        "watch",
        "dep",
        "--until-done",
        "--min-nodes",
        "2",
        "--timeout",
        "60s",
    ]);
    let mut w = Running::spawn(cmd);
    let first = w.until("fsn1 bp-cilium running").await;
    assert!(
        first
            .iter()
            .any(|l| l == "region fsn1: 0/1 succeeded (0%), 1 running"),
        "{first:#?}"
    );
    post(&server, "dep", &node("fsn1", "bp-cilium", "succeeded")).await;
    let seen = w.until("fsn1 bp-cilium running -> succeeded").await;
    assert!(
        !seen.iter().any(|l| l.contains('\x1b')),
        "no ANSI codes when piped"
    );
    post(&server, "dep", &node("hel1", "bp-cilium", "succeeded")).await;
    w.until("hel1 bp-cilium pending -> succeeded").await;
    assert_eq!(w.exit_code(Duration::from_secs(10)).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_until_done_exits_3_on_failures_and_4_on_timeout() {
    let server = start(&[]).await.unwrap();
    post(&server, "dep", &node("fsn1", "a", "succeeded")).await;
    post(&server, "dep", &node("fsn1", "b", "failed")).await;
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["watch", "dep", "--until-done"]);
    let (code, out, err) = run(cmd, None).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("watch: done with failures: 1/2 succeeded (50%), 1 failed"),
        "{err}"
    );

    post(&server, "slow", &node("fsn1", "a", "running")).await;
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["watch", "slow", "--until-done", "--timeout", "500ms"]);
    let (code, _, err) = run(cmd, None).await;
    assert_eq!(code, 4);
    assert!(
        err.contains("watch: timed out after 500ms: 0/1 succeeded (0%), 1 running"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_env_or_flag_and_a_clear_401() {
    let server = start(&["--read-token", "r1", "--ingest-token", "i1"])
        .await
        .unwrap();
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["post", "dep", "--token", "i1"]);
    let (code, _, err) = run(cmd, Some(&node("fsn1", "a", "running"))).await;
    assert_eq!(code, 0, "{err}");

    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["snapshot", "dep"]);
    let (code, _, err) = run(cmd, None).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("401 unauthorized (pass a read token with --token or OPENOVA_FLOW_TOKEN)"),
        "{err}"
    );

    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.env("OPENOVA_FLOW_TOKEN", "r1")
        .args(["tail", "dep", "--count", "1"]);
    let (code, out, err) = run(cmd, None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("snapshot "));

    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["watch", "dep"]);
    let (code, _, err) = run(cmd, None).await;
    assert_eq!(code, 1, "401 on the stream is fatal, not retried");
    assert!(err.contains("/v1/flows/dep/stream: 401"), "{err}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_log_lines() {
    let server = start(&[]).await.unwrap();
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["post", "dep", "--log-lines"]);
    let body = r#"{"lines":[{"nodeId":"fsn1:a","execId":"e1","level":"warn","message":"retrying","occurredAt":5}]}"#;
    let (code, out, err) = run(cmd, Some(body)).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"written":1}"#);
    let mut cmd = bin();
    with_server(&mut cmd, &server);
    cmd.args(["post", "dep", "--log-lines"]);
    let (code, _, err) = run(cmd, Some(r#"{"lines":[{"nodeId":"","execId":"e"}]}"#)).await;
    assert_eq!(code, 1);
    assert!(err.contains("lines[0].nodeId must be non-empty"), "{err}");
    server.stop().await;
}

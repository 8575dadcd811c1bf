//! The real binary on Postgres (server.md §8, §10.2, D15, D22): the process
//! is killed (no graceful shutdown) and started again — snapshot, epoch and
//! `Last-Event-ID` resume survive — and no output line ever contains the
//! DSN password, while `postgres ready` logs the masked DSN.

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use pg::shared;
use serde_json::Value;
use suite::support::{Client, seq_of, upsert_node};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

type Lines = Arc<Mutex<Vec<String>>>;

/// Starts the binary; returns it once it logged `listening`.
async fn spawn(dsn: &str, addr: &str, lines: &Lines) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openova-flow-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("FLOW_SERVER_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("FLOW_SERVER_BACKEND", "pg")
        .env("FLOW_SERVER_PG_DSN", dsn)
        .env("FLOW_SERVER_LISTEN_ADDR", addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let count = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("openova-flow-server listening"))
            .count()
    };
    let before = count(&lines.lock().await);
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        tokio::spawn(async move {
            let mut r = BufReader::new(pipe).lines();
            while let Ok(Some(l)) = r.next_line().await {
                lines.lock().await.push(l);
            }
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if count(&lines.lock().await) > before {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited with {status}: {:#?}", lines.lock().await);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:#?}",
            lines.lock().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_process_restarts_with_state_epoch_and_resume() {
    let Some(pg) = shared("killed_process_restarts_with_state_epoch_and_resume") else {
        return;
    };
    let plain = pg.fresh_dsn();
    // Trust authentication ignores the password, so it can be anything.
    let dsn = plain.replacen("postgres://postgres@", "postgres://postgres:s3cret@", 1);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let lines: Lines = Arc::default();

    let mut first = spawn(&dsn, &addr, &lines).await;
    let c = Client {
        http: suite::support::http(),
        base: format!("http://{addr}"),
    };
    let mut epoch = String::new();
    for i in 1..=4 {
        epoch = c.post_ok("f", &upsert_node(&format!("n{i}"))).await.1;
    }
    let snap = c.snapshot("f").await;
    first.kill().await.unwrap();

    let mut second = spawn(&dsn, &addr, &lines).await;
    let again = c.snapshot("f").await;
    assert_eq!(again.body, snap.body);
    assert_eq!(
        again.header("flow-event-id"),
        Some(format!("{epoch}-4").as_str())
    );
    let mut sse = c.stream_with("f", Some(&format!("{epoch}-2")), "").await;
    for expected in [3, 4] {
        let f = sse.next_event().await;
        assert_eq!((f.event.as_str(), seq_of(&f)), ("upsert-nodes", expected));
    }
    assert_eq!(c.post_ok("f", &upsert_node("n5")).await, (5, epoch.clone()));
    assert_eq!(seq_of(&sse.next_event().await), 5);
    drop(sse);
    second.kill().await.unwrap();

    let lines = lines.lock().await.clone();
    assert!(
        lines.iter().all(|l| !l.contains("s3cret")),
        "the password leaked: {lines:#?}"
    );
    let ready: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "postgres ready")
        .collect();
    assert_eq!(ready.len(), 2, "{lines:#?}");
    let masked = dsn.replacen("s3cret", "***", 1);
    for v in ready {
        assert_eq!(v["dsn"], masked.as_str(), "{v}");
        assert_eq!(v["level"], "INFO");
        assert_eq!(
            v["schemaVersion"],
            openova_flow_server::postgres::migrations::latest()
        );
        assert_eq!(v["poolSize"], 16);
    }
}

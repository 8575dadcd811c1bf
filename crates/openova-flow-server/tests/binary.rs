//! The real binary: configuration and exit codes (§1, D8, D20, D21), JSON
//! logs without secrets (§8, D12, D15) and graceful shutdown on SIGTERM (§9,
//! D16). Each test spawns `openova-flow-server` on 127.0.0.1:0.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_openova-flow-server");
const WAIT: Duration = Duration::from_secs(10);

/// Every variable the server reads, removed so the host environment cannot leak in.
const ENV_VARS: [&str; 17] = [
    "FLOW_SERVER_LISTEN_ADDR",
    "FLOW_SERVER_RING_CAPACITY",
    "FLOW_SERVER_BACKEND",
    "FLOW_SERVER_PG_DSN",
    "FLOW_SERVER_PG_POOL",
    "FLOW_SERVER_HEARTBEAT",
    "FLOW_SERVER_MAX_BODY_BYTES",
    "FLOW_SERVER_MAX_FLOWS",
    "FLOW_SERVER_MAX_NODES_PER_FLOW",
    "FLOW_SERVER_MAX_SUBSCRIBERS",
    "FLOW_SERVER_SUBSCRIBER_QUEUE",
    "FLOW_SERVER_FLOW_TTL",
    "FLOW_SERVER_LOG_LINES_PER_FLOW",
    "FLOW_SERVER_INGEST_TOKEN",
    "FLOW_SERVER_READ_TOKEN",
    "FLOW_SERVER_CORS_ORIGINS",
    "RUST_LOG",
];

fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for v in ENV_VARS {
        cmd.env_remove(v);
    }
    cmd.args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// A running server process whose stdout lines are collected.
struct Proc {
    child: Child,
    readers: Vec<tokio::task::JoinHandle<()>>,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    startup: Value,
    base: String,
}

async fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Proc {
    let mut child = command(args, envs).spawn().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let sink = Arc::clone(&lines);
    let out_reader = tokio::spawn(async move {
        while let Ok(Some(line)) = out.next_line().await {
            sink.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let err_sink = Arc::clone(&stderr);
    let err_reader = tokio::spawn(async move {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        err_sink.lock().unwrap().push_str(&s);
    });
    let startup = tokio::time::timeout(WAIT, async {
        while let Some(line) = rx.recv().await {
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["message"] == "openova-flow-server listening" {
                return v;
            }
        }
        panic!("server exited before listening: {}", stderr_of(&stderr));
    })
    .await
    .expect("startup line");
    let base = format!("http://{}", startup["addr"].as_str().unwrap());
    Proc {
        child,
        readers: vec![out_reader, err_reader],
        lines,
        stderr,
        startup,
        base,
    }
}

fn stderr_of(s: &Arc<Mutex<String>>) -> String {
    s.lock().unwrap().clone()
}

impl Proc {
    fn sigterm(&self) {
        let pid = self.child.id().unwrap();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM {pid}");
    }

    /// Waits for the exit and for the end of its output.
    async fn wait(&mut self) -> i32 {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("process exits")
            .unwrap();
        for r in self.readers.drain(..) {
            tokio::time::timeout(WAIT, r).await.unwrap().unwrap();
        }
        status.code().expect("exit code, not a signal")
    }

    fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a stdout line contains `needle`.
    async fn wait_for_log(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.output().iter().any(|l| l.contains(needle)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {needle:?}: {:?}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Runs the binary to completion; returns (exit code, stderr).
async fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let out = tokio::time::timeout(WAIT, command(args, envs).output())
        .await
        .expect("exits")
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn d8_heartbeat_zero_exits_2() {
    let (code, err) = run_to_exit(&["--heartbeat", "0"], &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with("invalid FLOW_SERVER_HEARTBEAT \"0\": "),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[tokio::test]
async fn d21_backend_selection_and_config_errors() {
    let (code, err) = run_to_exit(&[], &[("FLOW_SERVER_BACKEND", "pg")]).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "FLOW_SERVER_PG_DSN is required when FLOW_SERVER_BACKEND=postgres\n"
    );
    let (code, err) = run_to_exit(&[], &[("FLOW_SERVER_BACKEND", "redis")]).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "invalid FLOW_SERVER_BACKEND \"redis\": expected memory, mem, postgres or pg\n"
    );
    let (code, err) = run_to_exit(&[], &[("FLOW_SERVER_RING_CAPACITY", "abc")]).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "invalid FLOW_SERVER_RING_CAPACITY \"abc\": expected an integer between 1 and 1000000\n"
    );
    let (code, err) = run_to_exit(&["--heartbeat", "fast"], &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with("invalid FLOW_SERVER_HEARTBEAT \"fast\": expected a duration such as 15s"),
        "{err}"
    );
    let (code, _) = run_to_exit(&["--no-such-flag"], &[]).await;
    assert_eq!(code, 2);
    let (code, _) = run_to_exit(&["--help"], &[]).await;
    assert_eq!(code, 0);

    // No backend configured → memory.
    let mut p = spawn(&["--listen-addr", "127.0.0.1:0"], &[]).await;
    assert_eq!(p.startup["backend"], "memory");
    let root: Value = client()
        .get(&p.base)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["backend"], "memory");
    p.sigterm();
    assert_eq!(p.wait().await, 0);
}

#[tokio::test]
async fn d20_flag_beats_env_beats_default() {
    let mut p = spawn(
        &["--listen-addr", "127.0.0.1:0", "--ring-capacity", "88"],
        &[
            ("FLOW_SERVER_LISTEN_ADDR", ":1"),
            ("FLOW_SERVER_RING_CAPACITY", "77"),
        ],
    )
    .await;
    let addr = p.startup["addr"].as_str().unwrap().to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "the flag's address: {addr}");
    assert_eq!(p.startup["ringCapacity"], 88, "flag > env");
    p.sigterm();
    assert_eq!(p.wait().await, 0);

    let mut p = spawn(
        &[],
        &[
            ("FLOW_SERVER_LISTEN_ADDR", "127.0.0.1:0"),
            ("FLOW_SERVER_RING_CAPACITY", "77"),
        ],
    )
    .await;
    assert_eq!(p.startup["ringCapacity"], 77, "env > default");
    p.sigterm();
    assert_eq!(p.wait().await, 0);
}

#[tokio::test]
async fn d15_logs_are_json_and_never_contain_secrets() {
    let ingest = "ingest-s3cret-token";
    let read = "read-s3cret-token";
    let mut p = spawn(
        &["--listen-addr", "127.0.0.1:0", "--log-filter", "debug"],
        &[
            ("FLOW_SERVER_INGEST_TOKEN", ingest),
            ("FLOW_SERVER_READ_TOKEN", read),
            ("FLOW_SERVER_PG_DSN", "postgres://flow:s3cret@db:5432/flow"),
        ],
    )
    .await;
    assert_eq!(p.startup["backend"], "memory");
    assert!(p.startup["ringCapacity"].is_number());
    assert_eq!(p.startup["ingestAuth"], true);
    assert_eq!(p.startup["readAuth"], true);
    let http = client();
    let post = |token: &'static str| {
        http.post(format!("{}/v1/flows/f1/events", p.base))
            .bearer_auth(token)
            .body(r#"{"type":"upsert-nodes","nodes":[{"id":"a"}]}"#)
            .send()
    };
    assert_eq!(post("ingest-s3cret-token").await.unwrap().status(), 200);
    assert_eq!(post("wrong-s3cret").await.unwrap().status(), 401);
    let snap = http
        .get(format!(
            "{}/v1/flows/f1/snapshot?access_token={read}",
            p.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(snap.status(), 200);
    let mut stream = http
        .get(format!("{}/v1/flows/f1/stream?access_token={read}", p.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    stream.chunk().await.unwrap();
    p.sigterm();
    assert_eq!(p.wait().await, 0);
    let lines = p.output();
    assert!(lines.len() >= 4, "{lines:?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for key in ["timestamp", "level", "target", "message"] {
            assert!(v.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(
            v["timestamp"].as_str().unwrap().ends_with('Z'),
            "UTC: {line}"
        );
        assert!(!line.contains("s3cret"), "secret in log line: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request served") && l.contains("access_token=***")),
        "request lines are logged with the token redacted: {lines:?}"
    );
    assert!(!stderr_of(&p.stderr).contains("s3cret"));
}

#[tokio::test]
async fn d15_config_errors_never_echo_the_dsn_password() {
    let (code, err) = run_to_exit(
        &["--backend", "pg", "--pg-pool", "0"],
        &[("FLOW_SERVER_PG_DSN", "postgres://flow:s3cret@db/flow")],
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with("invalid FLOW_SERVER_PG_POOL \"0\""),
        "{err}"
    );
    let (code, err) = run_to_exit(&[], &[("FLOW_SERVER_PG_DSN", "s3cret")]).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "invalid FLOW_SERVER_PG_DSN \"***\": expected a postgres:// or postgresql:// URI, or libpq key=value pairs\n"
    );
}

/// A keep-alive connection that was served once (so the server has accepted
/// it), then carries the head and the first bytes of a POST body.
async fn half_posted(base: &str) -> (tokio::net::TcpStream, &'static [u8]) {
    let body: &'static [u8] = br#"{"type":"upsert-nodes","nodes":[{"id":"in-flight"}]}"#;
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].ends_with(b"ok\n"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let head = format!(
        "POST /v1/flows/f1/events HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body[..10]).await.unwrap();
    // The head is parsed as soon as it arrives; this only widens a window
    // that is already microseconds wide before the caller signals.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (sock, body)
}

#[tokio::test]
async fn d16_sigterm_answers_in_flight_post_ends_streams_exits_0() {
    let mut p = spawn(
        &["--listen-addr", "127.0.0.1:0", "--heartbeat", "50ms"],
        &[],
    )
    .await;
    let http = client();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut s = http
            .get(format!("{}/v1/flows/f1/stream", p.base))
            .send()
            .await
            .unwrap();
        let first = s.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(b"retry: 2000\n"));
        streams.push(s);
    }
    let (mut sock, body) = half_posted(&p.base).await;
    p.sigterm();
    p.wait_for_log("shutdown begin").await;
    // The POST was in flight when shutdown began: it is completed and answered.
    sock.write_all(&body[10..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("{\"seq\":1,"), "{answer}");
    // Every stream ends cleanly, at a frame boundary.
    for mut s in streams {
        let mut rest = Vec::new();
        loop {
            match tokio::time::timeout(WAIT, s.chunk())
                .await
                .expect("stream ends")
            {
                Ok(Some(c)) => rest.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => panic!("stream did not end cleanly: {e}"),
            }
        }
        assert!(rest.is_empty() || rest.ends_with(b"\n\n"), "{rest:?}");
    }
    assert_eq!(p.wait().await, 0, "clean shutdown within the 5 s deadline");
    let out = p.output().join("\n");
    assert!(out.contains("\"shutdown begin\""), "{out}");
    assert!(out.contains("\"shutdown end\""), "{out}");
}

#[tokio::test]
async fn d16_shutdown_deadline_exceeded_exits_1() {
    let mut p = spawn(&["--listen-addr", "127.0.0.1:0"], &[]).await;
    // A request that never completes keeps its connection busy.
    let (_sock, _) = half_posted(&p.base).await;
    p.sigterm();
    assert_eq!(p.wait().await, 1);
    let out = p.output().join("\n");
    assert!(out.contains("shutdown deadline exceeded"), "{out}");
}

#[tokio::test]
async fn d16_second_signal_exits_at_once() {
    let mut p = spawn(&["--listen-addr", "127.0.0.1:0"], &[]).await;
    let (_sock, _) = half_posted(&p.base).await;
    p.sigterm();
    p.wait_for_log("shutdown begin").await;
    p.sigterm();
    assert_eq!(p.wait().await, 1);
    let out = p.output().join("\n");
    assert!(out.contains("second signal"), "{out}");
    assert!(
        !out.contains("deadline exceeded"),
        "did not wait for the deadline: {out}"
    );
}

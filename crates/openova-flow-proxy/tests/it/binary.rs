//! The `openova-flow-proxy` binary: configuration errors exit 2 with one line
//! (Acceptance 17); a normal run serves both routers, never logs secrets,
//! and exits 0 on SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_openova-flow-proxy");

fn cmd() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(BIN);
    c.env_clear().timeout(Duration::from_secs(20));
    c
}

#[test]
fn acceptance_17_config_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_yaml = dir.path().join("deps.yaml");
    std::fs::write(&bad_yaml, "not a valid id!:\n  serverUrl: http://h\n").unwrap();
    let bad_jwks = dir.path().join("jwks.json");
    std::fs::write(&bad_jwks, "{\"keys\":[]}").unwrap();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "no token verification key configured"),
        (
            vec![
                ("OPENOVA_FLOW_JWKS_FILE", "/x.json".into()),
                ("OPENOVA_FLOW_JWKS_URL", "https://idp.example/jwks".into()),
            ],
            "OPENOVA_FLOW_JWKS_FILE and OPENOVA_FLOW_JWKS_URL are both set",
        ),
        (
            vec![
                ("OPENOVA_FLOW_JWT_SECRET", SECRET.into()),
                ("OPENOVA_FLOW_PROXY_TIMEOUT", "fast".into()),
            ],
            "invalid OPENOVA_FLOW_PROXY_TIMEOUT \"fast\"",
        ),
        (
            vec![
                ("OPENOVA_FLOW_JWT_SECRET", SECRET.into()),
                ("OPENOVA_FLOW_TLS_SKIP_VERIFY", "yes".into()),
            ],
            "invalid OPENOVA_FLOW_TLS_SKIP_VERIFY",
        ),
        (
            vec![
                ("OPENOVA_FLOW_JWT_SECRET", SECRET.into()),
                ("OPENOVA_FLOW_SERVER_URL", "flow-server:80".into()),
            ],
            "invalid OPENOVA_FLOW_SERVER_URL",
        ),
        (
            vec![
                ("OPENOVA_FLOW_JWT_SECRET", SECRET.into()),
                (
                    "OPENOVA_FLOW_DEPLOYMENTS_FILE",
                    bad_yaml.display().to_string(),
                ),
            ],
            "cannot load OPENOVA_FLOW_DEPLOYMENTS_FILE",
        ),
        (
            vec![("OPENOVA_FLOW_JWKS_FILE", bad_jwks.display().to_string())],
            "cannot load OPENOVA_FLOW_JWKS_FILE",
        ),
        (
            vec![(
                "OPENOVA_FLOW_JWKS_FILE",
                dir.path().join("missing.json").display().to_string(),
            )],
            "cannot load OPENOVA_FLOW_JWKS_FILE",
        ),
        (
            vec![
                ("OPENOVA_FLOW_JWT_SECRET", SECRET.into()),
                ("OPENOVA_FLOW_PROXY_LISTEN_ADDR", "8080".into()),
            ],
            "invalid OPENOVA_FLOW_PROXY_LISTEN_ADDR",
        ),
    ];
    for (env, message) in cases {
        let mut c = cmd();
        for (k, v) in &env {
            c.env(k, v);
        }
        let out = c.assert().code(2).stderr(predicate::str::contains(message));
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains(SECRET), "secret echoed: {stderr}");
    }
}

#[test]
fn every_setting_has_a_flag() {
    let out = cmd().arg("--help").assert().success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for (flag, env) in [
        ("--server-url", "OPENOVA_FLOW_SERVER_URL"),
        ("--deployments-file", "OPENOVA_FLOW_DEPLOYMENTS_FILE"),
        ("--server-ingest-token", "OPENOVA_FLOW_SERVER_INGEST_TOKEN"),
        ("--server-read-token", "OPENOVA_FLOW_SERVER_READ_TOKEN"),
        ("--tls-skip-verify", "OPENOVA_FLOW_TLS_SKIP_VERIFY"),
        ("--proxy-timeout", "OPENOVA_FLOW_PROXY_TIMEOUT"),
        ("--jwks-file", "OPENOVA_FLOW_JWKS_FILE"),
        ("--jwks-url", "OPENOVA_FLOW_JWKS_URL"),
        ("--jwt-secret", "OPENOVA_FLOW_JWT_SECRET"),
        ("--jwt-issuer", "OPENOVA_FLOW_JWT_ISSUER"),
        ("--jwt-audience", "OPENOVA_FLOW_JWT_AUDIENCE"),
        ("--deployments-claim", "OPENOVA_FLOW_DEPLOYMENTS_CLAIM"),
        ("--listen-addr", "OPENOVA_FLOW_PROXY_LISTEN_ADDR"),
    ] {
        assert!(help.contains(flag), "{flag} missing");
        assert!(help.contains(env), "{env} missing");
    }
    // A flag alone is enough configuration.
    cmd()
        .args(["--proxy-timeout", "0s", "--jwt-secret", SECRET])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid OPENOVA_FLOW_PROXY_TIMEOUT \"0s\"",
        ));
}

#[tokio::test]
async fn runs_serves_and_stops_on_sigterm_without_logging_secrets() {
    let server = guarded_flow_server(&[]).await;
    post_direct(&server.url(), "d1", &upsert_flow("d1")).await;
    let mut child = Command::new(BIN)
        .env_clear()
        .env("OPENOVA_FLOW_JWT_SECRET", SECRET)
        .env("OPENOVA_FLOW_SERVER_URL", server.url())
        .env("OPENOVA_FLOW_SERVER_READ_TOKEN", READ_TOKEN)
        .env("OPENOVA_FLOW_SERVER_INGEST_TOKEN", INGEST_TOKEN)
        .env("OPENOVA_FLOW_PROXY_LISTEN_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut logs = Vec::new();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), line_rx.recv())
            .await
            .expect("no listening line")
            .expect("binary exited early");
        logs.push(line.clone());
        let v: serde_json::Value = serde_json::from_str(&line).expect("log lines are JSON");
        if v["message"] == "openova-flow-proxy listening" {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };
    let base = format!("http://{addr}");
    assert_eq!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let token = reader();
    let resp = client()
        .get(format!(
            "{base}/api/v1/flows/d1/snapshot?access_token={token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // An open stream must not block the shutdown.
    let stream = client()
        .get(format!("{base}/api/v1/flows/d1/stream"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    // The shell's built-in `kill` (no procps needed).
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "no exit 8 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    drop(stream);
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(2), line_rx.recv()).await {
        logs.push(line);
    }
    let all = logs.join("\n");
    assert!(all.contains("\"route\":\"snapshot\""), "{all}");
    assert!(all.contains("\"sub\":\"alice\""), "{all}");
    for secret in [SECRET, READ_TOKEN, INGEST_TOKEN, token.as_str()] {
        assert!(!all.contains(secret), "a secret appears in the logs");
    }
}

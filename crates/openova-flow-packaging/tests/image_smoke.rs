//! Container smoke test (packaging.md §3): runs the FROM-scratch images that
//! `cargo xtask images --docker` builds (`localhost/<name>:dev`) and checks
//! each starts as 65532:65532 and answers its health endpoint.
//!
//! Prints `SKIP image-smoke: <reason>` and passes when no Docker engine
//! answers or an image is missing, unless `OPENOVA_FLOW_SMOKE_REQUIRE` (set
//! by the `container-smoke` gate to the images it built) names it: then a
//! missing engine or image fails.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use openova_flow_packaging::binaries::{ServiceBinary, by_name};
use openova_flow_packaging::image::{USER, local_tag};
use testcontainers::bollard::Docker;
use testcontainers::core::{IntoContainerPort as _, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

const DEADLINE: Duration = Duration::from_secs(10);

fn required() -> Vec<String> {
    std::env::var("OPENOVA_FLOW_SMOKE_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The engine and the image's configured user, or `None` after printing why
/// the test is skipped. Panics when the gate required this image.
async fn image_or_skip(bin: &ServiceBinary) -> Option<String> {
    let must = required().iter().any(|r| r == bin.name);
    let skip = |why: String| {
        assert!(
            !must,
            "{}: required by the container-smoke gate, but {why}",
            bin.name
        );
        println!("SKIP image-smoke: {}: {why}", bin.name);
        None
    };
    let docker = match Docker::connect_with_defaults() {
        Ok(d) => d,
        Err(e) => return skip(format!("no Docker engine configured ({e})")),
    };
    if let Err(e) = docker.ping().await {
        return skip(format!("no Docker engine answers ({e})"));
    }
    let tag = local_tag(bin);
    match docker.inspect_image(&tag).await {
        Ok(img) => Some(img.config.and_then(|c| c.user).unwrap_or_default()),
        Err(e) => skip(format!(
            "image {tag} is missing; build it with `cargo xtask images --docker` ({e})"
        )),
    }
}

fn image(bin: &ServiceBinary) -> GenericImage {
    let tag = local_tag(bin);
    let (name, version) = tag.rsplit_once(':').unwrap_or((tag.as_str(), "dev"));
    GenericImage::new(name, version)
        .with_exposed_port(bin.port.tcp())
        .with_wait_for(WaitFor::Nothing)
}

/// One HTTP/1.1 GET on 127.0.0.1; `(status, body)`.
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {raw:?}")))?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Polls `path` until it answers 200 or the deadline passes.
async fn wait_ok<I: testcontainers::Image>(
    c: &ContainerAsync<I>,
    bin: &ServiceBinary,
    path: &str,
) -> String {
    let port = c
        .get_host_port_ipv4(bin.port.tcp())
        .await
        .expect("the engine maps the exposed port to a host port");
    let started = Instant::now();
    let mut last = String::from("no answer");
    while started.elapsed() < DEADLINE {
        match get(port, path) {
            Ok((200, body)) => return body,
            Ok((code, body)) => last = format!("{code} {body}"),
            Err(e) => last = e.to_string(),
        }
        if !c.is_running().await.unwrap_or(false) {
            let logs =
                String::from_utf8_lossy(&c.stderr_to_vec().await.unwrap_or_default()).into_owned();
            panic!(
                "{}: exited before {path} answered 200; stderr: {logs}",
                bin.name
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{}: {path} did not answer 200 within {DEADLINE:?} (last: {last})",
        bin.name
    );
}

#[tokio::test]
async fn server_image_answers_health_and_root() {
    let bin = by_name("openova-flow-server").unwrap();
    let Some(user) = image_or_skip(&bin).await else {
        return;
    };
    assert_eq!(user, USER, "{} must run as {USER}", bin.name);
    let c = image(&bin)
        .with_env_var("FLOW_SERVER_BACKEND", "memory")
        .start()
        .await
        .unwrap();
    assert_eq!(wait_ok(&c, &bin, "/healthz").await.trim(), "ok");
    wait_ok(&c, &bin, "/readyz").await;
    let root = wait_ok(&c, &bin, "/").await;
    assert!(
        root.contains("openova-flow-server"),
        "GET / must name the service: {root}"
    );
}

#[tokio::test]
async fn proxy_image_answers_health() {
    let bin = by_name("openova-flow-proxy").unwrap();
    let Some(user) = image_or_skip(&bin).await else {
        return;
    };
    assert_eq!(user, USER, "{} must run as {USER}", bin.name);
    let c = image(&bin)
        .with_env_var(
            "OPENOVA_FLOW_JWT_SECRET",
            "smoke-test-secret-not-for-production",
        )
        .start()
        .await
        .unwrap();
    wait_ok(&c, &bin, "/healthz").await;
    wait_ok(&c, &bin, "/readyz").await;
}

#[tokio::test]
async fn emitter_image_exits_2_without_flow_id() {
    let bin = by_name("openova-flow-emitter").unwrap();
    let Some(user) = image_or_skip(&bin).await else {
        return;
    };
    assert_eq!(user, USER, "{} must run as {USER}", bin.name);
    let c = image(&bin)
        .with_env_var("FLOW_SERVER_URL", "http://127.0.0.1:9")
        .with_env_var("REGION_KEY", "fsn1")
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let code = loop {
        if let Some(code) = c.exit_code().await.unwrap() {
            break code;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{}: still running after {DEADLINE:?} without FLOW_ID",
            bin.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stderr = String::from_utf8_lossy(&c.stderr_to_vec().await.unwrap()).into_owned();
    assert_eq!(
        code, 2,
        "{}: exit code without FLOW_ID; stderr: {stderr}",
        bin.name
    );
    assert!(
        stderr.contains("config: FLOW_ID is required"),
        "stderr: {stderr}"
    );
}

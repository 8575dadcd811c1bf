//! A reachable Docker engine for the container smoke test. Uses the one
//! `DOCKER_HOST` (or the default socket) points at when it answers; otherwise,
//! where Debian's `docker.io` is installed and we are root, starts `dockerd`
//! in the background with `--storage-driver vfs` (no systemd, no overlayfs
//! needed) under a short directory in /tmp, waits for it with a deadline, and
//! stops it (by its pid) when the [`Engine`] is dropped. Nothing is pulled.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::util::on_path;

/// A Docker API the smoke test can use.
#[derive(Debug)]
pub struct Engine {
    /// Value for `DOCKER_HOST`; `None` = the client's default.
    pub host: Option<String>,
    daemon: Option<Child>,
    dir: Option<PathBuf>,
}

/// Short on purpose: unix socket paths are limited to 107 bytes.
const DAEMON_DIR: &str = "/tmp/openova-flow-dockerd";
const START_DEADLINE: Duration = Duration::from_secs(60);

fn answers(host: Option<&str>) -> bool {
    let mut cmd = Command::new("docker");
    cmd.args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    cmd.status().is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Engine {
    /// An engine that answers, or `Ok(None)` with the reason when none can be had.
    pub fn ensure() -> Result<std::result::Result<Engine, String>> {
        if !on_path("docker") {
            return Ok(Err(
                "no docker client on PATH (apt-get install -y --no-install-recommends docker.io)"
                    .into(),
            ));
        }
        if answers(None) {
            return Ok(Ok(Engine {
                host: std::env::var("DOCKER_HOST").ok(),
                daemon: None,
                dir: None,
            }));
        }
        let dir = Path::new(DAEMON_DIR);
        let host = format!("unix://{DAEMON_DIR}/docker.sock");
        if answers(Some(&host)) {
            println!("docker: reusing the daemon at {host}");
            return Ok(Ok(Engine {
                host: Some(host),
                daemon: None,
                dir: None,
            }));
        }
        if !on_path("dockerd") {
            return Ok(Err(
                "no Docker engine answers and dockerd is not installed (apt-get install -y --no-install-recommends docker.io)".into(),
            ));
        }
        if !is_root() {
            return Ok(Err(
                "no Docker engine answers and starting dockerd needs root".into(),
            ));
        }
        std::fs::create_dir_all(dir)?;
        let _ = std::fs::remove_file(dir.join("docker.sock"));
        let log = std::fs::File::create(dir.join("dockerd.log"))?;
        let mut cmd = Command::new("dockerd");
        cmd.arg("--host")
            .arg(&host)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args(["--storage-driver", "vfs"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        println!(
            "$ dockerd --host {host} --data-root {DAEMON_DIR}/data --exec-root {DAEMON_DIR}/exec --storage-driver vfs (background)"
        );
        let child = cmd.spawn().context("could not start dockerd")?;
        let mut engine = Engine {
            host: Some(host.clone()),
            daemon: Some(child),
            dir: Some(dir.to_path_buf()),
        };
        let started = Instant::now();
        while started.elapsed() < START_DEADLINE {
            if answers(Some(&host)) {
                println!(
                    "docker: dockerd ready in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(Ok(engine));
            }
            if let Some(child) = engine.daemon.as_mut()
                && let Some(status) = child.try_wait()?
            {
                engine.daemon = None;
                let tail = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
                let last = tail.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
                return Ok(Err(format!(
                    "dockerd exited ({status}) before answering: {last}"
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(Err(format!(
            "dockerd did not answer within {}s (log: {DAEMON_DIR}/dockerd.log)",
            START_DEADLINE.as_secs()
        )))
    }

    /// A `docker` command aimed at this engine.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        if let Some(h) = &self.host {
            cmd.env("DOCKER_HOST", h);
        }
        cmd
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            // SIGTERM by pid: dockerd stops its containers and exits.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    println!("docker: stopped the dockerd started for this run");
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(dir.join("docker.sock"));
        }
    }
}

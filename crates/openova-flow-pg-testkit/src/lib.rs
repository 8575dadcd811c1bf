//! Throwaway PostgreSQL clusters for tests.
//!
//! Tests that need a real PostgreSQL call [`PgCluster::start_or_skip`]. It
//! runs `initdb` + `pg_ctl start` from the machine's PostgreSQL binaries
//! (`/usr/lib/postgresql/<v>/bin`, Debian's `postgresql` package) into a
//! fresh temporary directory, on a free loopback port, with `trust` auth and
//! no fsync. PostgreSQL refuses to run as root, so as root the cluster runs as
//! the `postgres` system user (created by the Debian package) via `runuser`.
//!
//! When the binaries are missing the test prints a SKIP notice and returns —
//! unless `OPENOVA_FLOW_REQUIRE_PG=1` (set by `cargo xtask ci`), in which case
//! it fails with the install command, so CI can never skip silently.
//!
//! The cluster can be stopped and started again (same data, same port) to
//! test outages and restarts; it is stopped (`immediate`) on drop.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use thiserror::Error;

/// Set to `1` to turn a missing PostgreSQL into a test failure.
pub const REQUIRE_ENV: &str = "OPENOVA_FLOW_REQUIRE_PG";

/// The system user the cluster runs as when we are root.
const PG_USER: &str = "postgres";

#[derive(Debug, Error)]
pub enum PgError {
    #[error(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install them with `apt-get install -y postgresql`)"
    )]
    NotInstalled,
    #[error(
        "running as root but the `{PG_USER}` system user does not exist (install Debian's `postgresql` package, which creates it)"
    )]
    NoUser,
    #[error("`{cmd}` failed: {detail}")]
    Command { cmd: String, detail: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgCluster {
    // Kept for its Drop (removes the directory).
    _dir: tempfile::TempDir,
    data: PathBuf,
    socket_dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as_postgres: bool,
}

impl PgCluster {
    /// Starts a cluster, or prints a SKIP notice and returns `None` when the
    /// binaries are missing and [`REQUIRE_ENV`] is not set. Panics (the test
    /// fails) on any other error.
    pub fn start_or_skip(test: &str) -> Option<PgCluster> {
        match PgCluster::start() {
            Ok(c) => Some(c),
            Err(PgError::NotInstalled) if std::env::var(REQUIRE_ENV).as_deref() != Ok("1") => {
                eprintln!(
                    "SKIP {test}: {} ({REQUIRE_ENV}=1 makes this a failure; `cargo xtask ci` sets it)",
                    PgError::NotInstalled
                );
                None
            }
            Err(e) => panic!("{test}: cannot start a throwaway PostgreSQL: {e}"),
        }
    }

    /// initdb + start on a free port.
    pub fn start() -> Result<PgCluster, PgError> {
        let bin = find_bin_dir().ok_or(PgError::NotInstalled)?;
        let run_as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("openova-flow-pg-")
            .tempdir()?;
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("sock");
        std::fs::create_dir(&socket_dir)?;
        if run_as_postgres {
            let (uid, gid) = lookup_user(PG_USER).ok_or(PgError::NoUser)?;
            // The postgres user must be able to reach and own the directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&socket_dir, Some(uid), Some(gid))?;
        }
        let port = free_port()?;
        let cluster = PgCluster {
            _dir: dir,
            data,
            socket_dir,
            bin,
            port,
            run_as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        cluster.start_again()?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres?sslmode=disable`
    pub fn dsn(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// A DSN for another database of this cluster (create it with [`Self::create_database`]).
    pub fn dsn_for(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a database (for tests that want isolation within one cluster).
    pub fn create_database(&self, name: &str) -> Result<(), PgError> {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                name,
            ],
        )
        .map(drop)
    }

    /// Stops the server (fast shutdown: open connections are terminated).
    pub fn stop(&self) -> Result<(), PgError> {
        self.run(
            "pg_ctl",
            &["-D", path_str(&self.data), "-m", "fast", "-w", "stop"],
        )
        .map(drop)
    }

    /// Starts the (stopped) server again on the same port with the same data.
    pub fn start_again(&self) -> Result<(), PgError> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            self.port,
            path_str(&self.socket_dir)
        );
        let log = self.data.with_file_name("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data),
                "-l",
                path_str(&log),
                "-o",
                &opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
        .map(drop)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<Output, PgError> {
        let program = self.bin.join(tool);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_USER, "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args).current_dir("/");
        let out = cmd.output()?;
        if !out.status.success() {
            let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            if detail.is_empty() {
                detail = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            }
            let log = self.data.with_file_name("server.log");
            if let Ok(server_log) = std::fs::read_to_string(&log) {
                let tail: Vec<&str> = server_log.lines().rev().take(5).collect();
                detail.push_str(&format!(
                    " | server.log: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ));
            }
            return Err(PgError::Command {
                cmd: format!("{tool} {}", args.join(" ")),
                detail: detail.replace('\n', " "),
            });
        }
        Ok(out)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", path_str(&self.data), "-m", "immediate", "-w", "stop"],
        );
    }
}

/// The newest `/usr/lib/postgresql/<v>/bin` that has `initdb`.
fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn is_root() -> bool {
    // No libc call: the effective uid is in /proc/self/status ("Uid: real effective …").
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name) && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_starts_stops_and_starts_again() {
        let Some(pg) = PgCluster::start_or_skip("cluster_starts_stops_and_starts_again") else {
            return;
        };
        let ready = |pg: &PgCluster| {
            Command::new(pg.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &pg.port().to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        assert!(ready(&pg), "accepting connections on {}", pg.dsn());
        pg.create_database("other").unwrap();
        pg.stop().unwrap();
        assert!(!ready(&pg));
        pg.start_again().unwrap();
        assert!(ready(&pg));
        assert!(pg.dsn_for("other").ends_with("/other?sslmode=disable"));
    }

    #[test]
    fn user_lookup_parses_passwd_lines() {
        assert_eq!(lookup_user("root"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-here"), None);
    }
}

//! `sslmode` / `sslrootcert` (server.md §1) against a real PostgreSQL with
//! TLS on: a throwaway CA and a server certificate valid for IP 127.0.0.1
//! only, made with the `openssl` command line tool.
//!
//! * `require` and the default `prefer` encrypt without verifying;
//! * `verify-full` with the right CA works via `127.0.0.1`, fails via
//!   `localhost` (name) and with another CA (chain);
//! * `verify-ca` accepts the name mismatch but not another CA.

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use openova_flow_pg_testkit::PgCluster;
use openova_flow_server::config::Config;
use openova_flow_server::metrics::Metrics;
use openova_flow_server::postgres::PgBackend;
use suite::support::Client;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `(uid, gid)` of a system user.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name) && f.len() > 3)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })
}

/// Makes `ca.crt`, `other-ca.crt`, `server.crt`, `server.key` in `dir`.
fn make_certs(dir: &Path) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    for ca in ["ca", "other-ca"] {
        let cmd = format!("req -x509 {ec} -keyout {ca}.key -out {ca}.crt -days 2 -subj /CN={ca}");
        openssl(dir, &cmd.split(' ').collect::<Vec<_>>());
    }
    let cmd = format!("req {ec} -keyout server.key -out server.csr -subj /CN=flow-db");
    openssl(dir, &cmd.split(' ').collect::<Vec<_>>());
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let cmd = "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
               -out server.crt -days 2 -extfile san.ext";
    openssl(dir, &cmd.split_whitespace().collect::<Vec<_>>());
}

/// Waits until new sessions see `ssl = on` after the reload.
async fn wait_for_ssl(dsn: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let on: String = pg::sql(dsn)
            .await
            .query_one("SHOW ssl", &[])
            .await
            .unwrap()
            .get(0);
        if on == "on" {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "ssl stayed {on}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn config(dsn: &str) -> Config {
    Config::from_args(
        ["openova-flow-server", "--backend", "pg", "--pg-dsn", dsn],
        false,
    )
    .unwrap()
}

async fn boots(dsn: &str) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new("postgres"));
    match PgBackend::start_within(&config(dsn), metrics, Duration::from_secs(3)).await {
        Ok(b) => {
            use openova_flow_server::backend::Backend;
            b.close().await;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmodes_encrypt_and_verify_like_libpq() {
    if Command::new("openssl").arg("version").output().is_err() {
        let why = "the openssl command is not installed (apt-get install -y openssl)";
        assert!(
            std::env::var(openova_flow_pg_testkit::REQUIRE_ENV).as_deref() != Ok("1"),
            "{why}"
        );
        println!("SKIP sslmodes_encrypt_and_verify_like_libpq: {why}");
        return;
    }
    let Some(pg) = PgCluster::start_or_skip("sslmodes_encrypt_and_verify_like_libpq") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.path().join("server.key");
        if let Some((uid, gid)) = user_ids("postgres") {
            // PostgreSQL runs as `postgres` when the tests run as root.
            let _ = std::os::unix::fs::chown(&key, Some(uid), Some(gid));
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let admin = pg::sql(&pg.dsn()).await;
    let path = |f: &str| dir.path().join(f).display().to_string();
    for stmt in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}'", path("server.crt")),
        format!("ALTER SYSTEM SET ssl_key_file = '{}'", path("server.key")),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.batch_execute(&stmt).await.unwrap();
    }
    wait_for_ssl(&pg.dsn()).await;

    let port = pg.port();
    let base = |host: &str, q: &str| format!("postgres://postgres@{host}:{port}/postgres?{q}");
    let ca = path("ca.crt");
    let other = path("other-ca.crt");

    // Encrypted without verification; the server's connections use TLS.
    let srv = pg::start_pg(&base("127.0.0.1", "sslmode=require"), &[]).await;
    let c = Client::new(&srv);
    c.post_ok("f", &suite::support::upsert_node("a")).await;
    let encrypted: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'openova-flow-server' AND s.ssl",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        encrypted >= 2,
        "pooled and LISTEN connections use TLS ({encrypted})"
    );
    srv.stop().await;

    assert_eq!(
        boots(&base("127.0.0.1", "application_name=x")).await,
        Ok(()),
        "prefer"
    );
    assert_eq!(
        boots(&base(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}")
        ))
        .await,
        Ok(())
    );
    assert_eq!(
        boots(&base(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={ca}")
        ))
        .await,
        Ok(())
    );
    for (dsn, why) in [
        (
            base(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "name",
        ),
        (
            base(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
            "issuer",
        ),
        (
            base(
                "127.0.0.1",
                &format!("sslmode=verify-ca&sslrootcert={other}"),
            ),
            "issuer",
        ),
    ] {
        let e = boots(&dsn).await.unwrap_err();
        println!("{why}: {e}");
        assert!(e.contains("not usable within 3s"), "{why}: {e}");
        assert!(e.to_lowercase().contains("certificate"), "{why}: {e}");
    }
}

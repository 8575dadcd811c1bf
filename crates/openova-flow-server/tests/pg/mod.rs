//! PostgreSQL helpers for the `postgres_*` integration tests.
//!
//! One throwaway cluster ([`openova_flow_pg_testkit::PgCluster`]) is shared
//! by the tests of one test binary while any of them runs (it stops when the
//! last holder drops it); every server gets a fresh database, so tests never
//! see each other's flows.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use openova_flow_pg_testkit::PgCluster;
use openova_flow_server::testing::TestServer;

use crate::suite::support::Starter;

/// A cluster shared by concurrently running tests.
pub struct Shared {
    pub cluster: PgCluster,
    next_db: AtomicUsize,
}

static SHARED: Mutex<Weak<Shared>> = Mutex::new(Weak::new());

/// The shared cluster, started on first use; `None` (after a SKIP line)
/// when PostgreSQL is not installed and not required.
pub fn shared(test: &str) -> Option<Arc<Shared>> {
    let mut g = SHARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(s) = g.upgrade() {
        return Some(s);
    }
    let cluster = PgCluster::start_or_skip(test)?;
    let s = Arc::new(Shared {
        cluster,
        next_db: AtomicUsize::new(0),
    });
    *g = Arc::downgrade(&s);
    Some(s)
}

impl Shared {
    /// A DSN for a new, empty database.
    pub fn fresh_dsn(&self) -> String {
        let name = format!("t{}", self.next_db.fetch_add(1, Ordering::Relaxed));
        self.cluster.create_database(&name).unwrap();
        self.cluster.dsn_for(&name)
    }
}

/// `--backend pg --pg-dsn <dsn>` plus `args`.
pub fn pg_args<'a>(dsn: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--backend", "pg", "--pg-dsn", dsn];
    v.extend_from_slice(args);
    v
}

/// Starts a Postgres-backed server on `dsn`.
pub async fn start_pg(dsn: &str, args: &[&str]) -> TestServer {
    openova_flow_server::testing::start(&pg_args(dsn, args))
        .await
        .unwrap_or_else(|e| panic!("start postgres server: {e:#}"))
}

/// The acceptance-suite starter: every server on its own fresh database.
pub struct Postgres {
    shared: Arc<Shared>,
}

impl Postgres {
    pub fn new(test: &str) -> Option<Postgres> {
        shared(test).map(|shared| Postgres { shared })
    }
}

impl Starter for Postgres {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn start<'a>(
        &'a self,
        args: &'a [&'a str],
    ) -> Pin<Box<dyn Future<Output = TestServer> + Send + 'a>> {
        Box::pin(async move {
            let dsn = self.shared.fresh_dsn();
            start_pg(&dsn, args).await
        })
    }
}

/// A plain SQL connection for assertions and fault injection.
pub async fn sql(dsn: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Backend pids of the `LISTEN openova_flow_events` connections.
pub async fn listener_pids(db: &tokio_postgres::Client) -> Vec<i32> {
    db.query(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND query = 'LISTEN openova_flow_events' \
         ORDER BY pid",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

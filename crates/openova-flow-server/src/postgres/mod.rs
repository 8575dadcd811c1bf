//! The PostgreSQL backend (server.md §10.2): durable state, several replicas
//! behind one Service, all serving live SSE.
//!
//! * [`connect`] — DSN → connection settings (sslmode, sslrootcert,
//!   timeouts); [`tls`] — rustls (ring) for tokio-postgres.
//! * [`migrations`] — embedded, versioned schema under `pg_advisory_lock`.
//! * [`fold`] — the fold as table changes (pure); [`store`] — every SQL
//!   statement: the one-transaction write path, reads, delete, log lines.
//! * [`fanout`] — per-replica subscribers, catch-up from the events table;
//!   [`listener`] — `LISTEN openova_flow_events`, reconnects, readiness.
//!
//! Boot (connect, migrate, listen) must finish within 60 s, else
//! [`PgStartError`] (exit 1, DSN masked).

pub mod connect;
pub mod fanout;
pub mod fold;
pub mod listener;
pub mod migrations;
pub mod notify;
pub mod store;
pub mod tls;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use deadpool_postgres::{ManagerConfig, Pool, RecyclingMethod, Runtime};
use openova_flow_contract::log_lines::{LogLine, NewLogLine};
use openova_flow_contract::sse::event_frame;
use openova_flow_contract::{EventId, FlowLimits, FlowMessage};
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backend::{Backend, BackendError, BoxFut, LogQuery, Published, Snapshot};
use crate::config::{BackendKind, Config};
use crate::metrics::Metrics;
use crate::stream::Subscription;
use fanout::Fanout;
use listener::{Health, ListenerSettings};
use store::Store;

/// Connect + migrate + listen must succeed within this budget.
pub const BOOT_BUDGET: Duration = Duration::from_secs(60);

/// How long a request waits for a pooled connection before 503.
const POOL_WAIT: Duration = Duration::from_secs(5);

/// Why the Postgres backend could not start (exit 1). Never contains the
/// password.
#[derive(Debug, Error)]
pub enum PgStartError {
    #[error("FLOW_SERVER_PG_DSN is required when FLOW_SERVER_BACKEND=postgres")]
    NoDsn,
    #[error("FLOW_SERVER_PG_DSN {dsn}: {detail}")]
    Config { dsn: String, detail: String },
    #[error("postgres at {dsn}: {detail}")]
    Fatal { dsn: String, detail: String },
    #[error(
        "postgres at {dsn} not usable within {secs}s: {detail} (check FLOW_SERVER_PG_DSN and that the database is reachable)"
    )]
    Timeout {
        dsn: String,
        secs: u64,
        detail: String,
    },
}

/// The message of a driver error, without the `db error: ` noise.
pub(crate) fn error_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => with_sources(e),
    }
}

/// `error: source: source…`, skipping sources already part of the text
/// (TLS and I/O causes are otherwise hidden behind "error performing TLS
/// handshake").
pub(crate) fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Maps a driver error to the HTTP-facing error: lost or refused
/// connections are 503 `backend unavailable`, everything else 500.
pub(crate) fn backend_error(e: &tokio_postgres::Error) -> BackendError {
    let unavailable = e.is_closed()
        || match e.code() {
            Some(code) => {
                let c = code.code();
                c.starts_with("08") || c.starts_with("57P") || c == "53300"
            }
            None => e.as_db_error().is_none(),
        };
    if unavailable {
        BackendError::Unavailable
    } else {
        BackendError::Failed(error_detail(e))
    }
}

/// [`Backend`] over PostgreSQL.
pub struct PgBackend {
    store: Arc<Store>,
    fanout: Arc<Fanout>,
    health: Arc<Health>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("fanout", &self.fanout)
            .finish_non_exhaustive()
    }
}

impl PgBackend {
    /// Connects, migrates and starts the listener within [`BOOT_BUDGET`].
    pub async fn start(
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<PgBackend>, PgStartError> {
        Self::start_within(config, metrics, BOOT_BUDGET).await
    }

    /// [`PgBackend::start`] with another boot budget (tests).
    pub async fn start_within(
        config: &Config,
        metrics: Arc<Metrics>,
        budget: Duration,
    ) -> Result<Arc<PgBackend>, PgStartError> {
        let dsn = config.pg_dsn.as_ref().ok_or(PgStartError::NoDsn)?;
        let masked = dsn.masked();
        let config_err = |detail: String| PgStartError::Config {
            dsn: masked.clone(),
            detail,
        };
        let settings = connect::parse(dsn.expose()).map_err(|e| config_err(e.to_string()))?;
        let tls =
            tls::MakeRustlsConnect::new(&settings.verify).map_err(|e| config_err(e.to_string()))?;
        let pool = build_pool(&settings.config, &tls, config.pg_pool).map_err(config_err)?;
        let deadline = tokio::time::Instant::now() + budget;
        let timeout = |detail: String| PgStartError::Timeout {
            dsn: masked.clone(),
            secs: budget.as_secs(),
            detail,
        };

        let schema_version =
            migrate_until(&pool, deadline, &masked)
                .await
                .map_err(|e| match e {
                    BootError::Fatal(detail) => PgStartError::Fatal {
                        dsn: masked.clone(),
                        detail,
                    },
                    BootError::Timeout(detail) => timeout(detail),
                })?;

        let store = Arc::new(Store::new(
            pool,
            config.ring_capacity,
            FlowLimits::from_max_nodes(config.max_nodes_per_flow),
        ));
        let fanout = Fanout::new(Arc::clone(&store), config.subscriber_queue);
        let health = Health::new();
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listener::run(
            ListenerSettings {
                config: settings.config.clone(),
                tls,
            },
            Arc::clone(&fanout),
            Arc::clone(&health),
            Arc::clone(&metrics),
            stop_rx.clone(),
            ready_tx,
        ));
        let probe = tokio::spawn(listener::probe(
            Arc::clone(&store),
            Arc::clone(&health),
            stop_rx,
        ));
        let backend = Arc::new(PgBackend {
            store,
            fanout,
            health,
            stop,
            tasks: Mutex::new(vec![listener, probe]),
        });
        if tokio::time::timeout_at(deadline, ready_rx).await.is_err() {
            backend.stop_tasks();
            return Err(timeout(
                "the LISTEN connection could not be established".to_owned(),
            ));
        }
        backend.health.probe_ok();
        tracing::info!(
            dsn = %masked,
            poolSize = config.pg_pool,
            schemaVersion = schema_version,
            "postgres ready"
        );
        Ok(backend)
    }

    fn stop_tasks(&self) {
        let _ = self.stop.send(true);
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

fn build_pool(
    config: &tokio_postgres::Config,
    tls: &tls::MakeRustlsConnect,
    size: u32,
) -> Result<Pool, String> {
    let manager = deadpool_postgres::Manager::from_config(
        config.clone(),
        tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size as usize)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(connect::CONNECT_TIMEOUT + Duration::from_secs(1)))
        .recycle_timeout(Some(connect::CONNECT_TIMEOUT))
        .build()
        .map_err(|e| e.to_string())
}

enum BootError {
    Fatal(String),
    Timeout(String),
}

/// Connects and migrates, retrying (0.5 s doubling to 5 s) until `deadline`.
async fn migrate_until(
    pool: &Pool,
    deadline: tokio::time::Instant,
    masked: &str,
) -> Result<i32, BootError> {
    let mut wait = Duration::from_millis(500);
    let mut last_error = "no attempt finished".to_owned();
    loop {
        let attempt = async {
            let mut client = pool
                .get()
                .await
                .map_err(|e| migrations::MigrateError::Db(with_sources(&e)))?;
            migrations::migrate(&mut client).await
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Err(_) => return Err(BootError::Timeout(last_error)),
            Ok(Ok(version)) => return Ok(version),
            Ok(Err(e @ migrations::MigrateError::TooNew { .. })) => {
                return Err(BootError::Fatal(e.to_string()));
            }
            Ok(Err(e)) => {
                last_error = e.to_string();
                tracing::warn!(dsn = %masked, error = %last_error, "postgres not usable yet; retrying");
            }
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(BootError::Timeout(last_error));
        }
        tokio::time::sleep_until((now + wait).min(deadline)).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

impl Backend for PgBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn readiness(&self) -> Result<(), String> {
        self.health.readiness()
    }

    fn publish<'a>(
        &'a self,
        flow_id: &'a str,
        mut msg: FlowMessage,
    ) -> BoxFut<'a, Result<Published, BackendError>> {
        Box::pin(async move {
            msg.stamp_flow_id(flow_id);
            let event_type = msg.message_type();
            let payload = String::from_utf8(msg.to_canonical_json())
                .map_err(|e| BackendError::Failed(e.to_string()))?;
            let change = fold::plan(&msg);
            let (epoch, seq) = self
                .store
                .publish(flow_id, &change, event_type, &payload)
                .await?;
            drop(change);
            let frame = Bytes::from(event_frame(
                event_type,
                &EventId::new(epoch.as_str(), seq),
                payload.as_bytes(),
            ));
            self.fanout
                .published(flow_id, &epoch, seq, frame, msg)
                .await;
            Ok(Published { seq, epoch })
        })
    }

    fn snapshot<'a>(
        &'a self,
        flow_id: &'a str,
    ) -> BoxFut<'a, Result<Option<Snapshot>, BackendError>> {
        Box::pin(async move {
            Ok(self.store.snapshot(flow_id).await?.map(|s| Snapshot {
                json: Bytes::from(fold::snapshot_json(
                    flow_id,
                    s.flow.as_deref(),
                    &s.nodes,
                    &s.rels,
                )),
                id: EventId::new(s.epoch, s.last_seq),
            }))
        })
    }

    fn subscribe<'a>(
        &'a self,
        flow_id: &'a str,
        last_event_id: Option<&'a str>,
    ) -> BoxFut<'a, Result<Subscription, BackendError>> {
        Box::pin(self.fanout.subscribe(flow_id, last_event_id))
    }

    fn delete<'a>(&'a self, flow_id: &'a str) -> BoxFut<'a, Result<(), BackendError>> {
        Box::pin(async move {
            self.store.delete(flow_id).await?;
            self.fanout.end_flow(flow_id);
            Ok(())
        })
    }

    fn append_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        lines: Vec<NewLogLine>,
    ) -> BoxFut<'a, Result<usize, BackendError>> {
        Box::pin(async move { self.store.append_log_lines(flow_id, &lines).await })
    }

    fn list_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        query: LogQuery,
    ) -> BoxFut<'a, Result<Vec<LogLine>, BackendError>> {
        Box::pin(async move { self.store.list_log_lines(flow_id, &query).await })
    }

    fn flows_active(&self) -> u64 {
        self.fanout.flows_active()
    }

    fn begin_shutdown(&self) {
        self.fanout.begin_shutdown();
    }

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(async move {
            self.stop_tasks();
            self.store.pool().close();
        })
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

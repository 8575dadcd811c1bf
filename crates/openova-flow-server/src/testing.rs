//! Starting a real server inside a test process (the shared test API).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = openova_flow_server::testing::start(&["--ring-capacity", "64"]).await?;
//! let health = format!("{}/healthz", server.url());
//! # let _ = health;
//! server.stop().await;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::AppState;
use crate::metrics::Metrics;
use crate::server::{SHUTDOWN_GRACE, ServeOutcome, serve};

/// A server running on a loopback port of this process.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ServeOutcome>>,
}

/// Starts a server on `127.0.0.1:0` configured by CLI-style args, e.g.
/// `&["--ring-capacity", "64", "--ingest-token", "t"]`. The process
/// environment is ignored; `--listen-addr` in `args` overrides the address.
pub async fn start(args: &[&str]) -> anyhow::Result<TestServer> {
    start_inner(None, args).await
}

/// Like [`start`], on a given address (e.g. to restart on the same port).
pub async fn start_on(addr: SocketAddr, args: &[&str]) -> anyhow::Result<TestServer> {
    start_inner(Some(addr), args).await
}

async fn start_inner(addr: Option<SocketAddr>, args: &[&str]) -> anyhow::Result<TestServer> {
    let mut argv = vec!["openova-flow-server".to_owned()];
    let has_listen = args
        .iter()
        .any(|a| *a == "--listen-addr" || a.starts_with("--listen-addr="));
    if !has_listen {
        argv.push("--listen-addr".to_owned());
        argv.push(addr.map_or_else(|| "127.0.0.1:0".to_owned(), |a| a.to_string()));
    }
    argv.extend(args.iter().map(|s| (*s).to_owned()));
    let config = Config::from_args(argv, false).map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = crate::server::bind(&config.listen_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
    let addr = listener.local_addr()?;
    let metrics = std::sync::Arc::new(Metrics::new(config.backend.as_str()));
    let backend = crate::backend::start(&config, std::sync::Arc::clone(&metrics)).await?;
    let state = AppState::new(config, backend, metrics);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        state.clone(),
        async move {
            let _ = rx.await;
        },
        SHUTDOWN_GRACE,
    ));
    Ok(TestServer {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl TestServer {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's shared state (backend, metrics, config).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Graceful shutdown: ends the streams, waits for connections to finish.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    /// Like [`TestServer::stop`], reporting how it ended.
    pub async fn stop_with_outcome(mut self) -> Option<ServeOutcome> {
        self.stop_inner().await
    }

    async fn stop_inner(&mut self) -> Option<ServeOutcome> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => t.await.ok(),
            None => None,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

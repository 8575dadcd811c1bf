//! `openova-flow-server`: exit 0 on a clean shutdown, 1 on a runtime failure,
//! 2 on a configuration error (server.md §1).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use openova_flow_server::config::{Config, ConfigError};
use openova_flow_server::metrics::Metrics;
use openova_flow_server::server::{self, SHUTDOWN_GRACE, ServeOutcome};
use openova_flow_server::{AppState, backend, logging};
use tokio::signal::unix::{Signal, SignalKind, signal};

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args_os(), true) {
        Ok(c) => c,
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    logging::init(&config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(config));
    runtime.shutdown_background();
    code
}

async fn run(config: Config) -> ExitCode {
    let metrics = Arc::new(Metrics::new(config.backend.as_str()));
    let backend = match backend::start(&config, Arc::clone(&metrics)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "backend failed to start");
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let listener = match server::bind(&config.listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            let msg = format!(
                "cannot listen on {} (FLOW_SERVER_LISTEN_ADDR): {e}",
                config.listen_addr
            );
            tracing::error!(error = %msg, "startup failed");
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    };
    // Handlers are installed before the listening line: a signal sent as
    // soon as that line appears must start a graceful shutdown.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.listen_addr.to_string(), |a| a.to_string());
    tracing::info!(
        addr = %addr,
        backend = config.backend.as_str(),
        ringCapacity = config.ring_capacity,
        ingestAuth = config.ingest_tokens.is_some(),
        readAuth = config.read_tokens.is_some(),
        "openova-flow-server listening"
    );
    let state = AppState::new(config, backend, metrics);
    match server::serve(listener, state, signals.shutdown(), SHUTDOWN_GRACE).await {
        ServeOutcome::Clean => ExitCode::SUCCESS,
        ServeOutcome::DeadlineExceeded { .. } => ExitCode::from(1),
    }
}

/// SIGTERM and SIGINT, registered once.
struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }

    /// Resolves on the first signal; a second one exits at once (code 1).
    async fn shutdown(mut self) {
        self.next().await;
        tokio::spawn(async move {
            self.next().await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(1);
        });
    }
}

//! `openova-flow-proxy`: serves the proxy's API and ops routers.
//!
//! Exit codes: 0 clean shutdown, 1 runtime failure (cannot bind, shutdown
//! deadline exceeded), 2 configuration error.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use openova_flow_proxy::config::parse_listen_addr;
use openova_flow_proxy::{Config, EnvArgs, ProxyState, api_router, ops_router};
use tracing_subscriber::EnvFilter;

/// How long open connections may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Authenticated pass-through from a console origin to the OpenovaFlow server.
#[derive(Debug, Parser)]
#[command(name = "openova-flow-proxy", version, about)]
struct Cli {
    #[command(flatten)]
    settings: EnvArgs,
    /// Listen address: host:port, [v6]:port or :port (all interfaces)
    #[arg(long, env = "OPENOVA_FLOW_PROXY_LISTEN_ADDR", default_value = ":8080")]
    listen_addr: String,
    /// tracing filter directive
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_filter: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match EnvFilter::try_new(&cli.log_filter) {
        Ok(f) => f,
        Err(e) => return config_error(format!("invalid RUST_LOG {:?}: {e}", cli.log_filter)),
    };
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
    let config = match Config::from_args(&cli.settings) {
        Ok(c) => c,
        Err(e) => return config_error(e.to_string()),
    };
    let addr = match parse_listen_addr(&cli.listen_addr) {
        Ok(a) => a,
        Err(e) => return config_error(e.to_string()),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("openova-flow-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => config_error(e),
        Err(Failure::Runtime(e)) => {
            eprintln!("openova-flow-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(msg: String) -> ExitCode {
    eprintln!("openova-flow-proxy: {msg}");
    ExitCode::from(2)
}

enum Failure {
    Config(String),
    Runtime(anyhow::Error),
}

async fn run(config: Config, addr: SocketAddr) -> Result<(), Failure> {
    let upstream = config.server_url.to_string();
    let jwks = config.jwks.is_some();
    let hs256 = config.jwt_secret.is_some();
    let state = ProxyState::new(config)
        .await
        .map_err(|e| Failure::Config(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
        .map_err(Failure::Runtime)?;
    let local = listener
        .local_addr()
        .context("listener address")
        .map_err(Failure::Runtime)?;
    tracing::info!(addr = %local, upstream = %upstream, jwks, hs256, "openova-flow-proxy listening");

    let app = api_router(state.clone()).merge(ops_router(state.clone()));
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let stopper = state.clone();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        wait_for_signal().await;
        tracing::info!("shutdown: ending streams and waiting for requests to finish");
        stopper.shutdown();
        let _ = signalled_tx.send(());
    });
    let deadline = async {
        if signalled_rx.await.is_ok() {
            tokio::select! {
                () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
                () = wait_for_signal() => {}
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = serve => r.context("serving").map_err(Failure::Runtime),
        () = deadline => Err(Failure::Runtime(anyhow::anyhow!(
            "shutdown deadline of {SHUTDOWN_GRACE:?} exceeded (or second signal); exiting"
        ))),
    }
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

//! `openova-flow-emitter`: see the library docs and shared/spec/emitter.md.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use openova_flow_emitter::app::{self, Tuning};
use openova_flow_emitter::config::{Args, Config};
use openova_flow_emitter::health;
use openova_flow_emitter::metrics::Metrics;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        .init();
    openova_flow_emitter::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(cfg))
}

async fn run(cfg: Config) -> ExitCode {
    let client = match app::kube_client(&cfg).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let listener = match health::bind(cfg.health_listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "health: cannot listen on {} ({e}); set HEALTH_LISTEN_ADDR to a free address",
                cfg.health_listen_addr
            );
            return ExitCode::from(1);
        }
    };
    let metrics = Arc::new(Metrics::new());
    let stop = CancellationToken::new();
    let health_stop = CancellationToken::new();
    let health_task = tokio::spawn(health::serve(
        listener,
        metrics.clone(),
        health_stop.clone(),
    ));
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("signal received; shutting down");
        signal_stop.cancel();
    });
    info!(
        flow_id = %cfg.flow_id,
        region = %cfg.region,
        namespace = ?cfg.namespace,
        flow_server = %cfg.flow_server_url,
        health = %cfg.health_listen_addr,
        leader_election = cfg.lease.is_some(),
        "openova-flow-emitter starting"
    );
    let result = app::run(&cfg, client, metrics, stop, &Tuning::default()).await;
    health_stop.cancel();
    let _ = health_task.await;
    match result {
        Ok(()) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(error = %e, "fatal");
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

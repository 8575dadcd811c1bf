//! Wiring: Kubernetes client, watchers, engine, leader election and the
//! active/standby lifecycle (emitter.md §7 shutdown, §9). Used by the binary
//! and by the end-to-end tests.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::client::HttpFlowClient;
use crate::config::Config;
use crate::engine::{Engine, EngineSettings};
use crate::leader::{Elector, LeaseSettings};
use crate::mapper::MapContext;
use crate::metrics::{Metrics, ResyncReason};
use crate::region::{Region, SharedRegion, system_clock};
use crate::watch::{WatchSettings, watch_charts, watch_releases};

/// Timings the spec fixes but tests need shorter.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub discovery_retry: Duration,
    pub shutdown_budget: Duration,
    /// Lease timing; name and holder come from the configuration.
    pub lease_duration: Duration,
    pub lease_renew: Duration,
    pub lease_retry: Duration,
    pub lease_lost_after: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            discovery_retry: Duration::from_secs(30),
            shutdown_budget: Duration::from_secs(5),
            lease_duration: Duration::from_secs(15),
            lease_renew: Duration::from_secs(5),
            lease_retry: Duration::from_secs(2),
            lease_lost_after: Duration::from_secs(10),
        }
    }
}

/// Errors that end the process.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("config: no usable Kubernetes configuration ({0}); set KUBECONFIG or run in a cluster")]
    KubeConfig(String),
    #[error("flow-server client: {0}")]
    HttpClient(#[from] reqwest::Error),
}

/// The Kubernetes client: `KUBECONFIG` when set, in-cluster otherwise.
pub async fn kube_client(cfg: &Config) -> Result<Client, AppError> {
    let kc = match &cfg.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| AppError::KubeConfig(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| AppError::KubeConfig(format!("{}: {e}", path.display())))?
        }
        None => kube::Config::incluster().map_err(|e| AppError::KubeConfig(e.to_string()))?,
    };
    Client::try_from(kc).map_err(|e| AppError::KubeConfig(e.to_string()))
}

/// Runs the emitter until `stop` (graceful: final flush, lease released).
pub async fn run(
    cfg: &Config,
    client: Client,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    tuning: &Tuning,
) -> Result<(), AppError> {
    let Some(lease) = &cfg.lease else {
        metrics.set_leader(true);
        metrics.set_standby(false);
        active(
            cfg,
            client,
            metrics,
            None,
            &stop,
            &CancellationToken::new(),
            tuning,
        )
        .await?;
        return Ok(());
    };
    let settings = LeaseSettings {
        lease_duration: tuning.lease_duration,
        renew_period: tuning.lease_renew,
        retry_period: tuning.lease_retry,
        lost_after: tuning.lease_lost_after,
        ..LeaseSettings::new(&lease.name, &lease.holder)
    };
    let (leader_tx, mut leader_rx) = watch::channel(false);
    let election_stop = CancellationToken::new();
    let elector =
        tokio::spawn(Elector::new(client.clone(), settings).run(leader_tx, election_stop.clone()));
    metrics.set_leader(false);
    metrics.set_standby(true);
    loop {
        // Standby: idle, ready.
        tokio::select! {
            () = stop.cancelled() => break,
            r = leader_rx.wait_for(|l| *l) => if r.is_err() { break },
        }
        metrics.set_leader(true);
        metrics.set_standby(false);
        let lost = CancellationToken::new();
        let mut rx = leader_rx.clone();
        let lost2 = lost.clone();
        let watcher = tokio::spawn(async move {
            let _ = rx.wait_for(|l| !*l).await;
            lost2.cancel();
        });
        let result = active(
            cfg,
            client.clone(),
            metrics.clone(),
            Some(ResyncReason::Leader),
            &stop,
            &lost,
            tuning,
        )
        .await;
        watcher.abort();
        metrics.set_leader(false);
        metrics.set_synced(false);
        metrics.set_standby(true);
        result?;
        if stop.is_cancelled() {
            break;
        }
        info!("standing by");
    }
    election_stop.cancel();
    let _ = elector.await;
    Ok(())
}

/// One active period: watchers + engine until `stop` (graceful) or `lost`
/// (leadership lost: stop posting at once, drop state).
async fn active(
    cfg: &Config,
    client: Client,
    metrics: Arc<Metrics>,
    reason: Option<ResyncReason>,
    stop: &CancellationToken,
    lost: &CancellationToken,
    tuning: &Tuning,
) -> Result<(), AppError> {
    let http = HttpFlowClient::new(
        &cfg.flow_server_url,
        &cfg.flow_id,
        cfg.token.clone(),
        cfg.post_timeout,
    )?;
    let ctx = MapContext::new(&cfg.region, &cfg.flow_id, cfg.qualify());
    let region = SharedRegion::new(Region::new(ctx, system_clock()), metrics.clone());
    let watch_stop = CancellationToken::new();
    let ws = WatchSettings {
        namespace: cfg.namespace.clone(),
        discovery_retry: tuning.discovery_retry,
    };
    let w1 = tokio::spawn(watch_releases(
        client.clone(),
        ws.clone(),
        region.clone(),
        watch_stop.clone(),
    ));
    let w2 = tokio::spawn(watch_charts(client, ws, region.clone(), watch_stop.clone()));

    let settings = EngineSettings {
        emit_interval: cfg.emit_interval,
        resync_interval: cfg.resync_interval,
        shutdown_budget: tuning.shutdown_budget,
        ..EngineSettings::new(&cfg.flow_id, &cfg.region)
    };
    let mut engine = Engine::new(settings, http, region, metrics.clone(), reason);
    let engine_stop = CancellationToken::new();
    let (s, l, e) = (stop.clone(), lost.clone(), engine_stop.clone());
    let relay = tokio::spawn(async move {
        tokio::select! {
            () = s.cancelled() => {}
            () = l.cancelled() => {}
        }
        e.cancel();
    });
    engine.run(&engine_stop).await;
    relay.abort();
    watch_stop.cancel();
    let _ = w1.await;
    let _ = w2.await;
    if stop.is_cancelled() && !lost.is_cancelled() {
        info!("shutting down: final flush");
        let end = engine.shutdown_flush().await;
        info!(outcome = ?end, "final flush finished");
    } else {
        warn!("leadership lost: stopped posting, state dropped");
    }
    metrics.set_synced(false);
    Ok(())
}

//! [`ProxyState`]: everything the routers share, and the background tasks
//! (JWKS initial load / refresh, deployments-file watch).

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::jwks::{Jwks, parse_jwks};
use crate::auth::{Authenticator, ClaimRules};
use crate::config::{Config, ConfigError, JwksSource};
use crate::metrics::Metrics;
use crate::upstream::{ReloadOutcome, Upstreams};

/// Shared state of the proxy routers. Cheap to clone. Dropping the last clone
/// stops its background tasks.
#[derive(Clone)]
pub struct ProxyState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for ProxyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) auth: Authenticator,
    pub(crate) upstreams: Arc<Upstreams>,
    pub(crate) client: reqwest::Client,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ProxyState {
    /// Validates the configuration, loads the deployments file and a JWKS
    /// file, and starts the background tasks (a JWKS URL is fetched in the
    /// background; `/readyz` answers 503 until it has loaded).
    ///
    /// Installs rustls' *ring* provider as the process default if no provider
    /// is installed yet (the HTTP clients need one).
    pub async fn new(config: Config) -> Result<Self, ConfigError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let secret = config
            .jwt_secret
            .as_ref()
            .map(|s| s.expose().as_bytes().to_vec())
            .filter(|s| !s.is_empty());
        if config.jwks.is_none() && secret.is_none() {
            return Err(ConfigError::NoKeySource);
        }
        if let Some(JwksSource::Url(url)) = &config.jwks {
            crate::config::check_jwks_url(url).map_err(|expected| ConfigError::Invalid {
                var: "OPENOVA_FLOW_JWKS_URL",
                value: url.clone(),
                expected,
            })?;
        }
        let metrics = Metrics::default();
        let upstreams = Arc::new(Upstreams::load(
            config.server_url.clone(),
            config.deployments_file.clone(),
        )?);
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .danger_accept_invalid_certs(config.tls_skip_verify)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;

        let jwks = match &config.jwks {
            Some(source) => {
                // Normal TLS verification, whatever OPENOVA_FLOW_TLS_SKIP_VERIFY says.
                let jwks = Arc::new(
                    Jwks::new(
                        source.clone(),
                        config.jwks_fetch_timeout,
                        config.jwks_min_reload_interval,
                        metrics.clone(),
                    )
                    .map_err(|e| ConfigError::HttpClient(e.to_string()))?,
                );
                if let JwksSource::File(path) = source {
                    let bytes = std::fs::read(path).map_err(|e| ConfigError::JwksFile {
                        path: path.clone(),
                        detail: e.to_string(),
                    })?;
                    let (set, skipped) =
                        parse_jwks(&bytes).map_err(|detail| ConfigError::JwksFile {
                            path: path.clone(),
                            detail,
                        })?;
                    for s in skipped {
                        tracing::warn!(key = %s, "JWKS key skipped");
                    }
                    jwks.install(set);
                    metrics.jwks_reload("success");
                }
                Some(jwks)
            }
            None => None,
        };

        let auth = Authenticator::new(
            secret.as_deref(),
            jwks.clone(),
            ClaimRules {
                leeway: config.leeway,
                issuer: config.jwt_issuer.clone(),
                audience: config.jwt_audience.clone(),
            },
        );

        let mut tasks = Vec::new();
        if let Some(jwks) = jwks {
            tasks.push(tokio::spawn(jwks_task(
                jwks,
                config.jwks_initial_retry,
                config.jwks_refresh_interval,
            )));
        }
        if upstreams.has_file() {
            tasks.push(tokio::spawn(deployments_task(
                upstreams.clone(),
                config.deployments_check_interval,
            )));
        }
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                auth,
                upstreams,
                client,
                metrics,
                shutdown,
                tasks,
            }),
        })
    }

    /// Whether `/readyz` answers 200: every configured key source has
    /// material (a JWKS has loaded at least once; a secret always has) and
    /// the deployments file parsed (checked at construction).
    pub fn is_ready(&self) -> bool {
        self.inner.auth.jwks().is_none_or(|j| j.is_loaded())
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Ends every open stream (their responses finish cleanly) so a graceful
    /// server shutdown does not wait for them. New streams end at once.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// Loads a JWKS URL until it succeeds (retrying every `retry`), then reloads
/// every `refresh` so removed keys stop verifying.
async fn jwks_task(jwks: Arc<Jwks>, retry: std::time::Duration, refresh: std::time::Duration) {
    while !jwks.is_loaded() {
        if jwks.reload("start").await {
            break;
        }
        tokio::time::sleep(retry).await;
    }
    loop {
        tokio::time::sleep(refresh).await;
        jwks.reload("periodic").await;
    }
}

async fn deployments_task(upstreams: Arc<Upstreams>, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        let u = upstreams.clone();
        match tokio::task::spawn_blocking(move || u.reload_if_changed()).await {
            Ok(ReloadOutcome::Unchanged) => {}
            Ok(ReloadOutcome::Reloaded) => tracing::info!("deployments file reloaded"),
            Ok(ReloadOutcome::Failed(error)) => {
                tracing::error!(error = %error, "deployments file reload failed; keeping the previous map");
            }
            Err(e) => tracing::error!(error = %e, "deployments file check panicked"),
        }
    }
}

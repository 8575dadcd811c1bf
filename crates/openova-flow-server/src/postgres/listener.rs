//! The replica's `LISTEN openova_flow_events` connection and the readiness
//! probe (server.md §3.2, §10.2).
//!
//! The listener holds one dedicated connection (not pooled). When it is lost
//! it reconnects with backoff 0.5 s doubling to 30 s (`/readyz` says
//! `listener down` meanwhile), then catches up every flow with local
//! subscribers, because notifications sent while it was away are gone.
//! A `SELECT 1` every 10 s on it detects silently dead connections.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_postgres::AsyncMessage;

use super::fanout::Fanout;
use super::notify::{self, CHANNEL};
use super::tls::MakeRustlsConnect;
use crate::metrics::Metrics;

/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_START: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

const LISTENER_PING: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the readiness probe runs, how long one may take, and how old
/// its last success may be for `/readyz` to answer 200.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
pub const PROBE_FRESH: Duration = Duration::from_millis(1500);

/// What `/readyz` reads.
#[derive(Debug)]
pub struct Health {
    listener_up: AtomicBool,
    last_probe_ok: Mutex<Option<Instant>>,
}

impl Health {
    pub fn new() -> Arc<Health> {
        Arc::new(Health {
            listener_up: AtomicBool::new(false),
            last_probe_ok: Mutex::new(None),
        })
    }

    /// `Ok` or the `/readyz` reason.
    pub fn readiness(&self) -> Result<(), String> {
        let fresh = self
            .last_probe_ok
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|t| t.elapsed() <= PROBE_FRESH);
        if !fresh {
            return Err("postgres unreachable".to_owned());
        }
        if !self.listener_up.load(Ordering::Acquire) {
            return Err("listener down".to_owned());
        }
        Ok(())
    }

    pub fn probe_ok(&self) {
        *self
            .last_probe_ok
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    pub fn listener_up(&self) -> bool {
        self.listener_up.load(Ordering::Acquire)
    }

    fn set_listener(&self, up: bool) {
        self.listener_up.store(up, Ordering::Release);
    }
}

/// Runs the readiness probe until `stop` flips.
pub async fn probe(
    store: Arc<super::store::Store>,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if tokio::time::timeout(PROBE_TIMEOUT, store.ping())
            .await
            .unwrap_or(false)
        {
            health.probe_ok();
        }
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Everything the listener needs to (re)connect.
#[derive(Clone)]
pub struct ListenerSettings {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

impl std::fmt::Debug for ListenerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListenerSettings")
    }
}

/// Runs the listener until `stop` flips. `ready` is signalled after the
/// first successful `LISTEN`.
pub async fn run(
    settings: ListenerSettings,
    fanout: Arc<Fanout>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut backoff = BACKOFF_START;
    let mut attempt: u32 = 0;
    loop {
        let outcome = tokio::select! {
            r = listen_once(&settings, &fanout, &health, &metrics, &mut ready, attempt) => r,
            _ = stop.changed() => {
                health.set_listener(false);
                return;
            }
        };
        health.set_listener(false);
        match outcome {
            // The connection worked for a while: start the backoff afresh.
            Ok(error) => {
                backoff = BACKOFF_START;
                attempt = 1;
                tracing::warn!(attempt, error = %error, "listener reconnect");
            }
            Err(error) => {
                attempt += 1;
                if ready.is_none() {
                    tracing::warn!(attempt, error = %error, "listener reconnect");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = next_backoff(backoff);
    }
}

/// 0.5 s, 1 s, 2 s … 30 s.
pub fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(BACKOFF_MAX)
}

/// One listening session. `Err` if it could not be set up; `Ok(reason)`
/// when an established session ended.
async fn listen_once(
    settings: &ListenerSettings,
    fanout: &Arc<Fanout>,
    health: &Health,
    metrics: &Metrics,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
    attempt: u32,
) -> Result<String, String> {
    let (client, mut connection) = settings
        .config
        .connect(settings.tls.clone())
        .await
        .map_err(|e| super::error_detail(&e))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        return "listener stopped".to_owned();
                    }
                }
                Ok(_) => {}
                Err(e) => return super::error_detail(&e),
            }
        }
        "connection closed".to_owned()
    });
    let mut driver = AbortOnDrop(Some(driver));
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| super::error_detail(&e))?;
    health.set_listener(true);
    if let Some(r) = ready.take() {
        let _ = r.send(());
    } else if attempt > 0 {
        metrics.pg_listener_reconnected();
        fanout.catch_up_all();
    }
    let mut ping = tokio::time::interval_at(Instant::now() + LISTENER_PING, LISTENER_PING);
    loop {
        tokio::select! {
            n = rx.recv() => match n {
                Some(n) => match notify::parse(n.payload()) {
                    Some(note) => fanout.notified(note),
                    None => tracing::debug!(payload = n.payload(), "foreign notification ignored"),
                },
                None => break,
            },
            _ = ping.tick() => {
                let alive = tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1"))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !alive {
                    return Ok("listener ping failed".to_owned());
                }
            }
        }
    }
    health.set_listener(false);
    drop(client);
    let reason = match driver.0.take() {
        Some(h) => h.await.unwrap_or_else(|e| e.to_string()),
        None => "connection closed".to_owned(),
    };
    Ok(reason)
}

/// Aborts the connection driver task whichever way the session ends.
struct AbortOnDrop(Option<tokio::task::JoinHandle<String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_to_thirty() {
        let mut d = BACKOFF_START;
        let mut seen = vec![d];
        for _ in 0..8 {
            d = next_backoff(d);
            seen.push(d);
        }
        let secs: Vec<f64> = seen.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_needs_a_fresh_probe_and_the_listener() {
        let h = Health::new();
        assert_eq!(h.readiness(), Err("postgres unreachable".to_owned()));
        h.probe_ok();
        assert_eq!(h.readiness(), Err("listener down".to_owned()));
        h.set_listener(true);
        assert_eq!(h.readiness(), Ok(()));
        tokio::time::advance(PROBE_FRESH + Duration::from_millis(1)).await;
        assert_eq!(h.readiness(), Err("postgres unreachable".to_owned()));
    }
}

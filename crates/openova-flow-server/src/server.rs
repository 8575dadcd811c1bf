//! Listening, serving and graceful shutdown (server.md §9).
//!
//! HTTP/1.1 via hyper with a fixed 10 s header read timeout; SSE streams have
//! no read/write/idle timeout. On shutdown: `/readyz` → 503 and the listener
//! closes, every stream ends at a frame boundary, in-flight requests finish,
//! then the backend closes — all within the grace period.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::ListenAddr;
use crate::http::{AppState, app};

/// Header read timeout (server.md §4).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown may take after the signal (server.md §9).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds the configured address. `:port` tries the dual-stack `[::]:port`
/// first and falls back to `0.0.0.0:port`.
pub async fn bind(addr: &ListenAddr) -> std::io::Result<TcpListener> {
    match addr {
        ListenAddr::Socket(a) => TcpListener::bind(a).await,
        ListenAddr::AllInterfaces(port) => {
            let v6: SocketAddr = (std::net::Ipv6Addr::UNSPECIFIED, *port).into();
            match TcpListener::bind(v6).await {
                Ok(l) => Ok(l),
                Err(_) => TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, *port)).await,
            }
        }
        ListenAddr::Host(host, port) => TcpListener::bind((host.as_str(), *port)).await,
    }
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeOutcome {
    /// Everything finished within the grace period.
    Clean,
    /// Connections were still busy when the grace period ran out.
    DeadlineExceeded { open_streams: usize },
}

/// Serves `state` on `listener` until `shutdown` resolves, then shuts down
/// gracefully within `grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> ServeOutcome {
    let router = app(state.clone());
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let svc = TowerToHyperService::new(router.clone());
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let watched = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = watched.await;
                    });
                }
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    let deadline = tokio::time::Instant::now() + grace;
    tracing::info!(openStreams = state.open_streams(), "shutdown begin");
    drop(listener);
    state.begin_shutdown();
    let outcome = match tokio::time::timeout_at(deadline, graceful.shutdown()).await {
        Ok(()) => ServeOutcome::Clean,
        Err(_) => ServeOutcome::DeadlineExceeded {
            open_streams: state.open_streams(),
        },
    };
    let _ = tokio::time::timeout_at(deadline, state.backend().close()).await;
    match outcome {
        ServeOutcome::Clean => tracing::info!(openStreams = 0, "shutdown end"),
        ServeOutcome::DeadlineExceeded { open_streams } => {
            tracing::warn!(openStreams = open_streams, "shutdown deadline exceeded");
        }
    }
    outcome
}

//! Following a flow's SSE stream across disconnects: frames are parsed with
//! the contract's [`FrameParser`]; after an end of stream the client waits
//! the server's `retry:` and resumes with `Last-Event-ID` (contract.md §10).

use std::ops::ControlFlow;
use std::time::Duration;

use openova_flow_contract::sse::{Frame, FrameParser};

use crate::client::{Api, StreamError};

/// What the follower reports.
#[derive(Debug)]
pub enum FollowEvent {
    /// A stream answered 200 (first connection or a reconnect).
    Connected,
    /// One SSE frame, heartbeats included.
    Frame(Frame),
    /// The stream ended or could not be opened; a reconnect follows after `retry_in`.
    Disconnected { why: String, retry_in: Duration },
    /// Nothing arrived for a tick (for redraws of elapsed times).
    Tick,
}

/// Default reconnect delay after an end of stream (the server's `retry:`).
const DEFAULT_RETRY: Duration = Duration::from_millis(2000);
const TICK: Duration = Duration::from_millis(250);

/// Delay before reconnect attempt `n` after failures: 1 s doubling, 30 s cap.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(
        1000u64
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(5))
            .min(30_000),
    )
}

/// Follows `flow_id` until `on_event` breaks (its value is returned) or a
/// fatal error (401, 403, 4xx) ends it. `last_event_id` starts a resume.
pub async fn follow<T>(
    api: &Api,
    flow_id: &str,
    mut last_event_id: Option<String>,
    mut on_event: impl FnMut(FollowEvent) -> ControlFlow<T>,
) -> anyhow::Result<T> {
    let mut retry = DEFAULT_RETRY;
    let mut failures: u32 = 0;
    loop {
        let wait = match api.open_stream(flow_id, last_event_id.as_deref()).await {
            Err(StreamError::Fatal(line)) => anyhow::bail!(line),
            Err(StreamError::Retry(why)) => {
                failures += 1;
                let retry_in = backoff(failures);
                if let ControlFlow::Break(t) = on_event(FollowEvent::Disconnected { why, retry_in })
                {
                    return Ok(t);
                }
                retry_in
            }
            Ok(mut resp) => {
                if let ControlFlow::Break(t) = on_event(FollowEvent::Connected) {
                    return Ok(t);
                }
                let mut parser = FrameParser::new();
                let why = loop {
                    let chunk = tokio::select! {
                        c = resp.chunk() => c,
                        () = tokio::time::sleep(TICK) => {
                            if let ControlFlow::Break(t) = on_event(FollowEvent::Tick) {
                                return Ok(t);
                            }
                            continue;
                        }
                    };
                    match chunk {
                        Ok(Some(bytes)) => {
                            for frame in parser.push(&bytes) {
                                failures = 0;
                                if let Some(r) = frame.retry {
                                    retry = Duration::from_millis(r.min(60_000));
                                }
                                if let Some(id) = frame.id.as_ref().filter(|id| !id.is_empty()) {
                                    last_event_id = Some(id.clone());
                                }
                                if let ControlFlow::Break(t) = on_event(FollowEvent::Frame(frame)) {
                                    return Ok(t);
                                }
                            }
                        }
                        Ok(None) => break "stream ended".to_owned(),
                        Err(e) => break format!("stream broke: {e}"),
                    }
                };
                let retry_in = if failures == 0 {
                    retry
                } else {
                    backoff(failures)
                };
                if let ControlFlow::Break(t) = on_event(FollowEvent::Disconnected { why, retry_in })
                {
                    return Ok(t);
                }
                retry_in
            }
        };
        // Keep ticking while waiting, so views can show the countdown.
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep_until(until.min(tokio::time::Instant::now() + TICK)).await;
            if let ControlFlow::Break(t) = on_event(FollowEvent::Tick) {
                return Ok(t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let ms: Vec<u128> = (1..=8).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(ms, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        assert_eq!(backoff(0), Duration::from_secs(1));
    }
}

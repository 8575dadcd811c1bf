//! SSE fan-out, shared by every backend (contract.md §9–§10, server.md §11).
//!
//! * [`Subscribers`] — the subscriber set of one flow. Publishing enqueues the
//!   *same* frame bytes (`Bytes`, reference-counted) to every subscriber with
//!   `try_send`, never waiting; a full queue marks the subscriber *lagged* and
//!   it gets nothing more until it resyncs itself.
//! * [`Subscription`] — what a backend hands out when a stream opens: the
//!   first frames (snapshot or replay, already read atomically with the
//!   registration), the receiver, and a [`SubscriptionHandle`] for resyncs and
//!   unregistration.
//! * [`SseBody`] — the HTTP response body: retry prefix, first frames, live
//!   frames in order, a heartbeat after each idle interval, a resync snapshot
//!   after lag, and the end when the backend drops the sender (DELETE,
//!   shutdown).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use openova_flow_contract::sse::{HEARTBEAT_FRAME, RETRY_PREFIX};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::{Instant, Sleep};

use crate::metrics::{FrameKind, Metrics, StreamOpen};

/// Identifies one registration in a [`Subscribers`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberKey {
    index: u32,
    uid: u64,
}

#[derive(Debug)]
struct Slot {
    uid: u64,
    tx: mpsc::Sender<Bytes>,
    lagged: Arc<AtomicBool>,
}

/// The subscribers of one flow. Lives inside the flow's lock.
#[derive(Debug, Default)]
pub struct Subscribers {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    len: usize,
    next_uid: u64,
}

impl Subscribers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Registers a subscriber with a queue of `queue` frames.
    pub fn add(&mut self, queue: usize) -> (SubscriberKey, mpsc::Receiver<Bytes>, Arc<AtomicBool>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        self.next_uid += 1;
        let slot = Slot {
            uid: self.next_uid,
            tx,
            lagged: Arc::clone(&lagged),
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.len += 1;
        let key = SubscriberKey {
            index,
            uid: self.next_uid,
        };
        (key, rx, lagged)
    }

    fn slot(&self, key: SubscriberKey) -> Option<&Slot> {
        self.slots
            .get(key.index as usize)
            .and_then(Option::as_ref)
            .filter(|s| s.uid == key.uid)
    }

    pub fn contains(&self, key: SubscriberKey) -> bool {
        self.slot(key).is_some()
    }

    /// Unregisters; `false` if it was not registered (already removed).
    pub fn remove(&mut self, key: SubscriberKey) -> bool {
        if !self.contains(key) {
            return false;
        }
        self.slots[key.index as usize] = None;
        self.free.push(key.index);
        self.len -= 1;
        if self.len == 0 {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
        true
    }

    /// Enqueues `frame` to every subscriber without waiting. A full queue
    /// marks the subscriber lagged (it will resync itself); a closed one is
    /// removed. Lagged subscribers are skipped until they resync.
    pub fn send(&mut self, frame: &Bytes) {
        let mut closed = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            if slot.lagged.load(Ordering::Relaxed) {
                continue;
            }
            match slot.tx.try_send(frame.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => slot.lagged.store(true, Ordering::Release),
                Err(TrySendError::Closed(_)) => closed.push(i),
            }
        }
        for i in closed {
            self.slots[i] = None;
            self.free.push(i as u32);
            self.len -= 1;
        }
        if self.len == 0 && !self.slots.is_empty() {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    /// Starts a resync for `key`, under the same lock as [`Subscribers::send`]:
    /// discards everything queued and clears the lagged mark, so the snapshot
    /// the caller builds next (still under the lock) is followed by exactly
    /// the next seq. `false` if the subscriber is no longer registered.
    pub fn begin_resync(&self, key: SubscriberKey, rx: &mut mpsc::Receiver<Bytes>) -> bool {
        let Some(slot) = self.slot(key) else {
            return false;
        };
        while rx.try_recv().is_ok() {}
        slot.lagged.store(false, Ordering::Release);
        true
    }

    /// Drops every sender: each stream delivers what is queued, then ends.
    pub fn clear(&mut self) {
        *self = Subscribers {
            next_uid: self.next_uid,
            ..Subscribers::default()
        };
    }
}

/// Backend side of one open stream. Dropping it unregisters the subscriber.
pub trait SubscriptionHandle: Send + Sync + 'static {
    /// The subscriber fell behind: atomically with the flow's sequencing,
    /// discard its queue (see [`Subscribers::begin_resync`]) and return a
    /// snapshot frame stamped with the current id. `None` ends the stream
    /// (flow deleted, shutdown, backend failure).
    fn resync(&self, rx: &mut mpsc::Receiver<Bytes>) -> Option<Bytes>;
}

/// A registered stream, as returned by a backend's `subscribe`.
pub struct Subscription {
    opened: StreamOpen,
    /// Snapshot frame or replayed frames (no retry prefix); empty when live.
    initial: Bytes,
    /// Number of frames in `initial`.
    initial_frames: u64,
    rx: mpsc::Receiver<Bytes>,
    lagged: Arc<AtomicBool>,
    handle: Box<dyn SubscriptionHandle>,
    /// For the `subscriber resync` debug line.
    flow_id: Option<Arc<str>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("opened", &self.opened)
            .field("initial_bytes", &self.initial.len())
            .field("initial_frames", &self.initial_frames)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// `initial` holds `initial_frames` complete frames (no retry prefix).
    pub fn new(
        opened: StreamOpen,
        initial: Bytes,
        initial_frames: u64,
        rx: mpsc::Receiver<Bytes>,
        lagged: Arc<AtomicBool>,
        handle: Box<dyn SubscriptionHandle>,
    ) -> Self {
        Subscription {
            opened,
            initial,
            initial_frames,
            rx,
            lagged,
            handle,
            flow_id: None,
        }
    }

    /// Names the flow in the stream's log lines.
    pub fn with_flow_id(mut self, flow_id: impl Into<Arc<str>>) -> Self {
        self.flow_id = Some(flow_id.into());
        self
    }

    /// How the stream started.
    pub fn opened(&self) -> StreamOpen {
        self.opened
    }
}

/// Limits open streams per process (`MAX_SUBSCRIBERS`) and keeps the
/// `flow_server_subscribers_active` gauge.
#[derive(Debug)]
pub struct SubscriberLimiter {
    max: usize,
    open: AtomicUsize,
    metrics: Arc<Metrics>,
}

/// One slot of the [`SubscriberLimiter`]; released on drop.
#[derive(Debug)]
pub struct SubscriberPermit(Arc<SubscriberLimiter>);

impl SubscriberLimiter {
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(SubscriberLimiter {
            max,
            open: AtomicUsize::new(0),
            metrics,
        })
    }

    /// `None` when `max` streams are open.
    pub fn try_acquire(self: &Arc<Self>) -> Option<SubscriberPermit> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()?;
        self.metrics.subscriber_opened();
        Some(SubscriberPermit(Arc::clone(self)))
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for SubscriberPermit {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.metrics.subscriber_closed();
    }
}

/// The `text/event-stream` response body of one subscription.
pub struct SseBody {
    sub: Subscription,
    prefix_pending: bool,
    initial_sent: bool,
    done: bool,
    heartbeat: Duration,
    /// Fires at or before the heartbeat deadline; re-armed lazily (see
    /// `last_frame`), so a busy stream does not touch the timer per frame.
    idle: Pin<Box<Sleep>>,
    /// When the last frame was written; the heartbeat is due one interval later.
    last_frame: Instant,
    metrics: Arc<Metrics>,
    _permit: Option<SubscriberPermit>,
}

impl std::fmt::Debug for SseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseBody")
            .field("sub", &self.sub)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl SseBody {
    pub fn new(
        sub: Subscription,
        heartbeat: Duration,
        metrics: Arc<Metrics>,
        permit: Option<SubscriberPermit>,
    ) -> Self {
        metrics.stream_opened(sub.opened);
        SseBody {
            initial_sent: sub.initial.is_empty(),
            sub,
            prefix_pending: true,
            done: false,
            heartbeat,
            idle: Box::pin(tokio::time::sleep(heartbeat)),
            last_frame: Instant::now(),
            metrics,
            _permit: permit,
        }
    }

    /// The next chunk of the body (`None` at the end). For tests and
    /// in-process consumers; HTTP uses the [`Body`] impl.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_frame(cx))
            .await
            .and_then(|f| f.ok())
            .and_then(|f| f.into_data().ok())
    }

    fn emit(&mut self, bytes: Bytes, kind: FrameKind, frames: u64) -> Bytes {
        let out = if self.prefix_pending {
            self.prefix_pending = false;
            let mut b = BytesMut::with_capacity(RETRY_PREFIX.len() + bytes.len());
            b.extend_from_slice(RETRY_PREFIX);
            b.extend_from_slice(&bytes);
            b.freeze()
        } else {
            bytes
        };
        self.metrics.frames_sent(kind, frames, out.len());
        self.last_frame = Instant::now();
        out
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if !this.initial_sent {
            this.initial_sent = true;
            let initial = std::mem::take(&mut this.sub.initial);
            let kind = match this.sub.opened {
                StreamOpen::Snapshot => FrameKind::Snapshot,
                StreamOpen::Replay | StreamOpen::Live => FrameKind::Event,
            };
            let n = this.sub.initial_frames;
            return Poll::Ready(Some(Ok(Frame::data(this.emit(initial, kind, n)))));
        }
        match this.sub.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                if this.sub.lagged.load(Ordering::Acquire) {
                    match this.sub.handle.resync(&mut this.sub.rx) {
                        Some(snapshot) => {
                            this.metrics.resync();
                            tracing::debug!(
                                flowId = this.sub.flow_id.as_deref().unwrap_or(""),
                                "subscriber resync"
                            );
                            let out = this.emit(snapshot, FrameKind::Snapshot, 1);
                            Poll::Ready(Some(Ok(Frame::data(out))))
                        }
                        None => {
                            this.done = true;
                            Poll::Ready(None)
                        }
                    }
                } else {
                    Poll::Ready(Some(Ok(Frame::data(this.emit(frame, FrameKind::Event, 1)))))
                }
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => loop {
                match this.idle.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => {
                        let due = this.last_frame + this.heartbeat;
                        if Instant::now() < due {
                            // Frames were written since the timer was armed.
                            this.idle.as_mut().reset(due);
                            continue;
                        }
                        let hb = Bytes::from_static(HEARTBEAT_FRAME);
                        let out = this.emit(hb, FrameKind::Heartbeat, 1);
                        let next = this.last_frame + this.heartbeat;
                        this.idle.as_mut().reset(next);
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_marks_lagged_and_skips_until_resync() {
        let mut subs = Subscribers::new();
        let (key, mut rx, lagged) = subs.add(2);
        for i in 0..5u8 {
            subs.send(&Bytes::from(vec![i]));
        }
        assert!(lagged.load(Ordering::Acquire));
        assert!(subs.begin_resync(key, &mut rx));
        assert!(rx.try_recv().is_err(), "backlog discarded");
        assert!(!lagged.load(Ordering::Acquire));
        subs.send(&Bytes::from_static(b"next"));
        assert_eq!(rx.try_recv().unwrap(), Bytes::from_static(b"next"));
    }

    #[test]
    fn closed_receivers_are_removed_on_send_and_keys_are_not_reused() {
        let mut subs = Subscribers::new();
        let (a, rx_a, _) = subs.add(4);
        let (b, _rx_b, _) = subs.add(4);
        drop(rx_a);
        subs.send(&Bytes::from_static(b"x"));
        assert_eq!(subs.len(), 1);
        assert!(!subs.contains(a));
        let (c, _rx_c, _) = subs.add(4);
        assert_ne!(a, c, "same index, new uid");
        assert!(!subs.remove(a));
        assert!(subs.remove(b) && subs.remove(c));
        assert!(subs.is_empty());
    }

    #[test]
    fn clear_ends_every_stream() {
        let mut subs = Subscribers::new();
        let (_, mut rx, _) = subs.add(4);
        subs.send(&Bytes::from_static(b"last"));
        subs.clear();
        assert_eq!(rx.try_recv().unwrap(), Bytes::from_static(b"last"));
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn limiter_counts_and_releases() {
        let m = Arc::new(Metrics::new("memory"));
        let l = SubscriberLimiter::new(1, Arc::clone(&m));
        let p = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_none());
        assert_eq!(m.subscribers_active(), 1);
        drop(p);
        assert!(l.try_acquire().is_some());
        assert_eq!(m.subscribers_active(), 0);
    }
}

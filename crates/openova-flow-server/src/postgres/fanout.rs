//! Per-replica fan-out of committed events (server.md §10.2 "Fan-out").
//!
//! For every flow with local subscribers a replica keeps a [`LocalFlow`]: the
//! incarnation's epoch, the last seq it fanned out, the materialised
//! [`FlowState`] at that seq (so a lagging subscriber resyncs from memory,
//! atomically with the fan-out, exactly as on the memory backend) and the
//! subscribers.
//!
//! Events reach a `LocalFlow` in seq order from two places, both under the
//! flow's async *fan lock*:
//! * the catch-up: `events WHERE seq > last ORDER BY seq`, run on a
//!   notification, after a listener reconnect, or when a gap shows up; one
//!   per flow at a time, further notifications mark it dirty;
//! * the publishing request of this replica, which hands over its own
//!   committed event when it is exactly `last + 1` (else it runs a catch-up).
//!
//! Opening a stream takes the fan lock, loads (first subscriber) or catches
//! up the flow, answers from that position and registers before releasing it,
//! so the next frame is always `last + 1`: no gap, no duplicate.
//!
//! Lock order: map → inner; the fan lock is taken before either and never
//! while holding them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use openova_flow_contract::event_id::FlowPosition;
use openova_flow_contract::sse::{event_frame, snapshot_frame};
use openova_flow_contract::{
    EventId, FlowMessage, FlowState, ResumeDecision, decode_message, resume_decision,
};
use tokio::sync::mpsc;

use super::fold::snapshot_json;
use super::notify::Note;
use super::store::{DbSnapshot, EventRow, Store};
use crate::backend::BackendError;
use crate::metrics::StreamOpen;
use crate::stream::{SubscriberKey, Subscribers, Subscription, SubscriptionHandle};

/// Events read per catch-up query.
const CATCH_UP_BATCH: u32 = 1000;

/// Longest pause between retries of a failed catch-up.
const MAX_RETRY: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Inner {
    /// Left the map: ended, or about to be replaced.
    removed: bool,
    /// `epoch`, `last` and `state` reflect the database.
    loaded: bool,
    /// `None`: no incarnation (yet).
    epoch: Option<String>,
    last: u64,
    state: FlowState,
    /// The snapshot frame at `last` (cleared by every applied event).
    snapshot_frame: Option<Bytes>,
    subs: Subscribers,
}

impl Inner {
    fn snapshot_frame(&mut self, flow_id: &str) -> Bytes {
        if let Some(f) = &self.snapshot_frame {
            return f.clone();
        }
        let json = self.state.snapshot(flow_id).to_canonical_json();
        let id = self
            .epoch
            .as_ref()
            .map(|e| EventId::new(e.as_str(), self.last));
        let frame = Bytes::from(snapshot_frame(id.as_ref(), &json));
        self.snapshot_frame = Some(frame.clone());
        frame
    }

    fn apply(&mut self, seq: u64, frame: &Bytes, msg: FlowMessage) {
        self.state.apply_unchecked(msg);
        self.last = seq;
        self.snapshot_frame = None;
        self.subs.send(frame);
    }
}

#[derive(Default)]
struct CatchUp {
    running: bool,
    dirty: bool,
}

/// A flow with local subscribers (or a stream being opened).
pub struct LocalFlow {
    flow_id: Box<str>,
    /// Serialises loading, catch-up, own-event hand-over and stream opening.
    fan: tokio::sync::Mutex<()>,
    inner: Mutex<Inner>,
    catch_up: Mutex<CatchUp>,
}

impl std::fmt::Debug for LocalFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFlow")
            .field("flow_id", &self.flow_id)
            .finish_non_exhaustive()
    }
}

impl LocalFlow {
    fn new(flow_id: &str) -> Self {
        LocalFlow {
            flow_id: flow_id.into(),
            fan: tokio::sync::Mutex::new(()),
            inner: Mutex::new(Inner {
                removed: false,
                loaded: false,
                epoch: None,
                last: 0,
                state: FlowState::new(),
                snapshot_frame: None,
                subs: Subscribers::new(),
            }),
            catch_up: Mutex::new(CatchUp::default()),
        }
    }

    fn removed(&self) -> bool {
        lock(&self.inner).removed
    }
}

/// The local fan-out of one replica.
pub struct Fanout {
    store: Arc<Store>,
    flows: Mutex<HashMap<Box<str>, Arc<LocalFlow>>>,
    queue: usize,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("flows", &lock(&self.flows).len())
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// The stored state as `(epoch, last, state, snapshot frame)`.
fn materialise(
    flow_id: &str,
    snap: Option<DbSnapshot>,
) -> Result<(Option<String>, u64, FlowState, Bytes), BackendError> {
    let Some(s) = snap else {
        let empty: [&str; 0] = [];
        let json = snapshot_json(flow_id, None, &empty, &empty);
        return Ok((
            None,
            0,
            FlowState::new(),
            Bytes::from(snapshot_frame(None, &json)),
        ));
    };
    let json = snapshot_json(flow_id, s.flow.as_deref(), &s.nodes, &s.rels);
    let msg = decode_message(&json).map_err(|e| {
        BackendError::Failed(format!(
            "stored state of flow {flow_id} does not decode: {e}"
        ))
    })?;
    let mut state = FlowState::new();
    state.apply_unchecked(msg);
    let frame = snapshot_frame(Some(&EventId::new(s.epoch.as_str(), s.last_seq)), &json);
    Ok((Some(s.epoch), s.last_seq, state, Bytes::from(frame)))
}

/// A stored event as its frame and decoded message.
fn decode_event(epoch: &str, e: &EventRow) -> Result<(u64, Bytes, FlowMessage), BackendError> {
    let msg = decode_message(e.payload.as_bytes()).map_err(|err| {
        BackendError::Failed(format!(
            "stored event {epoch}-{} does not decode: {err}",
            e.seq
        ))
    })?;
    let frame = event_frame(
        e.event_type,
        &EventId::new(epoch, e.seq),
        e.payload.as_bytes(),
    );
    Ok((e.seq, Bytes::from(frame), msg))
}

/// Removes a stream-in-progress's `LocalFlow` again if it stays unused
/// (error, cancelled request).
struct Pending<'a> {
    fanout: &'a Fanout,
    lf: Arc<LocalFlow>,
    armed: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.fanout.remove_if_empty(&self.lf);
        }
    }
}

impl Fanout {
    pub fn new(store: Arc<Store>, queue: usize) -> Arc<Fanout> {
        Arc::new(Fanout {
            store,
            flows: Mutex::new(HashMap::new()),
            queue,
            shutting_down: AtomicBool::new(false),
        })
    }

    /// Flows with local subscribers (`flow_server_flows_active`).
    pub fn flows_active(&self) -> u64 {
        lock(&self.flows).len() as u64
    }

    fn get(&self, flow_id: &str) -> Option<Arc<LocalFlow>> {
        lock(&self.flows).get(flow_id).cloned()
    }

    fn get_or_create(&self, flow_id: &str) -> Arc<LocalFlow> {
        Arc::clone(
            lock(&self.flows)
                .entry(flow_id.into())
                .or_insert_with(|| Arc::new(LocalFlow::new(flow_id))),
        )
    }

    fn remove_if_empty(&self, lf: &Arc<LocalFlow>) {
        let mut flows = lock(&self.flows);
        if !flows.get(&lf.flow_id).is_some_and(|c| Arc::ptr_eq(c, lf)) {
            return;
        }
        let mut g = lock(&lf.inner);
        if !g.removed && g.subs.is_empty() {
            g.removed = true;
            drop(g);
            flows.remove(&lf.flow_id);
        }
    }

    /// Ends every local stream of `lf` (flow deleted or replaced).
    fn end(&self, lf: &Arc<LocalFlow>) {
        let mut flows = lock(&self.flows);
        if flows.get(&lf.flow_id).is_some_and(|c| Arc::ptr_eq(c, lf)) {
            flows.remove(&lf.flow_id);
        }
        let mut g = lock(&lf.inner);
        g.removed = true;
        g.subs.clear();
    }

    /// Ends the local streams of a flow (DELETE on this or another replica).
    pub fn end_flow(&self, flow_id: &str) {
        if let Some(lf) = self.get(flow_id) {
            self.end(&lf);
        }
    }

    /// Shutdown: ends every stream and refuses new ones.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let flows: Vec<Arc<LocalFlow>> = lock(&self.flows).drain().map(|(_, lf)| lf).collect();
        for lf in flows {
            let mut g = lock(&lf.inner);
            g.removed = true;
            g.subs.clear();
        }
    }

    /// Opens a stream (contract.md §10).
    pub async fn subscribe(
        self: &Arc<Self>,
        flow_id: &str,
        last_event_id: Option<&str>,
    ) -> Result<Subscription, BackendError> {
        loop {
            if self.shutting_down.load(Ordering::SeqCst) {
                return Err(BackendError::ShuttingDown);
            }
            let mut pending = Pending {
                fanout: self,
                lf: self.get_or_create(flow_id),
                armed: true,
            };
            let lf = Arc::clone(&pending.lf);
            let _fan = lf.fan.lock().await;
            if lf.removed() {
                continue;
            }
            let loaded = lock(&lf.inner).loaded;
            if loaded {
                self.catch_up_locked(&lf).await?;
            } else {
                self.load_locked(&lf).await?;
            }
            let (epoch, last) = {
                let g = lock(&lf.inner);
                if g.removed {
                    continue;
                }
                (g.epoch.clone(), g.last)
            };
            let pos = FlowPosition {
                epoch: epoch.as_deref(),
                last_seq: last,
                oldest_retained: 1,
            };
            let mut opened = match resume_decision(last_event_id, pos) {
                ResumeDecision::Snapshot => None,
                ResumeDecision::Live => Some((StreamOpen::Live, Bytes::new(), 0)),
                ResumeDecision::Replay { after } => {
                    let epoch = epoch.as_deref().unwrap_or_default();
                    self.replay_frames(flow_id, epoch, after, last).await?
                }
            };
            let mut g = lock(&lf.inner);
            if g.removed {
                continue;
            }
            if opened.is_none() {
                opened = Some((StreamOpen::Snapshot, g.snapshot_frame(flow_id), 1));
            }
            let (how, initial, frames) = opened.unwrap_or((StreamOpen::Live, Bytes::new(), 0));
            let (key, rx, lagged) = g.subs.add(self.queue);
            drop(g);
            pending.armed = false;
            let handle = PgHandle {
                fanout: Arc::downgrade(self),
                lf: Arc::clone(&lf),
                key,
            };
            return Ok(Subscription::new(
                how,
                initial,
                frames,
                rx,
                lagged,
                Box::new(handle),
            ));
        }
    }

    /// Frames `after+1 ..= upto` from the events table, or `None` when some
    /// of them were trimmed (the stream then starts with a snapshot).
    async fn replay_frames(
        &self,
        flow_id: &str,
        epoch: &str,
        after: u64,
        upto: u64,
    ) -> Result<Option<(StreamOpen, Bytes, u64)>, BackendError> {
        let rows = self.store.replay(flow_id, epoch, after, upto).await?;
        let complete =
            rows.len() as u64 == upto - after && rows.first().is_some_and(|r| r.seq == after + 1);
        if !complete {
            return Ok(None);
        }
        let mut out = BytesMut::new();
        for r in &rows {
            out.extend_from_slice(&event_frame(
                r.event_type,
                &EventId::new(epoch, r.seq),
                r.payload.as_bytes(),
            ));
        }
        Ok(Some((StreamOpen::Replay, out.freeze(), rows.len() as u64)))
    }

    /// First subscriber: reads the stored state. Fan lock held.
    async fn load_locked(&self, lf: &Arc<LocalFlow>) -> Result<(), BackendError> {
        let snap = self.store.snapshot(&lf.flow_id).await?;
        let (epoch, last, state, frame) = materialise(&lf.flow_id, snap)?;
        let mut g = lock(&lf.inner);
        g.epoch = epoch;
        g.last = last;
        g.state = state;
        g.snapshot_frame = Some(frame);
        g.loaded = true;
        Ok(())
    }

    /// Brings `lf` up to the database: fans out every event after `last`,
    /// resyncs after a trimmed gap, ends the streams of a deleted or
    /// replaced incarnation. Fan lock held.
    async fn catch_up_locked(&self, lf: &Arc<LocalFlow>) -> Result<(), BackendError> {
        loop {
            let (epoch, last) = {
                let g = lock(&lf.inner);
                if g.removed || !g.loaded {
                    return Ok(());
                }
                (g.epoch.clone(), g.last)
            };
            let tail = self
                .store
                .events_after(&lf.flow_id, last, CATCH_UP_BATCH)
                .await?;
            let Some(tail) = tail else {
                if epoch.is_some() {
                    self.end(lf);
                }
                return Ok(());
            };
            if epoch.as_ref().is_some_and(|e| *e != tail.epoch) || (epoch.is_none() && last != 0) {
                self.end(lf);
                return Ok(());
            }
            let Some(first) = tail.events.first() else {
                if tail.last_seq > last {
                    // Everything after `last` was trimmed already.
                    self.resync_locked(lf).await?;
                }
                return Ok(());
            };
            if first.seq != last + 1 {
                self.resync_locked(lf).await?;
                continue;
            }
            let batch: Result<Vec<_>, _> = tail
                .events
                .iter()
                .map(|e| decode_event(&tail.epoch, e))
                .collect();
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(flowId = %lf.flow_id, error = %e, "catch-up resyncs");
                    self.resync_locked(lf).await?;
                    return Ok(());
                }
            };
            let full = tail.events.len() as u64 >= u64::from(CATCH_UP_BATCH);
            {
                let mut g = lock(&lf.inner);
                if g.removed {
                    return Ok(());
                }
                if g.epoch.is_none() {
                    g.epoch = Some(tail.epoch.clone());
                }
                for (seq, frame, msg) in batch {
                    if seq == g.last + 1 {
                        g.apply(seq, &frame, msg);
                    }
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Replaces the local state with the stored one and sends everyone a
    /// snapshot frame (a trimmed gap). Fan lock held.
    async fn resync_locked(&self, lf: &Arc<LocalFlow>) -> Result<(), BackendError> {
        let snap = self.store.snapshot(&lf.flow_id).await?;
        let g = lock(&lf.inner);
        if g.removed {
            return Ok(());
        }
        match (&g.epoch, &snap) {
            (Some(_), None) => {
                drop(g);
                self.end(lf);
                return Ok(());
            }
            (Some(e), Some(s)) if *e != s.epoch => {
                drop(g);
                self.end(lf);
                return Ok(());
            }
            _ => {}
        }
        drop(g);
        let (epoch, last, state, frame) = materialise(&lf.flow_id, snap)?;
        let mut g = lock(&lf.inner);
        if g.removed {
            return Ok(());
        }
        g.epoch = epoch;
        g.last = last;
        g.state = state;
        g.subs.send(&frame);
        g.snapshot_frame = Some(frame);
        tracing::debug!(flowId = %lf.flow_id, "subscribers resynced after a trimmed gap");
        Ok(())
    }

    /// This replica committed `epoch-seq`: hand it to local subscribers in
    /// order (directly when it is the next one, else via a catch-up).
    pub async fn published(
        self: &Arc<Self>,
        flow_id: &str,
        epoch: &str,
        seq: u64,
        frame: Bytes,
        msg: FlowMessage,
    ) {
        let Some(lf) = self.get(flow_id) else {
            return;
        };
        let _fan = lf.fan.lock().await;
        {
            let mut g = lock(&lf.inner);
            if g.removed || !g.loaded {
                return;
            }
            let next = match &g.epoch {
                Some(e) => e == epoch && g.last + 1 == seq,
                None => g.last == 0 && seq == 1,
            };
            if next {
                if g.epoch.is_none() {
                    g.epoch = Some(epoch.to_owned());
                }
                g.apply(seq, &frame, msg);
                return;
            }
            if g.epoch.as_deref() == Some(epoch) && g.last >= seq {
                return;
            }
        }
        if let Err(e) = self.catch_up_locked(&lf).await {
            tracing::debug!(flowId = %flow_id, error = %e, "catch-up after publish failed; retrying");
            self.schedule_catch_up(Arc::clone(&lf));
        }
    }

    /// A notification from the listener.
    pub fn notified(self: &Arc<Self>, note: Note) {
        match note {
            Note::Delete { flow_id } => self.end_flow(&flow_id),
            Note::Event {
                flow_id,
                epoch,
                seq,
            } => {
                let Some(lf) = self.get(&flow_id) else {
                    return;
                };
                {
                    let g = lock(&lf.inner);
                    if g.removed || (g.epoch.as_deref() == Some(epoch.as_str()) && g.last >= seq) {
                        return;
                    }
                }
                self.schedule_catch_up(lf);
            }
        }
    }

    /// Catches up every local flow (after a listener reconnect).
    pub fn catch_up_all(self: &Arc<Self>) {
        let flows: Vec<Arc<LocalFlow>> = lock(&self.flows).values().cloned().collect();
        for lf in flows {
            self.schedule_catch_up(lf);
        }
    }

    /// Runs a catch-up for `lf` in the background; one at a time per flow,
    /// requests meanwhile mark it dirty so it runs once more.
    fn schedule_catch_up(self: &Arc<Self>, lf: Arc<LocalFlow>) {
        {
            let mut c = lock(&lf.catch_up);
            if c.running {
                c.dirty = true;
                return;
            }
            c.running = true;
            c.dirty = false;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut retry = Duration::from_millis(500);
            loop {
                let result = {
                    let _fan = lf.fan.lock().await;
                    this.catch_up_locked(&lf).await
                };
                let done = lf.removed() || this.shutting_down.load(Ordering::SeqCst);
                if let Err(e) = &result
                    && !done
                {
                    tracing::debug!(flowId = %lf.flow_id, error = %e, "catch-up failed; retrying");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY);
                    continue;
                }
                let mut c = lock(&lf.catch_up);
                if c.dirty && !done {
                    c.dirty = false;
                    continue;
                }
                c.running = false;
                return;
            }
        });
    }

    fn unsubscribe(&self, lf: &Arc<LocalFlow>, key: SubscriberKey) {
        let mut g = lock(&lf.inner);
        if !g.subs.remove(key) {
            return;
        }
        let empty = !g.removed && g.subs.is_empty();
        drop(g);
        if empty {
            self.remove_if_empty(lf);
        }
    }
}

/// A Postgres-backend stream's registration.
struct PgHandle {
    fanout: Weak<Fanout>,
    lf: Arc<LocalFlow>,
    key: SubscriberKey,
}

impl SubscriptionHandle for PgHandle {
    fn resync(&self, rx: &mut mpsc::Receiver<Bytes>) -> Option<Bytes> {
        let mut g = lock(&self.lf.inner);
        if g.removed || !g.subs.begin_resync(self.key, rx) {
            return None;
        }
        Some(g.snapshot_frame(&self.lf.flow_id))
    }
}

impl Drop for PgHandle {
    fn drop(&mut self) {
        if let Some(f) = self.fanout.upgrade() {
            f.unsubscribe(&self.lf, self.key);
        }
    }
}

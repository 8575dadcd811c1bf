//! The memory backend (server.md §10.1).
//!
//! One `FlowCell` per flowId in a sharded map. Each cell has its own mutex
//! around the epoch, last seq, materialised [`FlowState`], the ring of the
//! last `RING_CAPACITY` frames, the subscribers, the last-write time and the
//! log lines. Publishing holds only that flow's lock: check caps → fold →
//! seq + 1 → serialise the frame once → ring → try-enqueue to subscribers.
//! The shard locks are taken only to find, create or remove cells.
//!
//! Lock order (never reversed): admission → shard → cell. Code holding a cell
//! lock never takes a shard lock or the admission lock.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use openova_flow_contract::event_id::{FlowPosition, epoch_from_entropy};
use openova_flow_contract::log_lines::{LogLine, NewLogLine};
use openova_flow_contract::sse::{event_frame, snapshot_frame};
use openova_flow_contract::{
    EventId, FlowLimits, FlowMessage, FlowState, ResumeDecision, resume_decision,
};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backend::{Backend, BackendError, BoxFut, LogQuery, Published, Snapshot};
use crate::config::{BackendKind, Config};
use crate::metrics::{EvictionReason, Metrics, StreamOpen};
use crate::stream::{SubscriberKey, Subscribers, Subscription, SubscriptionHandle};

const SHARDS: usize = 64;

/// The memory backend's settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub ring_capacity: usize,
    pub max_flows: usize,
    pub flow_limits: FlowLimits,
    pub subscriber_queue: usize,
    pub log_lines_per_flow: usize,
    pub flow_ttl: Option<Duration>,
}

impl HubConfig {
    pub fn from_config(c: &Config) -> Self {
        HubConfig {
            ring_capacity: c.ring_capacity,
            max_flows: c.max_flows,
            flow_limits: FlowLimits::from_max_nodes(c.max_nodes_per_flow),
            subscriber_queue: c.subscriber_queue,
            log_lines_per_flow: c.log_lines_per_flow,
            flow_ttl: c.flow_ttl,
        }
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig::from_config(&Config::default())
    }
}

struct Incarnation {
    epoch: String,
    seq: u64,
    state: FlowState,
    /// `(seq, frame)` of the last `ring_capacity` events, ascending, contiguous.
    ring: VecDeque<(u64, Bytes)>,
    /// Snapshot JSON and frame of the current seq (dropped on every publish).
    cached_snapshot: Option<(Bytes, Bytes)>,
}

#[derive(Default)]
struct LogRing {
    lines: VecDeque<LogLine>,
    last_seq: u64,
}

struct FlowEntry {
    /// Set when the cell left the map; whoever finds it set looks up again.
    removed: bool,
    /// Counts toward `MAX_FLOWS` (has an incarnation or log lines).
    counted: bool,
    inc: Option<Box<Incarnation>>,
    prev_epoch: Option<String>,
    subs: Subscribers,
    logs: Option<Box<LogRing>>,
    last_write: Instant,
}

impl FlowEntry {
    fn is_empty(&self) -> bool {
        !self.counted && self.inc.is_none() && self.logs.is_none() && self.subs.is_empty()
    }
}

/// One flow's slot in the map.
struct FlowCell {
    flow_id: Box<str>,
    entry: Mutex<FlowEntry>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Shard = RwLock<HashMap<Box<str>, Arc<FlowCell>>>;

/// The in-memory flow store and fan-out hub.
pub struct Hub {
    cfg: HubConfig,
    shards: Box<[Shard]>,
    hasher: RandomState,
    /// Flows counting toward `MAX_FLOWS`, plus admissions in progress.
    counted: AtomicUsize,
    admission: Mutex<()>,
    shutting_down: AtomicBool,
    metrics: Arc<Metrics>,
    frames_serialised: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("cfg", &self.cfg)
            .field("flows", &self.counted.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Hub {
    pub fn new(cfg: HubConfig, metrics: Arc<Metrics>) -> Arc<Hub> {
        Arc::new(Hub {
            cfg,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
            counted: AtomicUsize::new(0),
            admission: Mutex::new(()),
            shutting_down: AtomicBool::new(false),
            metrics,
            frames_serialised: AtomicU64::new(0),
        })
    }

    /// How many event frames were serialised (once per accepted event).
    pub fn frames_serialised(&self) -> u64 {
        self.frames_serialised.load(Ordering::Relaxed)
    }

    /// Flows counting toward `MAX_FLOWS`.
    pub fn flow_count(&self) -> usize {
        self.counted.load(Ordering::Acquire)
    }

    fn shard(&self, flow_id: &str) -> &Shard {
        let h = self.hasher.hash_one(flow_id) as usize;
        &self.shards[h % SHARDS]
    }

    fn get(&self, flow_id: &str) -> Option<Arc<FlowCell>> {
        self.shard(flow_id)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(flow_id)
            .cloned()
    }

    fn get_or_create(&self, flow_id: &str) -> Arc<FlowCell> {
        if let Some(c) = self.get(flow_id) {
            return c;
        }
        let mut shard = self
            .shard(flow_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(shard.entry(flow_id.into()).or_insert_with(|| {
            Arc::new(FlowCell {
                flow_id: flow_id.into(),
                entry: Mutex::new(FlowEntry {
                    removed: false,
                    counted: false,
                    inc: None,
                    prev_epoch: None,
                    subs: Subscribers::new(),
                    logs: None,
                    last_write: Instant::now(),
                }),
            })
        }))
    }

    /// Removes `cell` from the map if it holds nothing (stream-only entry
    /// whose last subscriber left, or a failed first write).
    fn remove_if_empty(&self, cell: &Arc<FlowCell>) {
        let mut shard = self
            .shard(&cell.flow_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !shard
            .get(&cell.flow_id)
            .is_some_and(|c| Arc::ptr_eq(c, cell))
        {
            return;
        }
        let mut g = lock(&cell.entry);
        if !g.removed && g.is_empty() {
            g.removed = true;
            drop(g);
            shard.remove(&cell.flow_id);
        }
    }

    /// Un-counts an entry that holds neither an incarnation nor log lines.
    fn settle(&self, g: &mut FlowEntry) {
        if g.counted && g.inc.is_none() && g.logs.is_none() {
            g.counted = false;
            self.counted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Makes `cell` count toward `MAX_FLOWS`, evicting the least recently
    /// updated idle flow when full. Returns the locked entry, or `None` if
    /// the cell was removed meanwhile (look it up again).
    fn admit<'c>(
        &self,
        cell: &'c FlowCell,
    ) -> Result<Option<MutexGuard<'c, FlowEntry>>, BackendError> {
        {
            let _a = lock(&self.admission);
            if self.counted.load(Ordering::Acquire) >= self.cfg.max_flows {
                self.evict_lru(&cell.flow_id)?;
            }
            self.counted.fetch_add(1, Ordering::AcqRel);
        }
        let mut g = lock(&cell.entry);
        if g.removed || g.counted {
            self.counted.fetch_sub(1, Ordering::AcqRel);
            return Ok((!g.removed).then_some(g));
        }
        g.counted = true;
        g.last_write = Instant::now();
        Ok(Some(g))
    }

    /// Frees one slot by evicting the least recently updated flow without
    /// subscribers (never `except`). Called under the admission lock.
    fn evict_lru(&self, except: &str) -> Result<(), BackendError> {
        for _ in 0..8 {
            let mut victim: Option<(Instant, Arc<FlowCell>)> = None;
            for shard in self.shards.iter() {
                let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
                for cell in shard.values() {
                    if &*cell.flow_id == except {
                        continue;
                    }
                    // A locked cell is being written: not idle.
                    let Ok(g) = cell.entry.try_lock() else {
                        continue;
                    };
                    if g.counted && !g.removed && g.subs.is_empty() {
                        let older = victim.as_ref().is_none_or(|(t, _)| g.last_write < *t);
                        if older {
                            victim = Some((g.last_write, Arc::clone(cell)));
                        }
                    }
                }
            }
            let Some((_, cell)) = victim else {
                return Err(BackendError::TooManyFlows);
            };
            if self.evict(&cell, EvictionReason::Capacity, None) {
                return Ok(());
            }
        }
        Err(BackendError::TooManyFlows)
    }

    /// Drops an idle flow (no subscribers). With `idle_for`, only if it has
    /// not been written for that long at `now`.
    fn evict(
        &self,
        cell: &Arc<FlowCell>,
        reason: EvictionReason,
        idle_for: Option<(Instant, Duration)>,
    ) -> bool {
        let mut shard = self
            .shard(&cell.flow_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !shard
            .get(&cell.flow_id)
            .is_some_and(|c| Arc::ptr_eq(c, cell))
        {
            return false;
        }
        let mut g = lock(&cell.entry);
        if g.removed || !g.counted || !g.subs.is_empty() {
            return false;
        }
        if let Some((now, ttl)) = idle_for
            && now.saturating_duration_since(g.last_write) < ttl
        {
            return false;
        }
        g.removed = true;
        g.counted = false;
        g.inc = None;
        g.logs = None;
        drop(g);
        shard.remove(&cell.flow_id);
        self.counted.fetch_sub(1, Ordering::AcqRel);
        self.metrics.flow_evicted(reason);
        tracing::info!(flowId = %cell.flow_id, reason = reason.as_str(), "flow evicted");
        true
    }

    /// Drops every flow without subscribers that was not written for the TTL.
    /// Returns how many were dropped.
    pub fn sweep_ttl(&self) -> usize {
        let Some(ttl) = self.cfg.flow_ttl else {
            return 0;
        };
        let now = Instant::now();
        let mut candidates = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
            for cell in shard.values() {
                let Ok(g) = cell.entry.try_lock() else {
                    continue;
                };
                if g.counted
                    && g.subs.is_empty()
                    && now.saturating_duration_since(g.last_write) >= ttl
                {
                    candidates.push(Arc::clone(cell));
                }
            }
        }
        candidates
            .iter()
            .filter(|c| self.evict(c, EvictionReason::Ttl, Some((now, ttl))))
            .count()
    }

    fn new_epoch(previous: Option<&str>) -> String {
        let mut rng = rand::rng();
        loop {
            let bytes = std::iter::repeat_with(|| rng.random::<u8>()).take(64);
            if let Some(e) = epoch_from_entropy(bytes, previous) {
                return e;
            }
        }
    }

    /// Accepts one validated message (contract.md §7–§8).
    pub fn publish(&self, flow_id: &str, mut msg: FlowMessage) -> Result<Published, BackendError> {
        msg.stamp_flow_id(flow_id);
        let event_type = msg.message_type();
        // Serialised once, outside the lock; framed once, under it.
        let data = msg.to_canonical_json();
        loop {
            let cell = self.get_or_create(flow_id);
            let mut g = lock(&cell.entry);
            if g.removed {
                continue;
            }
            if !g.counted {
                // A new flow: refuse an oversized first event before
                // admitting (admission may evict another flow).
                if FlowState::new().check(&msg, &self.cfg.flow_limits).is_err() {
                    drop(g);
                    self.remove_if_empty(&cell);
                    return Err(BackendError::FlowTooLarge);
                }
                drop(g);
                g = match self.admit(&cell) {
                    Ok(Some(g)) => g,
                    Ok(None) => continue,
                    Err(e) => {
                        self.remove_if_empty(&cell);
                        return Err(e);
                    }
                };
            }
            let fits = match &g.inc {
                Some(inc) => inc.state.check(&msg, &self.cfg.flow_limits),
                None => FlowState::new().check(&msg, &self.cfg.flow_limits),
            };
            if fits.is_err() {
                self.settle(&mut g);
                let empty = g.is_empty();
                drop(g);
                if empty {
                    self.remove_if_empty(&cell);
                }
                return Err(BackendError::FlowTooLarge);
            }
            let entry = &mut *g;
            let inc = match &mut entry.inc {
                Some(inc) => inc,
                empty => empty.insert(Box::new(Incarnation {
                    epoch: Self::new_epoch(entry.prev_epoch.as_deref()),
                    seq: 0,
                    state: FlowState::new(),
                    ring: VecDeque::new(),
                    cached_snapshot: None,
                })),
            };
            inc.state.apply_unchecked(msg);
            inc.seq += 1;
            let seq = inc.seq;
            let frame = Bytes::from(event_frame(
                event_type,
                &EventId::new(inc.epoch.as_str(), seq),
                &data,
            ));
            self.frames_serialised.fetch_add(1, Ordering::Relaxed);
            inc.ring.push_back((seq, frame.clone()));
            while inc.ring.len() > self.cfg.ring_capacity {
                inc.ring.pop_front();
            }
            inc.cached_snapshot = None;
            let epoch = inc.epoch.clone();
            entry.subs.send(&frame);
            entry.last_write = Instant::now();
            return Ok(Published { seq, epoch });
        }
    }

    /// Snapshot JSON + frame of the entry's current state (cached per seq).
    fn snapshot_parts(entry: &mut FlowEntry, flow_id: &str) -> (Bytes, Bytes) {
        match &mut entry.inc {
            Some(inc) => {
                if let Some(c) = &inc.cached_snapshot {
                    return c.clone();
                }
                let json = Bytes::from(inc.state.snapshot(flow_id).to_canonical_json());
                let id = EventId::new(inc.epoch.as_str(), inc.seq);
                let frame = Bytes::from(snapshot_frame(Some(&id), &json));
                inc.cached_snapshot = Some((json.clone(), frame.clone()));
                (json, frame)
            }
            None => {
                let json = Bytes::from(FlowState::new().snapshot(flow_id).to_canonical_json());
                let frame = Bytes::from(snapshot_frame(None, &json));
                (json, frame)
            }
        }
    }

    /// The current snapshot, `None` without an incarnation.
    pub fn snapshot(&self, flow_id: &str) -> Option<Snapshot> {
        let cell = self.get(flow_id)?;
        let mut g = lock(&cell.entry);
        let inc = g.inc.as_ref()?;
        let id = EventId::new(inc.epoch.as_str(), inc.seq);
        let (json, _) = Self::snapshot_parts(&mut g, flow_id);
        Some(Snapshot { id, json })
    }

    /// Opens a stream (contract.md §10).
    pub fn subscribe(
        self: &Arc<Self>,
        flow_id: &str,
        last_event_id: Option<&str>,
    ) -> Result<Subscription, BackendError> {
        loop {
            if self.shutting_down.load(Ordering::SeqCst) {
                return Err(BackendError::ShuttingDown);
            }
            let cell = self.get_or_create(flow_id);
            let mut g = lock(&cell.entry);
            if g.removed {
                continue;
            }
            if self.shutting_down.load(Ordering::SeqCst) {
                drop(g);
                self.remove_if_empty(&cell);
                return Err(BackendError::ShuttingDown);
            }
            let pos = match &g.inc {
                Some(inc) => FlowPosition {
                    epoch: Some(&inc.epoch),
                    last_seq: inc.seq,
                    oldest_retained: inc.ring.front().map_or(inc.seq + 1, |(s, _)| *s),
                },
                None => FlowPosition {
                    epoch: None,
                    last_seq: 0,
                    oldest_retained: 1,
                },
            };
            let (opened, initial, frames) = match resume_decision(last_event_id, pos) {
                ResumeDecision::Snapshot => {
                    let (_, frame) = Self::snapshot_parts(&mut g, flow_id);
                    (StreamOpen::Snapshot, frame, 1)
                }
                ResumeDecision::Live => (StreamOpen::Live, Bytes::new(), 0),
                ResumeDecision::Replay { after } => {
                    let mut out = BytesMut::new();
                    let mut n = 0;
                    if let Some(inc) = &g.inc {
                        for (_, f) in inc.ring.iter().filter(|(s, _)| *s > after) {
                            out.extend_from_slice(f);
                            n += 1;
                        }
                    }
                    (StreamOpen::Replay, out.freeze(), n)
                }
            };
            let (key, rx, lagged) = g.subs.add(self.cfg.subscriber_queue);
            drop(g);
            let handle = MemoryHandle {
                hub: Arc::downgrade(self),
                cell,
                key,
            };
            return Ok(
                Subscription::new(opened, initial, frames, rx, lagged, Box::new(handle))
                    .with_flow_id(flow_id),
            );
        }
    }

    fn unsubscribe(&self, cell: &Arc<FlowCell>, key: SubscriberKey) {
        let mut g = lock(&cell.entry);
        if !g.subs.remove(key) {
            return;
        }
        let empty = !g.removed && g.is_empty();
        drop(g);
        if empty {
            self.remove_if_empty(cell);
        }
    }

    /// DELETE: ends the flow's streams and forgets it. Idempotent.
    pub fn delete(&self, flow_id: &str) {
        let mut shard = self
            .shard(flow_id)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(cell) = shard.remove(flow_id) else {
            return;
        };
        let mut g = lock(&cell.entry);
        g.removed = true;
        g.subs.clear();
        g.inc = None;
        g.logs = None;
        if g.counted {
            g.counted = false;
            self.counted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Appends log lines, keeping the newest `LOG_LINES_PER_FLOW`.
    pub fn append_log_lines(
        &self,
        flow_id: &str,
        lines: Vec<NewLogLine>,
    ) -> Result<usize, BackendError> {
        let n = lines.len();
        if n == 0 {
            return Ok(0);
        }
        loop {
            let cell = self.get_or_create(flow_id);
            let mut g = lock(&cell.entry);
            if g.removed {
                continue;
            }
            if !g.counted {
                drop(g);
                g = match self.admit(&cell) {
                    Ok(Some(g)) => g,
                    Ok(None) => continue,
                    Err(e) => {
                        self.remove_if_empty(&cell);
                        return Err(e);
                    }
                };
            }
            let cap = self.cfg.log_lines_per_flow;
            let logs = g.logs.get_or_insert_with(Box::default);
            for line in lines {
                logs.last_seq += 1;
                logs.lines.push_back(LogLine::from_new(logs.last_seq, line));
                while logs.lines.len() > cap {
                    logs.lines.pop_front();
                }
            }
            g.last_write = Instant::now();
            return Ok(n);
        }
    }

    /// Lines with `seq > after_seq` matching the filters, ascending.
    pub fn list_log_lines(&self, flow_id: &str, q: &LogQuery) -> Vec<LogLine> {
        let Some(cell) = self.get(flow_id) else {
            return Vec::new();
        };
        let g = lock(&cell.entry);
        let Some(logs) = &g.logs else {
            return Vec::new();
        };
        let start = logs.lines.partition_point(|l| l.seq <= q.after_seq);
        logs.lines
            .range(start..)
            .filter(|l| q.exec_id.as_deref().is_none_or(|e| l.exec_id == e))
            .filter(|l| q.node_id.as_deref().is_none_or(|n| l.node_id == n))
            .take(q.limit)
            .cloned()
            .collect()
    }

    /// Ends every stream and refuses new ones.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for shard in self.shards.iter() {
            let cells: Vec<Arc<FlowCell>> = shard
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values()
                .cloned()
                .collect();
            for cell in cells {
                lock(&cell.entry).subs.clear();
            }
        }
    }

    /// Runs [`Hub::sweep_ttl`] periodically (at least once a minute) until
    /// the hub is dropped or shut down.
    pub fn spawn_ttl_sweeper(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let ttl = self.cfg.flow_ttl?;
        let period = (ttl / 2).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let weak: Weak<Hub> = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hub) = weak.upgrade() else { return };
                if hub.shutting_down.load(Ordering::Relaxed) {
                    return;
                }
                hub.sweep_ttl();
            }
        }))
    }
}

/// A memory-backend stream's registration.
struct MemoryHandle {
    hub: Weak<Hub>,
    cell: Arc<FlowCell>,
    key: SubscriberKey,
}

impl SubscriptionHandle for MemoryHandle {
    fn resync(&self, rx: &mut mpsc::Receiver<Bytes>) -> Option<Bytes> {
        let mut g = lock(&self.cell.entry);
        if g.removed || !g.subs.begin_resync(self.key, rx) {
            return None;
        }
        let (_, frame) = Hub::snapshot_parts(&mut g, &self.cell.flow_id);
        Some(frame)
    }
}

impl Drop for MemoryHandle {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.unsubscribe(&self.cell, self.key);
        }
    }
}

/// [`Backend`] over a [`Hub`].
#[derive(Debug)]
pub struct MemoryBackend {
    hub: Arc<Hub>,
    sweeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl MemoryBackend {
    /// Builds the hub and starts the TTL sweeper (needs a tokio runtime).
    pub fn start(config: &Config, metrics: Arc<Metrics>) -> Arc<dyn Backend> {
        let hub = Hub::new(HubConfig::from_config(config), metrics);
        let sweeper = hub.spawn_ttl_sweeper();
        Arc::new(MemoryBackend {
            hub,
            sweeper: Mutex::new(sweeper),
        })
    }

    /// The hub, for in-process tests.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }
}

impl Backend for MemoryBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Memory
    }

    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    fn publish<'a>(
        &'a self,
        flow_id: &'a str,
        msg: FlowMessage,
    ) -> BoxFut<'a, Result<Published, BackendError>> {
        let r = self.hub.publish(flow_id, msg);
        Box::pin(std::future::ready(r))
    }

    fn snapshot<'a>(
        &'a self,
        flow_id: &'a str,
    ) -> BoxFut<'a, Result<Option<Snapshot>, BackendError>> {
        Box::pin(std::future::ready(Ok(self.hub.snapshot(flow_id))))
    }

    fn subscribe<'a>(
        &'a self,
        flow_id: &'a str,
        last_event_id: Option<&'a str>,
    ) -> BoxFut<'a, Result<Subscription, BackendError>> {
        Box::pin(std::future::ready(
            self.hub.subscribe(flow_id, last_event_id),
        ))
    }

    fn delete<'a>(&'a self, flow_id: &'a str) -> BoxFut<'a, Result<(), BackendError>> {
        self.hub.delete(flow_id);
        Box::pin(std::future::ready(Ok(())))
    }

    fn append_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        lines: Vec<NewLogLine>,
    ) -> BoxFut<'a, Result<usize, BackendError>> {
        Box::pin(std::future::ready(
            self.hub.append_log_lines(flow_id, lines),
        ))
    }

    fn list_log_lines<'a>(
        &'a self,
        flow_id: &'a str,
        query: LogQuery,
    ) -> BoxFut<'a, Result<Vec<LogLine>, BackendError>> {
        Box::pin(std::future::ready(Ok(self
            .hub
            .list_log_lines(flow_id, &query))))
    }

    fn flows_active(&self) -> u64 {
        self.hub.flow_count() as u64
    }

    fn begin_shutdown(&self) {
        if let Some(h) = lock(&self.sweeper).take() {
            h.abort();
        }
        self.hub.begin_shutdown();
    }

    fn close(&self) -> BoxFut<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::SseBody;
    use futures::FutureExt;
    use openova_flow_contract::decode_message;
    use openova_flow_contract::sse::{Frame, FrameParser};

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new("memory"))
    }

    fn hub_with(cfg: HubConfig) -> Arc<Hub> {
        Hub::new(cfg, metrics())
    }

    fn node(id: &str) -> FlowMessage {
        decode_message(format!(r#"{{"type":"upsert-nodes","nodes":[{{"id":"{id}"}}]}}"#).as_bytes())
            .unwrap()
    }

    fn body(hub: &Arc<Hub>, flow: &str, last: Option<&str>, hb: Duration) -> SseBody {
        SseBody::new(hub.subscribe(flow, last).unwrap(), hb, metrics(), None)
    }

    fn frames(chunk: &[u8]) -> Vec<Frame> {
        FrameParser::new().push(chunk)
    }

    fn seq(f: &Frame) -> u64 {
        f.id.as_deref()
            .and_then(|id| id.rsplit_once('-'))
            .and_then(|(_, s)| s.parse().ok())
            .unwrap_or(0)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn d7_stalled_subscriber_gets_current_snapshot_then_later_events() {
        let hub = hub_with(HubConfig {
            subscriber_queue: 4,
            ..HubConfig::default()
        });
        let epoch = hub.publish("f", node("a")).unwrap().epoch;
        let mut b = body(&hub, "f", None, HOUR);
        let first = frames(&b.next_chunk().await.unwrap());
        assert_eq!(first[0].event, "snapshot");
        assert_eq!(first[0].id, Some(format!("{epoch}-1")));
        // Stalled: 20 publishes, each returns at once.
        for i in 0..20 {
            assert_eq!(hub.publish("f", node(&format!("n{i}"))).unwrap().seq, i + 2);
        }
        let resync = frames(&b.next_chunk().await.unwrap());
        assert_eq!(resync.len(), 1);
        assert_eq!(resync[0].event, "snapshot");
        assert_eq!(
            resync[0].id,
            Some(format!("{epoch}-21")),
            "stamped with the current id"
        );
        hub.publish("f", node("later")).unwrap();
        let next = frames(&b.next_chunk().await.unwrap());
        assert_eq!(next[0].event, "upsert-nodes");
        assert_eq!(
            next[0].id,
            Some(format!("{epoch}-22")),
            "only later events follow"
        );
        assert!(
            b.next_chunk().now_or_never().is_none(),
            "nothing else queued"
        );
    }

    /// A reader that reads at irregular moments never sees a seq gap that is
    /// not preceded by a snapshot frame, and never a duplicate.
    #[tokio::test]
    async fn d7_no_gap_without_snapshot_under_irregular_reading() {
        let hub = hub_with(HubConfig {
            subscriber_queue: 4,
            ..HubConfig::default()
        });
        let mut b = body(&hub, "f", None, HOUR);
        let mut state: u32 = 12345;
        let mut last_seq = 0u64;
        let mut published = 0u64;
        let mut resyncs = 0;
        for _ in 0..3000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if !(state >> 16).is_multiple_of(3) {
                hub.publish("f", node(&format!("n{}", published % 7)))
                    .unwrap();
                published += 1;
                continue;
            }
            let reads = (state >> 20) % 6;
            for _ in 0..reads {
                let Some(chunk) = b.next_chunk().now_or_never() else {
                    break;
                };
                for f in frames(&chunk.unwrap()) {
                    let s = seq(&f);
                    if f.event == "snapshot" {
                        resyncs += 1;
                        assert!(s >= last_seq);
                    } else {
                        assert_eq!(s, last_seq + 1, "gap without a snapshot frame");
                    }
                    last_seq = s;
                }
            }
        }
        assert!(resyncs > 1, "the schedule produced lag");
    }

    #[tokio::test]
    async fn d7_each_event_serialised_once_for_100_subscribers() {
        let hub = hub_with(HubConfig::default());
        hub.publish("f", node("seed")).unwrap();
        let mut bodies: Vec<SseBody> = (0..100).map(|_| body(&hub, "f", None, HOUR)).collect();
        for b in &mut bodies {
            b.next_chunk().await.unwrap(); // snapshot
        }
        let before = hub.frames_serialised();
        for i in 0..10 {
            hub.publish("f", node(&format!("n{i}"))).unwrap();
        }
        assert_eq!(
            hub.frames_serialised() - before,
            10,
            "one serialisation per event"
        );
        for i in 0..10 {
            let chunks: Vec<Bytes> = {
                let mut v = Vec::new();
                for b in &mut bodies {
                    v.push(b.next_chunk().await.unwrap());
                }
                v
            };
            let ptr = chunks[0].as_ptr();
            assert!(
                chunks.iter().all(|c| c.as_ptr() == ptr && c == &chunks[0]),
                "event {i}: all subscribers share the same frame bytes"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn d8_heartbeat_after_exactly_one_interval_of_idleness() {
        let hub = hub_with(HubConfig::default());
        let hb = Duration::from_secs(15);
        let mut b = body(&hub, "f", None, hb);
        let t0 = Instant::now();
        let first = b.next_chunk().await.unwrap();
        assert!(first.starts_with(b"retry: 2000\nevent: snapshot\nid: 0\n"));
        let beat = b.next_chunk().await.unwrap();
        assert_eq!(&beat[..], b"event: heartbeat\ndata: {}\n\n");
        assert_eq!(t0.elapsed(), hb, "never before one interval");
        tokio::time::advance(Duration::from_secs(10)).await;
        hub.publish("f", node("a")).unwrap();
        let t1 = Instant::now();
        let ev = b.next_chunk().await.unwrap();
        assert!(ev.starts_with(b"event: upsert-nodes\n"));
        let beat = b.next_chunk().await.unwrap();
        assert_eq!(&beat[..], b"event: heartbeat\ndata: {}\n\n");
        assert_eq!(t1.elapsed(), hb, "idleness counts from the last frame");
    }

    #[tokio::test(start_paused = true)]
    async fn d8_live_resume_puts_the_retry_prefix_before_the_first_heartbeat() {
        let hub = hub_with(HubConfig::default());
        let e = hub.publish("f", node("a")).unwrap().epoch;
        let mut b = body(&hub, "f", Some(&format!("{e}-1")), Duration::from_secs(15));
        let first = b.next_chunk().await.unwrap();
        assert_eq!(&first[..], b"retry: 2000\nevent: heartbeat\ndata: {}\n\n");
    }

    #[tokio::test(start_paused = true)]
    async fn d11_ttl_drops_idle_flows_without_subscribers() {
        let ttl = Duration::from_secs(60);
        let hub = hub_with(HubConfig {
            flow_ttl: Some(ttl),
            ..HubConfig::default()
        });
        hub.publish("idle", node("a")).unwrap();
        hub.publish("watched", node("a")).unwrap();
        hub.append_log_lines("logs-only", vec![log_line()]).unwrap();
        let _sub = hub.subscribe("watched", None).unwrap();
        tokio::time::advance(ttl - Duration::from_millis(1)).await;
        assert_eq!(hub.sweep_ttl(), 0, "not idle for the whole TTL yet");
        hub.publish("idle", node("b")).unwrap(); // a write restarts the clock
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(hub.sweep_ttl(), 1, "only the log-lines flow");
        assert!(hub.list_log_lines("logs-only", &all_lines()).is_empty());
        tokio::time::advance(ttl).await;
        assert_eq!(hub.sweep_ttl(), 1);
        assert!(hub.snapshot("idle").is_none());
        assert!(
            hub.snapshot("watched").is_some(),
            "a flow with a subscriber is kept"
        );
        assert_eq!(hub.flow_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn d11_ttl_sweeper_runs_on_its_own() {
        let hub = hub_with(HubConfig {
            flow_ttl: Some(Duration::from_secs(600)),
            ..HubConfig::default()
        });
        let task = hub.spawn_ttl_sweeper().unwrap();
        hub.publish("idle", node("a")).unwrap();
        tokio::time::sleep(Duration::from_secs(600 + 61)).await;
        assert!(
            hub.snapshot("idle").is_none(),
            "swept at least once a minute"
        );
        task.abort();
    }

    fn log_line() -> NewLogLine {
        NewLogLine {
            node_id: "n".into(),
            exec_id: "e".into(),
            level: Default::default(),
            message: "m".into(),
            occurred_at: 1,
        }
    }

    fn all_lines() -> LogQuery {
        LogQuery {
            exec_id: None,
            node_id: None,
            after_seq: 0,
            limit: 5000,
        }
    }

    #[tokio::test]
    async fn stream_only_entries_do_not_count_and_leave_with_their_last_subscriber() {
        let hub = hub_with(HubConfig {
            max_flows: 1,
            ..HubConfig::default()
        });
        let a = hub.subscribe("watch-only", None).unwrap();
        let b = hub.subscribe("watch-only", None).unwrap();
        assert_eq!(hub.flow_count(), 0);
        hub.publish("real", node("a")).unwrap();
        assert_eq!(hub.flow_count(), 1);
        drop(a);
        assert!(hub.get("watch-only").is_some());
        drop(b);
        assert!(
            hub.get("watch-only").is_none(),
            "removed with its last subscriber"
        );
    }

    #[tokio::test]
    async fn capacity_eviction_skips_flows_with_subscribers() {
        let hub = hub_with(HubConfig {
            max_flows: 2,
            ..HubConfig::default()
        });
        hub.publish("old", node("a")).unwrap();
        hub.publish("newer", node("a")).unwrap();
        let _s = hub.subscribe("old", None).unwrap();
        hub.publish("third", node("a")).unwrap();
        assert!(hub.snapshot("old").is_some(), "has a subscriber");
        assert!(hub.snapshot("newer").is_none(), "evicted");
        let _t = hub.subscribe("third", None).unwrap();
        assert_eq!(
            hub.publish("fourth", node("a")),
            Err(BackendError::TooManyFlows)
        );
        assert!(
            hub.get("fourth").is_none(),
            "a refused flow leaves nothing behind"
        );
        assert_eq!(
            hub.append_log_lines("fourth", vec![log_line()]),
            Err(BackendError::TooManyFlows)
        );
        assert_eq!(hub.flow_count(), 2);
    }

    #[tokio::test]
    async fn d6_replay_frames_are_the_broadcast_bytes() {
        let hub = hub_with(HubConfig::default());
        let e = hub.publish("f", node("a")).unwrap().epoch;
        let mut live = body(&hub, "f", Some(&format!("{e}-1")), HOUR);
        let mut broadcast = Vec::new();
        for i in 0..5 {
            hub.publish("f", node(&format!("n{i}"))).unwrap();
        }
        for _ in 0..5 {
            broadcast.extend_from_slice(&live.next_chunk().await.unwrap());
        }
        let mut replay = body(&hub, "f", Some(&format!("{e}-1")), HOUR);
        let chunk = replay.next_chunk().await.unwrap();
        assert_eq!(
            &chunk[..],
            &broadcast[..],
            "byte-identical, retry prefix included"
        );
    }

    #[tokio::test]
    async fn d10_delete_ends_streams_after_queued_frames() {
        let hub = hub_with(HubConfig::default());
        hub.publish("f", node("a")).unwrap();
        let mut b = body(&hub, "f", None, HOUR);
        b.next_chunk().await.unwrap();
        hub.publish("f", node("b")).unwrap();
        hub.delete("f");
        assert!(
            b.next_chunk().await.is_some(),
            "the queued frame is delivered"
        );
        assert!(b.next_chunk().await.is_none(), "then the stream ends");
        assert!(hub.snapshot("f").is_none());
        assert_eq!(hub.flow_count(), 0);
    }

    #[tokio::test]
    async fn shutdown_ends_streams_and_refuses_new_ones() {
        let hub = hub_with(HubConfig::default());
        let mut b = body(&hub, "f", None, HOUR);
        b.next_chunk().await.unwrap();
        hub.begin_shutdown();
        assert!(b.next_chunk().await.is_none());
        assert_eq!(
            hub.subscribe("f", None).err(),
            Some(BackendError::ShuttingDown)
        );
    }

    #[test]
    fn concurrent_publishers_are_sequenced_per_flow() {
        let hub = hub_with(HubConfig {
            subscriber_queue: 1000,
            ..HubConfig::default()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut b = rt.block_on(async { body(&hub, "f", None, HOUR) });
        std::thread::scope(|s| {
            for t in 0..8 {
                let hub = &hub;
                s.spawn(move || {
                    for i in 0..50 {
                        hub.publish("f", node(&format!("{t}-{i}"))).unwrap();
                        hub.publish(&format!("other-{t}"), node("x")).unwrap();
                    }
                });
            }
        });
        rt.block_on(async {
            let mut parser = FrameParser::new();
            let mut seqs = Vec::new();
            while seqs.len() < 401 {
                let chunk = b.next_chunk().await.unwrap();
                seqs.extend(parser.push(&chunk).iter().map(seq));
            }
            assert_eq!(seqs, (0..=400).collect::<Vec<u64>>());
        });
    }
}

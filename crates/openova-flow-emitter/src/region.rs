//! The region's stores and its desired graph (emitter.md §2–§5, §8–§9).
//!
//! Watcher events go in (relists buffered and swapped atomically at
//! `InitDone`), mapped nodes with timing and edges come out. The desired
//! graph is built on demand by the engine; every change bumps a counter the
//! engine waits on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::graph::Graph;
use crate::mapper::{MapContext, Mapped, map_release};
use crate::metrics::{Metrics, ResyncReason};
use crate::model::{HelmChart, HelmRelease};
use crate::rollup::{region_node, rollup};
use crate::timing::{TimingState, apply_timing};

/// One watcher event, after decoding into the tolerant model.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<T> {
    Init,
    InitApply(T),
    InitDone,
    Apply(T),
    Delete(T),
}

/// Unix milliseconds now.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    })
}

type ObjKey = (String, String);

fn key_of(namespace: &str, name: &str) -> ObjKey {
    (namespace.to_owned(), name.to_owned())
}

/// The stores and derived state of one region. Not thread-safe on its own;
/// see [`SharedRegion`].
pub struct Region {
    ctx: MapContext,
    clock: Clock,
    releases: BTreeMap<ObjKey, HelmRelease>,
    charts: HashMap<String, HelmChart>,
    release_buffer: Option<Vec<HelmRelease>>,
    chart_buffer: Option<Vec<HelmChart>>,
    releases_synced: bool,
    charts_synced: bool,
    mapped: BTreeMap<ObjKey, Mapped>,
    timing: HashMap<String, TimingState>,
    resync: Option<ResyncReason>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("ctx", &self.ctx)
            .field("releases", &self.releases.len())
            .field("charts", &self.charts.len())
            .field("releases_synced", &self.releases_synced)
            .field("charts_synced", &self.charts_synced)
            .finish_non_exhaustive()
    }
}

impl Region {
    pub fn new(ctx: MapContext, clock: Clock) -> Self {
        Region {
            ctx,
            clock,
            releases: BTreeMap::new(),
            charts: HashMap::new(),
            release_buffer: None,
            chart_buffer: None,
            releases_synced: false,
            charts_synced: false,
            mapped: BTreeMap::new(),
            timing: HashMap::new(),
            resync: None,
        }
    }

    pub fn context(&self) -> &MapContext {
        &self.ctx
    }

    /// `true` once the initial lists of all served kinds reached `InitDone`.
    pub fn synced(&self) -> bool {
        self.releases_synced && self.charts_synced
    }

    pub fn release_count(&self) -> usize {
        self.releases.len()
    }

    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }

    /// HelmCharts are not served: run without chart refinement.
    pub fn charts_unavailable(&mut self) {
        self.chart_buffer = None;
        self.charts.clear();
        self.charts_synced = true;
        self.remap_all();
    }

    /// A relist request raised by `InitDone` after the first list.
    pub fn take_resync(&mut self) -> Option<ResyncReason> {
        self.resync.take()
    }

    fn remap(&mut self, key: &ObjKey) {
        let Some(hr) = self.releases.get(key) else {
            if let Some(old) = self.mapped.remove(key) {
                self.timing.remove(&old.node.id);
            }
            return;
        };
        let chart = hr.chart_key().and_then(|k| self.charts.get(&k));
        match map_release(hr, chart, &self.ctx) {
            Some(mut m) => {
                let now = (self.clock)();
                let prev = self.timing.get(&m.node.id);
                let state = apply_timing(prev, &mut m.node, m.ready_transition_ms, now);
                let new_id = m.node.id.clone();
                self.timing.insert(new_id.clone(), state);
                if let Some(old) = self.mapped.insert(key.clone(), m)
                    && old.node.id != new_id
                    && !self.mapped.values().any(|x| x.node.id == old.node.id)
                {
                    self.timing.remove(&old.node.id);
                }
            }
            None => {
                if let Some(old) = self.mapped.remove(key) {
                    self.timing.remove(&old.node.id);
                }
            }
        }
    }

    fn remap_all(&mut self) {
        let keys: Vec<ObjKey> = self.releases.keys().cloned().collect();
        self.mapped.retain(|k, _| self.releases.contains_key(k));
        let live: std::collections::HashSet<String> =
            self.mapped.values().map(|m| m.node.id.clone()).collect();
        self.timing.retain(|id, _| live.contains(id));
        for k in keys {
            self.remap(&k);
        }
    }

    /// Applies one HelmRelease watcher event. Returns `true` when the
    /// desired state may have changed.
    pub fn release_event(&mut self, event: Event<HelmRelease>) -> bool {
        match event {
            Event::Init => {
                self.release_buffer = Some(Vec::new());
                false
            }
            Event::InitApply(hr) => {
                self.release_buffer.get_or_insert_with(Vec::new).push(hr);
                false
            }
            Event::InitDone => {
                let listed = self.release_buffer.take().unwrap_or_default();
                self.releases = listed
                    .into_iter()
                    .map(|hr| (key_of(&hr.namespace, &hr.name), hr))
                    .collect();
                if self.releases_synced {
                    self.resync = Some(ResyncReason::Relist);
                }
                self.releases_synced = true;
                self.remap_all();
                true
            }
            Event::Apply(hr) => {
                let key = key_of(&hr.namespace, &hr.name);
                self.releases.insert(key.clone(), hr);
                self.remap(&key);
                true
            }
            Event::Delete(hr) => {
                let key = key_of(&hr.namespace, &hr.name);
                self.releases.remove(&key);
                self.remap(&key);
                true
            }
        }
    }

    fn remap_chart_users(&mut self, chart_key: &str) {
        let users: Vec<ObjKey> = self
            .releases
            .iter()
            .filter(|(_, hr)| hr.chart_key().as_deref() == Some(chart_key))
            .map(|(k, _)| k.clone())
            .collect();
        for k in users {
            self.remap(&k);
        }
    }

    /// Applies one HelmChart watcher event.
    pub fn chart_event(&mut self, event: Event<HelmChart>) -> bool {
        match event {
            Event::Init => {
                self.chart_buffer = Some(Vec::new());
                false
            }
            Event::InitApply(hc) => {
                self.chart_buffer.get_or_insert_with(Vec::new).push(hc);
                false
            }
            Event::InitDone => {
                let listed = self.chart_buffer.take().unwrap_or_default();
                self.charts = listed.into_iter().map(|hc| (hc.key(), hc)).collect();
                if self.charts_synced {
                    self.resync = Some(ResyncReason::Relist);
                }
                self.charts_synced = true;
                self.remap_all();
                true
            }
            Event::Apply(hc) => {
                let key = hc.key();
                self.charts.insert(key.clone(), hc);
                self.remap_chart_users(&key);
                true
            }
            Event::Delete(hc) => {
                let key = hc.key();
                self.charts.remove(&key);
                self.remap_chart_users(&key);
                true
            }
        }
    }

    /// The desired region graph, or `None` before the initial lists synced.
    pub fn desired(&self) -> Option<Graph> {
        if !self.synced() {
            return None;
        }
        let mut g = Graph::new();
        for m in self.mapped.values() {
            g.insert_node(m.node.clone());
            for e in m.edges() {
                g.insert_edge(e.clone());
            }
        }
        let status = rollup(g.nodes.values().map(|n| n.status.as_str()));
        g.insert_node(region_node(&self.ctx.region, &self.ctx.flow_id, status));
        Some(g)
    }
}

/// What the engine reads: the desired graph, pending resync requests and a
/// change counter to wait on.
pub trait DesiredSource: Send + Sync + 'static {
    fn desired(&self) -> Option<Graph>;
    fn take_resync(&self) -> Option<ResyncReason>;
    fn subscribe(&self) -> watch::Receiver<u64>;
}

/// A [`Region`] shared between the watchers and the engine.
#[derive(Debug)]
pub struct SharedRegion {
    inner: Mutex<Region>,
    changes: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl SharedRegion {
    pub fn new(region: Region, metrics: Arc<Metrics>) -> Arc<Self> {
        let (changes, _) = watch::channel(0);
        Arc::new(SharedRegion {
            inner: Mutex::new(region),
            changes,
            metrics,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Region> {
        // A panic while holding the lock leaves consistent maps behind
        // (every mutation is a single insert/remove), so keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn after(&self, region: &Region, changed: bool) {
        self.metrics
            .set_watched("HelmRelease", region.release_count());
        self.metrics.set_watched("HelmChart", region.chart_count());
        self.metrics.set_synced(region.synced());
        if changed {
            self.changes.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    pub fn release_event(&self, event: Event<HelmRelease>) {
        let mut r = self.lock();
        let changed = r.release_event(event);
        self.after(&r, changed);
    }

    pub fn chart_event(&self, event: Event<HelmChart>) {
        let mut r = self.lock();
        let changed = r.chart_event(event);
        self.after(&r, changed);
    }

    pub fn charts_unavailable(&self) {
        let mut r = self.lock();
        r.charts_unavailable();
        self.after(&r, true);
    }

    pub fn synced(&self) -> bool {
        self.lock().synced()
    }
}

impl DesiredSource for SharedRegion {
    fn desired(&self) -> Option<Graph> {
        self.lock().desired()
    }

    fn take_resync(&self) -> Option<ResyncReason> {
        self.lock().take_resync()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::{FAILED, PENDING, RUNNING, SUCCEEDED};
    use openova_flow_contract::RelationshipType;
    use serde_json::json;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn clock() -> (Clock, Arc<AtomicI64>) {
        let t = Arc::new(AtomicI64::new(1000));
        let t2 = t.clone();
        (Arc::new(move || t2.load(Ordering::SeqCst)), t)
    }

    fn hr(name: &str, ready: Option<&str>, deps: &[&str]) -> HelmRelease {
        let conds: Vec<_> = ready
            .map(|s| json!({"type": "Ready", "status": s, "reason": "R"}))
            .into_iter()
            .collect();
        HelmRelease::from_value(&json!({
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {"dependsOn": deps.iter().map(|d| json!({"name": d})).collect::<Vec<_>>()},
            "status": {"conditions": conds, "helmChart": format!("flux-system/flux-system-{name}")}
        }))
    }

    fn chart(name: &str, ready: &str) -> HelmChart {
        HelmChart::from_value(&json!({
            "metadata": {"name": format!("flux-system-{name}"), "namespace": "flux-system"},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "ChartPullFailed"}]}
        }))
    }

    fn region() -> (Region, Arc<AtomicI64>) {
        let (c, t) = clock();
        (Region::new(MapContext::new("fsn1", "f", false), c), t)
    }

    fn sync(r: &mut Region, releases: Vec<HelmRelease>) {
        r.release_event(Event::Init);
        for h in releases {
            r.release_event(Event::InitApply(h));
        }
        r.release_event(Event::InitDone);
        r.chart_event(Event::Init);
        r.chart_event(Event::InitDone);
    }

    fn status(g: &Graph, id: &str) -> String {
        g.nodes[id].status.clone()
    }

    #[test]
    fn nothing_desired_before_all_kinds_synced() {
        let (mut r, _) = region();
        r.release_event(Event::Init);
        r.release_event(Event::InitApply(hr("a", None, &[])));
        assert!(r.desired().is_none());
        r.release_event(Event::InitDone);
        assert!(r.desired().is_none());
        r.charts_unavailable();
        let g = r.desired().unwrap();
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(status(&g, "fsn1"), PENDING);
    }

    #[test]
    fn region_rollup_and_contains_edges() {
        let (mut r, _) = region();
        sync(
            &mut r,
            vec![hr("a", Some("True"), &[]), hr("b", Some("True"), &["a"])],
        );
        let g = r.desired().unwrap();
        assert_eq!(status(&g, "fsn1"), SUCCEEDED);
        assert_eq!(g.nodes["fsn1"].family.as_deref(), Some("region"));
        let contains: Vec<_> = g
            .edges
            .values()
            .filter(|e| e.rel_type == RelationshipType::Contains)
            .map(|e| (e.from_id.as_str(), e.to_id.as_str()))
            .collect();
        assert_eq!(contains, [("fsn1:a", "fsn1"), ("fsn1:b", "fsn1")]);
        r.release_event(Event::Apply(hr("b", Some("False"), &["a"])));
        assert_eq!(status(&r.desired().unwrap(), "fsn1"), RUNNING);
    }

    #[test]
    fn relist_swaps_atomically_and_requests_resync() {
        let (mut r, _) = region();
        sync(&mut r, vec![hr("a", None, &[]), hr("b", None, &[])]);
        assert_eq!(r.take_resync(), None);
        r.release_event(Event::Init);
        r.release_event(Event::InitApply(hr("a", None, &[])));
        // During the relist the old store is still served.
        assert_eq!(r.desired().unwrap().nodes.len(), 3);
        r.release_event(Event::InitDone);
        let g = r.desired().unwrap();
        assert_eq!(g.nodes.keys().collect::<Vec<_>>(), ["fsn1", "fsn1:a"]);
        assert_eq!(r.take_resync(), Some(ResyncReason::Relist));
        assert_eq!(r.take_resync(), None);
    }

    #[test]
    fn chart_changes_remap_their_releases() {
        let (mut r, _) = region();
        sync(
            &mut r,
            vec![hr("a", Some("True"), &[]), hr("b", Some("True"), &[])],
        );
        r.chart_event(Event::Apply(chart("a", "False")));
        let g = r.desired().unwrap();
        assert_eq!(status(&g, "fsn1:a"), FAILED);
        assert_eq!(status(&g, "fsn1:b"), SUCCEEDED);
        r.chart_event(Event::Apply(chart("a", "True")));
        assert_eq!(status(&r.desired().unwrap(), "fsn1:a"), SUCCEEDED);
        r.chart_event(Event::Apply(chart("a", "False")));
        r.chart_event(Event::Delete(chart("a", "False")));
        assert_eq!(status(&r.desired().unwrap(), "fsn1:a"), SUCCEEDED);
    }

    #[test]
    fn delete_removes_node_edges_and_timing() {
        let (mut r, t) = region();
        sync(
            &mut r,
            vec![hr("a", None, &[]), hr("b", Some("Unknown"), &["a"])],
        );
        assert_eq!(r.desired().unwrap().nodes["fsn1:b"].started_at, Some(1000));
        r.release_event(Event::Delete(hr("b", None, &[])));
        let g = r.desired().unwrap();
        assert!(!g.nodes.contains_key("fsn1:b"));
        assert!(
            g.edges
                .keys()
                .all(|k| k.from_id != "fsn1:b" && k.to_id != "fsn1:b")
        );
        // Recreated later: a first sighting again, with the new clock.
        t.store(5000, Ordering::SeqCst);
        r.release_event(Event::Apply(hr("b", Some("Unknown"), &["a"])));
        assert_eq!(r.desired().unwrap().nodes["fsn1:b"].started_at, Some(5000));
    }

    #[test]
    fn timing_follows_observations() {
        let (mut r, t) = region();
        sync(&mut r, vec![hr("a", None, &[])]);
        assert_eq!(r.desired().unwrap().nodes["fsn1:a"].started_at, None);
        t.store(2000, Ordering::SeqCst);
        r.release_event(Event::Apply(hr("a", Some("Unknown"), &[])));
        assert_eq!(r.desired().unwrap().nodes["fsn1:a"].started_at, Some(2000));
        // An unrelated re-map keeps the start.
        t.store(3000, Ordering::SeqCst);
        r.release_event(Event::Apply(hr("a", Some("Unknown"), &[])));
        assert_eq!(r.desired().unwrap().nodes["fsn1:a"].started_at, Some(2000));
    }

    #[test]
    fn shared_region_signals_changes() {
        let (region, _) = region();
        let shared = SharedRegion::new(region, Arc::new(Metrics::new()));
        let mut rx = shared.subscribe();
        shared.release_event(Event::Init);
        assert!(!rx.has_changed().unwrap());
        shared.release_event(Event::InitDone);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        assert!(!shared.synced());
        shared.charts_unavailable();
        assert!(shared.synced());
        assert!(rx.has_changed().unwrap());
    }
}

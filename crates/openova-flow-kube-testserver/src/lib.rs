//! A small, in-process Kubernetes API server for tests.
//!
//! It speaks enough of the real API for kube-rs's client, runtime `watcher`
//! and typed `Api`s:
//!
//! * `/version`, `/api`, `/apis`, `/apis/{group}/{version}` (discovery; a
//!   version can be switched off to test fallbacks);
//! * list of any registered resource, namespaced or across namespaces, with
//!   `limit`/`continue` pagination served from a consistent snapshot and a
//!   list `resourceVersion`;
//! * watch with `resourceVersion` (replay from an event log), `BOOKMARK`s,
//!   `timeoutSeconds`, a `410 Gone` (`ERROR` event, reason `Expired`) for
//!   resource versions older than the last [`KubeTestServer::compact`], and
//!   abrupt connection drops ([`KubeTestServer::drop_watches`]);
//! * get / create / replace (optimistic concurrency on `resourceVersion`,
//!   `409 Conflict`) / delete of single objects, e.g. `coordination.k8s.io/v1`
//!   Leases, which are registered by default.
//!
//! Tests change objects directly through [`KubeTestServer::apply`] and
//! [`KubeTestServer::delete`], the way controllers would.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

/// A resource type to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    pub group: String,
    /// Served versions, preferred first. All share one storage.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl ResourceDef {
    pub fn new(group: &str, versions: &[&str], kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceDef {
            group: group.to_owned(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
        }
    }

    /// Flux `HelmRelease` (`helm.toolkit.fluxcd.io` `v2`, `v2beta2`).
    pub fn helm_release() -> Self {
        Self::new(
            "helm.toolkit.fluxcd.io",
            &["v2", "v2beta2"],
            "HelmRelease",
            "helmreleases",
            true,
        )
    }

    /// Flux `HelmChart` (`source.toolkit.fluxcd.io` `v1`, `v1beta2`).
    pub fn helm_chart() -> Self {
        Self::new(
            "source.toolkit.fluxcd.io",
            &["v1", "v1beta2"],
            "HelmChart",
            "helmcharts",
            true,
        )
    }

    /// `coordination.k8s.io/v1` `Lease` (registered by default).
    pub fn lease() -> Self {
        Self::new("coordination.k8s.io", &["v1"], "Lease", "leases", true)
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interval between `BOOKMARK` events on watches that allow them.
    pub bookmark_interval: Duration,
    /// Capacity of the live event channel; a watcher that falls further
    /// behind gets a `410 Gone`.
    pub event_buffer: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bookmark_interval: Duration::from_millis(500),
            event_buffer: 16_384,
        }
    }
}

#[derive(Debug)]
struct Resource {
    def: ResourceDef,
    served: BTreeSet<String>,
    objects: BTreeMap<(String, String), Value>,
}

#[derive(Debug, Clone)]
struct LogEntry {
    rv: u64,
    group: String,
    plural: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Default)]
struct Inner {
    rv: u64,
    compacted: u64,
    resources: BTreeMap<(String, String), Resource>,
    log: Vec<Arc<LogEntry>>,
    continues: HashMap<String, (u64, Vec<Value>)>,
    next_continue: u64,
    counters: BTreeMap<(String, &'static str), u64>,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<LogEntry>>,
    drops: watch::Sender<u64>,
    paused: watch::Sender<bool>,
    active_watches: Mutex<BTreeMap<String, usize>>,
    uid: AtomicU64,
    settings: Settings,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running test API server on `127.0.0.1:<random port>`. Stops when dropped.
#[derive(Debug)]
pub struct KubeTestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KubeTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

impl KubeTestServer {
    /// Starts a server with default settings and the Lease resource.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Settings::default()).await
    }

    /// Starts a server with the given settings.
    pub async fn start_with(settings: Settings) -> anyhow::Result<Self> {
        let (events, _) = broadcast::channel(settings.event_buffer.max(16));
        let (drops, _) = watch::channel(0);
        let (paused, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            events,
            drops,
            paused,
            active_watches: Mutex::new(BTreeMap::new()),
            uid: AtomicU64::new(1),
            settings,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "kube test server stopped");
            }
        });
        let server = KubeTestServer { addr, shared, task };
        server.add_resource(ResourceDef::lease());
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig (YAML) pointing at this server, with `namespace` as the
    /// context's default namespace.
    pub fn kubeconfig_yaml(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.url()
        )
    }

    /// Registers a resource type; all its versions are served.
    pub fn add_resource(&self, def: ResourceDef) {
        let mut inner = self.shared.lock();
        let served = def.versions.iter().cloned().collect();
        inner.resources.insert(
            (def.group.clone(), def.plural.clone()),
            Resource {
                def,
                served,
                objects: BTreeMap::new(),
            },
        );
    }

    /// Serves the Flux HelmRelease and HelmChart kinds (all versions).
    pub fn add_flux_kinds(&self) {
        self.add_resource(ResourceDef::helm_release());
        self.add_resource(ResourceDef::helm_chart());
    }

    /// Switches one version of a group's resources on or off (discovery and
    /// requests). Storage is shared, so objects stay.
    pub fn set_served(&self, group: &str, version: &str, served: bool) {
        let mut inner = self.shared.lock();
        for r in inner
            .resources
            .values_mut()
            .filter(|r| r.def.group == group)
        {
            if served {
                r.served.insert(version.to_owned());
            } else {
                r.served.remove(version);
            }
        }
    }

    /// Creates or replaces an object as a controller would (no concurrency
    /// check) and records an `ADDED`/`MODIFIED` event. `metadata.name` is
    /// required, `metadata.namespace` for namespaced kinds. Returns the new
    /// resourceVersion.
    pub fn apply(&self, group: &str, plural: &str, object: Value) -> anyhow::Result<u64> {
        let mut inner = self.shared.lock();
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("apply: metadata.name is required"))?
            .to_owned();
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let uid = self.shared.uid.fetch_add(1, Ordering::Relaxed);
        let rv = store_object(
            &self.shared,
            &mut inner,
            group,
            plural,
            &namespace,
            &name,
            object,
            uid,
        )?;
        Ok(rv)
    }

    /// Deletes an object and records a `DELETED` event; `false` if absent.
    pub fn delete(&self, group: &str, plural: &str, namespace: &str, name: &str) -> bool {
        let mut inner = self.shared.lock();
        delete_object(&self.shared, &mut inner, group, plural, namespace, name).is_some()
    }

    /// The stored object, if any.
    pub fn get(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let inner = self.shared.lock();
        inner
            .resources
            .get(&(group.to_owned(), plural.to_owned()))?
            .objects
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }

    /// Forgets the event history: a watch from any resourceVersion older
    /// than the current one gets `410 Gone` (reason `Expired`).
    pub fn compact(&self) {
        let mut inner = self.shared.lock();
        inner.compacted = inner.rv;
        inner.log.clear();
    }

    /// Drops every open watch connection abruptly (no closing chunk).
    pub fn drop_watches(&self) {
        self.shared.drops.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// While paused, new watch requests wait (the connection is open, no
    /// response yet) until [`KubeTestServer::resume_watches`]. Together with
    /// [`KubeTestServer::drop_watches`] this lets a test change objects while
    /// every watcher is disconnected.
    pub fn pause_watches(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Lets paused watch requests proceed.
    pub fn resume_watches(&self) {
        self.shared.paused.send_replace(false);
    }

    /// How many requests of `verb` (`list`, `watch`, `get`, `create`,
    /// `update`, `delete`, `discovery`) were made for `plural`.
    pub fn request_count(&self, plural: &str, verb: &str) -> u64 {
        let inner = self.shared.lock();
        inner
            .counters
            .iter()
            .filter(|((p, v), _)| p == plural && *v == verb)
            .map(|(_, c)| *c)
            .sum()
    }

    /// Open watch connections for `plural`.
    pub fn active_watches(&self, plural: &str) -> usize {
        self.shared
            .active_watches
            .lock()
            .map(|m| m.get(plural).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Polls `cond` every 10 ms until it holds or `timeout` passes.
    pub async fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&Self) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn store_object(
    shared: &Shared,
    inner: &mut Inner,
    group: &str,
    plural: &str,
    namespace: &str,
    name: &str,
    mut object: Value,
    uid: u64,
) -> anyhow::Result<u64> {
    let key = (group.to_owned(), plural.to_owned());
    let Some(res) = inner.resources.get(&key) else {
        anyhow::bail!("resource {plural}.{group} is not registered");
    };
    let kind = res.def.kind.clone();
    let api_version = format!(
        "{group}/{}",
        res.def.versions.first().map_or("v1", String::as_str)
    );
    let existing = res
        .objects
        .get(&(namespace.to_owned(), name.to_owned()))
        .cloned();
    inner.rv += 1;
    let rv = inner.rv;
    let obj = object
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("object must be a JSON object"))?;
    obj.entry("apiVersion")
        .or_insert(Value::String(api_version));
    obj.insert("kind".into(), Value::String(kind));
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("metadata must be an object"))?;
    meta.insert("name".into(), Value::String(name.to_owned()));
    if !namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(namespace.to_owned()));
    }
    meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    let (uid_value, created) = match &existing {
        Some(old) => (
            old.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            old.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        None => (
            Value::String(format!("00000000-0000-4000-8000-{uid:012}")),
            Value::String(now_rfc3339()),
        ),
    };
    meta.insert("uid".into(), uid_value);
    meta.insert("creationTimestamp".into(), created);
    let event = if existing.is_some() {
        "MODIFIED"
    } else {
        "ADDED"
    };
    if let Some(res) = inner.resources.get_mut(&key) {
        res.objects
            .insert((namespace.to_owned(), name.to_owned()), object.clone());
    }
    record(shared, inner, group, plural, namespace, event, object, rv);
    Ok(rv)
}

fn delete_object(
    shared: &Shared,
    inner: &mut Inner,
    group: &str,
    plural: &str,
    namespace: &str,
    name: &str,
) -> Option<Value> {
    let res = inner
        .resources
        .get_mut(&(group.to_owned(), plural.to_owned()))?;
    let mut object = res
        .objects
        .remove(&(namespace.to_owned(), name.to_owned()))?;
    inner.rv += 1;
    let rv = inner.rv;
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    record(
        shared,
        inner,
        group,
        plural,
        namespace,
        "DELETED",
        object.clone(),
        rv,
    );
    Some(object)
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    inner: &mut Inner,
    group: &str,
    plural: &str,
    namespace: &str,
    kind: &'static str,
    object: Value,
    rv: u64,
) {
    let entry = Arc::new(LogEntry {
        rv,
        group: group.to_owned(),
        plural: plural.to_owned(),
        namespace: namespace.to_owned(),
        kind,
        object,
    });
    inner.log.push(entry.clone());
    // Sent under the lock so every receiver sees events in rv order.
    let _ = shared.events.send(entry);
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    });
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_response(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn with_version(mut obj: Value, group: &str, version: &str) -> Value {
    if let Some(o) = obj.as_object_mut() {
        o.insert(
            "apiVersion".into(),
            Value::String(format!("{group}/{version}")),
        );
    }
    obj
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(hex) = std::str::from_utf8(&b[i + 1..i + 3])
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed resource path under `/apis/{group}/{version}/…`.
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
}

fn parse_target(segs: &[&str]) -> Option<Target> {
    // apis, group, version, [namespaces, ns], plural, [name]
    let (group, version, rest) = match segs {
        ["apis", g, v, rest @ ..] => ((*g).to_owned(), (*v).to_owned(), rest),
        ["api", v, rest @ ..] => (String::new(), (*v).to_owned(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [p] => ((*p).to_owned(), None),
        [p, n] => ((*p).to_owned(), Some((*n).to_owned())),
        _ => return None,
    };
    Some(Target {
        group,
        version,
        namespace,
        plural,
        name,
    })
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let query = query_map(req.uri().query());
    let method = req.method().clone();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => {
            return json_response(&json!({
                "major": "1", "minor": "33", "gitVersion": "v1.33.0-openova-testserver",
                "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
            }));
        }
        ["api"] => {
            return json_response(
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        ["apis"] => return discovery_groups(&shared),
        ["apis", group, version] => return discovery_resources(&shared, group, version),
        _ => {}
    }
    let Some(t) = parse_target(&segs) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let body = match axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return status(400, "BadRequest", &format!("reading body: {e}")),
    };
    {
        let mut inner = shared.lock();
        let served = inner
            .resources
            .get(&(t.group.clone(), t.plural.clone()))
            .is_some_and(|r| r.served.contains(&t.version));
        if !served {
            return status(
                404,
                "NotFound",
                &format!("the server could not find the requested resource ({path})"),
            );
        }
        let verb = match (&method, &t.name) {
            (&Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                "watch"
            }
            (&Method::GET, None) => "list",
            (&Method::GET, Some(_)) => "get",
            (&Method::POST, None) => "create",
            (&Method::PUT, Some(_)) => "update",
            (&Method::DELETE, Some(_)) => "delete",
            _ => "unsupported",
        };
        *inner.counters.entry((t.plural.clone(), verb)).or_insert(0) += 1;
    }
    match (method, t.name.clone()) {
        (Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            let mut paused = shared.paused.subscribe();
            let _ = paused.wait_for(|p| !*p).await;
            watch(&shared, &t, &query)
        }
        (Method::GET, None) => list(&shared, &t, &query),
        (Method::GET, Some(name)) => get_one(&shared, &t, &name),
        (Method::POST, None) => create(&shared, &t, &body),
        (Method::PUT, Some(name)) => replace(&shared, &t, &name, &body),
        (Method::DELETE, Some(name)) => {
            let mut inner = shared.lock();
            let ns = t.namespace.clone().unwrap_or_default();
            match delete_object(&shared, &mut inner, &t.group, &t.plural, &ns, &name) {
                Some(obj) => json_response(&with_version(obj, &t.group, &t.version)),
                None => status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", t.plural),
                ),
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        ),
    }
}

fn discovery_groups(shared: &Shared) -> Response {
    let inner = shared.lock();
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in inner.resources.values() {
        let entry = groups.entry(r.def.group.as_str()).or_default();
        for v in &r.def.versions {
            if r.served.contains(v) && !entry.contains(&v.as_str()) {
                entry.push(v);
            }
        }
    }
    let list: Vec<Value> = groups
        .into_iter()
        .filter(|(g, vs)| !g.is_empty() && !vs.is_empty())
        .map(|(g, vs)| {
            let versions: Vec<Value> = vs
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            let preferred = versions[0].clone();
            json!({"name": g, "versions": versions, "preferredVersion": preferred})
        })
        .collect();
    json_response(&json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
}

fn discovery_resources(shared: &Shared, group: &str, version: &str) -> Response {
    let mut inner = shared.lock();
    let resources: Vec<Value> = inner
        .resources
        .values()
        .filter(|r| r.def.group == group && r.served.contains(version))
        .map(|r| {
            json!({
                "name": r.def.plural, "singularName": r.def.kind.to_lowercase(),
                "namespaced": r.def.namespaced, "kind": r.def.kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]
            })
        })
        .collect();
    *inner
        .counters
        .entry((format!("{group}/{version}"), "discovery"))
        .or_insert(0) += 1;
    if resources.is_empty() {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    json_response(&json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"), "resources": resources
    }))
}

fn matches_scope(t: &Target, namespace: &str) -> bool {
    t.namespace.as_deref().is_none_or(|ns| ns == namespace)
}

fn list(shared: &Shared, t: &Target, query: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let (rv, mut items) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => match inner.continues.remove(token) {
            Some(snapshot) => snapshot,
            None => return status(410, "Expired", "the provided continue parameter is too old"),
        },
        None => {
            let Some(res) = inner.resources.get(&(t.group.clone(), t.plural.clone())) else {
                return status(404, "NotFound", "not found");
            };
            let items: Vec<Value> = res
                .objects
                .iter()
                .filter(|((ns, _), _)| matches_scope(t, ns))
                .map(|(_, o)| o.clone())
                .collect();
            (inner.rv, items)
        }
    };
    let rest = if items.len() > limit {
        items.split_off(limit)
    } else {
        Vec::new()
    };
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if !rest.is_empty() {
        inner.next_continue += 1;
        let token = format!("c{}", inner.next_continue);
        metadata["continue"] = Value::String(token.clone());
        metadata["remainingItemCount"] = json!(rest.len());
        inner.continues.insert(token, (rv, rest));
    }
    let kind = inner
        .resources
        .get(&(t.group.clone(), t.plural.clone()))
        .map(|r| format!("{}List", r.def.kind))
        .unwrap_or_default();
    let items: Vec<Value> = items
        .into_iter()
        .map(|o| with_version(o, &t.group, &t.version))
        .collect();
    json_response(&json!({
        "kind": kind, "apiVersion": format!("{}/{}", t.group, t.version),
        "metadata": metadata, "items": items
    }))
}

fn get_one(shared: &Shared, t: &Target, name: &str) -> Response {
    let inner = shared.lock();
    let ns = t.namespace.clone().unwrap_or_default();
    match inner
        .resources
        .get(&(t.group.clone(), t.plural.clone()))
        .and_then(|r| r.objects.get(&(ns, name.to_owned())))
    {
        Some(o) => json_response(&with_version(o.clone(), &t.group, &t.version)),
        None => status(
            404,
            "NotFound",
            &format!("{}.{} \"{name}\" not found", t.plural, t.group),
        ),
    }
}

fn create(shared: &Shared, t: &Target, body: &Bytes) -> Response {
    let Ok(object) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "body is not a JSON object");
    };
    let Some(name) = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return status(422, "Invalid", "metadata.name: Required value");
    };
    let ns = t.namespace.clone().unwrap_or_default();
    let mut inner = shared.lock();
    let exists = inner
        .resources
        .get(&(t.group.clone(), t.plural.clone()))
        .is_some_and(|r| r.objects.contains_key(&(ns.clone(), name.clone())));
    if exists {
        return status(
            409,
            "AlreadyExists",
            &format!("{}.{} \"{name}\" already exists", t.plural, t.group),
        );
    }
    let uid = shared.uid.fetch_add(1, Ordering::Relaxed);
    match store_object(
        shared, &mut inner, &t.group, &t.plural, &ns, &name, object, uid,
    ) {
        Ok(_) => {
            let stored = inner
                .resources
                .get(&(t.group.clone(), t.plural.clone()))
                .and_then(|r| r.objects.get(&(ns, name)))
                .cloned()
                .unwrap_or(Value::Null);
            (
                StatusCode::CREATED,
                json_response(&with_version(stored, &t.group, &t.version)),
            )
                .into_response()
        }
        Err(e) => status(400, "BadRequest", &e.to_string()),
    }
}

fn replace(shared: &Shared, t: &Target, name: &str, body: &Bytes) -> Response {
    let Ok(object) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "body is not a JSON object");
    };
    let ns = t.namespace.clone().unwrap_or_default();
    let mut inner = shared.lock();
    let Some(existing) = inner
        .resources
        .get(&(t.group.clone(), t.plural.clone()))
        .and_then(|r| r.objects.get(&(ns.clone(), name.to_owned())))
        .cloned()
    else {
        return status(
            404,
            "NotFound",
            &format!("{}.{} \"{name}\" not found", t.plural, t.group),
        );
    };
    let sent_rv = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    let stored_rv = existing
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    if let Some(sent) = sent_rv
        && Some(sent) != stored_rv
    {
        return status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {}.{} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.plural, t.group
            ),
        );
    }
    match store_object(
        shared, &mut inner, &t.group, &t.plural, &ns, name, object, 0,
    ) {
        Ok(_) => {
            let stored = inner
                .resources
                .get(&(t.group.clone(), t.plural.clone()))
                .and_then(|r| r.objects.get(&(ns, name.to_owned())))
                .cloned()
                .unwrap_or(Value::Null);
            json_response(&with_version(stored, &t.group, &t.version))
        }
        Err(e) => status(400, "BadRequest", &e.to_string()),
    }
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": kind, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn gone_line(from: u64, oldest: u64) -> Bytes {
    event_line(
        "ERROR",
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {from} ({oldest})"),
            "reason": "Expired", "code": 410
        }),
    )
}

struct WatchGuard {
    shared: Arc<Shared>,
    plural: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.shared.active_watches.lock()
            && let Some(c) = m.get_mut(&self.plural)
        {
            *c = c.saturating_sub(1);
        }
    }
}

fn watch(shared: &Arc<Shared>, t: &Target, query: &HashMap<String, String>) -> Response {
    let from: Option<u64> = query
        .get("resourceVersion")
        .filter(|v| !v.is_empty() && v.as_str() != "0")
        .and_then(|v| v.parse().ok());
    let bookmarks = query
        .get("allowWatchBookmarks")
        .is_some_and(|v| v == "true");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1024);
    let inner = shared.lock();
    let kind = inner
        .resources
        .get(&(t.group.clone(), t.plural.clone()))
        .map(|r| r.def.kind.clone())
        .unwrap_or_default();
    let matches = {
        let (g, p, ns) = (t.group.clone(), t.plural.clone(), t.namespace.clone());
        move |e: &LogEntry| {
            e.group == g && e.plural == p && ns.as_deref().is_none_or(|n| n == e.namespace)
        }
    };
    let mut initial: Vec<Bytes> = Vec::new();
    let mut expired = false;
    match from {
        Some(rv) if rv < inner.compacted => {
            initial.push(gone_line(rv, inner.compacted));
            expired = true;
        }
        Some(rv) => {
            for e in inner.log.iter().filter(|e| e.rv > rv && matches(e)) {
                initial.push(event_line(
                    e.kind,
                    &with_version(e.object.clone(), &t.group, &t.version),
                ));
            }
        }
        None => {
            if let Some(res) = inner.resources.get(&(t.group.clone(), t.plural.clone())) {
                for ((ns, _), o) in &res.objects {
                    if matches_scope(t, ns) {
                        initial.push(event_line(
                            "ADDED",
                            &with_version(o.clone(), &t.group, &t.version),
                        ));
                    }
                }
            }
        }
    }
    let mut events = shared.events.subscribe();
    let mut drops = shared.drops.subscribe();
    drops.borrow_and_update();
    let mut last_seen = inner.rv;
    drop(inner);
    if let Ok(mut m) = shared.active_watches.lock() {
        *m.entry(t.plural.clone()).or_insert(0) += 1;
    }
    let guard = WatchGuard {
        shared: shared.clone(),
        plural: t.plural.clone(),
    };
    let (group, version) = (t.group.clone(), t.version.clone());
    let bookmark_every = shared.settings.bookmark_interval;
    let api_version = format!("{group}/{version}");
    tokio::spawn(async move {
        let _guard = guard;
        for line in initial {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        let deadline = timeout.map(|d| tokio::time::Instant::now() + d);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        loop {
            let line = tokio::select! {
                ev = events.recv() => match ev {
                    Ok(e) => {
                        last_seen = e.rv;
                        if !matches(&e) {
                            continue;
                        }
                        event_line(e.kind, &with_version(e.object.clone(), &group, &version))
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(Ok(gone_line(last_seen, last_seen + 1))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => event_line("BOOKMARK", &json!({
                    "kind": kind, "apiVersion": api_version,
                    "metadata": {"resourceVersion": last_seen.to_string()}
                })),
                _ = drops.changed() => {
                    let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "dropped by test"))).await;
                    return;
                }
                () = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => return,
                () = tx.closed() => return,
            };
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap_or_else(|_| status(500, "InternalError", "building the watch response failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = parse_target(&["apis", "g", "v1", "namespaces", "ns", "things", "a"]).unwrap();
        assert_eq!(
            (
                t.group.as_str(),
                t.namespace.as_deref(),
                t.plural.as_str(),
                t.name.as_deref()
            ),
            ("g", Some("ns"), "things", Some("a"))
        );
        let t = parse_target(&["apis", "g", "v1", "things"]).unwrap();
        assert_eq!((t.namespace, t.name), (None, None));
        let t = parse_target(&["apis", "g", "v1", "namespaces", "ns"]).unwrap();
        assert_eq!(
            (t.plural.as_str(), t.name.as_deref()),
            ("namespaces", Some("ns"))
        );
        assert!(parse_target(&["apis", "g"]).is_none());
    }

    #[test]
    fn query_decoding() {
        let q = query_map(Some("watch=true&labelSelector=a%3Db&x"));
        assert_eq!(q["watch"], "true");
        assert_eq!(q["labelSelector"], "a=b");
        assert_eq!(q["x"], "");
    }

    #[test]
    fn timestamps_look_like_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
        assert_eq!(&t[4..5], "-");
    }
}

//! kube-rs discovery and watchers (emitter.md §2): HelmRelease and HelmChart
//! resolved dynamically by group/version/kind, watched with the runtime
//! `watcher` (default backoff), decoded into the tolerant model and fed into
//! the [`SharedRegion`].

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::model::{HelmChart, HelmRelease};
use crate::region::{Event, SharedRegion};

/// A watched kind and the versions to try, preferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSpec {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub versions: &'static [&'static str],
}

pub const HELM_RELEASE: KindSpec = KindSpec {
    group: "helm.toolkit.fluxcd.io",
    kind: "HelmRelease",
    plural: "helmreleases",
    versions: &["v2", "v2beta2"],
};

pub const HELM_CHART: KindSpec = KindSpec {
    group: "source.toolkit.fluxcd.io",
    kind: "HelmChart",
    plural: "helmcharts",
    versions: &["v1", "v1beta2"],
};

/// Watch-loop settings.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// `None` = all namespaces.
    pub namespace: Option<String>,
    /// How often discovery is retried while a kind is not served (§2: 30 s).
    pub discovery_retry: Duration,
}

/// Finds the first served version of `spec` by API discovery.
pub async fn discover(
    client: &Client,
    spec: &KindSpec,
) -> Result<Option<ApiResource>, kube::Error> {
    for version in spec.versions {
        let api_version = format!("{}/{version}", spec.group);
        match client.list_api_group_resources(&api_version).await {
            Ok(list) => {
                if list.resources.iter().any(|r| r.name == spec.plural) {
                    return Ok(Some(ApiResource {
                        group: spec.group.to_owned(),
                        version: (*version).to_owned(),
                        api_version,
                        kind: spec.kind.to_owned(),
                        plural: spec.plural.to_owned(),
                    }));
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// `true` for a watcher error that means the resource is no longer served.
fn resource_gone(e: &watcher::Error) -> bool {
    matches!(
        e,
        watcher::Error::InitialListFailed(kube::Error::Api(s))
            | watcher::Error::WatchStartFailed(kube::Error::Api(s))
            if s.code == 404
    )
}

fn convert<T>(ev: watcher::Event<DynamicObject>, decode: fn(&Value) -> T) -> Event<T> {
    let dec = |o: DynamicObject| decode(&serde_json::to_value(o).unwrap_or(Value::Null));
    match ev {
        watcher::Event::Init => Event::Init,
        watcher::Event::InitApply(o) => Event::InitApply(dec(o)),
        watcher::Event::InitDone => Event::InitDone,
        watcher::Event::Apply(o) => Event::Apply(dec(o)),
        watcher::Event::Delete(o) => Event::Delete(dec(o)),
    }
}

async fn sleep_or_stop(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

/// Discovers and watches HelmReleases until `stop`.
pub async fn watch_releases(
    client: Client,
    settings: WatchSettings,
    region: Arc<SharedRegion>,
    stop: CancellationToken,
) {
    watch_kind(
        client,
        settings,
        HELM_RELEASE,
        stop,
        move |ev| {
            region.release_event(convert(ev, HelmRelease::from_value));
        },
        || {},
    )
    .await;
}

/// Discovers and watches HelmCharts until `stop`; when the kind is not
/// served, the region runs without chart refinement.
pub async fn watch_charts(
    client: Client,
    settings: WatchSettings,
    region: Arc<SharedRegion>,
    stop: CancellationToken,
) {
    let r2 = region.clone();
    watch_kind(
        client,
        settings,
        HELM_CHART,
        stop,
        move |ev| {
            region.chart_event(convert(ev, HelmChart::from_value));
        },
        move || r2.charts_unavailable(),
    )
    .await;
}

async fn watch_kind(
    client: Client,
    settings: WatchSettings,
    spec: KindSpec,
    stop: CancellationToken,
    on_event: impl Fn(watcher::Event<DynamicObject>),
    on_unserved: impl Fn(),
) {
    let mut warned = false;
    loop {
        let resource = match discover(&client, &spec).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                if !warned {
                    warn!(kind = spec.kind, group = spec.group, versions = ?spec.versions, "kind not served; retrying discovery");
                    warned = true;
                }
                on_unserved();
                if !sleep_or_stop(&stop, settings.discovery_retry).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                warn!(kind = spec.kind, error = %e, "discovery failed; retrying");
                if !sleep_or_stop(&stop, settings.discovery_retry).await {
                    return;
                }
                continue;
            }
        };
        info!(kind = spec.kind, api_version = %resource.api_version, namespace = ?settings.namespace, "watching");
        let api: Api<DynamicObject> = match &settings.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        loop {
            let item = tokio::select! {
                () = stop.cancelled() => return,
                item = stream.next() => item,
            };
            match item {
                Some(Ok(ev)) => on_event(ev),
                Some(Err(e)) if resource_gone(&e) => {
                    warn!(kind = spec.kind, error = %e, "resource no longer served; rediscovering");
                    break;
                }
                Some(Err(e)) => {
                    debug!(kind = spec.kind, error = %e, "watch error; the watcher recovers with backoff")
                }
                None => break,
            }
        }
    }
}

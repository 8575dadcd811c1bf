//! Lease-based leader election (emitter.md §9) on a `coordination.k8s.io/v1`
//! Lease, with optimistic concurrency on `resourceVersion`.
//!
//! Expiry is judged the way client-go does: by how long the *observed* record
//! (its resourceVersion) has stayed unchanged on this replica's clock, so
//! clock skew between replicas does not matter.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Lease timing (§9: 15 s duration, renew every 5 s, retry every 2 s, lost
/// after 10 s without a successful renewal). Tests shorten them.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub name: String,
    pub holder: String,
    /// `None` = the client's default namespace (in-cluster: the pod's).
    pub namespace: Option<String>,
    pub lease_duration: Duration,
    pub renew_period: Duration,
    pub retry_period: Duration,
    pub lost_after: Duration,
}

impl LeaseSettings {
    pub fn new(name: &str, holder: &str) -> Self {
        LeaseSettings {
            name: name.to_owned(),
            holder: holder.to_owned(),
            namespace: None,
            lease_duration: Duration::from_secs(15),
            renew_period: Duration::from_secs(5),
            retry_period: Duration::from_secs(2),
            lost_after: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LeaseError {
    #[error("lease request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("lease request timed out")]
    Timeout,
}

/// Did an attempt win the lease?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Held,
    HeldByOther,
}

/// One replica's view of the Lease.
#[derive(Debug)]
pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    /// resourceVersion last observed and when it was first seen.
    observed: Option<(String, Instant)>,
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

impl Elector {
    pub fn new(client: Client, settings: LeaseSettings) -> Self {
        let api = match &settings.namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::default_namespaced(client),
        };
        Elector {
            api,
            settings,
            observed: None,
        }
    }

    fn duration_secs(&self) -> i32 {
        i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaseError> {
        match tokio::time::timeout(
            self.settings.retry_period.max(Duration::from_millis(500)),
            fut,
        )
        .await
        {
            Ok(r) => Ok(r?),
            Err(_) => Err(LeaseError::Timeout),
        }
    }

    /// One acquisition or renewal attempt.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let now = MicroTime(Timestamp::now());
        let me = self.settings.holder.clone();
        let current = match self.call(self.api.get(&self.settings.name)).await {
            Ok(l) => Some(l),
            Err(LeaseError::Kube(e)) if is_not_found(&e) => None,
            Err(e) => return Err(e),
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(self.duration_secs()),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self
                .call(self.api.create(&PostParams::default(), &lease))
                .await
            {
                Ok(created) => {
                    self.observe(&created);
                    Ok(Attempt::Held)
                }
                Err(LeaseError::Kube(e)) if is_conflict(&e) => Ok(Attempt::HeldByOther),
                Err(e) => Err(e),
            };
        };
        self.observe(&lease);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == me;
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.settings.lease_duration, Duration::from_secs);
        let expired = self
            .observed
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() > duration);
        if !mine && !holder.is_empty() && !expired {
            return Ok(Attempt::HeldByOther);
        }
        let mut new_spec = spec.clone();
        new_spec.holder_identity = Some(me);
        new_spec.lease_duration_seconds = Some(self.duration_secs());
        new_spec.renew_time = Some(now.clone());
        if !mine {
            new_spec.acquire_time = Some(now);
            new_spec.lease_transitions =
                Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        lease.spec = Some(new_spec);
        match self
            .call(
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(updated) => {
                self.observe(&updated);
                Ok(Attempt::Held)
            }
            Err(LeaseError::Kube(e)) if is_conflict(&e) => Ok(Attempt::HeldByOther),
            Err(e) => Err(e),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != rv) {
            self.observed = Some((rv, Instant::now()));
        }
    }

    /// Clears `holderIdentity` if this replica holds the lease, so a standby
    /// takes over within one retry period.
    pub async fn release(&mut self) {
        let Ok(mut lease) = self.call(self.api.get(&self.settings.name)).await else {
            return;
        };
        let holds = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.settings.holder.as_str());
        if !holds {
            return;
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
        }
        match self
            .call(
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &lease),
            )
            .await
        {
            Ok(_) => info!(lease = %self.settings.name, "lease released"),
            Err(e) => warn!(lease = %self.settings.name, error = %e, "could not release the lease"),
        }
    }

    /// Competes for the lease until `stop`, publishing `true` while this
    /// replica is the leader. Releases the lease on `stop` if held.
    pub async fn run(mut self, leader: watch::Sender<bool>, stop: CancellationToken) {
        let _ = leader.send(false);
        'standby: loop {
            // Standby: retry acquisition every retry period.
            loop {
                match self.try_acquire_or_renew().await {
                    Ok(Attempt::Held) => break,
                    Ok(Attempt::HeldByOther) => {}
                    Err(e) => warn!(error = %e, "lease acquisition failed"),
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(self.settings.retry_period) => {}
                }
            }
            info!(lease = %self.settings.name, holder = %self.settings.holder, "became leader");
            let _ = leader.send(true);
            let mut last_renewal = Instant::now();
            loop {
                tokio::select! {
                    () = stop.cancelled() => {
                        let _ = leader.send(false);
                        self.release().await;
                        return;
                    }
                    () = tokio::time::sleep(self.settings.renew_period) => {}
                }
                match self.try_acquire_or_renew().await {
                    Ok(Attempt::Held) => last_renewal = Instant::now(),
                    Ok(Attempt::HeldByOther) => {
                        warn!(lease = %self.settings.name, "another holder took the lease");
                        let _ = leader.send(false);
                        continue 'standby;
                    }
                    Err(e) => {
                        warn!(error = %e, "lease renewal failed");
                        if last_renewal.elapsed() >= self.settings.lost_after {
                            warn!(lease = %self.settings.name, "no renewal within the limit; stepping down");
                            let _ = leader.send(false);
                            continue 'standby;
                        }
                    }
                }
            }
        }
    }
}

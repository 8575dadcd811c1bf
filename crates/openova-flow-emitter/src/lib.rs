//! `openova-flow-emitter`: the Flux adapter of OpenovaFlow (shared/spec/emitter.md).
//!
//! It watches Flux HelmReleases and HelmCharts in one cluster (one *region*)
//! and keeps that region's part of a deployment flow up to date on the flow
//! server. Pure parts first, I/O last:
//!
//! * [`config`], [`duration`] — settings from flags/env, Go-style durations.
//! * [`model`] — a tolerant model of HelmRelease/HelmChart (both served versions).
//! * [`mapper`] — HelmRelease (+ HelmChart) → node and `dependsOn` edges.
//! * [`timing`] — `startedAt`/`endedAt` from observations; RFC 3339 parsing.
//! * [`rollup`] — the synthetic region node and its worst-of-children status.
//! * [`graph`] — desired vs acknowledged diff, 512 KiB batching, prune rules.
//! * [`backoff`] — capped exponential backoff with jitter and `Retry-After`.
//! * [`region`] — watch stores (relists swapped at `InitDone`) → desired graph.
//! * [`client`] — the flow-server client and its outcome classification.
//! * [`engine`] — coalescing, ordered flushes, retries, resyncs, shutdown flush.
//! * [`watch`] — kube-rs discovery and watchers feeding the region.
//! * [`leader`] — Lease-based leader election.
//! * [`health`], [`metrics`] — `/healthz`, `/readyz`, `/metrics`.
//! * [`app`] — wiring everything together for the binary and the tests.
#![forbid(unsafe_code)]

pub mod app;
pub mod backoff;
pub mod client;
pub mod config;
pub mod duration;
pub mod engine;
pub mod graph;
pub mod health;
pub mod leader;
pub mod mapper;
pub mod metrics;
pub mod model;
pub mod region;
pub mod rollup;
pub mod timing;
pub mod watch;

/// Installs rustls' ring provider as the process default (idempotent).
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

//! Integration tests of openova-flow-proxy, end to end over loopback HTTP,
//! against the real flow server started in-process
//! (`openova_flow_server::testing`). See proxy.md §12 for the case list.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod auth_matrix;
mod binary;
mod common;
mod events;
mod forwarding;
mod jwks;
mod reference;
mod routing;
mod stream;
mod tls;

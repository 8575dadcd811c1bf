//! server.md §12–§13: the shared behavioural suite (`suite/`) against the
//! Postgres backend — the same cases as `acceptance_memory.rs`, each server on
//! a fresh database of a throwaway cluster. Without PostgreSQL (and without
//! `OPENOVA_FLOW_REQUIRE_PG=1`) every case prints a SKIP line and passes.

#![allow(clippy::unwrap_used)]

mod pg;
mod suite;

acceptance_tests!(match pg::Postgres::new("postgres_acceptance") {
    Some(s) => s,
    None => return,
});

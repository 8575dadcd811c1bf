//! server.md §12–§13 against the memory backend (in-process server on
//! 127.0.0.1:0). The cases live in `suite/`; a Postgres run instantiates the
//! same macro with its own starter.

#![allow(clippy::unwrap_used)]

mod suite;

acceptance_tests!(suite::support::Memory);

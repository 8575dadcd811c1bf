//! `openova-flow`: a terminal client of the OpenovaFlow server.
//!
//! * `watch` — follows a flow live: per-region progress bars and the running
//!   and failed nodes, redrawn in place on a terminal, one line per change
//!   otherwise; `--until-done` makes it a deployment gate.
//! * `snapshot`, `post`, `tail` — for scripts.
//!
//! Wire types come from `openova-flow-contract` (frames are parsed with its
//! `sse::FrameParser`, folded with `FlowState`); rendering is pure
//! ([`render`], [`summary`]).
#![forbid(unsafe_code)]

pub mod client;
pub mod commands;
pub mod follow;
pub mod render;
pub mod summary;

use clap::{Args, Parser, Subcommand};

/// Exit status of a flow that finished with failed nodes (`watch --until-done`).
pub const EXIT_FAILED_NODES: u8 = 3;
/// Exit status when `--timeout` passed first.
pub const EXIT_TIMEOUT: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "openova-flow",
    version,
    about = "Watch and script OpenovaFlow flows (live DAG progress of multi-region bootstraps)",
    after_help = "Exit status: 0 success; 1 error; 2 usage; 3 watch --until-done: finished with failed nodes; 4 timeout."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Flow server base URL (through the proxy: its base, e.g. `https://console.example.org/api`).
    #[arg(
        long,
        env = "OPENOVA_FLOW_SERVER",
        default_value = "http://localhost:8080",
        global = true
    )]
    pub server: String,
    /// Bearer token (read token for watch/snapshot/tail, ingest token for post). Prefer the env var: flags show in process lists.
    #[arg(
        long,
        env = "OPENOVA_FLOW_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow a flow live: per-region progress, running and failed nodes.
    Watch(WatchArgs),
    /// Print the flow's snapshot JSON (or a summary).
    Snapshot(SnapshotArgs),
    /// POST FlowMessages (one JSON document, or one per line) or log lines.
    Post(PostArgs),
    /// Print the flow's SSE frames, one line each: `<event> <id> <data>`.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The flow (deployment) id.
    pub flow_id: String,
    /// Exit when no node is pending or running: 0 if all succeeded, 3 if any failed.
    #[arg(long)]
    pub until_done: bool,
    /// With --until-done: the flow is done only with at least this many nodes.
    #[arg(long, default_value_t = 1, requires = "until_done")]
    pub min_nodes: usize,
    /// Give up after this long (e.g. 30m); exit 4.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Plain line output even on a terminal.
    #[arg(long)]
    pub plain: bool,
    /// List at most this many running (and failed) nodes in the terminal view.
    #[arg(long, default_value_t = 15)]
    pub max_listed: usize,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    pub flow_id: String,
    /// Per-region counts and the running/failed nodes instead of JSON.
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Args)]
pub struct PostArgs {
    pub flow_id: String,
    /// File with the body (default: stdin). One JSON document, or one per line (JSON Lines).
    pub file: Option<std::path::PathBuf>,
    /// Post to log-lines (`{"lines":[…]}`) instead of events.
    #[arg(long)]
    pub log_lines: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    pub flow_id: String,
    /// Resume after this event id (`<epoch>-<seq>`) instead of starting with a snapshot.
    #[arg(long)]
    pub last_event_id: Option<String>,
    /// Exit after this many printed frames.
    #[arg(long)]
    pub count: Option<usize>,
    /// Also print heartbeat frames.
    #[arg(long)]
    pub heartbeats: bool,
    /// Print only the `data` JSON of each frame (JSON Lines).
    #[arg(long)]
    pub data_only: bool,
}

//! `openova-flow-bench ingest|fanout`: see the crate docs and docs/benchmarks.md.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use openova_flow_bench::fanout::{self, FanoutArgs};
use openova_flow_bench::ingest::{self, IngestArgs};
use openova_flow_bench::target::Target;

#[derive(Debug, Parser)]
#[command(
    name = "openova-flow-bench",
    version,
    about = "Load tool for an OpenovaFlow flow server"
)]
struct Cli {
    /// Base URL of the server.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token for POST/DELETE (prefer the environment).
    #[arg(
        long,
        global = true,
        env = "FLOW_BENCH_INGEST_TOKEN",
        hide_env_values = true
    )]
    ingest_token: Option<String>,
    /// Bearer token for streams (prefer the environment).
    #[arg(
        long,
        global = true,
        env = "FLOW_BENCH_READ_TOKEN",
        hide_env_values = true
    )]
    read_token: Option<String>,
    /// Allow a target that is not localhost/127.0.0.0/8/::1.
    #[arg(long, global = true)]
    allow_remote: bool,
    /// Also print the report as one JSON line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// POST upsert-nodes from N connections to F flows; report accepted req/s and latency.
    Ingest(IngestCli),
    /// S SSE subscribers over F flows while R events/s are published; report delivery.
    Fanout(FanoutCli),
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d > Duration::from_secs(600) {
        return Err("at most 10m".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
struct IngestCli {
    /// Concurrent connections, one request in flight each (1–10000).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    connections: u64,
    /// Flows written to (1–100000).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    flows: u64,
    /// Total requests per second; 0 = flat out (≤ 1000000).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    rate: u64,
    /// How long to run (≤ 10m).
    #[arg(long, default_value = "10s", value_parser = duration)]
    duration: Duration,
    /// Stop after this many requests (≤ 100000000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    requests: Option<u64>,
    /// Nodes per upsert-nodes event (1–1000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    nodes_per_event: u64,
    /// Node ids cycle over this many per flow (bounds flow size).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=50_000))]
    distinct_nodes: u64,
    /// Flow ids are `<prefix>-<i>`.
    #[arg(long, default_value = "bench-ingest")]
    flow_prefix: String,
}

#[derive(Debug, Args)]
struct FanoutCli {
    /// SSE subscribers (0–50000), spread round-robin over the flows.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=50_000))]
    subscribers: u64,
    /// Flows (1–10000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    flows: u64,
    /// Events per second over all flows; 0 = idle subscribers (≤ 100000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    rate: u64,
    /// How long to publish, or to hold idle subscribers (≤ 10m).
    #[arg(long, default_value = "10s", value_parser = duration)]
    duration: Duration,
    /// Concurrent publisher tasks (1–1000).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    publishers: u64,
    /// Streams opened at once (1–10000).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    connect_concurrency: u64,
    /// Idle time after all streams opened, before the RSS sample.
    #[arg(long, default_value = "3s", value_parser = duration)]
    settle: Duration,
    /// Longest wait for subscribers to catch up after publishing.
    #[arg(long, default_value = "10s", value_parser = duration)]
    drain: Duration,
    /// PID of a local server: report its RSS per idle subscriber.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Flow ids are `<prefix>-<i>`; they are deleted and recreated first.
    #[arg(long, default_value = "bench-fanout")]
    flow_prefix: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let target = match Target::new(&cli.url, cli.allow_remote, cli.ingest_token, cli.read_token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.mode {
            Mode::Ingest(a) => {
                let args = IngestArgs {
                    connections: a.connections as usize,
                    flows: a.flows as usize,
                    rate: a.rate,
                    duration: a.duration,
                    requests: a.requests,
                    nodes_per_event: a.nodes_per_event as usize,
                    distinct_nodes: a.distinct_nodes as usize,
                    flow_prefix: a.flow_prefix,
                };
                let r = ingest::run(&target, &args).await?;
                println!("{}", r.to_text(&args));
                anyhow::Ok(if cli.json { Some(r.to_json()) } else { None })
            }
            Mode::Fanout(a) => {
                let args = FanoutArgs {
                    subscribers: a.subscribers as usize,
                    flows: a.flows as usize,
                    rate: a.rate,
                    duration: a.duration,
                    publishers: a.publishers as usize,
                    connect_concurrency: a.connect_concurrency as usize,
                    settle: a.settle,
                    drain: a.drain,
                    server_pid: a.server_pid,
                    flow_prefix: a.flow_prefix,
                };
                let r = fanout::run(&target, &args).await?;
                println!("{}", r.to_text(&args));
                anyhow::Ok(if cli.json { Some(r.to_json()) } else { None })
            }
        }
    });
    runtime.shutdown_background();
    match result {
        Ok(json) => {
            if let Some(j) = json {
                println!("{j}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `openova-flow` binary: parse, install the TLS provider, run.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use openova_flow_cli::{Cli, commands};

fn main() -> ExitCode {
    // reqwest is built without a default provider: ring, the workspace's one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openova-flow: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openova-flow: {e:#}");
            ExitCode::FAILURE
        }
    }
}

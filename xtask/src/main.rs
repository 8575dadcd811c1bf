//! `cargo xtask <command>`: the project's automation, in Rust, with no
//! dependencies beyond the workspace's.
//!
//! * `ci` — every gate the README's test command promises (see [`ci`]).
#![forbid(unsafe_code)]

mod ci;
mod render_cloudinit;
mod util;
mod venv;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "OpenovaFlow project automation",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every CI gate in order; print a summary line; exit 1 if any failed.
    Ci(ci::CiArgs),
    /// Prepare what the gates need under target/ (Python virtualenv, helper binaries).
    Setup,
    /// Render (and check) the control-plane cloud-init of infra/hetzner per region key, as OpenTofu would.
    RenderCloudinit(render_cloudinit::RenderArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci(args) => ci::run(&args),
        Command::Setup => venv::ensure().map(|_| ExitCode::SUCCESS),
        Command::RenderCloudinit(args) => Ok(render_cloudinit::run(&args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

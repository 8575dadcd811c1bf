//! `cargo xtask <command>`: the project's automation, in Rust, with no
//! dependencies beyond the workspace's.
//!
//! * `ci` — every gate the README's test command promises (see [`ci`]).
#![forbid(unsafe_code)]

mod charts;
mod check_bootstrap_deps;
mod ci;
mod dist;
mod docker;
mod fuzz;
mod images;
mod nix_check;
mod render_cloudinit;
mod ui;
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
    /// Audit bootstrap-kit/ (dependsOn vs the expected DAG, cycles, kustomization,
    /// placeholders vs cloud-init); exit 0 pass, 1 finding, 2 cycle, 3 input error.
    #[command(disable_help_flag = true)]
    CheckBootstrapDeps {
        /// Passed through; see `cargo xtask check-bootstrap-deps --help`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Render (and check) the control-plane cloud-init of infra/hetzner per region key, as OpenTofu would.
    RenderCloudinit(render_cloudinit::RenderArgs),
    /// Lint, render, schema-validate and assert the Helm charts (Helm Go SDK via the venv).
    Charts,
    /// Offline flake verification: parse, nixpkgs-fmt, structural evaluation with stub inputs.
    NixCheck,
    /// Static musl release builds of the service binaries into target/dist/.
    Dist(dist::DistArgs),
    /// FROM-scratch images of the static binaries (`localhost/<name>:dev`).
    Images(images::ImagesArgs),
    /// Rerun the page's browser tests and rewrite docs/img/flow-multi-region.png.
    UiScreenshot,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ci(args) => ci::run(&args),
        Command::Setup => venv::ensure().map(|_| ExitCode::SUCCESS),
        Command::CheckBootstrapDeps { args } => Ok(check_bootstrap_deps::run(args)),
        Command::RenderCloudinit(args) => Ok(render_cloudinit::run(&args)),
        Command::Charts => charts::run().map(|()| ExitCode::SUCCESS),
        Command::NixCheck => nix_check::run_check().map(|()| ExitCode::SUCCESS),
        Command::Dist(args) => dist::run_cmd(&args).map(|()| ExitCode::SUCCESS),
        Command::Images(args) => images::run_cmd(&args).map(|()| ExitCode::SUCCESS),
        Command::UiScreenshot => ui::screenshot().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

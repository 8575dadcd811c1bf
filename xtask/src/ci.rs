//! `cargo xtask ci`: the one command that runs every gate.
//!
//! Gates run in order; all of them run even after a failure unless
//! `--fail-fast`. A gate may *skip* only when a prerequisite that cannot be
//! had on this machine is missing, and says why. The last line is
//! `OK: all CI gates passed (…)` or `FAILED: <gate>, …`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::util::{cargo, project_root, run as sh};

#[derive(Debug, clap::Args)]
pub struct CiArgs {
    /// Stop at the first failing gate.
    #[arg(long)]
    fail_fast: bool,
    /// Skip these gates explicitly (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// Run only these gates (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// What a gate concluded.
#[derive(Debug)]
#[allow(dead_code)] // `Skipped` is used by gates that need optional tools.
pub enum Outcome {
    Passed,
    Skipped(String),
}

type GateFn = fn() -> Result<Outcome>;

/// Every gate, in the order it runs. Later issues append here.
const GATES: &[(&str, GateFn)] = &[
    ("setup", setup),
    ("fmt", fmt),
    ("clippy", clippy),
    ("one-crypto-provider", one_crypto_provider),
    ("test", test),
    ("doc", doc),
    ("fuzz", crate::fuzz::gate),
    ("bootstrap-deps", crate::check_bootstrap_deps::gate),
    ("kit-schema", crate::check_bootstrap_deps::kit_schema_gate),
    ("cloudinit", crate::render_cloudinit::gate_render),
    ("cloudinit-golden", crate::render_cloudinit::gate_golden),
    ("tf-fmt", crate::render_cloudinit::gate_fmt),
    ("charts", || crate::charts::run().map(|()| Outcome::Passed)),
    ("nix", || {
        crate::nix_check::run_check().map(|()| Outcome::Passed)
    }),
    ("musl", crate::images::musl_gate),
    ("container-smoke", crate::images::smoke_gate),
    ("ui-js", crate::ui::js_gate),
    ("ui-browser", crate::ui::browser_gate),
];

pub fn run(args: &CiArgs) -> Result<ExitCode> {
    let names: Vec<&str> = GATES.iter().map(|g| g.0).collect();
    for n in args.skip.iter().chain(&args.only) {
        if !names.contains(&n.as_str()) {
            bail!("unknown gate {n:?}; known gates: {}", names.join(", "));
        }
    }
    let started = Instant::now();
    let (mut passed, mut skipped, mut failed) = (0usize, Vec::new(), Vec::new());
    for (name, gate) in GATES {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        if args.skip.iter().any(|s| s == name) {
            println!("==> {name}: skipped (--skip)");
            skipped.push(format!("{name} (--skip)"));
            continue;
        }
        println!("==> {name}");
        let t = Instant::now();
        match gate() {
            Ok(Outcome::Passed) => {
                passed += 1;
                println!("==> {name}: passed in {:.1}s", t.elapsed().as_secs_f64());
            }
            Ok(Outcome::Skipped(why)) => {
                println!("==> {name}: SKIPPED: {why}");
                skipped.push(format!("{name} ({why})"));
            }
            Err(e) => {
                println!("==> {name}: FAILED: {e:#}");
                failed.push(*name);
                if args.fail_fast {
                    break;
                }
            }
        }
    }
    println!("CI took {:.0}s", started.elapsed().as_secs_f64());
    if failed.is_empty() {
        let skipped_text = if skipped.is_empty() {
            String::new()
        } else {
            format!(": {}", skipped.join(", "))
        };
        println!(
            "OK: all CI gates passed ({passed} passed, {} skipped{skipped_text})",
            skipped.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED: {}", failed.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

fn setup() -> Result<Outcome> {
    crate::venv::ensure()?;
    Ok(Outcome::Passed)
}

fn fmt() -> Result<Outcome> {
    sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
    Ok(Outcome::Passed)
}

fn clippy() -> Result<Outcome> {
    sh(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    Ok(Outcome::Passed)
}

fn test() -> Result<Outcome> {
    // Tests that need PostgreSQL start throwaway clusters from the machine's
    // binaries (crates/openova-flow-pg-testkit); in CI a missing PostgreSQL
    // is a failure, never a silent skip.
    sh(cargo()
        .args(["test", "--workspace", "--locked"])
        .env("OPENOVA_FLOW_REQUIRE_PG", "1"))?;
    Ok(Outcome::Passed)
}

fn doc() -> Result<Outcome> {
    sh(cargo()
        .args(["doc", "--workspace", "--no-deps", "--locked"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    Ok(Outcome::Passed)
}

/// One rustls crypto provider for the whole workspace: ring. reqwest and kube
/// would otherwise pull aws-lc-rs in beside it and the first TLS client built
/// without an explicit provider panics. Also no OpenSSL.
fn one_crypto_provider() -> Result<Outcome> {
    let lock = std::fs::read_to_string(project_root().join("Cargo.lock"))?;
    let forbidden = ["aws-lc-rs", "aws-lc-sys", "openssl-sys", "native-tls"];
    let found: Vec<&str> = forbidden
        .iter()
        .copied()
        .filter(|name| lock.contains(&format!("name = \"{name}\"\n")))
        .collect();
    if !found.is_empty() {
        bail!(
            "Cargo.lock contains {}; the workspace uses rustls with ring only. Find the path with \
             `cargo tree -i {}` and turn that dependency's default TLS features off",
            found.join(", "),
            found[0]
        );
    }
    println!("Cargo.lock: rustls crypto provider is ring only (no aws-lc-rs, no OpenSSL)");
    Ok(Outcome::Passed)
}

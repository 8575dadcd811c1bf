//! `cargo xtask dist`: static musl release builds of the service binaries
//! (packaging.md §3), checked to have no ELF interpreter, copied to
//! `target/dist/`. Crates that are not in the workspace yet are reported.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use openova_flow_packaging::binaries::{self, ServiceBinary};
use openova_flow_packaging::elf;
use serde_json::Value;

use crate::util::{cargo, on_path, project_root, run};

pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// One static binary that was built.
#[derive(Debug, Clone)]
pub struct Built {
    pub binary: ServiceBinary,
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, clap::Args)]
pub struct DistArgs {
    /// Build what exists and only report service crates that are not in the workspace yet.
    #[arg(long)]
    pub allow_missing: bool,
}

/// Workspace package names and the target directory, from `cargo metadata`.
pub fn metadata() -> Result<(Vec<String>, PathBuf)> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("could not run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let names = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let target = v["target_directory"]
        .as_str()
        .context("cargo metadata: no target_directory")?;
    Ok((names, PathBuf::from(target)))
}

fn musl_target_installed() -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|sysroot| sysroot.join("lib/rustlib").join(MUSL_TARGET).is_dir())
}

/// Builds every present service binary; `Err` when prerequisites are missing
/// or (without `allow_missing`) a service crate does not exist yet.
pub fn build(allow_missing: bool) -> Result<Vec<Built>> {
    if !on_path("musl-gcc") {
        bail!(
            "musl-gcc not found: install it with `apt-get install -y --no-install-recommends musl-tools`"
        );
    }
    if !musl_target_installed() {
        bail!(
            "the Rust target {MUSL_TARGET} is not installed: run `rustup target add {MUSL_TARGET}`"
        );
    }
    let (packages, target_dir) = metadata()?;
    let (present, missing) = binaries::partition_present(packages.iter().map(String::as_str));
    for m in &missing {
        println!(
            "dist: {} not built yet: crate {} is not in the workspace",
            m.name, m.name
        );
    }
    if !missing.is_empty() && !allow_missing {
        bail!(
            "service crate(s) missing from the workspace: {} (use --allow-missing to build the rest)",
            missing
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if present.is_empty() {
        println!("dist: no service crate exists yet; nothing to build");
        return Ok(Vec::new());
    }
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--locked", "--target", MUSL_TARGET])
        .env("CC_x86_64_unknown_linux_musl", "musl-gcc");
    for b in &present {
        cmd.args(["-p", b.name, "--bin", b.name]);
    }
    run(&mut cmd)?;
    let dist = project_root().join("target/dist");
    std::fs::create_dir_all(&dist)?;
    let mut built = Vec::new();
    for b in present {
        let src = target_dir.join(MUSL_TARGET).join("release").join(b.name);
        let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
        match elf::interpreter(&bytes) {
            Ok(None) => {}
            Ok(Some(interp)) => bail!(
                "{} is dynamically linked (interpreter {interp}); it must be static",
                src.display()
            ),
            Err(e) => bail!("{}: {e}", src.display()),
        }
        let dest = dist.join(b.name);
        copy_executable(&src, &dest)?;
        let size = bytes.len() as u64;
        println!(
            "dist: {} static, {} ({:.1} MiB)",
            dest.display(),
            size,
            size as f64 / 1048576.0
        );
        built.push(Built {
            binary: b,
            path: dest,
            size,
        });
    }
    Ok(built)
}

fn copy_executable(src: &Path, dest: &Path) -> Result<()> {
    let _ = std::fs::remove_file(dest);
    std::fs::copy(src, dest)
        .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    Ok(())
}

/// `cargo xtask dist`.
pub fn run_cmd(args: &DistArgs) -> Result<()> {
    build(args.allow_missing).map(|_| ())
}

//! The `fuzz` gate. `fuzz/` is a cargo-fuzz crate outside the workspace
//! (root `exclude = ["fuzz"]`); `cargo fuzz run decode_fold` needs nightly,
//! so CI checks on stable that it is formatted, lint-free, that the fuzz
//! target builds and links, and runs the same fuzz body over the seed corpus
//! (the contract examples) plus deterministic mutations of it.

use anyhow::Result;

use crate::ci::Outcome;
use crate::util::{cargo, project_root, run};

pub fn gate() -> Result<Outcome> {
    let manifest = project_root().join("fuzz/Cargo.toml");
    let manifest = manifest.to_string_lossy().into_owned();
    let target_dir = project_root().join("target/fuzz");
    let target_dir = target_dir.to_string_lossy().into_owned();
    run(cargo().args(["fmt", "--manifest-path", &manifest, "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--manifest-path",
        &manifest,
        "--target-dir",
        &target_dir,
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "test",
        "--manifest-path",
        &manifest,
        "--target-dir",
        &target_dir,
        "--locked",
    ]))?;
    Ok(Outcome::Passed)
}

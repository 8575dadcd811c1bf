//! The `check-bootstrap-deps` command line, shared by the crate's binary and
//! `cargo xtask check-bootstrap-deps`.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};

use crate::load::{self, Paths};
use crate::render::{self, Style};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Phase log for humans.
    Text,
    /// One JSON object on stdout.
    Json,
    /// Graphviz DOT on stdout.
    Dot,
    /// Mermaid flowchart on stdout.
    Mermaid,
}

/// Audits the bootstrap kit: slot files, kustomization.yaml, dependsOn
/// against the expected DAG, cycles, and envsubst placeholders against the
/// cloud-init template's postBuild.substitute keys.
///
/// Exit codes: 0 pass, 1 drift or kit finding, 2 dependency cycle, 3 input error.
#[derive(Debug, Parser)]
#[command(name = "check-bootstrap-deps", version, disable_version_flag = true)]
pub struct Args {
    /// Kit directory [default: bootstrap-kit]
    #[arg(long, value_name = "DIR")]
    pub kit_dir: Option<PathBuf>,
    /// Expected DAG file [default: KIT_DIR/expected-bootstrap-deps.yaml]
    #[arg(long, value_name = "FILE")]
    pub expected: Option<PathBuf>,
    /// Cloud-init template with the postBuild.substitute map
    /// [default: infra/hetzner/cloudinit-control-plane.tftpl]
    #[arg(long, value_name = "FILE")]
    pub tftpl: Option<PathBuf>,
    /// Local charts whose Chart.yaml versions the slots must match [default: charts]
    #[arg(long, value_name = "DIR")]
    pub charts_dir: Option<PathBuf>,
    /// Output format; json, dot and mermaid put only the document on stdout
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl Args {
    /// Resolves the paths: defaults under `root`, given relative paths
    /// against `cwd`.
    pub fn paths(&self, root: &Path, cwd: &Path) -> Paths {
        let given = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                cwd.join(p)
            }
        };
        let mut paths = Paths::defaults(root);
        if let Some(k) = &self.kit_dir {
            paths.kit_dir = given(k);
            paths.expected = paths.kit_dir.join("expected-bootstrap-deps.yaml");
        }
        if let Some(e) = &self.expected {
            paths.expected = given(e);
        }
        if let Some(t) = &self.tftpl {
            paths.tftpl = given(t);
        }
        if let Some(c) = &self.charts_dir {
            paths.charts_dir = given(c);
            paths.charts_dir_explicit = true;
        }
        paths
    }
}

/// Runs the audit for parsed arguments and writes the output; returns the exit code.
pub fn run(
    args: &Args,
    paths: &Paths,
    color: (bool, bool),
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<u8> {
    let report = crate::audit::audit(&load::load(paths));
    let machine = args.format != Format::Text;
    let style = Style {
        all_to_stderr: machine,
        color_stdout: color.0,
        color_stderr: color.1,
    };
    render::write_lines(&report.lines, style, stdout, stderr)?;
    if report.exit_code != 3 {
        let doc = match args.format {
            Format::Text => None,
            Format::Json => Some(render::to_json(&report)),
            Format::Dot => Some(render::to_dot(&report)),
            Format::Mermaid => Some(render::to_mermaid(&report)),
        };
        if let Some(doc) = doc {
            stdout.write_all(doc.as_bytes())?;
        }
    }
    stdout.flush()?;
    Ok(report.exit_code)
}

/// Usage errors exit 3; `--help` (printed to stdout) exits 0.
pub fn parse_error_exit_code(e: &clap::Error) -> u8 {
    if e.use_stderr() { 3 } else { 0 }
}

/// Parses `argv` (program name first) and runs; usage errors exit 3,
/// `--help` exits 0. Colour only on a terminal and without `NO_COLOR`.
pub fn main_with_args(argv: impl IntoIterator<Item = OsString>, root: &Path) -> u8 {
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            // clap renders its own usage/help text.
            let _ = e.print();
            return parse_error_exit_code(&e);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| root.to_path_buf());
    let paths = args.paths(root, &cwd);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = (
        !no_color && io::stdout().is_terminal(),
        !no_color && io::stderr().is_terminal(),
    );
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    match run(&args, &paths, color, &mut out, &mut err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "ERROR: writing output failed: {e}");
            3
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("x").chain(a.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_and_overrides() {
        let root = Path::new("/repo");
        let cwd = Path::new("/repo/sub");
        let p = parse(&[]).paths(root, cwd);
        assert_eq!(p, Paths::defaults(root));
        let p = parse(&[
            "--kit-dir",
            "k",
            "--tftpl",
            "/abs/t.tftpl",
            "--charts-dir",
            "c",
        ])
        .paths(root, cwd);
        assert_eq!(p.kit_dir, Path::new("/repo/sub/k"));
        assert_eq!(
            p.expected,
            Path::new("/repo/sub/k/expected-bootstrap-deps.yaml")
        );
        assert_eq!(p.tftpl, Path::new("/abs/t.tftpl"));
        assert!(p.charts_dir_explicit);
        let p = parse(&["--kit-dir", "k", "--expected", "e.yaml"]).paths(root, cwd);
        assert_eq!(p.expected, Path::new("/repo/sub/e.yaml"));
        assert_eq!(parse(&["--format", "mermaid"]).format, Format::Mermaid);
    }

    #[test]
    fn usage_errors_exit_3_and_help_exits_0() {
        let code = |a: &[&str]| {
            let e =
                Args::try_parse_from(std::iter::once("x").chain(a.iter().copied())).unwrap_err();
            parse_error_exit_code(&e)
        };
        assert_eq!(code(&["--bogus"]), 3);
        assert_eq!(code(&["--format", "yaml"]), 3);
        assert_eq!(code(&["--kit-dir"]), 3);
        assert_eq!(code(&["--help"]), 0);
        assert_eq!(code(&["-h"]), 0);
    }
}

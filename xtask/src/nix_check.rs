//! `cargo xtask nix-check`: offline verification of `flake.nix` and `nix/`
//! (packaging.md §2.4). nixpkgs cannot be downloaded here, so the flake is
//! evaluated with the stub inputs under `nix/stubs/`: attribute names, the
//! binaries' crane arguments, `images` depending on every image, and each
//! image's configuration. A real `nix build .#images` needs a machine that
//! reaches nixpkgs (and Nix >= 2.31.2 for crane >= 0.22).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use openova_flow_packaging::binaries::SERVICE_BINARIES;
use openova_flow_packaging::nixstub;
use serde_json::Value;

use crate::util::{cargo, on_path, project_root, run};

const NIXPKGS_FMT_VERSION: &str = "1.3.0";
const NIX_CONFIG: &str = "experimental-features = nix-command flakes\n\
                          substituters =\n\
                          build-users-group =\n\
                          sandbox = false\n\
                          warn-dirty = false\n";
const STUB_OVERRIDES: [(&str, &str); 3] = [
    ("nixpkgs", "path:./nix/stubs/nixpkgs"),
    ("crane", "path:./nix/stubs/crane"),
    ("flake-utils", "path:./nix/stubs/flake-utils"),
];
const SYSTEM: &str = "x86_64-linux";

fn nix(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(project_root())
        .env("NIX_CONFIG", NIX_CONFIG);
    cmd
}

fn with_stubs(cmd: &mut Command) -> &mut Command {
    cmd.arg("--no-write-lock-file");
    for (input, path) in STUB_OVERRIDES {
        cmd.args(["--override-input", input, path]);
    }
    cmd
}

/// Runs a command quietly and returns stdout; on failure the error carries stderr.
fn output(cmd: &mut Command) -> Result<String> {
    let shown = crate::util::display(cmd);
    let out = cmd
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let relevant: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                !l.starts_with("warning:") && !l.trim_start().starts_with('•') && !l.contains("→")
            })
            .collect();
        bail!("`{shown}` failed ({}): {}", out.status, relevant.join("\n"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn git_lines(args: &[&str]) -> Result<Vec<String>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(project_root())
        .output()?;
    if !out.status.success() {
        bail!("git {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// `target/xtask-bin/bin/nixpkgs-fmt`, installed once with `cargo install`.
pub fn ensure_nixpkgs_fmt() -> Result<PathBuf> {
    let root = project_root().join("target/xtask-bin");
    let bin = root.join("bin/nixpkgs-fmt");
    let stamp = root.join(format!(".nixpkgs-fmt-{NIXPKGS_FMT_VERSION}"));
    if bin.is_file() && stamp.is_file() {
        return Ok(bin);
    }
    run(cargo()
        .args([
            "install",
            "--locked",
            "--quiet",
            "nixpkgs-fmt",
            "--version",
            NIXPKGS_FMT_VERSION,
            "--root",
        ])
        .arg(&root))
    .context("could not install nixpkgs-fmt from crates.io")?;
    std::fs::write(&stamp, "")?;
    Ok(bin)
}

/// The `nix` gate.
pub fn run_check() -> Result<()> {
    for program in ["nix", "nix-instantiate"] {
        if !on_path(program) {
            bail!(
                "{program} not found: install Nix with `apt-get install -y --no-install-recommends nix-bin`"
            );
        }
    }
    let root = project_root();

    // Flakes see only files git knows about.
    let untracked: Vec<String> = git_lines(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--",
        "*.nix",
        "flake.lock",
    ])?
    .into_iter()
    .filter(|l| l.starts_with("??"))
    .collect();
    if !untracked.is_empty() {
        bail!(
            "untracked Nix files are invisible to the flake: {} (git add them)",
            untracked
                .iter()
                .map(|l| l.trim_start_matches("?? "))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let files: Vec<String> = git_lines(&["ls-files", "--", "*.nix"])?
        .into_iter()
        .filter(|f| root.join(f).is_file())
        .collect();
    if !files.iter().any(|f| f == "flake.nix") || !root.join("flake.lock").is_file() {
        bail!("flake.nix and flake.lock must be committed at the repository root");
    }

    // 1. Syntax and undefined variables.
    for f in &files {
        output(nix("nix-instantiate").args(["--parse", f])).map(|_| ())?;
    }
    println!("nix: {} .nix files parse", files.len());

    // 3. Formatting.
    let fmt = ensure_nixpkgs_fmt()?;
    let out = Command::new(&fmt)
        .arg("--check")
        .args(&files)
        .current_dir(&root)
        .output()?;
    if !out.status.success() {
        bail!(
            "nixpkgs-fmt --check: {} (fix with `{} {}`)",
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .replace('\n', "; "),
            fmt.display(),
            files.join(" ")
        );
    }
    println!("nix: nixpkgs-fmt {NIXPKGS_FMT_VERSION} reports no change");

    // 2. Structural evaluation with stub inputs.
    output(with_stubs(nix("nix").args([
        "flake",
        "check",
        "--no-build",
    ])))?;
    println!("nix: `nix flake check --no-build` with stub inputs passes");
    let names = |attr: &str| -> Result<Vec<String>> {
        let json = output(with_stubs(nix("nix").args([
            "eval",
            "--json",
            attr,
            "--apply",
            "builtins.attrNames",
        ])))?;
        Ok(serde_json::from_str(&json)?)
    };
    let packages = names(&format!(".#packages.{SYSTEM}"))?;
    nixstub::compare_names(
        &format!("packages.{SYSTEM}"),
        &packages,
        &nixstub::expected_packages(),
    )
    .map_err(anyhow::Error::msg)?;
    let checks = names(&format!(".#checks.{SYSTEM}"))?;
    nixstub::compare_names(
        &format!("checks.{SYSTEM}"),
        &checks,
        &nixstub::expected_checks(),
    )
    .map_err(anyhow::Error::msg)?;
    for b in SERVICE_BINARIES {
        let attr = |a: &str| -> Result<String> {
            output(with_stubs(nix("nix").args([
                "eval",
                "--raw",
                &format!(".#packages.{SYSTEM}.{}.{a}", b.name),
            ])))
        };
        let want_args = format!("--locked -p {0} --bin {0}", b.name);
        let got = [
            attr("cargoExtraArgs")?,
            attr("doCheck")?,
            attr("static")?,
            attr("hasArtifacts")?,
            attr("CARGO_BUILD_TARGET")?,
        ];
        let want = [
            want_args.as_str(),
            "false",
            "true",
            "true",
            "x86_64-unknown-linux-musl",
        ];
        if got.iter().map(String::as_str).ne(want) {
            bail!(
                "packages.{SYSTEM}.{}: crane arguments (cargoExtraArgs, doCheck, static set, shared artifacts, target) are {got:?}, expected {want:?}",
                b.name
            );
        }
    }
    println!(
        "nix: packages and checks have exactly the expected names; binaries are static crane builds sharing one dependency build"
    );

    let out_link = root.join("target/nix-check/result");
    std::fs::create_dir_all(out_link.parent().context("out link")?)?;
    output(with_stubs(
        nix("nix")
            .args(["build", ".#images", "--out-link"])
            .arg(&out_link),
    ))?;
    check_images(&out_link)?;
    println!(
        "nix: `nix build .#images` (stubs) yields one image per service with the expected configuration"
    );
    Ok(())
}

fn check_images(result: &Path) -> Result<()> {
    let mut entries: Vec<String> = std::fs::read_dir(result)
        .with_context(|| format!("reading {}", result.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    entries.sort();
    let mut want: Vec<String> = SERVICE_BINARIES
        .iter()
        .map(|b| format!("{}.tar.gz", b.name))
        .collect();
    want.sort();
    if entries != want {
        bail!("result/ of `nix build .#images` holds {entries:?}, expected {want:?}");
    }
    let mut problems = Vec::new();
    for b in SERVICE_BINARIES {
        let path = result.join(format!("{}.tar.gz", b.name));
        let image: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("{} is not the stub image JSON", path.display()))?;
        problems.extend(nixstub::check_stub_image(&b, &image));
    }
    if !problems.is_empty() {
        bail!("image configuration: {}", problems.join("; "));
    }
    Ok(())
}

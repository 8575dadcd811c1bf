//! `cargo xtask charts`: lint, render, schema-validate and assert the Helm
//! charts under `charts/` (packaging.md §1.5) through Helm's Go SDK
//! (`helm-python-sdk`) and `kubernetes-validate`, both from the tools
//! virtualenv. No `helm` binary and no cluster are needed. The assertions
//! themselves live in `openova_flow_packaging::manifests`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use openova_flow_packaging::{HELM_DRIVER, failcase, manifests};
use serde_json::{Value, json};

use crate::util::project_root;

/// The charts this repository ships.
pub const CHARTS: [&str; 3] = [
    "openova-flow-server",
    "openova-flow-emitter",
    "openova-flow-proxy",
];
const KUBE_VERSION: &str = "v1.31.0";
const NAMESPACE: &str = "catalyst-system";
/// CRD kinds kubernetes-validate has no schema for; checked structurally instead.
const NO_SCHEMA_ALLOWED: [(&str, &str); 2] = [
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("postgresql.cnpg.io/v1", "Cluster"),
];

fn image_message(chart: &str) -> String {
    format!("{chart}: image.tag or image.digest is required (pin the released image)")
}

/// One render or lint the driver performs, and what the gate expects of it.
#[derive(Debug)]
enum Case {
    Lint {
        chart: String,
        values: Option<PathBuf>,
    },
    Render {
        chart: String,
        values: Option<PathBuf>,
        extra: Option<Value>,
        label: String,
        expect: Expectation,
    },
}

#[derive(Debug)]
enum Expectation {
    /// Renders; manifests are validated and asserted (`case` picks the
    /// case-specific list; `env` are further literal env values to find).
    Renders {
        case: String,
        image_prefix: String,
        env: Vec<(String, String)>,
    },
    /// Fails with this substring.
    Fails(String),
}

fn files_in(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.is_file() && p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A file name for a case label: `ci/tag-values.yaml` -> `ci-tag-values-yaml`.
fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn yaml_file(p: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let v: Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    Ok(if v.is_null() { json!({}) } else { v })
}

fn workspace_version(root: &Path) -> Result<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let mut in_section = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_section = l == "[workspace.package]";
        } else if in_section
            && let Some(v) = l
                .strip_prefix("version")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
        {
            return Ok(v.trim().trim_matches('"').to_owned());
        }
    }
    bail!("Cargo.toml: no version in [workspace.package]")
}

/// Chart.yaml and values.schema.json conventions (packaging.md §1.1).
fn check_chart_files(root: &Path, chart: &str, version: &str) -> Result<Vec<String>> {
    let dir = root.join("charts").join(chart);
    let meta = yaml_file(&dir.join("Chart.yaml"))?;
    let mut problems = Vec::new();
    let mut expect = |ok: bool, msg: String| {
        if !ok {
            problems.push(format!("{chart}/Chart.yaml: {msg}"));
        }
    };
    expect(meta["apiVersion"] == "v2", "apiVersion must be v2".into());
    expect(
        meta["type"] == "application",
        "type must be application".into(),
    );
    expect(meta["name"] == chart, format!("name must be {chart}"));
    expect(
        meta["appVersion"] == version,
        format!(
            "appVersion {} must equal the workspace crate version {version}",
            meta["appVersion"]
        ),
    );
    let schema_path = dir.join("values.schema.json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&schema_path)
            .with_context(|| format!("reading {}", schema_path.display()))?,
    )
    .with_context(|| format!("parsing {}", schema_path.display()))?;
    if schema["$schema"] != "http://json-schema.org/draft-07/schema#"
        || schema["additionalProperties"] != false
    {
        problems.push(format!("{chart}/values.schema.json: must be draft-07 with additionalProperties: false at the top"));
    }
    let helmignore = std::fs::read_to_string(dir.join(".helmignore")).unwrap_or_default();
    if !helmignore.lines().any(|l| l.trim() == "ci/") {
        problems.push(format!("{chart}/.helmignore must exclude ci/"));
    }
    Ok(problems)
}

fn plan(root: &Path) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for chart in CHARTS {
        let dir = root.join("charts").join(chart);
        if !dir.join("Chart.yaml").is_file() {
            bail!("charts/{chart}/Chart.yaml is missing");
        }
        let chart_s = dir.to_string_lossy().into_owned();
        cases.push(Case::Lint {
            chart: chart_s.clone(),
            values: None,
        });
        cases.push(Case::Render {
            chart: chart_s.clone(),
            values: None,
            extra: None,
            label: format!("{chart} default values"),
            expect: Expectation::Fails(image_message(chart)),
        });
        let values_files = files_in(&dir.join("ci"), "-values.yaml")?;
        if values_files.is_empty() {
            bail!("charts/{chart}/ci has no *-values.yaml to render");
        }
        for f in values_files {
            let registry = yaml_file(&f)?["global"]["imageRegistry"]
                .as_str()
                .map(str::to_owned);
            cases.push(Case::Lint {
                chart: chart_s.clone(),
                values: Some(f.clone()),
            });
            cases.push(Case::Render {
                chart: chart_s.clone(),
                values: Some(f.clone()),
                extra: None,
                label: format!("{chart} ci/{}.yaml", stem(&f)),
                expect: Expectation::Renders {
                    case: stem(&f),
                    image_prefix: manifests::expected_image_prefix(registry.as_deref()),
                    env: Vec::new(),
                },
            });
        }
        for f in files_in(&dir.join("ci/fail"), ".yaml")? {
            let text = std::fs::read_to_string(&f)?;
            let want = failcase::expectation(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
                .to_owned();
            cases.push(Case::Render {
                chart: chart_s.clone(),
                values: Some(f.clone()),
                extra: None,
                label: format!("{chart} ci/fail/{}.yaml", stem(&f)),
                expect: Expectation::Fails(want),
            });
        }
        // enabled=false renders nothing and checks nothing, whatever else is set.
        cases.push(Case::Render {
            chart: chart_s.clone(),
            values: None,
            extra: Some(json!({"enabled": false, "replicas": 5})),
            label: format!("{chart} enabled=false"),
            expect: Expectation::Renders {
                case: "disabled-values".into(),
                image_prefix: String::new(),
                env: Vec::new(),
            },
        });
    }
    Ok(cases)
}

fn op_json(case: &Case) -> Value {
    match case {
        Case::Lint { chart, values } => {
            json!({"op": "lint", "chart": chart, "values_file": values})
        }
        Case::Render {
            chart,
            values,
            extra,
            label,
            ..
        } => {
            let name = Path::new(chart)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            json!({"op": "render", "chart": chart, "values_file": values, "values": extra,
                   "name": name, "namespace": NAMESPACE, "validate": true, "label": label})
        }
    }
}

/// Runs the driver once over every operation; returns its answer.
pub fn drive(ops: Vec<Value>) -> Result<Value> {
    let root = project_root();
    let work = root.join("target/charts-render");
    std::fs::create_dir_all(&work)?;
    let driver = work.join("helm_driver.py");
    std::fs::write(&driver, HELM_DRIVER)?;
    let python = crate::venv::python()?;
    let mut cmd = Command::new(python.get_program());
    cmd.arg(&driver)
        .env("CI", "true")
        .env("HOME", work.join("no-home"))
        .env("HELM_CACHE_HOME", work.join("no-home/cache"))
        .env("HELM_CONFIG_HOME", work.join("no-home/config"))
        .env("HELM_DATA_HOME", work.join("no-home/data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context("could not start the Helm driver in target/xtask-venv")?;
    let request = json!({"kube_version": KUBE_VERSION, "ops": ops}).to_string();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().context("driver stdin")?;
        stdin.write_all(request.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "the Helm driver failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).context("the Helm driver did not answer JSON")
}

/// The `charts` gate.
pub fn run() -> Result<()> {
    let root = project_root();
    let version = workspace_version(&root)?;
    let mut problems = Vec::new();
    for chart in CHARTS {
        problems.extend(check_chart_files(&root, chart, &version)?);
    }
    let mut cases = plan(&root)?;
    let kit = kit_cases(&root, &mut cases)?;
    let answer = drive(cases.iter().map(op_json).collect())?;
    println!(
        "Helm SDK {} (helm-python-sdk), kubernetes-validate schemas {KUBE_VERSION}",
        answer["helm_sdk"].as_str().unwrap_or("?")
    );
    let results = answer["results"]
        .as_array()
        .context("driver answer has no results")?;
    if results.len() != cases.len() {
        bail!(
            "the Helm driver answered {} results for {} operations",
            results.len(),
            cases.len()
        );
    }
    let out_dir = root.join("target/charts-render");
    let (mut lints, mut renders, mut failures, mut objects) = (0, 0, 0, 0);
    for (case, result) in cases.iter().zip(results) {
        match case {
            Case::Lint { chart, values } => {
                lints += 1;
                let what = format!(
                    "lint {} {}",
                    Path::new(chart)
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    values
                        .as_deref()
                        .map_or("default values".into(), |v| format!("ci/{}.yaml", stem(v)))
                );
                for level in ["errors", "warnings"] {
                    for m in result[level].as_array().into_iter().flatten() {
                        problems.push(format!(
                            "{what}: {level}: {}",
                            m.as_str().unwrap_or_default()
                        ));
                    }
                }
            }
            Case::Render {
                chart,
                label,
                expect,
                ..
            } => {
                let chart_name = Path::new(chart)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let error = result["error"].as_str();
                match expect {
                    Expectation::Fails(want) => {
                        failures += 1;
                        if let Err(e) = failcase::matches(error, want) {
                            problems.push(format!("{label}: {e}"));
                        }
                    }
                    Expectation::Renders {
                        case,
                        image_prefix,
                        env,
                    } => {
                        renders += 1;
                        if let Some(e) = error {
                            problems.push(format!("{label}: render failed: {e}"));
                            continue;
                        }
                        let rendered: BTreeMap<String, String> =
                            serde_json::from_value(result["manifests"].clone())
                                .context("manifests")?;
                        let ms = match manifests::parse_rendered(&rendered) {
                            Ok(ms) => ms,
                            Err(e) => {
                                problems.push(format!("{label}: {e}"));
                                continue;
                            }
                        };
                        objects += ms.len();
                        let text: String = ms
                            .iter()
                            .map(|m| {
                                format!(
                                    "---\n# Source: {}\n{}",
                                    m.template,
                                    serde_yaml::to_string(&m.doc).unwrap_or_default()
                                )
                            })
                            .collect();
                        let file = out_dir.join(&chart_name).join(format!(
                            "{}.yaml",
                            slug(label.trim_start_matches(&chart_name))
                        ));
                        if let Some(parent) = file.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        std::fs::write(&file, text)?;
                        for v in result["validation"].as_array().into_iter().flatten() {
                            let obj = v["object"].as_str().unwrap_or_default();
                            match v["outcome"].as_str() {
                                Some("ok") => {}
                                Some("no-schema") => {
                                    let key = (v["api_version"].as_str().unwrap_or_default(), v["kind"].as_str().unwrap_or_default());
                                    if !NO_SCHEMA_ALLOWED.contains(&key) {
                                        problems.push(format!("{label}: {obj}: {}", v["message"].as_str().unwrap_or_default()));
                                    }
                                }
                                _ => problems.push(format!(
                                    "{label}: {obj} fails kubernetes-validate {KUBE_VERSION} --strict: {}",
                                    v["message"].as_str().unwrap_or_default()
                                )),
                            }
                        }
                        for p in manifests::check_chart(&chart_name, &ms, image_prefix) {
                            problems.push(format!("{label}: {p}"));
                        }
                        for (name, value) in env {
                            let got = manifests::env(&ms, name).map(|e| e["value"].clone());
                            if got.as_ref().and_then(|v| v.as_str()) != Some(value.as_str()) {
                                problems.push(format!(
                                    "{label}: env {name} is {got:?}, expected {value:?}"
                                ));
                            }
                        }
                        match manifests::case_expectations(&chart_name, case) {
                            Some(list) => {
                                for e in list {
                                    if let Err(p) = manifests::check_expect(&ms, &e) {
                                        problems.push(format!("{label}: {p}"));
                                    }
                                }
                            }
                            None => println!(
                                "note: {label}: no case-specific assertions (common checks only)"
                            ),
                        }
                    }
                }
            }
        }
    }
    println!(
        "charts: {lints} lints, {renders} renders ({objects} objects validated and asserted), {failures} fail-fast cases{kit}"
    );
    if !problems.is_empty() {
        for p in &problems {
            println!("  - {p}");
        }
        bail!(
            "{} chart problem(s); rendered manifests are under target/charts-render/",
            problems.len()
        );
    }
    println!("charts: OK (manifests under {})", out_dir.display());
    Ok(())
}

/// The bootstrap-kit slots of our charts.
const KIT_SLOTS: [(&str, &str); 3] = [
    ("56-openova-flow-server.yaml", "openova-flow-server"),
    ("57-openova-flow-emitter.yaml", "openova-flow-emitter"),
    ("58-openova-flow-proxy.yaml", "openova-flow-proxy"),
];
const KIT_FIXTURE: &str = "infra/hetzner/tests/fixtures/three-regions.tfvars";
const IN_CLUSTER_URL: &str = "http://openova-flow-server.catalyst-system.svc.cluster.local";

/// Step 5: the values of bootstrap-kit slots 56–58, substituted as Flux does
/// with the primary's and a secondary's `postBuild.substitute` map from the
/// cloud-init `render-cloudinit` renders for the three-regions fixture.
/// Appends the render cases; returns a note for the summary line.
fn kit_cases(root: &Path, cases: &mut Vec<Case>) -> Result<String> {
    use openova_flow_cloudinit::{Input, Options, RealFiles};
    use openova_flow_packaging::kit;

    let kit_dir = root.join("bootstrap-kit");
    if KIT_SLOTS.iter().any(|(f, _)| !kit_dir.join(f).is_file())
        || !root.join(KIT_FIXTURE).is_file()
    {
        println!(
            "charts: kit values not checked: bootstrap-kit slots 56-58 or {KIT_FIXTURE} not present yet"
        );
        return Ok(", kit values not present yet".into());
    }
    let opts = Options {
        module_dir: root.join("infra/hetzner"),
        module_display: "infra/hetzner".into(),
        inputs: vec![Input::VarFile(root.join(KIT_FIXTURE))],
        env: Vec::new(),
    };
    let rendering = openova_flow_cloudinit::render(&opts, &RealFiles)
        .map_err(|e| anyhow::anyhow!("render-cloudinit {KIT_FIXTURE}: {e}"))?;
    let primary = rendering
        .regions
        .iter()
        .find(|r| r.primary)
        .context("no primary region rendered")?;
    let secondary = rendering
        .regions
        .iter()
        .find(|r| !r.primary)
        .context("no secondary region rendered")?;
    let primary_vars = kit::substitute_map(&primary.user_data)
        .map_err(|e| anyhow::anyhow!("{KIT_FIXTURE} region {}: {e}", primary.key))?;
    let fqdn = primary_vars
        .get("SOVEREIGN_FQDN")
        .cloned()
        .unwrap_or_default();
    let mut n = 0;
    for region in [primary, secondary] {
        let vars = kit::substitute_map(&region.user_data)
            .map_err(|e| anyhow::anyhow!("{KIT_FIXTURE} region {}: {e}", region.key))?;
        let role = if region.primary {
            "primary"
        } else {
            "secondary"
        };
        for (file, chart) in KIT_SLOTS {
            let text = std::fs::read_to_string(kit_dir.join(file))?;
            let release = kit::slot_release(&text, &vars)
                .map_err(|e| anyhow::anyhow!("bootstrap-kit/{file}: {e}"))?;
            if release.chart != chart {
                bail!(
                    "bootstrap-kit/{file}: chart is {}, expected {chart}",
                    release.chart
                );
            }
            let chart_version =
                yaml_file(&root.join("charts").join(chart).join("Chart.yaml"))?["version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            if release.version != chart_version {
                bail!(
                    "bootstrap-kit/{file}: chart version {} does not match charts/{chart}/Chart.yaml version {chart_version}",
                    release.version
                );
            }
            let mut env = Vec::new();
            if chart == "openova-flow-emitter" {
                let url = if region.primary {
                    IN_CLUSTER_URL.to_owned()
                } else {
                    format!("https://openova-flow.{fqdn}")
                };
                env.push(("FLOW_SERVER_URL".to_owned(), url));
                env.push(("REGION_KEY".to_owned(), region.key.clone()));
                env.push((
                    "FLOW_ID".to_owned(),
                    vars.get("SOVEREIGN_DEPLOYMENT_ID")
                        .cloned()
                        .unwrap_or_default(),
                ));
            }
            cases.push(Case::Render {
                chart: root
                    .join("charts")
                    .join(chart)
                    .to_string_lossy()
                    .into_owned(),
                values: None,
                extra: Some(release.values),
                label: format!("{chart} bootstrap-kit/{file} ({role} {})", region.key),
                expect: Expectation::Renders {
                    case: format!("kit-{role}"),
                    image_prefix: manifests::expected_image_prefix(None),
                    env,
                },
            });
            n += 1;
        }
    }
    Ok(format!(
        ", {n} kit-value renders ({} and {})",
        primary.key, secondary.key
    ))
}

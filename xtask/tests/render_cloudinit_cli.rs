//! `cargo xtask render-cloudinit` as a user runs it: output, exit codes and
//! the one-line errors (infra-xtask.md §2, acceptance behaviours 1–9).

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_yaml::Value as Yaml;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture(name: &str) -> PathBuf {
    root().join("infra/hetzner/tests/fixtures").join(name)
}

fn xtask() -> Command {
    let mut c = Command::cargo_bin("xtask").unwrap();
    c.arg("render-cloudinit");
    c
}

/// A copy of `infra/hetzner` in a temp dir, with `edit(file name, text)`
/// applied to each file.
fn module_copy(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(root().join("infra/hetzner")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(dir.path().join(&name), edit(&name, text)).unwrap();
        }
    }
    dir
}

/// The Flux substitute map of a rendered user_data, as parsed YAML values.
fn substitute(user_data: &str) -> serde_yaml::Mapping {
    let doc: Yaml = serde_yaml::from_str(user_data).unwrap();
    let files = doc["write_files"].as_sequence().unwrap();
    let content = files
        .iter()
        .find(|f| f["path"] == "/var/lib/openova/flux-bootstrap.yaml")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    for d in serde_yaml::Deserializer::from_str(&content) {
        let v = <Yaml as serde::Deserialize>::deserialize(d).unwrap();
        if v["kind"] == "Kustomization" {
            return v["spec"]["postBuild"]["substitute"]
                .as_mapping()
                .unwrap()
                .clone();
        }
    }
    panic!("no Kustomization in flux-bootstrap.yaml");
}

fn render_region(args: &[&str]) -> String {
    let out = xtask()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn all_regions_of_three_regions_are_listed() {
    xtask()
        .arg("--var-file")
        .arg(fixture("three-regions.tfvars"))
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                "^fsn1\t[0-9]+ bytes\tOK\nhel1-1\t[0-9]+ bytes\tOK\nnbg1-2\t[0-9]+ bytes\tOK\n$",
            )
            .unwrap(),
        );
}

#[test]
fn region_hel1_1_is_exactly_the_user_data_with_string_substitutes() {
    let f = fixture("three-regions.tfvars");
    let text = render_region(&["--var-file", f.to_str().unwrap(), "--region", "hel1-1"]);
    assert!(text.starts_with("#cloud-config\n"));
    assert!(!text.contains("\n# "), "comment lines are stripped");
    let s = substitute(&text);
    let get = |k: &str| s.get(k).unwrap_or_else(|| panic!("{k} missing")).clone();
    assert_eq!(get("SOVEREIGN_REGION_KEY"), Yaml::String("hel1-1".into()));
    assert_eq!(get("SOVEREIGN_IS_PRIMARY"), Yaml::String("false".into()));
    assert_eq!(
        get("SOVEREIGN_DEPLOYMENT_ID"),
        Yaml::String("0123456789012345".into())
    );
    assert_eq!(
        get("SOVEREIGN_FQDN"),
        Yaml::String("acme.example.org".into())
    );
    assert_eq!(
        get("SOVEREIGN_FLOW_SERVER_URL"),
        Yaml::String("https://openova-flow.acme.example.org".into())
    );
    for (k, v) in &s {
        assert!(v.is_string(), "{k:?} is not a string: {v:?}");
    }
    assert!(
        text.contains("      SOVEREIGN_REGION_KEY: \"hel1-1\"\n"),
        "quoted in the text itself"
    );
}

#[test]
fn an_empty_deployment_id_renders_as_an_empty_string_with_a_warning() {
    let f = fixture("single-region.tfvars");
    let out = xtask()
        .args(["--var-file", f.to_str().unwrap(), "--region", "hel1"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: sovereign_deployment_id is empty",
        ))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let s = substitute(&text);
    assert_eq!(
        s.get("SOVEREIGN_DEPLOYMENT_ID"),
        Some(&Yaml::String(String::new()))
    );
    assert_eq!(
        s.get("SOVEREIGN_IS_PRIMARY"),
        Some(&Yaml::String("true".into()))
    );
    assert!(text.contains("SOVEREIGN_DEPLOYMENT_ID: \"\"\n"));
}

#[test]
fn unknown_region_exits_2_listing_the_known_keys() {
    xtask()
        .args(["--region", "hel1-9", "--var-file"])
        .arg(fixture("three-regions.tfvars"))
        .assert()
        .code(2)
        .stdout("")
        .stderr("error: unknown region key \"hel1-9\"; known keys: fsn1, hel1-1, nbg1-2\n");
}

#[test]
fn secondary_map_without_region_key_names_the_template_line() {
    let m = module_copy(|name, text| {
        if name == "main.tf" {
            // Drop the key from the secondary call only.
            text.replacen("      sovereign_region_key    = key\n", "", 1)
        } else {
            text
        }
    });
    let tftpl = std::fs::read_to_string(m.path().join("cloudinit-control-plane.tftpl")).unwrap();
    let first_use = tftpl
        .lines()
        .position(|l| l.contains("sovereign_region_key"))
        .unwrap()
        + 1;
    xtask()
        .arg("--module")
        .arg(m.path())
        .arg("--var-file")
        .arg(fixture("three-regions.tfvars"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "vars map does not contain key \"sovereign_region_key\"",
        ))
        .stderr(predicate::str::contains(format!(
            "cloudinit-control-plane.tftpl:{first_use}:"
        )))
        .stderr(predicate::str::contains("(in templatefile() called at"))
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

#[test]
fn missing_required_variable_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("partial.tfvars");
    let full = std::fs::read_to_string(fixture("single-region.tfvars")).unwrap();
    std::fs::write(
        &f,
        full.lines()
            .filter(|l| !l.starts_with("org_email"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    xtask()
        .arg("--var-file")
        .arg(&f)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("infra/hetzner/variables.tf:"))
        .stderr(predicate::str::contains(
            "no value for required variable \"org_email\"",
        ));
}

#[test]
fn invalid_variable_value_reports_the_validation_message() {
    xtask()
        .args(["--var", "sovereign_deployment_id=XYZ", "--var-file"])
        .arg(fixture("three-regions.tfvars"))
        .assert()
        .code(0);
    // Later wins: the file above overrides --var; here --var comes last.
    xtask()
        .arg("--var-file")
        .arg(fixture("three-regions.tfvars"))
        .args(["--var", "sovereign_deployment_id=XYZ"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "invalid value for variable \"sovereign_deployment_id\": sovereign_deployment_id must be 16 lower-case hex characters",
        ));
}

#[test]
fn unescaped_placeholder_in_a_comment_fails_naming_the_line() {
    let m = module_copy(|name, text| {
        if name == "cloudinit-control-plane.tftpl" {
            text.replacen(
                "package_update: true\n",
                "# ${SOVEREIGN_FQDN:-x}\npackage_update: true\n",
                1,
            )
        } else {
            text
        }
    });
    let line = std::fs::read_to_string(m.path().join("cloudinit-control-plane.tftpl"))
        .unwrap()
        .lines()
        .position(|l| l == "# ${SOVEREIGN_FQDN:-x}")
        .unwrap()
        + 1;
    xtask()
        .arg("--module")
        .arg(m.path())
        .arg("--var-file")
        .arg(fixture("three-regions.tfvars"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "cloudinit-control-plane.tftpl:{line}:3: unescaped Flux placeholder ${{SOVEREIGN_FQDN:-x}}; write $${{SOVEREIGN_FQDN:-x}}"
        )));
}

#[test]
fn escaped_placeholder_in_a_comment_renders_and_the_comment_is_gone() {
    let m = module_copy(|name, text| {
        if name == "cloudinit-control-plane.tftpl" {
            text.replacen(
                "package_update: true\n",
                "# $${SOVEREIGN_FQDN:-x}\npackage_update: true\n",
                1,
            )
        } else {
            text
        }
    });
    let text = render_region(&[
        "--module",
        m.path().to_str().unwrap(),
        "--var-file",
        fixture("three-regions.tfvars").to_str().unwrap(),
        "--region",
        "fsn1",
    ]);
    assert!(
        !text.contains("SOVEREIGN_FQDN:-x"),
        "the comment line is stripped"
    );
    assert!(text.starts_with("#cloud-config\npackage_update: true\n"));
}

fn with_primary_value(value: &str) -> tempfile::TempDir {
    let value = value.to_string();
    module_copy(move |name, text| {
        if name == "main.tf" {
            text.replacen(
                "    sovereign_fqdn          = var.sovereign_fqdn\n",
                &format!("    sovereign_fqdn          = {value}\n"),
                1,
            )
        } else {
            text
        }
    })
}

#[test]
fn interpolating_null_or_a_list_fails_like_terraform() {
    for (value, message) in [
        ("null", "Cannot include a null value in a string template."),
        (
            "[\"a\"]",
            "Cannot include the given value in a string template: string required.",
        ),
    ] {
        let m = with_primary_value(value);
        xtask()
            .arg("--module")
            .arg(m.path())
            .arg("--var-file")
            .arg(fixture("single-region.tfvars"))
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message))
            .stderr(predicate::str::contains("cloudinit-control-plane.tftpl:"));
    }
}

#[test]
fn oversize_user_data_fails_with_the_byte_count() {
    let m = module_copy(|name, text| {
        if name == "cloudinit-control-plane.tftpl" {
            format!("{text}final_message: \"{}\"\n", "x".repeat(30_000))
        } else {
            text
        }
    });
    xtask()
        .arg("--module")
        .arg(m.path())
        .arg("--var-file")
        .arg(fixture("single-region.tfvars"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::is_match(
                "^error: hel1: rendered user_data is 3[0-9]{4} bytes; the limit is 32256\n$",
            )
            .unwrap(),
        );
}

#[test]
fn unknown_values_are_placeholders_unless_set_by_address() {
    let f = fixture("three-regions.tfvars");
    let placeholder = render_region(&["--var-file", f.to_str().unwrap(), "--region", "fsn1"]);
    assert_eq!(
        substitute(&placeholder).get("SOVEREIGN_LB_IP"),
        Some(&Yaml::String("<hcloud_load_balancer.main.ipv4>".into()))
    );
    let set = render_region(&[
        "--var-file",
        f.to_str().unwrap(),
        "--region",
        "fsn1",
        "--var",
        "hcloud_load_balancer.main.ipv4=203.0.113.10",
        "--var",
        "hcloud_load_balancer.secondary[\"hel1-1\"].ipv4=203.0.113.11",
    ]);
    assert_eq!(
        substitute(&set).get("SOVEREIGN_LB_IP"),
        Some(&Yaml::String("203.0.113.10".into()))
    );
    let secondary = render_region(&[
        "--var-file",
        f.to_str().unwrap(),
        "--region",
        "hel1-1",
        "--var",
        "hcloud_load_balancer.secondary[\"hel1-1\"].ipv4=203.0.113.11",
    ]);
    assert_eq!(
        substitute(&secondary).get("SOVEREIGN_LB_IP"),
        Some(&Yaml::String("203.0.113.11".into()))
    );
}

#[test]
fn out_and_emit_vars_write_private_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    xtask()
        .arg("--var-file")
        .arg(fixture("same-region-secondaries.tfvars"))
        .arg("--out")
        .arg(dir.path())
        .arg("--emit-vars")
        .assert()
        .success()
        .stdout("");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "fsn1-1.vars.json",
            "fsn1-1.yaml",
            "fsn1-2.vars.json",
            "fsn1-2.yaml",
            "nbg1.vars.json",
            "nbg1.yaml"
        ]
    );
    for n in &names {
        let mode = std::fs::metadata(dir.path().join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{n}");
    }
    let vars: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fsn1-2.vars.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(vars["sovereign_region_key"], "fsn1-2");
    assert_eq!(vars["is_primary"], false);
    assert_eq!(vars["worker_count"], 3);
    assert_eq!(
        vars["load_balancer_ipv4"],
        "<hcloud_load_balancer.secondary[\"fsn1-2\"].ipv4>"
    );
}

#[test]
fn emit_vars_needs_out_and_vars_need_key_value() {
    xtask().arg("--emit-vars").assert().code(2);
    xtask()
        .args(["--var", "novalue"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected KEY=VALUE"));
}

#[test]
fn undeclared_var_and_missing_file_fail() {
    xtask()
        .arg("--var-file")
        .arg(fixture("three-regions.tfvars"))
        .args(["--var", "not_a_variable=1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no variable \"not_a_variable\" is declared",
        ));
    xtask()
        .args(["--var-file", "/nonexistent/x.tfvars"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: /nonexistent/x.tfvars: ",
        ));
}

#[test]
fn regions_zero_must_be_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("wrong-primary.tfvars");
    let text = std::fs::read_to_string(fixture("three-regions.tfvars"))
        .unwrap()
        .replacen(
            "region                  = \"fsn1\"",
            "region                  = \"nbg1\"",
            1,
        );
    std::fs::write(&f, text).unwrap();
    xtask()
        .arg("--var-file")
        .arg(&f)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("regions[0] must be the primary"));
}

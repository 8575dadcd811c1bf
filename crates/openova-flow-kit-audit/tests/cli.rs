//! End-to-end tests of `check-bootstrap-deps` (assert_cmd): the shipped kit,
//! copies of it with one fault each, and the small fixture kits under
//! `tests/fixtures/kits/`.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    crate_dir().join("../..")
}

fn fixture_tftpl() -> PathBuf {
    crate_dir().join("tests/fixtures/cloudinit-control-plane.tftpl")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A scratch repository: `bootstrap-kit/` (a copy of some kit),
/// `cloudinit.tftpl` (the fixture template) and an empty `charts/`.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn with_kit(kit: &Path) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(kit, &dir.path().join("bootstrap-kit"));
        fs::copy(fixture_tftpl(), dir.path().join("cloudinit.tftpl")).unwrap();
        fs::create_dir_all(dir.path().join("charts")).unwrap();
        Scratch { dir }
    }

    fn shipped() -> Scratch {
        Scratch::with_kit(&repo_root().join("bootstrap-kit"))
    }

    fn fixture(name: &str) -> Scratch {
        Scratch::with_kit(&crate_dir().join("tests/fixtures/kits").join(name))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// Replaces `from` (which must occur) by `to` in a file.
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// The binary in this scratch repository, without arguments.
    fn bare(&self) -> Command {
        let mut c = Command::cargo_bin("check-bootstrap-deps").unwrap();
        c.current_dir(self.dir.path()).env_remove("NO_COLOR");
        c
    }

    /// The binary on this scratch repository's kit, template and charts.
    fn cmd(&self) -> Command {
        let mut c = self.bare();
        c.args([
            "--kit-dir",
            "bootstrap-kit",
            "--tftpl",
            "cloudinit.tftpl",
            "--charts-dir",
            "charts",
        ]);
        c
    }
}

const KIT: &str = "bootstrap-kit";
const S57: &str = "bootstrap-kit/57-openova-flow-emitter.yaml";
const S56: &str = "bootstrap-kit/56-openova-flow-server.yaml";
const S01: &str = "bootstrap-kit/01-cilium.yaml";
const EXPECTED: &str = "bootstrap-kit/expected-bootstrap-deps.yaml";
const KUST: &str = "bootstrap-kit/kustomization.yaml";

#[test]
fn shipped_kit_passes() {
    Scratch::shipped()
        .cmd()
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "== Phase 1: parse expected DAG ==",
        ))
        .stdout(predicate::str::contains(
            "Loaded 7 expected HRs from bootstrap-kit/expected-bootstrap-deps.yaml",
        ))
        .stdout(predicate::str::contains(
            "Parsed 7 HelmRelease(s) across 7 file(s)",
        ))
        .stdout(predicate::str::contains(
            "OK: no cycles (7 HRs topologically ordered)",
        ))
        .stdout(predicate::str::contains(
            "OK: 4 placeholder name(s) without default, all provided by cloudinit.tftpl",
        ))
        .stdout(predicate::str::contains(
            "  [P] slot 57  bp-openova-flow-emitter    <-- bp-flux\n",
        ))
        .stdout(predicate::str::ends_with(
            "OK: bootstrap-kit dependency graph audit PASSED\n",
        ))
        .stderr("");
}

#[test]
fn repository_defaults_pass() {
    // The committed kit, infra/hetzner/cloudinit-control-plane.tftpl and charts/.
    let mut c = Command::cargo_bin("check-bootstrap-deps").unwrap();
    c.current_dir(repo_root())
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "all provided by infra/hetzner/cloudinit-control-plane.tftpl",
        ))
        .stdout(predicate::str::ends_with(
            "OK: bootstrap-kit dependency graph audit PASSED\n",
        ));
}

#[test]
fn shipped_kit_matches_the_repository_charts() {
    // The real charts dir: slot 56-58 versions equal charts/<chart>/Chart.yaml.
    let s = Scratch::shipped();
    let mut copied = 0;
    for e in fs::read_dir(repo_root().join("charts")).unwrap() {
        let chart = e.unwrap().path().join("Chart.yaml");
        if chart.is_file() {
            let name = chart
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            s.write(
                &format!("charts/{name}/Chart.yaml"),
                &fs::read_to_string(&chart).unwrap(),
            );
            copied += 1;
        }
    }
    assert!(copied >= 3, "expected the three flow charts under charts/");
    s.cmd().assert().code(0);
}

#[test]
fn shipped_slot_57_carries_the_flow_values() {
    let text = fs::read_to_string(repo_root().join(S57)).unwrap();
    for want in [
        "flowId: \"${SOVEREIGN_DEPLOYMENT_ID}\"",
        "regionKey: \"${SOVEREIGN_REGION_KEY}\"",
        "flowServerUrl: \"${SOVEREIGN_FLOW_SERVER_URL:=http://openova-flow-server.catalyst-system.svc.cluster.local}\"",
        "namespaceFilter: flux-system",
    ] {
        assert!(text.contains(want), "slot 57 lacks {want}");
    }
}

#[test]
fn extra_edge_on_disk_is_drift() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    - name: bp-flux\n",
        "    - name: bp-flux\n    - name: bp-cnpg\n",
    );
    s.cmd()
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "ERROR: HR 'bp-openova-flow-emitter' (file bootstrap-kit/57-openova-flow-emitter.yaml): dependsOn drift",
        ))
        .stderr(predicate::str::contains("extra edges (in HR, NOT declared expected): bp-cnpg"))
        .stderr(predicate::str::contains(
            "ERROR: 1 drift(s) detected between bootstrap-kit and bootstrap-kit/expected-bootstrap-deps.yaml",
        ))
        .stderr(predicate::str::ends_with("ERROR: bootstrap-kit dependency graph audit FAILED (exit 1)\n"));
}

#[test]
fn missing_edge_on_disk_is_drift() {
    let s = Scratch::shipped();
    s.edit(S56, "    - name: bp-cilium\n", "");
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "missing edges (declared expected, NOT in HR): bp-cilium",
    ));
}

#[test]
fn undeclared_helmrelease() {
    let s = Scratch::shipped();
    let extra = fs::read_to_string(repo_root().join(S57))
        .unwrap()
        .replace("bp-openova-flow-emitter", "bp-extra")
        .replace("\"57\"", "\"59\"");
    s.write("bootstrap-kit/59-extra.yaml", &extra);
    s.edit(
        KUST,
        "  - 58-openova-flow-proxy.yaml\n",
        "  - 58-openova-flow-proxy.yaml\n  - 59-extra.yaml\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: HR 'bp-extra' (file bootstrap-kit/59-extra.yaml) is present on disk but NOT declared in bootstrap-kit/expected-bootstrap-deps.yaml. Add it to the expected DAG.",
    ));
}

#[test]
fn slot_file_missing_from_kustomization() {
    let s = Scratch::shipped();
    s.edit(KUST, "  - 58-openova-flow-proxy.yaml\n", "");
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: file bootstrap-kit/58-openova-flow-proxy.yaml contains HelmRelease 'bp-openova-flow-proxy' but is not listed in bootstrap-kit/kustomization.yaml resources",
    ));
}

#[test]
fn kustomization_lists_a_missing_file_or_the_expected_file() {
    let s = Scratch::shipped();
    s.edit(
        KUST,
        "  - 01-cilium.yaml\n",
        "  - 01-cilium.yaml\n  - 99-gone.yaml\n  - expected-bootstrap-deps.yaml\n",
    );
    s.cmd()
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "ERROR: bootstrap-kit/kustomization.yaml lists '99-gone.yaml' but no such file exists",
        ))
        .stderr(predicate::str::contains(
            "ERROR: bootstrap-kit/kustomization.yaml must not list bootstrap-kit/expected-bootstrap-deps.yaml",
        ));
}

#[test]
fn unknown_dependency() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    - name: bp-flux\n",
        "    - name: bp-flux\n    - name: bp-nope\n",
    );
    s.edit(
        EXPECTED,
        "depends_on: [bp-flux]     # watches",
        "depends_on: [bp-flux, bp-nope]     # watches",
    );
    s.cmd()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ERROR: HR 'bp-openova-flow-emitter' depends on unknown HR 'bp-nope'\n"))
        .stderr(predicate::str::contains(
            "ERROR: HR 'bp-openova-flow-emitter' depends on unknown HR 'bp-nope' (not declared in bootstrap-kit/expected-bootstrap-deps.yaml)",
        ));
}

#[test]
fn deferred_slots_warn_and_dependencies_on_them_fail() {
    let s = Scratch::fixture("deferred");
    s.cmd()
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "WARN: HR 'bp-later' (slot 40, wave W2.K2) declared expected but not yet on disk — will be added by W2.K2",
        ))
        .stdout(predicate::str::contains("(1 deferred)"))
        .stdout(predicate::str::contains("  wave W2.K2:\n  [.] slot 40  bp-later"))
        .stdout(predicate::str::contains("Deferred:          1"));
    s.edit(
        "bootstrap-kit/02-b.yaml",
        "    - name: bp-a\n",
        "    - name: bp-a\n    - name: bp-later\n",
    );
    s.edit(
        EXPECTED,
        "depends_on: [bp-a]",
        "depends_on: [bp-a, bp-later]",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: HR 'bp-b' depends on 'bp-later', which is declared but not on disk (deferred to W2.K2)",
    ));
}

#[test]
fn declared_present_but_missing_file_is_drift() {
    let s = Scratch::shipped();
    fs::remove_file(s.path(S57)).unwrap();
    s.edit(KUST, "  - 57-openova-flow-emitter.yaml\n", "");
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: HR 'bp-openova-flow-emitter' (slot 57) is declared wave present in bootstrap-kit/expected-bootstrap-deps.yaml but no slot file holds it",
    ));
}

#[test]
fn two_node_cycle() {
    Scratch::fixture("cycle-2")
        .cmd()
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "ERROR: dependency cycle in the expected graph: bp-a -> bp-b -> bp-a",
        ))
        .stderr(predicate::str::contains(
            "ERROR: dependency cycle in the on-disk graph: bp-a -> bp-b -> bp-a",
        ))
        .stdout(predicate::str::contains("Cycles:            2"))
        .stderr(predicate::str::contains("FAILED (exit 2)"));
}

#[test]
fn three_node_cycle() {
    Scratch::fixture("cycle-3")
        .cmd()
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "ERROR: dependency cycle in the expected graph: bp-x -> bp-y -> bp-z -> bp-x",
        ));
}

#[test]
fn acceptance_cycle_through_the_flow_slots() {
    let s = Scratch::shipped();
    s.edit(
        S01,
        "  targetNamespace: kube-system\n",
        "  targetNamespace: kube-system\n  dependsOn:\n    - name: bp-openova-flow-proxy\n",
    );
    s.edit(
        EXPECTED,
        "depends_on: []            # the CNI",
        "depends_on: [bp-openova-flow-proxy]  # the CNI",
    );
    s.cmd()
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "expected graph: bp-cilium -> bp-openova-flow-proxy -> bp-openova-flow-server -> bp-cilium",
        ))
        .stderr(predicate::str::contains(
            "on-disk graph: bp-cilium -> bp-openova-flow-proxy -> bp-openova-flow-server -> bp-cilium",
        ));
}

#[test]
fn cycle_only_on_disk_still_exits_2() {
    let s = Scratch::shipped();
    s.edit(
        S01,
        "  targetNamespace: kube-system\n",
        "  targetNamespace: kube-system\n  dependsOn:\n    - name: bp-cert-manager\n",
    );
    s.cmd()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dependsOn drift"))
        .stderr(predicate::str::contains(
            "ERROR: dependency cycle in the on-disk graph: bp-cert-manager -> bp-cilium -> bp-cert-manager",
        ))
        .stderr(predicate::str::contains("expected graph").not());
}

#[test]
fn duplicate_helmrelease_names() {
    let s = Scratch::shipped();
    let dup = s.read(S57).replace("\"57\"", "\"59\"");
    s.write("bootstrap-kit/59-openova-flow-emitter.yaml", &dup);
    s.cmd()
        .assert()
        .code(3)
        .stdout(predicate::str::contains("Phase 2.5").not())
        .stderr(predicate::str::contains(
            "ERROR: duplicate HelmRelease name 'bp-openova-flow-emitter' in bootstrap-kit/57-openova-flow-emitter.yaml and bootstrap-kit/59-openova-flow-emitter.yaml",
        ));
    let s = Scratch::shipped();
    s.edit(EXPECTED, "    name: bp-flux\n", "    name: bp-cilium\n");
    s.cmd().assert().code(3).stderr(predicate::str::contains(
        "duplicate HelmRelease name 'bp-cilium' in slots[0] and slots[2]",
    ));
}

#[test]
fn empty_expected_file() {
    let s = Scratch::shipped();
    s.write(EXPECTED, "# nothing yet\nslots: []\n");
    s.cmd()
        .assert()
        .code(3)
        .stdout(predicate::str::contains("Phase 2").not())
        .stderr(predicate::str::contains(
            "ERROR: bootstrap-kit/expected-bootstrap-deps.yaml:2: `slots` is empty; declare at least one slot",
        ));
    s.write(EXPECTED, "");
    s.cmd()
        .assert()
        .code(3)
        .stderr(predicate::str::contains("is empty"));
}

#[test]
fn malformed_yaml_names_file_and_line() {
    Scratch::fixture("malformed-yaml")
        .cmd()
        .assert()
        .code(3)
        // Line 16 opens `[1.0.0`; libyaml notices the missing `]` on line 17.
        .stderr(predicate::str::contains(
            "ERROR: bootstrap-kit/02-b.yaml:17: did not find expected ',' or ']'",
        ));
}

#[test]
fn unknown_wave() {
    let s = Scratch::shipped();
    s.edit(EXPECTED, "wave: present", "wave: W9");
    s.cmd().assert().code(3).stderr(predicate::str::contains(
        "unknown wave \"W9\"; use one of present, W2.K1, W2.K2, W2.K3, W2.K4",
    ));
}

#[test]
fn helmrelease_without_namespace_and_kit_without_helmreleases() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "  name: bp-openova-flow-emitter\n  namespace: flux-system\n  labels:",
        "  name: bp-openova-flow-emitter\n  labels:",
    );
    s.cmd().assert().code(3).stderr(predicate::str::contains(
        "57-openova-flow-emitter.yaml:24: HelmRelease 'bp-openova-flow-emitter' without metadata.namespace",
    ));
    let s = Scratch::fixture("minimal");
    for f in ["01-a.yaml", "02-b.yaml", "02a-c.yaml"] {
        fs::remove_file(s.path(&format!("{KIT}/{f}"))).unwrap();
    }
    s.cmd()
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no HelmRelease in any slot file"));
}

#[test]
fn renamed_slot_file_is_a_slot_mismatch() {
    let s = Scratch::shipped();
    fs::rename(
        s.path(S57),
        s.path("bootstrap-kit/59-openova-flow-emitter.yaml"),
    )
    .unwrap();
    s.cmd()
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "ERROR: HR 'bp-openova-flow-emitter' (file bootstrap-kit/59-openova-flow-emitter.yaml): slot label \"57\" does not match file prefix \"59\"",
        ))
        .stderr(predicate::str::contains(
            "expected slot \"57\" in bootstrap-kit/expected-bootstrap-deps.yaml does not match file prefix \"59\"",
        ))
        .stderr(predicate::str::contains("lists '57-openova-flow-emitter.yaml' but no such file exists"));
}

#[test]
fn file_stem_must_match_the_name() {
    let s = Scratch::shipped();
    fs::rename(s.path(S57), s.path("bootstrap-kit/57-emitter.yaml")).unwrap();
    s.edit(KUST, "57-openova-flow-emitter.yaml", "57-emitter.yaml");
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "file name should be 57-openova-flow-emitter.yaml",
    ));
}

#[test]
fn cross_kind_dependency() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    - name: bp-flux\n",
        "    - name: bp-flux\n    - kind: Kustomization\n      name: x\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: HR 'bp-openova-flow-emitter' (file bootstrap-kit/57-openova-flow-emitter.yaml): dependsOn entry 'x' has kind Kustomization; a HelmRelease can only wait for HelmReleases",
    ));
}

#[test]
fn dependency_namespace_must_resolve() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    - name: bp-flux\n",
        "    - name: bp-flux\n      namespace: catalyst-system\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "dependsOn 'catalyst-system/bp-flux' does not resolve: 'bp-flux' is in namespace 'flux-system'",
    ));
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    - name: bp-flux\n",
        "    - name: bp-flux\n      namespace: flux-system\n",
    );
    s.cmd().assert().code(0);
}

#[test]
fn placeholder_without_substitute_key() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    namespaceFilter: flux-system\n",
        "    namespaceFilter: flux-system\n    extra: ${NEW_KEY}\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: placeholder ${NEW_KEY} (bootstrap-kit/57-openova-flow-emitter.yaml:59) has no default and is not a key of postBuild.substitute in cloudinit.tftpl",
    ));
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    namespaceFilter: flux-system\n",
        "    namespaceFilter: flux-system\n    extra: ${NEW_KEY:=x}\n",
    );
    s.cmd().assert().code(0);
}

#[test]
fn unsupported_placeholder_and_escapes() {
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    namespaceFilter: flux-system\n",
        "    namespaceFilter: flux-system\n    extra: ${NEW_KEY=x}\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: unsupported envsubst form ${NEW_KEY=x} (bootstrap-kit/57-openova-flow-emitter.yaml:59)",
    ));
    let s = Scratch::shipped();
    s.edit(
        S57,
        "    namespaceFilter: flux-system\n",
        "    namespaceFilter: flux-system\n    # ${IN_A_COMMENT}\n    script: echo $${LITERAL}\n",
    );
    s.cmd().assert().code(0);
}

#[test]
fn substitution_disabled_documents_are_skipped() {
    let s = Scratch::shipped();
    s.write(
        "bootstrap-kit/16-cnpg.yaml",
        &(s.read("bootstrap-kit/16-cnpg.yaml")
            + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  namespace: cnpg-system\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  script: echo ${NOT_SUBSTITUTED}\n"),
    );
    s.cmd().assert().code(0);
}

#[test]
fn missing_template_names_the_file() {
    let s = Scratch::shipped();
    fs::remove_file(s.path("cloudinit.tftpl")).unwrap();
    s.cmd().assert().code(3).stderr(predicate::str::contains(
        "ERROR: cloudinit.tftpl: cloud-init template not found; pass --tftpl FILE",
    ));
}

#[test]
fn directive_inside_the_substitute_block() {
    let s = Scratch::shipped();
    s.edit(
        "cloudinit.tftpl",
        "            SOVEREIGN_REGION_KEY:",
        "%{ if is_primary ~}\n            SOVEREIGN_REGION_KEY:",
    );
    s.cmd().assert().code(3).stderr(predicate::str::contains(
        "ERROR: cloudinit.tftpl:40: template directive inside postBuild.substitute",
    ));
}

#[test]
fn chart_version_must_match_local_chart() {
    let s = Scratch::shipped();
    s.write(
        "charts/openova-flow-proxy/Chart.yaml",
        "apiVersion: v2\nname: openova-flow-proxy\nversion: 0.2.0\n",
    );
    s.cmd().assert().code(1).stderr(predicate::str::contains(
        "ERROR: HR 'bp-openova-flow-proxy' (file bootstrap-kit/58-openova-flow-proxy.yaml): chart openova-flow-proxy version 0.1.0 does not match charts/openova-flow-proxy/Chart.yaml version 0.2.0",
    ));
}

#[test]
fn minimal_fixture_kit_passes_with_warnings() {
    Scratch::fixture("minimal")
        .cmd()
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "WARN: substitute key SOVEREIGN_FQDN in cloudinit.tftpl is not used by any slot",
        ))
        .stdout(predicate::str::contains(
            "  [P] slot 02a  bp-c                       <-- bp-a bp-b",
        ));
}

fn json_of(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn json_output() {
    let out = Scratch::shipped()
        .cmd()
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let j = json_of(&out.stdout);
    assert_eq!(j["result"], "passed");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["counts"]["present"], 7);
    assert_eq!(j["nodes"].as_array().unwrap().len(), 7);
    assert_eq!(j["topological_order"][0], "bp-cilium");
    let server = j["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "bp-openova-flow-server")
        .unwrap();
    assert_eq!(server["slot"], "56");
    assert_eq!(server["target_namespace"], "catalyst-system");
    assert_eq!(
        server["depends_on"],
        serde_json::json!(["bp-cert-manager", "bp-cilium", "bp-cnpg"])
    );
    // Banners go to stderr in machine formats.
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("== Phase 1")
    );

    let s = Scratch::fixture("cycle-2");
    let out = s.cmd().args(["--format", "json"]).output().unwrap();
    let j = json_of(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(j["exit_code"], 2);
    assert_eq!(j["result"], "failed");
    let errors: Vec<&serde_json::Value> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "error")
        .collect();
    let codes: Vec<&str> = errors.iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["cycle", "cycle"]);
    assert_eq!(errors[0]["hr"], "bp-a");
    assert_eq!(
        errors[0]["file"],
        "bootstrap-kit/expected-bootstrap-deps.yaml"
    );

    let s = Scratch::shipped();
    s.write(EXPECTED, "slots: []\n");
    s.cmd()
        .args(["--format", "json"])
        .assert()
        .code(3)
        .stdout("");
}

#[test]
fn dot_output_parses_with_one_edge_per_depends_on_entry() {
    let out = Scratch::shipped()
        .cmd()
        .args(["--format", "dot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let graph = graphviz_rust::parse(&text).unwrap();
    let graphviz_rust::dot_structures::Graph::DiGraph { stmts, .. } = graph else {
        panic!("not a digraph");
    };
    let edges = stmts
        .iter()
        .filter(|s| matches!(s, graphviz_rust::dot_structures::Stmt::Edge(_)))
        .count();
    // 0 + 1 + 1 + 1 + 3 + 1 + 1 dependsOn entries in the shipped kit.
    assert_eq!(edges, 8);
    let nodes = stmts
        .iter()
        .filter(|s| matches!(s, graphviz_rust::dot_structures::Stmt::Node(_)))
        .count();
    assert_eq!(nodes, 7);
    assert!(text.contains(r#""bp-openova-flow-emitter" -> "bp-flux";"#));
}

#[test]
fn mermaid_output() {
    let s = Scratch::fixture("deferred");
    let out = s.cmd().args(["--format", "mermaid"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    assert!(text.contains("  bp_later[\"40 bp-later\"]\n"));
    assert!(text.contains("  bp_later --> bp_a\n"));
    assert!(text.contains("  class bp_later deferred\n"));
}

#[test]
fn usage() {
    let mut c = Command::cargo_bin("check-bootstrap-deps").unwrap();
    c.arg("--help")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("--kit-dir"))
        .stdout(predicate::str::contains("--format"));
    let mut c = Command::cargo_bin("check-bootstrap-deps").unwrap();
    c.arg("--bogus").assert().code(3).stdout("");
    let s = Scratch::shipped();
    s.bare()
        .args(["--kit-dir", "nope", "--tftpl", "cloudinit.tftpl"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("ERROR: nope/expected-bootstrap-deps.yaml: expected DAG file not found; pass --expected FILE"));
}

#[test]
fn generated_hundred_slot_kit_passes() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("bootstrap-kit");
    fs::create_dir_all(&kit).unwrap();
    let mut kust = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    let mut expected = String::from("slots:\n");
    for i in 0..100u32 {
        let name = format!("bp-s{i:03}");
        let file = format!(
            "{:02}{}-s{i:03}.yaml",
            i / 4,
            ['a', 'b', 'c', 'd'][(i % 4) as usize]
        );
        // Each slot depends on up to three earlier ones.
        let deps: Vec<String> = (1..=3)
            .filter(|d| i >= *d * 7)
            .map(|d| format!("bp-s{:03}", i - d * 7))
            .collect();
        let mut hr = format!(
            "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: flux-system\n  labels:\n    catalyst.openova.io/slot: \"{}\"\nspec:\n  interval: 15m\n",
            &file[..3]
        );
        if !deps.is_empty() {
            hr.push_str("  dependsOn:\n");
            for d in &deps {
                hr.push_str(&format!("    - name: {d}\n"));
            }
        }
        hr.push_str(&format!("  values:\n    host: x.${{SOVEREIGN_FQDN}}\n    primary: ${{SOVEREIGN_IS_PRIMARY}}\n    id: \"${{SOVEREIGN_DEPLOYMENT_ID}}\"\n    region: ${{SOVEREIGN_REGION_KEY}}\n    lb: ${{SOVEREIGN_LB_IP}}\n    url: ${{SOVEREIGN_FLOW_SERVER_URL:=http://s{i}}}\n"));
        fs::write(kit.join(&file), hr).unwrap();
        kust.push_str(&format!("  - {file}\n"));
        expected.push_str(&format!(
            "  - slot: \"{}\"\n    name: {name}\n    depends_on: [{}]\n    wave: present\n",
            &file[..3],
            deps.join(", ")
        ));
    }
    fs::write(kit.join("kustomization.yaml"), kust).unwrap();
    fs::write(kit.join("expected-bootstrap-deps.yaml"), expected).unwrap();
    fs::copy(fixture_tftpl(), dir.path().join("cloudinit.tftpl")).unwrap();
    let mut c = Command::cargo_bin("check-bootstrap-deps").unwrap();
    c.current_dir(dir.path())
        .args(["--kit-dir", "bootstrap-kit", "--tftpl", "cloudinit.tftpl"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "Parsed 100 HelmRelease(s) across 100 file(s)",
        ))
        .stdout(predicate::str::contains(
            "OK: no cycles (100 HRs topologically ordered)",
        ))
        .stdout(predicate::str::contains("WARN").not());
}

//! Runs the page's JavaScript tests with Node (`node --test`, no npm
//! packages) and checks the client fold against the contract crate's fold.
//!
//! Node is provisioned by CI (`cargo xtask ci` gate `ui-js` sets
//! `OPENOVA_FLOW_REQUIRE_NODE=1`, so a missing Node fails there); a plain
//! `cargo test` without Node prints a SKIP notice.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use openova_flow_contract::message::{
    Condition, FlowInstance, FlowMessage, FlowNode, RelPair, Relationship, RelationshipType,
};
use openova_flow_contract::{FlowLimits, FlowState};
use serde_json::Value;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `node`, or `None` (after a SKIP notice) when it is absent and not required.
fn node() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("node"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("OPENOVA_FLOW_REQUIRE_NODE").as_deref() != Ok("1"),
            "node is not on PATH but OPENOVA_FLOW_REQUIRE_NODE=1: install Node >= 20 (apt-get install nodejs)"
        );
        eprintln!("SKIP: node is not on PATH; the page's JavaScript tests did not run");
    }
    found
}

#[test]
fn javascript_unit_tests_pass() {
    let Some(node) = node() else { return };
    let dir = crate_dir().join("tests/js");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the JS test files in {dir:?}");
    let out = Command::new(node)
        .arg("--test")
        .args(&files)
        .current_dir(crate_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node --test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pass_line = stdout
        .lines()
        .find(|l| l.starts_with("# pass "))
        .unwrap_or("# pass 0");
    let passed: usize = pass_line[7..].trim().parse().unwrap();
    assert!(passed >= 30, "only {passed} JS tests passed:\n{stdout}");
    println!("node --test: {passed} JavaScript tests passed");
}

/// A small deterministic PRNG (tests must be reproducible).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const IDS: &[&str] = &["a", "b", "c", "fsn1:bp-x", "é", "Z", "a b"];
const FLOW_IDS: &[&str] = &["", "", "f1", "other"];
const STATUSES: &[&str] = &["pending", "running", "succeeded", "failed", "weird", ""];

fn node_of(r: &mut Lcg) -> FlowNode {
    let mut meta = openova_flow_contract::Meta::new();
    if r.below(3) == 0 {
        meta.insert("reason".into(), Value::from(*r.pick(&["X", "Y"])));
        meta.insert("n".into(), Value::from(r.below(1000)));
    }
    FlowNode {
        id: r.pick(IDS).to_string(),
        flow_id: r.pick(FLOW_IDS).to_string(),
        label: r.pick(&["L", "<b>&", ""]).to_string(),
        status: r.pick(STATUSES).to_string(),
        family: (r.below(2) == 0).then(|| "fam".to_owned()),
        region: (r.below(2) == 0).then(|| r.pick(&["fsn1", "hel1"]).to_string()),
        started_at: (r.below(2) == 0).then(|| r.below(10_000) as i64),
        ended_at: (r.below(3) == 0).then_some(0),
        meta,
    }
}

fn rel_of(r: &mut Lcg) -> Relationship {
    let mut rel = Relationship::new(*r.pick(IDS), *r.pick(IDS), *r.pick(&RelationshipType::ALL));
    rel.condition = match r.below(4) {
        0 => Some(Condition::OnSuccess),
        1 => Some(Condition::Always),
        _ => None,
    };
    rel.lag = if r.below(3) == 0 { 30 } else { 0 };
    rel.to_flow_id = (r.below(4) == 0).then(|| "sister".to_owned());
    rel
}

fn flow_of(r: &mut Lcg) -> FlowInstance {
    FlowInstance {
        id: "f1".into(),
        status: r.pick(STATUSES).to_string(),
        started_at: r.below(100) as i64,
        ..FlowInstance::default()
    }
}

fn many<T>(r: &mut Lcg, f: fn(&mut Lcg) -> T) -> Vec<T> {
    let n = r.below(3) + 1;
    (0..n).map(|_| f(r)).collect()
}

fn message_of(r: &mut Lcg) -> FlowMessage {
    match r.below(10) {
        0 => FlowMessage::Snapshot {
            flow: flow_of(r),
            nodes: many(r, node_of),
            relationships: many(r, rel_of),
        },
        1 => FlowMessage::UpsertFlow { flow: flow_of(r) },
        2..=4 => FlowMessage::UpsertNodes {
            nodes: many(r, node_of),
        },
        5..=6 => FlowMessage::UpsertRels {
            relationships: many(r, rel_of),
        },
        7..=8 => FlowMessage::DeleteNodes {
            ids: (0..=r.below(2)).map(|_| r.pick(IDS).to_string()).collect(),
        },
        _ => FlowMessage::DeleteRels {
            pairs: (0..=r.below(2))
                .map(|_| RelPair {
                    from_id: r.pick(IDS).to_string(),
                    to_id: r.pick(IDS).to_string(),
                    rel_type: *r.pick(&RelationshipType::ALL),
                })
                .collect(),
        },
    }
}

#[test]
fn client_fold_matches_the_contract_fold() {
    let Some(node) = node() else { return };
    let mut r = Lcg(0x5eed);
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..400 {
        let flow_id = "f1";
        let mut state = FlowState::new();
        let mut wire = Vec::new();
        for _ in 0..r.below(16) {
            let msg = message_of(&mut r);
            // The page receives what the server sends: canonical JSON. Nodes
            // are sent unstamped here so the client's stamping is tested too.
            wire.push(serde_json::from_slice::<Value>(&msg.to_canonical_json()).unwrap());
            let mut stamped = msg;
            stamped.stamp_flow_id(flow_id);
            state.apply(stamped, &FlowLimits::UNLIMITED).unwrap();
        }
        cases.push(serde_json::json!({ "flowId": flow_id, "messages": wire }));
        expected.push(
            serde_json::from_slice::<Value>(&state.snapshot(flow_id).to_canonical_json()).unwrap(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("cases.json");
    std::fs::write(&fixture, serde_json::to_vec(&cases).unwrap()).unwrap();
    let out = Command::new(node)
        .arg(crate_dir().join("tests/js/conformance.mjs"))
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), expected.len());
    let mut non_trivial = 0;
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "case {i}: messages {}", cases[i]["messages"]);
        if e["nodes"].as_array().is_some_and(|n| !n.is_empty())
            && e["relationships"].as_array().is_some_and(|n| !n.is_empty())
        {
            non_trivial += 1;
        }
    }
    assert!(
        non_trivial > 50,
        "only {non_trivial} cases ended with nodes and edges"
    );
}

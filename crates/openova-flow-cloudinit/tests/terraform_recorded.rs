//! Every implemented function, operator and template rule against a table
//! of outputs recorded from Terraform (`tests/data/terraform-recorded.json`:
//! each case is `jsonencode(<expr>)` as Terraform printed it). Runs without
//! Terraform; the golden test re-checks the table against a live Terraform
//! when one is available, so the table cannot drift from the oracle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use openova_flow_cloudinit::eval::Evaluator;
use openova_flow_cloudinit::module::{MemFiles, Module};
use openova_flow_cloudinit::{Value, recorded};

#[test]
fn engine_reproduces_every_recorded_terraform_output() {
    let table = recorded::Table::load(&recorded::default_path()).unwrap();
    assert!(
        table.cases.len() >= 60,
        "table too small: {}",
        table.cases.len()
    );
    let mut files = MemFiles::default();
    files
        .0
        .insert(PathBuf::from("m/main.tf"), table.locals_tf());
    for (name, text) in &table.templates {
        files.0.insert(Path::new("m").join(name), text.clone());
    }
    let module = Module::load(Path::new("m"), "m", &files).unwrap();
    let ev = Evaluator::new(&module, &files, BTreeMap::new(), BTreeMap::new());
    let mut failures = Vec::new();
    for (i, case) in table.cases.iter().enumerate() {
        match ev.local(&format!("c{i}"), None) {
            Ok(Value::String(s)) if s == case.json => {}
            Ok(other) => failures.push(format!(
                "{}\n  terraform: {}\n  ours:      {other:?}",
                case.expr, case.json
            )),
            Err(e) => failures.push(format!(
                "{}\n  terraform: {}\n  ours:      error {e}",
                case.expr, case.json
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

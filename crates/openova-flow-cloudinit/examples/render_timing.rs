//! Times an in-process render of every region of a fixture (parse, resolve,
//! evaluate, check), for docs/cloudinit.md. Not a test: numbers depend on
//! the machine.
//!
//! `cargo run --release -p openova-flow-cloudinit --example render_timing [-- FIXTURE [RUNS]]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use openova_flow_cloudinit::{Input, Options, RealFiles, render};

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf();
    let mut args = std::env::args().skip(1);
    let fixture = args.next().map_or_else(
        || root.join("infra/hetzner/tests/fixtures/three-regions.tfvars"),
        PathBuf::from,
    );
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let opts = Options {
        module_dir: root.join("infra/hetzner"),
        module_display: "infra/hetzner".into(),
        inputs: vec![Input::VarFile(fixture.clone())],
        env: Vec::new(),
    };
    let mut times = Vec::with_capacity(runs);
    let mut regions = 0;
    for _ in 0..runs {
        let t = Instant::now();
        match render(&opts, &RealFiles) {
            Ok(r) => regions = r.regions.len(),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{}: {regions} region(s), {runs} runs: median {:.2} ms, p90 {:.2} ms, min {:.2} ms",
        fixture.display(),
        times[runs / 2].as_secs_f64() * 1e3,
        times[runs * 9 / 10].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
}

//! Stable stand-in for `cargo fuzz`: the same body over the seed corpus and
//! deterministic mutations of it (byte flips, truncations, splices, joins).

use std::path::Path;

use openova_flow_fuzz::decode_fold;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/decode_fold");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

#[test]
fn seed_corpus() {
    let seeds = corpus();
    assert!(
        seeds.len() >= 20,
        "the contract examples are the seed corpus"
    );
    for s in &seeds {
        decode_fold(s);
    }
    // All of them in sequence on one flow.
    decode_fold(&seeds.join(&b'\n'));
}

#[test]
fn deterministic_mutations() {
    let seeds = corpus();
    let interesting = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'-', b'\n', 0, 0xff,
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..5_000u64 {
        let a = &seeds[(next() % seeds.len() as u64) as usize];
        let mut input = a.clone();
        match round % 4 {
            0 if !input.is_empty() => {
                let i = (next() % input.len() as u64) as usize;
                input[i] = interesting[(next() % interesting.len() as u64) as usize];
            }
            1 => input.truncate((next() % (input.len() as u64 + 1)) as usize),
            2 => {
                let b = &seeds[(next() % seeds.len() as u64) as usize];
                let cut = (next() % (input.len() as u64 + 1)) as usize;
                let from = (next() % (b.len() as u64 + 1)) as usize;
                input.truncate(cut);
                input.extend_from_slice(&b[from..]);
            }
            _ => {
                let b = &seeds[(next() % seeds.len() as u64) as usize];
                input.push(b'\n');
                input.extend_from_slice(b);
            }
        }
        decode_fold(&input);
    }
}

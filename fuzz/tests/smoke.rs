//! The CI smoke pass: every target on its committed corpus, its regression inputs, its
//! generated seeds, and a fixed set of mutants of them (each a pure function of a
//! `lockstep-seeding` path, so a failure names the input that caused it).

use std::path::{Path, PathBuf};

use lockstep_fuzz::mutate::mutate;
use lockstep_seeding::SeedTree;

/// Mutants per target: a few seconds for all targets in a debug build.
const MUTANTS: u64 = 300;

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    out.sort();
    out
}

fn smoke(name: &str) {
    let target = lockstep_fuzz::target(name).expect("a listed target");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = files(&root.join("corpus").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ has no seed");
    let regressions = files(&root.join("regressions").join(name));
    for (path, bytes) in corpus.iter().chain(&regressions) {
        eprintln!("{name}: {}", path.display());
        target(bytes);
    }
    let mut inputs: Vec<Vec<u8>> = corpus.into_iter().map(|(_, b)| b).collect();
    inputs.extend(
        lockstep_fuzz::seeds::seeds(name)
            .into_iter()
            .map(|(_, b)| b),
    );
    for bytes in &inputs {
        target(bytes);
    }
    let node = SeedTree::from_u64(0).child("fuzz-smoke").child(name);
    for i in 0..MUTANTS {
        let n = inputs.len() as u64;
        let input = &inputs[(i % n) as usize];
        let other = &inputs[((i * 7 + 3) % n) as usize];
        let key = node.child_index("mutant", i);
        let mutant = mutate(input, other, &key);
        // Named before the call, so a panic's output says which mutant it was.
        if std::env::var_os("LOCKSTEP_FUZZ_VERBOSE").is_some() {
            eprintln!("{name}: {}", key.path());
        }
        target(&mutant);
    }
}

macro_rules! smoke_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                smoke(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_smoke_test() {
            let tested = [$(stringify!($name)),*];
            let listed: Vec<&str> = lockstep_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(listed, tested);
        }
    };
}

smoke_tests!(
    coco_annotations,
    seed_tree_json,
    sampler_state,
    buffered_shuffle_state,
    interleave_state,
    compose_json,
    op_json,
    checkpoint_manifest,
    safetensors,
    nms,
    metrics,
    repro_cli,
);

//! A world-2 run through the real MPI launcher (`mpiexec -n 2`), as `cargo xtask test`
//! runs it (with the `mpi` feature and MPICH set up): its weights equal a one-process
//! run's at the same micro-batch count, and both ranks end with the same weights.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Command;

use lockstep_repro::distributed::{mpiexec, rank_file};
use lockstep_repro::shapes::{self, ShapesConfig};
use lockstep_repro::worker::{WorkerResult, WorkerSpec};
use lockstep_seeding::SeedTree;

fn spec(
    dir: &Path,
    data: &lockstep_repro::layout::DataPaths,
    name: &str,
    world: u32,
) -> WorkerSpec {
    let text = serde_json::json!({
        "name": name,
        "run_dir": dir.join(name),
        "data": data,
        "seed": 5,
        "steps": 4,
        "stop_after": null,
        "threads": 1,
        "device": "cpu",
        "mode": "strict",
        "checkpoint_at": null,
        "resume": false,
        "inject": null,
        "evaluate": false,
        "world": world,
        "micro_batches": 2,
    });
    serde_json::from_value(text).expect("a valid spec")
}

fn run(launcher: Option<&Path>, spec: &WorkerSpec) -> WorkerResult {
    std::fs::create_dir_all(&spec.run_dir).unwrap();
    let path = spec.files().spec();
    std::fs::write(&path, serde_json::to_string(spec).unwrap()).unwrap();
    let exe = env!("CARGO_BIN_EXE_lockstep-repro");
    let mut command = match launcher {
        Some(mpiexec) => {
            let mut c = Command::new(mpiexec);
            c.args(["-n", &spec.world.to_string(), exe]);
            c
        }
        None => Command::new(exe),
    };
    let out = command.arg("worker").arg(&path).output().expect("starts");
    assert!(
        out.status.success(),
        "{}: {}\n{}",
        spec.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    read(&spec.files().result())
}

fn read(path: &Path) -> WorkerResult {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn two_ranks_through_mpiexec_equal_one_process() {
    let mpiexec: PathBuf =
        mpiexec().expect("mpiexec on PATH or MPIEXEC (cargo xtask test sets it)");
    let dir = std::env::temp_dir().join(format!("lockstep-mpi-world2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = shapes::generate(
        &SeedTree::from_u64(5).child("shapes"),
        ShapesConfig::QUICK,
        &dir.join("data"),
    )
    .unwrap()
    .paths();
    let one = run(None, &spec(&dir, &data, "w1", 1));
    let two_spec = spec(&dir, &data, "w2", 2);
    let two = run(Some(&mpiexec), &two_spec);
    let rank1 = read(&rank_file(&two_spec.files().result(), 1));
    assert_eq!(two.steps_done, 4);
    assert_eq!(two.model_fingerprint, one.model_fingerprint);
    assert_eq!(rank1.model_fingerprint, one.model_fingerprint);
    let bits = |r: &WorkerResult| r.losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&two), bits(&one));
    let _ = std::fs::remove_dir_all(&dir);
}

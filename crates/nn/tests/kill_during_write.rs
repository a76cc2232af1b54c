//! A process killed (SIGKILL) at any moment of a checkpoint write leaves the previous
//! checkpoint intact: the folder always loads, as one complete checkpoint.
//!
//! The test binary re-executes itself in a child mode that writes checkpoints in a
//! loop; the parent kills it after varying delays and checks what is on disk.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lockstep_nn::checkpoint::{self, Manifest};
use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::Fingerprint;
use lockstep_seeding::SeedTree;

const CHILD_ENV: &str = "LOCKSTEP_NN_KILL_CHILD";

/// A checkpoint whose every tensor is filled with its step, so the parent can tell a
/// mixed checkpoint from a whole one.
fn write_step(root: &Path, step: u64) {
    let weights = vec![(
        "w".to_string(),
        Tensor::full([256, 1024], step as f64, (Kind::Float, Device::Cpu)),
    )];
    let opt = vec![(
        "exp_avg/w".to_string(),
        Tensor::full([256, 1024], step as f64, (Kind::Float, Device::Cpu)),
    )];
    let seed = SeedTree::from_u64(1);
    let manifest = Manifest {
        format: checkpoint::FORMAT.into(),
        step,
        optimizer_updates: step,
        seed_path: seed.path(),
        seed,
        config: serde_json::json!({"kill": true}),
        sampler_state: serde_json::json!({ "step": step }),
        determinism: lockstep_nn::report().unwrap(),
        model_fingerprint: Fingerprint([0; 32]),
        optimizer_fingerprint: Fingerprint([0; 32]),
        losses: vec![0.0; step as usize % 1000],
        files: Default::default(),
    };
    checkpoint::write(root, manifest, &weights, &opt).unwrap();
}

fn latest_step(root: &Path) -> Option<u64> {
    match checkpoint::read_latest(root, Device::Cpu) {
        Ok(ck) => {
            let step = ck.manifest.step;
            for (name, t) in ck.weights.iter().chain(&ck.optimizer) {
                let min = t.min().double_value(&[]);
                let max = t.max().double_value(&[]);
                assert_eq!(
                    (min, max),
                    (step as f64, step as f64),
                    "{name} is not all step {step}"
                );
            }
            assert_eq!(ck.manifest.sampler_state["step"], step);
            Some(step)
        }
        Err(lockstep_nn::Error::NoCheckpoint { .. }) => None,
        Err(e) => panic!("the checkpoint folder does not load after a kill: {e}"),
    }
}

#[test]
fn kill_during_write_leaves_a_complete_checkpoint() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let root = PathBuf::from(dir);
        let mut step = latest_step(&root).map_or(0, |s| s + 1);
        loop {
            write_step(&root, step);
            step += 1;
        }
    }
    let root = std::env::temp_dir().join(format!("lockstep-nn-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut last = None;
    let mut advanced = 0;
    let mut interrupted = 0;
    for trial in 0..12u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_during_write_leaves_a_complete_checkpoint",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Start-up takes a few hundred ms; spread the kills over the writes after it.
        std::thread::sleep(Duration::from_millis(400 + (trial * 137) % 600));
        child.kill().unwrap();
        child.wait().unwrap();
        // A leftover temp folder means this kill landed inside a write.
        let mid_write = std::fs::read_dir(&root)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false);
        interrupted += u32::from(mid_write);
        let now = latest_step(&root);
        assert!(
            now >= last,
            "the checkpoint went back from {last:?} to {now:?}"
        );
        if now > last {
            advanced += 1;
        }
        last = now;
    }
    assert!(
        advanced >= 3,
        "only {advanced} of 12 children got a checkpoint written; kills landed too early"
    );
    assert!(interrupted >= 1, "no kill landed inside a write");
    eprintln!("{interrupted} of 12 kills landed inside a write; last step {last:?}");
    let _ = std::fs::remove_dir_all(&root);
}

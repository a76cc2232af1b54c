//! Checkpoints: round trip, typed errors for every kind of bad checkpoint, and resume
//! equivalence across processes.

mod common;

use std::process::Command;

use common::*;
use lockstep_nn::checkpoint::{self, OPTIMIZER, WEIGHTS};
use lockstep_nn::tch::Device;
use lockstep_nn::{ClassifierConfig, Error, OptimizerConfig, SmallCnn, Trainer};

const N: u64 = 7;
const CHILD_ENV: &str = "LOCKSTEP_NN_RESUME_CHILD";

fn resume_config() -> lockstep_nn::TrainConfig {
    config(N, OptimizerConfig::adamw())
}

#[test]
fn resume_in_a_new_process_is_bitwise_equal() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        // Child: load, finish the run, save the result next to the input.
        let dir = std::path::PathBuf::from(dir);
        let c = classifier();
        let (mut t, state) =
            Trainer::resume(resume_config(), seed(11), |vs| SmallCnn::new(vs, &c), &dir).unwrap();
        assert_eq!(state, serde_json::json!({"next": t.step()}));
        t.set_progress(lockstep_nn::ProgressMode::Off);
        t.run(&mut batch, N).unwrap();
        t.save_checkpoint(&dir.join("final"), serde_json::Value::Null)
            .unwrap();
        return;
    }
    let mut straight = new_trainer(resume_config(), seed(11));
    straight.run(&mut batch, N).unwrap();
    let want_model = straight.model_fingerprint().unwrap();
    let want_opt = straight.optimizer_fingerprint().unwrap();
    let root = temp_dir("resume");
    for k in [0, 1, 3, N - 1] {
        let dir = root.join(format!("k{k}"));
        let mut first = new_trainer(resume_config(), seed(11));
        first.run(&mut batch, k).unwrap();
        first
            .save_checkpoint(&dir, serde_json::json!({"next": k}))
            .unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "resume_in_a_new_process_is_bitwise_equal",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, &dir)
            .status()
            .unwrap();
        assert!(status.success(), "child for k={k} failed");
        let done = checkpoint::read_latest(&dir.join("final"), Device::Cpu).unwrap();
        assert_eq!(done.manifest.step, N);
        assert_eq!(
            done.manifest.model_fingerprint, want_model,
            "weights differ after resume at k={k}"
        );
        assert_eq!(
            done.manifest.optimizer_fingerprint, want_opt,
            "optimizer state differs after resume at k={k}"
        );
        let bits: Vec<u32> = done.manifest.losses.iter().map(|l| l.to_bits()).collect();
        assert_eq!(bits, losses_bits(&straight));
        // The tensors themselves, not only the recorded fingerprints.
        for ((n1, a), (n2, b)) in done.weights.iter().zip(straight.weights()) {
            assert_eq!(n1, &n2);
            assert!(a.equal(&b), "{n1} differs at k={k}");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn round_trip_and_manifest_contents() {
    let root = temp_dir("roundtrip");
    let mut t = new_trainer(config(5, OptimizerConfig::sgd(0.9)), seed(4));
    t.run(&mut batch, 2).unwrap();
    let dir = t
        .save_checkpoint(&root, serde_json::json!({"epoch": 0, "position": 16}))
        .unwrap();
    let ck = checkpoint::read_latest(&root, Device::Cpu).unwrap();
    assert_eq!(ck.dir, dir);
    let m = &ck.manifest;
    assert_eq!((m.step, m.optimizer_updates), (2, 2));
    assert_eq!(m.seed_path, seed(4).path());
    assert_eq!(m.sampler_state["position"], 16);
    assert_eq!(m.model_fingerprint, t.model_fingerprint().unwrap());
    assert!(m.determinism.is_deterministic());
    assert_eq!(m.config["threads"], 1);
    // Weights hold the BatchNorm-free classifier's parameters; the optimizer its buffers.
    let names: Vec<&str> = ck.weights.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1.bias",
            "conv1.weight",
            "conv2.bias",
            "conv2.weight",
            "fc.bias",
            "fc.weight"
        ]
    );
    assert_eq!(ck.optimizer.len(), 6);
    assert!(ck
        .optimizer
        .iter()
        .all(|(n, _)| n.starts_with("momentum_buffer/")));
    // A second save replaces the first; at most two checkpoints stay on disk.
    t.run(&mut batch, 3).unwrap();
    t.save_checkpoint(&root, serde_json::Value::Null).unwrap();
    t.run(&mut batch, 4).unwrap();
    t.save_checkpoint(&root, serde_json::Value::Null).unwrap();
    assert_eq!(
        checkpoint::read_latest(&root, Device::Cpu)
            .unwrap()
            .manifest
            .step,
        4
    );
    let dirs = std::fs::read_dir(&root)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("step-")
        })
        .count();
    assert_eq!(dirs, 2);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_checkpoints_are_typed_errors() {
    let root = temp_dir("bad");
    let c = classifier();
    let build = |vs: &lockstep_nn::tch::nn::Path<'_>| SmallCnn::new(vs, &c);
    // Nothing there yet.
    match Trainer::resume(config(5, OptimizerConfig::adamw()), seed(6), build, &root) {
        Err(Error::NoCheckpoint { .. }) => {}
        other => panic!("expected NoCheckpoint, got {other:?}"),
    }
    let mut t = new_trainer(config(5, OptimizerConfig::adamw()), seed(6));
    t.run(&mut batch, 2).unwrap();
    let dir = t.save_checkpoint(&root, serde_json::Value::Null).unwrap();

    // Another seed.
    match Trainer::resume(config(5, OptimizerConfig::adamw()), seed(7), build, &root) {
        Err(Error::ConfigMismatch { field, .. }) => assert_eq!(field, "seed"),
        other => panic!("expected ConfigMismatch, got {other:?}"),
    }
    // Another config: the differing field is named.
    let mut other = config(5, OptimizerConfig::adamw());
    other.batch_size = 4;
    match Trainer::resume(other, seed(6), build, &root) {
        Err(Error::ConfigMismatch {
            field,
            checkpoint,
            current,
        }) => {
            assert_eq!(
                (field.as_str(), checkpoint.as_str(), current.as_str()),
                ("config.batch_size", "8", "4")
            )
        }
        other => panic!("expected ConfigMismatch, got {other:?}"),
    }
    // Another model: a classifier with 4 classes has a differently shaped fc.
    let c4 = ClassifierConfig {
        classes: 4,
        ..classifier()
    };
    match Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(6),
        |vs| SmallCnn::new(vs, &c4),
        &root,
    ) {
        Err(Error::ModelMismatch {
            what: "model",
            tensor,
            ..
        }) => assert!(tensor.starts_with("fc."), "{tensor}"),
        other => panic!("expected ModelMismatch, got {other:?}"),
    }
    // The checkpoint itself is fine.
    Trainer::resume(config(5, OptimizerConfig::adamw()), seed(6), build, &root).unwrap();

    // Truncated weights.
    let weights = dir.join(WEIGHTS);
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    match checkpoint::read_latest(&root, Device::Cpu) {
        Err(Error::CorruptCheckpoint { path, reason }) => {
            assert_eq!(path, weights);
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("expected CorruptCheckpoint, got {other:?}"),
    }
    // One flipped bit in the optimizer state.
    std::fs::write(&weights, &bytes).unwrap();
    let opt = dir.join(OPTIMIZER);
    let mut ob = std::fs::read(&opt).unwrap();
    let last = ob.len() - 1;
    ob[last] ^= 1;
    std::fs::write(&opt, &ob).unwrap();
    match checkpoint::read_latest(&root, Device::Cpu) {
        Err(Error::CorruptCheckpoint { path, reason }) => {
            assert_eq!(path, opt);
            assert!(reason.contains("BLAKE3"), "{reason}");
        }
        other => panic!("expected CorruptCheckpoint, got {other:?}"),
    }
    // A manifest that is not JSON.
    std::fs::write(dir.join(checkpoint::MANIFEST), b"{ not json").unwrap();
    assert!(matches!(
        checkpoint::read_latest(&root, Device::Cpu),
        Err(Error::CorruptCheckpoint { .. })
    ));
    // A pointer to something else.
    std::fs::write(root.join(checkpoint::LATEST), b"../../etc\n").unwrap();
    assert!(matches!(
        checkpoint::read_latest(&root, Device::Cpu),
        Err(Error::CorruptCheckpoint { .. })
    ));
    let _ = std::fs::remove_dir_all(&root);
}

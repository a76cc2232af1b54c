//! Checkpoints: round trip, typed errors for every kind of bad checkpoint, and resume
//! equivalence across processes.

mod common;

use std::process::Command;

use common::*;
use lockstep_nn::checkpoint::{self, OPTIMIZER, WEIGHTS};
use lockstep_nn::tch::Device;
use lockstep_nn::{
    BatchSource, Error, OptimizerConfig, ResumeOptions, SmallCnn, SourceState, Trainer,
};

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
        // The source's position comes back from the checkpoint (issue 11).
        let mut source = Counted { next: u64::MAX };
        let mut t = Trainer::resume(
            resume_config(),
            seed(11),
            |vs| SmallCnn::new(vs, &c),
            &dir,
            &mut source,
        )
        .unwrap();
        assert_eq!(source.next, t.step());
        t.set_progress(lockstep_nn::ProgressMode::Off);
        t.run(&mut source, N).unwrap();
        t.save_checkpoint(&dir.join("final"), SourceState::none())
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
        let mut source = Counted { next: 0 };
        // The hook reaches the source, so the checkpoint holds its position.
        first
            .run_with(&mut source, k, |end| {
                if end.step() == k {
                    end.save_checkpoint(&dir)?;
                }
                Ok(())
            })
            .unwrap();
        if k == 0 {
            first
                .save_checkpoint(&dir, source.state().unwrap())
                .unwrap();
        }
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
        .save_checkpoint(
            &root,
            SourceState::new(&serde_json::json!({"epoch": 0, "position": 16})).unwrap(),
        )
        .unwrap();
    let ck = checkpoint::read_latest(&root, Device::Cpu).unwrap();
    assert_eq!(ck.dir, dir);
    let m = &ck.manifest;
    assert_eq!((m.step, m.optimizer_updates), (2, 2));
    assert_eq!(m.seed_path, seed(4).path());
    assert_eq!(m.source_state.as_json()["position"], 16);
    assert_eq!(m.model_fingerprint, t.model_fingerprint().unwrap());
    assert!(m.determinism.is_deterministic());
    assert_eq!(m.config["determinism"]["intra_op_threads"], 1);
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
    t.save_checkpoint(&root, SourceState::none()).unwrap();
    t.run(&mut batch, 4).unwrap();
    t.save_checkpoint(&root, SourceState::none()).unwrap();
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
    match Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(6),
        build,
        &root,
        &mut batch,
    ) {
        Err(Error::NoCheckpoint { .. }) => {}
        other => panic!("expected NoCheckpoint, got {other:?}"),
    }
    let mut t = new_trainer(config(5, OptimizerConfig::adamw()), seed(6));
    t.run(&mut batch, 2).unwrap();
    let dir = t.save_checkpoint(&root, SourceState::none()).unwrap();

    // Another seed.
    match Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(7),
        build,
        &root,
        &mut batch,
    ) {
        Err(Error::ConfigMismatch { field, .. }) => assert_eq!(field, "seed"),
        other => panic!("expected ConfigMismatch, got {other:?}"),
    }
    // Another config: the differing field is named.
    let mut other = config(5, OptimizerConfig::adamw());
    other.batch_size = 4;
    match Trainer::resume(other, seed(6), build, &root, &mut batch) {
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
    let c4 = classifier().with_classes(4);
    match Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(6),
        |vs| SmallCnn::new(vs, &c4),
        &root,
        &mut batch,
    ) {
        Err(Error::ModelMismatch {
            what: "model",
            tensor,
            ..
        }) => assert!(tensor.starts_with("fc."), "{tensor}"),
        other => panic!("expected ModelMismatch, got {other:?}"),
    }
    // The checkpoint itself is fine.
    Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(6),
        build,
        &root,
        &mut batch,
    )
    .unwrap();

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

/// Rewrites `dir`'s manifest with `edit`; with `rehash`, also rewrites `manifest.blake3`
/// to match, as a checkpoint written on another machine would be.
fn edit_manifest(dir: &std::path::Path, rehash: bool, edit: impl Fn(&str) -> String) {
    let path = dir.join(checkpoint::MANIFEST);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&path, &edited).unwrap();
    if rehash {
        std::fs::write(
            dir.join(checkpoint::MANIFEST_HASH),
            checkpoint::hash_line(edited.as_bytes()),
        )
        .unwrap();
    }
}

/// The last `"field": <value>` (the value up to the end of its line, or its `[...]` list)
/// replaced by `"field": new`.
fn set_field(text: &str, field: &str, new: &str) -> String {
    let key = format!("\"{field}\": ");
    let start = text.rfind(&key).unwrap() + key.len();
    let end = if text[start..].starts_with('[') {
        start + text[start..].find(']').unwrap() + 1
    } else {
        start + text[start..].find([',', '\n']).unwrap()
    };
    format!("{}{new}{}", &text[..start], &text[end..])
}

fn resume_classifier(root: &std::path::Path) -> lockstep_nn::Result<Trainer<SmallCnn>> {
    let c = classifier();
    Trainer::resume(
        config(5, OptimizerConfig::adamw()),
        seed(30),
        |vs| SmallCnn::new(vs, &c),
        root,
        &mut batch,
    )
}

fn expect_corrupt(
    result: lockstep_nn::Result<Trainer<SmallCnn>>,
    path: &std::path::Path,
) -> String {
    match result {
        Err(Error::CorruptCheckpoint { path: p, reason }) => {
            assert_eq!(p, path, "{reason}");
            reason
        }
        Err(other) => panic!(
            "expected CorruptCheckpoint naming {}, got {other}",
            path.display()
        ),
        Ok(t) => panic!(
            "expected CorruptCheckpoint naming {}, resumed at step {}",
            path.display(),
            t.step()
        ),
    }
}

#[test]
fn edited_manifests_and_flipped_bytes_are_refused() {
    // Issue 10, defect 1: each of these edits was accepted and resumed at the wrong step.
    let root = temp_dir("edited");
    let mut t = new_trainer(config(5, OptimizerConfig::adamw()), seed(30));
    t.run(&mut batch, 2).unwrap();
    let dir = t.save_checkpoint(&root, SourceState::none()).unwrap();
    drop(t);
    let manifest = dir.join(checkpoint::MANIFEST);
    let original = std::fs::read(&manifest).unwrap();
    let hash = std::fs::read(dir.join(checkpoint::MANIFEST_HASH)).unwrap();
    let restore = || {
        std::fs::write(&manifest, &original).unwrap();
        std::fs::write(dir.join(checkpoint::MANIFEST_HASH), &hash).unwrap();
    };
    assert_eq!(resume_classifier(&root).unwrap().step(), 2);
    let flip_fingerprint = |text: &str| {
        let key = "\"model_fingerprint\": \"";
        let at = text.find(key).unwrap() + key.len();
        let digit = if &text[at..=at] == "0" { "1" } else { "0" };
        format!("{}{digit}{}", &text[..at], &text[at + 1..])
    };
    type Edit = Box<dyn Fn(&str) -> String>;
    let edits: [(&str, Edit); 4] = [
        ("step", Box::new(|t: &str| set_field(t, "step", "3"))),
        (
            "optimizer_updates",
            Box::new(|t: &str| set_field(t, "optimizer_updates", "3")),
        ),
        ("model_fingerprint", Box::new(flip_fingerprint)),
        (
            "losses",
            Box::new(|t: &str| set_field(t, "losses", "[0.0]")),
        ),
    ];
    for (field, edit) in &edits {
        // A hand edit: the manifest hash no longer matches.
        edit_manifest(&dir, false, edit);
        let reason = expect_corrupt(resume_classifier(&root), &manifest);
        assert!(reason.contains("BLAKE3"), "{field}: {reason}");
        // The same edit with the hash made to match still fails, naming a field: the
        // fingerprints are recomputed from the tensors and the counts cross-checked.
        restore();
        edit_manifest(&dir, true, edit);
        let reason = expect_corrupt(resume_classifier(&root), &manifest);
        let named = match *field {
            "step" => "optimizer_updates",
            "optimizer_updates" => "optimizer_fingerprint",
            other => other,
        };
        assert!(reason.contains(&format!("`{named}`")), "{field}: {reason}");
        restore();
    }
    // Whitespace is an edited byte too.
    edit_manifest(&dir, false, |t| t.replacen(": ", ":  ", 1));
    expect_corrupt(resume_classifier(&root), &manifest);
    restore();
    // One flipped byte anywhere in either tensor file, header or data.
    for file in [WEIGHTS, OPTIMIZER] {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        for at in [10, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x20;
            std::fs::write(&path, &flipped).unwrap();
            expect_corrupt(resume_classifier(&root), &path);
        }
        std::fs::write(&path, &bytes).unwrap();
    }
    // A missing hash file is named.
    std::fs::remove_file(dir.join(checkpoint::MANIFEST_HASH)).unwrap();
    expect_corrupt(
        resume_classifier(&root),
        &dir.join(checkpoint::MANIFEST_HASH),
    );
    // A format-1 checkpoint (no hash) is refused with its own error.
    edit_manifest(&dir, false, |t| {
        t.replace(checkpoint::FORMAT, checkpoint::FORMAT_V1)
    });
    match resume_classifier(&root) {
        Err(Error::UnsupportedCheckpoint { format, .. }) => {
            assert_eq!(format, checkpoint::FORMAT_V1)
        }
        other => panic!("expected UnsupportedCheckpoint, got {other:?}"),
    }
    restore();
    assert_eq!(resume_classifier(&root).unwrap().step(), 2);
    // The pure entry points agree with the loader.
    let m = checkpoint::Manifest::from_verified_bytes(&original, Some(&hash)).unwrap();
    assert_eq!((m.step, m.losses.len()), (2, 2));
    assert!(checkpoint::Manifest::from_verified_bytes(&original, Some(b"00\n")).is_err());
    let weights =
        checkpoint::parse_safetensors(&std::fs::read(dir.join(WEIGHTS)).unwrap()).unwrap();
    assert_eq!(weights[0].name, "conv1.bias");
    let _ = std::fs::remove_dir_all(&root);
}

fn step_dirs(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    names.sort();
    names
}

#[test]
fn pruning_keeps_other_runs_and_user_folders_and_one_writer_at_a_time() {
    // Issue 10, defect 4: two saves removed another run's checkpoint and `step-notes/`.
    let root = temp_dir("prune");
    let mut other = new_trainer(config(5, OptimizerConfig::adamw()), seed(40));
    other.run(&mut batch, 1).unwrap();
    let other_dir = other.save_checkpoint(&root, SourceState::none()).unwrap();
    drop(other);
    std::fs::create_dir(root.join("step-notes")).unwrap();
    std::fs::write(root.join("step-notes/keep.txt"), b"mine").unwrap();
    std::fs::write(root.join(".tmp-notes"), b"mine too").unwrap();

    let mut t = new_trainer(config(5, OptimizerConfig::adamw()), seed(41));
    let mut ours = Vec::new();
    for k in 1..=3 {
        t.run(&mut batch, k).unwrap();
        ours.push(t.save_checkpoint(&root, SourceState::none()).unwrap());
    }
    assert!(checkpoint::read_dir(&other_dir, Device::Cpu).is_ok());
    assert_eq!(
        std::fs::read(root.join("step-notes/keep.txt")).unwrap(),
        b"mine"
    );
    assert!(root.join(".tmp-notes").exists());
    // Of this run, the newest two stay: the first was pruned.
    assert!(!ours[0].exists());
    assert!(ours[1].exists() && ours[2].exists());
    assert_eq!(step_dirs(&root).len(), 4, "{:?}", step_dirs(&root));

    // A second writer on the same folder is refused while `t` lives, in whichever way
    // it writes; the folder is untouched.
    let mut second = new_trainer(config(5, OptimizerConfig::adamw()), seed(41));
    second.run(&mut batch, 1).unwrap();
    match second.save_checkpoint(&root, SourceState::none()) {
        Err(Error::CheckpointLocked { path, .. }) => assert_eq!(path, root),
        other => panic!("expected CheckpointLocked, got {other:?}"),
    }
    assert!(matches!(
        checkpoint::CheckpointWriter::open(&root),
        Err(Error::CheckpointLocked { .. })
    ));
    assert_eq!(
        checkpoint::read_latest(&root, Device::Cpu).unwrap().dir,
        ours[2]
    );
    drop(t);
    second.save_checkpoint(&root, SourceState::none()).unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn resume_refuses_another_dispatch_level_thread_count_or_libtorch() {
    // Issue 10, defect 13: an AVX-512 checkpoint resumed at AVX2 was accepted silently.
    let root = temp_dir("environment");
    let mut t = new_trainer(config(5, OptimizerConfig::adamw()), seed(30));
    t.run(&mut batch, 2).unwrap();
    let here = t.determinism_report().cpu_capability.env_value();
    let dir = t.save_checkpoint(&root, SourceState::none()).unwrap();
    drop(t);
    let elsewhere = if here == "avx512" { "avx2" } else { "avx512" };
    let manifest = dir.join(checkpoint::MANIFEST);
    let original = std::fs::read(&manifest).unwrap();
    let hash = std::fs::read(dir.join(checkpoint::MANIFEST_HASH)).unwrap();
    let cases = [
        (
            "cpu_capability",
            format!("\"{elsewhere}\""),
            "CPU dispatch level",
            elsewhere.to_string(),
        ),
        (
            "intra_op_threads",
            "3".to_string(),
            "intra-op threads",
            "3".to_string(),
        ),
        (
            "libtorch_version",
            "\"1.0.0\"".to_string(),
            "libtorch version",
            "1.0.0".to_string(),
        ),
    ];
    for (field, value, setting, shown) in cases {
        edit_manifest(&dir, true, |text| set_field(text, field, &value));
        match resume_classifier(&root) {
            Err(e @ Error::EnvironmentMismatch { .. }) => {
                let Error::EnvironmentMismatch {
                    setting: s,
                    checkpoint,
                    ..
                } = &e
                else {
                    unreachable!()
                };
                assert_eq!((*s, checkpoint.as_str()), (setting, shown.as_str()));
                if field == "cpu_capability" {
                    let text = e.to_string();
                    assert!(
                        text.contains(&format!("ATEN_CPU_CAPABILITY={elsewhere}"))
                            && text.contains(&format!("`{here}`")),
                        "{text}"
                    );
                }
            }
            other => panic!("{field}: expected EnvironmentMismatch, got {other:?}"),
        }
        // An explicit opt-in resumes anyway.
        let c = classifier();
        let resumed = Trainer::resume_with(
            config(5, OptimizerConfig::adamw()),
            seed(30),
            |vs| SmallCnn::new(vs, &c),
            &root,
            &mut batch,
            &ResumeOptions::new().with_allow_environment_change(true),
        )
        .unwrap();
        assert_eq!(resumed.step(), 2);
        std::fs::write(&manifest, &original).unwrap();
        std::fs::write(dir.join(checkpoint::MANIFEST_HASH), &hash).unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
}

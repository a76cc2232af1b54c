//! TinyDetector: targets, decoding, learning, and traces equal across processes.

use std::process::Command;

use lockstep_data::synthetic::shapes_image;
use lockstep_nn::images::images_to_tensor;
use lockstep_nn::models::detector::{build_targets, STRIDE};
use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::trace::compare;
use lockstep_nn::{
    BBox, Batch, ClassId, DetectorConfig, Error, LabeledBox, LrSchedule, Model, OptimizerConfig,
    ProgressMode, SourceState, TinyDetector, TraceOptions, TrainConfig, Trainer,
};
use lockstep_postprocess::{evaluate, Detection, EvalConfig, GroundTruth};
use lockstep_seeding::SeedTree;

fn det() -> DetectorConfig {
    DetectorConfig::default()
}

fn train_config(steps: u64, batch: i64, optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig::default()
        .with_steps(steps)
        .with_batch_size(batch as u64)
        .with_schedule(LrSchedule::Cosine {
            base: 3e-3,
            min: 3e-5,
            warmup: 10.min(steps - 1),
            total: steps,
        })
        .with_optimizer(optimizer)
        .with_threads(1)
}

/// Images `start .. start + n` of the built-in shapes set under `seed` (nodes
/// `seed/image[i]`), as a `[n, 3, size, size]` tensor, and their boxes.
fn shapes_batch(
    seed: &SeedTree,
    start: u64,
    n: u64,
    size: u32,
) -> lockstep_nn::Result<(Tensor, Vec<Vec<LabeledBox>>)> {
    let mut images = Vec::new();
    let mut boxes = Vec::new();
    for i in start..start + n {
        let (image, b) = shapes_image(&seed.child_index("image", i), size).map_err(Error::wrap)?;
        images.push(image);
        boxes.push(b);
    }
    Ok((images_to_tensor(&images)?, boxes))
}

fn lb(bbox: [f32; 4], class: u32) -> LabeledBox {
    LabeledBox::new(BBox::from(bbox), ClassId(class))
}

fn trainer(config: TrainConfig, seed: u64) -> Trainer<TinyDetector> {
    let d = det();
    let mut t = Trainer::new(config, SeedTree::from_u64(seed).child("det"), |vs| {
        TinyDetector::new(vs, &d)
    })
    .unwrap();
    t.set_progress(ProgressMode::Off);
    t
}

#[test]
fn targets_hold_the_centre_cell_offsets_log_sizes_and_class() {
    let objs = vec![vec![
        lb([8.0, 8.0, 24.0, 40.0], 2),
        // Same centre cell (2, 3), smaller: loses to the first.
        lb([18.0, 26.0, 22.0, 30.0], 0),
    ]];
    let t = build_targets(&objs, &det()).unwrap();
    assert_eq!(t.size(), vec![1, 6, 12, 12]);
    let at = |ch: i64| t.double_value(&[0, ch, 3, 2]) as f32;
    assert_eq!(at(0), 1.0);
    assert_eq!((at(1), at(2)), (0.0, 0.0));
    assert_eq!(at(3).to_bits(), libm::logf(2.0).to_bits());
    assert_eq!(at(4).to_bits(), libm::logf(4.0).to_bits());
    assert_eq!(at(5), 2.0);
    assert_eq!(t.narrow(1, 0, 1).sum(Kind::Float).double_value(&[]), 1.0);
    // Bad annotations name the image and object.
    for (bbox, class) in [
        ([5.0, 5.0, 5.0, 9.0], 0),
        ([0.0, 0.0, f32::NAN, 4.0], 0),
        ([0.0, 0.0, 4.0, 4.0], 3),
        // Finite corners whose width or height overflows f32 (issue 10, defect 10).
        ([-3e38, 0.0, 3e38, 10.0], 0),
        ([0.0, -3e38, 10.0, 3e38], 0),
    ] {
        let bad = vec![vec![], vec![lb([0.0, 0.0, 8.0, 8.0], 0), lb(bbox, class)]];
        assert!(matches!(
            build_targets(&bad, &det()),
            Err(Error::BadAnnotation {
                image: 1,
                object: 1,
                ..
            })
        ));
    }
}

#[test]
fn huge_target_grids_are_typed_errors() {
    // The largest multiple of 8 a u32 holds: its target grid would not fit in memory.
    let config = det().with_image_size(u32::MAX - 7);
    let objs = vec![vec![lb([0.0, 0.0, 8.0, 8.0], 0)]];
    assert!(matches!(
        build_targets(&objs, &config),
        Err(Error::InvalidConfig {
            what: "detector.image_size",
            ..
        })
    ));
}

#[test]
fn decode_inverts_the_head_and_suppresses_duplicates() {
    let d = det();
    let vs = lockstep_nn::tch::nn::VarStore::new(Device::Cpu);
    let model = TinyDetector::new(&vs.root(), &d).unwrap();
    let pred = Tensor::zeros([1, 8, 12, 12], (Kind::Float, Device::Cpu));
    let _ = pred.narrow(1, 0, 1).fill_(-10.0);
    for gy in [3i64, 4] {
        // Objectness 10, offsets σ(0) = 0.5, size e^{ln 2}·8 = 16 by e^{ln 4}·8 = 32, class 1.
        let _ = pred.get(0).get(0).get(gy).get(2).fill_(10.0);
        let _ = pred.get(0).get(3).get(gy).get(2).fill_(2f64.ln());
        let _ = pred.get(0).get(4).get(gy).get(2).fill_(4f64.ln());
        let _ = pred.get(0).get(6).get(gy).get(2).fill_(5.0);
    }
    let raw = model.decode_candidates(&pred, 0.5).unwrap();
    assert_eq!(raw[0].len(), 2);
    let kept = model.decode(&pred, 0.5).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        kept[0].len(),
        1,
        "the two overlapping boxes (IoU 24·16 / (2·512 − 384) = 0.6) become one"
    );
    let k = kept[0][0];
    assert_eq!(k.class, lockstep_postprocess::ClassId(1));
    // cx = (2 + 0.5)·8 = 20, cy = (3 + 0.5)·8 = 28.
    let want = [12.0f32, 12.0, 28.0, 44.0];
    for (a, b) in k.bbox.to_array().iter().zip(want) {
        assert!((a - b).abs() < 1e-4, "{:?}", k.bbox);
    }
    assert!(k.score > 0.9);
    // A prediction of the wrong shape is a typed error.
    assert!(matches!(
        model.decode(
            &Tensor::zeros([1, 7, 12, 12], (Kind::Float, Device::Cpu)),
            0.5
        ),
        Err(Error::BadBatchShape { .. })
    ));
    assert_eq!(STRIDE, 8);
}

fn source(
    images: Tensor,
    targets: Tensor,
    batch: i64,
) -> impl FnMut(u64) -> lockstep_nn::Result<Batch> {
    let n = images.size()[0];
    move |k: u64| {
        let start = (k as i64 * batch) % n;
        Ok(Batch {
            inputs: images.narrow(0, start, batch),
            targets: targets.narrow(0, start, batch),
        })
    }
}

#[test]
fn tiny_detector_learns_the_shapes() {
    let d = det();
    let root = SeedTree::from_u64(2024);
    let (images, objects) = shapes_batch(&root.child("train"), 0, 1280, 96).unwrap();
    let targets = build_targets(&objects, &d).unwrap();
    let (val, val_objects) = shapes_batch(&root.child("val"), 0, 100, 96).unwrap();
    let steps = 400;
    let mut t = trainer(
        train_config(
            steps,
            32,
            OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-4,
            },
        ),
        1,
    );
    t.run(&mut source(images, targets, 32), steps).unwrap();
    let losses = t.losses();
    let head: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let tail: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
    assert!(tail < 0.5 * head, "loss {head} → {tail}");
    let dets: Vec<Detection> = t
        .model()
        .decode(&t.predict(&val).unwrap(), 0.05)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let gts: Vec<GroundTruth> = val_objects
        .iter()
        .enumerate()
        .flat_map(|(i, o)| {
            o.iter().map(move |o| GroundTruth {
                image_id: i as u64,
                class: o.class,
                bbox: o.bbox,
                crowd: false,
            })
        })
        .collect();
    let report = evaluate(&dets, &gts, &EvalConfig::default()).unwrap();
    eprintln!(
        "after {steps} steps: loss {head} → {tail}, val mAP@0.5 {}",
        report.map_50
    );
    assert!(report.map_50 > 0.4, "mAP@0.5 {}", report.map_50);
}

#[test]
fn detector_resume_with_batchnorm_buffers_is_bitwise_equal() {
    let d = det();
    let (images, objects) = shapes_batch(&SeedTree::from_u64(3), 0, 16, 96).unwrap();
    let targets = build_targets(&objects, &d).unwrap();
    let cfg = || {
        train_config(
            4,
            4,
            OptimizerConfig::Sgd {
                momentum: 0.9,
                dampening: 0.0,
                weight_decay: 5e-4,
                nesterov: true,
            },
        )
    };
    let mut straight = trainer(cfg(), 2);
    straight
        .run(
            &mut source(images.shallow_clone(), targets.shallow_clone(), 4),
            4,
        )
        .unwrap();
    let dir = std::env::temp_dir().join(format!("lockstep-nn-det-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut first = trainer(cfg(), 2);
    first
        .run(
            &mut source(images.shallow_clone(), targets.shallow_clone(), 4),
            2,
        )
        .unwrap();
    first.save_checkpoint(&dir, SourceState::none()).unwrap();
    drop(first);
    let mut source2 = source(images, targets, 4);
    let mut second = Trainer::resume(
        cfg(),
        SeedTree::from_u64(2).child("det"),
        |vs| TinyDetector::new(vs, &d),
        &dir,
        &mut source2,
    )
    .unwrap();
    second.set_progress(ProgressMode::Off);
    second.run(&mut source2, 4).unwrap();
    assert_eq!(
        second.model_fingerprint().unwrap(),
        straight.model_fingerprint().unwrap()
    );
    assert_eq!(
        second.optimizer_fingerprint().unwrap(),
        straight.optimizer_fingerprint().unwrap()
    );
    // BatchNorm running statistics are part of the weights and moved in training.
    let names: Vec<String> = straight.weights().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"block1.bn.running_mean".to_string()));
    let _ = std::fs::remove_dir_all(&dir);
}

const TRACE_CHILD: &str = "LOCKSTEP_NN_TRACE_CHILD";

fn traced_run(path: &std::path::Path, seed: u64) {
    let d = det();
    let (images, objects) = shapes_batch(&SeedTree::from_u64(4), 0, 8, 96).unwrap();
    let targets = build_targets(&objects, &d).unwrap();
    let mut t = trainer(train_config(3, 4, OptimizerConfig::adamw()), seed);
    t.enable_trace(path, TraceOptions::default()).unwrap();
    t.run(&mut source(images, targets, 4), 3).unwrap();
    t.finish_trace().unwrap();
}

#[test]
fn two_processes_trace_identically_and_another_seed_does_not() {
    if let Ok(path) = std::env::var(TRACE_CHILD) {
        traced_run(std::path::Path::new(&path), 1);
        return;
    }
    let dir = std::env::temp_dir().join(format!("lockstep-nn-det-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b, c) = (
        dir.join("a.jsonl"),
        dir.join("b.jsonl"),
        dir.join("c.jsonl"),
    );
    traced_run(&a, 1);
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "two_processes_trace_identically_and_another_seed_does_not",
            "--test-threads=1",
        ])
        .env(TRACE_CHILD, &b)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(compare(&a, &b).unwrap(), None);
    traced_run(&c, 2);
    let d = compare(&a, &c).unwrap().unwrap();
    // Another seed means other initial weights: the first module output differs.
    assert_eq!(
        (d.step, d.phase, d.module.as_str()),
        (0, lockstep_nn::Phase::Forward, "block1")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_checks_batch_shapes() {
    let d = det();
    let vs = lockstep_nn::tch::nn::VarStore::new(Device::Cpu);
    let model = TinyDetector::new(&vs.root(), &d).unwrap();
    let good = Batch {
        inputs: Tensor::zeros([2, 3, 96, 96], (Kind::Float, Device::Cpu)),
        targets: Tensor::zeros([2, 6, 12, 12], (Kind::Float, Device::Cpu)),
    };
    model.check_batch(0, &good).unwrap();
    let bad = Batch {
        inputs: Tensor::zeros([2, 3, 64, 64], (Kind::Float, Device::Cpu)),
        targets: Tensor::zeros([2, 6, 12, 12], (Kind::Float, Device::Cpu)),
    };
    assert!(matches!(
        model.check_batch(4, &bad),
        Err(Error::BadBatchShape {
            step: 4,
            tensor: "inputs",
            ..
        })
    ));
    assert!(TinyDetector::new(&vs.root(), &d.with_image_size(100)).is_err());
}

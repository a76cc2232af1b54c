//! Trains TinyDetector on the synthetic shapes set and reports validation mAP@0.5.
//!
//! `cargo run --release -p lockstep-nn --example train_detector -- [epochs] [threads]`

use std::num::NonZeroU64;
use std::time::Instant;

use lockstep_nn::images::shapes_batch;
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::{
    Batch, DetectorConfig, LrSchedule, OptimizerConfig, TinyDetector, TrainConfig, Trainer,
};
use lockstep_postprocess::{evaluate, Detection, EvalConfig, GroundTruth};
use lockstep_seeding::SeedTree;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // lockstep-nn only checks what cuBLAS reads; a binary sets it before anything runs.
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    }
    let args: Vec<String> = std::env::args().collect();
    let epochs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15);
    let threads: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let (train_n, val_n, batch) = (2000u64, 300u64, 32u64);
    let root = SeedTree::from_u64(2024);
    let det = DetectorConfig::default();
    let t0 = Instant::now();
    let (images, objects) = shapes_batch(&root.child("train"), 0, train_n, det.image_size)?;
    let targets = build_targets(&objects, &det)?;
    let (val_images, val_objects) = shapes_batch(&root.child("val"), 0, val_n, det.image_size)?;
    eprintln!("data in {:.1}s", t0.elapsed().as_secs_f64());
    let steps_per_epoch = train_n.div_ceil(batch);
    let steps = TrainConfig::steps_for_epochs(epochs, train_n, batch);
    let config = TrainConfig::default()
        .with_steps(steps)
        .with_batch_size(batch)
        .with_schedule(LrSchedule::Cosine {
            base: 3e-3,
            min: 3e-5,
            warmup: 50,
            total: steps,
        })
        .with_optimizer(OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        })
        .with_threads(threads);
    let run = root.child("run");
    let mut trainer = Trainer::new(config, run.clone(), |vs| TinyDetector::new(vs, &det))?;
    // Sampler: a fresh permutation per epoch from the seed tree.
    let order_root = root.child("order");
    let mut perm_epoch = u64::MAX;
    let mut perm: Vec<i64> = Vec::new();
    let mut source = |k: u64| -> lockstep_nn::Result<Batch> {
        let epoch = k / steps_per_epoch;
        if epoch != perm_epoch {
            perm = (0..train_n as i64).collect();
            let mut rng = order_root.child_index("epoch", epoch).rng();
            for i in (1..perm.len()).rev() {
                let j =
                    rng.below(NonZeroU64::new(i as u64 + 1).unwrap_or(NonZeroU64::MIN)) as usize;
                perm.swap(i, j);
            }
            perm_epoch = epoch;
        }
        let start = ((k % steps_per_epoch) * batch) as usize;
        let end = (start + batch as usize).min(perm.len());
        let idx = Tensor::from_slice(&perm[start..end]);
        Ok(Batch {
            inputs: images.index_select(0, &idx),
            targets: targets.index_select(0, &idx),
        })
    };
    let t1 = Instant::now();
    trainer.run(&mut source, steps)?;
    let train_s = t1.elapsed().as_secs_f64();
    let pred = trainer.predict(&val_images)?;
    let dets = trainer.model().decode(&pred.to_kind(Kind::Float), 0.05)?;
    let all: Vec<Detection> = dets.into_iter().flatten().collect();
    let gts: Vec<GroundTruth> = val_objects
        .iter()
        .enumerate()
        .flat_map(|(i, objs)| {
            objs.iter().map(move |o| GroundTruth {
                image_id: i as u64,
                class: o.class,
                bbox: o.bbox,
                crowd: false,
            })
        })
        .collect();
    let report = evaluate(&all, &gts, &EvalConfig::default())?;
    println!(
        "epochs {epochs} steps {steps} threads {threads}: train {train_s:.1}s ({:.1} ms/step), final loss {:.4}, val mAP@0.5 {:.3}, mAP {:.3}, model {}",
        1e3 * train_s / steps as f64,
        trainer.losses().last().copied().unwrap_or(f32::NAN),
        report.map_50,
        report.map,
        trainer.model_fingerprint()?
    );
    Ok(())
}

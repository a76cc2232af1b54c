//! Shared fixtures: a tiny classifier run whose batches are a pure function of the step.
#![allow(dead_code)]

use std::path::PathBuf;

use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::{
    Batch, ClassifierConfig, DeviceConfig, LrSchedule, Mode, OptimizerConfig, ProgressMode,
    SmallCnn, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

pub const BATCH: i64 = 8;

pub fn classifier() -> ClassifierConfig {
    ClassifierConfig {
        channels: 1,
        size: 8,
        classes: 3,
        dropout: 0.25,
    }
}

pub fn config(steps: u64, optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig {
        steps,
        batch_size: BATCH,
        schedule: LrSchedule::Cosine {
            base: 0.01,
            min: 0.001,
            warmup: 2,
            total: steps.max(3),
        },
        optimizer,
        device: DeviceConfig::Cpu,
        threads: 1,
        mode: Mode::Strict,
        cpu_capability: None,
        nan_guard: true,
    }
}

pub fn seed(root: u64) -> SeedTree {
    SeedTree::from_u64(root).child("run")
}

pub fn new_trainer(config: TrainConfig, seed: SeedTree) -> Trainer<SmallCnn> {
    let c = classifier();
    let mut t = Trainer::new(config, seed, |vs| SmallCnn::new(vs, &c)).unwrap();
    t.set_progress(ProgressMode::Off);
    t
}

/// The batch of step `k`: inputs from counter draws of `data/batch[k]`, labels from
/// the same node (a learnable rule: the label is the brightest quadrant's index mod 3).
pub fn batch(k: u64) -> lockstep_nn::Result<Batch> {
    let node = SeedTree::from_u64(99).child("data").child_index("batch", k);
    let n = BATCH as usize * 64;
    let values: Vec<f32> = (0..n as u64).map(|i| node.f32_at(i)).collect();
    let labels: Vec<i64> = (0..BATCH as u64)
        .map(|i| (node.u64_at(n as u64 + i) % 3) as i64)
        .collect();
    Ok(Batch {
        inputs: Tensor::from_slice(&values).view([BATCH, 1, 8, 8]),
        targets: Tensor::from_slice(&labels).to_kind(Kind::Int64),
    })
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lockstep-nn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn losses_bits(t: &Trainer<SmallCnn>) -> Vec<u32> {
    t.losses().iter().map(|l| l.to_bits()).collect()
}

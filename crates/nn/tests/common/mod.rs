//! Shared fixtures: a tiny classifier run whose batches are a pure function of the step.
#![allow(dead_code)]

use std::path::PathBuf;

use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::{
    Batch, BatchSource, ClassifierConfig, LrSchedule, OptimizerConfig, ProgressMode, SmallCnn,
    SourceState, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

pub const BATCH: i64 = 8;

pub fn classifier() -> ClassifierConfig {
    ClassifierConfig::default()
        .with_channels(1)
        .with_size(8)
        .with_classes(3)
        .with_dropout(0.25)
}

pub fn config(steps: u64, optimizer: OptimizerConfig) -> TrainConfig {
    TrainConfig::default()
        .with_steps(steps)
        .with_batch_size(BATCH as u64)
        .with_schedule(LrSchedule::Cosine {
            base: 0.01,
            min: 0.001,
            warmup: 2,
            total: steps.max(3),
        })
        .with_optimizer(optimizer)
        .with_threads(1)
        .with_nan_guard(true)
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

/// The batch of step `k`: inputs are uniform `f32` counter draws of `data/batch[k]`
/// (indices `0 .. 8·64`), labels the next 8 counter draws of the same node mod 3. The
/// labels are independent of the inputs, so there is nothing to learn: these runs test
/// that training is reproducible, not that it converges (the detector tests do that).
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

/// [`batch`] as a source with a position: it checks that it is asked for the step it
/// is at, and its position travels in checkpoints.
pub struct Counted {
    pub next: u64,
}

impl BatchSource for Counted {
    fn batch(&mut self, step: u64) -> lockstep_nn::Result<Batch> {
        assert_eq!(step, self.next, "asked for another step than the position");
        self.next += 1;
        batch(step)
    }
    fn state(&self) -> lockstep_nn::Result<SourceState> {
        SourceState::new(&self.next)
    }
    fn restore(&mut self, state: &SourceState) -> lockstep_nn::Result<()> {
        self.next = state.get::<u64>()?.unwrap_or(0);
        Ok(())
    }
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

//! Trains TinyDetector for a few steps and prints the model fingerprint, to compare
//! runs across processes, thread counts and machines.
//!
//! `cargo run --release -p lockstep-nn --example fingerprint_run -- <threads> [steps] [strict|default]`

use lockstep_nn::images::shapes_batch;
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::{
    Batch, DetectorConfig, DeterminismMode as Mode, LrSchedule, OptimizerConfig, ProgressMode,
    TinyDetector, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // lockstep-nn only checks what cuBLAS reads; a binary sets it before anything runs.
    if std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
    }
    let args: Vec<String> = std::env::args().collect();
    let threads: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let steps: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let mode = if args.get(3).map(String::as_str) == Some("default") {
        Mode::Default
    } else {
        Mode::Strict
    };
    let det = DetectorConfig::default();
    let (images, objects) = shapes_batch(&SeedTree::from_u64(5), 0, 256, 96)?;
    let targets = build_targets(&objects, &det)?;
    let config = TrainConfig::default()
        .with_steps(steps)
        .with_batch_size(32)
        .with_schedule(LrSchedule::Constant { base: 1e-3 })
        .with_optimizer(OptimizerConfig::adamw())
        .with_threads(threads)
        .with_mode(mode);
    let mut t = Trainer::new(config, SeedTree::from_u64(6).child("run"), |vs| {
        TinyDetector::new(vs, &det)
    })?;
    t.set_progress(ProgressMode::Off);
    let mut source = |k: u64| {
        let start = (k as i64 * 32) % 256;
        Ok(Batch {
            inputs: images.narrow(0, start, 32),
            targets: targets.narrow(0, start, 32),
        })
    };
    t.run(&mut source, steps)?;
    println!(
        "threads {threads} mode {mode:?} steps {steps} cpu {:?}: model {} first loss bits {:08x}",
        t.determinism_report().cpu_capability,
        t.model_fingerprint()?,
        t.losses().first().map_or(0, |l| l.to_bits())
    );
    Ok(())
}

//! `cargo bench -p lockstep-nn --bench nn`: one TinyDetector training step at batch 32
//! (96×96, AdamW), in strict and default determinism modes, and with trace mode on.
//! The peer (`bench/peers/nn.py`) times the same model, loss and optimizer in PyTorch.
//!
//! Threads: `LOCKSTEP_BENCH_THREADS` (default 2); the peer reads the same variable.

use lockstep_benchkit::Suite;
use lockstep_nn::images::shapes_batch;
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::{
    Batch, DetectorConfig, DeterminismConfig, DeterminismMode as Mode, LrSchedule, OptimizerConfig,
    ProgressMode, TinyDetector, TraceOptions, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

const BATCH: u64 = 32;

fn trainer(mode: Mode, threads: u32) -> Trainer<TinyDetector> {
    let config = TrainConfig::default()
        .with_steps(u64::MAX)
        .with_batch_size(BATCH)
        .with_schedule(LrSchedule::Constant { base: 1e-3 })
        .with_optimizer(OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        })
        .with_threads(threads)
        .with_mode(mode)
        .with_nan_guard(false);
    let det = DetectorConfig::default();
    let mut t = Trainer::new(config, SeedTree::from_u64(1).child("bench"), |vs| {
        TinyDetector::new(vs, &det)
    })
    .expect("trainer");
    t.set_progress(ProgressMode::Off);
    t
}

fn main() {
    let threads: u32 = std::env::var("LOCKSTEP_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let suite = Suite::new("nn");
    let det = DetectorConfig::default();
    let (images, objects) =
        shapes_batch(&SeedTree::from_u64(9), 0, BATCH, det.image_size).expect("data");
    let targets = build_targets(&objects, &det).expect("targets");
    // The same fixed batch every step; two sources, so two trainers can step in turn.
    let fixed = |_k: u64| {
        Ok(Batch {
            inputs: images.shallow_clone(),
            targets: targets.shallow_clone(),
        })
    };
    let mut source = fixed;
    let mut other_source = fixed;

    // The determinism mode is process-wide: each trainer sets it when it is built, so
    // the mode is applied again right before each case, and each case is warmed up.
    let warm = |t: &mut Trainer<TinyDetector>, source: &mut dyn lockstep_nn::BatchSource| {
        for _ in 0..20 {
            t.train_step(source).expect("warm-up step");
        }
    };
    let apply = |mode: Mode| {
        let config = DeterminismConfig::strict(threads).with_mode(mode);
        lockstep_nn::determinism::enable(&config).expect("determinism switch");
    };
    let mut strict = trainer(Mode::Strict, threads);
    let mut default = trainer(Mode::Default, threads);
    // The cost of determinism: strict mode is "ours", libtorch's default mode is the
    // peer, so the report's ratio is default time over strict time; at most 5% more
    // time in strict mode is a ratio of at least 1/1.05. The first steps of a process
    // are slower (allocator and thread pool warm-up), so both are warmed up well, and
    // the two modes take turns sample by sample so drift in the machine hits both.
    apply(Mode::Default);
    warm(&mut default, &mut other_source);
    apply(Mode::Strict);
    warm(&mut strict, &mut source);
    let (r, default_mode) = suite.measure_alternating(
        "determinism cost (strict vs default)",
        BATCH,
        "libtorch-default-mode",
        |_| {
            apply(Mode::Strict);
            strict.train_step(&mut source).expect("step")
        },
        |_| {
            apply(Mode::Default);
            default.train_step(&mut other_source).expect("step")
        },
    );
    suite.emit(&default_mode);
    apply(Mode::Strict);
    // The same strict-mode measurement is our side against PyTorch.
    let mut against_torch = r.clone();
    against_torch.case = "train step b32".into();
    suite.emit(&against_torch.min_speedup("torch", 0.95));
    let mut untraced = r.clone();
    suite.emit(&r.min_speedup("libtorch-default-mode", 1.0 / 1.05));
    // Trace mode against the same strict step without it.
    untraced.implementation = "untraced".into();
    untraced.case = "trace mode overhead".into();
    untraced.min_speedup.clear();
    suite.emit(&untraced);

    let mut traced = trainer(Mode::Strict, threads);
    let dir = std::env::temp_dir().join(format!("lockstep-nn-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    traced
        .enable_trace(&dir.join("trace.jsonl"), TraceOptions::default())
        .expect("trace");
    let r = suite.measure("trace mode overhead", BATCH, |_| {
        traced.train_step(&mut source).expect("step")
    });
    suite.emit(&r);
    traced.finish_trace().expect("flush");
    let _ = std::fs::remove_dir_all(&dir);
}

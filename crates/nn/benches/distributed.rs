//! `cargo bench -p lockstep-nn --bench distributed` (`cargo xtask bench distributed`):
//! the costs of data-parallel training (docs/distributed.md), as ratios of two of our
//! own configurations measured alternately in one run, so drift in the machine's speed
//! falls on both alike. TinyDetector, global batch 32 at 96×96, AdamW, strict mode.
//!
//! - **micro-batching**: `W = 1` with `M = 4` micro-batches (gradient accumulation
//!   through the gather-and-fold path) against the undivided step (`M = 1`), both with
//!   `LOCKSTEP_BENCH_THREADS` intra-op threads (default 2).
//! - **world-size invariance**: at `W = 2`, `M = 4`, the ordered all-gather against
//!   the fast all-reduce, on the in-process `Threads` backend (two ranks as threads of
//!   this process, one intra-op thread each). The ranks' forward and backward passes
//!   take turns (they hold the process-wide generator lock), so the ratio isolates what
//!   differs between the modes: the exchange and the fold.
//! - **all-gather bytes**: what each rank receives per step, counted by a wrapper
//!   around the collective, at `M = 2, 4, 8` and at two model widths (standard error:
//!   no record, since a record's unit is time).
//!
//! No target: issue 12 asks for the ratios, not a bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use lockstep_benchkit::Suite;
use lockstep_distributed::{Collective, ThreadRank, Threads};
use lockstep_nn::images::shapes_batch;
use lockstep_nn::models::detector::build_targets;
use lockstep_nn::{
    Batch, DetectorConfig, GradientReduction, LrSchedule, OptimizerConfig, ParallelOptions,
    ProgressMode, TinyDetector, TrainConfig, Trainer,
};
use lockstep_seeding::SeedTree;

const BATCH: u64 = 32;
const MICRO: u64 = 4;
const WARM_UP: u64 = 20;

fn config(micro_batches: u64, reduction: GradientReduction, threads: u32) -> TrainConfig {
    TrainConfig::default()
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
        .with_micro_batches(micro_batches)
        .with_reduction(reduction)
        .with_nan_guard(false)
}

fn trainer(config: TrainConfig, det: &DetectorConfig) -> Trainer<TinyDetector> {
    let mut t = Trainer::new(config, SeedTree::from_u64(1).child("bench"), |vs| {
        TinyDetector::new(vs, det)
    })
    .expect("trainer");
    t.set_progress(ProgressMode::Off);
    t
}

/// The same fixed batch every step (as in the `nn` suite), built in the calling thread.
fn fixed_source(det: &DetectorConfig) -> impl FnMut(u64) -> lockstep_nn::Result<Batch> {
    let (images, objects) =
        shapes_batch(&SeedTree::from_u64(9), 0, BATCH, det.image_size).expect("data");
    let targets = build_targets(&objects, det).expect("targets");
    move |_k| {
        Ok(Batch {
            inputs: images.shallow_clone(),
            targets: targets.shallow_clone(),
        })
    }
}

/// A rank that counts the bytes its collectives deliver into it.
#[derive(Debug)]
struct Counting {
    inner: ThreadRank,
    received: Arc<AtomicU64>,
}

impl Counting {
    fn add(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

impl Collective for Counting {
    fn rank(&self) -> u32 {
        self.inner.rank()
    }
    fn world(&self) -> u32 {
        self.inner.world()
    }
    fn all_gather(&self, send: &[u8], recv: &mut [u8]) -> lockstep_distributed::Result<()> {
        self.add(recv.len());
        self.inner.all_gather(send, recv)
    }
    fn broadcast(&self, root: u32, buf: &mut [u8]) -> lockstep_distributed::Result<()> {
        self.add(buf.len());
        self.inner.broadcast(root, buf)
    }
    fn barrier(&self) -> lockstep_distributed::Result<()> {
        self.inner.barrier()
    }
    fn all_reduce_sum_f32(&self, buf: &mut [f32]) -> lockstep_distributed::Result<()> {
        self.add(4 * buf.len());
        self.inner.all_reduce_sum_f32(buf)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Trainable parameters of the model built by `det`.
fn parameters(det: &DetectorConfig) -> i64 {
    let t = trainer(config(1, GradientReduction::Ordered, 1), det);
    t.var_store()
        .trainable_variables()
        .iter()
        .map(|v| v.numel() as i64)
        .sum()
}

/// Bytes rank 0 receives per step at `W = 2` (the mean over `steps` steps, which
/// includes no fingerprint comparison: those come every 10 steps).
fn bytes_per_step(
    det: &DetectorConfig,
    micro: u64,
    reduction: GradientReduction,
    steps: u64,
) -> u64 {
    let ranks = Threads::group(2).expect("group");
    let counted: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank| {
                s.spawn(move || {
                    let received = Arc::new(AtomicU64::new(0));
                    let mut t = trainer(config(micro, reduction, 1), det);
                    t.distribute(
                        Box::new(Counting {
                            inner: rank,
                            received: Arc::clone(&received),
                        }),
                        ParallelOptions::default(),
                    )
                    .expect("join");
                    received.store(0, Ordering::Relaxed);
                    let mut source = fixed_source(det);
                    for _ in 0..steps {
                        t.train_step(&mut source).expect("step");
                    }
                    received.load(Ordering::Relaxed) / steps
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rank thread"))
            .collect()
    });
    counted[0]
}

/// Which of rank 1's trainers takes the next step.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Ordered,
    Fast,
}

fn main() {
    let threads: u32 = std::env::var("LOCKSTEP_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let suite = Suite::new("distributed");
    let det = DetectorConfig::default();

    // (1) The cost of micro-batching at W = 1: M = 4 ("ours") against the undivided
    // step (the peer), so the ratio is undivided time over micro-batched time.
    {
        let mut micro = trainer(config(MICRO, GradientReduction::Ordered, threads), &det);
        let mut whole = trainer(config(1, GradientReduction::Ordered, threads), &det);
        let mut micro_source = fixed_source(&det);
        let mut whole_source = fixed_source(&det);
        for _ in 0..WARM_UP {
            micro.train_step(&mut micro_source).expect("warm-up step");
            whole.train_step(&mut whole_source).expect("warm-up step");
        }
        let (ours, peer) = suite.measure_alternating(
            "micro-batching W=1 M=4 vs M=1",
            BATCH,
            "undivided",
            |_| micro.train_step(&mut micro_source).expect("step"),
            |_| whole.train_step(&mut whole_source).expect("step"),
        );
        suite.emit(&peer);
        suite.emit(&ours);
    }

    // (2) The cost of world-size invariance at W = 2, M = 4: the ordered all-gather
    // ("ours") against the fast all-reduce (the peer). Rank 1 lives in a helper thread
    // holding one trainer of each mode and steps whichever the main thread names; the
    // timed call covers both ranks' whole step.
    let ordered_ranks = Threads::group(2).expect("group");
    let fast_ranks = Threads::group(2).expect("group");
    let [ordered0, ordered1]: [ThreadRank; 2] = ordered_ranks.try_into().expect("two ranks");
    let [fast0, fast1]: [ThreadRank; 2] = fast_ranks.try_into().expect("two ranks");
    std::thread::scope(|s| {
        let (to_rank1, commands) = mpsc::channel::<Mode>();
        let (done_tx, done) = mpsc::channel::<()>();
        let det = &det;
        s.spawn(move || {
            let options = ParallelOptions::default();
            let mut ordered = trainer(config(MICRO, GradientReduction::Ordered, 1), det);
            ordered
                .distribute(Box::new(ordered1), options.clone())
                .expect("join");
            let mut fast = trainer(config(MICRO, GradientReduction::AllReduce, 1), det);
            fast.distribute(Box::new(fast1), options).expect("join");
            let mut source = fixed_source(det);
            // Ends when the main thread drops its sender (also when it panics).
            while let Ok(mode) = commands.recv() {
                match mode {
                    Mode::Ordered => ordered.train_step(&mut source),
                    Mode::Fast => fast.train_step(&mut source),
                }
                .expect("rank 1 step");
                if done_tx.send(()).is_err() {
                    break;
                }
            }
        });
        let options = ParallelOptions::default();
        let mut ordered = trainer(config(MICRO, GradientReduction::Ordered, 1), det);
        ordered
            .distribute(Box::new(ordered0), options.clone())
            .expect("join");
        let mut fast = trainer(config(MICRO, GradientReduction::AllReduce, 1), det);
        fast.distribute(Box::new(fast0), options).expect("join");
        let mut source = fixed_source(det);
        let mut step = |mode: Mode| {
            to_rank1.send(mode).expect("rank 1 gone");
            let loss = match mode {
                Mode::Ordered => ordered.train_step(&mut source),
                Mode::Fast => fast.train_step(&mut source),
            }
            .expect("rank 0 step");
            done.recv().expect("rank 1 step failed");
            loss
        };
        for _ in 0..WARM_UP {
            step(Mode::Ordered);
            step(Mode::Fast);
        }
        let step = std::cell::RefCell::new(step);
        let (ours, peer) = suite.measure_alternating(
            "invariance W=2 M=4 gather vs reduce",
            BATCH,
            "all-reduce",
            |_| (step.borrow_mut())(Mode::Ordered),
            |_| (step.borrow_mut())(Mode::Fast),
        );
        suite.emit(&peer);
        suite.emit(&ours);
    });

    // (3) What the all-gather moves: bytes delivered into rank 0 per step at W = 2.
    let steps = 3;
    let mut wide = det.clone();
    wide.width = 2 * det.width;
    for model in [&det, &wide] {
        let p = parameters(model);
        eprintln!(
            "bench distributed/bytes: TinyDetector width {} ({p} parameters, {} KB of f32)",
            model.width,
            4 * p / 1000
        );
        for micro in [2, 4, 8] {
            let ordered = bytes_per_step(model, micro, GradientReduction::Ordered, steps);
            let fast = bytes_per_step(model, micro, GradientReduction::AllReduce, steps);
            eprintln!(
                "bench distributed/bytes:   W=2 M={micro}: ordered all-gather {ordered} B \
                 received per rank per step, fast all-reduce {fast} B ({:.2}x)",
                ordered as f64 / fast as f64
            );
        }
    }
}

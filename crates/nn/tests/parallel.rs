//! Micro-batches and data-parallel training: the same bits at every world size that
//! divides the micro-batch count (BatchNorm statistics included), `M = 1` equal to the
//! undivided step, faults and divergences named, rank-0 checkpoints and elastic resume.

mod common;

use common::*;
use lockstep_distributed::{Collective, Solo, ThreadRank, Threads};
use lockstep_nn::models::Tap;
use lockstep_nn::tch::nn::{self, Init, VarStore};
use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::{
    Batch, BatchSource, Error, Fingerprint, GradientReduction, Model, OptimizerConfig,
    ParallelError, ParallelOptions, ProgressMode, Result, TrainConfig, Trainer,
};

/// conv → BatchNorm (train-mode statistics, running buffers) → ReLU → mean pool →
/// dropout → linear: every kind of state the exchange has to keep world-invariant.
#[derive(Debug)]
struct BnNet {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    fc: nn::Linear,
}

impl BnNet {
    fn new(vs: &nn::Path<'_>) -> Result<Self> {
        let bn = nn::BatchNormConfig {
            ws_init: Init::Const(1.0),
            ..Default::default()
        };
        Ok(Self {
            conv: nn::conv2d(vs / "conv", 1, 4, 3, Default::default()),
            bn: nn::batch_norm2d(vs / "bn", 4, bn),
            fc: nn::linear(vs / "fc", 4, 3, Default::default()),
        })
    }
}

impl Model for BnNet {
    fn check_batch(&self, _step: u64, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    fn forward_tapped(&self, x: &Tensor, train: bool, tap: &mut Tap<'_>) -> Result<Tensor> {
        let y = x.f_conv2d(
            &self.conv.ws,
            self.conv.bs.as_ref(),
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        )?;
        let y = y.f_batch_norm(
            self.bn.ws.as_ref(),
            self.bn.bs.as_ref(),
            Some(&self.bn.running_mean),
            Some(&self.bn.running_var),
            train,
            0.1,
            1e-5,
            true,
        )?;
        tap("bn", &y)?;
        let y = y.f_relu()?.f_mean_dim(&[2i64, 3][..], false, Kind::Float)?;
        let y = y.f_dropout(0.25, train)?;
        Ok(y.f_linear(&self.fc.ws, self.fc.bs.as_ref())?)
    }
    fn loss(&self, output: &Tensor, targets: &Tensor) -> Result<Tensor> {
        Ok(output.f_cross_entropy_loss::<Tensor>(
            targets,
            None,
            lockstep_nn::tch::Reduction::Mean,
            -100,
            0.0,
        )?)
    }
}

fn micro_config(steps: u64, m: u64) -> TrainConfig {
    config(steps, OptimizerConfig::adamw()).with_micro_batches(m)
}

fn bn_trainer(config: TrainConfig) -> Trainer<BnNet> {
    let mut t = Trainer::new(config, seed(3), BnNet::new).unwrap();
    t.set_progress(ProgressMode::Off);
    t
}

/// What a run ends with: weights (buffers included), optimizer state, loss bits.
type Outcome = (Fingerprint, Fingerprint, Vec<u32>);

fn outcome<M: Model>(t: &Trainer<M>) -> Outcome {
    (
        t.model_fingerprint().unwrap(),
        t.optimizer_fingerprint().unwrap(),
        t.losses().iter().map(|l| l.to_bits()).collect(),
    )
}

/// Trains `steps` steps of the BatchNorm net at `m` micro-batches on `world` threads.
fn bn_run_on(world: u32, m: u64, steps: u64, reduction: GradientReduction) -> Vec<Outcome> {
    let ranks = Threads::group(world).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank: ThreadRank| {
                s.spawn(move || {
                    let mut t = bn_trainer(micro_config(steps, m).with_reduction(reduction));
                    t.distribute(
                        Box::new(rank),
                        ParallelOptions::default().with_check_every(2),
                    )
                    .unwrap();
                    t.run(&mut Counted { next: 0 }, steps).unwrap();
                    outcome(&t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn every_world_dividing_m_gives_the_same_bits_batchnorm_included() {
    let mut single = bn_trainer(micro_config(4, 4));
    let before = single.var_store().variables()["bn.running_mean"].copy();
    single.run(&mut Counted { next: 0 }, 4).unwrap();
    let after = single.var_store().variables()["bn.running_mean"].copy();
    assert!(!before.equal(&after), "the running statistics moved");
    let want = outcome(&single);
    for world in [1, 2, 4] {
        for got in bn_run_on(world, 4, 4, GradientReduction::Ordered) {
            assert_eq!(got, want, "world {world}");
        }
    }
    // Another M is another computation (other dropout keys, other statistics).
    let mut two = bn_trainer(micro_config(4, 2));
    two.run(&mut Counted { next: 0 }, 4).unwrap();
    assert_ne!(outcome(&two).0, want.0);
}

#[test]
fn one_micro_batch_through_a_group_equals_the_undivided_step() {
    let mut plain = new_trainer(config(5, OptimizerConfig::adamw()), seed(1));
    plain.run(&mut Counted { next: 0 }, 5).unwrap();
    let mut grouped = new_trainer(config(5, OptimizerConfig::adamw()), seed(1));
    grouped
        .distribute(Box::new(Solo), ParallelOptions::default())
        .unwrap();
    grouped.run(&mut Counted { next: 0 }, 5).unwrap();
    assert_eq!(outcome(&grouped), outcome(&plain));
    // BatchNorm too: the step's buffers are the one micro-batch's.
    let mut bn_plain = bn_trainer(micro_config(3, 1));
    bn_plain.run(&mut Counted { next: 0 }, 3).unwrap();
    let mut bn_grouped = bn_trainer(micro_config(3, 1));
    bn_grouped
        .distribute(Box::new(Solo), ParallelOptions::default())
        .unwrap();
    bn_grouped.run(&mut Counted { next: 0 }, 3).unwrap();
    assert_eq!(outcome(&bn_grouped), outcome(&bn_plain));
}

#[test]
fn an_undivided_config_serialises_as_before() {
    let json = serde_json::to_value(config(5, OptimizerConfig::adamw())).unwrap();
    assert!(json.get("micro_batches").is_none() && json.get("reduction").is_none());
    let back: TrainConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back.micro_batches, 1);
    let four = serde_json::to_value(micro_config(5, 4)).unwrap();
    assert_eq!(four["micro_batches"], 4);
    assert!(micro_config(5, 0).validate().is_err());
    assert!(micro_config(5, BATCH as u64 + 1).validate().is_err());
}

#[test]
fn the_fast_mode_sums_in_a_world_dependent_order() {
    let ordered = bn_run_on(1, 4, 3, GradientReduction::Ordered);
    let fast_one = bn_run_on(1, 4, 3, GradientReduction::AllReduce);
    let fast_two = bn_run_on(2, 4, 3, GradientReduction::AllReduce);
    // One rank: its own ordered sum is the whole sum.
    assert_eq!(fast_one[0], ordered[0]);
    // Two ranks: (g0 + g1) + (g2 + g3) is another association; the ranks still agree.
    assert_eq!(fast_two[0], fast_two[1]);
    assert_ne!(fast_two[0].0, ordered[0].0);
}

#[test]
fn a_world_that_does_not_divide_m_is_refused() {
    let mut t = bn_trainer(micro_config(3, 4));
    let mut ranks = Threads::group(3).unwrap();
    let err = t
        .distribute(Box::new(ranks.remove(0)), ParallelOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("divide"), "{err}");
}

#[test]
fn a_rank_that_leaves_stops_the_others_with_an_error() {
    let ranks = Threads::group(2).unwrap();
    let results: Vec<Option<Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank| {
                s.spawn(move || {
                    let leaves = rank.rank() == 1;
                    let mut t = bn_trainer(micro_config(6, 2));
                    t.distribute(Box::new(rank), ParallelOptions::default())
                        .unwrap();
                    let mut source = Counted { next: 0 };
                    t.run(&mut source, 2).unwrap();
                    if leaves {
                        return None; // dropped: leaves the group mid-run
                    }
                    t.run(&mut source, 6).err()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    match &results[0] {
        Some(Error::Parallel(ParallelError::Collective { step: 2, source })) => {
            assert!(source.to_string().contains("rank 1"), "{source}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ranks_with_other_weights_are_named_with_the_step() {
    let ranks = Threads::group(2).unwrap();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank| {
                s.spawn(move || {
                    let r = rank.rank();
                    let mut t = bn_trainer(micro_config(6, 2));
                    t.distribute(
                        Box::new(rank),
                        ParallelOptions::default().with_check_every(1),
                    )
                    .unwrap();
                    t.run(&mut Counted { next: 0 }, 1)?;
                    if r == 1 {
                        let _g = lockstep_nn::tch::no_grad_guard();
                        let mut w = t.var_store().variables()["fc.bias"].shallow_clone();
                        let _ = w.f_add_scalar_(1e-3).unwrap();
                    }
                    t.run(&mut Counted { next: 1 }, 2)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        match r {
            Err(Error::Parallel(ParallelError::RanksDiverged { step: 2, ranks, .. })) => {
                assert_eq!(ranks, [1])
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn rank_zero_writes_and_a_resume_at_another_world_equals_the_uninterrupted_run() {
    let dir = temp_dir("parallel-resume");
    let steps = 5;
    let mut whole = bn_trainer(micro_config(steps, 4));
    whole.run(&mut Counted { next: 0 }, steps).unwrap();
    // Two ranks, checkpoint after step 2 (rank 0 writes, both learn the folder).
    let ranks = Threads::group(2).unwrap();
    let written: Vec<std::path::PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank| {
                let dir = dir.clone();
                s.spawn(move || {
                    let mut t = bn_trainer(micro_config(steps, 4));
                    t.distribute(Box::new(rank), ParallelOptions::default())
                        .unwrap();
                    let mut source = Counted { next: 0 };
                    t.run(&mut source, 2).unwrap();
                    t.save_checkpoint(&dir, source.state().unwrap()).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(written[0], written[1]);
    assert!(written[0].starts_with(&dir));
    // Resume in one process at W = 1, and at W = 4 on threads.
    let mut source = Counted { next: 0 };
    let mut resumed = Trainer::resume(
        micro_config(steps, 4),
        seed(3),
        BnNet::new,
        &dir,
        &mut source,
    )
    .unwrap();
    resumed.set_progress(ProgressMode::Off);
    assert_eq!(resumed.step(), 2);
    resumed.run(&mut source, steps).unwrap();
    assert_eq!(outcome(&resumed), outcome(&whole));
    let ranks = Threads::group(4).unwrap();
    let four: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = ranks
            .into_iter()
            .map(|rank| {
                let dir = dir.clone();
                s.spawn(move || {
                    let mut source = Counted { next: 0 };
                    let mut t = Trainer::resume(
                        micro_config(steps, 4),
                        seed(3),
                        BnNet::new,
                        &dir,
                        &mut source,
                    )
                    .unwrap();
                    t.set_progress(ProgressMode::Off);
                    t.distribute(Box::new(rank), ParallelOptions::default())
                        .unwrap();
                    t.run(&mut source, steps).unwrap();
                    outcome(&t)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for got in four {
        assert_eq!(got, outcome(&whole));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_step_with_fewer_samples_than_micro_batches_is_refused() {
    let mut t = bn_trainer(micro_config(3, 4));
    let mut tiny = |k: u64| {
        let b = batch(k)?;
        Ok(Batch {
            inputs: b.inputs.narrow(0, 0, 3),
            targets: b.targets.narrow(0, 0, 3),
        })
    };
    let err = t.train_step(&mut tiny).unwrap_err();
    assert!(err.to_string().contains("one per micro-batch"), "{err}");
    let _ = VarStore::new(lockstep_nn::tch::Device::Cpu);
}

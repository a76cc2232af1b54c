//! Reproducibility, trace and bad-input behaviour of the trainer on the small classifier.

mod common;

use common::*;
use lockstep_nn::tch::{Kind, Tensor};
use lockstep_nn::trace::{compare, read_trace, Phase};
use lockstep_nn::{Batch, Error, OptimizerConfig, TraceOptions};

#[test]
fn same_seed_same_bits_other_seed_other_bits() {
    let mut a = new_trainer(config(6, OptimizerConfig::adamw()), seed(1));
    let mut b = new_trainer(config(6, OptimizerConfig::adamw()), seed(1));
    let mut c = new_trainer(config(6, OptimizerConfig::adamw()), seed(2));
    // Same init.
    assert_eq!(
        a.model_fingerprint().unwrap(),
        b.model_fingerprint().unwrap()
    );
    assert_ne!(
        a.model_fingerprint().unwrap(),
        c.model_fingerprint().unwrap()
    );
    for t in [&mut a, &mut b, &mut c] {
        t.run(&mut batch, 6).unwrap();
    }
    assert_eq!(
        a.model_fingerprint().unwrap(),
        b.model_fingerprint().unwrap()
    );
    assert_eq!(
        a.optimizer_fingerprint().unwrap(),
        b.optimizer_fingerprint().unwrap()
    );
    assert_eq!(losses_bits(&a), losses_bits(&b));
    assert_ne!(
        a.model_fingerprint().unwrap(),
        c.model_fingerprint().unwrap()
    );
    assert_eq!(a.step(), 6);
    assert!(a.losses().iter().all(|l| l.is_finite()));
}

#[test]
fn traces_match_and_compare_locates_an_injected_change() {
    let dir = temp_dir("trace");
    let run = |path: &std::path::Path, perturb_step: Option<u64>| {
        let mut t = new_trainer(config(3, OptimizerConfig::sgd(0.9)), seed(5));
        t.enable_trace(path, TraceOptions::default()).unwrap();
        let mut source = |k: u64| {
            let mut b = batch(k)?;
            if Some(k) == perturb_step {
                // One label changes: the batch differs at step k, and the first tensor
                // downstream of it is the loss.
                let mut labels: Vec<i64> = Vec::<i64>::try_from(&b.targets).unwrap();
                labels[0] = (labels[0] + 1) % 3;
                b.targets = Tensor::from_slice(&labels);
            }
            Ok(b)
        };
        t.run(&mut source, 3).unwrap();
        t.finish_trace().unwrap();
    };
    let (a, b, c) = (
        dir.join("a.jsonl"),
        dir.join("b.jsonl"),
        dir.join("c.jsonl"),
    );
    run(&a, None);
    run(&b, None);
    run(&c, Some(1));
    assert_eq!(compare(&a, &b).unwrap(), None, "two runs trace identically");
    let records = read_trace(&a).unwrap();
    // Per step: 2 batch tensors, 6 module outputs, the loss, 6 gradients, 6 updates.
    assert_eq!(records.len(), 3 * (2 + 6 + 1 + 6 + 6));
    let d = compare(&a, &c).unwrap().expect("a divergence");
    assert_eq!(
        (d.step, d.phase, d.tensor.as_str()),
        (1, Phase::Batch, "targets")
    );
    assert!(d.max_abs_diff.is_some_and(|x| x >= 1.0), "{d}");
    // The forward pass of step 1 is unchanged (same inputs, same weights): the next
    // divergence after the batch is the loss.
    let ra = read_trace(&a).unwrap();
    let rc = read_trace(&c).unwrap();
    let after: Vec<_> = ra
        .iter()
        .zip(&rc)
        .filter(|(x, y)| x.fp != y.fp)
        .map(|(x, _)| (x.step, x.phase))
        .collect();
    assert_eq!(after[0], (1, Phase::Batch));
    assert_eq!(after[1], (1, Phase::Loss));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weights_changed_in_one_layer_are_located() {
    let dir = temp_dir("locate");
    let trace = |path: &std::path::Path, bump: bool| {
        let mut t = new_trainer(config(1, OptimizerConfig::sgd(0.0)), seed(8));
        if bump {
            let _g = lockstep_nn::tch::no_grad_guard();
            let mut w = t.var_store().variables()["conv2.bias"].shallow_clone();
            let _ = w.f_add_scalar_(1e-3).unwrap();
        }
        t.enable_trace(path, TraceOptions::default()).unwrap();
        t.run(&mut batch, 1).unwrap();
        t.finish_trace().unwrap();
    };
    trace(&dir.join("a"), false);
    trace(&dir.join("b"), true);
    let d = compare(&dir.join("a"), &dir.join("b")).unwrap().unwrap();
    assert_eq!(
        (d.step, d.phase, d.module.as_str(), d.tensor.as_str()),
        (0, Phase::Forward, "conv2", "output")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_batches_are_typed_errors() {
    let mut t = new_trainer(config(4, OptimizerConfig::adamw()), seed(3));
    // Wrong spatial size.
    let mut wrong = |_k: u64| {
        Ok(Batch {
            inputs: Tensor::zeros([8, 1, 9, 8], (Kind::Float, lockstep_nn::tch::Device::Cpu)),
            targets: Tensor::zeros([8], (Kind::Int64, lockstep_nn::tch::Device::Cpu)),
        })
    };
    match t.train_step(&mut wrong) {
        Err(Error::BadBatchShape {
            step: 0,
            tensor: "inputs",
            got,
            ..
        }) => assert_eq!(got, vec![8, 1, 9, 8]),
        other => panic!("expected BadBatchShape, got {other:?}"),
    }
    // Too many samples.
    let mut big = |_k: u64| {
        Ok(Batch {
            inputs: Tensor::zeros([9, 1, 8, 8], (Kind::Float, lockstep_nn::tch::Device::Cpu)),
            targets: Tensor::zeros([9], (Kind::Int64, lockstep_nn::tch::Device::Cpu)),
        })
    };
    assert!(matches!(
        t.train_step(&mut big),
        Err(Error::BadBatchShape { .. })
    ));
    // Empty.
    let mut empty = |_k: u64| {
        Ok(Batch {
            inputs: Tensor::zeros([0, 1, 8, 8], (Kind::Float, lockstep_nn::tch::Device::Cpu)),
            targets: Tensor::zeros([0], (Kind::Int64, lockstep_nn::tch::Device::Cpu)),
        })
    };
    assert!(matches!(
        t.train_step(&mut empty),
        Err(Error::EmptyBatch { step: 0 })
    ));
    // Wrong target kind.
    let mut float_targets = |k: u64| {
        let b = batch(k)?;
        Ok(Batch {
            inputs: b.inputs,
            targets: b.targets.to_kind(Kind::Float),
        })
    };
    assert!(matches!(
        t.train_step(&mut float_targets),
        Err(Error::BadBatchShape {
            tensor: "targets",
            ..
        })
    ));
    // A failing source.
    let mut failing = |k: u64| -> lockstep_nn::Result<Batch> {
        Err(Error::BatchSource {
            step: k,
            source: "disk gone".into(),
        })
    };
    assert!(matches!(
        t.train_step(&mut failing),
        Err(Error::BatchSource { step: 0, .. })
    ));
    // Nothing above moved the trainer.
    assert_eq!(t.step(), 0);
    t.train_step(&mut batch).unwrap();
    // NaN inputs: the guard stops at the loss, naming the step.
    let mut nan = |k: u64| {
        let b = batch(k)?;
        Ok(Batch {
            inputs: b.inputs.fill(f64::NAN),
            targets: b.targets,
        })
    };
    match t.train_step(&mut nan) {
        Err(Error::NonFinite {
            step: 1,
            phase: Phase::Loss,
            tensor,
        }) => assert_eq!(tensor, "loss"),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert_eq!(t.step(), 1);
}

//! Check 3's contrast op (atomics that are nondeterministic without the switch) and
//! check 5, the cost of determinism measured alternately in one process.

use std::collections::BTreeSet;
use std::time::Instant;

use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::{
    determinism, tensor_fingerprint, DeterminismConfig, DeterminismMode as Mode, Error,
};

use crate::args::Args;
use crate::result::{write_json, Part, Status};
use crate::workload::{Which, Workload};
use crate::Failure;

/// Inputs without any generator: a fixed, irregular float pattern.
fn pattern(n: i64, d: Device) -> Result<Tensor, Error> {
    Ok(Tensor::f_arange(n, (Kind::Float, d))?
        .f_mul_scalar(0.618_034)?
        .f_sin()?
        .f_mul_scalar(1000.0)?)
}

/// Many-to-few indices: `i * 7919 mod m`.
fn collisions(n: i64, m: i64, d: Device) -> Result<Tensor, Error> {
    Tensor::f_arange(n, (Kind::Int64, d))?
        .f_mul_scalar(7919)?
        .f_remainder(m)
        .map_err(Error::from)
}

fn index_add(d: Device, n: i64) -> Result<Tensor, Error> {
    let mut out = Tensor::f_zeros([97, 16], (Kind::Float, d))?;
    let src = pattern(n * 16, d)?.f_view([n, 16])?;
    let _ = out.f_index_add_(0, &collisions(n, 97, d)?, &src)?;
    Ok(out)
}

fn scatter_add(d: Device, n: i64) -> Result<Tensor, Error> {
    let mut out = Tensor::f_zeros([97], (Kind::Float, d))?;
    let _ = out.f_scatter_add_(0, &collisions(n, 97, d)?, &pattern(n, d)?)?;
    Ok(out)
}

/// The gradient of `index_select` (an embedding lookup) is an `index_add`.
fn index_select_backward(d: Device, n: i64) -> Result<Tensor, Error> {
    let table = pattern(97 * 16, d)?
        .f_view([97, 16])?
        .f_set_requires_grad(true)?;
    let rows = table.f_index_select(0, &collisions(n, 97, d)?)?;
    let loss = rows
        .f_mul(&pattern(n * 16, d)?.f_view([n, 16])?)?
        .f_sum(Kind::Float)?;
    let g = Tensor::f_run_backward(&[&loss], &[&table], false, false)?;
    g.into_iter().next().ok_or_else(|| Error::InvalidConfig {
        what: "gradient",
        value: "none".into(),
    })
}

fn upsample_backward(d: Device, n: i64) -> Result<Tensor, Error> {
    let side = ((n as f64).sqrt() as i64).clamp(8, 512);
    let x = pattern(2 * side * side, d)?
        .f_view([1, 2, side, side])?
        .f_set_requires_grad(true)?;
    let y = x.f_upsample_bilinear2d([side * 2 + 3, side * 2 + 3], false, None, None)?;
    let w = pattern(y.numel() as i64, d)?.f_view_as(&y)?;
    let loss = y.f_mul(&w)?.f_sum(Kind::Float)?;
    let g = Tensor::f_run_backward(&[&loss], &[&x], false, false)?;
    g.into_iter().next().ok_or_else(|| Error::InvalidConfig {
        what: "gradient",
        value: "none".into(),
    })
}

type Op = (&'static str, fn(Device, i64) -> Result<Tensor, Error>);
const OPS: &[Op] = &[
    ("index_add_", index_add),
    ("scatter_add_", scatter_add),
    ("index_select backward (index_add)", index_select_backward),
    ("upsample_bilinear2d backward", upsample_backward),
];

/// `nondet-ops --device D --n N --repeats R --out PART`: each op R times in default
/// mode and in strict mode; the number of distinct results in each. Strict must give
/// one result (or a typed refusal); default may give several on CUDA.
pub fn nondet_ops(a: &Args) -> Result<(), Failure> {
    let d = a.device()?.device()?;
    let n: i64 = a.num("n", 1 << 20)?;
    let repeats: usize = a.num("repeats", 8)?;
    let mut rows = Vec::new();
    let mut strict_ok = true;
    let mut default_varied = Vec::new();
    for (name, op) in OPS {
        let mut row = serde_json::json!({"op": name});
        for mode in [Mode::Default, Mode::Strict] {
            determinism::enable(&DeterminismConfig::strict(1).with_mode(mode))?;
            let mut seen = BTreeSet::new();
            let mut refused = None;
            for _ in 0..repeats {
                match op(d, n) {
                    Ok(t) => {
                        seen.insert(tensor_fingerprint(&t)?.to_string());
                    }
                    Err(Error::NondeterministicOp { op, .. }) if mode == Mode::Strict => {
                        refused = Some(op);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let key = if mode == Mode::Strict {
                "strict"
            } else {
                "default"
            };
            row[key] = match &refused {
                Some(op) => serde_json::json!({"refused": op}),
                None => serde_json::json!({"distinct_results": seen.len(), "runs": repeats}),
            };
            if mode == Mode::Strict && refused.is_none() && seen.len() != 1 {
                strict_ok = false;
            }
            if mode == Mode::Default && seen.len() > 1 {
                default_varied.push(*name);
            }
        }
        rows.push(row);
    }
    determinism::enable(&DeterminismConfig::default_mode(1))?;
    write_json(
        &a.out()?,
        &Part {
            id: "3-nondet-ops".into(),
            title: "atomics-based ops without and with the switch".into(),
            status: if strict_ok { Status::Pass } else { Status::Fail },
            summary: format!(
                "default mode: {} over {repeats} runs; strict: one result or a typed refusal each: {strict_ok}",
                if default_varied.is_empty() {
                    "every op repeated its bits".to_string()
                } else {
                    format!("{} gave differing bits", default_varied.join(", "))
                }
            ),
            details: serde_json::json!({"elements": n, "ops": rows}),
        },
    )
}

/// `bench --model tiny|large --device D --steps N --rounds R --warmup W --out PART`:
/// one trainer per mode; rounds alternate which mode goes first; the switch is applied
/// before each block. The figure is the ratio of median block times.
pub fn bench(a: &Args) -> Result<(), Failure> {
    let which = Which::parse(a.req("model")?)?;
    let device = a.device()?;
    let d = device.device()?;
    let steps: u64 = a.num("steps", 20)?;
    let rounds: usize = a.num("rounds", 5)?;
    let warmup: u64 = a.num("warmup", 3)?;
    let threads: u32 = a.num("threads", 4)?;
    let mut w = Workload::new(which, a.num("train-n", 512)?, a.num("val-n", 8)?, device)?;
    if let Some(b) = a.opt("batch") {
        let b = b
            .parse()
            .map_err(|_| Failure(format!("--batch `{b}` is not a number")))?;
        w = w.with_batch(b)?;
    }
    let total = warmup + steps * rounds as u64;
    let modes = [Mode::Strict, Mode::Default];
    let mut trainers = Vec::new();
    for mode in modes {
        trainers.push(w.trainer(w.config(total, mode, device, threads))?);
    }
    let mut sources = [w.source(), w.source()];
    for (i, mode) in modes.iter().enumerate() {
        determinism::enable(&DeterminismConfig::strict(threads).with_mode(*mode))?;
        for _ in 0..warmup {
            trainers[i].step(&mut sources[i])?;
        }
    }
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for r in 0..rounds {
        let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            determinism::enable(&DeterminismConfig::strict(threads).with_mode(modes[i]))?;
            sync(d);
            let t0 = Instant::now();
            for _ in 0..steps {
                trainers[i].step(&mut sources[i])?;
            }
            sync(d);
            times[i].push(t0.elapsed().as_secs_f64() / steps as f64);
        }
    }
    determinism::enable(&DeterminismConfig::default_mode(threads))?;
    let med = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (s, dflt) = (med(&times[0]), med(&times[1]));
    let ratio = s / dflt;
    let id = format!("5-cost-{}", a.req("model")?);
    write_json(
        &a.out()?,
        &Part {
            id,
            title: format!("cost of determinism: {}", which.name()),
            status: Status::Info,
            summary: format!(
                "strict {:.1} steps/s, default {:.1} steps/s: strict/default time {ratio:.3}x (goal <= 1.10x)",
                1.0 / s,
                1.0 / dflt
            ),
            details: serde_json::json!({
                "model": which.name(), "batch": w.batch(), "steps_per_block": steps, "rounds": rounds,
                "warmup_steps": warmup, "device": crate::train::device_name(device),
                "median_s_per_step": {"strict": s, "default": dflt}, "ratio": ratio,
                "s_per_step_by_round": {"strict": times[0], "default": times[1]},
                "note": "one process: CUBLAS_WORKSPACE_CONFIG=:4096:8 holds for both modes",
            }),
        },
    )
}

fn sync(d: Device) {
    if let Device::Cuda(i) = d {
        lockstep_nn::tch::Cuda::synchronize(i as i64);
    }
}

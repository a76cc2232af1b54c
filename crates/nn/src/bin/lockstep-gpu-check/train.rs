//! `train` (one training run in its own process, recorded) and `compare` (two records:
//! bitwise equality, and where they diverge through the trace locator).

use std::path::{Path, PathBuf};
use std::time::Instant;

use lockstep_nn::{DeterminismMode as Mode, DeterminismReport};
use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::result::{read_json, write_json, Part, Status};
use crate::workload::{Which, Workload};
use crate::Failure;

/// One training run, as `train` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The workload's name.
    pub model: String,
    /// The switch's mode.
    pub mode: Mode,
    /// `cpu` or `cuda`.
    pub device: String,
    /// Steps trained.
    pub steps: u64,
    /// The model fingerprint after each step.
    pub per_step: Vec<String>,
    /// Each step's loss, as f32 bits.
    pub loss_bits: Vec<u32>,
    /// The final weights' fingerprint.
    pub final_weights: String,
    /// The final optimizer state's fingerprint.
    pub optimizer: String,
    /// The validation outputs' fingerprint.
    pub validation: String,
    /// Validation detections (or samples).
    pub validation_count: u64,
    /// mAP@0.5 or accuracy.
    pub quality: f64,
    /// Which of the two `quality` is.
    pub quality_name: String,
    /// Training steps per second (fingerprinting and tracing included).
    pub steps_per_s: f64,
    /// The trace file, if traced.
    pub trace: Option<PathBuf>,
    /// The switch's read-back.
    pub determinism: DeterminismReport,
}

/// `train --model M --mode strict|default --device D --steps N --train-n N --val-n N
/// --threads N --out RUN.json [--trace TRACE.jsonl]`
pub fn train(a: &Args) -> Result<(), Failure> {
    let which = Which::parse(a.req("model")?)?;
    let device = a.device()?;
    let mode = a.mode()?;
    let steps: u64 = a.num("steps", 300)?;
    let threads: u32 = a.num("threads", 4)?;
    let w = Workload::new(which, a.num("train-n", 2000)?, a.num("val-n", 300)?, device)?;
    let mut t = w.trainer(w.config(steps, mode, device, threads))?;
    let trace = a.opt("trace").map(PathBuf::from);
    if let Some(path) = &trace {
        t.enable_trace(path)?;
    }
    let mut source = w.source();
    let mut per_step = Vec::new();
    let mut loss_bits = Vec::new();
    let started = Instant::now();
    for _ in 0..steps {
        loss_bits.push(t.step(&mut source)?.to_bits());
        per_step.push(t.model_fingerprint()?.to_string());
    }
    let steps_per_s = steps as f64 / started.elapsed().as_secs_f64().max(1e-9);
    t.finish_trace()?;
    let v = w.validate(&t)?;
    let record = RunRecord {
        model: which.name().into(),
        mode,
        device: device_name(device),
        steps,
        per_step,
        loss_bits,
        final_weights: t.model_fingerprint()?.to_string(),
        optimizer: t.optimizer_fingerprint()?.to_string(),
        validation: v.fingerprint,
        validation_count: v.count,
        quality: v.quality,
        quality_name: v.quality_name.into(),
        steps_per_s,
        trace,
        determinism: t.report().clone(),
    };
    write_json(&a.out()?, &record)
}

/// `cpu` or `cuda:N`.
pub fn device_name(d: lockstep_nn::DeviceConfig) -> String {
    match d {
        lockstep_nn::DeviceConfig::Cpu => "cpu".into(),
        lockstep_nn::DeviceConfig::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}"),
    }
}

/// What `compare` expects of the two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Bitwise equal (strict mode, same device): anything else fails.
    Equal,
    /// Different bits (CPU vs GPU); equality fails.
    Differ,
    /// Only report (default mode).
    Report,
}

/// `compare --id ID --title T --expect equal|differ|report A.json B.json --out PART`
pub fn compare(a: &Args) -> Result<(), Failure> {
    let expect = match a.req("expect")? {
        "equal" => Expect::Equal,
        "differ" => Expect::Differ,
        "report" => Expect::Report,
        other => {
            return Err(Failure(format!(
                "--expect is equal, differ or report, not `{other}`"
            )))
        }
    };
    let [ra, rb] = a.positional.as_slice() else {
        return Err(Failure("compare takes two run records".into()));
    };
    let x: RunRecord = read_json(Path::new(ra))?;
    let y: RunRecord = read_json(Path::new(rb))?;
    let part = comparison(a.req("id")?, a.req("title")?, expect, &x, &y)?;
    write_json(&a.out()?, &part)
}

fn comparison(
    id: &str,
    title: &str,
    expect: Expect,
    x: &RunRecord,
    y: &RunRecord,
) -> Result<Part, Failure> {
    let first_step = x.per_step.iter().zip(&y.per_step).position(|(p, q)| p != q);
    let same_steps = x.per_step == y.per_step;
    let same_losses = x.loss_bits == y.loss_bits;
    let same_final = x.final_weights == y.final_weights && x.optimizer == y.optimizer;
    let same_val = x.validation == y.validation;
    let equal = same_steps && same_losses && same_final && same_val;
    let locator = match (&x.trace, &y.trace) {
        (Some(ta), Some(tb)) if !equal => match lockstep_nn::trace::compare(ta, tb)? {
            Some(d) => serde_json::json!({
                "step": d.step, "phase": format!("{:?}", d.phase), "module": d.module,
                "tensor": d.tensor, "what": d.what, "max_abs_diff": d.max_abs_diff,
            }),
            None => serde_json::json!("the traces are equal"),
        },
        _ => serde_json::Value::Null,
    };
    let where_ = if equal {
        "bitwise equal: every step's weights, the losses, final weights and optimizer, validation outputs".to_string()
    } else {
        let at = match &locator {
            serde_json::Value::Object(m) => format!(
                "; locator: step {}, {} of module `{}`, tensor `{}`",
                m["step"],
                m["phase"].as_str().unwrap_or("?"),
                m["module"].as_str().unwrap_or("?"),
                m["tensor"].as_str().unwrap_or("?")
            ),
            _ => String::new(),
        };
        format!(
            "differ: first differing step weights {}{at}",
            first_step.map_or("none (only later records)".into(), |s| s.to_string())
        )
    };
    let status = match expect {
        Expect::Equal if equal => Status::Pass,
        Expect::Differ if !equal => Status::Pass,
        Expect::Report => Status::Info,
        _ => Status::Fail,
    };
    let summary = format!(
        "{where_}; {} {:.3} vs {:.3}; {:.1} vs {:.1} steps/s",
        x.quality_name, x.quality, y.quality, x.steps_per_s, y.steps_per_s
    );
    Ok(Part {
        id: id.into(),
        title: title.into(),
        status,
        summary,
        details: serde_json::json!({
            "model": x.model, "mode": [x.mode, y.mode], "device": [x.device, y.device],
            "steps": [x.steps, y.steps],
            "equal": {"per_step_weights": same_steps, "losses": same_losses,
                      "final_weights_and_optimizer": same_final, "validation_outputs": same_val},
            "first_differing_step": first_step,
            "locator": locator,
            "final_weights": [x.final_weights, y.final_weights],
            "validation": [x.validation, y.validation],
            "validation_count": [x.validation_count, y.validation_count],
            "quality_name": x.quality_name,
            "quality": [x.quality, y.quality],
            "steps_per_s": [x.steps_per_s, y.steps_per_s],
            "determinism": x.determinism,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fps: &[&str]) -> RunRecord {
        let report: DeterminismReport = serde_json::from_value(serde_json::json!({
            "deterministic_algorithms": true, "deterministic_warn_only": false,
            "cudnn_deterministic": true, "cudnn_benchmark": false, "allow_tf32_cublas": false,
            "allow_tf32_cudnn": false, "allow_tf32_onednn": false, "mkldnn_deterministic": true,
            "fill_uninitialized_memory": true, "intra_op_threads": 1, "cpu_capability": "avx2",
            "cublas_workspace_config": ":4096:8", "libtorch_version": "2.11.0", "cuda": null
        }))
        .unwrap();
        RunRecord {
            model: "m".into(),
            mode: Mode::Strict,
            device: "cpu".into(),
            steps: fps.len() as u64,
            per_step: fps.iter().map(|s| s.to_string()).collect(),
            loss_bits: vec![1; fps.len()],
            final_weights: fps.last().unwrap().to_string(),
            optimizer: "o".into(),
            validation: "v".into(),
            validation_count: 3,
            quality: 0.5,
            quality_name: "mAP@0.5".into(),
            steps_per_s: 10.0,
            trace: None,
            determinism: report,
        }
    }

    #[test]
    fn equal_runs_pass_only_when_equality_is_expected() {
        let (x, y) = (record(&["a", "b"]), record(&["a", "b"]));
        assert_eq!(
            comparison("i", "t", Expect::Equal, &x, &y).unwrap().status,
            Status::Pass
        );
        assert_eq!(
            comparison("i", "t", Expect::Differ, &x, &y).unwrap().status,
            Status::Fail
        );
        assert_eq!(
            comparison("i", "t", Expect::Report, &x, &y).unwrap().status,
            Status::Info
        );
    }

    #[test]
    fn a_difference_names_the_first_step_and_fails_an_equality_check() {
        let (x, y) = (record(&["a", "b", "c"]), record(&["a", "x", "c"]));
        let p = comparison("i", "t", Expect::Equal, &x, &y).unwrap();
        assert_eq!(p.status, Status::Fail);
        assert_eq!(p.details["first_differing_step"], 1);
        assert!(
            p.summary.contains("first differing step weights 1"),
            "{}",
            p.summary
        );
        // Only the validation outputs differ: still not equal.
        let mut z = record(&["a", "b", "c"]);
        z.validation = "w".into();
        let p = comparison("i", "t", Expect::Equal, &record(&["a", "b", "c"]), &z).unwrap();
        assert_eq!(p.status, Status::Fail);
        assert_eq!(p.details["equal"]["validation_outputs"], false);
    }
}

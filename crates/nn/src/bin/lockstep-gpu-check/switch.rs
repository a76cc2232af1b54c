//! Checks 1 and 4: the switch's read-back on the device, the refusal when it comes after
//! CUDA has started, and ops that have no deterministic implementation.

use lockstep_nn::tch::{Device, Kind, Tensor};
use lockstep_nn::{
    determinism, DeterminismConfig, DeterminismMode as Mode, DeterminismReport, DeviceConfig, Error,
};

use crate::args::Args;
use crate::result::{write_json, Part, Status};
use crate::Failure;

/// `env --device D --out PART [--host FILE]`: versions as libtorch reports them, and
/// what `run.sh` found out about the host (nvidia-smi, Python torch).
pub fn env(a: &Args) -> Result<(), Failure> {
    let device = a.device()?;
    let report = determinism::report()?;
    let host = match a.opt("host") {
        Some(f) => std::fs::read_to_string(f).unwrap_or_else(|e| format!("unreadable: {e}")),
        None => String::new(),
    };
    let cuda_ok = report.cuda.as_ref().is_some_and(|c| c.devices > 0);
    let (status, summary) = match device {
        DeviceConfig::Cuda(_) if !cuda_ok => (
            Status::Fail,
            "libtorch sees no CUDA device: is LD_LIBRARY_PATH the CUDA torch, and is a GPU visible?".to_string(),
        ),
        _ => (
            Status::Info,
            match &report.cuda {
                Some(c) => format!(
                    "libtorch {}, {} CUDA device(s), CUDA runtime {}, cuDNN {}",
                    report.libtorch_version, c.devices, c.runtime_version, c.cudnn_version
                ),
                None => format!("libtorch {}, no CUDA (CPU)", report.libtorch_version),
            },
        ),
    };
    write_json(
        &a.out()?,
        &Part {
            id: "0-env".into(),
            title: "versions and host".into(),
            status,
            summary,
            details: serde_json::json!({"libtorch": report, "host": host.lines().collect::<Vec<_>>()}),
        },
    )
}

/// A matmul and a convolution on `device` (cuBLAS and cuDNN on CUDA).
fn touch(device: Device) -> Result<(), Failure> {
    let a = Tensor::f_ones([64, 64], (Kind::Float, device))?;
    let _ = a.f_matmul(&a)?.f_sum(Kind::Float)?.f_double_value(&[])?;
    let x = Tensor::f_ones([1, 3, 16, 16], (Kind::Float, device))?;
    let w = Tensor::f_ones([4, 3, 3, 3], (Kind::Float, device))?;
    let y = x.f_conv2d(&w, None::<&Tensor>, [1, 1], [1, 1], [1, 1], 1)?;
    let _ = y.f_sum(Kind::Float)?.f_double_value(&[])?;
    Ok(())
}

/// `switch --device D --out PART`: strict mode, then cuBLAS/cuDNN work on the device,
/// then the read-back; every setting must be in effect.
pub fn switch(a: &Args) -> Result<(), Failure> {
    let device = a.device()?;
    let strict = determinism::enable(&DeterminismConfig::strict(1))?;
    touch(device.device()?)?;
    let after = determinism::report()?;
    let cublas_ok =
        after.cublas_workspace_config.as_deref() == Some(determinism::CUBLAS_WORKSPACE_VALUE);
    let cuda_ok = match device {
        DeviceConfig::Cpu => true,
        _ => after.cuda.as_ref().is_some_and(|c| c.started),
    };
    let default = determinism::enable(&DeterminismConfig::default_mode(1))?;
    // Equal settings before and after the GPU work (only `cuda.started` may change).
    let without_cuda = |r: &DeterminismReport| {
        let mut r = r.clone();
        r.cuda = None;
        r
    };
    let unchanged = without_cuda(&after) == without_cuda(&strict);
    let pass = after.is_deterministic() && unchanged && cublas_ok && cuda_ok;
    let summary = format!(
        "deterministic algorithms {}, cuDNN deterministic {} benchmark {}, TF32 cuBLAS {} cuDNN {}, \
         CUBLAS_WORKSPACE_CONFIG {:?}{}",
        after.deterministic_algorithms,
        after.cudnn_deterministic,
        after.cudnn_benchmark,
        after.allow_tf32_cublas,
        after.allow_tf32_cudnn,
        after.cublas_workspace_config,
        match &after.cuda {
            Some(c) => format!(", CUDA started {}", c.started),
            None => ", no CUDA".into(),
        }
    );
    write_json(
        &a.out()?,
        &Part {
            id: "1-switch".into(),
            title: "switch read-back after cuBLAS and cuDNN work".into(),
            status: if pass { Status::Pass } else { Status::Fail },
            summary,
            details: serde_json::json!({"strict": after, "default_mode_for_contrast": default}),
        },
    )
}

/// `late-switch --device D --out PART`, run with `CUBLAS_WORKSPACE_CONFIG` unset:
/// cuBLAS work first, then the switch, which must refuse with
/// `EnvironmentVariableRequired` naming the variable.
pub fn late_switch(a: &Args) -> Result<(), Failure> {
    let device = a.device()?;
    let mut part = Part {
        id: "1-late-switch".into(),
        title: "switch after the first cuBLAS call is refused".into(),
        status: Status::Fail,
        summary: String::new(),
        details: serde_json::Value::Null,
    };
    if let Ok(v) = std::env::var(determinism::CUBLAS_WORKSPACE_CONFIG) {
        part.summary = format!("precondition: CUBLAS_WORKSPACE_CONFIG must be unset, is `{v}`");
        return write_json(&a.out()?, &part);
    }
    touch(device.device()?)?;
    let started = determinism::report()?.cuda.is_some_and(|c| c.started);
    let outcome = determinism::enable(&DeterminismConfig::strict(1));
    let (status, summary) = match (&outcome, started) {
        (Err(Error::EnvironmentVariableRequired { variable, .. }), true)
            if *variable == determinism::CUBLAS_WORKSPACE_CONFIG =>
        {
            (
                Status::Pass,
                format!(
                    "refused: {}",
                    outcome
                        .as_ref()
                        .err()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
            )
        }
        (Ok(_), false) if device == DeviceConfig::Cpu => (
            Status::Skipped,
            "no CUDA context on the CPU, so nothing read the variable and the switch rightly \
             accepted; the refusal logic is unit-tested in lockstep-nn's determinism module"
                .into(),
        ),
        (Ok(_), _) => (
            Status::Fail,
            format!("accepted although CUDA started = {started}"),
        ),
        (Err(e), _) => (Status::Fail, format!("refused with the wrong error: {e}")),
    };
    part.status = status;
    part.summary = summary;
    part.details = serde_json::json!({"cuda_started_before_switch": started, "error": outcome.err().map(|e| e.to_string())});
    write_json(&a.out()?, &part)
}

/// One op that strict mode must refuse on some device.
struct Refusable {
    name: &'static str,
    /// Where libtorch has no deterministic kernel for it.
    refuses_on: &'static [&'static str],
    run: fn(Device) -> Result<(), Error>,
}

fn put_(d: Device) -> Result<(), Error> {
    let mut t = Tensor::f_zeros([8], (Kind::Float, d))?;
    let i = Tensor::f_from_slice(&[0i64, 0, 1])?.f_to_device(d)?;
    let s = Tensor::f_ones([3], (Kind::Float, d))?;
    let _ = t.f_put_(&i, &s, false)?;
    Ok(())
}

fn upsample_backward(d: Device) -> Result<(), Error> {
    let x = Tensor::f_ones([2, 3, 16, 16], (Kind::Float, d))?.f_set_requires_grad(true)?;
    let y = x
        .f_upsample_bilinear2d([37, 37], false, None, None)?
        .f_sum(Kind::Float)?;
    Tensor::f_run_backward(&[&y], &[&x], false, false)?;
    Ok(())
}

fn adaptive_max_pool_backward(d: Device) -> Result<(), Error> {
    let x = Tensor::f_ones([2, 3, 17, 17], (Kind::Float, d))?.f_set_requires_grad(true)?;
    let (y, _) = x.f_adaptive_max_pool2d([5, 5])?;
    Tensor::f_run_backward(&[&y.f_sum(Kind::Float)?], &[&x], false, false)?;
    Ok(())
}

fn histc(d: Device) -> Result<(), Error> {
    let _ = Tensor::f_ones([100], (Kind::Float, d))?.f_histc(10)?;
    Ok(())
}

fn kthvalue(d: Device) -> Result<(), Error> {
    let _ = Tensor::f_ones([100], (Kind::Float, d))?.f_kthvalue(3, 0, false)?;
    Ok(())
}

const REFUSABLE: &[Refusable] = &[
    Refusable {
        name: "put_(accumulate=false)",
        refuses_on: &["cpu", "cuda"],
        run: put_,
    },
    Refusable {
        name: "upsample_bilinear2d backward",
        refuses_on: &["cuda"],
        run: upsample_backward,
    },
    Refusable {
        name: "adaptive_max_pool2d backward",
        refuses_on: &["cuda"],
        run: adaptive_max_pool_backward,
    },
    Refusable {
        name: "histc",
        refuses_on: &["cuda"],
        run: histc,
    },
    Refusable {
        name: "kthvalue",
        refuses_on: &["cuda"],
        run: kthvalue,
    },
];

/// `refuse --device D --out PART`: in strict mode each op that libtorch documents as
/// having no deterministic kernel on the device must fail with
/// `Error::NondeterministicOp` naming it; the process goes on afterwards, and WarnOnly
/// lets the op run (the only way to allow it).
pub fn refuse(a: &Args) -> Result<(), Failure> {
    let device = a.device()?;
    let d = device.device()?;
    let dev = if d.is_cuda() { "cuda" } else { "cpu" };
    determinism::enable(&DeterminismConfig::strict(1))?;
    let mut rows = Vec::new();
    let mut pass = true;
    for op in REFUSABLE {
        let expected = op.refuses_on.contains(&dev);
        let got = (op.run)(d);
        let (outcome, ok) = match &got {
            Err(Error::NondeterministicOp { op: name, .. }) => {
                (format!("typed error naming `{name}`"), true)
            }
            Err(e) => (format!("other error: {e}"), false),
            // A kernel libtorch made deterministic since is no failure; a crash or an
            // untyped error is.
            Ok(()) => (
                "ran (deterministic kernel, or no alert on this device)".to_string(),
                true,
            ),
        };
        pass &= ok;
        rows.push(serde_json::json!({"op": op.name, "expected_refusal": expected, "outcome": outcome, "ok": ok,
            "error": got.err().map(|e| e.to_string())}));
    }
    // Still usable after the errors.
    touch(d)?;
    determinism::enable(&DeterminismConfig::strict(1).with_mode(Mode::WarnOnly))?;
    let warn_only = put_(d).map_err(|e| e.to_string());
    pass &= warn_only.is_ok();
    determinism::enable(&DeterminismConfig::default_mode(1))?;
    let refused = rows
        .iter()
        .filter(|r| {
            r["outcome"]
                .as_str()
                .is_some_and(|s| s.starts_with("typed"))
        })
        .count();
    write_json(
        &a.out()?,
        &Part {
            id: "4-refuse".into(),
            title: "ops without a deterministic kernel raise a typed error".into(),
            status: if pass && refused > 0 { Status::Pass } else { Status::Fail },
            summary: format!(
                "{refused} of {} ops refused with Error::NondeterministicOp on {dev}; the process went on; \
                 WarnOnly ran put_: {}",
                rows.len(),
                warn_only.is_ok()
            ),
            details: serde_json::json!({"ops": rows, "warn_only_put_": format!("{warn_only:?}")}),
        },
    )
}

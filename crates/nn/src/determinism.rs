//! The determinism switch: one call that puts libtorch into a reproducible state and
//! reports what is actually in effect, read back from libtorch rather than echoed.
//!
//! [`Mode::Strict`] (and [`Mode::WarnOnly`]) sets:
//! - deterministic algorithms on (an error, or a warning, for ops that have none);
//! - cuDNN deterministic on and cuDNN benchmark (autotuning) off;
//! - oneDNN (mkldnn) deterministic on;
//! - TF32 off for cuBLAS, cuDNN and oneDNN;
//! - uninitialised memory filled (so `empty` tensors have defined contents);
//! - the intra-op thread count, which changes CPU results (see docs/reproducibility.md);
//! - it checks `CUBLAS_WORKSPACE_CONFIG` (`:4096:8` or `:16:8`), which cuBLAS reads once,
//!   when CUDA starts: on a libtorch with CUDA, an unset or other value is refused with
//!   an error naming the variable and the value. The switch never sets it (a library
//!   does not change the process environment): binaries set it at start.
//!
//! [`Mode::Default`] restores libtorch's own defaults, for measuring what determinism
//! costs.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::shim;

/// The environment variable cuBLAS reads for its workspace configuration.
pub const CUBLAS_WORKSPACE_CONFIG: &str = "CUBLAS_WORKSPACE_CONFIG";
/// The value to set (binaries set it at start; the switch only checks it).
pub const CUBLAS_WORKSPACE_VALUE: &str = ":4096:8";
const CUBLAS_DETERMINISTIC_VALUES: &[&str] = &[":4096:8", ":16:8"];

/// How strict the switch is (re-exported at the crate root as `DeterminismMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Mode {
    /// Deterministic everything; an op without a deterministic kernel is an error.
    Strict,
    /// As strict, but an op without a deterministic kernel only warns.
    WarnOnly,
    /// libtorch's defaults (nondeterministic kernels allowed, TF32 for cuDNN).
    Default,
}

/// The CPU kernel dispatch level (`ATEN_CPU_CAPABILITY`). Results differ between
/// levels, so pinning it is part of getting equal bits across machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CpuCapability {
    /// Plain, unvectorised kernels: the level every x86-64 machine can run.
    Default,
    /// AVX2 kernels.
    Avx2,
    /// AVX-512 kernels.
    Avx512,
    /// Another level, by libtorch's name for it.
    Other(String),
}

impl CpuCapability {
    /// From libtorch's name for the level (`at::get_cpu_capability()`).
    fn from_name(name: &str) -> Self {
        match name.to_ascii_uppercase().as_str() {
            "DEFAULT" | "NO AVX" => Self::Default,
            "AVX2" => Self::Avx2,
            "AVX512" => Self::Avx512,
            _ => Self::Other(name.to_string()),
        }
    }

    /// The value of `ATEN_CPU_CAPABILITY` that selects this level.
    pub fn env_value(&self) -> String {
        match self {
            Self::Default => "default".into(),
            Self::Avx2 => "avx2".into(),
            Self::Avx512 => "avx512".into(),
            Self::Other(name) => name.to_ascii_lowercase(),
        }
    }
}

/// What the switch is asked to do: [`Default`] is strict mode with 1 intra-op thread
/// and no pinned dispatch level; change it with the `with_*` setters.
///
/// ```
/// use lockstep_nn::determinism::{DeterminismConfig, Mode};
///
/// let config = DeterminismConfig::default().with_intra_op_threads(2).with_mode(Mode::WarnOnly);
/// config.validate()?;
/// assert_eq!(config, DeterminismConfig::strict(2).with_mode(Mode::WarnOnly));
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DeterminismConfigFields")]
#[non_exhaustive]
pub struct DeterminismConfig {
    /// How strict.
    pub mode: Mode,
    /// libtorch's intra-op thread count (at least 1). Part of every fingerprint, since
    /// CPU results differ between thread counts. The one thread setting of lockstep-nn
    /// ([`crate::TrainConfig`] holds a `DeterminismConfig`).
    pub intra_op_threads: u32,
    /// When set, the switch refuses to run at any other CPU dispatch level.
    pub cpu_capability: Option<CpuCapability>,
}

impl Default for DeterminismConfig {
    fn default() -> Self {
        Self::strict(1)
    }
}

impl DeterminismConfig {
    /// Strict mode with `threads` intra-op threads.
    pub fn strict(threads: u32) -> Self {
        Self {
            mode: Mode::Strict,
            intra_op_threads: threads,
            cpu_capability: None,
        }
    }

    /// libtorch's default mode with `threads` intra-op threads.
    pub fn default_mode(threads: u32) -> Self {
        Self {
            mode: Mode::Default,
            ..Self::strict(threads)
        }
    }

    /// Sets [`Self::mode`].
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`Self::intra_op_threads`].
    pub fn with_intra_op_threads(mut self, threads: u32) -> Self {
        self.intra_op_threads = threads;
        self
    }

    /// Sets [`Self::cpu_capability`].
    pub fn with_cpu_capability(mut self, level: Option<CpuCapability>) -> Self {
        self.cpu_capability = level;
        self
    }

    /// Checks the values: at least 1 thread, and no more than libtorch takes (`i32`).
    pub fn validate(&self) -> Result<()> {
        self.threads_i32().map(|_| ())
    }

    fn threads_i32(&self) -> Result<i32> {
        i32::try_from(self.intra_op_threads)
            .ok()
            .filter(|&t| t >= 1)
            .ok_or_else(|| Error::InvalidConfig {
                what: "intra_op_threads",
                value: self.intra_op_threads.to_string(),
            })
    }
}

/// The serialised form of [`DeterminismConfig`]; deserialising validates it.
#[derive(Deserialize)]
struct DeterminismConfigFields {
    mode: Mode,
    intra_op_threads: u32,
    #[serde(default)]
    cpu_capability: Option<CpuCapability>,
}

impl TryFrom<DeterminismConfigFields> for DeterminismConfig {
    type Error = Error;
    fn try_from(f: DeterminismConfigFields) -> Result<Self> {
        let c = Self {
            mode: f.mode,
            intra_op_threads: f.intra_op_threads,
            cpu_capability: f.cpu_capability,
        };
        c.validate()?;
        Ok(c)
    }
}

/// CUDA as libtorch sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CudaInfo {
    /// Visible devices.
    pub devices: u32,
    /// The CUDA runtime version, as libtorch reports it (e.g. 13000).
    pub runtime_version: i64,
    /// The cuDNN version, or 0 without cuDNN.
    pub cudnn_version: i64,
    /// Whether a CUDA context exists already.
    pub started: bool,
}

/// The settings in effect, read back from libtorch, plus versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeterminismReport {
    /// `at::globalContext().deterministicAlgorithms()`.
    pub deterministic_algorithms: bool,
    /// Whether nondeterministic ops only warn.
    pub deterministic_warn_only: bool,
    /// cuDNN deterministic.
    pub cudnn_deterministic: bool,
    /// cuDNN benchmark (autotuning).
    pub cudnn_benchmark: bool,
    /// TF32 for cuBLAS matmuls.
    pub allow_tf32_cublas: bool,
    /// TF32 for cuDNN convolutions.
    pub allow_tf32_cudnn: bool,
    /// TF32 for oneDNN.
    pub allow_tf32_onednn: bool,
    /// oneDNN deterministic.
    pub mkldnn_deterministic: bool,
    /// Uninitialised memory filled.
    pub fill_uninitialized_memory: bool,
    /// libtorch's intra-op thread count.
    pub intra_op_threads: u32,
    /// The CPU kernel dispatch level.
    pub cpu_capability: CpuCapability,
    /// `CUBLAS_WORKSPACE_CONFIG` in this process's environment.
    pub cublas_workspace_config: Option<String>,
    /// The libtorch version the crate was built against.
    pub libtorch_version: String,
    /// CUDA, if libtorch has it.
    pub cuda: Option<CudaInfo>,
}

impl DeterminismReport {
    /// Whether this report shows the settings of `mode`.
    pub fn is_deterministic(&self) -> bool {
        self.deterministic_algorithms
            && self.cudnn_deterministic
            && !self.cudnn_benchmark
            && !self.allow_tf32_cublas
            && !self.allow_tf32_cudnn
            && !self.allow_tf32_onednn
    }
}

/// Reads the settings in effect.
///
/// ```no_run
/// let now = lockstep_nn::determinism::report()?;
/// println!("{} threads at {:?}", now.intra_op_threads, now.cpu_capability);
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn report() -> Result<DeterminismReport> {
    let raw = shim::read()?;
    Ok(DeterminismReport {
        deterministic_algorithms: raw.deterministic_algorithms != 0,
        deterministic_warn_only: raw.deterministic_warn_only != 0,
        cudnn_deterministic: raw.cudnn_deterministic != 0,
        cudnn_benchmark: raw.cudnn_benchmark != 0,
        allow_tf32_cublas: raw.allow_tf32_cublas != 0,
        allow_tf32_cudnn: raw.allow_tf32_cudnn != 0,
        allow_tf32_onednn: raw.allow_tf32_onednn != 0,
        mkldnn_deterministic: raw.mkldnn_deterministic != 0,
        fill_uninitialized_memory: raw.fill_uninitialized_memory != 0,
        // libtorch never reports a negative count; 0 would fail every comparison.
        intra_op_threads: u32::try_from(raw.intra_op_threads).unwrap_or(0),
        cpu_capability: CpuCapability::from_name(&shim::cpu_capability()?),
        cublas_workspace_config: std::env::var(CUBLAS_WORKSPACE_CONFIG).ok(),
        libtorch_version: shim::torch_version(),
        // `c_long` is 32 bits on some targets, so the conversion is not always a no-op.
        #[allow(clippy::useless_conversion)]
        cuda: (raw.has_cuda != 0).then(|| CudaInfo {
            devices: u32::try_from(raw.cuda_devices).unwrap_or(0),
            runtime_version: i64::from(raw.cudart_version),
            cudnn_version: i64::from(raw.cudnn_version),
            started: raw.cuda_started != 0,
        }),
    })
}

/// Applies `config` and returns the settings read back. Fails, naming the setting, if
/// any of them did not take effect.
///
/// ```no_run
/// use lockstep_nn::determinism::{self, DeterminismConfig};
///
/// // A binary sets what cuBLAS reads before anything starts CUDA; the switch only checks.
/// std::env::set_var("CUBLAS_WORKSPACE_CONFIG", ":4096:8");
/// let report = determinism::enable(&DeterminismConfig::strict(1))?;
/// assert!(report.is_deterministic());
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
pub fn enable(config: &DeterminismConfig) -> Result<DeterminismReport> {
    let threads = config.threads_i32()?;
    let before = report()?;
    if let Some(wanted) = &config.cpu_capability {
        if *wanted != before.cpu_capability {
            return Err(Error::CpuCapabilityMismatch {
                wanted: format!("{wanted:?}"),
                actual: format!("{:?}", before.cpu_capability),
                wanted_env: wanted.env_value(),
            });
        }
    }
    if config.mode != Mode::Default {
        check_cublas_workspace(
            before.cuda.is_some(),
            before.cuda.as_ref().is_some_and(|c| c.started),
        )?;
    }
    let mode = match config.mode {
        Mode::Default => 0,
        Mode::Strict => 1,
        Mode::WarnOnly => 2,
    };
    shim::apply(mode, threads)?;
    let after = report()?;
    let on = config.mode != Mode::Default;
    let checks: [(&'static str, bool, bool); 9] = [
        (
            "deterministic_algorithms",
            after.deterministic_algorithms,
            on,
        ),
        (
            "deterministic_warn_only",
            after.deterministic_warn_only,
            config.mode == Mode::WarnOnly,
        ),
        ("cudnn_deterministic", after.cudnn_deterministic, on),
        ("cudnn_benchmark", after.cudnn_benchmark, false),
        ("allow_tf32_cublas", after.allow_tf32_cublas, false),
        ("allow_tf32_cudnn", after.allow_tf32_cudnn, !on),
        ("allow_tf32_onednn", after.allow_tf32_onednn, false),
        ("mkldnn_deterministic", after.mkldnn_deterministic, on),
        (
            "fill_uninitialized_memory",
            after.fill_uninitialized_memory,
            on,
        ),
    ];
    for (setting, got, wanted) in checks {
        if got != wanted {
            return Err(Error::NotInEffect {
                setting,
                wanted: wanted.to_string(),
                got: got.to_string(),
            });
        }
    }
    if after.intra_op_threads != config.intra_op_threads {
        return Err(Error::NotInEffect {
            setting: "intra_op_threads",
            wanted: config.intra_op_threads.to_string(),
            got: after.intra_op_threads.to_string(),
        });
    }
    Ok(after)
}

/// Checks that cuBLAS will be deterministic: on a libtorch with CUDA, the variable must
/// hold a deterministic value. The switch never sets it: changing the environment of a
/// running process races with every thread that reads it (C `getenv`), so the binary
/// sets it first thing in `main`, or the user in the shell.
fn check_cublas_workspace(has_cuda: bool, cuda_started: bool) -> Result<()> {
    let value = std::env::var(CUBLAS_WORKSPACE_CONFIG).ok();
    cublas_workspace_check(value.as_deref(), has_cuda, cuda_started)
}

/// The decision of [`check_cublas_workspace`], apart from the environment. cuBLAS reads
/// the variable once, when CUDA starts; without CUDA nothing reads it.
fn cublas_workspace_check(value: Option<&str>, has_cuda: bool, cuda_started: bool) -> Result<()> {
    match value {
        Some(v) if CUBLAS_DETERMINISTIC_VALUES.contains(&v) => Ok(()),
        Some(v) => Err(Error::BadCublasWorkspaceConfig { value: v.into() }),
        None if !has_cuda => Ok(()),
        None => Err(Error::EnvironmentVariableRequired {
            variable: CUBLAS_WORKSPACE_CONFIG,
            value: CUBLAS_WORKSPACE_VALUE,
            reason: if cuda_started {
                "CUDA has already started, and cuBLAS read the variable unset, so its \
                 results may differ between runs for the rest of this process"
            } else {
                "deterministic cuBLAS needs it, and cuBLAS reads it once, when CUDA starts"
            },
        }),
    }
}

/// The phrase of libtorch's `alertNotDeterministic` (`at::Context`), which strict mode
/// turns into an error for an op with no deterministic kernel on its device.
const NOT_DETERMINISTIC: &str = "does not have a deterministic implementation";

/// The op named by libtorch's "`OP` does not have a deterministic implementation"
/// message, or `None` for any other message.
pub fn nondeterministic_op(message: &str) -> Option<&str> {
    let line = message.lines().find(|l| l.contains(NOT_DETERMINISTIC))?;
    let before = line.split(NOT_DETERMINISTIC).next()?;
    let op = before
        .split_whitespace()
        .last()?
        .trim_matches(|c: char| matches!(c, '\'' | '"' | '`' | ':'));
    (!op.is_empty()).then_some(op)
}

/// Every libtorch error reaches lockstep through `tch`'s `f_` methods as a
/// `TchError`; the "no deterministic implementation" alert becomes its own variant,
/// naming the op, so callers can tell it from a real failure.
impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        if let tch::TchError::Torch(message) = &e {
            if let Some(op) = nondeterministic_op(message) {
                let line = message
                    .lines()
                    .find(|l| l.contains(NOT_DETERMINISTIC))
                    .unwrap_or(message);
                return Error::NondeterministicOp {
                    op: op.to_string(),
                    message: line.trim().to_string(),
                };
            }
        }
        Error::Tch(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // libtorch 2.11's wording (c10/core/Context.cpp, `alertNotDeterministic`), as tch
    // passes it on: the message, then where it was raised.
    const CUDA_ALERT: &str = "upsample_bilinear2d_backward_out_cuda does not have a \
        deterministic implementation, but you set 'torch.use_deterministic_algorithms(True)'. \
        You can turn off determinism just for this operation, or you can use the \
        'warn_only=True' option, if that's acceptable for your application.\n\
        Exception raised from alertNotDeterministic at /pytorch/aten/src/ATen/Context.cpp:93";

    #[test]
    fn the_alert_names_the_op() {
        assert_eq!(
            nondeterministic_op(CUDA_ALERT),
            Some("upsample_bilinear2d_backward_out_cuda")
        );
        assert_eq!(
            nondeterministic_op(
                "Internal torch error:\nput_ does not have a deterministic implementation, but"
            ),
            Some("put_")
        );
        assert_eq!(nondeterministic_op("shape '[2, 3]' is invalid"), None);
        assert_eq!(
            nondeterministic_op(" does not have a deterministic implementation"),
            None
        );
    }

    #[test]
    fn a_tch_alert_becomes_the_typed_variant_and_other_errors_stay_tch() {
        match Error::from(tch::TchError::Torch(CUDA_ALERT.into())) {
            Error::NondeterministicOp { op, message } => {
                assert_eq!(op, "upsample_bilinear2d_backward_out_cuda");
                assert!(message.starts_with("upsample_bilinear2d_backward_out_cuda does not"));
                assert!(!message.contains("Exception raised from"), "{message}");
            }
            other => panic!("not typed: {other:?}"),
        }
        let plain = Error::from(tch::TchError::Torch(
            "mat1 and mat2 shapes cannot be multiplied".into(),
        ));
        assert!(matches!(plain, Error::Tch(_)), "{plain:?}");
    }

    #[test]
    fn the_switch_names_the_variable_when_cuda_needs_it_and_never_sets_it() {
        for started in [false, true] {
            match cublas_workspace_check(None, true, started) {
                Err(Error::EnvironmentVariableRequired {
                    variable, value, ..
                }) => assert_eq!((variable, value), ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")),
                other => panic!("cuda started {started}: {other:?}"),
            }
        }
        // Without CUDA nothing reads it.
        assert!(cublas_workspace_check(None, false, false).is_ok());
        for good in [":4096:8", ":16:8"] {
            assert!(cublas_workspace_check(Some(good), true, true).is_ok());
        }
        assert!(matches!(
            cublas_workspace_check(Some(":0:0"), true, false),
            Err(Error::BadCublasWorkspaceConfig { value }) if value == ":0:0"
        ));
    }
}

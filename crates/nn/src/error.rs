//! The one error type of this crate.

use std::path::PathBuf;

use crate::trace::Phase;

/// Everything that can go wrong in `lockstep-nn`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed inside libtorch. (`From<tch::TchError>` lives in
    /// `determinism`: it turns libtorch's "no deterministic implementation" alert into
    /// [`Error::NondeterministicOp`].)
    #[error("libtorch operation failed: {0}")]
    Tch(#[source] tch::TchError),
    /// The determinism switch is strict and an op without a deterministic implementation
    /// on its device ran (libtorch's `alertNotDeterministic`); nothing fell back.
    #[error(
        "`{op}` has no deterministic implementation on this device, and the determinism \
         switch is strict: avoid the op, or allow it with Mode::WarnOnly ({message})"
    )]
    NondeterministicOp {
        /// The op as libtorch names it (e.g. `upsample_bilinear2d_backward_out_cuda`).
        op: String,
        /// The first line of libtorch's message.
        message: String,
    },
    /// Non-maximum suppression failed while decoding detections.
    #[error("NMS failed while decoding: {0}")]
    Postprocess(#[from] lockstep_postprocess::Error),
    /// A batch whose shape or kind the model cannot take.
    #[error("step {step}: batch {tensor} has shape {got:?} ({kind}), expected {expected}")]
    BadBatchShape {
        /// The step the batch was for.
        step: u64,
        /// `inputs` or `targets`.
        tensor: &'static str,
        /// The shape found.
        got: Vec<i64>,
        /// The tensor kind found.
        kind: String,
        /// What the model needs, in words.
        expected: String,
    },
    /// A batch with no samples.
    #[error("step {step}: the batch is empty")]
    EmptyBatch {
        /// The step the batch was for.
        step: u64,
    },
    /// The batch source failed.
    #[error("step {step}: the batch source failed: {source}")]
    BatchSource {
        /// The step the batch was for.
        step: u64,
        /// The source's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A batch source's checkpointed state that it cannot take back (another kind of
    /// source wrote it, or it does not fit this source's configuration).
    #[error("the batch source cannot restore the checkpoint's state: {reason}")]
    BadSourceState {
        /// What is wrong.
        reason: String,
    },
    /// An error of the user's own code (a [`crate::BatchSource`] or a model builder),
    /// passed through unchanged; see [`Error::wrap`].
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// The NaN guard found a non-finite value.
    #[error("step {step}: non-finite value in {phase} tensor `{tensor}`")]
    NonFinite {
        /// The step.
        step: u64,
        /// [`Phase::Loss`] or [`Phase::Backward`].
        phase: Phase,
        /// The tensor's name (`loss`, or the parameter whose gradient it is).
        tensor: String,
    },
    /// An object annotation the detector cannot use.
    #[error("image {image}, object {object}: {reason}")]
    BadAnnotation {
        /// Which image of the batch.
        image: usize,
        /// Which object of the image.
        object: usize,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A checkpoint folder holds no complete checkpoint.
    #[error("no checkpoint in {}: {reason}", path.display())]
    NoCheckpoint {
        /// The folder.
        path: PathBuf,
        /// Why none was found.
        reason: String,
    },
    /// A checkpoint file is truncated, corrupt or not what the manifest says.
    #[error("corrupt checkpoint file {}: {reason}", path.display())]
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint in a format this version does not read (format 1 has no manifest
    /// hash, so its step, update count and losses cannot be verified).
    #[error(
        "checkpoint manifest {} has format `{format}`; this version reads only `{supported}` \
         (write the checkpoint again with this version)",
        path.display()
    )]
    UnsupportedCheckpoint {
        /// The manifest.
        path: PathBuf,
        /// The format it declares.
        format: String,
        /// The format this version reads.
        supported: &'static str,
    },
    /// Another writer holds the checkpoint folder's lock.
    #[error(
        "checkpoint folder {} is in use by another writer (lock file {} is held); \
         only one writer per folder",
        path.display(),
        lock.display()
    )]
    CheckpointLocked {
        /// The checkpoint folder.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The checkpoint was written under another machine setting than this process runs
    /// with (results would differ from an uninterrupted run).
    #[error(
        "checkpoint was written with {setting} `{checkpoint}`, but this process has \
         `{current}`; {remedy}, or opt in with `ResumeOptions::allow_environment_change`"
    )]
    EnvironmentMismatch {
        /// `CPU dispatch level`, `intra-op threads` or `libtorch version`.
        setting: &'static str,
        /// The checkpoint's value.
        checkpoint: String,
        /// This process's value.
        current: String,
        /// How to get the checkpoint's value back.
        remedy: String,
    },
    /// The checkpoint's tensors do not fit the model (or the optimizer).
    #[error("checkpoint does not match the {what}: tensor `{tensor}`: {reason}")]
    ModelMismatch {
        /// `model` or `optimizer`.
        what: &'static str,
        /// The tensor.
        tensor: String,
        /// Missing, extra, or the shapes/kinds that differ.
        reason: String,
    },
    /// The checkpoint was written under another configuration or seed.
    #[error("checkpoint {field} is {checkpoint}, but this run has {current}")]
    ConfigMismatch {
        /// The differing field (`seed`, `config.<name>`).
        field: String,
        /// The checkpoint's value.
        checkpoint: String,
        /// This run's value.
        current: String,
    },
    /// A trace file line that does not parse.
    #[error("trace {}: line {line}: {reason}", path.display())]
    BadTrace {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// libtorch raised a C++ exception inside the shim.
    #[error("libtorch failed while {during}: {message}")]
    Libtorch {
        /// What the shim was doing.
        during: &'static str,
        /// libtorch's message.
        message: String,
    },
    /// An environment variable the determinism switch needs is unset. The library never
    /// sets it (that would race with other threads): the binary sets it at start, or
    /// the user in the shell.
    #[error(
        "{variable} is not set; {reason}: set {variable}={value} in the environment \
         before the process starts (a binary can set it first thing in `main`)"
    )]
    EnvironmentVariableRequired {
        /// The variable (`CUBLAS_WORKSPACE_CONFIG`).
        variable: &'static str,
        /// The value to set.
        value: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
    /// `CUBLAS_WORKSPACE_CONFIG` holds a value that does not make cuBLAS deterministic.
    #[error(
        "CUBLAS_WORKSPACE_CONFIG is `{value}`; deterministic cuBLAS needs `:4096:8` or `:16:8`"
    )]
    BadCublasWorkspaceConfig {
        /// The value found.
        value: String,
    },
    /// A setting read back from libtorch differs from what was asked for.
    #[error("libtorch setting `{setting}` reads back {got}, expected {wanted}")]
    NotInEffect {
        /// The setting's name.
        setting: &'static str,
        /// What was asked for.
        wanted: String,
        /// What libtorch reports.
        got: String,
    },
    /// A configuration value out of range.
    #[error("invalid configuration: {what} is {value}")]
    InvalidConfig {
        /// Which value.
        what: &'static str,
        /// The offending value, rendered.
        value: String,
    },
    /// Data-parallel training failed: ranks diverged, a peer was lost, or the ranks
    /// disagree (see [`ParallelError`]).
    #[error(transparent)]
    Parallel(#[from] ParallelError),
    /// The CPU dispatch level differs from the one the configuration pins.
    #[error(
        "libtorch dispatches CPU kernels at `{actual}` but the configuration pins `{wanted}`; \
         set ATEN_CPU_CAPABILITY={wanted_env} in the environment before the process starts"
    )]
    CpuCapabilityMismatch {
        /// The pinned level.
        wanted: String,
        /// The level in effect.
        actual: String,
        /// The value of `ATEN_CPU_CAPABILITY` that selects `wanted`.
        wanted_env: String,
    },
}

/// Errors of data-parallel training (`Trainer::distribute`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParallelError {
    /// The ranks' model fingerprints differ after a step: the job stops.
    #[error(
        "after step {step}, rank(s) {ranks:?} hold other weights than rank 0 (model \
         fingerprints by rank: {fingerprints:?})"
    )]
    RanksDiverged {
        /// Steps done when the fingerprints were compared.
        step: u64,
        /// The ranks whose fingerprint differs from rank 0's.
        ranks: Vec<u32>,
        /// Every rank's model fingerprint, in rank order.
        fingerprints: Vec<String>,
    },
    /// A collective operation failed (a peer left, a timeout, a bad length).
    #[error("step {step}: {source}")]
    Collective {
        /// The step being trained (or the steps done, outside a step).
        step: u64,
        /// The collective layer's error.
        #[source]
        source: lockstep_distributed::Error,
    },
    /// The ranks disagree on what they exchange (another model or config on a rank).
    #[error("step {step}: {what}")]
    Mismatch {
        /// The step being trained.
        step: u64,
        /// What differs, in words.
        what: String,
    },
    /// Writing a checkpoint failed on the rank that writes them.
    #[error("rank 0 could not write the checkpoint of step {step}: {reason}")]
    CheckpointFailed {
        /// Steps done.
        step: u64,
        /// Rank 0's error, as text (it crossed a process boundary).
        reason: String,
    },
}

impl Error {
    /// Wraps an error of the user's own code (a [`crate::BatchSource`]'s I/O or decode
    /// error, say) so it passes through lockstep-nn with its `source()` chain intact.
    ///
    /// ```
    /// let e = lockstep_nn::Error::wrap(std::io::Error::other("disk gone"));
    /// assert_eq!(e.to_string(), "disk gone");
    /// ```
    pub fn wrap(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(error))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

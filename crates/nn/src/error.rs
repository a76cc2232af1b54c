//! The one error type of this crate.

/// Everything that can go wrong in `lockstep-nn`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// libtorch raised a C++ exception inside the shim.
    #[error("libtorch failed while {during}: {message}")]
    Libtorch {
        /// What the shim was doing.
        during: &'static str,
        /// libtorch's message.
        message: String,
    },
    /// CUDA started before `CUBLAS_WORKSPACE_CONFIG` was set, so cuBLAS has already read
    /// it and may be nondeterministic for the rest of the process.
    #[error(
        "CUDA has already started without CUBLAS_WORKSPACE_CONFIG; set \
         CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment before the process starts, \
         or enable the determinism switch before any CUDA work"
    )]
    CudaStartedWithoutWorkspaceConfig,
    /// `CUBLAS_WORKSPACE_CONFIG` holds a value that does not make cuBLAS deterministic.
    #[error("CUBLAS_WORKSPACE_CONFIG is `{value}`; deterministic cuBLAS needs `:4096:8` or `:16:8`")]
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

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

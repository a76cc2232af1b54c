//! The environment fingerprint: everything that can change the bits of a run, so a
//! report says under which conditions its equalities hold.

use serde::{Deserialize, Serialize};

/// Versions and machine facts that a run's bits depend on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `rustc --version` of the compiler that built the suite.
    pub rustc: String,
    /// lockstep's version.
    pub lockstep: String,
    /// The `tch` crate's version.
    pub tch: String,
    /// Operating system and architecture.
    pub os_arch: String,
    /// The CPU model, from `/proc/cpuinfo` where there is one.
    pub cpu_model: String,
    /// Hardware threads available to this process.
    pub available_threads: usize,
    /// The build profile (`release` or `debug`): codegen differs between them.
    pub profile: String,
    /// The MPI library the distributed runs use (its version line), or why none.
    #[serde(default)]
    pub mpi: String,
}

impl Environment {
    /// Reads the environment of this process.
    ///
    /// ```
    /// let env = lockstep_repro::environment::Environment::current();
    /// assert!(env.available_threads >= 1);
    /// assert_eq!(env.tch, lockstep_repro::environment::TCH_VERSION);
    /// ```
    pub fn current() -> Self {
        Self {
            rustc: env!("LOCKSTEP_RUSTC_VERSION").to_string(),
            lockstep: env!("CARGO_PKG_VERSION").to_string(),
            tch: TCH_VERSION.to_string(),
            os_arch: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            cpu_model: cpu_model(),
            available_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_string(),
            mpi: crate::distributed::mpi_version(),
        }
    }
}

/// The pinned `tch` version (the workspace pins `tch = "=0.24.0"`).
pub const TCH_VERSION: &str = "0.24.0";

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

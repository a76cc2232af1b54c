//! A user's binary: switch libtorch to deterministic mode, print what is in effect, and
//! fingerprint a tensor. It starts only if the loader finds libtorch through the rpath.

use lockstep_nn::tch::Tensor;
use lockstep_nn::determinism::{self, CUBLAS_WORKSPACE_CONFIG, CUBLAS_WORKSPACE_VALUE};
use lockstep_nn::{tensor_fingerprint, DeterminismConfig};

fn main() -> Result<(), lockstep_nn::Error> {
    // lockstep-nn never changes the environment: the binary sets what cuBLAS reads,
    // first thing, before any thread or CUDA context exists.
    if std::env::var_os(CUBLAS_WORKSPACE_CONFIG).is_none() {
        std::env::set_var(CUBLAS_WORKSPACE_CONFIG, CUBLAS_WORKSPACE_VALUE);
    }
    let report = determinism::enable(&DeterminismConfig::strict(1))?;
    let t = Tensor::from_slice(&[1.0f32, -2.5, 0.0, 3.25]).reshape([2, 2]);
    println!(
        "libtorch {} at {:?}, deterministic: {}, fingerprint {}",
        report.libtorch_version,
        report.cpu_capability,
        report.is_deterministic(),
        tensor_fingerprint(&t)?
    );
    Ok(())
}

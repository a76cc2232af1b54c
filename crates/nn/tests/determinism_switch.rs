//! The switch's settings read back from libtorch on CPU. One test function, since the
//! settings are process-wide and tests in one binary run in parallel.

use lockstep_nn::determinism::{self, CpuCapability, DeterminismConfig, Mode};
use lockstep_nn::Error;

#[test]
fn switch_sets_and_reads_back_every_setting() {
    // The switch only reads CUBLAS_WORKSPACE_CONFIG; it never sets it (issue 11: a
    // library does not change the process environment). On this CPU-only libtorch an
    // unset variable is accepted, since nothing reads it.
    let before = std::env::var(determinism::CUBLAS_WORKSPACE_CONFIG).ok();
    // Strict with 1 thread.
    let strict = determinism::enable(&DeterminismConfig::strict(1)).unwrap();
    assert!(strict.deterministic_algorithms);
    assert!(!strict.deterministic_warn_only);
    assert!(strict.cudnn_deterministic);
    assert!(!strict.cudnn_benchmark);
    assert!(!strict.allow_tf32_cublas);
    assert!(!strict.allow_tf32_cudnn);
    assert!(!strict.allow_tf32_onednn);
    assert!(strict.mkldnn_deterministic);
    assert!(strict.fill_uninitialized_memory);
    assert_eq!(strict.intra_op_threads, 1);
    assert!(strict.is_deterministic());
    assert_eq!(strict.libtorch_version, "2.11.0");
    assert_eq!(strict.cublas_workspace_config, before);
    assert_eq!(
        std::env::var(determinism::CUBLAS_WORKSPACE_CONFIG).ok(),
        before
    );
    // An independent reader agrees with what enable returned.
    assert_eq!(determinism::report().unwrap(), strict);
    // libtorch really is deterministic now: tch's own getter agrees on threads.
    assert_eq!(tch::get_num_threads(), 1);

    // Warn-only with 2 threads.
    let warn = DeterminismConfig::strict(2).with_mode(Mode::WarnOnly);
    let report = determinism::enable(&warn).unwrap();
    assert!(report.deterministic_algorithms && report.deterministic_warn_only);
    assert_eq!(report.intra_op_threads, 2);
    assert_eq!(tch::get_num_threads(), 2);

    // Back to libtorch's defaults.
    let default = determinism::enable(&DeterminismConfig::default_mode(1)).unwrap();
    assert!(!default.deterministic_algorithms);
    assert!(default.allow_tf32_cudnn);
    assert!(!default.is_deterministic());

    // A pinned CPU level other than the one in effect is refused with the fix named.
    let other = match &default.cpu_capability {
        CpuCapability::Default => CpuCapability::Avx2,
        _ => CpuCapability::Default,
    };
    let pinned = DeterminismConfig::strict(1).with_cpu_capability(Some(other.clone()));
    match determinism::enable(&pinned) {
        Err(Error::CpuCapabilityMismatch { wanted_env, .. }) => {
            assert_eq!(wanted_env, other.env_value())
        }
        other => panic!("expected CpuCapabilityMismatch, got {other:?}"),
    }
    // Zero threads is a typed error.
    assert!(matches!(
        determinism::enable(&DeterminismConfig::strict(0)),
        Err(Error::InvalidConfig {
            what: "intra_op_threads",
            ..
        })
    ));

    // A nondeterministic cuBLAS setting is refused.
    std::env::set_var(determinism::CUBLAS_WORKSPACE_CONFIG, ":0:0");
    assert!(matches!(
        determinism::enable(&DeterminismConfig::strict(1)),
        Err(Error::BadCublasWorkspaceConfig { .. })
    ));
    std::env::set_var(determinism::CUBLAS_WORKSPACE_CONFIG, ":16:8");
    determinism::enable(&DeterminismConfig::strict(1)).unwrap();
}

#[test]
fn this_cpu_machine_reports_no_cuda() {
    // The CPU-only tree has no libtorch_cuda; a CUDA build reports devices instead.
    let report = determinism::report().unwrap();
    if cfg!(feature = "cuda") {
        return;
    }
    assert_eq!(report.cuda, None);
}

//! Builds the C++ determinism shim against the libtorch that torch-sys found, gives
//! every binary and test of this crate an rpath to it (torch-sys emits none), and exports
//! libtorch's library folder to dependents' build scripts.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=shim/determinism.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    // torch-sys declares `links = "tch"` and exports its library folder to direct
    // dependents as DEP_TCH_LIBTORCH_LIB.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_else(|_| {
        panic!("DEP_TCH_LIBTORCH_LIB is unset: torch-sys did not find libtorch; run through `cargo xtask`")
    });
    let lib = PathBuf::from(lib);
    let root = lib
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| lib.clone());
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        .file("shim/determinism.cpp")
        .compile("lockstep_determinism_shim");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // With `links = "lockstep_nn"`, this reaches the build scripts of crates that depend
    // on lockstep-nn as DEP_LOCKSTEP_NN_LIBTORCH_LIB: a one-line build script there turns
    // it into an rpath (link args do not propagate to dependents; see the README).
    println!("cargo:libtorch_lib={}", lib.display());
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

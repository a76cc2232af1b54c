//! Records the compiler version for the suite's environment fingerprint, and gives the
//! binary an rpath to libtorch (torch-sys emits none; a dependency's link args do not
//! reach dependents).

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LOCKSTEP_RUSTC_VERSION={}", version.trim());
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=RUSTC");
}

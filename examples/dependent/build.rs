//! The one line a crate depending on lockstep-nn needs: an rpath to libtorch.
fn main() {
    println!(
        "cargo:rustc-link-arg=-Wl,-rpath,{}",
        std::env::var("DEP_LOCKSTEP_NN_LIBTORCH_LIB").expect("lockstep-nn exports it")
    );
}

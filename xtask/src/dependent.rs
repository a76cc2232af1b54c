//! The out-of-workspace dependent of lockstep-nn (`examples/dependent`): built into the
//! workspace's target folder with the workspace's `Cargo.lock` (so torch-sys, tch and
//! the rest are reused, not rebuilt), then run with `LD_LIBRARY_PATH` removed, so only
//! the rpath its one-line build script adds can find libtorch.

use std::ffi::OsString;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace;

/// Builds and runs the example; fails if it does not build or does not start.
pub fn check(env: &[(String, OsString)]) -> Result<()> {
    let started = std::time::Instant::now();
    let dir = workspace::root().join("examples").join("dependent");
    let lock = dir.join("Cargo.lock");
    std::fs::copy(workspace::root().join("Cargo.lock"), &lock)
        .with_context(|| format!("copying the workspace's Cargo.lock to {}", lock.display()))?;
    let target = workspace::target_dir();
    let mut env = env.to_vec();
    env.push(("CARGO_TARGET_DIR".into(), target.clone().into_os_string()));
    let manifest = dir.join("Cargo.toml");
    workspace::cargo(
        &[
            "build",
            "--quiet",
            "--manifest-path",
            &manifest.to_string_lossy(),
        ],
        &env,
    )?;
    let binary = target.join("debug").join("lockstep-dependent-example");
    eprintln!("    $ env -u LD_LIBRARY_PATH {}", binary.display());
    let out = Command::new(&binary)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .with_context(|| format!("could not start {}", binary.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed with {} without LD_LIBRARY_PATH (is the rpath missing?):\n{}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprint!("    {}", String::from_utf8_lossy(&out.stdout));
    eprintln!(
        "    built and ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

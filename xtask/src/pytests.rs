//! The Python step of `cargo xtask test`: build and install the `lockstep` module into
//! the managed environment exactly as a user would (`pip install ./crates/python`,
//! maturin from PyPI as the build backend), write the Rust side's known answers, and
//! run the pytest suite (bindings against Rust, `lockstep.torch`, the torchrun jobs).

use std::ffi::OsStr;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::python::Venv;
use crate::workspace;

/// What the tests import. torch is PyPI's 2.11.0 (the same as the bench's peers, so
/// one environment serves both); PyPI has no CPU-only build of it.
const REQUIREMENTS: &[&str] = &["torch==2.11.0", "numpy", "pytest"];
const MODULES: &[&str] = &["torch", "numpy", "pytest"];

/// pytest's exit status when it collected no tests.
const PYTEST_NO_TESTS: i32 = 5;

/// Builds the `lockstep` module from this checkout and installs it into `venv`, as a
/// user would (`pip install ./crates/python`); also used by `cargo xtask bench python`.
pub fn install_module(venv: &Venv) -> Result<()> {
    workspace::step("build and install the Python module: pip install ./crates/python");
    let package = workspace::root().join("crates").join("python");
    venv.pip_install(&[
        OsStr::new("--force-reinstall"),
        OsStr::new("--no-deps"),
        package.as_os_str(),
    ])
}

/// Runs the step; every failure (pytest's "no tests collected" included) is an error.
pub fn run() -> Result<()> {
    let started = std::time::Instant::now();
    let venv = Venv::ensure()?;
    venv.ensure_packages(REQUIREMENTS, MODULES)?;
    install_module(&venv)?;
    let package = workspace::root().join("crates").join("python");
    workspace::step("the Rust side's known answers (example known_answers)");
    let answers = workspace::cargo_stdout(
        &[
            "run",
            "-q",
            "-p",
            "lockstep-python",
            "--example",
            "known_answers",
        ],
        &[],
    )?;
    let answers_path = crate::python::home().join("known_answers.json");
    std::fs::write(&answers_path, answers)
        .with_context(|| format!("could not write {}", answers_path.display()))?;
    workspace::step("pytest crates/python/tests (bindings vs Rust, lockstep.torch, torchrun jobs)");
    let tests = package.join("tests");
    let status = Command::new(venv.python())
        .args([OsStr::new("-m"), OsStr::new("pytest"), OsStr::new("-q")])
        .arg(&tests)
        .env("LOCKSTEP_KNOWN_ANSWERS", &answers_path)
        .env("LOCKSTEP_REQUIRE_TORCH", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(workspace::root())
        .status()
        .context("could not start pytest")?;
    match status.code() {
        Some(0) => {}
        Some(PYTEST_NO_TESTS) => bail!("pytest collected no tests in {}", tests.display()),
        _ => bail!("pytest failed with {status}"),
    }
    workspace::step(&format!(
        "Python step passed in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

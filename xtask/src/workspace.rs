//! Where the project is, and how commands are run and shown.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root: the parent of this crate's manifest directory.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// `target/` of the workspace (honouring `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Prints a step header, so a long run shows where it is.
pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// Runs `program args…` in the workspace root with extra environment, streaming its
/// output, and fails with the command line if it fails.
pub fn run(program: &OsStr, args: &[&OsStr], env: &[(String, OsString)]) -> Result<()> {
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("    $ {line}");
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .status()
        .with_context(|| format!("could not start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed with {status}");
    }
    Ok(())
}

/// Runs cargo (the one that runs us, from `$CARGO`) with extra environment.
pub fn cargo(args: &[&str], env: &[(String, OsString)]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run(&cargo, &args, env)
}

/// Runs cargo like [`cargo`], but captures and returns its standard output (standard
/// error still streams, for progress).
pub fn cargo_stdout(args: &[&str], env: &[(String, OsString)]) -> Result<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    output(
        &cargo,
        &args.iter().map(OsStr::new).collect::<Vec<_>>(),
        env,
    )
}

/// Runs `program args…` and returns its standard output; standard error streams.
pub fn output(program: &OsStr, args: &[&OsStr], env: &[(String, OsString)]) -> Result<String> {
    let line = std::iter::once(program)
        .chain(args.iter().copied())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("    $ {line}");
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        bail!("`{line}` failed with {}", out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{line}` printed non-UTF-8 output"))
}

/// `cargo install --locked --force KRATE@VERSION` into `tools` (`target/tools`): the
/// project's managed tools, pinned, never in the user's `~/.cargo/bin`.
pub fn install_tool(krate: &str, version: &str, tools: &Path) -> Result<()> {
    step(&format!("install {krate} {version} into target/tools"));
    let root = tools.to_string_lossy().into_owned();
    cargo(
        &[
            "install",
            krate,
            "--locked",
            "--force",
            "--version",
            version,
            "--root",
            &root,
        ],
        &[],
    )
}

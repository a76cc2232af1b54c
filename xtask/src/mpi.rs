//! MPI for the distributed crate's `mpi` feature: the user's MPI (`LOCKSTEP_MPI=<prefix>`
//! whose `bin/` holds `mpicc` and `mpiexec`), or PyPI's `mpich` wheel and, for rsmpi's
//! bindgen, PyPI's `libclang` wheel, installed into a virtual environment under
//! `target/lockstep-py/` on first use (no root, no Debian package).
//!
//! rsmpi's build script finds MPI through `mpicc -show`, so the prefix's `bin/` goes
//! first on `PATH`; bindgen finds `libclang.so` through `LIBCLANG_PATH`; the binaries
//! find `libmpi.so.12` through `LD_LIBRARY_PATH` (the wheel sets no rpath). The
//! environment is built in a staging folder's place only after a marker is written, so
//! an interrupted install is redone, never trusted.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::python;
use crate::workspace;

/// The wheels: MPICH (mpicc, mpiexec, mpi.h, libmpi.so.12) and libclang for bindgen.
const WHEELS: &[&str] = &["mpich==5.0.2", "libclang==18.1.1"];
const MARKER: &str = ".lockstep-ready";

/// An MPI ready for rsmpi's build and for `mpiexec`.
#[derive(Debug)]
pub struct MpiSetup {
    /// The prefix holding `bin/mpicc`, `bin/mpiexec` and `lib/libmpi.so*`.
    prefix: PathBuf,
    /// The folder holding `libclang.so`, if we installed it (a system MPI may come
    /// with a system libclang that bindgen finds by itself).
    libclang: Option<PathBuf>,
}

impl MpiSetup {
    /// `mpiexec`.
    pub fn mpiexec(&self) -> PathBuf {
        self.prefix.join("bin").join("mpiexec")
    }

    /// The environment cargo and the launched ranks need, merged into `base` (whose
    /// `LD_LIBRARY_PATH`, if any, is kept after ours).
    pub fn env(&self, base: &[(String, OsString)]) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = base
            .iter()
            .filter(|(k, _)| k != "LD_LIBRARY_PATH" && k != "PATH")
            .cloned()
            .collect();
        let prepend = |var: &str, dir: PathBuf, rest: Option<OsString>| {
            let mut v = dir.into_os_string();
            if let Some(rest) = rest.filter(|r| !r.is_empty()) {
                v.push(":");
                v.push(rest);
            }
            (var.to_string(), v)
        };
        let old_lib = base
            .iter()
            .find(|(k, _)| k == "LD_LIBRARY_PATH")
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var_os("LD_LIBRARY_PATH"));
        env.push(prepend("LD_LIBRARY_PATH", self.prefix.join("lib"), old_lib));
        env.push(prepend(
            "PATH",
            self.prefix.join("bin"),
            std::env::var_os("PATH"),
        ));
        if let Some(dir) = &self.libclang {
            env.push(("LIBCLANG_PATH".into(), dir.clone().into_os_string()));
        }
        env.push(("MPIEXEC".into(), self.mpiexec().into_os_string()));
        env
    }

    /// The MPI's own version line (`mpichversion`, or `mpiexec --version`).
    pub fn version(&self) -> String {
        let bin = self.prefix.join("bin");
        for (tool, arg) in [("mpichversion", None), ("mpiexec", Some("--version"))] {
            let mut cmd = Command::new(bin.join(tool));
            cmd.args(arg);
            if let Ok(out) = cmd.output() {
                if let Some(line) = String::from_utf8_lossy(&out.stdout).lines().next() {
                    return line.split_whitespace().collect::<Vec<_>>().join(" ");
                }
            }
        }
        "unknown".into()
    }
}

/// The user's MPI (`LOCKSTEP_MPI`), or the managed one, installed if needed.
pub fn ensure() -> Result<MpiSetup> {
    if let Some(user) = std::env::var_os("LOCKSTEP_MPI") {
        let prefix = PathBuf::from(user);
        check_prefix(&prefix)
            .with_context(|| format!("LOCKSTEP_MPI={} is not usable", prefix.display()))?;
        workspace::step(&format!("MPI: using LOCKSTEP_MPI={}", prefix.display()));
        return Ok(MpiSetup {
            prefix,
            libclang: std::env::var_os("LIBCLANG_PATH").map(PathBuf::from),
        });
    }
    let dir = python::home().join("mpich-5.0.2");
    if dir.join(MARKER).exists() {
        let setup = managed(&dir)?;
        workspace::step(&format!("MPI (MPICH 5.0.2): reusing {}", dir.display()));
        return Ok(setup);
    }
    if dir.exists() {
        // An interrupted install (no marker): ours to redo.
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("could not clear {}", dir.display()))?;
    }
    workspace::step(&format!(
        "MPI: installing MPICH 5.0.2 and libclang from PyPI into {} (about 40 MB)",
        dir.display()
    ));
    let python = std::env::var_os("LOCKSTEP_PYTHON").unwrap_or_else(|| "python3".into());
    std::fs::create_dir_all(python::home())?;
    workspace::run(
        &python,
        &[OsStr::new("-m"), OsStr::new("venv"), dir.as_os_str()],
        &[],
    )
    .context("could not create the MPI environment: install Python 3 with venv and pip")?;
    let pip = dir.join("bin").join("pip");
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("install"),
        OsStr::new("--disable-pip-version-check"),
        OsStr::new("--no-cache-dir"),
    ];
    args.extend(WHEELS.iter().map(OsStr::new));
    workspace::run(pip.as_os_str(), &args, &[]).context(
        "pip could not install mpich and libclang: check that PyPI is reachable, or set \
         LOCKSTEP_MPI to an MPI installation prefix",
    )?;
    let setup = managed(&dir)?;
    std::fs::write(dir.join(MARKER), WHEELS.join("\n"))?;
    Ok(setup)
}

/// The managed environment's MPI prefix (the venv itself) and libclang folder.
fn managed(dir: &Path) -> Result<MpiSetup> {
    check_prefix(dir)?;
    let libclang = find_libclang(dir)?;
    Ok(MpiSetup {
        prefix: dir.to_path_buf(),
        libclang: Some(libclang),
    })
}

/// `lib/python3.X/site-packages/clang/native` inside the venv.
fn find_libclang(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    let entries = std::fs::read_dir(&lib).with_context(|| format!("{}", lib.display()))?;
    for entry in entries.flatten() {
        let native = entry.path().join("site-packages/clang/native");
        if native.join("libclang.so").exists() {
            return Ok(native);
        }
    }
    bail!("libclang.so is missing under {}", lib.display())
}

/// `prefix/bin/{mpicc,mpiexec}` exist.
fn check_prefix(prefix: &Path) -> Result<()> {
    for tool in ["mpicc", "mpiexec"] {
        let path = prefix.join("bin").join(tool);
        if !path.exists() {
            bail!("{} is missing", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_puts_the_prefix_first_and_keeps_libtorch() {
        let setup = MpiSetup {
            prefix: PathBuf::from("/m"),
            libclang: Some(PathBuf::from("/c")),
        };
        let base = vec![
            ("LIBTORCH".to_string(), OsString::from("/t")),
            ("LD_LIBRARY_PATH".to_string(), OsString::from("/t/lib")),
        ];
        let env = setup.env(&base);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("LIBTORCH"), Some("/t".into()));
        assert_eq!(get("LD_LIBRARY_PATH"), Some("/m/lib:/t/lib".into()));
        assert_eq!(get("LIBCLANG_PATH"), Some("/c".into()));
        assert_eq!(get("MPIEXEC"), Some("/m/bin/mpiexec".into()));
        assert!(get("PATH").unwrap().to_string_lossy().starts_with("/m/bin"));
    }

    #[test]
    fn a_prefix_without_the_tools_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-mpi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let err = check_prefix(&dir).unwrap_err().to_string();
        assert!(err.contains("mpicc"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The managed Python virtual environment under `target/lockstep-py/venv`.
//!
//! It supplies pip for the libtorch set-up, and the peers (NumPy, Pillow, PyTorch,
//! torchvision) for `cargo xtask bench`, installed on demand.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::workspace;

const INSTALL_HINT: &str = "install Python 3 with its venv module and pip \
(Debian/Ubuntu: `apt-get install python3 python3-venv python3-pip`), \
or set LIBTORCH to an existing libtorch 2.11.0";

/// The folder that holds everything Python-related that the xtask manages.
pub fn home() -> PathBuf {
    workspace::target_dir().join("lockstep-py")
}

/// The managed virtual environment.
#[derive(Debug)]
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// Creates the environment if it does not exist yet, and returns it.
    pub fn ensure() -> Result<Self> {
        let dir = home().join("venv");
        let venv = Self { dir };
        if venv.python().exists() {
            return Ok(venv);
        }
        let python = std::env::var_os("LOCKSTEP_PYTHON").unwrap_or_else(|| "python3".into());
        let found = Command::new(&python).arg("--version").output();
        match found {
            Ok(out) if out.status.success() => {}
            _ => bail!(
                "`{}` was not found or does not run: {INSTALL_HINT}",
                python.to_string_lossy()
            ),
        }
        workspace::step(&format!(
            "create the managed Python environment {}",
            venv.dir.display()
        ));
        std::fs::create_dir_all(home())?;
        let status = Command::new(&python)
            .args([OsStr::new("-m"), OsStr::new("venv"), venv.dir.as_os_str()])
            .status()
            .with_context(|| format!("could not run `{} -m venv`", python.to_string_lossy()))?;
        if !status.success() || !venv.python().exists() {
            let _ = std::fs::remove_dir_all(&venv.dir);
            bail!(
                "`{} -m venv` failed: {INSTALL_HINT}",
                python.to_string_lossy()
            );
        }
        Ok(venv)
    }

    /// The environment's interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// `pip install ARGS…` in this environment, with pip's own progress shown.
    pub fn pip_install(&self, args: &[&OsStr]) -> Result<()> {
        let mut full: Vec<&OsStr> = vec![
            OsStr::new("-m"),
            OsStr::new("pip"),
            OsStr::new("install"),
            OsStr::new("--disable-pip-version-check"),
            OsStr::new("--progress-bar"),
            OsStr::new("on"),
        ];
        full.extend_from_slice(args);
        workspace::run(self.python().as_os_str(), &full, &[]).with_context(|| {
            "pip could not install the packages: check that PyPI is reachable \
             (a proxy may need HTTPS_PROXY), or set LIBTORCH to an existing libtorch 2.11.0"
        })
    }

    /// Makes sure `requirements` (pip specifiers) are importable as `modules`, installing
    /// them if not. A marker file keyed by the requirements makes a second call free.
    pub fn ensure_packages(&self, requirements: &[&str], modules: &[&str]) -> Result<()> {
        let marker = self.dir.join(format!(
            ".lockstep-{}",
            requirements.join("+").replace(['=', '<', '>', '/'], "_")
        ));
        if marker.exists() {
            return Ok(());
        }
        let check = format!("import {}", modules.join(", "));
        let present = Command::new(self.python())
            .args(["-c", &check])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !present {
            workspace::step(&format!(
                "install the peers' packages: {}",
                requirements.join(" ")
            ));
            let args: Vec<&OsStr> = requirements.iter().map(OsStr::new).collect();
            self.pip_install(&args)?;
        }
        std::fs::write(&marker, requirements.join("\n"))?;
        Ok(())
    }
}

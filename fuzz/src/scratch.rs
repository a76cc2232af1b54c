//! A scratch folder for targets whose public entry reads files: created per input,
//! and on drop it removes exactly what it made (files it wrote, folders it created
//! fresh, with what code under test wrote into them), then the folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A fresh folder under the system's temporary folder.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    written: Vec<PathBuf>,
    trees: Vec<PathBuf>,
}

// A folder registered by `fresh_tree` is removed whole: it was created empty here, so
// everything in it was written by this process.

impl Scratch {
    /// A new, empty folder; `None` if the file system refuses (not a finding).
    pub fn new(target: &str) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "lockstep-fuzz-{target}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).ok()?;
        Some(Self {
            dir,
            written: Vec::new(),
            trees: Vec::new(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` to `name` (a plain file name) in the folder.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> Option<PathBuf> {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).ok()?;
        self.written.push(path.clone());
        Some(path)
    }

    /// Creates the empty subfolder `name` for code under test to write into; it is
    /// removed with its contents.
    pub fn fresh_tree(&mut self, name: &str) -> Option<PathBuf> {
        let path = self.dir.join(name);
        std::fs::create_dir(&path).ok()?;
        self.trees.push(path.clone());
        Some(path)
    }

    /// Creates the subfolder `name`.
    pub fn mkdir(&mut self, name: &str) -> Option<PathBuf> {
        let path = self.dir.join(name);
        std::fs::create_dir(&path).ok()?;
        self.written.push(path.clone());
        Some(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for tree in &self.trees {
            let _ = std::fs::remove_dir_all(tree);
        }
        // Files first, then folders (created after their parents), then ours.
        for path in self.written.iter().rev() {
            if path.is_dir() {
                let _ = std::fs::remove_dir(path);
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

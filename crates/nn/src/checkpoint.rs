//! Checkpoints: weights and optimizer state as safetensors, plus a JSON manifest covered
//! by a hash, written so that a process killed at any instant leaves the previous
//! checkpoint intact, and read back only after every byte is verified.
//!
//! Layout of a checkpoint folder `root`:
//! - `root/step-<step:012>-<pid>-<n>/` — one complete checkpoint: `weights.safetensors`,
//!   `optimizer.safetensors`, `manifest.json` (each tensor file's size and BLAKE3, and the
//!   fingerprints of the tensors) and `manifest.blake3` (the BLAKE3 of `manifest.json`);
//! - `root/LATEST` — the name of the current checkpoint's folder;
//! - `root/.lock` — the writer's advisory lock ([`CheckpointWriter`]).
//!
//! A write fills a fresh `.tmp-<pid>-<n>` folder (each file fsynced, then the folder),
//! renames it into place, fsyncs `root`, then replaces `LATEST` the same way (temp file,
//! fsync, rename, fsync `root`), and only then prunes. Until the rename of `LATEST`,
//! readers see the previous checkpoint; after it, the new one.
//!
//! Pruning keeps the new checkpoint and the previous `LATEST`, and removes only
//! checkpoints of this run: folders named `step-<12 digits>-<pid>-<n>` whose manifest
//! verifies and whose seed and config equal the new checkpoint's. Anything else in
//! `root` (another run's checkpoints, a user's `step-notes/`) is left alone; so are
//! temp leftovers not named by this module's pattern.
//!
//! Reading checks `manifest.blake3`, then each tensor file's size and BLAKE3, then
//! recomputes the model and optimizer fingerprints from the decoded tensors. Format 1
//! checkpoints (no manifest hash) are refused with [`Error::UnsupportedCheckpoint`].

mod manifest;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tch::{Device, Tensor};

use crate::error::{Error, Result};
use crate::fingerprint::{optimizer_fingerprint, set_fingerprint};
use crate::safetensors_io;

pub use manifest::{
    hash_line, FileEntry, Manifest, FORMAT, FORMAT_V1, MANIFEST, MANIFEST_HASH, OPTIMIZER, WEIGHTS,
};
pub use safetensors_io::TensorEntry;

/// The pointer file naming the current checkpoint.
pub const LATEST: &str = "LATEST";
/// The writer's lock file.
pub const LOCK: &str = ".lock";

static WRITES: AtomicU64 = AtomicU64::new(0);

/// A checkpoint as read back.
#[derive(Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The weights, in name order.
    pub weights: Vec<(String, Tensor)>,
    /// The optimizer state, in name order.
    pub optimizer: Vec<(String, Tensor)>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .map_err(io(path))?
        .sync_all()
        .map_err(io(path))
}

fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    )
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `<pid>-<n>`, as [`unique_suffix`] makes it.
fn is_suffix(s: &str) -> bool {
    matches!(s.split_once('-'), Some((a, b)) if all_digits(a) && all_digits(b))
}

/// A folder name this module gives checkpoints: `step-<12 digits>-<pid>-<n>`.
fn is_checkpoint_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("step-") else {
        return false;
    };
    match rest.split_at_checked(12) {
        Some((step, tail)) => all_digits(step) && tail.strip_prefix('-').is_some_and(is_suffix),
        None => false,
    }
}

/// A leftover of an interrupted write: `.tmp-<pid>-<n>` or `.tmp-<pid>-<n>-LATEST`.
fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".tmp-")
        .is_some_and(|rest| is_suffix(rest.strip_suffix(&format!("-{LATEST}")).unwrap_or(rest)))
}

/// The one writer of a checkpoint folder: holds an exclusive advisory lock on
/// `root/.lock` for its lifetime, so a second writer (in this or another process) is
/// refused with [`Error::CheckpointLocked`] instead of interleaving with it.
#[derive(Debug)]
pub struct CheckpointWriter {
    root: PathBuf,
    // Held for the lock; released when dropped (or when the process dies).
    _lock: File,
}

impl CheckpointWriter {
    /// Creates `root` if needed and takes its lock.
    pub fn open(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).map_err(io(root))?;
        let path = root.join(LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                root: root.to_path_buf(),
                _lock: file,
            }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::CheckpointLocked {
                path: root.to_path_buf(),
                lock: path,
            }),
            Err(fs::TryLockError::Error(source)) => Err(Error::Io { path, source }),
        }
    }

    /// The folder it writes to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes a checkpoint and makes it the current one; returns its folder.
    /// `manifest.format`, `files`, `model_fingerprint` and `optimizer_fingerprint` are
    /// filled in here from the tensors written.
    pub fn write(
        &self,
        mut manifest: Manifest,
        weights: &[(String, Tensor)],
        optimizer: &[(String, Tensor)],
    ) -> Result<PathBuf> {
        let root = self.root.as_path();
        let previous = fs::read_to_string(root.join(LATEST))
            .ok()
            .map(|s| s.trim().to_string());
        remove_temp_leftovers(root)?;
        let suffix = unique_suffix();
        let tmp = root.join(format!(".tmp-{suffix}"));
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        let w = safetensors_io::encode(weights, &tmp.join(WEIGHTS))?;
        let o = safetensors_io::encode(optimizer, &tmp.join(OPTIMIZER))?;
        manifest.format = FORMAT.to_string();
        manifest.files = [
            (WEIGHTS.to_string(), FileEntry::of(&w)),
            (OPTIMIZER.to_string(), FileEntry::of(&o)),
        ]
        .into();
        manifest.model_fingerprint = set_fingerprint(weights)?;
        manifest.optimizer_fingerprint =
            optimizer_fingerprint(optimizer, manifest.optimizer_updates)?;
        let (text, hash) = manifest.to_bytes_with_hash()?;
        write_synced(&tmp.join(WEIGHTS), &w)?;
        write_synced(&tmp.join(OPTIMIZER), &o)?;
        write_synced(&tmp.join(MANIFEST), &text)?;
        write_synced(&tmp.join(MANIFEST_HASH), &hash)?;
        sync_dir(&tmp)?;
        let name = format!("step-{:012}-{suffix}", manifest.step);
        let dir = root.join(&name);
        fs::rename(&tmp, &dir).map_err(io(&dir))?;
        sync_dir(root)?;
        let pointer = root.join(format!(".tmp-{suffix}-{LATEST}"));
        write_synced(&pointer, format!("{name}\n").as_bytes())?;
        fs::rename(&pointer, root.join(LATEST)).map_err(io(&root.join(LATEST)))?;
        sync_dir(root)?;
        let mut keep = vec![name];
        keep.extend(previous);
        prune(root, &keep, &manifest)?;
        Ok(dir)
    }
}

/// Writes one checkpoint under `root` with a [`CheckpointWriter`] opened for it (so it
/// fails with [`Error::CheckpointLocked`] while another writer holds `root`).
pub fn write(
    root: &Path,
    manifest: Manifest,
    weights: &[(String, Tensor)],
    optimizer: &[(String, Tensor)],
) -> Result<PathBuf> {
    CheckpointWriter::open(root)?.write(manifest, weights, optimizer)
}

fn remove_path(path: &Path) -> Result<()> {
    let removed = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(io(path))
}

/// Removes leftovers of interrupted writes (named by this module; the lock guarantees
/// no writer is using them).
fn remove_temp_leftovers(root: &Path) -> Result<()> {
    for item in fs::read_dir(root).map_err(io(root))? {
        let item = item.map_err(io(root))?;
        if is_temp_name(&item.file_name().to_string_lossy()) {
            remove_path(&item.path())?;
        }
    }
    Ok(())
}

/// Whether `dir` is a checkpoint of the run `ours` belongs to, by its verified manifest.
fn same_run(dir: &Path, ours: &Manifest) -> bool {
    let Ok(text) = fs::read(dir.join(MANIFEST)) else {
        return false;
    };
    let hash = fs::read(dir.join(MANIFEST_HASH)).ok();
    match manifest::verify_in(dir, &text, hash.as_deref()) {
        Ok(m) => m.seed.key() == ours.seed.key() && m.config == ours.config,
        Err(_) => false,
    }
}

/// Removes this run's checkpoints other than `keep` (see the module docs).
fn prune(root: &Path, keep: &[String], ours: &Manifest) -> Result<()> {
    for item in fs::read_dir(root).map_err(io(root))? {
        let item = item.map_err(io(root))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        if is_checkpoint_name(&name)
            && !keep.contains(&name)
            && path.is_dir()
            && same_run(&path, ours)
        {
            fs::remove_dir_all(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Reads the current checkpoint under `root`, verifying every file (see the module
/// docs), with tensors placed on `device`.
pub fn read_latest(root: &Path, device: Device) -> Result<Checkpoint> {
    let pointer = root.join(LATEST);
    let name = match fs::read_to_string(&pointer) {
        Ok(s) => s.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoCheckpoint {
                path: root.to_path_buf(),
                reason: format!("{LATEST} is missing"),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::CorruptCheckpoint {
                path: pointer,
                reason: "is not UTF-8".into(),
            })
        }
        Err(source) => {
            return Err(Error::Io {
                path: pointer,
                source,
            })
        }
    };
    if !is_checkpoint_name(&name) {
        return Err(Error::CorruptCheckpoint {
            path: pointer,
            reason: format!("names `{name}`, not a checkpoint folder"),
        });
    }
    read_dir(&root.join(name), device)
}

/// Reads a file of a checkpoint, `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads one checkpoint folder (see [`read_latest`]).
pub fn read_dir(dir: &Path, device: Device) -> Result<Checkpoint> {
    let mpath = dir.join(MANIFEST);
    let text = fs::read(&mpath).map_err(io(&mpath))?;
    let hash = read_optional(&dir.join(MANIFEST_HASH))?;
    let manifest = manifest::verify_in(dir, &text, hash.as_deref())?;
    let load = |file: &str| -> Result<Vec<(String, Tensor)>> {
        let path = dir.join(file);
        let want = manifest
            .files
            .get(file)
            .ok_or_else(|| Error::CorruptCheckpoint {
                path: mpath.clone(),
                reason: format!("manifest lists no `{file}`"),
            })?;
        let bytes = fs::read(&path).map_err(io(&path))?;
        let got = FileEntry::of(&bytes);
        if got.bytes != want.bytes {
            return Err(Error::CorruptCheckpoint {
                path,
                reason: format!(
                    "{} bytes, the manifest says {} (truncated?)",
                    got.bytes, want.bytes
                ),
            });
        }
        if got.blake3 != want.blake3 {
            return Err(Error::CorruptCheckpoint {
                path,
                reason: format!(
                    "BLAKE3 {} differs from the manifest's {}",
                    got.blake3, want.blake3
                ),
            });
        }
        safetensors_io::decode(&bytes, &path, device)
    };
    let weights = load(WEIGHTS)?;
    let optimizer = load(OPTIMIZER)?;
    let fingerprint_differs = |field: &str, got: String, want: String| Error::CorruptCheckpoint {
        path: mpath.clone(),
        reason: format!("field `{field}` is {want}, but the tensors fingerprint to {got}"),
    };
    let model = set_fingerprint(&weights)?;
    if model != manifest.model_fingerprint {
        return Err(fingerprint_differs(
            "model_fingerprint",
            model.to_string(),
            manifest.model_fingerprint.to_string(),
        ));
    }
    let opt = optimizer_fingerprint(&optimizer, manifest.optimizer_updates)?;
    if opt != manifest.optimizer_fingerprint {
        return Err(fingerprint_differs(
            "optimizer_fingerprint",
            opt.to_string(),
            manifest.optimizer_fingerprint.to_string(),
        ));
    }
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        manifest,
        weights,
        optimizer,
    })
}

/// The tensors a safetensors file holds (names, dtypes, shapes), checked without
/// libtorch: a pure function of `bytes`, for fuzzing and inspection.
pub fn parse_safetensors(bytes: &[u8]) -> Result<Vec<TensorEntry>> {
    safetensors_io::parse(bytes, Path::new("<bytes>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_this_module_owns() {
        assert!(is_checkpoint_name("step-000000000002-123-0"));
        assert!(!is_checkpoint_name("step-notes"));
        assert!(!is_checkpoint_name("step-000000000002-123"));
        assert!(!is_checkpoint_name("step-00000000002x-1-0"));
        assert!(is_temp_name(".tmp-12-3"));
        assert!(is_temp_name(".tmp-12-3-LATEST"));
        assert!(!is_temp_name(".tmp-notes"));
        assert!(!is_temp_name(".tmp-12-3-other"));
    }
}

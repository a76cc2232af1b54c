//! Checkpoints: weights and optimizer state as safetensors, plus a JSON manifest, written
//! so that a process killed at any instant leaves the previous checkpoint intact.
//!
//! Layout of a checkpoint folder `root`:
//! - `root/step-<step:012>-<pid>-<n>/` — one complete checkpoint: `weights.safetensors`,
//!   `optimizer.safetensors`, `manifest.json` (which holds each file's size and BLAKE3);
//! - `root/LATEST` — the name of the current checkpoint's folder.
//!
//! A write fills a fresh `.tmp-…` folder (each file fsynced, then the folder), renames
//! it into place, fsyncs `root`, then replaces `LATEST` the same way (temp file, fsync,
//! rename, fsync `root`), and only then removes older checkpoints. Until the rename of
//! `LATEST`, readers see the previous checkpoint; after it, the new one. One writer per
//! folder at a time.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lockstep_seeding::SeedTree;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::determinism::DeterminismReport;
use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::safetensors_io;

/// The manifest's format tag.
pub const FORMAT: &str = "lockstep-nn-checkpoint/1";
/// The pointer file naming the current checkpoint.
pub const LATEST: &str = "LATEST";
/// The weights file (every variable of the model, buffers included).
pub const WEIGHTS: &str = "weights.safetensors";
/// The optimizer state file.
pub const OPTIMIZER: &str = "optimizer.safetensors";
/// The manifest file.
pub const MANIFEST: &str = "manifest.json";

static WRITES: AtomicU64 = AtomicU64::new(0);

/// Size and hash of one file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Length in bytes.
    pub bytes: u64,
    /// BLAKE3 of the contents, hex.
    pub blake3: String,
}

/// What a checkpoint says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Steps completed: training resumes at this step.
    pub step: u64,
    /// Optimizer updates applied.
    pub optimizer_updates: u64,
    /// The run's seed node.
    pub seed: SeedTree,
    /// The run's seed path, for people reading the file.
    pub seed_path: String,
    /// The training configuration.
    pub config: serde_json::Value,
    /// The data source's state (opaque to this crate).
    pub sampler_state: serde_json::Value,
    /// The determinism settings in effect when it was written.
    pub determinism: DeterminismReport,
    /// Fingerprint of the weights (all variables, name order).
    pub model_fingerprint: Fingerprint,
    /// Fingerprint of the optimizer state.
    pub optimizer_fingerprint: Fingerprint,
    /// The loss of every step so far.
    pub losses: Vec<f32>,
    /// The other files, by name.
    pub files: BTreeMap<String, FileEntry>,
}

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

fn entry(bytes: &[u8]) -> FileEntry {
    FileEntry {
        bytes: bytes.len() as u64,
        blake3: blake3::hash(bytes).to_hex().to_string(),
    }
}

fn unique_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes a checkpoint under `root` and makes it the current one; returns its folder.
/// `manifest.files` is filled in here.
pub fn write(
    root: &Path,
    mut manifest: Manifest,
    weights: &[(String, Tensor)],
    optimizer: &[(String, Tensor)],
) -> Result<PathBuf> {
    fs::create_dir_all(root).map_err(io(root))?;
    let previous = fs::read_to_string(root.join(LATEST))
        .ok()
        .map(|s| s.trim().to_string());
    remove_stale(root, &[])?;
    let suffix = unique_suffix();
    let tmp = root.join(format!(".tmp-{suffix}"));
    fs::create_dir(&tmp).map_err(io(&tmp))?;
    let w = safetensors_io::encode(weights, &tmp.join(WEIGHTS))?;
    let o = safetensors_io::encode(optimizer, &tmp.join(OPTIMIZER))?;
    manifest.files = BTreeMap::from([
        (WEIGHTS.to_string(), entry(&w)),
        (OPTIMIZER.to_string(), entry(&o)),
    ]);
    manifest.format = FORMAT.to_string();
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::CorruptCheckpoint {
        path: tmp.join(MANIFEST),
        reason: e.to_string(),
    })?;
    write_synced(&tmp.join(WEIGHTS), &w)?;
    write_synced(&tmp.join(OPTIMIZER), &o)?;
    write_synced(&tmp.join(MANIFEST), &text)?;
    sync_dir(&tmp)?;
    let name = format!("step-{:012}-{suffix}", manifest.step);
    let dir = root.join(&name);
    fs::rename(&tmp, &dir).map_err(io(&dir))?;
    sync_dir(root)?;
    let pointer = root.join(format!(".tmp-{suffix}-{LATEST}"));
    write_synced(&pointer, format!("{name}\n").as_bytes())?;
    fs::rename(&pointer, root.join(LATEST)).map_err(io(&root.join(LATEST)))?;
    sync_dir(root)?;
    // Keep the new checkpoint and the one before it; drop the rest.
    let mut keep = vec![name];
    keep.extend(previous);
    remove_stale(root, &keep)?;
    Ok(dir)
}

/// Removes leftovers of interrupted writes and checkpoints not in `keep` (when `keep`
/// is non-empty).
fn remove_stale(root: &Path, keep: &[String]) -> Result<()> {
    for item in fs::read_dir(root).map_err(io(root))? {
        let item = item.map_err(io(root))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = item.path();
        let stale_tmp = name.starts_with(".tmp-");
        let old = !keep.is_empty() && name.starts_with("step-") && !keep.contains(&name);
        if stale_tmp || old {
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Reads the current checkpoint under `root`, checking every file against the
/// manifest, with tensors placed on `device`.
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
        Err(source) => {
            return Err(Error::Io {
                path: pointer,
                source,
            })
        }
    };
    if !name.starts_with("step-") || name.contains(['/', '\\']) {
        return Err(Error::CorruptCheckpoint {
            path: pointer,
            reason: format!("names `{name}`, not a checkpoint folder"),
        });
    }
    read_dir(&root.join(name), device)
}

/// Reads one checkpoint folder (see [`read_latest`]).
pub fn read_dir(dir: &Path, device: Device) -> Result<Checkpoint> {
    let mpath = dir.join(MANIFEST);
    let text = fs::read(&mpath).map_err(io(&mpath))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| Error::CorruptCheckpoint {
            path: mpath.clone(),
            reason: format!("manifest does not parse: {e}"),
        })?;
    if manifest.format != FORMAT {
        return Err(Error::CorruptCheckpoint {
            path: mpath,
            reason: format!("format `{}`, expected `{FORMAT}`", manifest.format),
        });
    }
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
        let got = entry(&bytes);
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
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        manifest,
        weights,
        optimizer,
    })
}

//! The manifest and its verification, as pure functions of bytes (no libtorch, no
//! file system), so a fuzz target can call them directly.
//!
//! `manifest.json` is covered by `manifest.blake3`: the BLAKE3 of the manifest's exact
//! bytes as 64 lowercase hex digits and a newline. Every byte of the manifest is
//! therefore checked (whitespace included), and the manifest in turn holds the size and
//! BLAKE3 of each tensor file and the fingerprints of the tensors inside them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockstep_seeding::SeedTree;
use serde::{Deserialize, Serialize};

use crate::determinism::DeterminismReport;
use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;

/// The manifest's format tag. Version 2 added `manifest.blake3`.
pub const FORMAT: &str = "lockstep-nn-checkpoint/2";
/// The format tag of version 1 (no manifest hash), which is refused: its step, update
/// count and losses cannot be verified.
pub const FORMAT_V1: &str = "lockstep-nn-checkpoint/1";
/// The weights file (every variable of the model, buffers included).
pub const WEIGHTS: &str = "weights.safetensors";
/// The optimizer state file.
pub const OPTIMIZER: &str = "optimizer.safetensors";
/// The manifest file.
pub const MANIFEST: &str = "manifest.json";
/// The file holding the BLAKE3 of `manifest.json`.
pub const MANIFEST_HASH: &str = "manifest.blake3";

/// Size and hash of one file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Length in bytes.
    pub bytes: u64,
    /// BLAKE3 of the contents, hex.
    pub blake3: String,
}

impl FileEntry {
    /// The entry of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.len() as u64,
            blake3: blake3::hash(bytes).to_hex().to_string(),
        }
    }
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
    /// The run's seed node (with `config`, the run's identity: pruning removes only
    /// checkpoints whose seed and config equal the writer's).
    pub seed: SeedTree,
    /// The run's seed path, for people reading the file.
    pub seed_path: String,
    /// The training configuration.
    pub config: serde_json::Value,
    /// The batch source's state (opaque to this crate; [`crate::BatchSource::state`]).
    /// Stored under the JSON key `sampler_state`, as in 0.1.
    #[serde(rename = "sampler_state")]
    pub source_state: crate::batch::SourceState,
    /// The determinism settings in effect when it was written.
    pub determinism: DeterminismReport,
    /// Fingerprint of the weights (all variables, name order). Filled in by
    /// [`super::write`] from the tensors it writes.
    pub model_fingerprint: Fingerprint,
    /// Fingerprint of the optimizer state and update count
    /// ([`crate::fingerprint::optimizer_fingerprint`]). Filled in by [`super::write`].
    pub optimizer_fingerprint: Fingerprint,
    /// The loss of every step so far.
    pub losses: Vec<f32>,
    /// The tensor files, by name. Filled in by [`super::write`].
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Deserialize)]
struct FormatProbe {
    format: String,
}

fn corrupt(path: PathBuf, reason: String) -> Error {
    Error::CorruptCheckpoint { path, reason }
}

impl Manifest {
    /// Parses a manifest and checks its format tag and file list. Does not check the
    /// manifest hash (see [`Manifest::from_verified_bytes`]). Errors name
    /// `manifest.json`.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Manifest> {
        parse_in(Path::new(""), bytes)
    }

    /// Checks `manifest` (the bytes of `manifest.json`) against `hash` (the bytes of
    /// `manifest.blake3`, `None` when that file is missing), then parses it as
    /// [`Manifest::from_json_slice`] does. A version-1 manifest is
    /// [`Error::UnsupportedCheckpoint`]; any edited byte is [`Error::CorruptCheckpoint`].
    /// Errors name the file relative to the checkpoint folder.
    pub fn from_verified_bytes(manifest: &[u8], hash: Option<&[u8]>) -> Result<Manifest> {
        verify_in(Path::new(""), manifest, hash)
    }

    /// The pretty JSON of this manifest and the matching `manifest.blake3` contents.
    pub fn to_bytes_with_hash(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| corrupt(PathBuf::from(MANIFEST), e.to_string()))?;
        let hash = hash_line(&text);
        Ok((text, hash))
    }
}

/// The contents of `manifest.blake3` for manifest bytes `text`.
pub fn hash_line(text: &[u8]) -> Vec<u8> {
    format!("{}\n", blake3::hash(text).to_hex()).into_bytes()
}

pub(crate) fn verify_in(dir: &Path, manifest: &[u8], hash: Option<&[u8]>) -> Result<Manifest> {
    let mpath = dir.join(MANIFEST);
    let hpath = dir.join(MANIFEST_HASH);
    let Some(hash) = hash else {
        // Without the hash file: a version-1 checkpoint gets its own error.
        if let Ok(probe) = serde_json::from_slice::<FormatProbe>(manifest) {
            if probe.format != FORMAT {
                return Err(Error::UnsupportedCheckpoint {
                    path: mpath,
                    format: probe.format,
                    supported: FORMAT,
                });
            }
        }
        return Err(corrupt(hpath, format!("{MANIFEST_HASH} is missing")));
    };
    let want = hash_line(manifest);
    if hash != want.as_slice() {
        let valid_line = hash.len() == 65
            && hash.last() == Some(&b'\n')
            && hash[..64]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        if !valid_line {
            return Err(corrupt(
                hpath,
                "is not 64 lowercase hex digits and a newline".into(),
            ));
        }
        return Err(corrupt(
            mpath,
            format!(
                "BLAKE3 {} differs from the {} recorded in {MANIFEST_HASH} (edited or corrupt)",
                String::from_utf8_lossy(&want[..64]),
                String::from_utf8_lossy(&hash[..64]),
            ),
        ));
    }
    parse_in(dir, manifest)
}

fn parse_in(dir: &Path, bytes: &[u8]) -> Result<Manifest> {
    let mpath = dir.join(MANIFEST);
    let probe: FormatProbe = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(mpath.clone(), format!("manifest does not parse: {e}")))?;
    if probe.format != FORMAT {
        return Err(Error::UnsupportedCheckpoint {
            path: mpath,
            format: probe.format,
            supported: FORMAT,
        });
    }
    let manifest: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(mpath.clone(), format!("manifest does not parse: {e}")))?;
    let names: Vec<&str> = manifest.files.keys().map(String::as_str).collect();
    // BTreeMap keys are sorted: optimizer before weights.
    if names != [OPTIMIZER, WEIGHTS] {
        return Err(corrupt(
            mpath,
            format!("field `files` lists {names:?}, expected [{OPTIMIZER:?}, {WEIGHTS:?}]"),
        ));
    }
    Ok(manifest)
}

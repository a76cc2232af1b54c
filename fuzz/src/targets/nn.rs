//! Checkpoint manifests and safetensors files: the pure parsers, then
//! `checkpoint::read_dir` on a folder holding the input.

use std::sync::OnceLock;

use lockstep_nn::checkpoint::{
    self, hash_line, FileEntry, Manifest, MANIFEST, MANIFEST_HASH, WEIGHTS,
};
use lockstep_nn::fingerprint::{optimizer_fingerprint, set_fingerprint};
use lockstep_nn::tch::{Device, Tensor};
use lockstep_seeding::SeedTree;

use crate::scratch::Scratch;

/// A small valid checkpoint folder, as `checkpoint::write` wrote it: every file by name.
#[derive(Debug, Clone)]
pub struct Template {
    /// The folder's files, by name.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Template {
    /// The file `name`, empty if the writer made none.
    pub fn file(&self, name: &str) -> &[u8] {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[][..], |(_, b)| b.as_slice())
    }
}

/// Named tensors, as the checkpoint functions take them.
type Named = Vec<(String, Tensor)>;

fn tensors() -> (Named, Named) {
    let weights = vec![
        (
            "conv.weight".to_string(),
            Tensor::from_slice(&[0.5f32, -1.25, 3.0, f32::MIN_POSITIVE]).reshape([2, 2]),
        ),
        ("conv.bias".to_string(), Tensor::from_slice(&[0.0f64, -0.0])),
        ("steps".to_string(), Tensor::from_slice(&[7i64])),
    ];
    let optimizer = vec![(
        "conv.weight.momentum".to_string(),
        Tensor::from_slice(&[0.125f32, 0.0, -2.0, 1.0]).reshape([2, 2]),
    )];
    (weights, optimizer)
}

/// Writes the template checkpoint with the crate's own writer and reads its folder
/// back. `None` if libtorch or the file system refuses (the targets then do less).
fn build_template() -> Option<Template> {
    let (weights, optimizer) = tensors();
    let manifest = Manifest {
        format: checkpoint::FORMAT.to_string(),
        step: 2,
        optimizer_updates: 2,
        seed: SeedTree::from_u64(1).child("run"),
        seed_path: "root/run".to_string(),
        config: serde_json::json!({ "lr": 0.01 }),
        source_state: lockstep_nn::SourceState::none(),
        determinism: lockstep_nn::determinism::report().ok()?,
        model_fingerprint: set_fingerprint(&weights).ok()?,
        optimizer_fingerprint: optimizer_fingerprint(&optimizer, 2).ok()?,
        losses: vec![0.5, 0.25],
        files: Default::default(),
    };
    let mut scratch = Scratch::new("template")?;
    let root = scratch.fresh_tree("root")?;
    let dir = checkpoint::write(&root, manifest, &weights, &optimizer).ok()?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().to_str()?.to_string();
        files.push((name, std::fs::read(entry.path()).ok()?));
    }
    files.sort();
    Some(Template { files })
}

/// The template checkpoint, built once per process.
pub fn template() -> Option<&'static Template> {
    static TEMPLATE: OnceLock<Option<Template>> = OnceLock::new();
    TEMPLATE.get_or_init(build_template).as_ref()
}

/// Reads a folder holding the template's files with `replace` written over them; a
/// successful read must hand back tensors whose fingerprints are the manifest's.
fn read(replace: &[(&str, &[u8])]) {
    let Some(t) = template() else {
        return;
    };
    let Some(mut scratch) = Scratch::new("checkpoint") else {
        return;
    };
    for (name, bytes) in &t.files {
        if !replace.iter().any(|(n, _)| n == name) && scratch.write(name, bytes).is_none() {
            return;
        }
    }
    for (name, bytes) in replace {
        if scratch.write(name, bytes).is_none() {
            return;
        }
    }
    let Ok(loaded) = checkpoint::read_dir(scratch.dir(), Device::Cpu) else {
        return;
    };
    let m = &loaded.manifest;
    assert_eq!(
        set_fingerprint(&loaded.weights).ok(),
        Some(m.model_fingerprint),
        "a checkpoint loaded whose weights do not match its model_fingerprint"
    );
    assert_eq!(
        optimizer_fingerprint(&loaded.optimizer, m.optimizer_updates).ok(),
        Some(m.optimizer_fingerprint),
        "a checkpoint loaded whose optimizer state does not match its optimizer_fingerprint"
    );
}

/// The input is `manifest.json`: `Manifest::from_json_slice` and
/// `from_verified_bytes` (with its correct hash, none, and a wrong one), a
/// `to_bytes_with_hash` round trip, then `checkpoint::read_dir` on the template's
/// folder with this manifest and its hash.
pub fn checkpoint_manifest(data: &[u8]) {
    let _ = Manifest::from_json_slice(data);
    let _ = Manifest::from_verified_bytes(data, None);
    let _ = Manifest::from_verified_bytes(data, Some(b"0000\n"));
    let hash = hash_line(data);
    if let Ok(m) = Manifest::from_verified_bytes(data, Some(&hash)) {
        let written = m.to_bytes_with_hash();
        let (text, hash) = written.unwrap_or_else(|e| panic!("a parsed manifest: {e}"));
        let again = Manifest::from_verified_bytes(&text, Some(&hash));
        assert_eq!(again.ok().as_ref(), Some(&m), "manifest round trip");
    }
    read(&[(MANIFEST, data), (MANIFEST_HASH, &hash)]);
}

/// The input is a safetensors file: `checkpoint::parse_safetensors`, then
/// `checkpoint::read_dir` with it as `weights.safetensors` and the template's manifest
/// updated to its size and BLAKE3 (its fingerprint stays the template's, so a read
/// that decodes the file still ends in a fingerprint error).
pub fn safetensors(data: &[u8]) {
    let _ = checkpoint::parse_safetensors(data);
    let Some(t) = template() else {
        return;
    };
    let Ok(mut manifest) = Manifest::from_json_slice(t.file(MANIFEST)) else {
        return;
    };
    manifest
        .files
        .insert(WEIGHTS.to_string(), FileEntry::of(data));
    let Ok((text, hash)) = manifest.to_bytes_with_hash() else {
        return;
    };
    read(&[(MANIFEST, &text), (MANIFEST_HASH, &hash), (WEIGHTS, data)]);
}

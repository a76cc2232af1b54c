//! The built-in dataset, "shapes": rectangles, ellipses and triangles of several colours
//! on noisy backgrounds, 1–5 objects per image, written as PNG files plus a COCO
//! `instances.json`, so the suite loads it through the same COCO path a user's data takes.
//!
//! Every image is a pure function of its seed node `…/shapes/<split>/image[i]`, drawn
//! by the workspace's one shapes renderer, [`lockstep_data::synthetic::shapes_image`],
//! with integer arithmetic only, so the files are byte-identical on every machine and
//! for any thread count. Boxes are the tight bounds of the pixels each shape painted.

use std::path::{Path, PathBuf};

use lockstep_core::LabeledBox;
use lockstep_data::synthetic::shapes_image;
use lockstep_seeding::SeedTree;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checks::prefix;
use crate::error::{Error, Result};
use crate::layout::DataPaths;
use crate::report::{CheckRow, Stage};

/// The classes, in COCO category-id order (ids start at 1).
pub use lockstep_data::synthetic::CLASSES;
/// The image sides the renderer accepts.
pub use lockstep_data::synthetic::{MAX_IMAGE_SIZE, MIN_IMAGE_SIZE};

/// How large a dataset to make: [`ShapesConfig::FULL`], [`ShapesConfig::QUICK`], or
/// [`ShapesConfig::new`]; [`generate`] checks it with [`ShapesConfig::validate`].
///
/// ```
/// use lockstep_repro::shapes::ShapesConfig;
/// assert!(ShapesConfig::new(40, 8, 64).validate().is_ok());
/// assert!(ShapesConfig::new(40, 8, 16).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShapesConfig {
    /// Images in the training split.
    pub train_images: u32,
    /// Images in the validation split.
    pub val_images: u32,
    /// Width and height of every image, in pixels (at least 32).
    pub image_size: u32,
}

impl ShapesConfig {
    /// The full suite's size.
    pub const FULL: Self = Self {
        train_images: 2000,
        val_images: 200,
        image_size: 96,
    };
    /// `--quick`'s size.
    pub const QUICK: Self = Self {
        train_images: 256,
        val_images: 64,
        image_size: 96,
    };

    /// `train_images` and `val_images` images of `image_size` square pixels.
    pub const fn new(train_images: u32, val_images: u32, image_size: u32) -> Self {
        Self {
            train_images,
            val_images,
            image_size,
        }
    }

    /// Checks the image side: [`MIN_IMAGE_SIZE`]`..=`[`MAX_IMAGE_SIZE`].
    pub fn validate(&self) -> Result<()> {
        check_size(self.image_size)
    }
}

/// Where a generated dataset lies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShapesDataset {
    /// `<dir>/train/images` and `<dir>/train/instances.json`, likewise `val`.
    pub dir: PathBuf,
    /// The configuration it was made with.
    pub config: ShapesConfig,
    /// The files the generator wrote, relative to `dir` with `/` separators, sorted:
    /// the dataset's manifest.
    pub files: Vec<String>,
    /// [`hash_files`] over `files`: equal for equal datasets, whatever else lies in
    /// `dir`.
    pub content_hash: String,
}

impl ShapesDataset {
    /// Where its splits' images and annotations are.
    ///
    /// ```no_run
    /// # fn demo(data: &lockstep_repro::shapes::ShapesDataset) {
    /// let paths = data.paths();
    /// assert!(paths.train_instances.ends_with("train/instances.json"));
    /// # }
    /// ```
    pub fn paths(&self) -> DataPaths {
        DataPaths::under(&self.dir)
    }
}

fn size_error(size: u32) -> Error {
    Error::out_of_range(
        "shapes image size",
        u64::from(size),
        u64::from(MIN_IMAGE_SIZE),
        u64::from(MAX_IMAGE_SIZE),
    )
}

fn check_size(size: u32) -> Result<()> {
    if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(size_error(size));
    }
    Ok(())
}

#[derive(Serialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct CocoAnnotation {
    id: u64,
    image_id: u64,
    category_id: u64,
    bbox: [f32; 4],
    area: f32,
    iscrowd: u8,
}

#[derive(Serialize)]
struct CocoCategory {
    id: u64,
    name: &'static str,
}

#[derive(Serialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    annotations: Vec<CocoAnnotation>,
    categories: Vec<CocoCategory>,
}

/// Writes the dataset for `root` (the node `…/shapes`) into `dir`, creating it, and
/// returns where it is with its manifest and content hash. `dir` may exist and hold
/// other files, but not `train` or `val`: nothing is ever overwritten or removed.
///
/// ```no_run
/// use lockstep_repro::shapes::{generate, pinned_hash, ShapesConfig};
/// use lockstep_seeding::SeedTree;
/// let data = generate(&SeedTree::from_u64(0).child("shapes"), ShapesConfig::QUICK, "/tmp/shapes".as_ref())?;
/// assert_eq!(Some(data.content_hash.as_str()), pinned_hash(0, ShapesConfig::QUICK));
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn generate(root: &SeedTree, config: ShapesConfig, dir: &Path) -> Result<ShapesDataset> {
    config.validate()?;
    for split in ["train", "val"] {
        let split_dir = dir.join(split);
        if std::fs::symlink_metadata(&split_dir).is_ok() {
            return Err(Error::Dataset {
                path: split_dir,
                reason: "already exists; the generator writes a new dataset and never \
                         overwrites one (remove it, or choose another folder)"
                    .into(),
            });
        }
    }
    let paths = DataPaths::under(dir);
    let mut files = Vec::new();
    for (split, count, images_dir, json_path) in [
        (
            "train",
            config.train_images,
            &paths.train_images,
            &paths.train_instances,
        ),
        (
            "val",
            config.val_images,
            &paths.val_images,
            &paths.val_instances,
        ),
    ] {
        std::fs::create_dir_all(images_dir).map_err(|e| Error::io(images_dir, e))?;
        let node = root.child(split);
        // Collected per image and then the first error taken by position, so which
        // error is reported does not depend on the threads' timing.
        let rendered: Vec<Result<(String, Vec<LabeledBox>)>> = (0..count)
            .into_par_iter()
            .map(|i| {
                let (image, objects) =
                    shapes_image(&node.child_index("image", u64::from(i)), config.image_size)
                        .map_err(|e| size_error(e.size))?;
                let name = format!("{split}_{i:05}.png");
                let path = images_dir.join(&name);
                image.save(&path).map_err(|source| Error::Image {
                    path: path.clone(),
                    source,
                })?;
                Ok((name, objects))
            })
            .collect();
        let rendered = rendered.into_iter().collect::<Result<Vec<_>>>()?;
        let mut coco = CocoFile {
            images: Vec::new(),
            annotations: Vec::new(),
            categories: CLASSES
                .iter()
                .enumerate()
                .map(|(k, name)| CocoCategory {
                    id: k as u64 + 1,
                    name,
                })
                .collect(),
        };
        for (i, (file_name, objects)) in rendered.into_iter().enumerate() {
            let image_id = i as u64 + 1;
            files.push(format!("{split}/images/{file_name}"));
            coco.images.push(CocoImage {
                id: image_id,
                file_name,
                width: config.image_size,
                height: config.image_size,
            });
            for o in objects {
                // Integer pixel edges below 2^24: every f32 here is exact.
                let (w, h) = (o.bbox.width(), o.bbox.height());
                coco.annotations.push(CocoAnnotation {
                    id: coco.annotations.len() as u64 + 1,
                    image_id,
                    category_id: u64::from(o.class.0) + 1,
                    bbox: [o.bbox.x1, o.bbox.y1, w, h],
                    area: w * h,
                    iscrowd: 0,
                });
            }
        }
        let text = serde_json::to_string(&coco).map_err(|e| Error::json(json_path, e))?;
        std::fs::write(json_path, text).map_err(|e| Error::io(json_path, e))?;
        files.push(format!("{split}/instances.json"));
    }
    // The order `hash_tree` uses, so a folder holding only the dataset hashes alike.
    files.sort();
    let content_hash = hash_files(dir, &files)?;
    Ok(ShapesDataset {
        dir: dir.to_path_buf(),
        config,
        files,
        content_hash,
    })
}

/// BLAKE3 over exactly the files `files` (relative to `dir`, `/`-separated), each as
/// its name, its length and its bytes, in the order given. Other files in `dir` do
/// not count. A name that is absolute or climbs out of `dir` is refused.
///
/// ```
/// use lockstep_repro::shapes::hash_files;
/// let dir = std::env::temp_dir();
/// assert!(hash_files(&dir, &["../escape".to_string()]).is_err());
/// assert_eq!(hash_files(&dir, &[])?.len(), 64);
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn hash_files(dir: &Path, files: &[String]) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    for rel in files {
        let relative = Path::new(rel);
        let inside = !rel.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Err(Error::Dataset {
                path: dir.to_path_buf(),
                reason: format!("manifest entry `{rel}` is not a plain relative file name"),
            });
        }
        let path = dir.join(relative);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        hasher.update(rel.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Content hashes of the built-in set as the suite generates it, pinned: `(root seed,
/// configuration, hash)` for the node `SeedTree::from_u64(seed).child("shapes")`. A
/// change is reproducibility-breaking (CHANGELOG.md); the PNG bytes depend on the `png`
/// encoder version in `Cargo.lock` as well as on the pixels.
pub const PINNED: [(u64, ShapesConfig, &str); 2] = [
    (0, ShapesConfig::FULL, PINNED_FULL_SEED_0),
    (0, ShapesConfig::QUICK, PINNED_QUICK_SEED_0),
];
const PINNED_FULL_SEED_0: &str = "9473dbfb82535a558090fc5cce43c29f8e1031c6d2f261c35d19e270927db815";
const PINNED_QUICK_SEED_0: &str =
    "94d50d724e8377975939782bf5117f5f41eaa7d8f85cf38431da947e084f9a23";

/// The pinned hash of the built-in set for `seed` and `config`, where one is pinned.
///
/// ```
/// use lockstep_repro::shapes::{pinned_hash, ShapesConfig};
/// assert!(pinned_hash(0, ShapesConfig::FULL).is_some());
/// assert_eq!(pinned_hash(1, ShapesConfig::FULL), None);
/// ```
pub fn pinned_hash(seed: u64, config: ShapesConfig) -> Option<&'static str> {
    PINNED
        .iter()
        .find(|(s, c, _)| *s == seed && *c == config)
        .map(|(_, _, hash)| *hash)
}

/// The suite's row comparing a generated set's `hash` with its pinned hash. Without a
/// pin for `seed` and `config` the row passes and says that no pin applied.
///
/// ```
/// use lockstep_repro::shapes::{pinned_check, pinned_hash, ShapesConfig};
/// let pin = pinned_hash(0, ShapesConfig::QUICK).unwrap();
/// assert!(pinned_check(0, ShapesConfig::QUICK, pin).pass);
/// assert!(!pinned_check(0, ShapesConfig::QUICK, "0000").pass);
/// ```
pub fn pinned_check(seed: u64, config: ShapesConfig, hash: &str) -> CheckRow {
    let short = |h: &str| prefix(h, 16);
    match pinned_hash(seed, config) {
        Some(pinned) => CheckRow::new(
            Stage::Dataset,
            "shapes set equals its pinned hash",
            hash == pinned,
            format!(
                "seed {seed}, {} + {} images: generated vs pinned in lockstep_repro::shapes::PINNED",
                config.train_images, config.val_images
            ),
        )
        .with_hashes(vec![short(hash), short(pinned)]),
        None => CheckRow::new(
            Stage::Dataset,
            "shapes set pinned hash (none for this seed)",
            true,
            format!(
                "hashes are pinned for seed 0 only (full and --quick sizes); this run uses seed {seed}"
            ),
        )
        .with_hashes(vec![short(hash)]),
    }
}

/// BLAKE3 over the relative names and bytes of every file below `dir`, in sorted order.
///
/// ```no_run
/// let before = lockstep_repro::shapes::hash_tree("my-coco".as_ref())?;
/// # Ok::<(), lockstep_repro::Error>(())
/// ```
pub fn hash_tree(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = blake3::Hasher::new();
    for rel in files {
        let path = dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        hasher.update(rel.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_files(base, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

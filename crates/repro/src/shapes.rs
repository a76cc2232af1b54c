//! The built-in dataset, "shapes": rectangles, ellipses and triangles of several colours
//! on noisy backgrounds, 1–5 objects per image, written as PNG files plus a COCO
//! `instances.json`, so the suite loads it through the same COCO path a user's data takes.
//!
//! Every image is a pure function of its seed node `…/shapes/<split>/image[i]`, drawn
//! with integer arithmetic only, so the files are byte-identical on every machine and
//! for any thread count. Boxes are the tight bounds of the pixels each shape painted.

use std::path::{Path, PathBuf};

use image::RgbImage;
use lockstep_seeding::{SeedRng, SeedTree};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stages::CheckRow;
use crate::worker::DataPaths;

/// The classes, in COCO category-id order (ids start at 1).
pub const CLASSES: [&str; 3] = ["rectangle", "ellipse", "triangle"];

/// Shape colours: saturated and distinct from the dark, noisy backgrounds.
const PALETTE: [[u8; 3]; 6] = [
    [230, 60, 50],
    [60, 200, 80],
    [70, 110, 240],
    [240, 210, 60],
    [200, 80, 220],
    [60, 210, 220],
];

/// How large a dataset to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// One object: a class index into [`CLASSES`] and its box `[x1, y1, x2, y2]` in pixels
/// (exclusive right and bottom edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    /// Index into [`CLASSES`].
    pub class: usize,
    /// `[x1, y1, x2, y2]`.
    pub bbox: [u32; 4],
}

/// The largest image side [`render`] accepts: larger images would only be a way to ask
/// for gigabytes by mistake.
pub const MAX_IMAGE_SIZE: u32 = 4096;

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
    pub fn paths(&self) -> DataPaths {
        DataPaths::under(&self.dir)
    }
}

/// Draws image `node` of side `size`: the pixels and the objects on them.
pub fn render(node: &SeedTree, size: u32) -> Result<(RgbImage, Vec<Object>)> {
    if !(32..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(Error::Config(format!(
            "shapes image size {size} is outside 32..={MAX_IMAGE_SIZE}"
        )));
    }
    let mut image = background(&node.child("background"), size);
    let mut layout = node.child("layout").rng();
    let count = 1 + draw_below(&mut layout, 5);
    let mut objects: Vec<Object> = Vec::new();
    for k in 0..count {
        let mut rng = node.child_index("object", k).rng();
        // A few placements are tried; one overlapping a placed object too much is
        // skipped, so every label stays visible.
        for _attempt in 0..8 {
            let class = draw_below(&mut rng, CLASSES.len() as u64) as usize;
            let w = 14 + draw_below(&mut rng, u64::from(size / 3)) as u32;
            let h = 14 + draw_below(&mut rng, u64::from(size / 3)) as u32;
            let x1 = draw_below(&mut rng, u64::from(size - w)) as u32;
            let y1 = draw_below(&mut rng, u64::from(size - h)) as u32;
            let colour = PALETTE[draw_below(&mut rng, PALETTE.len() as u64) as usize];
            let frame = [x1, y1, x1 + w, y1 + h];
            if objects
                .iter()
                .any(|o| overlap_fraction(&o.bbox, &frame) > 0.15)
            {
                continue;
            }
            if let Some(bbox) = paint(&mut image, class, frame, colour) {
                objects.push(Object { class, bbox });
            }
            break;
        }
    }
    Ok((image, objects))
}

/// A uniform integer below `n` (> 0) from `rng`.
fn draw_below(rng: &mut SeedRng, n: u64) -> u64 {
    rng.try_below(n.max(1)).unwrap_or(0)
}

/// A dark background colour with per-pixel noise from counter-based draws.
fn background(node: &SeedTree, size: u32) -> RgbImage {
    let mut rng = node.rng();
    let base = [
        20 + draw_below(&mut rng, 60) as u8,
        20 + draw_below(&mut rng, 60) as u8,
        20 + draw_below(&mut rng, 60) as u8,
    ];
    let noise = node.child("noise");
    RgbImage::from_fn(size, size, |x, y| {
        let v = noise.u64_at(u64::from(y) * u64::from(size) + u64::from(x));
        let mut px = [0u8; 3];
        for (c, out) in px.iter_mut().enumerate() {
            // Noise in [-24, 24] per channel, from separate bytes of one draw.
            let delta = ((v >> (8 * c)) & 0xff) as i32 * 49 / 256 - 24;
            *out = (i32::from(base[c]) + delta).clamp(0, 255) as u8;
        }
        image::Rgb(px)
    })
}

/// The part of box `b`'s area covered by box `a`, relative to the smaller box.
fn overlap_fraction(a: &[u32; 4], b: &[u32; 4]) -> f64 {
    let w = a[2].min(b[2]).saturating_sub(a[0].max(b[0]));
    let h = a[3].min(b[3]).saturating_sub(a[1].max(b[1]));
    let inter = f64::from(w) * f64::from(h);
    let area = |r: &[u32; 4]| f64::from(r[2] - r[0]) * f64::from(r[3] - r[1]);
    inter / area(a).min(area(b)).max(1.0)
}

/// Paints shape `class` inside `frame` and returns the tight box of painted pixels.
fn paint(image: &mut RgbImage, class: usize, frame: [u32; 4], colour: [u8; 3]) -> Option<[u32; 4]> {
    let [x1, y1, x2, y2] = frame;
    let (w, h) = (i64::from(x2 - x1), i64::from(y2 - y1));
    let mut bounds: Option<[u32; 4]> = None;
    for y in y1..y2 {
        for x in x1..x2 {
            // Pixel centres in doubled coordinates relative to the frame, so every test
            // below is exact integer arithmetic.
            let px = 2 * i64::from(x - x1) + 1;
            let py = 2 * i64::from(y - y1) + 1;
            let inside = match class {
                0 => true,
                1 => {
                    // ((px − w)/w)² + ((py − h)/h)² ≤ 1, scaled by w²h².
                    let dx = px - w;
                    let dy = py - h;
                    dx * dx * h * h + dy * dy * w * w <= w * w * h * h
                }
                _ => {
                    // Apex at the top centre (w, 0), base along the bottom edge (py = 2h):
                    // the half-width grows linearly from 0 at the apex to w at the base,
                    // |px − w| ≤ py · w / 2h, multiplied out.
                    (px - w).abs() * 2 * h <= py * w
                }
            };
            if inside {
                image.put_pixel(x, y, image::Rgb(colour));
                bounds = Some(match bounds {
                    None => [x, y, x + 1, y + 1],
                    Some([bx1, by1, bx2, by2]) => {
                        [bx1.min(x), by1.min(y), bx2.max(x + 1), by2.max(y + 1)]
                    }
                });
            }
        }
    }
    bounds
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
pub fn generate(root: &SeedTree, config: ShapesConfig, dir: &Path) -> Result<ShapesDataset> {
    if !(32..=MAX_IMAGE_SIZE).contains(&config.image_size) {
        return Err(Error::Config(format!(
            "shapes image size {} is outside 32..={MAX_IMAGE_SIZE}",
            config.image_size
        )));
    }
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
        let rendered: Vec<Result<(String, Vec<Object>)>> = (0..count)
            .into_par_iter()
            .map(|i| {
                let (image, objects) =
                    render(&node.child_index("image", u64::from(i)), config.image_size)?;
                let name = format!("{split}_{i:05}.png");
                let path = images_dir.join(&name);
                image.save(&path).map_err(|e| Error::Image {
                    path: path.clone(),
                    message: e.to_string(),
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
                let [x1, y1, x2, y2] = o.bbox;
                let (w, h) = ((x2 - x1) as f32, (y2 - y1) as f32);
                coco.annotations.push(CocoAnnotation {
                    id: coco.annotations.len() as u64 + 1,
                    image_id,
                    category_id: o.class as u64 + 1,
                    bbox: [x1 as f32, y1 as f32, w, h],
                    area: w * h,
                    iscrowd: 0,
                });
            }
        }
        let text = serde_json::to_string(&coco).map_err(|e| Error::Config(e.to_string()))?;
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
pub fn pinned_hash(seed: u64, config: ShapesConfig) -> Option<&'static str> {
    PINNED
        .iter()
        .find(|(s, c, _)| *s == seed && *c == config)
        .map(|(_, _, hash)| *hash)
}

/// The suite's row comparing a generated set's `hash` with its pinned hash. Without a
/// pin for `seed` and `config` the row passes and says that no pin applied.
pub fn pinned_check(seed: u64, config: ShapesConfig, hash: &str) -> CheckRow {
    let short = |h: &str| h.get(..16).unwrap_or(h).to_string();
    match pinned_hash(seed, config) {
        Some(pinned) => CheckRow {
            stage: "dataset".into(),
            check: "shapes set equals its pinned hash".into(),
            hashes: vec![short(hash), short(pinned)],
            pass: hash == pinned,
            detail: format!(
                "seed {seed}, {} + {} images: generated vs pinned in lockstep_repro::shapes::PINNED",
                config.train_images, config.val_images
            ),
        },
        None => CheckRow {
            stage: "dataset".into(),
            check: "shapes set pinned hash (none for this seed)".into(),
            hashes: vec![short(hash)],
            pass: true,
            detail: format!(
                "hashes are pinned for seed 0 only (full and --quick sizes); this run uses seed {seed}"
            ),
        },
    }
}

/// BLAKE3 over the relative names and bytes of every file below `dir`, in sorted order.
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

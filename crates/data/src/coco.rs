//! [`CocoDataset`]: a COCO-format detection dataset on disk: an images folder plus an
//! `instances_*.json` file (`images`, `annotations`, `categories`).
//!
//! Samples are the entries of `images` in file order. A sample's boxes are its
//! annotations in file order, converted from COCO's `[x, y, w, h]` to `(x1, y1, x2, y2)`
//! as `x1 = x`, `y1 = y`, `x2 = x + w`, `y2 = y + h`, computed in `f64` (as parsed) and
//! rounded once to `f32`. Images are decoded with the `image` crate (PNG, JPEG) and
//! converted to RGB8. [`CocoAnnotations::from_json_slice`] parses and checks the
//! annotation file alone, from bytes, without touching the file system.
//!
//! # Bad data
//! A corrupt image names its file ([`Error::ImageDecode`], [`Error::ImageSize`],
//! [`Error::Io`]); a bad annotation names the annotation file, its image id and its id
//! ([`Error::BadAnnotation`]): unknown image or category, a repeated id, a `bbox` that
//! is not four finite numbers with positive width and height, or whose corners, once
//! rounded to `f32`, are not finite or leave no positive width and height; an image
//! entry with an unsafe file name or a width or height of 0 is an
//! [`Error::BadImageEntry`]. Ids and sizes that do not fit their types (`u64`, `u32`)
//! are [`Error::Json`]. With [`CorruptPolicy::Fail`] these are errors (annotations
//! and missing files at [`CocoDataset::open`], undecodable images at
//! [`Dataset::get`](crate::Dataset::get)). With [`CorruptPolicy::SkipAndRecord`], `open`
//! decodes every image (in parallel), leaves out each image that has a problem, and
//! lists it in [`CocoDataset::skipped`] with the error; nothing is dropped silently, and
//! the dataset length is fixed at `open`, so the sample order never depends on when a
//! problem is found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;
use serde::Deserialize;

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// What to do with corrupt images and bad annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CorruptPolicy {
    /// Report the first problem as an error.
    #[default]
    Fail,
    /// Leave the affected images out and record why in [`CocoDataset::skipped`].
    SkipAndRecord,
}

/// Something [`CorruptPolicy::SkipAndRecord`] left out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The image left out, or `None` when only an annotation was (one that refers to
    /// an image id that does not exist).
    pub image_id: Option<u64>,
    /// The file name of that image.
    pub file_name: Option<String>,
    /// The problem, naming the file or the annotation id.
    pub error: Error,
}

/// A category of the annotation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Its id, as used by `category_id`.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its super-category, if given.
    pub supercategory: Option<String>,
}

/// One image's entry: metadata and annotations, without pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoImage {
    /// The image id.
    pub id: u64,
    /// The file name, relative to the images folder.
    pub file_name: String,
    /// The width the annotation file gives (0 if it gives none).
    pub width: u32,
    /// The height the annotation file gives (0 if it gives none).
    pub height: u32,
    /// Boxes as `(x1, y1, x2, y2)`.
    pub boxes: Vec<[f32; 4]>,
    /// The category id of each box.
    pub labels: Vec<u64>,
    /// The annotation id of each box.
    pub annotation_ids: Vec<u64>,
    /// The `iscrowd` flag of each box.
    pub crowd: Vec<bool>,
}

/// One decoded sample.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoSample {
    /// The image id.
    pub image_id: u64,
    /// The file name, relative to the images folder.
    pub file_name: String,
    /// The decoded image as RGB8.
    pub image: RgbImage,
    /// Boxes as `(x1, y1, x2, y2)`.
    pub boxes: Vec<[f32; 4]>,
    /// The category id of each box.
    pub labels: Vec<u64>,
    /// The annotation id of each box.
    pub annotation_ids: Vec<u64>,
    /// The `iscrowd` flag of each box.
    pub crowd: Vec<bool>,
}

/// A COCO detection dataset; see the module documentation.
#[derive(Debug, Clone)]
pub struct CocoDataset {
    images_dir: PathBuf,
    images: Vec<CocoImage>,
    categories: Vec<Category>,
    skipped: Vec<Skipped>,
}

#[derive(Deserialize)]
struct RawInstances {
    images: Vec<RawImage>,
    #[serde(default)]
    annotations: Vec<RawAnnotation>,
    #[serde(default)]
    categories: Vec<RawCategory>,
}

#[derive(Deserialize)]
struct RawImage {
    id: u64,
    file_name: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
}

#[derive(Deserialize)]
struct RawAnnotation {
    id: u64,
    image_id: u64,
    category_id: u64,
    bbox: Vec<f64>,
    #[serde(default)]
    iscrowd: u8,
}

#[derive(Deserialize)]
struct RawCategory {
    id: u64,
    name: String,
    #[serde(default)]
    supercategory: Option<String>,
}

/// A relative path that stays inside the images folder.
fn safe_relative(file_name: &str) -> bool {
    let path = Path::new(file_name);
    !file_name.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// `[x, y, w, h]` as `(x1, y1, x2, y2)`, or why it cannot be. The corners are checked
/// after their one rounding to `f32`: each must be finite, and the box must keep a
/// positive width and height (`[1e8, 0, 1, 1]` rounds to `x1 = x2`, `[1e39, …]` to
/// infinity, and both are refused).
fn corners(bbox: &[f64]) -> std::result::Result<[f32; 4], String> {
    let &[x, y, w, h] = bbox else {
        return Err(format!("bbox has {} numbers, expected 4", bbox.len()));
    };
    if ![x, y, w, h].iter().all(|v| v.is_finite()) {
        return Err(format!("bbox [{x}, {y}, {w}, {h}] is not finite"));
    }
    if w <= 0.0 || h <= 0.0 {
        return Err(format!(
            "bbox [{x}, {y}, {w}, {h}] has no positive width and height"
        ));
    }
    // Each corner is rounded once from f64 to f32.
    let out = [x as f32, y as f32, (x + w) as f32, (y + h) as f32];
    if !out.iter().all(|v| v.is_finite()) {
        return Err(format!(
            "bbox [{x}, {y}, {w}, {h}] has a corner beyond the f32 range"
        ));
    }
    let [x1, y1, x2, y2] = out;
    if x2 <= x1 || y2 <= y1 {
        return Err(format!(
            "bbox [{x}, {y}, {w}, {h}] has no positive width and height once rounded to f32 \
             (corners [{x1}, {y1}, {x2}, {y2}])"
        ));
    }
    Ok(out)
}

/// Decodes `path` to RGB8 and checks its size against the annotation file's.
fn decode(path: &Path, width: u32, height: u32) -> Result<RgbImage> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let image = image::ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?
        .decode()
        .map_err(|e| Error::ImageDecode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?
        .to_rgb8();
    let (found_width, found_height) = image.dimensions();
    if (width != 0 && width != found_width) || (height != 0 && height != found_height) {
        return Err(Error::ImageSize {
            path: path.to_path_buf(),
            width,
            height,
            found_width,
            found_height,
        });
    }
    Ok(image)
}

/// An annotation file parsed and checked, before any image is looked at: the images in
/// file order with their boxes, each image's problems, the categories, and what was
/// already left out (annotations of image ids that do not exist, under
/// [`CorruptPolicy::SkipAndRecord`]).
struct Parsed {
    images: Vec<CocoImage>,
    problems: Vec<Vec<Error>>,
    categories: Vec<Category>,
    skipped: Vec<Skipped>,
}

/// Parses and checks the instances JSON `json`; `source` names the file in errors.
/// Touches no file.
fn parse(json: &[u8], source: &Path, policy: CorruptPolicy) -> Result<Parsed> {
    let raw: RawInstances = serde_json::from_slice(json).map_err(|e| Error::Json {
        path: source.to_path_buf(),
        reason: e.to_string(),
    })?;
    let json_error = |reason: String| Error::Json {
        path: source.to_path_buf(),
        reason,
    };

    let mut categories = Vec::with_capacity(raw.categories.len());
    let mut category_ids = BTreeSet::new();
    for c in raw.categories {
        if !category_ids.insert(c.id) {
            return Err(json_error(format!("category id {} appears twice", c.id)));
        }
        categories.push(Category {
            id: c.id,
            name: c.name,
            supercategory: c.supercategory,
        });
    }

    // Problems per image slot, in the order found; an image with any is left out (or
    // reported, under `Fail`).
    let mut problems: Vec<Vec<Error>> = Vec::with_capacity(raw.images.len());
    let mut images = Vec::with_capacity(raw.images.len());
    let mut slot_of = BTreeMap::new();
    for (slot, im) in raw.images.into_iter().enumerate() {
        if slot_of.insert(im.id, slot).is_some() {
            return Err(json_error(format!("image id {} appears twice", im.id)));
        }
        let mut found = Vec::new();
        let entry = |reason: &str| Error::BadImageEntry {
            path: source.to_path_buf(),
            image_id: im.id,
            file_name: im.file_name.clone(),
            reason: reason.into(),
        };
        if !safe_relative(&im.file_name) {
            found.push(entry(
                "file name must be a relative path inside the images folder",
            ));
        }
        // An absent size is not checked; a size given as 0 is no image size at all.
        if im.width == Some(0) || im.height == Some(0) {
            found.push(entry("width and height, when given, must be positive"));
        }
        problems.push(found);
        images.push(CocoImage {
            id: im.id,
            file_name: im.file_name,
            width: im.width.unwrap_or(0),
            height: im.height.unwrap_or(0),
            boxes: Vec::new(),
            labels: Vec::new(),
            annotation_ids: Vec::new(),
            crowd: Vec::new(),
        });
    }

    let mut skipped = Vec::new();
    let mut annotation_ids = BTreeSet::new();
    for a in raw.annotations {
        let bad = |reason: String| Error::BadAnnotation {
            path: source.to_path_buf(),
            image_id: a.image_id,
            annotation_id: a.id,
            reason,
        };
        let Some(&slot) = slot_of.get(&a.image_id) else {
            let error = bad(format!("image id {} does not exist", a.image_id));
            match policy {
                CorruptPolicy::Fail => return Err(error),
                CorruptPolicy::SkipAndRecord => {
                    skipped.push(Skipped {
                        image_id: None,
                        file_name: None,
                        error,
                    });
                    continue;
                }
            }
        };
        let checked = if !annotation_ids.insert(a.id) {
            Err(format!("annotation id {} appears twice", a.id))
        } else if !category_ids.contains(&a.category_id) {
            Err(format!("category id {} does not exist", a.category_id))
        } else {
            corners(&a.bbox)
        };
        let (Some(image), Some(found)) = (images.get_mut(slot), problems.get_mut(slot)) else {
            continue;
        };
        match checked {
            Ok(corners) => {
                image.boxes.push(corners);
                image.labels.push(a.category_id);
                image.annotation_ids.push(a.id);
                image.crowd.push(a.iscrowd != 0);
            }
            Err(reason) => found.push(bad(reason)),
        }
    }
    Ok(Parsed {
        images,
        problems,
        categories,
        skipped,
    })
}

/// Leaves out each image with a problem and records it after `skipped`, in image order.
fn skip_and_record(
    images: Vec<CocoImage>,
    problems: Vec<Vec<Error>>,
    skipped: &mut Vec<Skipped>,
) -> Vec<CocoImage> {
    let mut kept = Vec::with_capacity(images.len());
    for (image, found) in images.into_iter().zip(problems) {
        if found.is_empty() {
            kept.push(image);
            continue;
        }
        for error in found {
            skipped.push(Skipped {
                image_id: Some(image.id),
                file_name: Some(image.file_name.clone()),
                error,
            });
        }
    }
    kept
}

/// The contents of a COCO `instances_*.json` file, parsed and checked without touching
/// the file system: the pure half of [`CocoDataset::open`], for tools and fuzzers that
/// hold the bytes.
///
/// Every check of `open` that does not need an image file is made here, with the same
/// errors: malformed JSON ([`Error::Json`]), repeated image or category ids, bad image
/// entries ([`Error::BadImageEntry`]) and bad annotations ([`Error::BadAnnotation`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CocoAnnotations {
    images: Vec<CocoImage>,
    categories: Vec<Category>,
    skipped: Vec<Skipped>,
}

impl CocoAnnotations {
    /// Parses and checks the instances JSON `json`. `source` is only used to name the
    /// file in errors. Under [`CorruptPolicy::Fail`] the first problem is the error;
    /// under [`CorruptPolicy::SkipAndRecord`] images with a problem are left out and
    /// listed in [`CocoAnnotations::skipped`]. Never panics, whatever the bytes.
    pub fn from_json_slice(json: &[u8], source: &Path, policy: CorruptPolicy) -> Result<Self> {
        let Parsed {
            images,
            problems,
            categories,
            mut skipped,
        } = parse(json, source, policy)?;
        let images = match policy {
            CorruptPolicy::Fail => {
                if let Some(error) = problems.into_iter().flatten().next() {
                    return Err(error);
                }
                images
            }
            CorruptPolicy::SkipAndRecord => skip_and_record(images, problems, &mut skipped),
        };
        Ok(Self {
            images,
            categories,
            skipped,
        })
    }

    /// The image entries that passed, in file order.
    pub fn images(&self) -> &[CocoImage] {
        &self.images
    }

    /// The categories, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// What [`CorruptPolicy::SkipAndRecord`] left out, with reasons.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }
}

impl CocoDataset {
    /// Opens the dataset of `instances_json` whose `file_name`s are relative to
    /// `images_dir`; see the module documentation for `policy`. The annotation file is
    /// checked as by [`CocoAnnotations::from_json_slice`].
    pub fn open(
        images_dir: impl AsRef<Path>,
        instances_json: impl AsRef<Path>,
        policy: CorruptPolicy,
    ) -> Result<Self> {
        let images_dir = images_dir.as_ref().to_path_buf();
        let json_path = instances_json.as_ref();
        let bytes = std::fs::read(json_path).map_err(|e| Error::Io {
            path: json_path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let Parsed {
            mut images,
            mut problems,
            categories,
            mut skipped,
        } = parse(&bytes, json_path, policy)?;

        match policy {
            CorruptPolicy::Fail => {
                if let Some(error) = problems.into_iter().flatten().next() {
                    return Err(error);
                }
                for image in &images {
                    let path = images_dir.join(&image.file_name);
                    if !path.is_file() {
                        return Err(Error::Io {
                            path,
                            reason: "no such file".into(),
                        });
                    }
                }
            }
            CorruptPolicy::SkipAndRecord => {
                // Decode every image that is otherwise fine; collect keeps image order.
                let decoded: Vec<Option<Error>> = images
                    .par_iter()
                    .zip(problems.par_iter())
                    .map(|(image, found)| {
                        if !found.is_empty() {
                            return None;
                        }
                        let path = images_dir.join(&image.file_name);
                        decode(&path, image.width, image.height).err()
                    })
                    .collect();
                for (found, error) in problems.iter_mut().zip(decoded) {
                    found.extend(error);
                }
                images = skip_and_record(images, problems, &mut skipped);
            }
        }

        Ok(Self {
            images_dir,
            images,
            categories,
            skipped,
        })
    }

    /// The images folder.
    pub fn images_dir(&self) -> &Path {
        &self.images_dir
    }

    /// The image entries, in sample order.
    pub fn images(&self) -> &[CocoImage] {
        &self.images
    }

    /// The categories, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// What [`CorruptPolicy::SkipAndRecord`] left out, with reasons (empty under
    /// [`CorruptPolicy::Fail`]).
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The entry of sample `index`, without decoding its image.
    pub fn entry(&self, index: u64) -> Result<&CocoImage> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.images.get(i))
            .ok_or(Error::IndexOutOfRange {
                index,
                len: self.images.len() as u64,
            })
    }
}

impl Dataset for CocoDataset {
    type Item = CocoSample;

    fn len(&self) -> u64 {
        self.images.len() as u64
    }

    fn get(&self, index: u64) -> Result<CocoSample> {
        let entry = self.entry(index)?;
        let path = self.images_dir.join(&entry.file_name);
        let image = decode(&path, entry.width, entry.height)?;
        Ok(CocoSample {
            image_id: entry.id,
            file_name: entry.file_name.clone(),
            image,
            boxes: entry.boxes.clone(),
            labels: entry.labels.clone(),
            annotation_ids: entry.annotation_ids.clone(),
            crowd: entry.crowd.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corners_recipe_and_rejections() {
        assert_eq!(corners(&[1.0, 2.0, 3.0, 4.0]), Ok([1.0, 2.0, 4.0, 6.0]));
        // 0.1 + 0.2 is rounded once, from the f64 sum.
        let c = corners(&[0.1, 0.0, 0.2, 1.0]).unwrap();
        assert_eq!(c[2].to_bits(), ((0.1f64 + 0.2f64) as f32).to_bits());
        assert!(corners(&[1.0, 2.0, 3.0]).is_err());
        assert!(corners(&[1.0, 2.0, 0.0, 4.0]).is_err());
        assert!(corners(&[1.0, f64::NAN, 1.0, 4.0]).is_err());
    }

    #[test]
    fn file_names_stay_inside_the_folder() {
        assert!(safe_relative("a.png"));
        assert!(safe_relative("sub/a.png"));
        assert!(!safe_relative("../a.png"));
        assert!(!safe_relative("/etc/passwd"));
        assert!(!safe_relative(""));
    }
}

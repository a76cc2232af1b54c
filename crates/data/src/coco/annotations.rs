//! The annotation file alone: parsed and checked from bytes, without images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};
use std::sync::Arc;

use lockstep_core::BBox;
use serde::Deserialize;

use super::{Category, CocoImage, CocoObject, CorruptPolicy, Skipped};
use crate::error::{Error, Result};

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

/// An annotation file parsed and checked, before any image is looked at: the images in
/// file order with their boxes, each image's problems, the categories, and what was
/// already left out (annotations of image ids that do not exist, under
/// [`CorruptPolicy::SkipAndRecord`]).
pub(super) struct Parsed {
    pub(super) images: Vec<CocoImage>,
    pub(super) problems: Vec<Vec<Error>>,
    pub(super) categories: Vec<Category>,
    pub(super) skipped: Vec<Skipped>,
}

/// Parses and checks the instances JSON `json`; `source` names the file in errors.
/// Touches no file.
pub(super) fn parse(json: &[u8], source: &Path, policy: CorruptPolicy) -> Result<Parsed> {
    let raw: RawInstances = serde_json::from_slice(json).map_err(|e| Error::Json {
        path: source.to_path_buf(),
        source: e,
    })?;
    let duplicate = |kind: &'static str, id: u64| Error::DuplicateId {
        path: source.to_path_buf(),
        kind,
        id,
    };

    let mut categories = Vec::with_capacity(raw.categories.len());
    let mut category_ids = BTreeSet::new();
    for c in raw.categories {
        if !category_ids.insert(c.id) {
            return Err(duplicate("category", c.id));
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
            return Err(duplicate("image", im.id));
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
            width: im.width,
            height: im.height,
            objects: Vec::new(),
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
                        error: Arc::new(error),
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
        // `slot_of` holds only slots of `images`, which has one `problems` entry each.
        match checked {
            Ok(corners) => {
                images[slot].objects.push(CocoObject {
                    annotation_id: a.id,
                    category_id: a.category_id,
                    bbox: BBox::from(corners),
                    crowd: a.iscrowd != 0,
                });
            }
            Err(reason) => problems[slot].push(bad(reason)),
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
pub(super) fn skip_and_record(
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
                error: Arc::new(error),
            });
        }
    }
    kept
}

/// The contents of a COCO `instances_*.json` file, parsed and checked without touching
/// the file system: the pure half of `CocoDataset::open` (feature `coco`), for tools and fuzzers that
/// hold the bytes.
///
/// Every check of `open` that does not need an image file is made here, with the same
/// errors: malformed JSON ([`Error::Json`]), repeated image or category ids, bad image
/// entries ([`Error::BadImageEntry`]) and bad annotations ([`Error::BadAnnotation`]).
#[derive(Debug, Clone)]
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

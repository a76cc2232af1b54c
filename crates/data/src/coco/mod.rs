//! [`CocoAnnotations`] and, with the `coco` feature, [`CocoDataset`]: a COCO-format detection dataset on disk: an images folder plus an
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
//! A corrupt image names its file (`Error::ImageDecode`, [`Error::ImageSize`],
//! [`Error::Io`]); a bad annotation names the annotation file, its image id and its id
//! ([`Error::BadAnnotation`]): unknown image or category, a repeated id, a `bbox` that
//! is not four finite numbers with positive width and height, or whose corners, once
//! rounded to `f32`, are not finite or leave no positive width and height; an image
//! entry with an unsafe file name or a width or height of 0 is an
//! [`Error::BadImageEntry`]. Ids and sizes that do not fit their types (`u64`, `u32`)
//! are [`Error::Json`]. With [`CorruptPolicy::Fail`] these are errors (annotations
//! and missing files at `CocoDataset::open`, undecodable images at
//! [`Dataset::get`](crate::Dataset::get)). With [`CorruptPolicy::SkipAndRecord`], `open`
//! decodes every image (in parallel), leaves out each image that has a problem, and
//! lists it in `CocoDataset::skipped` with the error; nothing is dropped silently, and
//! the dataset length is fixed at `open`, so the sample order never depends on when a
//! problem is found.

//! # Cargo feature
//! Decoding images needs the `image` crate, so [`CocoDataset`] and [`CocoSample`]
//! are behind the `coco` feature (off by default). [`CocoAnnotations`] and the types
//! it returns need no feature.

use std::sync::Arc;

use lockstep_core::{BBox, LabeledBox};

use crate::error::Error;

mod annotations;
mod classes;
#[cfg(feature = "coco")]
mod dataset;

pub use annotations::CocoAnnotations;
pub use classes::ClassMap;
#[cfg(feature = "coco")]
pub use dataset::{CocoDataset, CocoSample, MAX_IMAGE_SIDE};

/// What to do with corrupt images and bad annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CorruptPolicy {
    /// Report the first problem as an error.
    #[default]
    Fail,
    /// Leave the affected images out and record why in `CocoDataset::skipped`.
    SkipAndRecord,
}

/// Something [`CorruptPolicy::SkipAndRecord`] left out, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The image left out, or `None` when only an annotation was (one that refers to
    /// an image id that does not exist).
    pub image_id: Option<u64>,
    /// The file name of that image.
    pub file_name: Option<String>,
    /// The problem, naming the file or the annotation id (shared, so that the record
    /// can be cloned with the dataset).
    pub error: Arc<Error>,
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
    /// The width the annotation file gives, if it gives one (never 0).
    pub width: Option<u32>,
    /// The height the annotation file gives, if it gives one (never 0).
    pub height: Option<u32>,
    /// Its annotations, in file order.
    pub objects: Vec<CocoObject>,
}

/// One annotation: a box, its COCO category, its id and its crowd flag.
///
/// COCO category ids are sparse labels chosen by the file (`1, 3, 17`); models count
/// classes densely. [`ClassMap`] turns one into the other, see [`CocoObject::labeled`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CocoObject {
    /// The annotation id.
    pub annotation_id: u64,
    /// The COCO `category_id`.
    pub category_id: u64,
    /// The box, `x1 = x`, `y1 = y`, `x2 = x + w`, `y2 = y + h`.
    pub bbox: BBox,
    /// The `iscrowd` flag.
    pub crowd: bool,
}

impl CocoObject {
    /// The box with its dense class, or `None` when `classes` does not know its
    /// category.
    pub fn labeled(&self, classes: &ClassMap) -> Option<LabeledBox> {
        classes
            .class_of(self.category_id)
            .map(|class| LabeledBox::new(self.bbox, class))
    }
}

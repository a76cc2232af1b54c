//! The sample (an image with its labelled boxes) and the drop rule.
//!
//! Boxes are `lockstep_core`'s [`LabeledBox`]: `f32` pixels in `(x1, y1, x2, y2)` form
//! with the origin at the image's top-left corner, so a box covering exactly pixel
//! `(0, 0)` is `(0, 0, 1, 1)`. Every transform of a coordinate is one or two exactly
//! rounded IEEE `f32` operations, so box outputs are bitwise equal on every machine.

use image::RgbImage;
use lockstep_core::{BBox, LabeledBox};
use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};

/// An image and its boxes: what every geometric operation transforms together.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The pixels.
    pub image: RgbImage,
    /// The boxes, in the image's pixel coordinates.
    pub boxes: Vec<LabeledBox>,
}

impl Sample {
    /// A sample after checking it: the image is not empty, and every box is finite,
    /// has `x1 <= x2`, `y1 <= y2`, and lies inside `[0, width] x [0, height]`.
    pub fn new(image: RgbImage, boxes: Vec<LabeledBox>) -> Result<Self> {
        let sample = Self { image, boxes };
        sample.validate()?;
        Ok(sample)
    }

    /// A sample without boxes (classification).
    pub fn image_only(image: RgbImage) -> Result<Self> {
        Self::new(image, Vec::new())
    }

    /// The checks of [`Sample::new`], for a sample built field by field.
    pub fn validate(&self) -> Result<()> {
        check::non_empty(&self.image)?;
        let (w, h) = (self.image.width() as f32, self.image.height() as f32);
        for (index, labeled) in self.boxes.iter().enumerate() {
            let b = labeled.bbox;
            let bad = |reason| Error::BadBox {
                index,
                bbox: b,
                reason,
            };
            if !b.is_finite() {
                return Err(bad("a coordinate is not finite"));
            }
            if b.x2 < b.x1 || b.y2 < b.y1 {
                return Err(bad("x2 < x1 or y2 < y1"));
            }
            if b.x1 < 0.0 || b.y1 < 0.0 || b.x2 > w || b.y2 > h {
                return Err(bad("outside the image"));
            }
        }
        Ok(())
    }
}

/// When a box is dropped after a geometric operation. Both tests are applied after
/// every geometric operation (crop, resize, flip, rotate, pad), on the box as clipped to
/// the new image:
///
/// 1. `area_after < min_area` drops it ([`DropReason::TooSmall`]); a box with no
///    overlap left has area 0 and is dropped this way whenever `min_area > 0`;
/// 2. otherwise `area_after < min_visible_fraction · area_before` drops it
///    ([`DropReason::MostlyOutside`]), where `area_before` is the box's area before the
///    operation, in the new image's scale (so a resize alone never trips it).
///
/// Areas are `f32` products of clipped sides.
///
/// Built as `BoxPolicy::default().with_min_area(..).with_min_visible_fraction(..)`;
/// [`BoxPolicy::validate`] runs wherever a policy is used ([`crate::Compose::apply`],
/// [`crate::replay`], [`crate::OpParams::apply`]) and when one is deserialised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "crate::raw::RawBoxPolicy")]
#[non_exhaustive]
pub struct BoxPolicy {
    /// Least area in output pixels² a box must keep. Default 1.
    pub min_area: f32,
    /// Least fraction of its area a box must keep through a crop. Default 0.
    pub min_visible_fraction: f32,
}

impl Default for BoxPolicy {
    fn default() -> Self {
        Self {
            min_area: 1.0,
            min_visible_fraction: 0.0,
        }
    }
}

impl BoxPolicy {
    /// This policy with [`BoxPolicy::min_area`] set.
    pub fn with_min_area(self, min_area: f32) -> Self {
        Self { min_area, ..self }
    }

    /// This policy with [`BoxPolicy::min_visible_fraction`] set.
    pub fn with_min_visible_fraction(self, min_visible_fraction: f32) -> Self {
        Self {
            min_visible_fraction,
            ..self
        }
    }

    /// Checks that both thresholds are finite and `min_visible_fraction` is in `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        check::within(
            "min_area",
            f64::from(self.min_area),
            0.0,
            f64::from(f32::MAX),
        )?;
        check::within(
            "min_visible_fraction",
            f64::from(self.min_visible_fraction),
            0.0,
            1.0,
        )?;
        Ok(())
    }
}

/// Why a box was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DropReason {
    /// Its clipped area fell below [`BoxPolicy::min_area`].
    TooSmall,
    /// Less than [`BoxPolicy::min_visible_fraction`] of it stayed in the image.
    MostlyOutside,
}

/// A report of one dropped box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DroppedBox {
    /// The box's position in the sample's box list as it was given to the pipeline (or
    /// to the single operation).
    pub index: usize,
    /// Position of the operation in the pipeline that dropped it (0 for a single op).
    pub op_index: usize,
    /// Name of that operation.
    pub op: String,
    /// Why.
    pub reason: DropReason,
    /// The box as it was just before that operation.
    pub last_seen: LabeledBox,
}

/// Boxes during a pipeline: each keeps the index it had in the input, so drop reports
/// name the box the caller knows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tracked {
    pub boxes: Vec<LabeledBox>,
    pub origin: Vec<usize>,
}

impl Tracked {
    pub fn new(boxes: Vec<LabeledBox>) -> Self {
        let origin = (0..boxes.len()).collect();
        Self { boxes, origin }
    }

    /// Maps every box's corners through `map` (which returns the new corners, unclipped:
    /// their area is the box's area before the op in the new scale), clips it to `width x height`, and drops by
    /// `policy`, appending reports to `dropped`.
    pub fn transform(
        &mut self,
        width: u32,
        height: u32,
        policy: &BoxPolicy,
        op: (usize, &str),
        dropped: &mut Vec<DroppedBox>,
        map: impl Fn(&BBox) -> BBox,
    ) {
        let (w, h) = (width as f32, height as f32);
        let mut boxes = Vec::with_capacity(self.boxes.len());
        let mut origin = Vec::with_capacity(self.boxes.len());
        for (b, &index) in self.boxes.iter().zip(&self.origin) {
            let moved = map(&b.bbox);
            let before = moved.area();
            let clipped = BBox {
                x1: moved.x1.clamp(0.0, w),
                y1: moved.y1.clamp(0.0, h),
                x2: moved.x2.clamp(0.0, w),
                y2: moved.y2.clamp(0.0, h),
            };
            let after = clipped.area();
            let reason = if after < policy.min_area {
                Some(DropReason::TooSmall)
            } else if after < policy.min_visible_fraction * before {
                Some(DropReason::MostlyOutside)
            } else {
                None
            };
            match reason {
                Some(reason) => dropped.push(DroppedBox {
                    index,
                    op_index: op.0,
                    op: op.1.to_string(),
                    reason,
                    last_seen: *b,
                }),
                None => {
                    boxes.push(LabeledBox::new(clipped, b.class));
                    origin.push(index);
                }
            }
        }
        self.boxes = boxes;
        self.origin = origin;
    }
}

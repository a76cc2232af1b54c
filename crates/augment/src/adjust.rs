//! Sample-level geometric `adjust_*`: explicit parameters, image and boxes together.
//! Each is the one-op [`crate::replay`] of the matching [`OpParams`].

use crate::boxes::{BoxPolicy, Sample};
use crate::compose::{replay, Augmented};
use crate::error::Result;
use crate::geometry::{Interpolation, Padding, Rect};
use crate::params::OpParams;

/// Mirrors left–right; a box `(x1, y1, x2, y2)` becomes `(W − x2, y1, W − x1, y2)`.
pub fn adjust_hflip(sample: Sample, policy: &BoxPolicy) -> Result<Augmented> {
    replay(sample, &[OpParams::Hflip { applied: true }], policy)
}

/// Mirrors up–down; a box becomes `(x1, H − y2, x2, H − y1)`.
pub fn adjust_vflip(sample: Sample, policy: &BoxPolicy) -> Result<Augmented> {
    replay(sample, &[OpParams::Vflip { applied: true }], policy)
}

/// `k` quarter turns counter-clockwise; for one turn a point `(x, y)` goes to
/// `(y, W − x)`.
pub fn adjust_rotate90(sample: Sample, k: u32, policy: &BoxPolicy) -> Result<Augmented> {
    replay(sample, &[OpParams::Rotate90 { k }], policy)
}

/// Keeps `rect`; boxes shift by `(−x, −y)` and are clipped and filtered by `policy`.
pub fn adjust_crop(sample: Sample, rect: Rect, policy: &BoxPolicy) -> Result<Augmented> {
    replay(sample, &[OpParams::Crop { rect }], policy)
}

/// Resizes to `width x height`; a coordinate `x` becomes `(x · width) / W` in `f32`.
pub fn adjust_resize(
    sample: Sample,
    width: u32,
    height: u32,
    interpolation: Interpolation,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    let p = OpParams::Resize {
        width,
        height,
        interpolation,
    };
    replay(sample, &[p], policy)
}

/// Crops `rect` and resizes it to `width x height`; a coordinate `x` becomes
/// `((x − rect.x) · width) / rect.width` in `f32`.
pub fn adjust_resized_crop(
    sample: Sample,
    rect: Rect,
    width: u32,
    height: u32,
    interpolation: Interpolation,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    let p = OpParams::ResizedCrop {
        rect,
        width,
        height,
        interpolation,
    };
    replay(sample, &[p], policy)
}

/// Adds constant borders; boxes shift by `(left, top)`.
pub fn adjust_pad(
    sample: Sample,
    padding: Padding,
    fill: [u8; 3],
    policy: &BoxPolicy,
) -> Result<Augmented> {
    replay(sample, &[OpParams::Pad { padding, fill }], policy)
}

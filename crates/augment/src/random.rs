//! The `random_*` functions: one operation on its own, drawing from `key` directly (the
//! op's own node; inside a [`crate::Compose`] that node is `…/op[i]/name`). Each is
//! [`Op::draw`] followed by the matching `adjust_*`, and returns what it drew.

use image::RgbImage;
use lockstep_seeding::SeedTree;

use crate::boxes::{BoxPolicy, Sample};
use crate::compose::{replay, Augmented};
use crate::error::{Error, Result};
use crate::geometry::{Interpolation, Rect};
use crate::op::Op;
use crate::params::OpParams;

/// Draws `op`'s parameters from `key` for this sample and applies them.
pub fn random_op(op: &Op, sample: Sample, key: &SeedTree, policy: &BoxPolicy) -> Result<Augmented> {
    sample.validate()?;
    let (w, h) = sample.image.dimensions();
    let params = op.draw(key, w, h)?;
    replay(sample, &[params], policy)
}

/// Image-only form of [`random_op`], for the photometric ops.
fn random_image(op: &Op, image: &RgbImage, key: &SeedTree) -> Result<(RgbImage, OpParams)> {
    let out = random_op(
        op,
        Sample::image_only(image.clone())?,
        key,
        &BoxPolicy::default(),
    )?;
    let params = out.params.into_iter().next().ok_or(Error::LengthMismatch {
        what: "ops and recorded params",
        left: 1,
        right: 0,
    })?;
    Ok((out.sample.image, params))
}

/// Flips left–right with probability `p`; the drawn coin is in the output's params.
pub fn random_hflip(
    sample: Sample,
    key: &SeedTree,
    p: f64,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    random_op(&Op::Hflip { p }, sample, key, policy)
}

/// Flips up–down with probability `p`.
pub fn random_vflip(
    sample: Sample,
    key: &SeedTree,
    p: f64,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    random_op(&Op::Vflip { p }, sample, key, policy)
}

/// Turns by a uniform number of quarter turns.
pub fn random_rotate90(sample: Sample, key: &SeedTree, policy: &BoxPolicy) -> Result<Augmented> {
    random_op(&Op::RandomRotate90, sample, key, policy)
}

/// A `width x height` window at a uniform position (crop-to-size).
pub fn random_crop(
    sample: Sample,
    key: &SeedTree,
    width: u32,
    height: u32,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    random_op(&Op::RandomCrop { width, height }, sample, key, policy)
}

/// torchvision-style random resized crop; see [`Op::RandomResizedCrop`].
pub fn random_resized_crop(
    sample: Sample,
    key: &SeedTree,
    size: (u32, u32),
    scale: [f64; 2],
    ratio: [f64; 2],
    interpolation: Interpolation,
    policy: &BoxPolicy,
) -> Result<Augmented> {
    let op = Op::RandomResizedCrop {
        width: size.0,
        height: size.1,
        scale,
        ratio,
        interpolation,
    };
    random_op(&op, sample, key, policy)
}

fn factor(params: &OpParams) -> f64 {
    match params {
        OpParams::Brightness { factor }
        | OpParams::Contrast { factor }
        | OpParams::Saturation { factor } => *factor,
        OpParams::Hue { shift } => *shift,
        OpParams::Gamma { gamma, .. } => *gamma,
        _ => f64::NAN,
    }
}

/// Brightness with a factor `uniform(low, high)`; returns the image and the factor.
pub fn random_brightness(
    image: &RgbImage,
    key: &SeedTree,
    low: f64,
    high: f64,
) -> Result<(RgbImage, f64)> {
    let (out, p) = random_image(&Op::Brightness { low, high }, image, key)?;
    Ok((out, factor(&p)))
}

/// Contrast with a factor `uniform(low, high)`; returns the image and the factor.
pub fn random_contrast(
    image: &RgbImage,
    key: &SeedTree,
    low: f64,
    high: f64,
) -> Result<(RgbImage, f64)> {
    let (out, p) = random_image(&Op::Contrast { low, high }, image, key)?;
    Ok((out, factor(&p)))
}

/// Saturation with a factor `uniform(low, high)`; returns the image and the factor.
pub fn random_saturation(
    image: &RgbImage,
    key: &SeedTree,
    low: f64,
    high: f64,
) -> Result<(RgbImage, f64)> {
    let (out, p) = random_image(&Op::Saturation { low, high }, image, key)?;
    Ok((out, factor(&p)))
}

/// Hue shift `uniform(low, high)` turns; returns the image and the shift.
pub fn random_hue(
    image: &RgbImage,
    key: &SeedTree,
    low: f64,
    high: f64,
) -> Result<(RgbImage, f64)> {
    let (out, p) = random_image(&Op::Hue { low, high }, image, key)?;
    Ok((out, factor(&p)))
}

/// Gamma `uniform(low, high)` with a fixed gain; returns the image and the gamma.
pub fn random_gamma(
    image: &RgbImage,
    key: &SeedTree,
    low: f64,
    high: f64,
    gain: f64,
) -> Result<(RgbImage, f64)> {
    let (out, p) = random_image(&Op::Gamma { low, high, gain }, image, key)?;
    Ok((out, factor(&p)))
}

/// Gaussian noise with probability `p` and std `uniform(std_low, std_high)`; returns
/// the image and the recorded [`OpParams::Noise`].
pub fn random_noise(
    image: &RgbImage,
    key: &SeedTree,
    p: f64,
    std_low: f64,
    std_high: f64,
) -> Result<(RgbImage, OpParams)> {
    random_image(
        &Op::Noise {
            p,
            std_low,
            std_high,
        },
        image,
        key,
    )
}

/// Random erasing (cutout) with probability `p`; returns the image and the erased
/// rectangle, if any.
pub fn random_erase(
    image: &RgbImage,
    key: &SeedTree,
    p: f64,
    scale: [f64; 2],
    ratio: [f64; 2],
    fill: [u8; 3],
) -> Result<(RgbImage, Option<Rect>)> {
    let (out, params) = random_image(
        &Op::Erase {
            p,
            scale,
            ratio,
            fill,
        },
        image,
        key,
    )?;
    let rect = match params {
        OpParams::Erase { rect, .. } => rect,
        _ => None,
    };
    Ok((out, rect))
}

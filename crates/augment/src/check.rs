//! Argument checks shared by the operations, and the one place images are rebuilt from
//! raw buffers.

use image::RgbImage;

use crate::error::{Error, Result};

/// The largest width or height accepted for an output image: keeps every index
/// computation far inside `u64` and `usize` on 64-bit machines.
pub const MAX_SIDE: u32 = 1 << 16;

/// Refuses an image with a zero side.
pub fn non_empty(image: &RgbImage) -> Result<()> {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::EmptyImage { width, height });
    }
    Ok(())
}

/// Refuses an output side of 0 or above [`MAX_SIDE`].
pub fn side(what: &'static str, value: u32) -> Result<()> {
    if value == 0 || value > MAX_SIDE {
        return Err(Error::BadSize {
            what,
            value: u64::from(value),
            max: u64::from(MAX_SIDE),
        });
    }
    Ok(())
}

/// Refuses NaN and infinities.
pub fn finite(what: &'static str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(Error::NonFinite { what, value });
    }
    Ok(value)
}

/// Refuses a value outside `[min, max]` (NaN included).
pub fn within(what: &'static str, value: f64, min: f64, max: f64) -> Result<f64> {
    finite(what, value)?;
    if !(min..=max).contains(&value) {
        return Err(Error::OutOfRange {
            what,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

/// Refuses a probability outside `[0, 1]`.
pub fn probability(what: &'static str, p: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::Probability { what, p });
    }
    Ok(p)
}

/// Refuses a range `[low, high]` that is not finite, is inverted, or leaves `[min, max]`.
pub fn range(what: &'static str, low: f64, high: f64, min: f64, max: f64) -> Result<()> {
    let ok = low.is_finite() && high.is_finite() && low <= high && low >= min && high <= max;
    if !ok {
        return Err(Error::BadRange { what, low, high });
    }
    Ok(())
}

/// An image from a buffer this crate sized itself; a wrong size is reported rather than
/// unwrapped, although it cannot happen.
pub fn image_from(width: u32, height: u32, data: Vec<u8>) -> Result<RgbImage> {
    let len = data.len();
    RgbImage::from_raw(width, height, data).ok_or(Error::BadSize {
        what: "pixel buffer length",
        value: len as u64,
        max: u64::from(width) * u64::from(height) * 3,
    })
}

/// Bytes of a `width x height` RGB image, as `usize`.
pub fn byte_len(width: u32, height: u32) -> usize {
    // Both sides are at most MAX_SIDE or come from an existing image, so this fits.
    width as usize * height as usize * 3
}

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

/// The pixel bytes of `image`: exactly its first `width · height · 3` bytes.
///
/// `RgbImage::from_raw` accepts a buffer longer than that. Every kernel reads pixels
/// through this (or [`pixels_mut`], [`exact`], [`exact_copy`]), so bytes past the last
/// pixel are never read, moved or kept, and an over-long image gives exactly the output
/// of the same image with an exact buffer.
pub fn pixels(image: &RgbImage) -> Result<&[u8]> {
    let n = checked_len(image)?;
    let raw: &[u8] = image.as_raw();
    let len = raw.len();
    raw.get(..n).ok_or(Error::BadSize {
        what: "pixel buffer length",
        value: len as u64,
        max: n as u64,
    })
}

/// [`pixels`], writable.
pub fn pixels_mut(image: &mut RgbImage) -> Result<&mut [u8]> {
    let n = checked_len(image)?;
    let raw: &mut [u8] = image;
    let len = raw.len();
    raw.get_mut(..n).ok_or(Error::BadSize {
        what: "pixel buffer length",
        value: len as u64,
        max: n as u64,
    })
}

/// `image` with its buffer cut to exactly its pixels (no copy when it already is).
pub fn exact(image: RgbImage) -> Result<RgbImage> {
    let n = checked_len(&image)?;
    if image.len() == n {
        return Ok(image);
    }
    let (width, height) = image.dimensions();
    let mut data = image.into_raw();
    data.truncate(n);
    image_from(width, height, data)
}

/// A copy of `image` holding exactly its pixels.
pub fn exact_copy(image: &RgbImage) -> Result<RgbImage> {
    image_from(image.width(), image.height(), pixels(image)?.to_vec())
}

/// `width · height · 3` of an existing image, checked (an image's buffer is at least
/// that long, so it fits; the check spares the reasoning on 32-bit targets).
fn checked_len(image: &RgbImage) -> Result<usize> {
    let (width, height) = image.dimensions();
    (width as usize)
        .checked_mul(height as usize)
        .and_then(|p| p.checked_mul(3))
        .ok_or(Error::BadSize {
            what: "pixel buffer length",
            value: u64::MAX,
            max: usize::MAX as u64,
        })
}

/// Bytes of a `width x height` RGB image, as `usize`.
pub fn byte_len(width: u32, height: u32) -> usize {
    // Both sides are at most MAX_SIDE or come from an existing image, so this fits.
    width as usize * height as usize * 3
}

//! The explicit entry point for images that are not 8-bit RGB.

use image::{DynamicImage, RgbImage};

use crate::error::{Error, Result};

/// What to do with an alpha channel. `#[non_exhaustive]`: compositing over a
/// background may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Alpha {
    /// Refuse images with alpha ([`Error::UnsupportedColor`]).
    Reject,
    /// Drop the alpha channel and keep the colour as stored (no compositing over a
    /// background: a fully transparent pixel keeps its stored colour).
    Drop,
}

/// Converts an 8-bit image to RGB, explicitly:
///
/// - `Rgb8` is taken as is;
/// - `Luma8` is replicated into the three channels (`r = g = b = l`);
/// - `Rgba8` and `LumaA8` follow `alpha`;
/// - 16-bit and float images are refused with [`Error::UnsupportedColor`]: this crate's
///   bit-exact recipes are defined on 8-bit samples, and narrowing 16 bits is a choice
///   (rounding, range) the caller should make.
///
/// An empty image is refused with [`Error::EmptyImage`].
pub fn to_rgb8(image: DynamicImage, alpha: Alpha) -> Result<RgbImage> {
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 {
        return Err(Error::EmptyImage { width, height });
    }
    let unsupported = |reason| Error::UnsupportedColor {
        color: format!("{:?}", image.color()),
        reason,
    };
    match image {
        DynamicImage::ImageRgb8(rgb) => crate::check::exact(rgb),
        DynamicImage::ImageLuma8(_) => Ok(image.to_rgb8()),
        DynamicImage::ImageRgba8(_) | DynamicImage::ImageLumaA8(_) => match alpha {
            Alpha::Drop => Ok(image.to_rgb8()),
            Alpha::Reject => Err(unsupported(
                "has an alpha channel; pass Alpha::Drop to drop it",
            )),
        },
        _ => Err(unsupported(
            "only 8-bit images are taken; convert 16-bit or float images to 8 bits first",
        )),
    }
}

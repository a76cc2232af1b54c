//! Normalisation to an `f32` tensor in `CHW` (one image) or `NCHW` (a batch) layout,
//! ready for `tch::Tensor::from_slice(..).view(shape)`.

use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};

/// Per-channel mean and standard deviation, on the `[0, 1]` scale.
///
/// Built as [`Normalize::new`], a constant ([`Normalize::IMAGENET`],
/// [`Normalize::UNIT`], the default) or `with_*` setters. Checked where it is used
/// ([`Normalize::validate`], run by [`to_tensor`] and [`batch_to_tensor`]): every value
/// is finite, every std positive, and every output `(x / 255 − mean) / std` for `x` in
/// `0..=255` finite, so a tensor never holds an infinity. Deserialising runs the same
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawNormalize")]
#[non_exhaustive]
pub struct Normalize {
    /// Channel means, `r, g, b`.
    pub mean: [f32; 3],
    /// Channel standard deviations, `r, g, b`, each finite and positive.
    pub std: [f32; 3],
}

impl Normalize {
    /// The ImageNet statistics torchvision's pretrained models use.
    pub const IMAGENET: Normalize = Normalize {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };

    /// Only the scaling to `[0, 1]`: mean 0, std 1.
    pub const UNIT: Normalize = Normalize {
        mean: [0.0; 3],
        std: [1.0; 3],
    };

    /// Checked statistics: `mean` and `std` per channel, `r, g, b`.
    pub fn new(mean: [f32; 3], std: [f32; 3]) -> Result<Self> {
        let norm = Self { mean, std };
        norm.validate()?;
        Ok(norm)
    }

    /// These statistics with the channel means replaced.
    pub fn with_mean(self, mean: [f32; 3]) -> Self {
        Self { mean, ..self }
    }

    /// These statistics with the channel standard deviations replaced.
    pub fn with_std(self, std: [f32; 3]) -> Self {
        Self { std, ..self }
    }

    /// Checks the statistics: finite means, finite positive stds, and finite outputs
    /// for every 8-bit input ([`Error::NormalizeOverflow`] names the channel when a tiny
    /// std or a huge mean would give an infinity).
    pub fn validate(&self) -> Result<()> {
        self.tables().map(drop)
    }

    fn tables(&self) -> Result<[[f32; 256]; 3]> {
        for (&mean, &std) in self.mean.iter().zip(&self.std) {
            check::finite("normalize mean", f64::from(mean))?;
            let s = check::finite("normalize std", f64::from(std))?;
            if s <= 0.0 {
                return Err(Error::OutOfRange {
                    what: "normalize std",
                    value: s,
                    min: f64::from(f32::MIN_POSITIVE),
                    max: f64::from(f32::MAX),
                });
            }
        }
        let tables: [[f32; 256]; 3] = std::array::from_fn(|c| {
            std::array::from_fn(|x| (x as f32 / 255.0 - self.mean[c]) / self.std[c])
        });
        for (channel, table) in tables.iter().enumerate() {
            if table.iter().any(|v| !v.is_finite()) {
                return Err(Error::NormalizeOverflow {
                    channel,
                    mean: self.mean[channel],
                    std: self.std[channel],
                });
            }
        }
        Ok(tables)
    }
}

impl Default for Normalize {
    /// [`Normalize::UNIT`]: only the scaling to `[0, 1]`.
    fn default() -> Self {
        Self::UNIT
    }
}

/// The serde shape of [`Normalize`], checked by `TryFrom` before it becomes one.
#[derive(Deserialize)]
struct RawNormalize {
    mean: [f32; 3],
    std: [f32; 3],
}

impl TryFrom<RawNormalize> for Normalize {
    type Error = Error;

    fn try_from(r: RawNormalize) -> Result<Self> {
        Normalize::new(r.mean, r.std)
    }
}

/// A dense `f32` image tensor: row-major data and its shape, ready for
/// `tch::Tensor::from_slice(&t.data).view(t.shape_i64().as_slice())`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ImageTensor {
    /// The values, last axis fastest.
    pub data: Vec<f32>,
    /// The shape: `[3, H, W]` or `[N, 3, H, W]`.
    pub shape: Vec<usize>,
}

impl ImageTensor {
    /// The shape as `i64`, the type `tch` takes.
    pub fn shape_i64(&self) -> Vec<i64> {
        self.shape.iter().map(|&d| d as i64).collect()
    }
}

/// Writes the three planes of `image` into `out`, which must hold exactly `3 · W · H`
/// values (the callers size it so; another length is an error, never a partial fill).
fn fill_chw(image: &RgbImage, tables: &[[f32; 256]; 3], out: &mut [f32]) -> Result<()> {
    let plane = image.width() as usize * image.height() as usize;
    if out.len() / 3 != plane || out.len() % 3 != 0 {
        return Err(Error::BadSize {
            what: "tensor buffer length",
            value: out.len() as u64,
            max: (plane as u64).saturating_mul(3),
        });
    }
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let px = check::pixels(image)?.chunks_exact(3);
    for (((px, r), g), b) in px.zip(r).zip(g).zip(b) {
        *r = tables[0][usize::from(px[0])];
        *g = tables[1][usize::from(px[1])];
        *b = tables[2][usize::from(px[2])];
    }
    Ok(())
}

/// `(x / 255 − mean[c]) / std[c]` per channel in `f32` (two exactly rounded IEEE
/// operations and a division), laid out `CHW`.
pub fn to_tensor(image: &RgbImage, norm: &Normalize) -> Result<ImageTensor> {
    check::non_empty(image)?;
    let tables = norm.tables()?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut data = vec![0f32; 3 * w * h];
    fill_chw(image, &tables, &mut data)?;
    Ok(ImageTensor {
        data,
        shape: vec![3, h, w],
    })
}

/// [`to_tensor`] for a batch of equally sized images, laid out `NCHW`.
pub fn batch_to_tensor(images: &[RgbImage], norm: &Normalize) -> Result<ImageTensor> {
    let tables = norm.tables()?;
    let Some(first) = images.first() else {
        return Err(Error::BadSize {
            what: "batch size",
            value: 0,
            max: u64::MAX,
        });
    };
    check::non_empty(first)?;
    let (w, h) = first.dimensions();
    for (index, img) in images.iter().enumerate() {
        if img.dimensions() != (w, h) {
            return Err(Error::SizeMismatch {
                index,
                width: img.width(),
                height: img.height(),
                expected_width: w,
                expected_height: h,
            });
        }
    }
    let each = 3 * w as usize * h as usize;
    let mut data = vec![0f32; each * images.len()];
    // One image per task on the current rayon pool: collation is otherwise the serial
    // tail of every input-pipeline step. Each task writes its own slice, so the values
    // cannot depend on the thread count; errors are reported by position.
    let filled: Vec<Result<()>> = images
        .par_iter()
        .zip(data.par_chunks_exact_mut(each))
        .map(|(img, out)| fill_chw(img, &tables, out))
        .collect();
    filled.into_iter().collect::<Result<()>>()?;
    Ok(ImageTensor {
        data,
        shape: vec![images.len(), 3, h as usize, w as usize],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_values() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 255, 0, 51]));
        let t = to_tensor(&img, &Normalize::UNIT).unwrap();
        assert_eq!(t.shape, vec![3, 1, 2]);
        assert_eq!(t.data, vec![0.0, 1.0, 0.0, 0.0, 0.2, 0.2]);
        let b = batch_to_tensor(&[img.clone(), img], &Normalize::IMAGENET).unwrap();
        assert_eq!(b.shape_i64(), vec![2, 3, 1, 2]);
        assert_eq!(b.data[1].to_bits(), ((1.0f32 - 0.485) / 0.229).to_bits());
        let bad = Normalize {
            mean: [0.0; 3],
            std: [1.0, 0.0, 1.0],
        };
        assert!(to_tensor(&RgbImage::new(1, 1), &bad).is_err());
        assert!(batch_to_tensor(&[], &Normalize::UNIT).is_err());
        assert!(matches!(
            batch_to_tensor(
                &[RgbImage::new(1, 1), RgbImage::new(2, 1)],
                &Normalize::UNIT
            ),
            Err(Error::SizeMismatch { index: 1, .. })
        ));
    }

    /// Issue 11 (no silent fallbacks): `fill_chw` clamped its split points to the
    /// buffer, so a short buffer was filled partially without a word.
    #[test]
    fn a_wrongly_sized_tensor_buffer_is_an_error() {
        let img = RgbImage::new(2, 2);
        let tables = Normalize::UNIT.tables().unwrap();
        for len in [0, 5, 11, 13, 24] {
            let mut out = vec![0f32; len];
            assert!(
                matches!(
                    fill_chw(&img, &tables, &mut out),
                    Err(Error::BadSize { value, .. }) if value == len as u64
                ),
                "{len}"
            );
        }
        assert!(fill_chw(&img, &tables, &mut [0f32; 12]).is_ok());
    }
}

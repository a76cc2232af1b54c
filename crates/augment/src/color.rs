//! Photometric kernels on 8-bit RGB: brightness, contrast, saturation, hue, gamma.
//!
//! Factors are quantized once to 16 fractional bits, `q = round_half_even(f · 2¹⁶)`
//! (an exact IEEE multiply by a power of two, then `f64::round_ties_even`), and the
//! pixels are computed in integers from `q`. Results are rounded half up (a `+ ½` then
//! an arithmetic shift) and clamped to `[0, 255]`. The grey level of a pixel is ITU-R
//! 601 luma in Pillow's fixed point: `L = (19595 r + 38470 g + 7471 b + 2¹⁵) >> 16`.

use image::RgbImage;

use crate::check;
use crate::error::{Error, Result};
use crate::tone::{self, Lut};

/// Largest factor accepted by brightness, contrast and saturation.
pub const MAX_FACTOR: f64 = 1024.0;
const ONE: i64 = 1 << 16;
const HALF: i64 = 1 << 15;
/// Bytes per block of the saturation loop: whole pixels, small enough to stay in L1.
const BLOCK: usize = 3 * 128;

/// `round_half_even(f · 2¹⁶)` for a checked factor.
fn quantize(what: &'static str, f: f64) -> Result<i64> {
    check::within(what, f, 0.0, MAX_FACTOR)?;
    Ok((f * ONE as f64).round_ties_even() as i64)
}

/// Pillow's fixed-point luma, rounded: the definition [`LumaTables`] computes.
#[cfg(test)]
fn luma(r: u8, g: u8, b: u8) -> i64 {
    (19595 * i64::from(r) + 38470 * i64::from(g) + 7471 * i64::from(b) + HALF) >> 16
}

fn clamp_u8(v: i64) -> u8 {
    v.clamp(0, 255) as u8
}

/// [`luma`] of a pixel after a table, with lookups instead of multiplies:
/// `weighted[c][x] = w_c · lut[x]`, so `(Σ weighted[c][v_c] + 2¹⁵) >> 16` is the same
/// integer (at most `2¹⁶·255 + 2¹⁵`, far inside `u32`).
struct LumaTables {
    weighted: [[u32; 256]; 3],
}

impl LumaTables {
    fn through(lut: &Lut) -> Self {
        let w = [19595, 38470, 7471];
        Self {
            weighted: std::array::from_fn(|c| std::array::from_fn(|x| w[c] * u32::from(lut[x]))),
        }
    }

    #[inline]
    fn luma(&self, r: u8, g: u8, b: u8) -> u32 {
        let [wr, wg, wb] = &self.weighted;
        (wr[usize::from(r)] + wg[usize::from(g)] + wb[usize::from(b)] + HALF as u32) >> 16
    }
}

/// The table of `x ↦ clamp((q·x + 2¹⁵) >> 16)`: blending with black (torchvision's
/// `adjust_brightness`, Pillow's `ImageEnhance.Brightness`).
pub(crate) fn brightness_lut(factor: f64) -> Result<Lut> {
    let q = quantize("brightness factor", factor)?;
    Ok(std::array::from_fn(|x| {
        clamp_u8((q * x as i64 + HALF) >> 16)
    }))
}

/// Multiplies every channel by `factor` in `[0, 1024]`: `clamp((q·x + 2¹⁵) >> 16)` with
/// `q = round_half_even(factor · 2¹⁶)`. Factor 0 is black, 1 the identity.
pub fn adjust_brightness(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    check::non_empty(image)?;
    tone::mapped(image, &brightness_lut(factor)?)
}

/// The mean luma of the image after `lut`, in `2⁻¹⁶` units,
/// `round_half_up(Σ L · 2¹⁶ / n)`: an exact integer sum, so it does not depend on
/// summation order.
fn mean_luma_q16(image: &RgbImage, lut: &Lut) -> Result<i64> {
    let tables = LumaTables::through(lut);
    let mut sum: u64 = 0;
    for px in check::pixels(image)?.chunks_exact(3) {
        sum += u64::from(tables.luma(px[0], px[1], px[2]));
    }
    let (width, height) = image.dimensions();
    let n = u128::from(width) * u128::from(height);
    let num = u128::from(sum) << 16;
    // An empty image has no mean: an error, not a mean of 0.
    let mean = (num + n / 2)
        .checked_div(n)
        .ok_or(Error::EmptyImage { width, height })?;
    Ok(mean as i64)
}

/// Contrast's table for `image` as it is after `lut` (the pipeline's pending tone):
/// `x ↦ clamp((q·(x·2¹⁶ − m) + m·2¹⁶ + 2³¹) >> 32)` with `m` the mean luma.
pub(crate) fn contrast_lut(image: &RgbImage, lut: &Lut, factor: f64) -> Result<Lut> {
    check::non_empty(image)?;
    let q = quantize("contrast factor", factor)?;
    let m = mean_luma_q16(image, lut)?;
    Ok(std::array::from_fn(|x| {
        let v = q * ((x as i64) * ONE - m) + m * ONE + (1 << 31);
        clamp_u8(v >> 32)
    }))
}

/// Blends each channel with the image's mean luma `m` (in `2⁻¹⁶` units):
/// `clamp((q·(x·2¹⁶ − m) + m·2¹⁶ + 2³¹) >> 32)`, i.e. `f·x + (1 − f)·mean`, rounded.
/// This is torchvision's `adjust_contrast` and Pillow's `ImageEnhance.Contrast` up to
/// their rounding of the mean and of the result (they truncate).
pub fn adjust_contrast(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    let lut = contrast_lut(image, &tone::identity(), factor)?;
    tone::mapped(image, &lut)
}

/// Blends each pixel with its own luma `L`: `clamp((q·x + (2¹⁶ − q)·L + 2¹⁵) >> 16)`,
/// i.e. `f·x + (1 − f)·L`, rounded. Factor 0 is greyscale (`r = g = b = L`), 1 the
/// identity. torchvision blends with `⌊0.2989 r + 0.587 g + 0.114 b⌋` and Pillow's
/// `ImageEnhance.Color` with `L`; both truncate the result.
pub fn adjust_saturation(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    check::non_empty(image)?;
    let mut out = check::exact_copy(image)?;
    saturate(&mut out, &tone::identity(), factor)?;
    Ok(out)
}

/// Saturation of the image as it is after `lut`, in place, in one pass: each pixel is
/// mapped through `lut` and blended with its luma. Every product is a table lookup
/// (`q·lut[x]` and `L·(2¹⁶ − q) + 2¹⁵` precomputed in `i64`, where all of them fit),
/// so the integers are those of the formula, multiply-free.
pub(crate) fn saturate(image: &mut RgbImage, lut: &Lut, factor: f64) -> Result<()> {
    check::non_empty(image)?;
    let q = quantize("saturation factor", factor)?;
    let luma = LumaTables::through(lut);
    let scaled: [i64; 256] = std::array::from_fn(|x| q * i64::from(lut[x]));
    let grey: [i64; 256] = std::array::from_fn(|l| l as i64 * (ONE - q) + HALF);
    let buf = check::pixels_mut(image)?;
    if (0..=ONE).contains(&q) {
        // Factor in [0, 1]: a convex blend of two bytes plus ½, so the value is already
        // within [0, 255] and needs no clamp.
        for px in buf.chunks_exact_mut(3) {
            let g = grey[(luma.luma(px[0], px[1], px[2]) & 0xFF) as usize];
            for v in px.iter_mut() {
                *v = ((scaled[usize::from(*v)] + g) >> 16) as u8;
            }
        }
        return Ok(());
    }
    // Unclamped values go through a small buffer and are clamped in a separate loop:
    // the compiler vectorises that loop, while clamping inside the lookup loop becomes
    // data-dependent branches that mispredict.
    let mut wide = [0i32; BLOCK];
    for block in buf.chunks_mut(BLOCK) {
        for (px, w) in block.chunks_exact(3).zip(wide.chunks_exact_mut(3)) {
            // A luma is at most 255; the mask only spares a bounds check.
            let g = grey[(luma.luma(px[0], px[1], px[2]) & 0xFF) as usize];
            for (v, w) in px.iter().zip(w) {
                // |q·x| + |L·(2¹⁶ − q)| < 2³⁵, so the shifted value fits in i32.
                *w = ((scaled[usize::from(*v)] + g) >> 16) as i32;
            }
        }
        // Whole pixels only: stray bytes past the last pixel stay as they are.
        let whole = block.len() / 3 * 3;
        for (v, w) in block[..whole].iter_mut().zip(&wide) {
            *v = (*w).clamp(0, 255) as u8;
        }
    }
    Ok(())
}

/// A full turn of hue in the integer HSV of [`adjust_hue`]: six sectors of `2¹⁶`.
const HUE_TURN: i64 = 6 * ONE;

/// Rotates hue by `shift` turns, `shift` in `[−0.5, 0.5]`, in exact integer HSV:
///
/// - `v = max`, `m = min`, `c = v − m`; a grey pixel (`c = 0`) is unchanged;
/// - hue in `2⁻¹⁶` sectors: `H = sector·2¹⁶ + round_half_up(d·2¹⁶ / c)` with
///   `(sector, d)` = `(0, g − b)` if `v = r`, else `(2, b − r)` if `v = g`, else
///   `(4, r − g)` (torchvision's tie order);
/// - `H' = (H + round_half_even(shift · 6·2¹⁶)) mod 6·2¹⁶`, sector `i = H' >> 16`,
///   fraction `f = H' mod 2¹⁶`, `k = (c·f + 2¹⁵) >> 16`;
/// - output by sector, as HSV→RGB with `p = m`, `q = v − k`, `t = m + k`:
///   `(v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q)`.
///
/// Value and chroma are kept exactly, so a shift of 0 is the identity.
pub fn adjust_hue(image: &RgbImage, shift: f64) -> Result<RgbImage> {
    check::non_empty(image)?;
    let mut out = check::exact_copy(image)?;
    hue_in_place(&mut out, shift)?;
    Ok(out)
}

pub(crate) fn hue_in_place(image: &mut RgbImage, shift: f64) -> Result<()> {
    check::non_empty(image)?;
    check::within("hue shift", shift, -0.5, 0.5)?;
    let delta = (shift * HUE_TURN as f64).round_ties_even() as i64;
    let buf = check::pixels_mut(image)?;
    for px in buf.chunks_exact_mut(3) {
        let (r, g, b) = (i64::from(px[0]), i64::from(px[1]), i64::from(px[2]));
        let v = r.max(g).max(b);
        let m = r.min(g).min(b);
        let c = v - m;
        if c == 0 {
            continue;
        }
        let (sector, d) = if v == r {
            (0, g - b)
        } else if v == g {
            (2, b - r)
        } else {
            (4, r - g)
        };
        let h = sector * ONE + (2 * d * ONE + c).div_euclid(2 * c);
        let h = (h + delta).rem_euclid(HUE_TURN);
        let (i, f) = (h >> 16, h & (ONE - 1));
        let k = (c * f + HALF) >> 16;
        let (q, t) = (v - k, m + k);
        let (nr, ng, nb) = match i {
            0 => (v, t, m),
            1 => (q, v, m),
            2 => (m, v, t),
            3 => (m, q, v),
            4 => (t, m, v),
            _ => (v, m, q),
        };
        px[0] = nr as u8;
        px[1] = ng as u8;
        px[2] = nb as u8;
    }
    Ok(())
}

/// Largest gamma and gain accepted.
pub const MAX_GAMMA: f64 = 64.0;

/// Power-law correction: `clamp(⌊255·gain·(x/255)^gamma + ½⌋)` per channel, through a
/// 256-entry table computed with `libm::pow` (the same Rust code on every machine).
/// `gamma` in `(0, 64]`, `gain` in `[0, 64]`. As torchvision's `adjust_gamma`, which
/// truncates instead of rounding.
pub fn adjust_gamma(image: &RgbImage, gamma: f64, gain: f64) -> Result<RgbImage> {
    check::non_empty(image)?;
    tone::mapped(image, &gamma_lut(gamma, gain)?)
}

/// Gamma's table.
pub(crate) fn gamma_lut(gamma: f64, gain: f64) -> Result<Lut> {
    check::within("gamma", gamma, f64::MIN_POSITIVE, MAX_GAMMA)?;
    check::within("gamma gain", gain, 0.0, MAX_GAMMA)?;
    Ok(std::array::from_fn(|x| {
        let y = 255.0 * gain * libm::pow(x as f64 / 255.0, gamma);
        (y + 0.5).floor().clamp(0.0, 255.0) as u8
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn img() -> RgbImage {
        RgbImage::from_fn(16, 16, |x, y| {
            Rgb([(x * 16) as u8, (y * 16) as u8, ((x * y) % 256) as u8])
        })
    }

    /// Issue 11 (no silent fallbacks): the mean of an empty image divided by
    /// `n.max(1)` and came out as 0; it is an error now.
    #[test]
    fn the_mean_of_an_empty_image_is_an_error() {
        let empty = RgbImage::new(0, 3);
        assert!(matches!(
            mean_luma_q16(&empty, &tone::identity()),
            Err(crate::Error::EmptyImage {
                width: 0,
                height: 3
            })
        ));
    }

    #[test]
    fn identities() {
        let i = img();
        assert_eq!(adjust_brightness(&i, 1.0).unwrap(), i);
        assert_eq!(adjust_contrast(&i, 1.0).unwrap(), i);
        assert_eq!(adjust_saturation(&i, 1.0).unwrap(), i);
        assert_eq!(adjust_hue(&i, 0.0).unwrap(), i);
        assert_eq!(adjust_gamma(&i, 1.0, 1.0).unwrap(), i);
    }

    #[test]
    fn full_hue_turns_and_known_pixels() {
        let red = RgbImage::from_pixel(1, 1, Rgb([200, 10, 10]));
        // A third of a turn: red to green.
        assert_eq!(
            adjust_hue(&red, 1.0 / 3.0).unwrap().get_pixel(0, 0).0,
            [10, 200, 10]
        );
        assert_eq!(
            adjust_hue(&red, -1.0 / 3.0).unwrap().get_pixel(0, 0).0,
            [10, 10, 200]
        );
        assert_eq!(
            adjust_hue(&red, 0.5).unwrap().get_pixel(0, 0).0,
            [10, 200, 200]
        );
        assert!(adjust_hue(&red, 0.6).is_err());
        assert!(adjust_hue(&red, f64::NAN).is_err());
    }

    #[test]
    fn tables_give_the_formulas() {
        let lut: Lut = std::array::from_fn(|x| (x as u8).wrapping_mul(7) ^ 0x5a);
        let tables = LumaTables::through(&lut);
        for (r, g, b) in
            (0..=255u8).flat_map(|r| (0..=255u8).step_by(5).map(move |g| (r, g, 255 - g / 3)))
        {
            let want = luma(
                lut[usize::from(r)],
                lut[usize::from(g)],
                lut[usize::from(b)],
            );
            assert_eq!(i64::from(tables.luma(r, g, b)), want);
        }
        // Saturation through a table is saturation of the mapped image, by the formula.
        let image = img();
        for factor in [0.0, 0.37, 1.0, 1.8, 300.0] {
            let mut fused = image.clone();
            saturate(&mut fused, &lut, factor).unwrap();
            let q = quantize("saturation factor", factor).unwrap();
            let mut want = tone::mapped(&image, &lut).unwrap();
            for px in want.pixels_mut() {
                let l = luma(px[0], px[1], px[2]);
                for v in px.0.iter_mut() {
                    *v = clamp_u8((q * i64::from(*v) + l * (ONE - q) + HALF) >> 16);
                }
            }
            assert_eq!(fused, want, "factor {factor}");
        }
    }

    #[test]
    fn known_values() {
        let px = RgbImage::from_pixel(1, 1, Rgb([100, 50, 200]));
        // 100·1.5 = 150, 50·1.5 = 75, 200·1.5 = 300 → 255.
        assert_eq!(
            adjust_brightness(&px, 1.5).unwrap().get_pixel(0, 0).0,
            [150, 75, 255]
        );
        // luma = (19595·100 + 38470·50 + 7471·200 + 32768) >> 16 = 5409968 >> 16 = 82.
        assert_eq!(
            adjust_saturation(&px, 0.0).unwrap().get_pixel(0, 0).0,
            [82, 82, 82]
        );
        // A one-pixel image has mean = its luma, so contrast 0 is the same grey.
        assert_eq!(
            adjust_contrast(&px, 0.0).unwrap().get_pixel(0, 0).0,
            [82, 82, 82]
        );
        assert!(adjust_brightness(&px, -0.1).is_err());
        assert!(adjust_contrast(&px, f64::INFINITY).is_err());
        assert!(adjust_gamma(&px, 0.0, 1.0).is_err());
    }

    /// The mean is `round_half_up(Σ L · 2¹⁶ / n)`: with five grey pixels of luma
    /// 1, 1, 1, 0, 0 it is 3·2¹⁶/5 = 39321.6, so 39322; and 2·2¹⁶/5 = 26214.4 gives
    /// 26214. (A mean off by one unit changes contrast's table for some images.)
    #[test]
    fn the_mean_luma_rounds_half_up_in_q16() {
        let grey = |values: &[u8]| {
            RgbImage::from_fn(values.len() as u32, 1, |x, _| {
                let v = values[x as usize];
                Rgb([v, v, v])
            })
        };
        let identity = crate::tone::identity();
        assert_eq!(
            mean_luma_q16(&grey(&[1, 1, 1, 0, 0]), &identity).unwrap(),
            39322
        );
        assert_eq!(
            mean_luma_q16(&grey(&[1, 0, 1, 0, 0]), &identity).unwrap(),
            26214
        );
        // 2·2¹⁶/3 = 43690.67: 43691.
        assert_eq!(mean_luma_q16(&grey(&[1, 1, 0]), &identity).unwrap(), 43691);
        assert_eq!(
            mean_luma_q16(&grey(&[200, 100, 0]), &identity).unwrap(),
            100 << 16
        );
    }
}

//! Photometric kernels on 8-bit RGB: brightness, contrast, saturation, hue, gamma.
//!
//! Factors are quantized once to 16 fractional bits, `q = round_half_even(f · 2¹⁶)`
//! (an exact IEEE multiply by a power of two, then `f64::round_ties_even`), and the
//! pixels are computed in integers from `q`. Results are rounded half up (a `+ ½` then
//! an arithmetic shift) and clamped to `[0, 255]`. The grey level of a pixel is ITU-R
//! 601 luma in Pillow's fixed point: `L = (19595 r + 38470 g + 7471 b + 2¹⁵) >> 16`.

use image::RgbImage;

use crate::check;
use crate::error::Result;

/// Largest factor accepted by brightness, contrast and saturation.
pub const MAX_FACTOR: f64 = 1024.0;
const ONE: i64 = 1 << 16;
const HALF: i64 = 1 << 15;

/// `round_half_even(f · 2¹⁶)` for a checked factor.
fn quantize(what: &'static str, f: f64) -> Result<i64> {
    check::within(what, f, 0.0, MAX_FACTOR)?;
    Ok((f * ONE as f64).round_ties_even() as i64)
}

/// Pillow's fixed-point luma, rounded.
#[inline]
pub(crate) fn luma(r: u8, g: u8, b: u8) -> i64 {
    (19595 * i64::from(r) + 38470 * i64::from(g) + 7471 * i64::from(b) + HALF) >> 16
}

fn clamp_u8(v: i64) -> u8 {
    v.clamp(0, 255) as u8
}

fn map_lut(image: &mut RgbImage, lut: &[u8; 256]) {
    let buf: &mut [u8] = image;
    for v in buf.iter_mut() {
        *v = lut[usize::from(*v)];
    }
}

/// The table of `x ↦ clamp((q·x + 2¹⁵) >> 16)`: blending with black (torchvision's
/// `adjust_brightness`, Pillow's `ImageEnhance.Brightness`).
fn brightness_lut(q: i64) -> [u8; 256] {
    std::array::from_fn(|x| clamp_u8((q * x as i64 + HALF) >> 16))
}

/// Multiplies every channel by `factor` in `[0, 1024]`: `clamp((q·x + 2¹⁵) >> 16)` with
/// `q = round_half_even(factor · 2¹⁶)`. Factor 0 is black, 1 the identity.
pub fn adjust_brightness(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    let mut out = image.clone();
    brightness_in_place(&mut out, factor)?;
    Ok(out)
}

pub(crate) fn brightness_in_place(image: &mut RgbImage, factor: f64) -> Result<()> {
    check::non_empty(image)?;
    let q = quantize("brightness factor", factor)?;
    map_lut(image, &brightness_lut(q));
    Ok(())
}

/// The mean luma of the image in `2⁻¹⁶` units, `round_half_up(Σ L · 2¹⁶ / n)`: an exact
/// integer sum, so it does not depend on summation order.
pub(crate) fn mean_luma_q16(image: &RgbImage) -> i64 {
    let mut sum: u64 = 0;
    for px in image.as_raw().chunks_exact(3) {
        sum += luma(px[0], px[1], px[2]) as u64;
    }
    let n = u128::from(image.width()) * u128::from(image.height());
    let num = u128::from(sum) << 16;
    ((num + n / 2) / n.max(1)) as i64
}

/// Blends each channel with the image's mean luma `m` (in `2⁻¹⁶` units):
/// `clamp((q·(x·2¹⁶ − m) + m·2¹⁶ + 2³¹) >> 32)`, i.e. `f·x + (1 − f)·mean`, rounded.
/// This is torchvision's `adjust_contrast` and Pillow's `ImageEnhance.Contrast` up to
/// their rounding of the mean and of the result (they truncate).
pub fn adjust_contrast(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    let mut out = image.clone();
    contrast_in_place(&mut out, factor)?;
    Ok(out)
}

pub(crate) fn contrast_in_place(image: &mut RgbImage, factor: f64) -> Result<()> {
    check::non_empty(image)?;
    let q = quantize("contrast factor", factor)?;
    let m = mean_luma_q16(image);
    let lut: [u8; 256] = std::array::from_fn(|x| {
        let v = q * ((x as i64) * ONE - m) + m * ONE + (1 << 31);
        clamp_u8(v >> 32)
    });
    map_lut(image, &lut);
    Ok(())
}

/// Blends each pixel with its own luma `L`: `clamp((q·x + (2¹⁶ − q)·L + 2¹⁵) >> 16)`,
/// i.e. `f·x + (1 − f)·L`, rounded. Factor 0 is greyscale (`r = g = b = L`), 1 the
/// identity. torchvision blends with `⌊0.2989 r + 0.587 g + 0.114 b⌋` and Pillow's
/// `ImageEnhance.Color` with `L`; both truncate the result.
pub fn adjust_saturation(image: &RgbImage, factor: f64) -> Result<RgbImage> {
    let mut out = image.clone();
    saturation_in_place(&mut out, factor)?;
    Ok(out)
}

pub(crate) fn saturation_in_place(image: &mut RgbImage, factor: f64) -> Result<()> {
    check::non_empty(image)?;
    let q = quantize("saturation factor", factor)?;
    let buf: &mut [u8] = image;
    if q < (1 << 23) {
        // Every intermediate fits in i32 here (|q·255| and |(2¹⁶ − q)·255| < 2³¹), and
        // i32 lanes vectorise better; the value is the same integer as the i64 path.
        let (q, rest) = (q as i32, (ONE - q) as i32);
        for px in buf.chunks_exact_mut(3) {
            let l = luma(px[0], px[1], px[2]) as i32 * rest + HALF as i32;
            for v in px.iter_mut() {
                *v = ((q * i32::from(*v) + l) >> 16).clamp(0, 255) as u8;
            }
        }
    } else {
        for px in buf.chunks_exact_mut(3) {
            let l = luma(px[0], px[1], px[2]) * (ONE - q) + HALF;
            for v in px.iter_mut() {
                *v = clamp_u8((q * i64::from(*v) + l) >> 16);
            }
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
    let mut out = image.clone();
    hue_in_place(&mut out, shift)?;
    Ok(out)
}

pub(crate) fn hue_in_place(image: &mut RgbImage, shift: f64) -> Result<()> {
    check::non_empty(image)?;
    check::within("hue shift", shift, -0.5, 0.5)?;
    let delta = (shift * HUE_TURN as f64).round_ties_even() as i64;
    let buf: &mut [u8] = image;
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
    let mut out = image.clone();
    gamma_in_place(&mut out, gamma, gain)?;
    Ok(out)
}

pub(crate) fn gamma_in_place(image: &mut RgbImage, gamma: f64, gain: f64) -> Result<()> {
    check::non_empty(image)?;
    check::within("gamma", gamma, f64::MIN_POSITIVE, MAX_GAMMA)?;
    check::within("gamma gain", gain, 0.0, MAX_GAMMA)?;
    let lut: [u8; 256] = std::array::from_fn(|x| {
        let y = 255.0 * gain * libm::pow(x as f64 / 255.0, gamma);
        (y + 0.5).floor().clamp(0.0, 255.0) as u8
    });
    map_lut(image, &lut);
    Ok(())
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
}

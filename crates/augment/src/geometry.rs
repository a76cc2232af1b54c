//! Geometric pixel kernels: flips, crop, resize, quarter turns, pad. All integer code.
//!
//! Each kernel has a matching box map in [`crate::boxes`] terms, applied by
//! [`crate::OpParams`]; the kernels here touch pixels only.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};

/// A rectangle of whole pixels: columns `x .. x + width`, rows `y .. y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// Refuses an empty rectangle or one that does not fit in `image_width x image_height`.
    pub fn check_inside(&self, image_width: u32, image_height: u32) -> Result<()> {
        let fits = self.width > 0
            && self.height > 0
            && u64::from(self.x) + u64::from(self.width) <= u64::from(image_width)
            && u64::from(self.y) + u64::from(self.height) <= u64::from(image_height);
        if !fits {
            return Err(Error::CropOutOfBounds {
                x: self.x,
                y: self.y,
                width: self.width,
                height: self.height,
                image_width,
                image_height,
            });
        }
        Ok(())
    }
}

/// How [`resize`] computes an output pixel. `#[non_exhaustive]`: more filters may come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Interpolation {
    /// The source pixel whose centre is nearest: column `⌊(2·dx + 1)·sw / (2·dw)⌋`,
    /// torchvision's `NEAREST_EXACT` (tested against it). torchvision's legacy `NEAREST`
    /// samples `⌊dx·sw / dw⌋` and differs.
    Nearest,
    /// Bilinear between the four nearest source centres, half-pixel aligned
    /// (`align_corners = false`), no antialiasing; weights in 11-bit fixed point,
    /// rounded half up. See [`resize`].
    Bilinear,
}

/// Four 3-byte pixels in reverse order. Fixed-size arrays in and out, so the compiler
/// sees a constant byte permutation and a block of any other length cannot reach it.
#[inline]
fn reverse4(s: &[u8; 12]) -> [u8; 12] {
    [
        s[9], s[10], s[11], s[6], s[7], s[8], s[3], s[4], s[5], s[0], s[1], s[2],
    ]
}

/// A block of `chunks_exact(12)` (or its `_mut`/`rchunks` forms) as an array. Those
/// yield exactly 12 bytes; `copy_from_slice` asserts it, so a broken invariant panics
/// here instead of writing made-up pixels.
#[inline]
fn block12(chunk: &[u8]) -> [u8; 12] {
    let mut block = [0u8; 12];
    block.copy_from_slice(chunk);
    block
}

/// Mirrors columns: output column `x` is input column `width − 1 − x`.
pub fn hflip(image: &RgbImage) -> Result<RgbImage> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    let row = w as usize * 3;
    let mut out = vec![0u8; check::byte_len(w, h)];
    for (src, dst) in check::pixels(image)?
        .chunks_exact(row)
        .zip(out.chunks_exact_mut(row))
    {
        // Four pixels at a time; the tail goes pixel by pixel.
        let mut s_blocks = src.chunks_exact(12);
        let mut d_blocks = dst.rchunks_exact_mut(12);
        for (s, d) in (&mut s_blocks).zip(&mut d_blocks) {
            d.copy_from_slice(&reverse4(&block12(s)));
        }
        let d_tail = d_blocks.into_remainder();
        for (s, d) in s_blocks
            .remainder()
            .chunks_exact(3)
            .zip(d_tail.rchunks_exact_mut(3))
        {
            d.copy_from_slice(s);
        }
    }
    check::image_from(w, h, out)
}

/// [`hflip`] without a new buffer (no allocation, no fresh pages): pixels swap ends
/// within each row, four at a time from both ends, then one by one in the middle.
pub(crate) fn hflip_in_place(image: &mut RgbImage) -> Result<()> {
    check::non_empty(image)?;
    let row = image.width() as usize * 3;
    let buf = check::pixels_mut(image)?;
    for line in buf.chunks_exact_mut(row) {
        let outer = row / 24 * 12;
        let (left, rest) = line.split_at_mut(outer);
        let (middle, right) = rest.split_at_mut(rest.len() - outer);
        for (a, b) in left.chunks_exact_mut(12).zip(right.rchunks_exact_mut(12)) {
            let (ra, rb) = (reverse4(&block12(a)), reverse4(&block12(b)));
            a.copy_from_slice(&rb);
            b.copy_from_slice(&ra);
        }
        let n = middle.len() / 3;
        for i in 0..n / 2 {
            for c in 0..3 {
                middle.swap(i * 3 + c, (n - 1 - i) * 3 + c);
            }
        }
    }
    Ok(())
}

/// Mirrors rows: output row `y` is input row `height − 1 − y`.
pub fn vflip(image: &RgbImage) -> Result<RgbImage> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    let row = w as usize * 3;
    let mut out = vec![0u8; check::byte_len(w, h)];
    for (src, dst) in check::pixels(image)?
        .chunks_exact(row)
        .zip(out.rchunks_exact_mut(row))
    {
        dst.copy_from_slice(src);
    }
    check::image_from(w, h, out)
}

/// [`vflip`] without a new buffer: rows swap ends.
pub(crate) fn vflip_in_place(image: &mut RgbImage) -> Result<()> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    let row = w as usize * 3;
    let buf = check::pixels_mut(image)?;
    let (top, bottom) = buf.split_at_mut(h as usize / 2 * row);
    for (a, b) in top.chunks_exact_mut(row).zip(bottom.rchunks_exact_mut(row)) {
        a.swap_with_slice(b);
    }
    Ok(())
}

/// The pixels inside `rect`; [`Error::CropOutOfBounds`] if it does not fit.
pub fn crop(image: &RgbImage, rect: Rect) -> Result<RgbImage> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    rect.check_inside(w, h)?;
    let row = w as usize * 3;
    let (x0, cw) = (rect.x as usize * 3, rect.width as usize * 3);
    let mut out = Vec::with_capacity(check::byte_len(rect.width, rect.height));
    for src in check::pixels(image)?
        .chunks_exact(row)
        .skip(rect.y as usize)
        .take(rect.height as usize)
    {
        out.extend_from_slice(&src[x0..x0 + cw]);
    }
    check::image_from(rect.width, rect.height, out)
}

/// [`crop`] of an image the caller gives up: when the window keeps at least half of the
/// bytes, its rows move to the front of the same buffer (each row's new place starts no
/// later than its old one, so `copy_within` in row order never overwrites a row not yet
/// moved), sparing an allocation and its fresh pages. A smaller window is copied out,
/// so that it does not hold on to a much larger buffer.
pub(crate) fn crop_owned(image: RgbImage, rect: Rect) -> Result<RgbImage> {
    check::non_empty(&image)?;
    let (w, h) = image.dimensions();
    rect.check_inside(w, h)?;
    let kept = check::byte_len(rect.width, rect.height);
    let image = check::exact(image)?;
    if kept * 2 < image.len() {
        return crop(&image, rect);
    }
    let row = w as usize * 3;
    let (x0, cw) = (rect.x as usize * 3, rect.width as usize * 3);
    let mut buf = image.into_raw();
    for y in 0..rect.height as usize {
        let from = (rect.y as usize + y) * row + x0;
        buf.copy_within(from..from + cw, y * cw);
    }
    buf.truncate(kept);
    check::image_from(rect.width, rect.height, buf)
}

/// Weights of bilinear resize, in units of `2⁻¹¹`.
const BILINEAR_BITS: u32 = 11;
const BILINEAR_ONE: u32 = 1 << BILINEAR_BITS;

/// For each output index along one axis: the two source indices and the weight of the
/// second. Source position `s = (d + ½)·src/dst − ½` is computed exactly as
/// `⌊((2d + 1)·src·2¹¹ − dst·2¹¹) / (2·dst)⌋` in `2⁻¹¹` units, clamped to
/// `[0, (src − 1)·2¹¹]`.
fn bilinear_taps(src: u32, dst: u32) -> Vec<(usize, usize, u32)> {
    let (s, d) = (i64::from(src), i64::from(dst));
    let one = i64::from(BILINEAR_ONE);
    (0..d)
        .map(|i| {
            let pos = ((2 * i + 1) * s * one - d * one)
                .div_euclid(2 * d)
                .clamp(0, (s - 1) * one);
            let i0 = (pos / one) as usize;
            let frac = (pos % one) as u32;
            let i1 = (i0 + 1).min(src as usize - 1);
            (i0, i1, frac)
        })
        .collect()
}

/// Resizes to `width x height`.
///
/// - [`Interpolation::Nearest`]: see the variant.
/// - [`Interpolation::Bilinear`]: with taps `(x0, x1, fx)` and `(y0, y1, fy)` from the
///   half-pixel source position in `2⁻¹¹` units, each channel is
///   `(Σ p·wx·wy + 2²¹) >> 22` with `wx ∈ {2¹¹ − fx, fx}`, `wy ∈ {2¹¹ − fy, fy}`: exact
///   integer arithmetic, rounded half up. On downscaling this samples without
///   antialiasing (torchvision's `antialias=False`), unlike Pillow's resampling filters.
pub fn resize(
    image: &RgbImage,
    width: u32,
    height: u32,
    interp: Interpolation,
) -> Result<RgbImage> {
    check::non_empty(image)?;
    check::side("resize width", width)?;
    check::side("resize height", height)?;
    let (sw, sh) = image.dimensions();
    let src = check::pixels(image)?;
    let row = sw as usize * 3;
    let mut out = Vec::with_capacity(check::byte_len(width, height));
    match interp {
        Interpolation::Nearest => {
            let nearest = |d: u32, src_len: u32, dst_len: u32| {
                let i = (2 * u64::from(d) + 1) * u64::from(src_len) / (2 * u64::from(dst_len));
                i.min(u64::from(src_len) - 1) as usize
            };
            let cols: Vec<usize> = (0..width).map(|x| nearest(x, sw, width) * 3).collect();
            for y in 0..height {
                let start = nearest(y, sh, height) * row;
                let src_row = &src[start..start + row];
                for &c in &cols {
                    out.extend_from_slice(&src_row[c..c + 3]);
                }
            }
        }
        Interpolation::Bilinear => {
            let xs = bilinear_taps(sw, width);
            let ys = bilinear_taps(sh, height);
            for &(y0, y1, fy) in &ys {
                let r0 = &src[y0 * row..(y0 + 1) * row];
                let r1 = &src[y1 * row..(y1 + 1) * row];
                let (wy0, wy1) = (BILINEAR_ONE - fy, fy);
                for &(x0, x1, fx) in &xs {
                    let (wx0, wx1) = (BILINEAR_ONE - fx, fx);
                    for c in 0..3 {
                        let top = u32::from(r0[x0 * 3 + c]) * wx0 + u32::from(r0[x1 * 3 + c]) * wx1;
                        let bottom =
                            u32::from(r1[x0 * 3 + c]) * wx0 + u32::from(r1[x1 * 3 + c]) * wx1;
                        let v = (top * wy0 + bottom * wy1 + (1 << (2 * BILINEAR_BITS - 1)))
                            >> (2 * BILINEAR_BITS);
                        out.push(v as u8);
                    }
                }
            }
        }
    }
    check::image_from(width, height, out)
}

/// Turns the image by `k` quarter turns counter-clockwise (`k` taken modulo 4), as
/// `numpy.rot90(image, k)` on an `(H, W, C)` array. For one turn, output pixel
/// `(x', y')` is input pixel `(width − 1 − y', x')`.
pub fn rotate90(image: &RgbImage, k: u32) -> Result<RgbImage> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let src = check::pixels(image)?;
    let k = k % 4;
    if k == 0 {
        return check::exact_copy(image);
    }
    if k == 2 {
        let mut out = src.to_vec();
        let n = out.len() / 3;
        for i in 0..n / 2 {
            for c in 0..3 {
                out.swap(i * 3 + c, (n - 1 - i) * 3 + c);
            }
        }
        return check::image_from(w, h, out);
    }
    // One or three turns: the output is h wide and w high.
    let mut out = vec![0u8; src.len()];
    for yo in 0..wu {
        for xo in 0..hu {
            let (xi, yi) = if k == 1 {
                (wu - 1 - yo, xo)
            } else {
                (yo, hu - 1 - xo)
            };
            let s = (yi * wu + xi) * 3;
            let d = (yo * hu + xo) * 3;
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    check::image_from(h, w, out)
}

/// Borders to add around an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Padding {
    /// Columns added on the left.
    pub left: u32,
    /// Rows added on top.
    pub top: u32,
    /// Columns added on the right.
    pub right: u32,
    /// Rows added at the bottom.
    pub bottom: u32,
}

/// Adds constant borders of colour `fill`.
pub fn pad(image: &RgbImage, padding: Padding, fill: [u8; 3]) -> Result<RgbImage> {
    check::non_empty(image)?;
    let (w, h) = image.dimensions();
    let ow = u64::from(w) + u64::from(padding.left) + u64::from(padding.right);
    let oh = u64::from(h) + u64::from(padding.top) + u64::from(padding.bottom);
    let max = u64::from(check::MAX_SIDE);
    if ow > max {
        return Err(Error::BadSize {
            what: "padded width",
            value: ow,
            max,
        });
    }
    if oh > max {
        return Err(Error::BadSize {
            what: "padded height",
            value: oh,
            max,
        });
    }
    let (ow, oh) = (ow as u32, oh as u32);
    let mut out: Vec<u8> = fill
        .iter()
        .copied()
        .cycle()
        .take(check::byte_len(ow, oh))
        .collect();
    let (row, orow) = (w as usize * 3, ow as usize * 3);
    for (y, src) in check::pixels(image)?.chunks_exact(row).enumerate() {
        let start = (y + padding.top as usize) * orow + padding.left as usize * 3;
        out[start..start + row].copy_from_slice(src);
    }
    check::image_from(ow, oh, out)
}

/// Paints `rect` with `fill` (cutout / random erasing); [`Error::CropOutOfBounds`] if
/// it does not fit.
pub fn erase(image: &RgbImage, rect: Rect, fill: [u8; 3]) -> Result<RgbImage> {
    check::non_empty(image)?;
    let mut out = check::exact_copy(image)?;
    erase_in_place(&mut out, rect, fill)?;
    Ok(out)
}

pub(crate) fn erase_in_place(image: &mut RgbImage, rect: Rect, fill: [u8; 3]) -> Result<()> {
    let (w, h) = image.dimensions();
    rect.check_inside(w, h)?;
    let row = w as usize * 3;
    let buf = check::pixels_mut(image)?;
    for line in buf
        .chunks_exact_mut(row)
        .skip(rect.y as usize)
        .take(rect.height as usize)
    {
        let start = rect.x as usize * 3;
        for px in line[start..start + rect.width as usize * 3].chunks_exact_mut(3) {
            px.copy_from_slice(&fill);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([x as u8, y as u8, (x * 7 + y * 3) as u8])
        })
    }

    #[test]
    fn flips_are_involutions_and_move_the_corner() {
        let img = ramp(5, 3);
        let f = hflip(&img).unwrap();
        assert_eq!(f.get_pixel(0, 1), img.get_pixel(4, 1));
        assert_eq!(hflip(&f).unwrap(), img);
        let v = vflip(&img).unwrap();
        assert_eq!(v.get_pixel(2, 0), img.get_pixel(2, 2));
        assert_eq!(vflip(&v).unwrap(), img);
    }

    #[test]
    fn in_place_kernels_match_the_copying_ones() {
        for (w, h) in [
            (1, 1),
            (1, 3),
            (2, 2),
            (3, 1),
            (4, 5),
            (7, 2),
            (9, 4),
            (16, 3),
            (33, 7),
        ] {
            let img = ramp(w, h);
            let mut flipped = img.clone();
            hflip_in_place(&mut flipped).unwrap();
            assert_eq!(flipped, hflip(&img).unwrap(), "{w}x{h}");
            for x in 0..w {
                assert_eq!(flipped.get_pixel(x, h - 1), img.get_pixel(w - 1 - x, h - 1));
            }
            let mut flipped = img.clone();
            vflip_in_place(&mut flipped).unwrap();
            assert_eq!(flipped, vflip(&img).unwrap(), "{w}x{h}");
            // Windows that keep more or less than half the bytes (in place or copied).
            for (x, y, cw, ch) in [
                (0, 0, w, h),
                (w / 3, h / 2, w - w / 3, h - h / 2),
                (w - 1, h - 1, 1, 1),
            ] {
                let rect = Rect {
                    x,
                    y,
                    width: cw,
                    height: ch,
                };
                assert_eq!(
                    crop_owned(img.clone(), rect).unwrap(),
                    crop(&img, rect).unwrap()
                );
            }
        }
        let too_big = Rect {
            x: 1,
            y: 0,
            width: 4,
            height: 1,
        };
        assert!(crop_owned(ramp(4, 4), too_big).is_err());
    }

    /// Issue 11: `reverse4` took any slice and turned a wrong length into four black
    /// pixels. Now it takes a `[u8; 12]`, and the one conversion into it refuses a
    /// wrong length loudly.
    #[test]
    #[should_panic(expected = "does not match")]
    fn a_block_of_the_wrong_length_panics_instead_of_turning_black() {
        let _ = block12(&[7u8; 11]);
    }

    #[test]
    fn reverse4_reverses_pixels_and_keeps_channels() {
        let block: [u8; 12] = std::array::from_fn(|i| i as u8);
        assert_eq!(reverse4(&block), [9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2]);
        assert_eq!(block12(&block), block);
    }

    #[test]
    fn rotations_compose() {
        let img = ramp(5, 3);
        let r1 = rotate90(&img, 1).unwrap();
        assert_eq!(r1.dimensions(), (3, 5));
        // Counter-clockwise: the top-right pixel lands top-left.
        assert_eq!(r1.get_pixel(0, 0), img.get_pixel(4, 0));
        let r3 = rotate90(&img, 3).unwrap();
        assert_eq!(rotate90(&r1, 1).unwrap(), rotate90(&img, 2).unwrap());
        assert_eq!(rotate90(&r3, 1).unwrap(), img);
        assert_eq!(
            rotate90(&img, 2).unwrap(),
            vflip(&hflip(&img).unwrap()).unwrap()
        );
    }

    #[test]
    fn crop_bounds_are_checked() {
        let img = ramp(4, 4);
        let c = crop(
            &img,
            Rect {
                x: 1,
                y: 2,
                width: 3,
                height: 2,
            },
        )
        .unwrap();
        assert_eq!(c.get_pixel(0, 0), img.get_pixel(1, 2));
        assert!(matches!(
            crop(
                &img,
                Rect {
                    x: 2,
                    y: 0,
                    width: 3,
                    height: 1
                }
            ),
            Err(Error::CropOutOfBounds { .. })
        ));
        assert!(crop(
            &img,
            Rect {
                x: 0,
                y: 0,
                width: 0,
                height: 1
            }
        )
        .is_err());
    }

    #[test]
    fn resize_identity_and_integer_upscale() {
        let img = ramp(6, 4);
        assert_eq!(resize(&img, 6, 4, Interpolation::Bilinear).unwrap(), img);
        assert_eq!(resize(&img, 6, 4, Interpolation::Nearest).unwrap(), img);
        let up = resize(&img, 12, 8, Interpolation::Nearest).unwrap();
        assert_eq!(up.get_pixel(11, 7), img.get_pixel(5, 3));
        assert_eq!(up.get_pixel(2, 3), img.get_pixel(1, 1));
        // A 2x bilinear downscale averages each 2x2 block (centres line up exactly).
        let down = resize(&img, 3, 2, Interpolation::Bilinear).unwrap();
        assert_eq!(down.get_pixel(0, 0)[0], 1); // (0 + 1 + 0 + 1) / 4 = 0.5, rounded up
        assert!(resize(&img, 0, 2, Interpolation::Bilinear).is_err());
    }

    #[test]
    fn pad_and_erase() {
        let img = ramp(2, 2);
        let p = pad(
            &img,
            Padding {
                left: 1,
                top: 2,
                right: 0,
                bottom: 1,
            },
            [9, 8, 7],
        )
        .unwrap();
        assert_eq!(p.dimensions(), (3, 5));
        assert_eq!(p.get_pixel(0, 0).0, [9, 8, 7]);
        assert_eq!(p.get_pixel(1, 2), img.get_pixel(0, 0));
        let e = erase(
            &img,
            Rect {
                x: 1,
                y: 0,
                width: 1,
                height: 2,
            },
            [1, 2, 3],
        )
        .unwrap();
        assert_eq!(e.get_pixel(1, 1).0, [1, 2, 3]);
        assert_eq!(e.get_pixel(0, 1), img.get_pixel(0, 1));
    }
}

//! Additive Gaussian noise from a recorded 32-byte seed.
//!
//! The noise of row `y` comes from the seed tree rooted at the seed bytes, node
//! `root/row[y]`, whose stream gives one `normal_f64` (Box–Muller over `libm`, two
//! draws) per channel value in `r, g, b` order along the row. Rows are independent, so
//! any row can be computed alone and in any order, and the seed alone replays it.

use image::RgbImage;
use lockstep_seeding::SeedTree;

use crate::check;
use crate::error::{Error, Result};

/// Largest standard deviation accepted, in 8-bit levels.
pub const MAX_NOISE_STD: f64 = 1024.0;

/// Adds `std · n` to every channel, `n` standard normal as described in this module,
/// then rounds half up and clamps: `clamp(⌊x + std·n + ½⌋, 0, 255)` in `f64`.
/// `std` in `[0, 1024]` levels.
pub fn adjust_noise(image: &RgbImage, std: f64, seed: [u8; 32]) -> Result<RgbImage> {
    check::non_empty(image)?;
    let mut out = check::exact_copy(image)?;
    noise_in_place(&mut out, std, seed)?;
    Ok(out)
}

pub(crate) fn noise_in_place(image: &mut RgbImage, std: f64, seed: [u8; 32]) -> Result<()> {
    check::non_empty(image)?;
    check::within("noise std", std, 0.0, MAX_NOISE_STD)?;
    let root = SeedTree::from_bytes(seed);
    let row = image.width() as usize * 3;
    let buf = check::pixels_mut(image)?;
    for (y, line) in buf.chunks_exact_mut(row).enumerate() {
        let mut rng = root.child_index("row", y as u64).rng();
        for v in line.iter_mut() {
            let x = f64::from(*v) + std * rng.normal_f64();
            *v = (x + 0.5).floor().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(())
}

/// Lower-case hex of a seed, as recorded in [`crate::OpParams::Noise`].
pub fn seed_hex(seed: &[u8; 32]) -> String {
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits back into a seed.
pub fn parse_seed_hex(text: &str) -> Result<[u8; 32]> {
    let bad = || Error::BadSeed {
        seed: text.to_string(),
    };
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    let mut seed = [0u8; 32];
    for (slot, pair) in seed.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).map_err(|_| bad())?;
        *slot = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_std_is_identity_and_hex_round_trips() {
        let img = RgbImage::from_fn(7, 3, |x, y| image::Rgb([x as u8 * 30, y as u8 * 80, 128]));
        assert_eq!(adjust_noise(&img, 0.0, [3; 32]).unwrap(), img);
        let seed: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(parse_seed_hex(&seed_hex(&seed)).unwrap(), seed);
        assert!(parse_seed_hex("zz").is_err());
        assert!(parse_seed_hex(&"g".repeat(64)).is_err());
        assert!(adjust_noise(&img, -1.0, seed).is_err());
    }

    #[test]
    fn rows_are_independent_of_the_image_height() {
        // Row y's noise depends only on (seed, y): a taller image adds rows, it does not
        // change the first ones.
        let a = RgbImage::from_pixel(5, 2, image::Rgb([128, 128, 128]));
        let b = RgbImage::from_pixel(5, 4, image::Rgb([128, 128, 128]));
        let na = adjust_noise(&a, 20.0, [7; 32]).unwrap();
        let nb = adjust_noise(&b, 20.0, [7; 32]).unwrap();
        assert_eq!(&na.as_raw()[..], &nb.as_raw()[..na.as_raw().len()]);
        assert_ne!(na, a);
    }
}

//! Tone curves: brightness, contrast and gamma each map every channel through the same
//! 256-entry table, so a pipeline defers them ([`Tone`]) and composes consecutive ones
//! into one table. Composing tables is exact (`b[a[x]]` is what applying `a` then `b`
//! gives), so the bytes equal those of one pass per op, for a fraction of the passes.

use image::RgbImage;

use crate::check;
use crate::error::Result;

/// A table applied to every channel.
pub(crate) type Lut = [u8; 256];

/// The table that changes nothing.
pub(crate) fn identity() -> Lut {
    std::array::from_fn(|x| x as u8)
}

/// Maps every pixel byte of `image` through `lut`, in place.
pub(crate) fn map_in_place(image: &mut RgbImage, lut: &Lut) -> Result<()> {
    for v in check::pixels_mut(image)?.iter_mut() {
        *v = lut[usize::from(*v)];
    }
    Ok(())
}

/// A mapped copy of `image`: one read and one write per byte, no copy-then-map.
pub(crate) fn mapped(image: &RgbImage, lut: &Lut) -> Result<RgbImage> {
    let data: Vec<u8> = check::pixels(image)?
        .iter()
        .map(|&v| lut[usize::from(v)])
        .collect();
    check::image_from(image.width(), image.height(), data)
}

/// The tone curve a pipeline has applied to its image only on paper so far. The
/// pipeline composes brightness, contrast and gamma into it, folds it into saturation's
/// pass, and writes it out ([`Tone::flush`]) before any other op and at the end.
#[derive(Debug, Clone)]
pub(crate) struct Tone {
    lut: Lut,
    pending: bool,
}

impl Tone {
    /// Nothing pending.
    pub fn new() -> Self {
        Self {
            lut: identity(),
            pending: false,
        }
    }

    /// The pending table (the identity when nothing is pending).
    pub fn lut(&self) -> &Lut {
        &self.lut
    }

    /// Applies `next` after what is pending.
    pub fn then(&mut self, next: &Lut) {
        self.lut = std::array::from_fn(|x| next[usize::from(self.lut[x])]);
        self.pending = true;
    }

    /// Forgets the pending table, once a kernel has applied it.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Writes the pending table into `image`.
    pub fn flush(&mut self, image: &mut RgbImage) -> Result<()> {
        if self.pending {
            map_in_place(image, &self.lut)?;
            self.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composition_equals_sequential_maps() {
        let img = RgbImage::from_fn(7, 5, |x, y| {
            image::Rgb([(x * 37) as u8, (y * 51) as u8, 200])
        });
        let a: Lut = std::array::from_fn(|x| (x as u8).wrapping_mul(3));
        let b: Lut = std::array::from_fn(|x| 255 - x as u8);
        let mut one_by_one = img.clone();
        map_in_place(&mut one_by_one, &a).unwrap();
        map_in_place(&mut one_by_one, &b).unwrap();
        let mut tone = Tone::new();
        tone.then(&a);
        tone.then(&b);
        let mut deferred = img.clone();
        tone.flush(&mut deferred).unwrap();
        assert_eq!(deferred, one_by_one);
        assert_eq!(tone.lut(), &identity());
        assert_eq!(mapped(&img, &a).unwrap(), {
            let mut m = img.clone();
            map_in_place(&mut m, &a).unwrap();
            m
        });
    }
}

//! Image sizes.

/// An image's size in pixels: width, then height, as the `image` crate orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ImageSize {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

impl ImageSize {
    /// A size from width and height.
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    /// A square size.
    pub const fn square(side: u32) -> Self {
        Self::new(side, side)
    }

    /// `width · height`, which cannot overflow a `u64`.
    pub const fn pixels(self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

impl From<(u32, u32)> for ImageSize {
    /// `(width, height)`.
    fn from((width, height): (u32, u32)) -> Self {
        Self { width, height }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_comes_first() {
        let s = ImageSize::from((640, 480));
        assert_eq!((s.width, s.height), (640, 480));
        assert_eq!(s.pixels(), 307_200);
        assert_eq!(
            ImageSize::square(u32::MAX).pixels(),
            u64::from(u32::MAX).pow(2)
        );
    }
}

//! A deterministic reader that turns fuzz bytes into structured values.
//!
//! Running out of bytes yields zeros, so every input decodes to something and a
//! mutation of one byte changes one value: what coverage-guided fuzzing needs.

/// Values that break numeric code more often than random bits do.
const SPECIAL_F64: [f64; 16] = [
    0.0,
    -0.0,
    1.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    1e-320,
    f64::MAX,
    f64::MIN,
    f64::EPSILON,
    0.5,
    1e38,
    -1e38,
    1e-40,
    3.4e38,
];

/// A cursor over fuzz input.
#[derive(Debug, Clone)]
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 past the end.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next `N` bytes, zero-padded past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| self.u8())
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A coin.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A count in `0..=max`.
    pub fn count(&mut self, max: usize) -> usize {
        usize::from(self.u8()) % (max + 1)
    }

    /// A `u64` that is small most of the time and sometimes extreme.
    pub fn size(&mut self) -> u64 {
        match self.u8() % 8 {
            0 => 0,
            1 => u64::MAX - u64::from(self.u8()),
            2 => 1u64 << (self.u8() % 64),
            3 => self.u64(),
            _ => u64::from(self.u8()),
        }
    }

    /// An `f64` that is a grid value (so comparisons tie), a special value, or raw bits.
    pub fn f64(&mut self) -> f64 {
        let tag = self.u8() % 8;
        match tag {
            7 => f64::from_bits(self.u64()),
            _ => self.f64_tagged(tag),
        }
    }

    /// As [`Bytes::f64`], rounded to `f32` (raw bits come from a `u32`).
    pub fn f32(&mut self) -> f32 {
        let tag = self.u8() % 8;
        match tag {
            7 => f32::from_bits(self.u32()),
            _ => self.f64_tagged(tag) as f32,
        }
    }

    fn f64_tagged(&mut self, tag: u8) -> f64 {
        match tag {
            0..=3 => f64::from(self.u16() as i16) / 16.0,
            4 | 5 => SPECIAL_F64[usize::from(self.u8() % 16)],
            _ => f64::from(self.u8()) / 255.0,
        }
    }

    /// A probability-like `f64`: mostly in `[0, 1]`, sometimes anything.
    pub fn unit(&mut self) -> f64 {
        if self.u8() < 224 {
            f64::from(self.u8()) / 255.0
        } else {
            self.f64()
        }
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Text from fuzz bytes: the bytes themselves when they are UTF-8, else lossily.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_as_zeros() {
        let mut b = Bytes::new(&[1, 2]);
        assert_eq!(b.u32(), 0x0201);
        assert!(b.is_empty());
        assert_eq!(b.u64(), 0);
        assert_eq!(b.f64(), 0.0);
    }

    #[test]
    fn grid_values_tie() {
        let mut a = Bytes::new(&[0, 16, 0]);
        let mut b = Bytes::new(&[1, 16, 0]);
        assert_eq!(a.f32().to_bits(), 1.0f32.to_bits());
        assert_eq!(b.f32().to_bits(), 1.0f32.to_bits());
    }
}

//! [`SeedRng`]: the portable generator of a node, and the exact recipes of its helpers.
//!
//! The stream is ChaCha with 12 rounds (`rand_chacha::ChaCha12Rng`), keyed by the node's
//! key, stream 0, starting at word 0. rand_chacha documents this generator as portable
//! and its output as value-stable; the version is pinned with `=` all the same.
//!
//! Every helper consumes a documented number of `u64` draws, so the stream position
//! after a helper never depends on the values drawn, except where stated (`below`'s
//! rejection, which is needed to avoid modulo bias).

use std::num::NonZeroU64;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

use crate::derive::Key;
use crate::error::{Error, Result};

/// `2⁻⁵³`.
const F64_UNIT: f64 = 1.0 / (1u64 << 53) as f64;
/// `2⁻²⁴`.
const F32_UNIT: f32 = 1.0 / (1u32 << 24) as f32;

/// A bound on the magnitude of every [`SeedRng::normal_f64`] value. Its `u1` is at
/// least `2⁻⁵³`, so `|z| <= √(−2 ln 2⁻⁵³) = √(106 ln 2) ≈ 8.5717`; the bound leaves a
/// margin far above `libm`'s rounding. [`SeedRng::normal`] accepts `(mean, std)` only
/// when `|mean| + NORMAL_MAX_ABS · std` is finite, which guarantees a finite result
/// for every draw.
pub const NORMAL_MAX_ABS: f64 = 8.6;

/// `(x >> 11) · 2⁻⁵³`: the top 53 bits as an `f64` in `[0, 1)`.
pub(crate) fn unit_f64_from(x: u64) -> f64 {
    (x >> 11) as f64 * F64_UNIT
}

/// `(x >> 40) · 2⁻²⁴`: the top 24 bits as an `f32` in `[0, 1)`.
pub(crate) fn unit_f32_from(x: u64) -> f32 {
    (x >> 40) as f32 * F32_UNIT
}

/// The largest `f64` strictly below the finite `x`.
fn next_below_f64(x: f64) -> f64 {
    if x == 0.0 {
        -f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() - 1)
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}

/// The largest `f32` strictly below the finite `x`.
fn next_below_f32(x: f32) -> f32 {
    if x == 0.0 {
        -f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() - 1)
    } else {
        f32::from_bits(x.to_bits() + 1)
    }
}

fn check_range(low: f64, high: f64) -> Result<()> {
    if !low.is_finite() || !high.is_finite() {
        return Err(Error::NonFiniteBound { low, high });
    }
    if low > high {
        return Err(Error::InvertedRange { low, high });
    }
    if !(high - low).is_finite() {
        return Err(Error::RangeTooWide { low, high });
    }
    Ok(())
}

/// The portable generator of one seed-tree node. Made by [`crate::SeedTree::rng`].
///
/// It implements `rand_core::RngCore`, so it works with the rand ecosystem; but use
/// the helpers here for anything that must reproduce, since their recipes are pinned
/// and rand's own distributions change values between minor versions.
#[derive(Debug, Clone)]
pub struct SeedRng {
    inner: ChaCha12Rng,
}

impl SeedRng {
    pub(crate) fn from_key(key: Key) -> Self {
        Self {
            inner: ChaCha12Rng::from_seed(key),
        }
    }

    /// A generator positioned so that its next `u64` is the stream's `i`-th.
    pub(crate) fn at_u64_position(key: Key, i: u64) -> Self {
        let mut rng = Self::from_key(key);
        rng.inner.set_word_pos(u128::from(i) * 2);
        rng
    }

    pub(crate) fn next_u64_raw(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// How many `u64`s have been drawn since the start of the stream (when only whole
    /// `u64`s were drawn).
    pub fn position(&self) -> u128 {
        self.inner.get_word_pos() / 2
    }

    /// Fills `out` with the next `out.len()` `u64`s of the stream.
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        for slot in out {
            *slot = self.inner.next_u64();
        }
    }

    /// An `f64` in `[0, 1)` from one `u64`: `(x >> 11) · 2⁻⁵³`.
    pub fn unit_f64(&mut self) -> f64 {
        unit_f64_from(self.inner.next_u64())
    }

    /// An `f32` in `[0, 1)` from one `u64`: `(x >> 40) · 2⁻²⁴`.
    pub fn unit_f32(&mut self) -> f32 {
        unit_f32_from(self.inner.next_u64())
    }

    /// A uniform integer in `[0, n)` without modulo bias (Lemire's multiply-and-reject):
    /// with `m = x · n` as a 128-bit product of a draw `x`, the result is `m >> 64`,
    /// unless `m mod 2⁶⁴ < 2⁶⁴ mod n`, in which case the draw is rejected and another
    /// taken. The rejection chance is below `n / 2⁶⁴`.
    ///
    /// The threshold `2⁶⁴ mod n` is below `n`, so it is only computed (one division)
    /// when the low half is below `n`, which is rare: this is fast enough for the hot
    /// loops of shuffles (lockstep-data uses it for every swap), and gives the same
    /// values and the same stream position as the plain recipe above.
    #[inline]
    pub fn below(&mut self, n: NonZeroU64) -> u64 {
        let n = n.get();
        let mut m = u128::from(self.inner.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.inner.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// [`SeedRng::below`] for a plain `u64`; `n = 0` is [`Error::EmptyRange`].
    pub fn try_below(&mut self, n: u64) -> Result<u64> {
        NonZeroU64::new(n)
            .map(|n| self.below(n))
            .ok_or(Error::EmptyRange)
    }

    /// `true` with probability `p`: one draw `u`, from [`SeedRng::unit_f64`], and the
    /// result `u < p`. Always one draw, also for `p = 0` and `p = 1`.
    pub fn bernoulli(&mut self, p: f64) -> Result<bool> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Probability { p });
        }
        Ok(self.unit_f64() < p)
    }

    /// A uniform `f64` in `[low, high)`: `low + (high − low) · u` with `u` from
    /// [`SeedRng::unit_f64`], lowered to the largest float below `high` if rounding
    /// reached it. `low = high` gives `low`. One draw.
    pub fn uniform_f64(&mut self, low: f64, high: f64) -> Result<f64> {
        check_range(low, high)?;
        let u = self.unit_f64();
        if low == high {
            return Ok(low);
        }
        let x = low + (high - low) * u;
        Ok(if x >= high { next_below_f64(high) } else { x })
    }

    /// A uniform `f32` in `[low, high)`, computed as for [`SeedRng::uniform_f64`] but in
    /// `f32` with `u` from [`SeedRng::unit_f32`]. One draw.
    pub fn uniform_f32(&mut self, low: f32, high: f32) -> Result<f32> {
        check_range(f64::from(low), f64::from(high))?;
        if !(high - low).is_finite() {
            return Err(Error::RangeTooWide {
                low: f64::from(low),
                high: f64::from(high),
            });
        }
        let u = self.unit_f32();
        if low == high {
            return Ok(low);
        }
        let x = low + (high - low) * u;
        Ok(if x >= high { next_below_f32(high) } else { x })
    }

    /// A standard normal `f64` by Box–Muller with the portable `libm` functions:
    /// `u1 = 1 − unit_f64()`, `u2 = unit_f64()`, result `√(−2 ln u1) · cos(2π u2)`.
    /// Two draws; the sine half is discarded so each value costs the same.
    pub fn normal_f64(&mut self) -> f64 {
        let u1 = 1.0 - self.unit_f64();
        let u2 = self.unit_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }

    /// A normal `f64` with the given mean and standard deviation:
    /// `mean + std · normal_f64()`. Two draws.
    ///
    /// Errors (before any draw): [`Error::NonFinite`] for a NaN or infinite parameter,
    /// [`Error::NegativeStd`], and [`Error::NormalTooWide`] when
    /// `|mean| + NORMAL_MAX_ABS · std` overflows, so that every accepted `(mean, std)`
    /// gives a finite value on every draw.
    pub fn normal(&mut self, mean: f64, std: f64) -> Result<f64> {
        if !mean.is_finite() {
            return Err(Error::NonFinite {
                what: "mean",
                value: mean,
            });
        }
        if !std.is_finite() {
            return Err(Error::NonFinite {
                what: "standard deviation",
                value: std,
            });
        }
        if std < 0.0 {
            return Err(Error::NegativeStd { std });
        }
        // Sound: `|std · z|` rounds to below `NORMAL_MAX_ABS · std`, so when this sum
        // does not overflow, neither does `mean + std · z`.
        if !(mean.abs() + NORMAL_MAX_ABS * std).is_finite() {
            return Err(Error::NormalTooWide { mean, std });
        }
        Ok(mean + std * self.normal_f64())
    }
}

impl RngCore for SeedRng {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.inner.fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use proptest::prelude::*;

    use crate::SeedTree;

    /// The recipe of [`super::SeedRng::below`] written the plain way: the threshold
    /// computed for every draw.
    fn below_plain(rng: &mut super::SeedRng, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(rng.next_u64_raw()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    proptest! {
        #[test]
        fn fast_path_equals_the_plain_recipe(seed in any::<u64>(), n in 1u64..=u64::MAX) {
            let node = SeedTree::from_u64(seed);
            let (mut fast, mut plain) = (node.rng(), node.rng());
            let nz = NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
            for _ in 0..32 {
                prop_assert_eq!(fast.below(nz), below_plain(&mut plain, n));
                prop_assert_eq!(fast.position(), plain.position());
            }
        }
    }

    #[test]
    fn fast_path_equals_the_plain_recipe_where_rejection_is_likely() {
        // n just above 2^63 rejects almost half of all draws.
        let n = (1u64 << 63) + 12345;
        let node = SeedTree::from_u64(7);
        let (mut fast, mut plain) = (node.rng(), node.rng());
        let nz = NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
        for _ in 0..1000 {
            assert_eq!(fast.below(nz), below_plain(&mut plain, n));
        }
        assert_eq!(fast.position(), plain.position());
        assert!(fast.position() > 1200, "rejections happened");
    }
}

//! Bounded integer draws shared by the shuffles.

use lockstep_seeding::{RngCore, SeedRng};

/// A uniform integer in `[0, n)` for `n >= 1`, draw for draw and value for value equal
/// to [`SeedRng::below`] (Lemire's multiply-and-reject): a draw is rejected exactly when
/// the low half of the product is below `2⁶⁴ mod n`. That threshold is below `n`, so it
/// is only computed (one division) when the low half is below `n`, which is rare; this
/// is what makes the shuffles fast without changing a single value.
#[inline]
pub(crate) fn below(rng: &mut SeedRng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use lockstep_seeding::SeedTree;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn equals_seed_rng_below(seed in any::<u64>(), n in 1u64..=u64::MAX) {
            let node = SeedTree::from_u64(seed);
            let (mut a, mut b) = (node.rng(), node.rng());
            let nz = NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
            for _ in 0..32 {
                prop_assert_eq!(below(&mut a, n), b.below(nz));
                prop_assert_eq!(a.position(), b.position());
            }
        }
    }

    #[test]
    fn equals_seed_rng_below_where_rejection_is_likely() {
        // n just above 2^63 rejects almost half of all draws.
        let n = (1u64 << 63) + 12345;
        let node = SeedTree::from_u64(7);
        let (mut a, mut b) = (node.rng(), node.rng());
        let nz = NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN);
        for _ in 0..1000 {
            assert_eq!(below(&mut a, n), b.below(nz));
        }
        assert_eq!(a.position(), b.position());
        assert!(a.position() > 1200, "rejections happened");
    }
}

//! Full permutations: a seeded Fisher–Yates shuffle over raw `u64` draws.
//!
//! Recipe (pinned by known-answer tests): with `rng = node.rng()`, for `i` from
//! `len − 1` down to `1`, draw `j = rng.below(i + 1)` ([`lockstep_seeding::SeedRng::below`])
//! and swap items `i` and `j`. A shuffle of `len` items therefore depends only on the
//! node's key and `len`, never on the item type, the index width or the machine.

use std::num::NonZeroU64;

use lockstep_seeding::SeedTree;

use crate::error::{to_usize, Error, Result};

/// How many swap targets are drawn ahead of the swaps. Drawing them first leaves the
/// swaps' random memory accesses independent of each other, so the CPU overlaps their
/// cache misses; the values are the same as one draw per swap.
const CHUNK: usize = 64;

/// Shuffles `items` in place with the Fisher–Yates recipe of this module. A slice of
/// zero or one item is left as it is (and draws nothing).
pub fn shuffle<T>(node: &SeedTree, items: &mut [T]) {
    let mut rng = node.rng();
    let mut targets = [0usize; CHUNK];
    let mut i = items.len();
    while i > 1 {
        // Positions i-1, i-2, …, down to `stop` (at least 1) in this chunk.
        let stop = i.saturating_sub(CHUNK).max(1);
        for (slot, pos) in targets.iter_mut().zip((stop..i).rev()) {
            // `pos + 1 <= items.len()`, which fits in u64 (and is not 0); the result is
            // below it, so it fits back in usize.
            *slot = rng.below(NonZeroU64::MIN.saturating_add(pos as u64)) as usize;
        }
        for (slot, pos) in targets.iter().zip((stop..i).rev()) {
            items.swap(pos, *slot);
        }
        i = stop;
    }
}

/// The longest permutation [`permutation`] and [`permutation_u32`] materialise:
/// `2³²` items, 32 GiB as `u64` (16 GiB as `u32`). Longer orders (up to `2⁶³`) are
/// served in O(1) memory by [`crate::IndexPermutation`].
pub const MAX_PERMUTATION_LEN: u64 = 1 << 32;

/// `0, 1, …, len − 1` in a vector whose allocation is checked: [`Error::TooLarge`]
/// beyond [`MAX_PERMUTATION_LEN`], [`Error::OutOfMemory`] if the allocator refuses.
fn identity<T>(len: u64, what: &'static str, item: impl Fn(u64) -> T) -> Result<Vec<T>> {
    if len == 0 {
        return Err(Error::Empty {
            what: "permutation",
        });
    }
    if len > MAX_PERMUTATION_LEN {
        return Err(Error::TooLarge {
            what,
            value: len,
            max: MAX_PERMUTATION_LEN,
        });
    }
    let n = to_usize(what, len)?;
    let mut items = Vec::new();
    items.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what,
        bytes: len.saturating_mul(std::mem::size_of::<T>() as u64),
    })?;
    items.extend((0..len).map(item));
    Ok(items)
}

/// The permutation of `[0, len)` that [`shuffle`] makes of `0, 1, …, len − 1`, as `u64`.
///
/// Errors: [`Error::Empty`] for `len = 0`; [`Error::TooLarge`] for
/// `len > MAX_PERMUTATION_LEN` (or beyond memory addressing on this platform), before
/// allocating anything; [`Error::OutOfMemory`] if the allocator refuses the vector.
pub fn permutation(node: &SeedTree, len: u64) -> Result<Vec<u64>> {
    let mut items = identity(len, "permutation length", |i| i)?;
    shuffle(node, &mut items);
    Ok(items)
}

/// [`permutation`] as `u32` indices, for `len <= 2³²`: the same values in half the
/// memory, and faster.
///
/// Errors: as [`permutation`]; the bound `2³²` is [`MAX_PERMUTATION_LEN`].
pub fn permutation_u32(node: &SeedTree, len: u64) -> Result<Vec<u32>> {
    // Every index is below len <= 2^32, so it fits in u32.
    let mut items = identity(len, "u32 permutation length", |i| i as u32)?;
    shuffle(node, &mut items);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use proptest::prelude::*;

    use super::*;

    /// The recipe written the plain way, one `SeedRng::below` per swap.
    fn reference(node: &SeedTree, len: usize) -> Vec<u64> {
        let mut rng = node.rng();
        let mut v: Vec<u64> = (0..len as u64).collect();
        for i in (1..len).rev() {
            let bound = NonZeroU64::new(i as u64 + 1).unwrap_or(NonZeroU64::MIN);
            let j = rng.below(bound) as usize;
            v.swap(i, j);
        }
        v
    }

    #[test]
    fn known_answers() {
        let node = SeedTree::from_u64(42).child("shuffle");
        assert_eq!(permutation(&node, 1).unwrap(), vec![0]);
        assert_eq!(
            permutation(&node, 10).unwrap(),
            vec![7, 4, 9, 6, 1, 5, 0, 2, 8, 3]
        );
        let p = permutation(&SeedTree::from_u64(0), 1000).unwrap();
        assert_eq!(&p[..8], &[176, 581, 364, 563, 955, 962, 251, 117]);
    }

    #[test]
    fn all_orders_of_four_are_about_equally_likely() {
        let mut counts = std::collections::BTreeMap::new();
        for e in 0..4800 {
            let p = permutation(&SeedTree::from_u64(8).child_index("epoch", e), 4).unwrap();
            *counts.entry(p).or_insert(0u64) += 1;
        }
        assert_eq!(counts.len(), 24);
        let expected = 200.0;
        let chi: f64 = counts
            .values()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // The 99.99% quantile of chi-square with 23 degrees of freedom is about 56.
        assert!(chi < 56.0, "chi-square {chi}");
    }

    #[test]
    fn typed_errors() {
        let node = SeedTree::from_u64(1);
        assert!(matches!(
            permutation(&node, 0),
            Err(Error::Empty {
                what: "permutation"
            })
        ));
        assert!(matches!(
            permutation_u32(&node, (1 << 32) + 1),
            Err(Error::TooLarge { value, .. }) if value == (1 << 32) + 1
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn is_a_bijection_and_matches_the_plain_recipe(seed in any::<u64>(), len in 1usize..300) {
            let node = SeedTree::from_u64(seed);
            let p = permutation(&node, len as u64).unwrap();
            prop_assert_eq!(&p, &reference(&node, len));
            let mut sorted = p.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..len as u64).collect::<Vec<_>>());
            let q: Vec<u64> = permutation_u32(&node, len as u64).unwrap().into_iter().map(u64::from).collect();
            prop_assert_eq!(q, p);
        }

        #[test]
        fn same_key_same_order_other_epoch_other_order(seed in any::<u64>(), epoch in 0u64..1000) {
            let root = SeedTree::from_u64(seed);
            let a = permutation(&root.child_index("epoch", epoch), 64).unwrap();
            let b = permutation(&root.child_index("epoch", epoch), 64).unwrap();
            let c = permutation(&root.child_index("epoch", epoch + 1), 64).unwrap();
            prop_assert_eq!(&a, &b);
            // Two independent shuffles of 64 items coincide with probability 1/64!.
            prop_assert_ne!(a, c);
        }
    }
}

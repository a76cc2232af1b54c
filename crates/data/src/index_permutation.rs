//! [`IndexPermutation`]: a random-access, invertible permutation of `[0, n)` in O(1)
//! memory: an unbalanced Feistel network over `[0, 2^k)`, `k = ⌈log₂ n⌉`, with cycle
//! walking back into `[0, n)`.
//!
//! Recipe (pinned by known-answer tests):
//! - `k` is the least integer with `2^k >= n`, so the domain is below `2n` and cycle
//!   walking takes fewer than 2 rounds of the network on average.
//! - The round keys are the first 8 `u64` draws of `node.rng()`; domains of `2^16` or
//!   more use the first 4 (4 rounds), smaller ones all 8.
//! - With `s = ⌊k/2⌋` and `r = k − s`, one round maps `x = hi·2^s + lo` (`lo < 2^s`) to
//!   `lo·2^r + (hi ⊕ F(lo, key))`, where `F < 2^r` is the top `r` bits of `mix` (a
//!   multiply–xorshift–multiply mixer). It is a bijection for any `F`.
//! - `get(i)` applies the rounds to `i` until the value lands below `n`; since the
//!   network permutes `[0, 2^k)`, the walk stays on `i`'s cycle and ends.

use lockstep_seeding::{RngCore, SeedTree};

use crate::error::{Error, Result};

/// Round keys drawn, and the rounds of the network for small domains.
const ROUNDS: usize = 8;

/// Rounds for domains of at least `2^WIDE_BITS`: there each half has 8 bits or more,
/// and 4 rounds mix well; smaller domains take all [`ROUNDS`], since their round
/// functions have so few inputs that 4 rounds leave measurable bias.
const WIDE_ROUNDS: usize = 4;
const WIDE_BITS: u32 = 16;

/// The largest `n` accepted: `2⁶³`.
pub const MAX_LEN: u64 = 1 << 63;

/// A random-access permutation of `[0, n)`; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPermutation {
    len: u64,
    /// `s`: the width of the half that feeds the round function.
    low_bits: u32,
    /// `r = k − s`: the width of the other half (`r >= s`).
    high_bits: u32,
    /// The rounds in use: `WIDE_ROUNDS` or `ROUNDS`.
    rounds: usize,
    keys: [u64; ROUNDS],
}

/// The round function: a multiply–xorshift–multiply mixer of the half and the round
/// key, whose top `bits` bits (`bits <= 32`) are the result: the best-mixed bits of the
/// last product.
#[inline(always)]
fn mix(v: u64, key: u64, bits: u32) -> u64 {
    let mut z = (v ^ key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 32;
    z = z.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    // Two shifts so that bits = 0 gives 0 instead of an overflowing shift by 64.
    (z >> 1) >> (63 - bits)
}

/// `2^bits − 1` for `bits <= 63`.
#[inline(always)]
fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

impl IndexPermutation {
    /// The permutation of `[0, len)` for `node`.
    ///
    /// Errors: [`Error::Empty`] for `len = 0`, [`Error::TooLarge`] for `len > 2⁶³`.
    pub fn new(node: &SeedTree, len: u64) -> Result<Self> {
        if len == 0 {
            return Err(Error::Empty {
                what: "index permutation",
            });
        }
        if len > MAX_LEN {
            return Err(Error::TooLarge {
                what: "index permutation length",
                value: len,
                max: MAX_LEN,
            });
        }
        Ok(Self::new_validated(node, len))
    }

    /// [`IndexPermutation::new`] for a `len` already checked to be in `[1, 2⁶³]`.
    pub(crate) fn new_validated(node: &SeedTree, len: u64) -> Self {
        debug_assert!((1..=MAX_LEN).contains(&len));
        // k = ceil(log2 len): 0 for len = 1, up to 63.
        let bits = 64 - (len - 1).leading_zeros();
        let mut rng = node.rng();
        let mut keys = [0u64; ROUNDS];
        for key in &mut keys {
            *key = rng.next_u64();
        }
        Self {
            len,
            low_bits: bits / 2,
            high_bits: bits - bits / 2,
            rounds: if bits >= WIDE_BITS {
                WIDE_ROUNDS
            } else {
                ROUNDS
            },
            keys,
        }
    }

    /// `n`.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always `false`: a permutation has at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The size of the domain the network permutes, `2^k`, below `2n`.
    pub fn domain(&self) -> u64 {
        1u64 << (self.low_bits + self.high_bits)
    }

    /// The network with `R` rounds; `R` is a constant so that the rounds unroll.
    #[inline(always)]
    fn encrypt_rounds<const R: usize>(&self, mut x: u64) -> u64 {
        let (s, r) = (self.low_bits, self.high_bits);
        for &key in self.keys.iter().take(R) {
            let lo = x & mask(s);
            let hi = x >> s;
            x = (lo << r) | (hi ^ mix(lo, key, r));
        }
        x
    }

    #[inline(always)]
    fn encrypt(&self, x: u64) -> u64 {
        if self.rounds == WIDE_ROUNDS {
            self.encrypt_rounds::<WIDE_ROUNDS>(x)
        } else {
            self.encrypt_rounds::<ROUNDS>(x)
        }
    }

    #[inline(always)]
    fn decrypt(&self, mut y: u64) -> u64 {
        let (s, r) = (self.low_bits, self.high_bits);
        for key in self.keys.iter().take(self.rounds).rev() {
            let lo = y >> r;
            let hi = (y & mask(r)) ^ mix(lo, *key, r);
            y = (hi << s) | lo;
        }
        y
    }

    /// The value at position `i`, for `i < n`. Without the range check, for hot loops
    /// whose indices are in range by construction.
    #[inline]
    pub(crate) fn get_in_range(&self, i: u64) -> u64 {
        debug_assert!(i < self.len);
        let mut x = self.encrypt(i);
        while x >= self.len {
            x = self.encrypt(x);
        }
        x
    }

    /// The value at position `i`. Errors: [`Error::IndexOutOfRange`] for `i >= n`.
    #[inline]
    pub fn get(&self, i: u64) -> Result<u64> {
        if i >= self.len {
            return Err(Error::IndexOutOfRange {
                index: i,
                len: self.len,
            });
        }
        Ok(self.get_in_range(i))
    }

    /// The position of value `v`: `get(inverse(v)) == v`. Errors:
    /// [`Error::IndexOutOfRange`] for `v >= n`.
    pub fn inverse(&self, v: u64) -> Result<u64> {
        if v >= self.len {
            return Err(Error::IndexOutOfRange {
                index: v,
                len: self.len,
            });
        }
        let mut x = self.decrypt(v);
        while x >= self.len {
            x = self.decrypt(x);
        }
        Ok(x)
    }

    /// Replaces each position in `positions` (all `< n`) by its value. Evaluates the
    /// network on a block of positions at once and walks only the ones still outside
    /// `[0, n)`, so the independent evaluations overlap in the CPU instead of waiting
    /// on each other and on mispredicted branches. Same values as `get`.
    pub(crate) fn apply_in_range(&self, positions: &mut [u64]) {
        if self.rounds == WIDE_ROUNDS {
            self.apply_rounds::<WIDE_ROUNDS>(positions);
        } else {
            self.apply_rounds::<ROUNDS>(positions);
        }
    }

    fn apply_rounds<const R: usize>(&self, positions: &mut [u64]) {
        // `count <= k < chunk.len() <= BLOCK` and `still <= t < count`, and every
        // pending `k` indexes `chunk`, so none of the indexings below can fail.
        for chunk in positions.chunks_mut(BLOCK) {
            let mut pending = [0usize; BLOCK];
            let mut count = 0;
            for (k, x) in chunk.iter_mut().enumerate() {
                *x = self.encrypt_rounds::<R>(*x);
                // Branch-free append of k when it still has to walk.
                pending[count] = k;
                count += usize::from(*x >= self.len);
            }
            while count > 0 {
                let mut still = 0;
                for t in 0..count {
                    let k = pending[t];
                    let x = &mut chunk[k];
                    *x = self.encrypt_rounds::<R>(*x);
                    pending[still] = k;
                    still += usize::from(*x >= self.len);
                }
                count = still;
            }
        }
    }

    /// The values at positions `start, start + stride, …`, one per slot of `out`.
    ///
    /// Errors: [`Error::IndexOutOfRange`] (naming the last position) if any position is
    /// `>= n`; `out` is then left unchanged.
    pub fn get_strided(&self, start: u64, stride: u64, out: &mut [u64]) -> Result<()> {
        let last = (out.len() as u64)
            .checked_sub(1)
            .map(|k| k.checked_mul(stride).and_then(|d| d.checked_add(start)));
        match last {
            None => return Ok(()),
            Some(Some(last)) if last < self.len => {}
            Some(last) => {
                return Err(Error::IndexOutOfRange {
                    index: last.unwrap_or(u64::MAX),
                    len: self.len,
                })
            }
        }
        let mut p = start;
        for slot in out.iter_mut() {
            *slot = p;
            p = p.wrapping_add(stride);
        }
        self.apply_in_range(out);
        Ok(())
    }

    /// All values in position order, `get(0), get(1), …`, evaluated a block at a time.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            perm: self,
            next: 0,
            block: [0; BLOCK],
            filled: 0,
            cursor: 0,
        }
    }
}

/// Positions evaluated together by [`IndexPermutation::iter`] and the sampler.
pub(crate) const BLOCK: usize = 64;

/// The iterator of [`IndexPermutation::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    perm: &'a IndexPermutation,
    /// The next position to evaluate.
    next: u64,
    block: [u64; BLOCK],
    filled: usize,
    cursor: usize,
}

impl Iterator for Iter<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.cursor == self.filled {
            let left = self.perm.len - self.next;
            if left == 0 {
                return None;
            }
            // At most BLOCK, so it fits in usize.
            let take = left.min(BLOCK as u64) as usize;
            let block = &mut self.block[..take];
            for (slot, p) in block.iter_mut().zip(self.next..) {
                *slot = p;
            }
            self.perm.apply_in_range(block);
            self.next += take as u64;
            self.filled = take;
            self.cursor = 0;
        }
        // `cursor < filled <= BLOCK`: the block was refilled otherwise.
        let v = self.block[self.cursor];
        self.cursor += 1;
        Some(v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.perm.len - self.next) + (self.filled - self.cursor) as u64;
        let left = usize::try_from(left).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_answers() {
        let node = SeedTree::from_u64(42).child("index");
        let p = IndexPermutation::new(&node, 10).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![6, 9, 8, 0, 3, 4, 2, 5, 1, 7]
        );
        let big = IndexPermutation::new(&node, 10_000_000).unwrap();
        let got: Vec<u64> = (0..6).map(|i| big.get(i).unwrap()).collect();
        assert_eq!(
            got,
            vec![2119813, 2100268, 7649160, 8623258, 8001722, 287726]
        );
        let huge = IndexPermutation::new(&node, MAX_LEN).unwrap();
        let got: Vec<u64> = (0..3).map(|i| huge.get(i).unwrap()).collect();
        assert_eq!(
            got,
            vec![
                4438333615273916293,
                8779290617635493386,
                5582162593454916760
            ]
        );
    }

    #[test]
    fn domain_is_below_twice_the_length() {
        let node = SeedTree::from_u64(3);
        for len in [
            1u64,
            2,
            3,
            4,
            5,
            1000,
            (1 << 24) + 1,
            10_000_000,
            MAX_LEN - 1,
            MAX_LEN,
        ] {
            let p = IndexPermutation::new(&node, len).unwrap();
            assert!(p.domain() >= len);
            assert!(p.domain() / 2 < len, "len {len}");
        }
    }

    /// Pearson's statistic of `counts` against a uniform expectation.
    fn chi_square(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    #[test]
    fn positions_and_pairs_look_uniform_over_keys() {
        // Where position 0 lands, and the ordered pair at positions (0, 1), over 6000
        // epochs, for a domain of exactly n (8) and one with walking (13).
        for n in [8u64, 13] {
            let mut first = vec![0u64; n as usize];
            let mut pairs = vec![0u64; (n * n) as usize];
            for e in 0..6000 {
                let p = IndexPermutation::new(&SeedTree::from_u64(5).child_index("epoch", e), n)
                    .unwrap();
                let (a, b) = (p.get(0).unwrap(), p.get(1).unwrap());
                first[a as usize] += 1;
                pairs[(a * n + b) as usize] += 1;
            }
            // 99.99% quantiles: 7 df ≈ 29.9, 12 df ≈ 37.7; pairs (n(n-1) − 1 df) ≈ 100, 220.
            let limit_first = if n == 8 { 29.9 } else { 37.7 };
            assert!(
                chi_square(&first) < limit_first,
                "n {n}: {}",
                chi_square(&first)
            );
            let seen: Vec<u64> = (0..n * n)
                .filter(|k| k / n != k % n)
                .map(|k| pairs[k as usize])
                .collect();
            let limit_pairs = if n == 8 { 100.0 } else { 220.0 };
            assert!(
                chi_square(&seen) < limit_pairs,
                "n {n} pairs: {}",
                chi_square(&seen)
            );
        }
    }

    #[test]
    fn typed_errors() {
        let node = SeedTree::from_u64(1);
        assert!(matches!(
            IndexPermutation::new(&node, 0),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            IndexPermutation::new(&node, MAX_LEN + 1),
            Err(Error::TooLarge { value, .. }) if value == MAX_LEN + 1
        ));
        let p = IndexPermutation::new(&node, 5).unwrap();
        assert!(matches!(
            p.get(5),
            Err(Error::IndexOutOfRange { index: 5, len: 5 })
        ));
        assert!(matches!(
            p.inverse(7),
            Err(Error::IndexOutOfRange { index: 7, len: 5 })
        ));
    }

    #[test]
    fn length_one_and_two() {
        let node = SeedTree::from_u64(9);
        assert_eq!(
            IndexPermutation::new(&node, 1).unwrap().get(0).ok(),
            Some(0)
        );
        let two = IndexPermutation::new(&node, 2).unwrap();
        let mut v: Vec<u64> = two.iter().collect();
        v.sort_unstable();
        assert_eq!(v, vec![0, 1]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn is_a_bijection(seed in any::<u64>(), len in 1u64..2000) {
            let p = IndexPermutation::new(&SeedTree::from_u64(seed), len).unwrap();
            let mut seen = vec![false; len as usize];
            for i in 0..len {
                let v = p.get(i).unwrap();
                prop_assert!(v < len);
                prop_assert!(!seen[v as usize]);
                seen[v as usize] = true;
                prop_assert_eq!(p.inverse(v).unwrap(), i);
            }
        }

        #[test]
        fn block_evaluation_equals_get(seed in any::<u64>(), len in 1u64..=MAX_LEN, start in any::<u64>(), stride in 1u64..1000, count in 0usize..200) {
            let p = IndexPermutation::new(&SeedTree::from_u64(seed), len).unwrap();
            let start = start % len;
            let fits = (count as u64).saturating_sub(1).checked_mul(stride)
                .and_then(|d| d.checked_add(start)).is_some_and(|last| last < len);
            let mut out = vec![0u64; count];
            let r = p.get_strided(start, stride, &mut out);
            prop_assert_eq!(r.is_ok(), fits || count == 0);
            if r.is_ok() {
                for (k, v) in out.iter().enumerate() {
                    prop_assert_eq!(*v, p.get(start + k as u64 * stride).unwrap());
                }
            }
        }

        #[test]
        fn iter_equals_get(seed in any::<u64>(), len in 1u64..500) {
            let p = IndexPermutation::new(&SeedTree::from_u64(seed), len).unwrap();
            let all: Vec<u64> = p.iter().collect();
            prop_assert_eq!(all.len() as u64, len);
            for (i, v) in all.iter().enumerate() {
                prop_assert_eq!(*v, p.get(i as u64).unwrap());
            }
        }

        #[test]
        fn inverse_inverts_at_any_size(seed in any::<u64>(), len in 1u64..=MAX_LEN, i in any::<u64>()) {
            let p = IndexPermutation::new(&SeedTree::from_u64(seed), len).unwrap();
            let i = i % len;
            let v = p.get(i).unwrap();
            prop_assert!(v < len);
            prop_assert_eq!(p.inverse(v).unwrap(), i);
        }

        #[test]
        fn same_key_same_order_other_epoch_other_order(seed in any::<u64>(), epoch in 0u64..1000) {
            let root = SeedTree::from_u64(seed);
            let order = |e: u64| -> Vec<u64> {
                IndexPermutation::new(&root.child_index("epoch", e), 100).unwrap().iter().collect()
            };
            prop_assert_eq!(order(epoch), order(epoch));
            prop_assert_ne!(order(epoch), order(epoch + 1));
        }
    }
}

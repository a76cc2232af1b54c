//! Which micro-batches a rank computes, and which samples a micro-batch holds.

use std::ops::Range;

use crate::error::{Error, Result};

/// The `M` micro-batches of every step, split over `world` ranks: rank `r` computes
/// micro-batches `r·M/W .. (r+1)·M/W`, and micro-batch `m` of a step of `n` samples
/// holds samples `m·n/M .. (m+1)·n/M` (floor division, so sizes differ by at most
/// one and depend only on `n` and `M`, never on the world).
///
/// ```
/// use lockstep_distributed::MicroPartition;
///
/// let p = MicroPartition::new(4, 2, 1)?;
/// assert_eq!(p.local(), 2..4);
/// assert_eq!(p.samples(10, 3)?, 7..10);
/// assert!(MicroPartition::new(4, 3, 0).is_err()); // 3 does not divide 4
/// # Ok::<(), lockstep_distributed::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicroPartition {
    micro_batches: u64,
    world: u32,
    rank: u32,
}

impl MicroPartition {
    /// The partition of `micro_batches` over `world` ranks, seen from `rank`. The world
    /// must divide the micro-batch count: that is what makes the bits world-size
    /// invariant (every rank does whole micro-batches).
    pub fn new(micro_batches: u64, world: u32, rank: u32) -> Result<Self> {
        let bad = |reason| Error::InvalidPartition {
            micro_batches,
            world,
            reason,
        };
        if micro_batches == 0 {
            return Err(bad("there must be at least one micro-batch"));
        }
        if world == 0 {
            return Err(bad("the world is empty"));
        }
        if rank >= world {
            return Err(Error::InvalidRank { rank, world });
        }
        if micro_batches % u64::from(world) != 0 {
            return Err(bad("the world size must divide the micro-batch count"));
        }
        Ok(Self {
            micro_batches,
            world,
            rank,
        })
    }

    /// One process doing all `micro_batches` (gradient accumulation).
    pub fn single(micro_batches: u64) -> Result<Self> {
        Self::new(micro_batches, 1, 0)
    }

    /// Micro-batches per step (`M`).
    pub fn micro_batches(&self) -> u64 {
        self.micro_batches
    }

    /// The world size.
    pub fn world(&self) -> u32 {
        self.world
    }

    /// This rank.
    pub fn rank(&self) -> u32 {
        self.rank
    }

    /// Micro-batches per rank (`M / W`).
    pub fn per_rank(&self) -> u64 {
        self.micro_batches / u64::from(self.world)
    }

    /// The micro-batches this rank computes.
    pub fn local(&self) -> Range<u64> {
        let per = self.per_rank();
        let first = per * u64::from(self.rank);
        first..first + per
    }

    /// The samples of micro-batch `m` in a step of `n` samples. Every micro-batch must
    /// hold at least one sample, so `n` must be at least `M`.
    pub fn samples(&self, n: u64, m: u64) -> Result<Range<u64>> {
        if m >= self.micro_batches {
            return Err(Error::InvalidPartition {
                micro_batches: self.micro_batches,
                world: self.world,
                reason: "micro-batch index out of range",
            });
        }
        if n < self.micro_batches {
            return Err(Error::InvalidPartition {
                micro_batches: self.micro_batches,
                world: self.world,
                reason: "a step has fewer samples than micro-batches",
            });
        }
        // n·m fits in u128; the quotient is at most n.
        let at = |m: u64| (u128::from(n) * u128::from(m) / u128::from(self.micro_batches)) as u64;
        Ok(at(m)..at(m + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        let p = MicroPartition::single(3).unwrap();
        let sizes: Vec<_> = (0..3).map(|m| p.samples(32, m).unwrap()).collect();
        assert_eq!(sizes, [0..10, 10..21, 21..32]);
        assert_eq!(MicroPartition::new(8, 4, 3).unwrap().local(), 6..8);
        assert!(MicroPartition::new(0, 1, 0).is_err());
        assert!(MicroPartition::new(4, 0, 0).is_err());
        assert!(MicroPartition::new(4, 2, 2).is_err());
        assert!(p.samples(2, 0).is_err());
        assert!(p.samples(32, 3).is_err());
    }

    proptest! {
        /// The ranks' local ranges tile `0..M`, and the micro-batches tile `0..n`,
        /// whatever the world: the split of samples never depends on it.
        #[test]
        fn ranks_and_micro_batches_tile(m in 1u64..64, w_index in 0usize..8, extra in 0u64..1000) {
            let divisors: Vec<u32> = (1..=m as u32).filter(|w| m % u64::from(*w) == 0).collect();
            let world = divisors[w_index % divisors.len()];
            let mut next = 0;
            for rank in 0..world {
                let p = MicroPartition::new(m, world, rank).unwrap();
                prop_assert_eq!(p.local().start, next);
                next = p.local().end;
            }
            prop_assert_eq!(next, m);
            let n = m + extra;
            let p = MicroPartition::new(m, world, 0).unwrap();
            let single = MicroPartition::single(m).unwrap();
            let mut at = 0;
            for i in 0..m {
                let r = p.samples(n, i).unwrap();
                prop_assert_eq!(r.clone(), single.samples(n, i).unwrap());
                prop_assert_eq!(r.start, at);
                prop_assert!(!r.is_empty());
                at = r.end;
            }
            prop_assert_eq!(at, n);
        }
    }
}

//! [`BufferedShuffle`]: tf.data's `shuffle(buffer_size)` as a streaming adaptor, with a
//! checkpoint that holds counters instead of the buffer.
//!
//! Recipe (pinned by known-answer tests), with `rng = node.rng()`:
//! 1. Before the first output, fill the buffer with up to `buffer_size` upstream items.
//! 2. While the buffer is not empty: draw `j = rng.below(len)` over the current buffer
//!    length, output slot `j`; refill slot `j` with the next upstream item, or, once
//!    the upstream has ended, remove slot `j` by moving the last slot into it.
//!
//! The output is a full uniform shuffle when `buffer_size >= n`; smaller buffers only
//! move items a limited distance, as in tf.data. The order depends only on the node's
//! key, `buffer_size` and the upstream sequence.

use std::num::NonZeroU64;

use lockstep_seeding::{SeedRng, SeedTree};
use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, DatasetIter};
use crate::error::{mismatch, to_usize, Error, Result, StateField};

/// The format tag of [`BufferedShuffleState`].
const FORMAT: &str = "lockstep-buffered-shuffle-state/1";

/// Buffers larger than this are still accepted but not allocated up front.
const PREALLOCATE_MAX: usize = 1 << 16;

/// A streaming buffered shuffle over any iterator; see the module documentation.
#[derive(Debug)]
pub struct BufferedShuffle<I: Iterator> {
    upstream: I,
    buffer: Vec<I::Item>,
    capacity: usize,
    buffer_size: u64,
    node: SeedTree,
    rng: SeedRng,
    emitted: u64,
    pulled: u64,
    filled: bool,
    upstream_done: bool,
}

/// The checkpoint of a [`BufferedShuffle`]: configuration and two counters, no items.
///
/// Deserializing checks that the counters are consistent in themselves (what
/// [`BufferedShuffle::state`] always gives): `buffer_size >= 1`, `emitted <= pulled <=
/// emitted + buffer_size`, and nothing pulled before the first output; anything else is
/// [`Error::BadState`]. The resume functions check the same again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BufferedShuffleStateRepr")]
pub struct BufferedShuffleState {
    format: String,
    buffer_size: u64,
    seed: SeedTree,
    /// Items output so far.
    pub emitted: u64,
    /// Upstream items consumed so far.
    pub pulled: u64,
}

/// The serialized form of a [`BufferedShuffleState`], checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BufferedShuffleStateRepr {
    format: String,
    buffer_size: u64,
    seed: SeedTree,
    emitted: u64,
    pulled: u64,
}

impl TryFrom<BufferedShuffleStateRepr> for BufferedShuffleState {
    type Error = Error;

    fn try_from(r: BufferedShuffleStateRepr) -> Result<Self> {
        let state = BufferedShuffleState {
            format: r.format,
            buffer_size: r.buffer_size,
            seed: r.seed,
            emitted: r.emitted,
            pulled: r.pulled,
        };
        state.check_consistent()?;
        Ok(state)
    }
}

impl BufferedShuffleState {
    /// The checks of the type's documentation. The buffer holds `pulled − emitted`
    /// items, so a state outside them cannot have been saved, and replaying towards it
    /// could run without end on an endless upstream.
    fn check_consistent(&self) -> Result<()> {
        let (emitted, pulled, size) = (self.emitted, self.pulled, self.buffer_size);
        let reason = if size == 0 {
            "buffer_size is 0".to_string()
        } else if emitted > pulled {
            format!("emitted {emitted} is more than pulled {pulled}")
        } else if pulled - emitted > size {
            format!("pulled {pulled} − emitted {emitted} is more than buffer_size {size}")
        } else if emitted == 0 && pulled != 0 {
            format!("pulled {pulled} before the first output")
        } else {
            return Ok(());
        };
        Err(Error::BadState { reason })
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers, plus a seed node whose `Serialize` never
        // fails, always serializes to a String.
        serde_json::to_string(self).expect("a buffered-shuffle state always serializes")
    }

    /// A state from JSON: [`Error::StateJson`] for JSON that does not parse into the
    /// fields (including an embedded seed node that does not load), [`Error::BadState`]
    /// for fields that are inconsistent in themselves.
    pub fn from_json(text: &str) -> Result<Self> {
        // Parsed in two stages so that JSON that does not parse is `StateJson` (with the
        // parser's error as its source) and a parsed but inconsistent state `BadState`.
        let repr: BufferedShuffleStateRepr =
            serde_json::from_str(text).map_err(|source| Error::StateJson { source })?;
        Self::try_from(repr)
    }
}

impl<I: Iterator> BufferedShuffle<I> {
    /// Shuffles `upstream` through a buffer of `buffer_size` items, keyed by `node`.
    ///
    /// Errors: [`Error::Zero`] for `buffer_size = 0`; [`Error::TooLarge`] if it does
    /// not fit in memory addressing.
    pub fn new(upstream: I, node: &SeedTree, buffer_size: u64) -> Result<Self> {
        if buffer_size == 0 {
            return Err(Error::Zero {
                what: "buffer size",
            });
        }
        let capacity = to_usize("buffer size", buffer_size)?;
        Ok(Self {
            upstream,
            buffer: Vec::with_capacity(capacity.min(PREALLOCATE_MAX)),
            capacity,
            buffer_size,
            node: node.clone(),
            rng: node.rng(),
            emitted: 0,
            pulled: 0,
            filled: false,
            upstream_done: false,
        })
    }

    /// Rebuilds the shuffle saved in `state` by replaying `upstream_from_start`, which
    /// must yield the same sequence as the original upstream did. The result continues
    /// exactly where the saved one stopped.
    ///
    /// Errors: as [`BufferedShuffle::new`]; [`Error::StateMismatch`] naming `format`,
    /// `buffer_size` or `seed` when they differ; [`Error::BadState`] for counters that
    /// no shuffle can reach (checked before replaying); [`Error::ReplayDiverged`] when
    /// the replayed upstream ends early or is consumed at another pace than recorded.
    ///
    /// The replay takes `state.emitted` steps at most, fewer if the upstream ends.
    pub fn resume(
        upstream_from_start: I,
        node: &SeedTree,
        buffer_size: u64,
        state: &BufferedShuffleState,
    ) -> Result<Self> {
        check_state(node, buffer_size, state)?;
        let mut shuffle = Self::new(upstream_from_start, node, buffer_size)?;
        shuffle.replay(state)?;
        Ok(shuffle)
    }

    /// Runs to `state.emitted` outputs, discarding them, and checks the consumed count.
    fn replay(&mut self, state: &BufferedShuffleState) -> Result<()> {
        while self.emitted < state.emitted {
            if self.next().is_none() {
                break;
            }
        }
        if self.emitted != state.emitted || self.pulled != state.pulled {
            return Err(Error::ReplayDiverged {
                expected: state.pulled,
                found: self.pulled,
            });
        }
        Ok(())
    }

    /// The checkpoint of the current position.
    pub fn state(&self) -> BufferedShuffleState {
        BufferedShuffleState {
            format: FORMAT.to_string(),
            buffer_size: self.buffer_size,
            seed: self.node.clone(),
            emitted: self.emitted,
            pulled: self.pulled,
        }
    }

    /// Items output so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Upstream items consumed so far.
    pub fn pulled(&self) -> u64 {
        self.pulled
    }

    fn pull(&mut self) -> Option<I::Item> {
        if self.upstream_done {
            return None;
        }
        let item = self.upstream.next();
        match item {
            Some(_) => self.pulled += 1,
            None => self.upstream_done = true,
        }
        item
    }

    fn fill(&mut self) {
        while self.buffer.len() < self.capacity {
            match self.pull() {
                Some(item) => self.buffer.push(item),
                None => break,
            }
        }
        self.filled = true;
    }
}

impl<D: Dataset> BufferedShuffle<DatasetIter<D>> {
    /// Rebuilds the shuffle saved in `state` over the samples of `dataset` in index
    /// order, reading only the samples that sit in the buffer: the replay runs over
    /// upstream *indices*, then the buffered indices are fetched with `get` and the
    /// upstream continues at index `state.pulled`. The output equals [`resume`]'s, and
    /// the uninterrupted run's, item for item.
    ///
    /// [`resume`]: BufferedShuffle::resume
    pub fn resume_from_dataset(
        dataset: D,
        node: &SeedTree,
        buffer_size: u64,
        state: &BufferedShuffleState,
    ) -> Result<Self> {
        check_state(node, buffer_size, state)?;
        if state.pulled > dataset.len() {
            return Err(Error::ReplayDiverged {
                expected: state.pulled,
                found: dataset.len(),
            });
        }
        let mut indices = BufferedShuffle::new(0..dataset.len(), node, buffer_size)?;
        indices.replay(state)?;
        let buffer = indices.buffer.iter().map(|&i| dataset.get(i)).collect();
        Ok(Self {
            upstream: DatasetIter::from_index(dataset, indices.pulled),
            buffer,
            capacity: indices.capacity,
            buffer_size,
            node: node.clone(),
            rng: indices.rng,
            emitted: indices.emitted,
            pulled: indices.pulled,
            filled: indices.filled,
            upstream_done: indices.upstream_done,
        })
    }
}

fn check_state(node: &SeedTree, buffer_size: u64, state: &BufferedShuffleState) -> Result<()> {
    if state.format != FORMAT {
        return Err(mismatch(StateField::Format, &state.format, FORMAT));
    }
    if state.buffer_size != buffer_size {
        return Err(mismatch(
            StateField::BufferSize,
            state.buffer_size,
            buffer_size,
        ));
    }
    if state.seed.key() != node.key() {
        return Err(mismatch(StateField::Seed, &state.seed, node));
    }
    // `emitted` and `pulled` are public, so they may have been edited since decoding.
    state.check_consistent()
}

impl<I: Iterator> Iterator for BufferedShuffle<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if !self.filled {
            self.fill();
        }
        // An empty buffer once filled means the upstream has ended: the shuffle is done.
        let len = NonZeroU64::new(self.buffer.len() as u64)?;
        // The draw is below the buffer length, a usize, so it converts back and indexes
        // the buffer.
        let j = self.rng.below(len) as usize;
        let out = match self.pull() {
            Some(fresh) => std::mem::replace(&mut self.buffer[j], fresh),
            None => self.buffer.swap_remove(j),
        };
        self.emitted += 1;
        Some(out)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.upstream.size_hint();
        let held = self.buffer.len();
        if self.upstream_done {
            (held, Some(held))
        } else {
            (
                low.saturating_add(held),
                high.and_then(|h| h.checked_add(held)),
            )
        }
    }
}

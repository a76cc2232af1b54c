//! [`Sampler`]: which dataset index comes when, over epochs and ranks, resumable from
//! a few integers.
//!
//! # The global order
//! Epoch `e` visits the dataset in the order of [`IndexPermutation`] keyed by
//! `seed/epoch[e]` (`seed.child_index("epoch", e)`), or in index order with shuffling
//! off. The order is a function of (seed path, epoch, dataset length) only.
//!
//! # Sharding
//! The epoch's order is cut into *steps* of `world` consecutive positions; rank `r`
//! takes the `r`-th position of each step. Starting from position 0 this is "global
//! position `p` with `p % world == rank`". The state is the position of the next step,
//! shared by all ranks, so the world size may change at any step boundary
//! ([`Sampler::reshard`], [`Sampler::restore_resharded`]): the next step starts where
//! the last one ended, and no position is repeated or skipped.
//!
//! The last step of an epoch may be partial when `world` does not divide what is left:
//! with `drop_remainder` it is dropped for every rank (so all ranks see the same number
//! of samples); without it, ranks past the end get no sample at that step
//! ([`Sampler::next_step`] reports such empty steps, the iterator skips them). Without
//! `drop_remainder`, the union of all ranks' samples is exactly the global order.

use serde::{Deserialize, Serialize};

use lockstep_seeding::{EpochKey, SampleKey, SeedTree};

use crate::error::{mismatch, Error, Result, StateField};
use crate::index_permutation::{IndexPermutation, BLOCK, MAX_LEN};

/// The format tag of [`SamplerState`].
const FORMAT: &str = "lockstep-sampler-state/1";

/// What a [`Sampler`] draws from: dataset length, seed node and options.
///
/// Made by [`SamplerConfig::new`] (length and seed have no sensible default) and the
/// `with_*` setters; [`SamplerConfig::validate`] is run by every sampler constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplerConfig {
    /// The dataset length `n`.
    pub len: u64,
    /// The seed node; epoch `e` uses `seed/epoch[e]`.
    pub seed: SeedTree,
    /// Shuffle each epoch (on by default); off visits `0, 1, …, n − 1`.
    pub shuffle: bool,
    /// Drop a partial last step so that every rank gets the same count (off by default).
    pub drop_remainder: bool,
    /// How many epochs to run (1 by default).
    pub epochs: u64,
}

impl SamplerConfig {
    /// One shuffled epoch of `len` samples keyed by `seed`.
    pub fn new(len: u64, seed: SeedTree) -> Self {
        Self {
            len,
            seed,
            shuffle: true,
            drop_remainder: false,
            epochs: 1,
        }
    }

    /// This configuration with shuffling on or off.
    pub fn with_shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// This configuration with `drop_remainder` set.
    pub fn with_drop_remainder(mut self, drop_remainder: bool) -> Self {
        self.drop_remainder = drop_remainder;
        self
    }

    /// This configuration with `epochs` epochs.
    pub fn with_epochs(mut self, epochs: u64) -> Self {
        self.epochs = epochs;
        self
    }

    /// Checks the configuration: `len` in `[1, 2⁶³]`, `epochs >= 1`.
    pub fn validate(&self) -> Result<()> {
        if self.len == 0 {
            return Err(Error::Empty { what: "sampler" });
        }
        if self.len > MAX_LEN {
            return Err(Error::TooLarge {
                what: "sampler length",
                value: self.len,
                max: MAX_LEN,
            });
        }
        if self.epochs == 0 {
            return Err(Error::Zero { what: "epochs" });
        }
        Ok(())
    }

    /// The key of epoch `epoch`, `seed/epoch[e]`: it keys the epoch's order and is the
    /// parent of its samples' keys (pass it to [`crate::par_map`] and friends).
    pub fn epoch_key(&self, epoch: u64) -> EpochKey {
        EpochKey::new(&self.seed, epoch)
    }

    /// The key of dataset item `index` in epoch `epoch`, `seed/epoch[e]/sample[index]`:
    /// the parent of every random decision about that sample (augmentation derives its
    /// own `…/sample[index]/augment` from it). Equal to
    /// `self.epoch_key(epoch).sample(index)`.
    pub fn sample_key(&self, epoch: u64, index: u64) -> SampleKey {
        self.epoch_key(epoch).sample(index)
    }

    /// The global order of epoch `epoch`, with random access.
    pub fn epoch_order(&self, epoch: u64) -> Result<EpochOrder> {
        self.validate()?;
        Ok(self.epoch_order_validated(epoch))
    }

    /// [`SamplerConfig::epoch_order`] for a configuration that passed `validate`
    /// (`len` in `[1, 2⁶³]`), which cannot fail.
    fn epoch_order_validated(&self, epoch: u64) -> EpochOrder {
        if self.shuffle {
            EpochOrder::Shuffled(IndexPermutation::new_validated(
                &self.epoch_key(epoch),
                self.len,
            ))
        } else {
            EpochOrder::Sequential(self.len)
        }
    }
}

/// The order of one epoch: which dataset index sits at each global position.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EpochOrder {
    /// `0, 1, …, n − 1`.
    Sequential(u64),
    /// A seeded index permutation.
    Shuffled(IndexPermutation),
}

impl EpochOrder {
    /// The dataset length.
    pub fn len(&self) -> u64 {
        match self {
            EpochOrder::Sequential(n) => *n,
            EpochOrder::Shuffled(p) => p.len(),
        }
    }

    /// Whether the order is empty (never, for a validated configuration).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset index at global position `position` of the epoch.
    pub fn get(&self, position: u64) -> Result<u64> {
        match self {
            EpochOrder::Sequential(n) if position < *n => Ok(position),
            EpochOrder::Sequential(n) => Err(Error::IndexOutOfRange {
                index: position,
                len: *n,
            }),
            EpochOrder::Shuffled(p) => p.get(position),
        }
    }

    /// The indices at `start, start + stride, …` into `out`; all positions `< n`.
    fn fill_strided(&self, start: u64, stride: u64, out: &mut [u64]) {
        let mut p = start;
        for slot in out.iter_mut() {
            *slot = p;
            p = p.wrapping_add(stride);
        }
        if let EpochOrder::Shuffled(perm) = self {
            perm.apply_in_range(out);
        }
    }
}

/// One rank's place among `world` ranks.
///
/// Deserializing checks exactly what [`Shard::new`] checks, with the same errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ShardRepr")]
pub struct Shard {
    rank: u64,
    world: u64,
}

/// The serialized form of a [`Shard`], checked by [`Shard::new`] on the way in.
#[derive(Deserialize)]
struct ShardRepr {
    rank: u64,
    world: u64,
}

impl TryFrom<ShardRepr> for Shard {
    type Error = Error;

    fn try_from(repr: ShardRepr) -> Result<Self> {
        Shard::new(repr.rank, repr.world)
    }
}

impl Shard {
    /// Rank `rank` of `world`. Errors: [`Error::Zero`] for `world = 0`,
    /// [`Error::RankOutOfRange`] for `rank >= world`.
    pub fn new(rank: u64, world: u64) -> Result<Self> {
        if world == 0 {
            return Err(Error::Zero { what: "world size" });
        }
        if rank >= world {
            return Err(Error::RankOutOfRange { rank, world });
        }
        Ok(Self { rank, world })
    }

    /// The only rank of a world of one.
    pub fn single() -> Self {
        Self { rank: 0, world: 1 }
    }

    /// This rank.
    pub fn rank(&self) -> u64 {
        self.rank
    }

    /// The world size.
    pub fn world(&self) -> u64 {
        self.world
    }
}

/// A sample handed to one rank: which dataset item, where in which epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduledSample {
    /// The epoch.
    pub epoch: u64,
    /// The global position within the epoch's order.
    pub position: u64,
    /// The dataset index at that position.
    pub index: u64,
}

/// One sampler step of one rank (`world` consecutive global positions): the step's
/// first global position, and this rank's sample, if the step reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduledStep {
    /// The epoch.
    pub epoch: u64,
    /// The global position where the step starts.
    pub start: u64,
    /// This rank's sample, `None` on a partial last step that ends before this rank.
    pub sample: Option<ScheduledSample>,
}

/// The resumable state of a [`Sampler`]: the configuration it belongs to, the world
/// size, and the position of the next step. The same for every rank at a step boundary.
///
/// Deserializing checks that the state is consistent in itself (what
/// [`Sampler::state`] always gives): `len` in `[1, 2⁶³]`, `epochs >= 1`, `world >= 1`,
/// `epoch <= epochs`, `position <= len`, and position 0 once finished; anything else is
/// [`Error::BadState`]. [`Sampler::restore`] checks it against the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SamplerStateRepr")]
pub struct SamplerState {
    format: String,
    len: u64,
    seed: SeedTree,
    shuffle: bool,
    drop_remainder: bool,
    epochs: u64,
    world: u64,
    /// The epoch of the next step (`epochs` when finished).
    pub epoch: u64,
    /// The global position, within the epoch, where the next step starts.
    pub position: u64,
}

/// The serialized form of a [`SamplerState`], checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplerStateRepr {
    format: String,
    len: u64,
    seed: SeedTree,
    shuffle: bool,
    drop_remainder: bool,
    epochs: u64,
    world: u64,
    epoch: u64,
    position: u64,
}

impl TryFrom<SamplerStateRepr> for SamplerState {
    type Error = Error;

    fn try_from(r: SamplerStateRepr) -> Result<Self> {
        let state = SamplerState {
            format: r.format,
            len: r.len,
            seed: r.seed,
            shuffle: r.shuffle,
            drop_remainder: r.drop_remainder,
            epochs: r.epochs,
            world: r.world,
            epoch: r.epoch,
            position: r.position,
        };
        state.check_consistent()?;
        Ok(state)
    }
}

impl SamplerState {
    /// The checks of the type's documentation.
    fn check_consistent(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::BadState { reason });
        if self.len == 0 || self.len > MAX_LEN {
            return bad(format!("len {} is outside [1, {MAX_LEN}]", self.len));
        }
        if self.epochs == 0 {
            return bad("epochs is 0".to_string());
        }
        if self.world == 0 {
            return bad("world is 0".to_string());
        }
        if self.epoch > self.epochs
            || self.position > self.len
            || (self.epoch == self.epochs && self.position != 0)
        {
            return bad(format!(
                "epoch {} position {} is outside {} epochs of {} samples",
                self.epoch, self.position, self.epochs, self.len
            ));
        }
        Ok(())
    }

    /// The world size the state was taken with.
    pub fn world(&self) -> u64 {
        self.world
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        // Plain numbers, booleans and strings, plus a seed node whose `Serialize` never
        // fails, always serialize to a String.
        serde_json::to_string(self).expect("a sampler state always serializes")
    }

    /// A state from JSON: [`Error::StateJson`] for JSON that does not parse into the
    /// fields (including an embedded seed node that does not load), [`Error::BadState`]
    /// for fields that are inconsistent in themselves.
    pub fn from_json(text: &str) -> Result<Self> {
        // Parsed in two stages so that JSON that does not parse is `StateJson` (with the
        // parser's error as its source) and a parsed but inconsistent state `BadState`.
        let repr: SamplerStateRepr =
            serde_json::from_str(text).map_err(|source| Error::StateJson { source })?;
        Self::try_from(repr)
    }
}

/// One rank's view of the global order; an iterator of [`ScheduledSample`]s.
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplerConfig,
    shard: Shard,
    epoch: u64,
    position: u64,
    order: Option<EpochOrder>,
    /// The epoch `order` was built for.
    loaded_epoch: Option<u64>,
    /// The indices of this rank's next steps, evaluated a block at a time: a cache
    /// that the state never includes.
    ahead: [u64; BLOCK],
    /// The start position of the step whose index is `ahead[cursor]`.
    ahead_start: u64,
    ahead_len: usize,
    ahead_cursor: usize,
}

impl Sampler {
    /// A sampler at the start of epoch 0.
    pub fn new(config: SamplerConfig, shard: Shard) -> Result<Self> {
        Self::at(config, shard, 0, 0)
    }

    fn at(config: SamplerConfig, shard: Shard, epoch: u64, position: u64) -> Result<Self> {
        config.validate()?;
        let mut sampler = Self {
            config,
            shard,
            epoch,
            position,
            order: None,
            loaded_epoch: None,
            ahead: [0; BLOCK],
            ahead_start: 0,
            ahead_len: 0,
            ahead_cursor: 0,
        };
        sampler.settle();
        Ok(sampler)
    }

    /// Resumes from `state`, which must come from the same configuration and world
    /// size; the sampler yields exactly what the saved one had left to yield.
    ///
    /// Errors: [`Error::StateMismatch`] naming the first field that differs
    /// (`format`, `len`, `seed`, `shuffle`, `drop_remainder`, `epochs`, `world`);
    /// [`Error::BadState`] for positions outside the configuration.
    pub fn restore(config: SamplerConfig, shard: Shard, state: &SamplerState) -> Result<Self> {
        if state.world != shard.world {
            return Err(mismatch(StateField::World, state.world, shard.world));
        }
        Self::restore_resharded(config, shard, state)
    }

    /// Resumes from `state` with a world size that may differ from the saved one: the
    /// next step starts at the saved position, cut for the new world size. Every other
    /// field must match, as for [`Sampler::restore`].
    pub fn restore_resharded(
        config: SamplerConfig,
        shard: Shard,
        state: &SamplerState,
    ) -> Result<Self> {
        config.validate()?;
        if state.format != FORMAT {
            return Err(mismatch(StateField::Format, &state.format, FORMAT));
        }
        if state.len != config.len {
            return Err(mismatch(StateField::Len, state.len, config.len));
        }
        if state.seed.key() != config.seed.key() {
            return Err(mismatch(StateField::Seed, &state.seed, &config.seed));
        }
        if state.shuffle != config.shuffle {
            return Err(mismatch(StateField::Shuffle, state.shuffle, config.shuffle));
        }
        if state.drop_remainder != config.drop_remainder {
            return Err(mismatch(
                StateField::DropRemainder,
                state.drop_remainder,
                config.drop_remainder,
            ));
        }
        if state.epochs != config.epochs {
            return Err(mismatch(StateField::Epochs, state.epochs, config.epochs));
        }
        // `epoch` and `position` are public, so they may have been edited since decoding.
        state.check_consistent()?;
        Self::at(config, shard, state.epoch, state.position)
    }

    /// The state to save: the same on every rank that has taken the same number of
    /// steps.
    pub fn state(&self) -> SamplerState {
        SamplerState {
            format: FORMAT.to_string(),
            len: self.config.len,
            seed: self.config.seed.clone(),
            shuffle: self.config.shuffle,
            drop_remainder: self.config.drop_remainder,
            epochs: self.config.epochs,
            world: self.shard.world,
            epoch: self.epoch,
            position: self.position,
        }
    }

    /// Continues with another shard, possibly of another world size, from the current
    /// step boundary.
    pub fn reshard(&mut self, shard: Shard) {
        self.shard = shard;
        self.ahead_len = 0;
        self.settle();
    }

    /// The configuration.
    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// The shard.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The epoch of the next step (`epochs` when finished).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The global position where the next step starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether the position leaves no step in the current epoch.
    fn epoch_done(&self) -> bool {
        let len = self.config.len;
        self.position >= len
            || (self.config.drop_remainder && self.position.saturating_add(self.shard.world) > len)
    }

    /// Moves past finished epochs and keeps `order` in step with `epoch`. Cannot fail:
    /// every constructor validated the configuration, which the sampler never changes.
    fn settle(&mut self) {
        if self.epoch < self.config.epochs && self.epoch_done() {
            self.ahead_len = 0;
            self.epoch += 1;
            self.position = 0;
            // An epoch with no full step at its start has none at all, and neither has
            // any later epoch: stop rather than walk through every epoch.
            if self.epoch_done() {
                self.epoch = self.config.epochs;
            }
        }
        if self.epoch >= self.config.epochs {
            self.order = None;
            return;
        }
        if self.order.is_none() || self.loaded_epoch != Some(self.epoch) {
            self.order = Some(self.config.epoch_order_validated(self.epoch));
            self.loaded_epoch = Some(self.epoch);
        }
    }

    /// The next step of this rank, including a partial last step that holds no sample
    /// for it; `None` when all epochs are done.
    pub fn next_step(&mut self) -> Option<ScheduledStep> {
        let order = self.order.as_ref()?;
        let start = self.position;
        let epoch = self.epoch;
        let p = start.saturating_add(self.shard.rank);
        let sample = if p < self.config.len {
            if self.ahead_cursor >= self.ahead_len || self.ahead_start != start {
                // This rank's steps left in the epoch, up to a block.
                let left = (self.config.len - p - 1) / self.shard.world + 1;
                self.ahead_len = left.min(BLOCK as u64) as usize;
                self.ahead_cursor = 0;
                self.ahead_start = start;
                // `ahead_len <= BLOCK`, the array's length.
                order.fill_strided(p, self.shard.world, &mut self.ahead[..self.ahead_len]);
            }
            // `ahead_cursor < ahead_len <= BLOCK`: the block was refilled otherwise.
            let index = self.ahead[self.ahead_cursor];
            self.ahead_cursor += 1;
            self.ahead_start = start.saturating_add(self.shard.world);
            Some(ScheduledSample {
                epoch,
                position: p,
                index,
            })
        } else {
            None
        };
        self.position = start.saturating_add(self.shard.world);
        self.settle();
        Some(ScheduledStep {
            epoch,
            start,
            sample,
        })
    }
}

impl Iterator for Sampler {
    type Item = ScheduledSample;

    fn next(&mut self) -> Option<ScheduledSample> {
        loop {
            if let Some(sample) = self.next_step()?.sample {
                return Some(sample);
            }
        }
    }
}

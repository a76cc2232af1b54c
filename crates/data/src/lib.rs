//! Deterministic data order for lockstep: which sample comes when.
//!
//! The order depends only on (seed path, epoch, dataset length): never on the number
//! of threads, workers, shards or restarts.
//!
//! - [`shuffle`], [`permutation`]: a seeded Fisher–Yates over raw `u64` draws.
//! - [`IndexPermutation`]: a random-access, invertible permutation in O(1) memory.
//! - [`Sampler`]: epochs, shuffling, sharding by rank, resumable from
//!   [`SamplerState`], re-shardable to another world size at any step boundary.
//! - [`BufferedShuffle`] and [`Interleave`]: tf.data's `shuffle` and `interleave`, with
//!   explicit parameters and a buffer-free checkpoint.
//! - [`par_map`]: an order-preserving parallel map with per-sample keys.
//! - [`Batches`]; the [`Dataset`] trait, [`InMemoryDataset`] and [`CocoDataset`]
//!   ([`CocoAnnotations`] parses its annotation file from bytes, without the file
//!   system).
//!
//! ```
//! use lockstep_data::{Sampler, SamplerConfig, Shard};
//! use lockstep_seeding::SeedTree;
//!
//! let config = SamplerConfig::new(10, SeedTree::from_u64(42).child("train")).with_epochs(2);
//! let mut rank0 = Sampler::new(config.clone(), Shard::new(0, 2)?)?;
//! let first: Vec<u64> = rank0.by_ref().take(3).map(|s| s.index).collect();
//! // Save a few integers, restore them anywhere, and continue exactly.
//! let state = rank0.state();
//! let resumed = Sampler::restore(config, Shard::new(0, 2)?, &state)?;
//! assert_eq!(resumed.count(), 10 - 3);
//! # Ok::<(), lockstep_data::Error>(())
//! ```
//!
//! # Portability
//!
//! | what | across machines and thread counts | across versions |
//! | --- | --- | --- |
//! | [`shuffle`], [`permutation`] | bit-exact: integer code over the pinned seed stream | pinned by known-answer tests; a change is logged as reproducibility-breaking |
//! | [`IndexPermutation`], [`Sampler`] order | bit-exact | as above |
//! | [`BufferedShuffle`], [`Interleave`], [`Batches`] | bit-exact given the same upstream | as above |
//! | [`par_map`] | the same output for any thread count (per-sample keys, ordered collect) | as above |
//! | [`CocoDataset`] boxes | bit-exact (one `f64`→`f32` rounding) | as above |
//! | [`CocoDataset`] pixels | as the pinned `image` decoders | may change with the `image` crate |
#![deny(missing_docs)]

mod batch;
mod buffered_shuffle;
mod coco;
mod dataset;
mod draw;
mod error;
pub mod index_permutation;
pub mod interleave;
mod par_map;
mod sampler;
mod shuffle;

pub use batch::{batches, Batches};
pub use buffered_shuffle::{BufferedShuffle, BufferedShuffleState};
pub use coco::{
    Category, CocoAnnotations, CocoDataset, CocoImage, CocoSample, CorruptPolicy, Skipped,
};
pub use dataset::{Dataset, DatasetIter, InMemoryDataset};
pub use error::{Error, Result};
pub use index_permutation::IndexPermutation;
pub use interleave::{interleave_parallel, Interleave};
pub use par_map::{par_map, par_map_indexed, try_par_map_indexed};
pub use sampler::{EpochOrder, Sample, Sampler, SamplerConfig, SamplerState, Shard, Step};
pub use shuffle::{permutation, permutation_u32, shuffle, MAX_PERMUTATION_LEN};

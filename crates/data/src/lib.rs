#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod batch;
mod buffered_shuffle;
mod coco;
mod dataset;
mod error;
pub mod index_permutation;
pub mod interleave;
mod par_map;
mod sampler;
mod shuffle;
#[cfg(feature = "synthetic")]
pub mod synthetic;

pub use batch::{batches, Batches};
pub use buffered_shuffle::{BufferedShuffle, BufferedShuffleState};
pub use coco::{
    Category, ClassMap, CocoAnnotations, CocoImage, CocoObject, CorruptPolicy, Skipped,
};
#[cfg(feature = "coco")]
pub use coco::{CocoDataset, CocoSample, MAX_IMAGE_SIDE};
pub use dataset::{Dataset, DatasetIter, InMemoryDataset};
pub use error::{BoxError, Error, Result, StateField};
pub use index_permutation::IndexPermutation;
pub use interleave::{interleave_parallel, Interleave};
pub use par_map::{par_map, par_map_indexed, try_par_map_indexed};
pub use sampler::{
    EpochOrder, Sampler, SamplerConfig, SamplerState, ScheduledSample, ScheduledStep, Shard,
};
pub use shuffle::{permutation, permutation_u32, shuffle, MAX_PERMUTATION_LEN};

//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong in `lockstep-data`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A permutation, sampler or dataset of length 0 where at least one item is needed.
    #[error("{what}: length is 0, at least one item is needed")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// A size parameter that must be positive was 0.
    #[error("{what} must be at least 1, got 0")]
    Zero {
        /// Which parameter (`batch size`, `buffer size`, `cycle length`, …).
        what: &'static str,
    },
    /// A length beyond what the operation supports.
    #[error("{what}: {value} exceeds the maximum {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The offending value.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// An allocation of a size the caller asked for that the allocator refused.
    #[error("{what}: cannot allocate {bytes} bytes")]
    OutOfMemory {
        /// What was being allocated.
        what: &'static str,
        /// The size asked for, in bytes.
        bytes: u64,
    },
    /// An index at or beyond a length.
    #[error("index {index} is out of range for length {len}")]
    IndexOutOfRange {
        /// The offending index.
        index: u64,
        /// The length it must be below.
        len: u64,
    },
    /// A shard whose rank is not below its world size.
    #[error("rank {rank} is out of range for world size {world}")]
    RankOutOfRange {
        /// The offending rank.
        rank: u64,
        /// The world size.
        world: u64,
    },
    /// A saved state restored under a configuration it was not taken from.
    #[error(
        "state was saved with {field} = {saved}, but the configuration has {field} = {current}"
    )]
    StateMismatch {
        /// The field that differs (`len`, `seed`, `shuffle`, `world`, …).
        field: &'static str,
        /// The value in the saved state.
        saved: String,
        /// The value in the configuration it was restored into.
        current: String,
    },
    /// A saved state that is malformed or inconsistent in itself.
    #[error("malformed state: {reason}")]
    BadState {
        /// What is wrong with it.
        reason: String,
    },
    /// Replaying an upstream to rebuild a checkpointed buffer gave another sequence.
    #[error("replay diverged: the state expects {expected} upstream items consumed, replay consumed {found}")]
    ReplayDiverged {
        /// Upstream items the state recorded as consumed.
        expected: u64,
        /// Upstream items the replay consumed.
        found: u64,
    },
    /// A file that could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        reason: String,
    },
    /// An annotation file that is not valid COCO JSON.
    #[error("`{path}` is not a valid COCO instances file: {reason}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// An image file that does not decode.
    #[error("image `{path}` does not decode: {reason}")]
    ImageDecode {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// An image whose decoded size differs from the size in the annotation file.
    #[error(
        "image `{path}` is {found_width}x{found_height}, the annotation file says {width}x{height}"
    )]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Width in the annotation file.
        width: u32,
        /// Height in the annotation file.
        height: u32,
        /// Decoded width.
        found_width: u32,
        /// Decoded height.
        found_height: u32,
    },
    /// An image entry of the annotation file that cannot be used.
    #[error("`{path}`: image entry {image_id} (`{file_name}`): {reason}")]
    BadImageEntry {
        /// The annotation file.
        path: PathBuf,
        /// The image id.
        image_id: u64,
        /// Its file name as written.
        file_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An annotation that cannot be used.
    #[error("`{path}`: annotation {annotation_id} of image {image_id}: {reason}")]
    BadAnnotation {
        /// The annotation file.
        path: PathBuf,
        /// The image id the annotation refers to (which may not exist).
        image_id: u64,
        /// The annotation id.
        annotation_id: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// `value` as a `usize`, or [`Error::TooLarge`] on a platform where it does not fit.
pub(crate) fn to_usize(what: &'static str, value: u64) -> Result<usize> {
    usize::try_from(value).map_err(|_| Error::TooLarge {
        what,
        value,
        max: usize::MAX as u64,
    })
}

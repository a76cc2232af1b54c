//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// A boxed error of any type, as held by [`Error::Other`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `lockstep-data`.
///
/// Not `Clone` or `PartialEq`: it keeps the underlying I/O, JSON and decoder errors as
/// its [`source`](std::error::Error::source), and a user's own error in
/// [`Error::Other`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
        /// The field that differs.
        field: StateField,
        /// The value in the saved state.
        saved: String,
        /// The value in the configuration it was restored into.
        current: String,
    },
    /// A saved state whose JSON does not parse into the state's fields.
    #[error("malformed state JSON")]
    StateJson {
        /// What the parser reported.
        #[source]
        source: serde_json::Error,
    },
    /// A saved state that is inconsistent in itself.
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
    /// A file that could not be read (or, for an image, does not exist).
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An annotation file that is not valid COCO JSON, or whose ids or sizes do not fit
    /// their types (`u64`, `u32`).
    #[error("`{path}` is not a valid COCO instances file")]
    Json {
        /// The file.
        path: PathBuf,
        /// What the parser reported.
        #[source]
        source: serde_json::Error,
    },
    /// A class map over no categories, or over more than a `u32` class id numbers.
    #[error("a class map needs 1 to 2^32 categories, got {categories}")]
    BadClassMap {
        /// How many categories were given.
        categories: u64,
    },
    /// A class map given one category id twice.
    #[error("category id {id} is given twice")]
    DuplicateCategory {
        /// The repeated id.
        id: u64,
    },
    /// An annotation file that lists one image or category id twice.
    #[error("`{path}`: {kind} id {id} appears twice")]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// `"image"` or `"category"`.
        kind: &'static str,
        /// The repeated id.
        id: u64,
    },
    /// An image file that does not decode.
    #[cfg(feature = "coco")]
    #[error("image `{path}` does not decode")]
    ImageDecode {
        /// The file.
        path: PathBuf,
        /// What the decoder reported.
        #[source]
        source: image::ImageError,
    },
    /// An image whose decoded size differs from the size in the annotation file.
    #[error(
        "image `{path}` is {found_width}x{found_height}, the annotation file says {width}x{height}"
    )]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Width in the annotation file (the decoded width where it gives none).
        width: u32,
        /// Height in the annotation file (the decoded height where it gives none).
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
    /// An error of the user's own code, such as a [`crate::Dataset`] implementation's
    /// (made by [`Error::wrap`]).
    #[error(transparent)]
    Other(BoxError),
}

impl Error {
    /// Wraps an error of the user's own code, so that a [`crate::Dataset::get`] (or any
    /// code that returns this crate's [`Result`]) can return it: [`Error::Other`], whose
    /// `Display` and `source()` are the wrapped error's, and which can be downcast back.
    /// Strings work too: `Error::wrap("no such record")`.
    pub fn wrap(error: impl Into<BoxError>) -> Self {
        Self::Other(error.into())
    }
}

/// The field of a saved state that differs from the configuration it is restored into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateField {
    /// The state's format tag.
    Format,
    /// The dataset length.
    Len,
    /// The seed node.
    Seed,
    /// Shuffling on or off.
    Shuffle,
    /// `drop_remainder`.
    DropRemainder,
    /// The number of epochs.
    Epochs,
    /// The world size (for [`crate::Sampler::restore`]).
    World,
    /// The buffer size of a [`crate::BufferedShuffle`].
    BufferSize,
    /// The cycle length of an [`crate::Interleave`].
    CycleLength,
    /// The block length of an [`crate::Interleave`].
    BlockLength,
}

impl StateField {
    /// The field's name as written in the state's JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::Len => "len",
            Self::Seed => "seed",
            Self::Shuffle => "shuffle",
            Self::DropRemainder => "drop_remainder",
            Self::Epochs => "epochs",
            Self::World => "world",
            Self::BufferSize => "buffer_size",
            Self::CycleLength => "cycle_length",
            Self::BlockLength => "block_length",
        }
    }
}

impl fmt::Display for StateField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An [`Error::StateMismatch`] for `field`.
pub(crate) fn mismatch(field: StateField, saved: impl ToString, current: impl ToString) -> Error {
    Error::StateMismatch {
        field,
        saved: saved.to_string(),
        current: current.to_string(),
    }
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

//! The one error type of this crate.

/// Everything that can go wrong in `lockstep-seeding`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `below(0)`: there is no integer in the empty range `[0, 0)`.
    #[error("cannot draw a uniform integer below 0: the range [0, 0) is empty")]
    EmptyRange,
    /// A probability outside `[0, 1]`, or NaN.
    #[error("probability {p} is outside [0, 1]")]
    Probability {
        /// The offending value.
        p: f64,
    },
    /// A bound of a float range that is NaN or infinite.
    #[error("range bound is not finite: [{low}, {high})")]
    NonFiniteBound {
        /// Lower bound as given.
        low: f64,
        /// Upper bound as given.
        high: f64,
    },
    /// A parameter that must be finite is NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NonFinite {
        /// Which parameter.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A standard deviation below zero.
    #[error("standard deviation {std} is negative")]
    NegativeStd {
        /// The offending value.
        std: f64,
    },
    /// A float range whose lower bound exceeds its upper bound.
    #[error("range is inverted: low {low} > high {high}")]
    InvertedRange {
        /// Lower bound as given.
        low: f64,
        /// Upper bound as given.
        high: f64,
    },
    /// A float range whose width `high − low` is not finite (it overflows), so no
    /// uniform draw in it can be computed exactly.
    #[error("range [{low}, {high}) is too wide: its width overflows")]
    RangeTooWide {
        /// Lower bound as given.
        low: f64,
        /// Upper bound as given.
        high: f64,
    },
    /// Normal parameters for which `mean + std · z` can overflow to infinity for a
    /// draw `z` of the standard normal (whose magnitude is at most
    /// [`crate::NORMAL_MAX_ABS`]): `|mean| + NORMAL_MAX_ABS · std` must be finite.
    #[error("normal with mean {mean} and standard deviation {std} can overflow: |mean| + {bound} * std must be finite", bound = crate::NORMAL_MAX_ABS)]
    NormalTooWide {
        /// The mean as given.
        mean: f64,
        /// The standard deviation as given.
        std: f64,
    },
    /// A decoded path (serialized node or textual path) with more steps than
    /// [`crate::MAX_PATH_DEPTH`].
    #[error("seed path has {depth} steps, more than the maximum {max}")]
    PathTooDeep {
        /// The number of steps found.
        depth: u64,
        /// The largest number accepted, [`crate::MAX_PATH_DEPTH`].
        max: u64,
    },
    /// A serialized node that does not parse.
    #[error("malformed serialized seed node: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// A serialized node whose stored key does not match its root and path: it was
    /// edited, corrupted, or written by a version with another derivation.
    #[error("seed node `{path}` stores key {stored} but its root and path derive {derived}")]
    KeyMismatch {
        /// The node's rendered path.
        path: String,
        /// The key found in the serialized form (hex).
        stored: String,
        /// The key this version derives (hex).
        derived: String,
    },
    /// A textual path that does not parse.
    #[error("bad seed path `{path}`: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

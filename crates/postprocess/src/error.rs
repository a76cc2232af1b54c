//! The one error type of this crate.

use std::fmt;

/// Everything that can go wrong in `lockstep-postprocess`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `boxes` and `scores` (or `classes`) have different lengths.
    #[error("{what} has {found} entries but there are {boxes} boxes")]
    LengthMismatch {
        /// Which input disagrees with the box count.
        what: Input,
        /// The number of boxes.
        boxes: usize,
        /// The length of the other input.
        found: usize,
    },
    /// A score that is NaN or infinite.
    #[error("score {index} is not finite: {value}")]
    NonFiniteScore {
        /// Position of the offending score in the input.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// A box coordinate that is NaN or infinite.
    #[error("box {index}, coordinate {coordinate} is not finite: {value}")]
    NonFiniteCoordinate {
        /// Position of the offending box in the input.
        index: usize,
        /// Which of the four coordinates (0..4, in the order given).
        coordinate: usize,
        /// The offending value.
        value: f32,
    },
    /// An IoU threshold outside `[0, 1]`, or NaN.
    #[error("IoU threshold {value} is outside [0, 1]")]
    IouThreshold {
        /// The offending value.
        value: f64,
    },
    /// A score threshold that is NaN.
    #[error("score threshold is NaN")]
    ScoreThresholdNan,
    /// A soft-NMS sigma that is negative, NaN or infinite.
    #[error("soft-NMS sigma {value} must be finite and >= 0")]
    Sigma {
        /// The offending value.
        value: f32,
    },
    /// A score quantum that is not finite or is below
    /// [`MIN_SCORE_QUANTUM`](crate::MIN_SCORE_QUANTUM).
    #[error("score quantum {value} must be finite and at least 1e-200 (MIN_SCORE_QUANTUM)")]
    ScoreQuantum {
        /// The offending value.
        value: f64,
    },
    /// Padded output was asked for without a `max_output` to pad to.
    #[error("padded output needs max_output to be set")]
    PaddingWithoutMaxOutput,
    /// Padded output of a length that cannot be allocated.
    #[error("cannot allocate padded output of {requested} entries")]
    PaddingTooLarge {
        /// The `max_output` asked for.
        requested: u64,
    },
    /// A detection or ground-truth entry with a NaN or infinite field.
    #[error("{what} {index} has a non-finite {field}: {value}")]
    NonFiniteEntry {
        /// A detection or a ground-truth box.
        what: EntryKind,
        /// Position in the input slice.
        index: usize,
        /// The field that is not finite.
        field: EntryField,
        /// The offending value.
        value: f32,
    },
    /// An evaluation IoU threshold outside `[0, 1]`, or NaN.
    #[error("evaluation IoU threshold {value} is outside [0, 1]")]
    EvalIouThreshold {
        /// The offending value.
        value: f64,
    },
    /// An evaluation configuration with no IoU thresholds.
    #[error("evaluation needs at least one IoU threshold")]
    NoEvalThresholds,
    /// `max_detections` of zero: no detection could ever count.
    #[error("max_detections must be at least 1")]
    ZeroMaxDetections,
    /// A deserialised IoU matrix whose `values` do not hold `rows · cols` entries.
    #[error("IoU matrix of {rows}x{cols} has {values} values")]
    MatrixShape {
        /// The rows it claims.
        rows: usize,
        /// The columns it claims.
        cols: usize,
        /// The values it holds.
        values: usize,
    },
    /// Evaluation without any ground truth: mAP is undefined.
    #[error("no ground truth boxes: mean average precision is undefined")]
    NoGroundTruth,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// An input whose length must match the number of boxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// The scores, one per box.
    Scores,
    /// The classes, one per box (class-aware NMS).
    Classes,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Input::Scores => "scores",
            Input::Classes => "classes",
        })
    }
}

/// Which list an evaluation entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A [`Detection`](crate::Detection).
    Detection,
    /// A [`GroundTruth`](crate::GroundTruth).
    GroundTruth,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryKind::Detection => "detection",
            EntryKind::GroundTruth => "ground truth",
        })
    }
}

/// The field of an evaluation entry that failed a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryField {
    /// The score.
    Score,
    /// A coordinate of the box.
    BBox,
}

impl fmt::Display for EntryField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryField::Score => "score",
            EntryField::BBox => "bbox",
        })
    }
}

//! The one error type of this crate.

/// Everything that can go wrong in `lockstep-postprocess`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// `boxes` and `scores` (or `classes`) have different lengths.
    #[error("{what} has {found} entries but there are {boxes} boxes")]
    LengthMismatch {
        /// Which input disagrees with the box count (`"scores"`, `"classes"`).
        what: &'static str,
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
        requested: usize,
    },
    /// A detection or ground-truth entry with a NaN or infinite field.
    #[error("{what} {index} has a non-finite {field}: {value}")]
    NonFiniteEntry {
        /// `"detection"` or `"ground truth"`.
        what: &'static str,
        /// Position in the input slice.
        index: usize,
        /// `"score"` or `"bbox"`.
        field: &'static str,
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

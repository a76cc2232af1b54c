//! The one error type of this crate.

/// Everything that can go wrong in `lockstep-augment`. Bad input is always one of
/// these, never a panic. New variants may be added in minor releases.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image with zero width or height.
    #[error("image is empty: {width}x{height}")]
    EmptyImage {
        /// Width of the offending image.
        width: u32,
        /// Height of the offending image.
        height: u32,
    },
    /// A size that would make an output of zero or absurd size.
    #[error("{what} must be between 1 and {max}, got {value}")]
    BadSize {
        /// Which size.
        what: &'static str,
        /// The offending value.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A crop that does not fit inside the image.
    #[error(
        "crop {width}x{height} at ({x}, {y}) does not fit in a {image_width}x{image_height} image"
    )]
    CropOutOfBounds {
        /// Left edge of the crop.
        x: u32,
        /// Top edge of the crop.
        y: u32,
        /// Crop width.
        width: u32,
        /// Crop height.
        height: u32,
        /// Width of the image.
        image_width: u32,
        /// Height of the image.
        image_height: u32,
    },
    /// A probability outside `[0, 1]`, or NaN.
    #[error("{what}: probability {p} is outside [0, 1]")]
    Probability {
        /// Which parameter.
        what: &'static str,
        /// The offending value.
        p: f64,
    },
    /// A parameter that must be finite is NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NonFinite {
        /// Which parameter.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A parameter outside the range the operation accepts.
    #[error("{what} = {value} is outside [{min}, {max}]")]
    OutOfRange {
        /// Which parameter.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// Normalisation statistics under which some 8-bit value maps to an infinity
    /// (a std so small, or a mean so large, that `(x / 255 − mean) / std` overflows `f32`).
    #[error("normalize channel {channel}: (x / 255 - {mean}) / {std} overflows f32")]
    NormalizeOverflow {
        /// The channel (0 = r, 1 = g, 2 = b).
        channel: usize,
        /// Its mean.
        mean: f32,
        /// Its standard deviation.
        std: f32,
    },
    /// A range whose lower end exceeds its upper end, or that is otherwise unusable.
    #[error("{what}: range [{low}, {high}] is invalid")]
    BadRange {
        /// Which parameter.
        what: &'static str,
        /// Lower end as given.
        low: f64,
        /// Upper end as given.
        high: f64,
    },
    /// A box that is malformed or lies outside its image.
    #[error(
        "box {index} ({}, {}, {}, {}) is invalid: {reason}",
        .bbox.x1, .bbox.y1, .bbox.x2, .bbox.y2
    )]
    BadBox {
        /// Position of the box in the sample's list.
        index: usize,
        /// Its corners.
        bbox: lockstep_core::BBox,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A colour layout this crate does not take (16-bit, float, or alpha when alpha is
    /// refused).
    #[error("unsupported colour type {color}: {reason}")]
    UnsupportedColor {
        /// The colour type, as `image` names it.
        color: String,
        /// Why it is refused and what to do instead.
        reason: &'static str,
    },
    /// Images of different sizes where one size is required (batched tensors).
    #[error("image {index} is {width}x{height}, expected {expected_width}x{expected_height}")]
    SizeMismatch {
        /// Position of the offending image.
        index: usize,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The width of the first image.
        expected_width: u32,
        /// The height of the first image.
        expected_height: u32,
    },
    /// A recorded noise seed that is not 64 hex digits.
    #[error("noise seed `{seed}` is not 64 hex digits")]
    BadSeed {
        /// The seed as recorded.
        seed: String,
    },
    /// An error from the seed tree.
    #[error(transparent)]
    Seeding(#[from] lockstep_seeding::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

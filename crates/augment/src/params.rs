//! [`OpParams`]: the drawn parameters of one operation, everything needed to apply it
//! again without a key, and their checks. How they move pixels and boxes is
//! `crate::apply`'s.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::geometry::{Interpolation, Padding, Rect};
use crate::{check, color, noise};

/// The parameters one operation drew (or was given). Serialisable; `f64` values are
/// written as exact decimal strings. Applying the same parameters to the same sample
/// gives the same bytes and boxes on every machine. Deserialising runs
/// [`OpParams::validate`]; [`OpParams::apply`] applies them to one sample.
///
/// `#[non_exhaustive]`: a new operation adds a variant in a minor release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(
    tag = "op",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "crate::raw::RawOpParams"
)]
pub enum OpParams {
    /// Left–right mirror, if `applied`.
    Hflip {
        /// Whether the flip happened.
        applied: bool,
    },
    /// Up–down mirror, if `applied`.
    Vflip {
        /// Whether the flip happened.
        applied: bool,
    },
    /// `k` quarter turns counter-clockwise.
    Rotate90 {
        /// Quarter turns, taken modulo 4.
        k: u32,
    },
    /// Keep the pixels of `rect`.
    Crop {
        /// The kept rectangle.
        rect: Rect,
    },
    /// Crop `rect`, then resize it to `width x height`.
    ResizedCrop {
        /// The kept rectangle.
        rect: Rect,
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
        /// Resampling.
        interpolation: Interpolation,
    },
    /// Resize to `width x height`.
    Resize {
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
        /// Resampling.
        interpolation: Interpolation,
    },
    /// Constant borders.
    Pad {
        /// Border sizes.
        padding: Padding,
        /// Border colour.
        fill: [u8; 3],
    },
    /// [`crate::adjust_brightness`].
    Brightness {
        /// Factor.
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    /// [`crate::adjust_contrast`].
    Contrast {
        /// Factor.
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    /// [`crate::adjust_saturation`].
    Saturation {
        /// Factor.
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    /// [`crate::adjust_hue`].
    Hue {
        /// Shift in turns.
        #[serde(with = "crate::exact")]
        shift: f64,
    },
    /// [`crate::adjust_gamma`].
    Gamma {
        /// Exponent.
        #[serde(with = "crate::exact")]
        gamma: f64,
        /// Gain.
        #[serde(with = "crate::exact")]
        gain: f64,
    },
    /// [`crate::adjust_noise`], if `seed` is present.
    Noise {
        /// Standard deviation in 8-bit levels.
        #[serde(with = "crate::exact")]
        std: f64,
        /// The noise seed as 64 hex digits; `None` when the op was skipped.
        seed: Option<String>,
    },
    /// [`crate::erase`] of `rect`, if present. Boxes are not changed by erasing.
    Erase {
        /// The painted rectangle; `None` when the op was skipped.
        rect: Option<Rect>,
        /// Paint colour.
        fill: [u8; 3],
    },
}

impl OpParams {
    /// The recorded operation's short name, as drop reports name it
    /// ([`crate::DroppedBox::op`]). Seed paths do not use it: an op draws from
    /// `…/augment/op[i]/<`[`crate::Op::name`]`>`, and the two names can differ (a
    /// `random_crop` op records a `crop`, a `random_rotate90` a `rotate90`).
    pub fn name(&self) -> &'static str {
        match self {
            OpParams::Hflip { .. } => "hflip",
            OpParams::Vflip { .. } => "vflip",
            OpParams::Rotate90 { .. } => "rotate90",
            OpParams::Crop { .. } => "crop",
            OpParams::ResizedCrop { .. } => "resized_crop",
            OpParams::Resize { .. } => "resize",
            OpParams::Pad { .. } => "pad",
            OpParams::Brightness { .. } => "brightness",
            OpParams::Contrast { .. } => "contrast",
            OpParams::Saturation { .. } => "saturation",
            OpParams::Hue { .. } => "hue",
            OpParams::Gamma { .. } => "gamma",
            OpParams::Noise { .. } => "noise",
            OpParams::Erase { .. } => "erase",
        }
    }

    /// Checks what does not depend on the image: factors, shift, gamma and gain, noise
    /// std and seed, output sizes, and that rectangles are not empty. Applying the
    /// parameters checks the rest (that rectangles fit the image, padded sizes).
    pub fn validate(&self) -> Result<()> {
        // A rectangle no image can hold (empty, or past u32) is refused by every run.
        let rect_ok = |rect: &Rect| rect.check_inside(u32::MAX, u32::MAX);
        match self {
            OpParams::Hflip { .. }
            | OpParams::Vflip { .. }
            | OpParams::Rotate90 { .. }
            | OpParams::Pad { .. } => Ok(()),
            OpParams::Crop { rect } => rect_ok(rect),
            OpParams::Erase { rect, .. } => rect.as_ref().map_or(Ok(()), rect_ok),
            OpParams::ResizedCrop {
                rect,
                width,
                height,
                ..
            } => {
                rect_ok(rect)?;
                check::side("resize width", *width)?;
                check::side("resize height", *height)
            }
            OpParams::Resize { width, height, .. } => {
                check::side("resize width", *width)?;
                check::side("resize height", *height)
            }
            OpParams::Brightness { factor } => color::brightness_lut(*factor).map(drop),
            OpParams::Contrast { factor } => {
                check::within("contrast factor", *factor, 0.0, color::MAX_FACTOR).map(drop)
            }
            OpParams::Saturation { factor } => {
                check::within("saturation factor", *factor, 0.0, color::MAX_FACTOR).map(drop)
            }
            OpParams::Hue { shift } => check::within("hue shift", *shift, -0.5, 0.5).map(drop),
            OpParams::Gamma { gamma, gain } => color::gamma_lut(*gamma, *gain).map(drop),
            OpParams::Noise { std, seed } => {
                check::within("noise std", *std, 0.0, noise::MAX_NOISE_STD)?;
                seed.as_deref()
                    .map_or(Ok(()), |s| noise::parse_seed_hex(s).map(drop))
            }
        }
    }
}

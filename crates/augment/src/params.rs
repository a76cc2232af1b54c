//! [`OpParams`]: the drawn parameters of one operation, everything needed to apply it
//! again without a key, and how they move pixels and boxes.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::boxes::{BoxPolicy, DroppedBox, LabeledBox, Sample, Tracked};
use crate::error::Result;
use crate::geometry::{self, Interpolation, Padding, Rect};
use crate::tone::Tone;
use crate::{check, color, noise};

/// The parameters one operation drew (or was given). Serialisable; `f64` values are
/// written as exact decimal strings. Applying the same parameters to the same sample
/// gives the same bytes and boxes on every machine. Deserialising runs
/// [`OpParams::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// What flows between the operations of a pipeline.
#[derive(Debug)]
pub(crate) struct State {
    pub image: RgbImage,
    pub boxes: Tracked,
    /// A tone curve not yet written into `image`.
    tone: Tone,
}

impl State {
    /// The pipeline works on exactly the image's pixels (see [`check::pixels`]).
    pub fn new(sample: Sample) -> Result<Self> {
        Ok(Self {
            image: check::exact(sample.image)?,
            boxes: Tracked::new(sample.boxes),
            tone: Tone::new(),
        })
    }

    /// The image with every pending tone curve written, and the boxes.
    pub fn finish(mut self) -> Result<(RgbImage, Vec<LabeledBox>)> {
        self.tone.flush(&mut self.image)?;
        Ok((self.image, self.boxes.boxes))
    }
}

impl OpParams {
    /// The operation's short name, as used in seed paths and drop reports.
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

    /// Whether this op is (or, for saturation, absorbs) a per-channel table that the
    /// pipeline defers.
    fn is_tone_curve(&self) -> bool {
        matches!(
            self,
            OpParams::Brightness { .. }
                | OpParams::Contrast { .. }
                | OpParams::Gamma { .. }
                | OpParams::Saturation { .. }
        )
    }

    /// Applies these parameters to one sample: a single-op pipeline (see
    /// [`crate::replay`]).
    pub fn apply(&self, sample: Sample, policy: &BoxPolicy) -> Result<crate::Augmented> {
        crate::compose::replay(sample, std::slice::from_ref(self), policy)
    }

    /// Moves `state` through this operation; `op` is (position, name) for drop reports.
    pub(crate) fn run(
        &self,
        state: &mut State,
        policy: &BoxPolicy,
        op_index: usize,
        dropped: &mut Vec<DroppedBox>,
    ) -> Result<()> {
        let (w, h) = state.image.dimensions();
        let (wf, hf) = (w as f32, h as f32);
        let op = (op_index, self.name());
        if !self.is_tone_curve() {
            state.tone.flush(&mut state.image)?;
        }
        match self {
            OpParams::Hflip { applied } => {
                if *applied {
                    geometry::hflip_in_place(&mut state.image)?;
                    state
                        .boxes
                        .transform(w, h, policy, op, dropped, |b| LabeledBox {
                            x1: wf - b.x2,
                            x2: wf - b.x1,
                            ..*b
                        });
                }
            }
            OpParams::Vflip { applied } => {
                if *applied {
                    geometry::vflip_in_place(&mut state.image)?;
                    state
                        .boxes
                        .transform(w, h, policy, op, dropped, |b| LabeledBox {
                            y1: hf - b.y2,
                            y2: hf - b.y1,
                            ..*b
                        });
                }
            }
            OpParams::Rotate90 { k } => {
                let k = k % 4;
                state.image = geometry::rotate90(&state.image, k)?;
                let (nw, nh) = state.image.dimensions();
                state
                    .boxes
                    .transform(nw, nh, policy, op, dropped, |b| match k {
                        0 => *b,
                        1 => LabeledBox::new(b.y1, wf - b.x2, b.y2, wf - b.x1, b.label),
                        2 => LabeledBox::new(wf - b.x2, hf - b.y2, wf - b.x1, hf - b.y1, b.label),
                        _ => LabeledBox::new(hf - b.y2, b.x1, hf - b.y1, b.x2, b.label),
                    });
            }
            OpParams::Crop { rect } => {
                state.image = geometry::crop_owned(std::mem::take(&mut state.image), *rect)?;
                let (x0, y0) = (rect.x as f32, rect.y as f32);
                state
                    .boxes
                    .transform(rect.width, rect.height, policy, op, dropped, |b| {
                        LabeledBox::new(b.x1 - x0, b.y1 - y0, b.x2 - x0, b.y2 - y0, b.label)
                    });
            }
            OpParams::ResizedCrop {
                rect,
                width,
                height,
                interpolation,
            } => {
                check::side("resize width", *width)?;
                check::side("resize height", *height)?;
                let cropped = geometry::crop(&state.image, *rect)?;
                state.image = geometry::resize(&cropped, *width, *height, *interpolation)?;
                let (x0, y0) = (rect.x as f32, rect.y as f32);
                let (sx, sy) = (*width as f32, *height as f32);
                let (rw, rh) = (rect.width as f32, rect.height as f32);
                state
                    .boxes
                    .transform(*width, *height, policy, op, dropped, |b| {
                        LabeledBox::new(
                            (b.x1 - x0) * sx / rw,
                            (b.y1 - y0) * sy / rh,
                            (b.x2 - x0) * sx / rw,
                            (b.y2 - y0) * sy / rh,
                            b.label,
                        )
                    });
            }
            OpParams::Resize {
                width,
                height,
                interpolation,
            } => {
                state.image = geometry::resize(&state.image, *width, *height, *interpolation)?;
                let (sx, sy) = (*width as f32, *height as f32);
                state
                    .boxes
                    .transform(*width, *height, policy, op, dropped, |b| {
                        LabeledBox::new(
                            b.x1 * sx / wf,
                            b.y1 * sy / hf,
                            b.x2 * sx / wf,
                            b.y2 * sy / hf,
                            b.label,
                        )
                    });
            }
            OpParams::Pad { padding, fill } => {
                state.image = geometry::pad(&state.image, *padding, *fill)?;
                let (nw, nh) = state.image.dimensions();
                let (l, t) = (padding.left as f32, padding.top as f32);
                state.boxes.transform(nw, nh, policy, op, dropped, |b| {
                    LabeledBox::new(b.x1 + l, b.y1 + t, b.x2 + l, b.y2 + t, b.label)
                });
            }
            // The tone curves only update the pending table (see `crate::tone`);
            // saturation applies it in its own pass.
            OpParams::Brightness { factor } => {
                check::non_empty(&state.image)?;
                state.tone.then(&color::brightness_lut(*factor)?);
            }
            OpParams::Contrast { factor } => {
                let lut = color::contrast_lut(&state.image, state.tone.lut(), *factor)?;
                state.tone.then(&lut);
            }
            OpParams::Gamma { gamma, gain } => {
                check::non_empty(&state.image)?;
                state.tone.then(&color::gamma_lut(*gamma, *gain)?);
            }
            OpParams::Saturation { factor } => {
                color::saturate(&mut state.image, state.tone.lut(), *factor)?;
                state.tone.clear();
            }
            OpParams::Hue { shift } => color::hue_in_place(&mut state.image, *shift)?,
            OpParams::Noise { std, seed } => {
                check::within("noise std", *std, 0.0, noise::MAX_NOISE_STD)?;
                if let Some(seed) = seed {
                    let seed = noise::parse_seed_hex(seed)?;
                    noise::noise_in_place(&mut state.image, *std, seed)?;
                }
            }
            OpParams::Erase { rect, fill } => {
                if let Some(rect) = rect {
                    geometry::erase_in_place(&mut state.image, *rect, *fill)?;
                }
            }
        }
        Ok(())
    }
}

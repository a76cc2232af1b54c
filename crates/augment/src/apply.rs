//! How recorded parameters move pixels and boxes: the state that flows through a
//! pipeline, one step of it ([`OpParams::apply`] for a single op), and [`replay`].
//!
//! This module sits above [`crate::params`] (which only defines and checks the records)
//! and below [`crate::compose`] (which draws them), so the dependencies run one way:
//! `op`, `params` ← `apply` ← `compose`.

use image::RgbImage;
use lockstep_core::{BBox, ImageSize};

use crate::boxes::{BoxPolicy, DroppedBox, Sample, Tracked};
use crate::error::Result;
use crate::geometry;
use crate::params::OpParams;
use crate::tone::Tone;
use crate::{check, color, noise};

/// The result of a pipeline (or of one operation).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Augmented {
    /// The output image and its surviving boxes, in input order.
    pub sample: Sample,
    /// The parameters of every operation, in pipeline order: feed them to [`replay`] to
    /// get this output again without a key.
    pub params: Vec<OpParams>,
    /// The boxes dropped on the way, in the order they were dropped.
    pub dropped: Vec<DroppedBox>,
}

/// Applies recorded parameters in order, with no key: the same bytes, boxes and drop
/// reports as the run that recorded them.
pub fn replay(sample: Sample, params: &[OpParams], policy: &BoxPolicy) -> Result<Augmented> {
    policy.validate()?;
    sample.validate()?;
    let mut state = State::new(sample)?;
    let mut dropped = Vec::new();
    for (i, p) in params.iter().enumerate() {
        p.run(&mut state, policy, i, &mut dropped)?;
    }
    state.finish(params.to_vec(), dropped)
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

    /// The current image's size: what the next op draws for.
    pub fn size(&self) -> ImageSize {
        let (width, height) = self.image.dimensions();
        ImageSize::new(width, height)
    }

    /// The output: the image with every pending tone curve written, its boxes, and
    /// the record of the run.
    pub fn finish(mut self, params: Vec<OpParams>, dropped: Vec<DroppedBox>) -> Result<Augmented> {
        self.tone.flush(&mut self.image)?;
        Ok(Augmented {
            sample: Sample {
                image: self.image,
                boxes: self.boxes.boxes,
            },
            params,
            dropped,
        })
    }
}

impl OpParams {
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

    /// Applies these parameters to one sample, image and boxes together: a one-op
    /// [`replay`]. This is the sample-level form of every operation, e.g.
    /// `OpParams::Crop { rect }.apply(sample, &policy)` crops the image, shifts the boxes
    /// by `(−x, −y)`, clips them and drops by `policy`; an [`crate::Op`] drawn with
    /// [`crate::Op::draw`] gives the parameters of a random one.
    pub fn apply(&self, sample: Sample, policy: &BoxPolicy) -> Result<Augmented> {
        replay(sample, std::slice::from_ref(self), policy)
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
                    state.boxes.transform(w, h, policy, op, dropped, |b| BBox {
                        x1: wf - b.x2,
                        x2: wf - b.x1,
                        ..*b
                    });
                }
            }
            OpParams::Vflip { applied } => {
                if *applied {
                    geometry::vflip_in_place(&mut state.image)?;
                    state.boxes.transform(w, h, policy, op, dropped, |b| BBox {
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
                        1 => BBox::new(b.y1, wf - b.x2, b.y2, wf - b.x1),
                        2 => BBox::new(wf - b.x2, hf - b.y2, wf - b.x1, hf - b.y1),
                        _ => BBox::new(hf - b.y2, b.x1, hf - b.y1, b.x2),
                    });
            }
            OpParams::Crop { rect } => {
                state.image = geometry::crop_owned(std::mem::take(&mut state.image), *rect)?;
                let (x0, y0) = (rect.x as f32, rect.y as f32);
                state
                    .boxes
                    .transform(rect.width, rect.height, policy, op, dropped, |b| {
                        BBox::new(b.x1 - x0, b.y1 - y0, b.x2 - x0, b.y2 - y0)
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
                        BBox::new(
                            (b.x1 - x0) * sx / rw,
                            (b.y1 - y0) * sy / rh,
                            (b.x2 - x0) * sx / rw,
                            (b.y2 - y0) * sy / rh,
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
                        BBox::new(
                            b.x1 * sx / wf,
                            b.y1 * sy / hf,
                            b.x2 * sx / wf,
                            b.y2 * sy / hf,
                        )
                    });
            }
            OpParams::Pad { padding, fill } => {
                state.image = geometry::pad(&state.image, *padding, *fill)?;
                let (nw, nh) = state.image.dimensions();
                let (l, t) = (padding.left as f32, padding.top as f32);
                state.boxes.transform(nw, nh, policy, op, dropped, |b| {
                    BBox::new(b.x1 + l, b.y1 + t, b.x2 + l, b.y2 + t)
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

#![doc = include_str!("../README.md")]
//!
//! # Modules and key levels
//!
//! Image-level kernels take and return an `RgbImage` with explicit parameters
//! ([`hflip`], [`crop`], [`resize`], [`adjust_brightness`], [`adjust_noise`], …).
//! Sample-level work (image and boxes together) goes through an [`Op`] (a random
//! configuration), the [`OpParams`] it draws ([`Op::draw`]) and applies
//! ([`OpParams::apply`]), and [`Compose`] (a pipeline of ops).
//!
//! A pipeline is keyed by the sample's [`SampleKey`] (`…/epoch[e]/sample[i]`, from
//! [`EpochKey::sample`](lockstep_seeding::EpochKey::sample)). [`Compose::apply`] derives
//! `…/sample[i]/augment` from it ([`SampleKey::augment`]), and operation `p` draws from
//! `…/sample[i]/augment/op[p]/<`[`Op::name`]`>`, made only by [`op_key`].
//!
//! # Portability
//!
//! | what | across machines | across thread counts | across versions |
//! | --- | --- | --- | --- |
//! | drawn parameters ([`Op::draw`]) | yes: seeding's pinned draws, `libm` for `log`/`exp` | yes: a pure function of the key | yes while seeding and `libm` are pinned; a recipe change is logged |
//! | 8-bit pixel ops (flips, crop, resize, rotate, pad, erase, brightness, contrast, saturation, hue) | yes: integer / fixed-point code with documented rounding | yes | as above |
//! | gamma, noise | yes: `libm` and exactly rounded IEEE `f64` operations | yes | as above |
//! | boxes, [`to_tensor`] | yes: exactly rounded IEEE `f32` operations | yes | as above |
//! | [`Compose::apply_batch`] | yes | yes: each sample depends only on its own key | as above |
//!
//! Nothing here reads or writes files: decoding and encoding are the caller's.
#![deny(missing_docs)]

mod apply;
mod boxes;
mod check;
mod color;
mod compose;
mod convert;
mod error;
mod exact;
mod geometry;
mod noise;
mod op;
mod params;
mod raw;
mod tensor;
mod tone;

pub use apply::{replay, Augmented};
pub use boxes::{BoxPolicy, DropReason, DroppedBox, Sample};
pub use check::MAX_SIDE;
pub use color::{
    adjust_brightness, adjust_contrast, adjust_gamma, adjust_hue, adjust_saturation, MAX_FACTOR,
    MAX_GAMMA,
};
pub use compose::{op_key, Compose};
pub use convert::{to_rgb8, Alpha};
pub use error::{Error, Result};
pub use geometry::{
    crop, erase, hflip, pad, resize, rotate90, vflip, Interpolation, Padding, Rect,
};
/// The shared box, class and size types, re-exported for convenience.
pub use lockstep_core::{BBox, ClassId, ImageSize, LabeledBox};
/// The key a pipeline takes, re-exported for convenience.
pub use lockstep_seeding::SampleKey;
pub use noise::{adjust_noise, parse_seed_hex, seed_hex, MAX_NOISE_STD};
pub use op::Op;
pub use params::OpParams;
pub use tensor::{batch_to_tensor, to_tensor, ImageTensor, Normalize};

//! Stateless, box-aware image augmentations that are bitwise equal across threads and
//! machines.
//!
//! Every augmentation is a pure function of `(input, key)`, where the key is a node of
//! the seed tree (by convention `…/sample[i]/augment`, see [`sample_key`]). Each
//! operation draws its parameters from its own child key; there is no hidden state and
//! no global generator, so the output does not depend on the thread, the call order or
//! how many calls came before. Each operation comes in two parts: a deterministic
//! `adjust_*` with explicit parameters, and a random form that draws those parameters
//! ([`Op::draw`], the `random_*` functions). Drawn parameters are recorded
//! ([`OpParams`], serde) and [`replay`] reproduces an output from them without a key.
//! Boxes go through every geometric operation with the pixels.
//!
//! ```
//! use image::{Rgb, RgbImage};
//! use lockstep_augment::{sample_key, Compose, LabeledBox, Op, Sample, replay};
//! use lockstep_seeding::SeedTree;
//!
//! let image = RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8 * 4, y as u8 * 5, 90]));
//! let sample = Sample::new(image, vec![LabeledBox::new(8.0, 8.0, 40.0, 30.0, 3)])?;
//! let pipeline = Compose::new(vec![
//!     Op::RandomCrop { width: 32, height: 32 },
//!     Op::Hflip { p: 0.5 },
//!     Op::Brightness { low: 0.8, high: 1.2 },
//! ])?;
//! let key = sample_key(&SeedTree::from_u64(7).child("train").child_index("epoch", 0), 12);
//! let out = pipeline.apply(sample.clone(), &key)?;
//! assert_eq!(out.sample.image.dimensions(), (32, 32));
//! // The recorded parameters reproduce the output without the key.
//! let again = replay(sample, &out.params, pipeline.policy())?;
//! assert_eq!(again.sample, out.sample);
//! # Ok::<(), lockstep_augment::Error>(())
//! ```
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

mod adjust;
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
mod random;
mod raw;
mod tensor;
mod tone;

pub use adjust::{
    adjust_crop, adjust_hflip, adjust_pad, adjust_resize, adjust_resized_crop, adjust_rotate90,
    adjust_vflip,
};
pub use boxes::{BoxPolicy, DropReason, DroppedBox, LabeledBox, Sample};
pub use check::MAX_SIDE;
pub use color::{
    adjust_brightness, adjust_contrast, adjust_gamma, adjust_hue, adjust_saturation, MAX_FACTOR,
    MAX_GAMMA,
};
pub use compose::{op_key, replay, sample_key, Augmented, Compose};
pub use convert::{to_rgb8, Alpha};
pub use error::{Error, Result};
pub use geometry::{
    crop, erase, hflip, pad, resize, rotate90, vflip, Interpolation, Padding, Rect,
};
pub use noise::{adjust_noise, parse_seed_hex, seed_hex, MAX_NOISE_STD};
pub use op::Op;
pub use params::OpParams;
pub use random::{
    random_brightness, random_contrast, random_crop, random_erase, random_gamma, random_hflip,
    random_hue, random_noise, random_op, random_resized_crop, random_rotate90, random_saturation,
    random_vflip,
};
pub use tensor::{batch_to_tensor, to_tensor, Normalize, Tensor};

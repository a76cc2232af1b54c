//! [`Op`]: a random operation's configuration, and how it draws its [`OpParams`] from
//! its own key.
//!
//! Every draw comes from `key.rng()` (the op's own node) in the order written on each
//! variant. Ranges are half-open `[low, high)` via `SeedRng::uniform_f64` (`low = high`
//! gives `low`); integers come from `SeedRng::below` (Lemire, unbiased); coins from
//! `SeedRng::bernoulli` (one draw, `u < p`). `log`/`exp` are `libm`'s, and rounding to
//! whole pixels is `f64::round` (half away from zero).

use lockstep_core::ImageSize;
use lockstep_seeding::{RngCore, SeedRng, SeedTree};
use serde::{Deserialize, Serialize};

use crate::check;
use crate::color::{MAX_FACTOR, MAX_GAMMA};
use crate::error::{Error, Result};
use crate::geometry::{Interpolation, Padding, Rect};
use crate::noise::{seed_hex, MAX_NOISE_STD};
use crate::params::OpParams;

/// Attempts at a random rectangle before the fallback (as torchvision).
const ATTEMPTS: u32 = 10;

/// A random (or fixed) operation of a pipeline. Serialisable, so a pipeline can be
/// written in a config file; deserialising runs [`Op::validate`], as do
/// [`crate::Compose::new`] and [`Op::draw`].
///
/// `#[non_exhaustive]`: a new operation adds a variant in a minor release. Each variant
/// is its own configuration, written as a struct literal (`Op::Hflip { p: 0.5 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(
    tag = "op",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "crate::raw::RawOp"
)]
pub enum Op {
    /// Mirror left–right with probability `p`. Draws: one coin.
    Hflip {
        /// Probability of flipping.
        p: f64,
    },
    /// Mirror up–down with probability `p`. Draws: one coin.
    Vflip {
        /// Probability of flipping.
        p: f64,
    },
    /// `k` quarter turns counter-clockwise, `k` uniform in `{0, 1, 2, 3}`. Draws:
    /// `below(4)`.
    RandomRotate90,
    /// A `width x height` window at a uniform position: `y = below(H − height + 1)`,
    /// then `x = below(W − width + 1)`. A window larger than the image is
    /// [`Error::CropOutOfBounds`].
    RandomCrop {
        /// Window width.
        width: u32,
        /// Window height.
        height: u32,
    },
    /// The centred `width x height` window, top-left at `((W − width) / 2, (H − height) / 2)`
    /// rounded down. No draws.
    CenterCrop {
        /// Window width.
        width: u32,
        /// Window height.
        height: u32,
    },
    /// torchvision's `RandomResizedCrop`: up to 10 attempts of `area = W·H·uniform(scale)`,
    /// `aspect = exp(uniform(ln ratio₀, ln ratio₁))`, `w = round(√(area·aspect))`,
    /// `h = round(√(area / aspect))`; the first with `0 < w ≤ W` and `0 < h ≤ H` takes
    /// `y = below(H − h + 1)`, `x = below(W − w + 1)`. Otherwise the fallback is the
    /// centred crop of the whole image with its aspect clamped into `ratio`. Then the
    /// window is resized to `width x height`.
    RandomResizedCrop {
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
        /// Range of the window's area as a fraction of the image's, within `(0, 1]`.
        scale: [f64; 2],
        /// Range of the window's aspect (width / height), positive.
        ratio: [f64; 2],
        /// Resampling.
        interpolation: Interpolation,
    },
    /// Resize to `width x height`. No draws.
    Resize {
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
        /// Resampling.
        interpolation: Interpolation,
    },
    /// Constant borders. No draws.
    Pad {
        /// Border sizes.
        padding: Padding,
        /// Border colour.
        fill: [u8; 3],
    },
    /// Brightness factor `uniform(low, high)`, within `[0, 1024]`. One draw.
    Brightness {
        /// Lowest factor.
        low: f64,
        /// Highest factor (excluded unless equal to `low`).
        high: f64,
    },
    /// Contrast factor `uniform(low, high)`, within `[0, 1024]`. One draw.
    Contrast {
        /// Lowest factor.
        low: f64,
        /// Highest factor.
        high: f64,
    },
    /// Saturation factor `uniform(low, high)`, within `[0, 1024]`. One draw.
    Saturation {
        /// Lowest factor.
        low: f64,
        /// Highest factor.
        high: f64,
    },
    /// Hue shift `uniform(low, high)` turns, within `[−0.5, 0.5]`. One draw.
    Hue {
        /// Lowest shift.
        low: f64,
        /// Highest shift.
        high: f64,
    },
    /// Gamma `uniform(low, high)`, within `[f64::MIN_POSITIVE, 64]`, with a fixed gain.
    /// One draw.
    Gamma {
        /// Lowest gamma.
        low: f64,
        /// Highest gamma.
        high: f64,
        /// Gain, within `[0, 64]`.
        gain: f64,
    },
    /// With probability `p`: noise of std `uniform(std_low, std_high)` levels and a seed
    /// of four `u64` draws (little-endian bytes). Draws: coin, then std and 4 words.
    Noise {
        /// Probability of adding noise.
        p: f64,
        /// Lowest standard deviation, in 8-bit levels.
        std_low: f64,
        /// Highest standard deviation.
        std_high: f64,
    },
    /// torchvision's `RandomErasing` with a constant fill: with probability `p`, up to
    /// 10 attempts of `area = W·H·uniform(scale)`, `aspect = exp(uniform(ln ratio₀,
    /// ln ratio₁))`, `h = round(√(area·aspect))`, `w = round(√(area / aspect))`; the first
    /// with `0 < h < H` and `0 < w < W` takes `y = below(H − h + 1)`,
    /// `x = below(W − w + 1)`. No fitting attempt: nothing is erased.
    Erase {
        /// Probability of erasing.
        p: f64,
        /// Range of the erased area as a fraction of the image's, within `(0, 1]`.
        scale: [f64; 2],
        /// Range of the erased aspect (height / width), positive.
        ratio: [f64; 2],
        /// Paint colour.
        fill: [u8; 3],
    },
}

impl Op {
    /// The operation's short name: the last segment of its seed path,
    /// `…/augment/op[p]/<name>` ([`crate::op_key`]). Drop reports name the recorded
    /// [`OpParams::name`] instead, which can differ (`random_crop` records a `crop`).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Hflip { .. } => "hflip",
            Op::Vflip { .. } => "vflip",
            Op::RandomRotate90 => "random_rotate90",
            Op::RandomCrop { .. } => "random_crop",
            Op::CenterCrop { .. } => "center_crop",
            Op::RandomResizedCrop { .. } => "random_resized_crop",
            Op::Resize { .. } => "resize",
            Op::Pad { .. } => "pad",
            Op::Brightness { .. } => "brightness",
            Op::Contrast { .. } => "contrast",
            Op::Saturation { .. } => "saturation",
            Op::Hue { .. } => "hue",
            Op::Gamma { .. } => "gamma",
            Op::Noise { .. } => "noise",
            Op::Erase { .. } => "erase",
        }
    }

    /// Checks the configuration alone (no image needed).
    pub fn validate(&self) -> Result<()> {
        match self {
            Op::Hflip { p } | Op::Vflip { p } => check::probability("flip p", *p).map(drop),
            Op::RandomRotate90 | Op::Pad { .. } => Ok(()),
            Op::RandomCrop { width, height } | Op::CenterCrop { width, height } => {
                check::side("crop width", *width)?;
                check::side("crop height", *height)
            }
            Op::RandomResizedCrop {
                width,
                height,
                scale,
                ratio,
                ..
            } => {
                check::side("resize width", *width)?;
                check::side("resize height", *height)?;
                check_scale_ratio(scale, ratio)
            }
            Op::Resize { width, height, .. } => {
                check::side("resize width", *width)?;
                check::side("resize height", *height)
            }
            Op::Brightness { low, high } => {
                check::range("brightness", *low, *high, 0.0, MAX_FACTOR)
            }
            Op::Contrast { low, high } => check::range("contrast", *low, *high, 0.0, MAX_FACTOR),
            Op::Saturation { low, high } => {
                check::range("saturation", *low, *high, 0.0, MAX_FACTOR)
            }
            Op::Hue { low, high } => check::range("hue", *low, *high, -0.5, 0.5),
            Op::Gamma { low, high, gain } => {
                // Below f64::MIN_POSITIVE (zero or subnormal) every draw would be refused
                // by `adjust_gamma`; refuse the configuration instead.
                check::range("gamma", *low, *high, f64::MIN_POSITIVE, MAX_GAMMA)?;
                check::within("gamma gain", *gain, 0.0, MAX_GAMMA).map(drop)
            }
            Op::Noise {
                p,
                std_low,
                std_high,
            } => {
                check::probability("noise p", *p)?;
                check::range("noise std", *std_low, *std_high, 0.0, MAX_NOISE_STD)
            }
            Op::Erase {
                p, scale, ratio, ..
            } => {
                check::probability("erase p", *p)?;
                check_scale_ratio(scale, ratio)
            }
        }
    }

    /// Draws this operation's parameters for an image of `size` from `key`, the op's
    /// own node (inside a pipeline, [`crate::op_key`]). A pure function of its
    /// arguments. [`OpParams::apply`] then applies them to a sample: together, the
    /// sample-level random form of every operation.
    pub fn draw(&self, key: &SeedTree, size: ImageSize) -> Result<OpParams> {
        self.validate()?;
        let (width, height) = (size.width, size.height);
        if width == 0 || height == 0 {
            return Err(Error::EmptyImage { width, height });
        }
        let mut rng = key.rng();
        Ok(match self {
            Op::Hflip { p } => OpParams::Hflip {
                applied: rng.bernoulli(*p)?,
            },
            Op::Vflip { p } => OpParams::Vflip {
                applied: rng.bernoulli(*p)?,
            },
            Op::RandomRotate90 => OpParams::Rotate90 {
                k: rng.try_below(4)? as u32,
            },
            Op::RandomCrop {
                width: cw,
                height: ch,
            } => {
                let rect = Rect {
                    x: 0,
                    y: 0,
                    width: *cw,
                    height: *ch,
                };
                rect.check_inside(width, height)?;
                let y = rng.try_below(u64::from(height - ch) + 1)? as u32;
                let x = rng.try_below(u64::from(width - cw) + 1)? as u32;
                OpParams::Crop {
                    rect: Rect { x, y, ..rect },
                }
            }
            Op::CenterCrop {
                width: cw,
                height: ch,
            } => {
                let rect = Rect {
                    x: 0,
                    y: 0,
                    width: *cw,
                    height: *ch,
                };
                rect.check_inside(width, height)?;
                OpParams::Crop {
                    rect: Rect {
                        x: (width - cw) / 2,
                        y: (height - ch) / 2,
                        ..rect
                    },
                }
            }
            Op::RandomResizedCrop {
                width: ow,
                height: oh,
                scale,
                ratio,
                interpolation,
            } => OpParams::ResizedCrop {
                rect: resized_crop_rect(&mut rng, width, height, scale, ratio)?,
                width: *ow,
                height: *oh,
                interpolation: *interpolation,
            },
            Op::Resize {
                width,
                height,
                interpolation,
            } => OpParams::Resize {
                width: *width,
                height: *height,
                interpolation: *interpolation,
            },
            Op::Pad { padding, fill } => OpParams::Pad {
                padding: *padding,
                fill: *fill,
            },
            Op::Brightness { low, high } => OpParams::Brightness {
                factor: rng.uniform_f64(*low, *high)?,
            },
            Op::Contrast { low, high } => OpParams::Contrast {
                factor: rng.uniform_f64(*low, *high)?,
            },
            Op::Saturation { low, high } => OpParams::Saturation {
                factor: rng.uniform_f64(*low, *high)?,
            },
            Op::Hue { low, high } => OpParams::Hue {
                shift: rng.uniform_f64(*low, *high)?,
            },
            Op::Gamma { low, high, gain } => OpParams::Gamma {
                gamma: rng.uniform_f64(*low, *high)?,
                gain: *gain,
            },
            Op::Noise {
                p,
                std_low,
                std_high,
            } => {
                if rng.bernoulli(*p)? {
                    let std = rng.uniform_f64(*std_low, *std_high)?;
                    let mut seed = [0u8; 32];
                    for chunk in seed.chunks_exact_mut(8) {
                        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
                    }
                    OpParams::Noise {
                        std,
                        seed: Some(seed_hex(&seed)),
                    }
                } else {
                    OpParams::Noise {
                        std: 0.0,
                        seed: None,
                    }
                }
            }
            Op::Erase {
                p,
                scale,
                ratio,
                fill,
            } => {
                let rect = if rng.bernoulli(*p)? {
                    erase_rect(&mut rng, width, height, scale, ratio)?
                } else {
                    None
                };
                OpParams::Erase { rect, fill: *fill }
            }
        })
    }
}

fn check_scale_ratio(scale: &[f64; 2], ratio: &[f64; 2]) -> Result<()> {
    check::range("scale", scale[0], scale[1], 0.0, 1.0)?;
    check::range("ratio", ratio[0], ratio[1], 0.0, f64::MAX)?;
    if scale[0] <= 0.0 {
        return Err(Error::BadRange {
            what: "scale",
            low: scale[0],
            high: scale[1],
        });
    }
    if ratio[0] <= 0.0 {
        return Err(Error::BadRange {
            what: "ratio",
            low: ratio[0],
            high: ratio[1],
        });
    }
    Ok(())
}

/// One attempt's `(area, aspect)`: two draws.
fn area_and_aspect(
    rng: &mut SeedRng,
    width: u32,
    height: u32,
    scale: &[f64; 2],
    ratio: &[f64; 2],
) -> Result<(f64, f64)> {
    let area = f64::from(width) * f64::from(height) * rng.uniform_f64(scale[0], scale[1])?;
    let log_aspect = rng.uniform_f64(libm::log(ratio[0]), libm::log(ratio[1]))?;
    Ok((area, libm::exp(log_aspect)))
}

/// A non-negative float rounded half away from zero, saturated into `u32`.
fn round_u32(v: f64) -> u32 {
    v.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

fn resized_crop_rect(
    rng: &mut SeedRng,
    width: u32,
    height: u32,
    scale: &[f64; 2],
    ratio: &[f64; 2],
) -> Result<Rect> {
    for _ in 0..ATTEMPTS {
        let (area, aspect) = area_and_aspect(rng, width, height, scale, ratio)?;
        let w = round_u32((area * aspect).sqrt());
        let h = round_u32((area / aspect).sqrt());
        if 0 < w && w <= width && 0 < h && h <= height {
            let y = rng.try_below(u64::from(height - h) + 1)? as u32;
            let x = rng.try_below(u64::from(width - w) + 1)? as u32;
            return Ok(Rect {
                x,
                y,
                width: w,
                height: h,
            });
        }
    }
    // Fallback: the whole image, its aspect clamped into the ratio range, centred.
    let in_ratio = f64::from(width) / f64::from(height);
    let (w, h) = if in_ratio < ratio[0] {
        (width, round_u32(f64::from(width) / ratio[0]))
    } else if in_ratio > ratio[1] {
        (round_u32(f64::from(height) * ratio[1]), height)
    } else {
        (width, height)
    };
    let (w, h) = (w.clamp(1, width), h.clamp(1, height));
    Ok(Rect {
        x: (width - w) / 2,
        y: (height - h) / 2,
        width: w,
        height: h,
    })
}

fn erase_rect(
    rng: &mut SeedRng,
    width: u32,
    height: u32,
    scale: &[f64; 2],
    ratio: &[f64; 2],
) -> Result<Option<Rect>> {
    for _ in 0..ATTEMPTS {
        let (area, aspect) = area_and_aspect(rng, width, height, scale, ratio)?;
        let h = round_u32((area * aspect).sqrt());
        let w = round_u32((area / aspect).sqrt());
        if 0 < h && h < height && 0 < w && w < width {
            let y = rng.try_below(u64::from(height - h) + 1)? as u32;
            let x = rng.try_below(u64::from(width - w) + 1)? as u32;
            return Ok(Some(Rect {
                x,
                y,
                width: w,
                height: h,
            }));
        }
    }
    Ok(None)
}

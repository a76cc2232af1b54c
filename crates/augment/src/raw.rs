//! The serde shapes of the configuration and record types, checked before they become
//! the public types (`#[serde(try_from = …)]`), so a deserialised value passes exactly
//! the checks its constructor or first use applies and a bad file fails where it is read.
//!
//! Each shape mirrors its public type field for field, with the same serde attributes;
//! the round-trip tests in `tests/properties.rs` keep them in step.

use serde::Deserialize;

use crate::boxes::BoxPolicy;
use crate::compose::Compose;
use crate::error::Error;
use crate::geometry::{Interpolation, Padding, Rect};
use crate::op::Op;
use crate::params::OpParams;

#[derive(Deserialize)]
pub(crate) struct RawBoxPolicy {
    min_area: f32,
    min_visible_fraction: f32,
}

impl TryFrom<RawBoxPolicy> for BoxPolicy {
    type Error = Error;

    fn try_from(r: RawBoxPolicy) -> Result<Self, Error> {
        let policy = BoxPolicy {
            min_area: r.min_area,
            min_visible_fraction: r.min_visible_fraction,
        };
        policy.validate()?;
        Ok(policy)
    }
}

#[derive(Deserialize)]
pub(crate) struct RawCompose {
    ops: Vec<Op>,
    #[serde(default)]
    policy: BoxPolicy,
}

impl TryFrom<RawCompose> for Compose {
    type Error = Error;

    fn try_from(r: RawCompose) -> Result<Self, Error> {
        let compose = Compose::default().with_ops(r.ops).with_policy(r.policy);
        compose.validate()?;
        Ok(compose)
    }
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawOp {
    Hflip {
        p: f64,
    },
    Vflip {
        p: f64,
    },
    RandomRotate90,
    RandomCrop {
        width: u32,
        height: u32,
    },
    CenterCrop {
        width: u32,
        height: u32,
    },
    RandomResizedCrop {
        width: u32,
        height: u32,
        scale: [f64; 2],
        ratio: [f64; 2],
        interpolation: Interpolation,
    },
    Resize {
        width: u32,
        height: u32,
        interpolation: Interpolation,
    },
    Pad {
        padding: Padding,
        fill: [u8; 3],
    },
    Brightness {
        low: f64,
        high: f64,
    },
    Contrast {
        low: f64,
        high: f64,
    },
    Saturation {
        low: f64,
        high: f64,
    },
    Hue {
        low: f64,
        high: f64,
    },
    Gamma {
        low: f64,
        high: f64,
        gain: f64,
    },
    Noise {
        p: f64,
        std_low: f64,
        std_high: f64,
    },
    Erase {
        p: f64,
        scale: [f64; 2],
        ratio: [f64; 2],
        fill: [u8; 3],
    },
}

impl TryFrom<RawOp> for Op {
    type Error = Error;

    fn try_from(r: RawOp) -> Result<Self, Error> {
        let op = match r {
            RawOp::Hflip { p } => Op::Hflip { p },
            RawOp::Vflip { p } => Op::Vflip { p },
            RawOp::RandomRotate90 => Op::RandomRotate90,
            RawOp::RandomCrop { width, height } => Op::RandomCrop { width, height },
            RawOp::CenterCrop { width, height } => Op::CenterCrop { width, height },
            RawOp::RandomResizedCrop {
                width,
                height,
                scale,
                ratio,
                interpolation,
            } => Op::RandomResizedCrop {
                width,
                height,
                scale,
                ratio,
                interpolation,
            },
            RawOp::Resize {
                width,
                height,
                interpolation,
            } => Op::Resize {
                width,
                height,
                interpolation,
            },
            RawOp::Pad { padding, fill } => Op::Pad { padding, fill },
            RawOp::Brightness { low, high } => Op::Brightness { low, high },
            RawOp::Contrast { low, high } => Op::Contrast { low, high },
            RawOp::Saturation { low, high } => Op::Saturation { low, high },
            RawOp::Hue { low, high } => Op::Hue { low, high },
            RawOp::Gamma { low, high, gain } => Op::Gamma { low, high, gain },
            RawOp::Noise {
                p,
                std_low,
                std_high,
            } => Op::Noise {
                p,
                std_low,
                std_high,
            },
            RawOp::Erase {
                p,
                scale,
                ratio,
                fill,
            } => Op::Erase {
                p,
                scale,
                ratio,
                fill,
            },
        };
        op.validate()?;
        Ok(op)
    }
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawOpParams {
    Hflip {
        applied: bool,
    },
    Vflip {
        applied: bool,
    },
    Rotate90 {
        k: u32,
    },
    Crop {
        rect: Rect,
    },
    ResizedCrop {
        rect: Rect,
        width: u32,
        height: u32,
        interpolation: Interpolation,
    },
    Resize {
        width: u32,
        height: u32,
        interpolation: Interpolation,
    },
    Pad {
        padding: Padding,
        fill: [u8; 3],
    },
    Brightness {
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    Contrast {
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    Saturation {
        #[serde(with = "crate::exact")]
        factor: f64,
    },
    Hue {
        #[serde(with = "crate::exact")]
        shift: f64,
    },
    Gamma {
        #[serde(with = "crate::exact")]
        gamma: f64,
        #[serde(with = "crate::exact")]
        gain: f64,
    },
    Noise {
        #[serde(with = "crate::exact")]
        std: f64,
        seed: Option<String>,
    },
    Erase {
        rect: Option<Rect>,
        fill: [u8; 3],
    },
}

impl TryFrom<RawOpParams> for OpParams {
    type Error = Error;

    fn try_from(r: RawOpParams) -> Result<Self, Error> {
        let params = match r {
            RawOpParams::Hflip { applied } => OpParams::Hflip { applied },
            RawOpParams::Vflip { applied } => OpParams::Vflip { applied },
            RawOpParams::Rotate90 { k } => OpParams::Rotate90 { k },
            RawOpParams::Crop { rect } => OpParams::Crop { rect },
            RawOpParams::ResizedCrop {
                rect,
                width,
                height,
                interpolation,
            } => OpParams::ResizedCrop {
                rect,
                width,
                height,
                interpolation,
            },
            RawOpParams::Resize {
                width,
                height,
                interpolation,
            } => OpParams::Resize {
                width,
                height,
                interpolation,
            },
            RawOpParams::Pad { padding, fill } => OpParams::Pad { padding, fill },
            RawOpParams::Brightness { factor } => OpParams::Brightness { factor },
            RawOpParams::Contrast { factor } => OpParams::Contrast { factor },
            RawOpParams::Saturation { factor } => OpParams::Saturation { factor },
            RawOpParams::Hue { shift } => OpParams::Hue { shift },
            RawOpParams::Gamma { gamma, gain } => OpParams::Gamma { gamma, gain },
            RawOpParams::Noise { std, seed } => OpParams::Noise { std, seed },
            RawOpParams::Erase { rect, fill } => OpParams::Erase { rect, fill },
        };
        params.validate()?;
        Ok(params)
    }
}

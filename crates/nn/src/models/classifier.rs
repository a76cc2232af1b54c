//! A small CNN classifier for tests: conv → ReLU → max-pool → conv → ReLU → max-pool →
//! dropout → linear.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use super::layers::{Conv, Linear};
use super::{check_shape, Model, Tap};
use crate::batch::Batch;
use crate::error::{Error, Result};

/// The classifier's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Input channels.
    pub channels: i64,
    /// Input height and width (a multiple of 4).
    pub size: i64,
    /// Number of classes.
    pub classes: i64,
    /// Dropout probability before the linear layer.
    pub dropout: f64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            size: 8,
            classes: 3,
            dropout: 0.25,
        }
    }
}

/// The classifier. Modules (trace names): `conv1`, `pool1`, `conv2`, `pool2`,
/// `dropout`, `fc`.
#[derive(Debug)]
pub struct SmallCnn {
    config: ClassifierConfig,
    conv1: Conv,
    conv2: Conv,
    fc: Linear,
}

impl SmallCnn {
    /// Builds the model's parameters under `vs` (weights drawn from libtorch's
    /// generator: reseed it first, as the trainer does).
    pub fn new(vs: &nn::Path<'_>, config: &ClassifierConfig) -> Result<Self> {
        if config.size <= 0 || config.size % 4 != 0 {
            return Err(Error::InvalidConfig {
                what: "classifier.size",
                value: config.size.to_string(),
            });
        }
        if config.channels <= 0 || config.classes <= 0 {
            return Err(Error::InvalidConfig {
                what: "classifier.channels/classes",
                value: format!("{}/{}", config.channels, config.classes),
            });
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(Error::InvalidConfig {
                what: "classifier.dropout",
                value: config.dropout.to_string(),
            });
        }
        let side = config.size / 4;
        Ok(Self {
            config: config.clone(),
            conv1: Conv::new(vs / "conv1", config.channels, 8, 3),
            conv2: Conv::new(vs / "conv2", 8, 16, 3),
            fc: Linear::new(vs / "fc", 16 * side * side, config.classes),
        })
    }
}

impl Model for SmallCnn {
    fn check_batch(&self, step: u64, batch: &Batch) -> Result<()> {
        let c = &self.config;
        check_shape(
            step,
            "inputs",
            &batch.inputs,
            Kind::Float,
            &[None, Some(c.channels), Some(c.size), Some(c.size)],
        )?;
        check_shape(
            step,
            "targets",
            &batch.targets,
            Kind::Int64,
            &[Some(batch.len())],
        )
    }

    fn forward_tapped(&self, x: &Tensor, train: bool, tap: &mut Tap<'_>) -> Result<Tensor> {
        let x = self.conv1.forward(x)?.f_relu()?;
        tap("conv1", &x)?;
        let x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        tap("pool1", &x)?;
        let x = self.conv2.forward(&x)?.f_relu()?;
        tap("conv2", &x)?;
        let x = x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?;
        tap("pool2", &x)?;
        let x = x.f_flatten(1, -1)?.f_dropout(self.config.dropout, train)?;
        tap("dropout", &x)?;
        let x = self.fc.forward(&x)?;
        tap("fc", &x)?;
        Ok(x)
    }

    fn loss(&self, output: &Tensor, targets: &Tensor) -> Result<Tensor> {
        Ok(
            output.f_cross_entropy_loss::<Tensor>(
                targets,
                None,
                tch::Reduction::Mean,
                -100,
                0.0,
            )?,
        )
    }
}

//! A small CNN classifier for tests: conv → ReLU → max-pool → conv → ReLU → max-pool →
//! dropout → linear.

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use super::layers::{Conv, Linear};
use super::{check_shape, Model, Tap};
use crate::batch::Batch;
use crate::error::{Error, Result};

/// The classifier's shape: [`Default`] is 1 channel of 8×8, 3 classes, width 8,
/// dropout 0.25; change it with the `with_*` setters.
///
/// ```
/// let cnn = lockstep_nn::ClassifierConfig::default().with_classes(10).with_width(16);
/// cnn.validate()?;
/// # Ok::<(), lockstep_nn::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassifierConfigFields")]
#[non_exhaustive]
pub struct ClassifierConfig {
    /// Input channels.
    pub channels: u32,
    /// Input height and width in pixels (a multiple of 4).
    pub size: u32,
    /// Number of classes.
    pub classes: u32,
    /// Channels of the first convolution (the second has twice as many).
    pub width: u32,
    /// Dropout probability before the linear layer.
    pub dropout: f64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            size: 8,
            classes: 3,
            width: 8,
            dropout: 0.25,
        }
    }
}

/// The serialised form of [`ClassifierConfig`]; deserialising validates it. `width`
/// defaults to 8, the fixed width before 0.2.
#[derive(Deserialize)]
struct ClassifierConfigFields {
    channels: u32,
    size: u32,
    classes: u32,
    #[serde(default = "default_width")]
    width: u32,
    dropout: f64,
}

fn default_width() -> u32 {
    8
}

impl TryFrom<ClassifierConfigFields> for ClassifierConfig {
    type Error = Error;
    fn try_from(f: ClassifierConfigFields) -> Result<Self> {
        let c = Self {
            channels: f.channels,
            size: f.size,
            classes: f.classes,
            width: f.width,
            dropout: f.dropout,
        };
        c.validate()?;
        Ok(c)
    }
}

/// The largest input side and width [`ClassifierConfig::validate`] accepts.
const MAX_SIDE: u32 = 16384;

impl ClassifierConfig {
    /// Sets [`Self::channels`].
    pub fn with_channels(mut self, channels: u32) -> Self {
        self.channels = channels;
        self
    }
    /// Sets [`Self::size`].
    pub fn with_size(mut self, pixels: u32) -> Self {
        self.size = pixels;
        self
    }
    /// Sets [`Self::classes`].
    pub fn with_classes(mut self, classes: u32) -> Self {
        self.classes = classes;
        self
    }
    /// Sets [`Self::width`].
    pub fn with_width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }
    /// Sets [`Self::dropout`].
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.size == 0 || !self.size.is_multiple_of(4) || self.size > MAX_SIDE {
            return Err(Error::InvalidConfig {
                what: "classifier.size",
                value: self.size.to_string(),
            });
        }
        if self.channels == 0 || self.classes == 0 || self.channels > MAX_SIDE {
            return Err(Error::InvalidConfig {
                what: "classifier.channels/classes",
                value: format!("{}/{}", self.channels, self.classes),
            });
        }
        if self.width == 0 || self.width > MAX_SIDE {
            return Err(Error::InvalidConfig {
                what: "classifier.width",
                value: self.width.to_string(),
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::InvalidConfig {
                what: "classifier.dropout",
                value: self.dropout.to_string(),
            });
        }
        Ok(())
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
    ///
    /// ```no_run
    /// use lockstep_nn::{ClassifierConfig, SmallCnn};
    ///
    /// let vs = lockstep_nn::tch::nn::VarStore::new(lockstep_nn::tch::Device::Cpu);
    /// let model = SmallCnn::new(&vs.root(), &ClassifierConfig::default().with_classes(10))?;
    /// # Ok::<(), lockstep_nn::Error>(())
    /// ```
    pub fn new(vs: &nn::Path<'_>, config: &ClassifierConfig) -> Result<Self> {
        config.validate()?;
        let side = i64::from(config.size / 4);
        let w = i64::from(config.width);
        Ok(Self {
            config: config.clone(),
            conv1: Conv::new(vs / "conv1", i64::from(config.channels), w, 3),
            conv2: Conv::new(vs / "conv2", w, 2 * w, 3),
            fc: Linear::new(vs / "fc", 2 * w * side * side, i64::from(config.classes)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
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
            &[
                None,
                Some(i64::from(c.channels)),
                Some(i64::from(c.size)),
                Some(i64::from(c.size)),
            ],
        )?;
        check_shape(
            step,
            "targets",
            &batch.targets,
            Kind::Int64,
            &[Some(super::batch_len(batch)?)],
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

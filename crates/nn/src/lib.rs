#![doc = include_str!("../README.md")]
//!
//! Portability: results are bitwise equal across runs and processes on one machine with
//! the same thread count, CPU dispatch level and libtorch; they differ across thread
//! counts and dispatch levels (see `docs/reproducibility.md`). It is the only lockstep
//! crate (with `lockstep-repro`) that links libtorch; `cargo xtask` sets libtorch up.
#![deny(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod determinism;
mod error;
pub mod fingerprint;
pub mod images;
pub mod models;
pub mod optim;
pub mod progress;
pub mod reseed;
mod safetensors_io;
pub mod schedule;
mod shim;
pub mod source;
pub mod trace;
pub mod trainer;

pub use batch::{Batch, BatchSource, SourceState};
pub use determinism::{
    CpuCapability, DeterminismConfig, DeterminismReport, Mode as DeterminismMode,
};
pub use error::{Error, ParallelError, Result};
pub use fingerprint::{model_fingerprint, tensor_fingerprint, Fingerprint};
pub use lockstep_core::{BBox, ClassId, LabeledBox};
pub use lockstep_distributed::{Collective, MicroPartition};
pub use models::classifier::{ClassifierConfig, SmallCnn};
pub use models::detector::{build_targets, DetectorConfig, TinyDetector};
pub use models::Model;
pub use optim::{Optimizer, OptimizerConfig};
pub use progress::ProgressMode;
pub use schedule::LrSchedule;
pub use source::{LabeledImage, SamplerSource};
pub use tch;
pub use trace::{Difference, Divergence, Phase, TraceOptions};
pub use trainer::{
    DeviceConfig, GradientReduction, ParallelOptions, ResumeOptions, StepEnd, TrainConfig, Trainer,
};

//! Deterministic training with libtorch through `tch`.
//!
//! - [`determinism::enable`]: the switch that turns on every libtorch setting
//!   reproducible training needs and reports what is in effect.
//! - [`reseed`]: libtorch's generator is reseeded from the seed tree before model init
//!   (`<run>/init`) and before every step (`<run>/step[k]`), so no generator state is
//!   ever saved or carried.
//! - [`models`]: [`TinyDetector`] (a grid detector) and [`SmallCnn`] (a classifier).
//! - [`optim`]: SGD and AdamW over tensor ops, with state we save.
//! - [`Trainer`]: steps, schedules, progress, checkpoints ([`checkpoint`]) and resume.
//! - [`fingerprint`] and [`trace`]: BLAKE3 fingerprints of tensors and models, a
//!   per-step trace, and [`trace::compare`] to name the first divergence.
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
pub mod models;
pub mod optim;
pub mod progress;
pub mod reseed;
mod safetensors_io;
pub mod schedule;
mod shim;
pub mod synthetic;
pub mod trace;
pub mod trainer;

pub use batch::{Batch, BatchSource};
pub use determinism::{enable, report, DeterminismConfig, DeterminismReport, Mode};
pub use error::{Error, Result};
pub use fingerprint::{model_fingerprint, tensor_fingerprint, Fingerprint};
pub use models::classifier::{ClassifierConfig, SmallCnn};
pub use models::detector::{build_targets, DetectorConfig, ObjectBox, TinyDetector};
pub use models::Model;
pub use optim::{Optimizer, OptimizerConfig};
pub use progress::ProgressMode;
pub use schedule::LrSchedule;
pub use tch;
pub use trace::{compare, Divergence, Phase, TraceOptions};
pub use trainer::{DeviceConfig, ResumeOptions, TrainConfig, Trainer};

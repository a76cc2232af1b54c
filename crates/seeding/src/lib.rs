#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod derive;
mod draws;
mod error;
pub mod keys;
mod path;
mod serial;
mod tree;

pub use draws::{SeedRng, NORMAL_MAX_ABS};
pub use error::{Error, Result};
pub use keys::{EpochKey, MicroKey, RunKey, SampleKey, StepKey};
pub use path::Segment;
pub use rand_core::RngCore;
pub use tree::{Root, SeedTree, MAX_PATH_DEPTH};

//! The reproducibility suite behind `cargo xtask repro`.
#![deny(missing_docs)]

pub mod draw;
pub mod environment;
mod error;
pub mod options;
pub mod owned;
pub mod plot;
pub mod report;
pub mod shapes;
pub mod stages;
pub mod suite;
pub mod worker;

pub use error::{Error, Result};

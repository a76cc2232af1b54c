#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod checks;
pub mod dataset_check;
pub mod distributed;
mod draw;
pub mod environment;
mod error;
pub mod layout;
pub mod options;
pub mod owned;
mod plot;
mod process;
pub mod report;
pub mod shapes;
pub mod stages;
pub mod suite;
pub mod worker;

pub use error::{Error, Result, SplitProblem};

//! Deterministic training with libtorch through `tch`.
//!
//! This crate starts with the determinism switch ([`determinism::enable`]), which turns on
//! every libtorch setting that reproducible training needs and reports what is in
//! effect. It is the only lockstep crate (with `lockstep-repro`) that links libtorch;
//! `cargo xtask` sets libtorch up.
#![deny(missing_docs)]

pub mod determinism;
mod error;
mod shim;

pub use determinism::{enable, report, DeterminismConfig, DeterminismReport, Mode};
pub use error::{Error, Result};
pub use tch;

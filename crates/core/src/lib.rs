#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod bbox;
mod class;
mod size;

pub use bbox::{BBox, LabeledBox};
pub use class::ClassId;
pub use size::ImageSize;

//! One module per crate; each public function is a target (see [`crate::TARGETS`]).

pub mod augment;
pub mod coco;
pub mod data;
pub mod nn;
pub mod postprocess;
pub mod repro;
pub mod seeding;

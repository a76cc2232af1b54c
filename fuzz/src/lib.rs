#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod bytes;
pub mod mutate;
pub mod scratch;
pub mod seeds;
mod targets;

pub use targets::augment::{compose_json, op_json};
pub use targets::coco::coco_annotations;
pub use targets::data::{buffered_shuffle_state, interleave_state, sampler_state};
pub use targets::nn::{checkpoint_manifest, safetensors};
pub use targets::postprocess::{metrics, nms};
pub use targets::repro::repro_cli;
pub use targets::seeding::seed_tree_json;

/// A fuzz target: must return normally on every input; a panic is a finding.
pub type Target = fn(&[u8]);

/// Every target by name, the name of its `fuzz/corpus/` and `fuzz/regressions/`
/// folders.
pub const TARGETS: &[(&str, Target)] = &[
    ("coco_annotations", coco_annotations),
    ("seed_tree_json", seed_tree_json),
    ("sampler_state", sampler_state),
    ("buffered_shuffle_state", buffered_shuffle_state),
    ("interleave_state", interleave_state),
    ("compose_json", compose_json),
    ("op_json", op_json),
    ("checkpoint_manifest", checkpoint_manifest),
    ("safetensors", safetensors),
    ("nms", nms),
    ("metrics", metrics),
    ("repro_cli", repro_cli),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|&(_, t)| t)
}

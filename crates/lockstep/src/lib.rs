#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

/// The shared vocabulary: boxes, class ids, image sizes (`lockstep-core`).
pub mod core {
    pub use lockstep_core::*;
}

/// The seed tree, its named key levels and the pinned draws (`lockstep-seeding`).
pub mod seeding {
    pub use lockstep_seeding::*;
}

/// Data order and datasets: sampler, shuffles, streams, COCO (`lockstep-data`, with its
/// `coco` feature).
pub mod data {
    pub use lockstep_data::*;
}

/// Keyed image and box augmentation (`lockstep-augment`).
pub mod augment {
    pub use lockstep_augment::*;
}

/// NMS and detection metrics (`lockstep-postprocess`).
pub mod postprocess {
    pub use lockstep_postprocess::*;
}

/// Deterministic training on libtorch (`lockstep-nn`); feature `nn`, off by default,
/// because it links libtorch.
#[cfg(feature = "nn")]
pub mod nn {
    pub use lockstep_nn::*;
}

/// The `image` crate, whose `RgbImage` the data and augment crates speak.
pub use image;

/// The common task in one import: `use lockstep::prelude::*;`.
///
/// COCO folder ([`CocoDataset`](prelude::CocoDataset)) → [`Sampler`](prelude::Sampler)
/// → augment ([`Compose`](prelude::Compose) of [`Op`](prelude::Op)s) → `TinyDetector`
/// (feature `nn`) → [`Nms`](prelude::Nms) → [`evaluate`](prelude::evaluate). Errors and
/// `Result` aliases are not here (they would shadow `std`'s); name them through the
/// crate modules (`lockstep::data::Error`, …).
pub mod prelude {
    pub use image::RgbImage;
    pub use lockstep_augment::{BoxPolicy, Compose, Op, Sample};
    pub use lockstep_core::{BBox, ClassId, ImageSize, LabeledBox};
    pub use lockstep_data::{CocoDataset, Dataset, InMemoryDataset, Sampler, SamplerConfig, Shard};
    pub use lockstep_postprocess::{
        batched_nms, evaluate, Detection, EvalConfig, GroundTruth, Nms,
    };
    pub use lockstep_seeding::{EpochKey, RunKey, SampleKey, SeedTree, StepKey};

    #[cfg(feature = "nn")]
    pub use lockstep_nn::{
        tch, BatchSource, DetectorConfig, Model, TinyDetector, TrainConfig, Trainer,
    };
}

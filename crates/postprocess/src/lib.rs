//! Detection post-processing whose output is a function of the *set* of boxes.
//!
//! * [`nms`], [`batched_nms`] and the [`Nms`] configuration: greedy hard NMS, TensorFlow
//!   v4-style padded output, TensorFlow v5-style soft-NMS ([`SoftNms`]), and class-aware
//!   NMS with exact per-class grouping.
//! * [`evaluate`]: COCO-style per-class AP, mAP@0.5, mAP@0.75 and mAP@[.5:.95], plus
//!   [`iou_matrix`] and [`greedy_match`].
//!
//! ```
//! use lockstep_postprocess::{boxes_from_yxyx, nms};
//!
//! // TensorFlow's test case, boxes given as (y1, x1, y2, x2).
//! let boxes = boxes_from_yxyx(&[
//!     [0.0, 0.0, 1.0, 1.0], [0.0, 0.1, 1.0, 1.1], [0.0, -0.1, 1.0, 0.9],
//!     [0.0, 10.0, 1.0, 11.0], [0.0, 10.1, 1.0, 11.1], [0.0, 100.0, 1.0, 101.0],
//! ]);
//! let scores = [0.9, 0.75, 0.6, 0.95, 0.5, 0.3];
//! assert_eq!(nms(&boxes, &scores, 0.5).unwrap(), vec![3, 0, 5]);
//! ```
//!
//! # The order, and why results do not depend on input order
//!
//! Candidates are visited by score descending, then by a canonical key (box coordinates
//! by `total_cmp`, then class, then raw score, then index; see [`TieBreak`]). The order is total, so the
//! kept boxes and their order are a function of the set of `(box, score, class)` inputs:
//! permuting the input only changes which index each kept box maps back to. An optional
//! [score quantum](Nms::score_quantum) makes last-bit score noise irrelevant.
//! IoU is [`iou`]: `f32`, no `+ 1`, 0 for zero-area boxes, suppression when `IoU > t`.
//!
//! # Portability
//!
//! | what | same machine | across machines | across thread counts |
//! | --- | --- | --- | --- |
//! | hard, padded, batched NMS indices | yes | yes: IEEE `f32`/`f64` add, sub, mul, div, min, max only | yes: single-threaded |
//! | soft-NMS indices and scores | yes | yes: `libm::expf` (pinned) instead of the platform `exp` | yes |
//! | metrics | yes | yes: `f64` arithmetic in a fixed order | yes |
//!
//! Inputs with NaN or infinite values are rejected with a typed [`Error`].
#![deny(missing_docs)]

mod boxes;
mod error;
mod eval;
mod greedy;
mod matching;
mod nms;
mod order;
pub mod soft;

pub use boxes::{area, boxes_from_yxyx, from_yxyx, iou, normalize, BBox};
pub use error::{Error, Result};
pub use eval::{
    coco_iou_thresholds, evaluate, ClassAp, Detection, EvalConfig, EvalReport, GroundTruth,
};
pub use greedy::{Algorithm, AUTO_GRID_MIN};
pub use matching::{greedy_match, iou_f64, iou_matrix, IouMatrix};
pub use nms::{batched_nms, nms, Nms, Padded, MIN_SCORE_QUANTUM};
pub use order::TieBreak;
pub use soft::{SoftNms, SoftOutput};

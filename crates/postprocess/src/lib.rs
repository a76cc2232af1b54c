#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod boxes;
mod error;
mod eval;
mod greedy;
mod matching;
mod nms;
mod order;
mod soft;

pub use boxes::{boxes_from_yxyx, from_yxyx, iou, normalize};
pub use error::{EntryField, EntryKind, Error, Input, Result};
pub use eval::{
    coco_iou_thresholds, evaluate, ClassAp, Detection, EvalConfig, EvalReport, GroundTruth,
};
pub use greedy::Algorithm;
pub use lockstep_core::{BBox, ClassId, LabeledBox};
pub use matching::{greedy_match, iou_f64, iou_matrix, IouMatrix};
pub use nms::{batched_nms, nms, Nms, Padded, MIN_SCORE_QUANTUM};
pub use order::TieBreak;
pub use soft::{SoftNms, SoftOutput};

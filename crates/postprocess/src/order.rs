//! The total order in which NMS considers boxes.
//!
//! Candidates are ranked by score key, descending, then by a tie key:
//!
//! * [`TieBreak::Canonical`] (the default): the normalised box `x1, y1, x2, y2`, each
//!   compared with `f32::total_cmp` (ascending), then the class, then the raw score
//!   (descending; it differs from the score key only under a score quantum), then the
//!   input index. The index decides only between entries that are identical in box,
//!   class and score, so the kept entries (and their order) depend only on the set of
//!   inputs.
//! * [`TieBreak::LowerIndex`]: the input index, ascending, as TensorFlow does.
//!
//! The score key is the score itself, or with a [`score quantum`](crate::Nms::score_quantum)
//! `q`, `roundTiesEven(score / q)` computed in `f64`; in both cases `-0.0` counts as
//! `+0.0`.

use std::cmp::Ordering;

use lockstep_core::{BBox, ClassId};
use serde::{Deserialize, Serialize};

/// How candidates with equal score keys are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TieBreak {
    /// Box coordinates (`total_cmp`, ascending), then class, then raw score
    /// (descending), then input index. Invariant under any permutation of the input.
    #[default]
    Canonical,
    /// The lower input index wins, as in TensorFlow's `non_max_suppression`.
    LowerIndex,
}

/// The key scores are compared by: the score in `f64`, or its index on the quantum grid.
pub(crate) fn score_key(score: f32, quantum: Option<f64>) -> f64 {
    let s = f64::from(score);
    // `+ 0.0` makes -0.0 and +0.0 one key.
    match quantum {
        None => s + 0.0,
        Some(q) => (s / q).round_ties_even() + 0.0,
    }
}

/// One box taking part in NMS, with everything the order needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    /// Position in the caller's input.
    pub index: usize,
    /// The score as given.
    pub score: f32,
    /// [`score_key`] of `score`.
    pub key: f64,
    /// The normalised box.
    pub bbox: BBox,
    /// The class (0 for class-agnostic NMS).
    pub class: ClassId,
}

/// Compares only the tie key (everything but the score).
pub(crate) fn tie_cmp(a: &Candidate, b: &Candidate, tie: TieBreak) -> Ordering {
    match tie {
        TieBreak::LowerIndex => a.index.cmp(&b.index),
        TieBreak::Canonical => (a.bbox.x1.total_cmp(&b.bbox.x1))
            .then_with(|| a.bbox.y1.total_cmp(&b.bbox.y1))
            .then_with(|| a.bbox.x2.total_cmp(&b.bbox.x2))
            .then_with(|| a.bbox.y2.total_cmp(&b.bbox.y2))
            .then(a.class.cmp(&b.class))
            // `+ 0.0`: -0.0 and +0.0 are one score.
            .then_with(|| (b.score + 0.0).total_cmp(&(a.score + 0.0)))
            .then(a.index.cmp(&b.index)),
    }
}

/// The full order: higher score key first, then the tie key.
pub(crate) fn candidate_cmp(a: &Candidate, b: &Candidate, tie: TieBreak) -> Ordering {
    b.key.total_cmp(&a.key).then_with(|| tie_cmp(a, b, tie))
}

/// Sorts candidates into NMS order. The order is total (indices are distinct), so an
/// unstable sort gives one answer.
pub(crate) fn sort_candidates(c: &mut [Candidate], tie: TieBreak) {
    c.sort_unstable_by(|a, b| candidate_cmp(a, b, tie));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(index: usize, score: f32, bbox: [f32; 4], class: u32) -> Candidate {
        Candidate {
            index,
            score,
            key: score_key(score, None),
            bbox: BBox::from(bbox),
            class: ClassId(class),
        }
    }

    #[test]
    fn score_key_quantises_to_the_grid() {
        assert_eq!(score_key(0.5, None), 0.5);
        assert_eq!(score_key(-0.0, None).to_bits(), 0.0f64.to_bits());
        // 0.1234567 / 1e-3 = 123.4567 -> 123; the neighbours within half a step agree.
        assert_eq!(score_key(0.1234567, Some(1e-3)), 123.0);
        assert_eq!(score_key(0.1230001, Some(1e-3)), 123.0);
        // Ties go to even: 2.5 -> 2.
        assert_eq!(score_key(2.5, Some(1.0)), 2.0);
        assert_eq!(score_key(-0.0001, Some(1.0)).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn canonical_order_is_score_then_box_then_class_then_index() {
        let b0 = [0.0, 0.0, 1.0, 1.0];
        let b1 = [0.0, 0.0, 1.0, 2.0];
        let mut c = vec![
            cand(0, 0.5, b1, 0),
            cand(1, 0.5, b0, 1),
            cand(2, 0.5, b0, 0),
            cand(3, 0.9, b1, 0),
            cand(4, 0.5, b0, 0),
        ];
        sort_candidates(&mut c, TieBreak::Canonical);
        let order: Vec<usize> = c.iter().map(|c| c.index).collect();
        assert_eq!(order, vec![3, 2, 4, 1, 0]);
        // Equal box and class: the higher raw score first, whatever the key says.
        let mut d = vec![cand(0, 0.25, b0, 0), cand(1, 0.5, b0, 0)];
        d[1].key = d[0].key;
        sort_candidates(&mut d, TieBreak::Canonical);
        assert_eq!(d[0].index, 1);
        sort_candidates(&mut c, TieBreak::LowerIndex);
        let order: Vec<usize> = c.iter().map(|c| c.index).collect();
        assert_eq!(order, vec![3, 0, 1, 2, 4]);
    }
}

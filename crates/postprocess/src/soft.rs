//! Soft-NMS: scores of overlapping boxes are decayed instead of dropped. The exact loop
//! is documented on [`Nms::run_soft`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use lockstep_core::BBox;
use serde::{Deserialize, Serialize};

use crate::boxes::{area, iou_normalized};
use crate::error::{Error, Result};
use crate::nms::{pad, Nms, Padded};
use crate::order::{score_key, tie_cmp, Candidate};

/// How soft-NMS decays the score of a box that overlaps a selected one. Deserialising
/// checks `sigma` as [`Nms::run_soft`] does ([`Error::Sigma`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSoftNms")]
#[non_exhaustive]
pub enum SoftNms {
    /// `score *= exp(-0.5 · IoU² / sigma)` for `IoU > 0`, as TensorFlow v5. `sigma` must be
    /// finite and `>= 0`; 0 means hard NMS. An IoU of 0 never changes a score.
    Gaussian {
        /// The `soft_nms_sigma` of TensorFlow.
        sigma: f32,
    },
    /// `score *= 1 - IoU` when `IoU > iou_threshold`.
    Linear,
}

/// The serde shape of [`SoftNms`], checked by `TryFrom` before it becomes one.
#[derive(Deserialize)]
enum RawSoftNms {
    Gaussian { sigma: f32 },
    Linear,
}

impl TryFrom<RawSoftNms> for SoftNms {
    type Error = Error;

    fn try_from(r: RawSoftNms) -> Result<Self> {
        let method = match r {
            RawSoftNms::Gaussian { sigma } => SoftNms::Gaussian { sigma },
            RawSoftNms::Linear => SoftNms::Linear,
        };
        method.validate()?;
        Ok(method)
    }
}

impl SoftNms {
    /// Checks the method: a Gaussian `sigma` must be finite and `>= 0`
    /// ([`Error::Sigma`]). [`Nms::run_soft`] calls it first.
    pub fn validate(&self) -> Result<()> {
        match *self {
            SoftNms::Gaussian { sigma } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(Error::Sigma { value: sigma })
            }
            _ => Ok(()),
        }
    }
}

/// The result of soft-NMS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftOutput {
    /// Selected input indices, in selection order.
    pub indices: Vec<usize>,
    /// The (decayed) score of each selected box at the time it was selected.
    pub scores: Vec<f32>,
}

impl SoftOutput {
    /// Pads indices (with 0) and scores (with 0.0) to `n` entries, as TensorFlow v5 with
    /// `pad_to_max_output_size=True`; returns the padded output (with the valid count)
    /// and the padded scores. It allocates `n` entries, the size the caller asked for;
    /// one that cannot be reserved is [`Error::PaddingTooLarge`].
    pub fn padded(mut self, n: u64) -> Result<(Padded, Vec<f32>)> {
        let padded = pad(self.indices, n)?;
        let len = padded.indices.len();
        self.scores
            .try_reserve_exact(len.saturating_sub(self.scores.len()))
            .map_err(|_| Error::PaddingTooLarge { requested: n })?;
        self.scores.resize(len, 0.0);
        Ok((padded, self.scores))
    }
}

/// An entry of the priority queue.
struct Entry {
    key: f64,
    /// Position of the candidate in the tie order (lower first).
    rank: usize,
    /// Which candidate.
    slot: usize,
    score: f32,
    /// Selected boxes before this position have already decayed this entry.
    compared: usize,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Max-heap order: higher key first, then lower rank.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(other.rank.cmp(&self.rank))
    }
}

impl Nms {
    /// Soft-NMS. Returns the selected indices and their decayed scores.
    ///
    /// The loop follows TensorFlow's `NonMaxSuppressionV5` (`non_max_suppression_with_scores`):
    ///
    /// 1. Candidates (`score > score_threshold`) go into a priority queue ordered by current
    ///    score key, descending, then by the [`TieBreak`](crate::TieBreak) key.
    /// 2. Pop the best candidate. Walk the boxes selected so far that it has not yet been
    ///    compared with, newest first, multiplying its score by `weight(IoU)` each time; stop
    ///    early once the score is `<= score_threshold`.
    /// 3. If its score did not change, select it (with that score). Otherwise, if the decayed
    ///    score is still `> score_threshold`, push it back; else drop it.
    /// 4. Repeat until the queue is empty or `max_output` boxes are selected.
    ///
    /// Weights, in `f32`: Gaussian `w = expf((-0.5 / sigma) * iou * iou)` (multiplied left to
    /// right, [`libm::expf`] so every machine gets the same bits), applied at any positive IoU
    /// as in TensorFlow (the IoU threshold plays no part); linear `w = 1 - iou` when
    /// `iou > iou_threshold`, else 1 (Bodla et al.). An IoU of 0 always has weight exactly 1,
    /// so a box that overlaps nothing keeps its score; every weight lies in `[0, 1]`. A
    /// Gaussian `sigma` of 0 means hard NMS, as in TensorFlow; a positive sigma so small that
    /// `-0.5 / sigma` overflows `f32` gives weight 0 at every positive IoU.
    ///
    /// The loop ends for every accepted input: an entry returns to the queue only after it
    /// met a box selected since its last pop, and an entry with nothing new to meet is
    /// selected, so each of the `n` candidates is popped at most `n + 1` times.
    pub fn run_soft(&self, boxes: &[BBox], scores: &[f32], method: SoftNms) -> Result<SoftOutput> {
        method.validate()?;
        let scale = match method {
            SoftNms::Gaussian { sigma } => {
                if sigma == 0.0 {
                    // TensorFlow: sigma 0 is hard NMS; scores come back unchanged.
                    let indices = self.run(boxes, scores)?;
                    let scores = indices
                        .iter()
                        .filter_map(|&i| scores.get(i).copied())
                        .collect();
                    return Ok(SoftOutput { indices, scores });
                }
                Some(-0.5 / sigma)
            }
            SoftNms::Linear => None,
        };
        let mut c = self.candidates(boxes, scores, None)?;
        let tie = self.tie_break;
        // Rank by the tie key once; the queue then orders by (current key, rank).
        c.sort_unstable_by(|a, b| tie_cmp(a, b, tie));
        let areas: Vec<f32> = c.iter().map(|c| area(&c.bbox)).collect();
        let quantum = self.score_quantum;
        let threshold = self.score_threshold;
        let above = |s: f32| threshold.is_none_or(|t| s > t);
        let iou_threshold = self.iou_threshold;
        let weight = |iou: f32| -> f32 {
            // No overlap never lowers a score. The early return also keeps NaN out:
            // a tiny sigma makes `scale` -inf, and -inf * 0 is NaN.
            if iou <= 0.0 {
                return 1.0;
            }
            // `iou` is in (0, 1] (see `iou_normalized`), so every weight is in [0, 1]:
            // -inf * iou * iou is -inf and expf(-inf) is 0.
            match scale {
                Some(scale) => libm::expf(scale * iou * iou),
                None if f64::from(iou) > iou_threshold => 1.0 - iou,
                None => 1.0,
            }
        };
        let mut queue: BinaryHeap<Entry> = c
            .iter()
            .enumerate()
            .map(|(rank, cand)| Entry {
                key: cand.key,
                rank,
                slot: rank,
                score: cand.score,
                compared: 0,
            })
            .collect();
        let max_output = self.max_total();
        let mut selected: Vec<usize> = Vec::new();
        let mut out = SoftOutput {
            indices: Vec::new(),
            scores: Vec::new(),
        };
        while out.indices.len() < max_output {
            let Some(mut e) = queue.pop() else { break };
            let original = e.score;
            let (me, my_area): (&Candidate, f32) = (&c[e.slot], areas[e.slot]);
            // Termination: an entry goes back into the queue only after it met a box
            // selected since its last pop, and one with nothing new to meet is selected,
            // so each entry is popped at most (selections + 1) times.
            let nothing_new = e.compared >= selected.len();
            for &s in selected.get(e.compared..).unwrap_or(&[]).iter().rev() {
                let iou = iou_normalized(&c[s].bbox, areas[s], &me.bbox, my_area);
                e.score *= weight(iou);
                if !above(e.score) {
                    break;
                }
            }
            e.compared = selected.len();
            if e.score == original || nothing_new {
                selected.push(e.slot);
                out.indices.push(me.index);
                out.scores.push(e.score);
            } else if above(e.score) && !e.score.is_nan() {
                e.key = score_key(e.score, quantum);
                queue.push(e);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx<const N: usize>(a: [[f32; 4]; N]) -> [BBox; N] {
        a.map(BBox::from)
    }
    use crate::order::TieBreak;

    #[test]
    fn negative_or_non_finite_sigma_is_an_error() {
        let b = bx([[0.0, 0.0, 1.0, 1.0]]);
        for sigma in [-0.5, f32::NAN, f32::INFINITY] {
            let r = Nms::new(0.5).run_soft(&b, &[1.0], SoftNms::Gaussian { sigma });
            assert!(matches!(r, Err(Error::Sigma { .. })), "{sigma}");
        }
    }

    #[test]
    fn sigma_zero_is_hard_nms() {
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.1, 0.0, 1.1, 1.0],
            [3.0, 0.0, 4.0, 1.0],
        ]);
        let s = [0.9, 0.8, 0.7];
        let out = Nms::new(0.5)
            .run_soft(&b, &s, SoftNms::Gaussian { sigma: 0.0 })
            .unwrap();
        assert_eq!(out.indices, vec![0, 2]);
        assert_eq!(out.scores, vec![0.9, 0.7]);
    }

    #[test]
    fn gaussian_decay_known_answer() {
        // Box 1 overlaps box 0 with IoU 0.9/1.1; it is decayed once and then selected
        // after the far box 2 only if its decayed score is below 0.7.
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.1, 0.0, 1.1, 1.0],
            [3.0, 0.0, 4.0, 1.0],
        ]);
        let s = [0.9f32, 0.8, 0.7];
        let out = Nms::new(0.5)
            .run_soft(&b, &s, SoftNms::Gaussian { sigma: 0.5 })
            .unwrap();
        let iou = iou_normalized(&b[0], 1.0, &b[1], area(&b[1]));
        let decayed = 0.8f32 * libm::expf(-iou * iou);
        assert!(decayed < 0.7);
        assert_eq!(out.indices, vec![0, 2, 1]);
        assert_eq!(out.scores[2].to_bits(), decayed.to_bits());
        assert_eq!(out.scores[..2], [0.9, 0.7]);
        // A score threshold above the decayed score drops box 1.
        let out = Nms::new(0.5)
            .with_score_threshold(0.5)
            .run_soft(&b, &s, SoftNms::Gaussian { sigma: 0.5 })
            .unwrap();
        assert!(decayed <= 0.5);
        assert_eq!(out.indices, vec![0, 2]);
    }

    #[test]
    fn linear_decay_known_answer() {
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.1, 0.0, 1.1, 1.0],
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 2.0, 1.0, 3.0],
        ]);
        let s = [0.9f32, 0.8, 0.3, 0.2];
        let out = Nms::new(0.5).run_soft(&b, &s, SoftNms::Linear).unwrap();
        let iou = iou_normalized(&b[0], 1.0, &b[1], area(&b[1]));
        let d1 = 0.8f32 * (1.0 - iou);
        // Box 2 duplicates box 0 exactly: weight 1 - 1 = 0, then its score 0 is still
        // above the (absent) threshold, so it is selected last with score 0.
        assert_eq!(out.indices, vec![0, 3, 1, 2]);
        assert_eq!(out.scores[2].to_bits(), d1.to_bits());
        assert_eq!(out.scores[3], 0.0);
        let out = Nms::new(0.5)
            .with_score_threshold(0.0)
            .run_soft(&b, &s, SoftNms::Linear)
            .unwrap();
        assert_eq!(out.indices, vec![0, 3, 1]);
    }

    #[test]
    fn ties_follow_the_tie_break() {
        let b = bx([[5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 1.0, 1.0]]);
        let s = [0.5, 0.5];
        let m = SoftNms::Gaussian { sigma: 0.5 };
        assert_eq!(
            Nms::new(0.5).run_soft(&b, &s, m).unwrap().indices,
            vec![1, 0]
        );
        let lower = Nms::new(0.5).with_tie_break(TieBreak::LowerIndex);
        assert_eq!(lower.run_soft(&b, &s, m).unwrap().indices, vec![0, 1]);
        let (p, sc) = lower
            .with_max_output(1)
            .run_soft(&b, &s, m)
            .unwrap()
            .padded(3)
            .unwrap();
        assert_eq!(
            p,
            Padded {
                indices: vec![0, 0, 0],
                valid: 1
            }
        );
        assert_eq!(sc, vec![0.5, 0.0, 0.0]);
    }

    /// Issue 10, defect 6: sigma 1e-40 made `-0.5 / sigma` -inf, `-inf * 0` NaN, and the
    /// NaN score dropped a box with IoU 0 (with a threshold) or looped forever (without).
    #[test]
    fn subnormal_sigma_keeps_disjoint_boxes_and_ends() {
        let b = bx([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0]]);
        let s = [0.9f32, 0.8];
        let m = SoftNms::Gaussian { sigma: 1e-40 };
        let out = Nms::new(0.5)
            .with_score_threshold(0.0)
            .run_soft(&b, &s, m)
            .unwrap();
        assert_eq!(out.indices, vec![0, 1]);
        assert_eq!(out.scores, vec![0.9, 0.8]);
        let out = Nms::new(0.5).run_soft(&b, &s, m).unwrap();
        assert_eq!(out.indices, vec![0, 1]);
        assert_eq!(out.scores, vec![0.9, 0.8]);
        // An overlapping box gets weight expf(-inf) = 0: dropped by a threshold of 0,
        // selected last with score 0 without one.
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.1, 0.0, 1.1, 1.0],
            [5.0, 5.0, 6.0, 6.0],
        ]);
        let s = [0.9f32, 0.8, 0.7];
        let out = Nms::new(0.5)
            .with_score_threshold(0.0)
            .run_soft(&b, &s, m)
            .unwrap();
        assert_eq!(out.indices, vec![0, 2]);
        let out = Nms::new(0.5).run_soft(&b, &s, m).unwrap();
        assert_eq!(out.indices, vec![0, 2, 1]);
        assert_eq!(out.scores, vec![0.9, 0.7, 0.0]);
    }

    #[test]
    fn zero_iou_never_lowers_a_score() {
        // Touching edges: intersection 0, so IoU 0.
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [1.0, 0.0, 2.0, 1.0],
            [0.0, 1.0, 1.0, 2.0],
        ]);
        let s = [0.9f32, 0.8, 1e-30];
        for sigma in [1e-45, 1e-40, f32::MIN_POSITIVE, 1e-30, 0.5, f32::MAX] {
            for t in [None, Some(0.0), Some(-1.0)] {
                let mut cfg = Nms::new(0.0);
                if let Some(t) = t {
                    cfg = cfg.with_score_threshold(t);
                }
                for m in [SoftNms::Gaussian { sigma }, SoftNms::Linear] {
                    let out = cfg.run_soft(&b, &s, m).unwrap();
                    assert_eq!(out.indices, vec![0, 1, 2], "{sigma} {t:?} {m:?}");
                    assert_eq!(out.scores, s.to_vec(), "{sigma} {t:?} {m:?}");
                }
            }
        }
    }

    /// `SoftOutput::padded` used `Vec::resize`, which aborts (capacity overflow) on a
    /// length that cannot be allocated; it is now the typed error `run_padded` gives.
    #[test]
    fn impossible_soft_padding_is_an_error_not_an_abort() {
        let b = bx([[0.0, 0.0, 1.0, 1.0]]);
        let out = Nms::new(0.5).run_soft(&b, &[0.5], SoftNms::Linear).unwrap();
        assert_eq!(
            out.padded(u64::MAX),
            Err(Error::PaddingTooLarge {
                requested: u64::MAX
            })
        );
    }

    #[test]
    fn deserialised_sigma_is_checked() {
        let ok: SoftNms = serde_json::from_str(r#"{"Gaussian":{"sigma":0.5}}"#).unwrap();
        assert_eq!(ok, SoftNms::Gaussian { sigma: 0.5 });
        let bad = serde_json::from_str::<SoftNms>(r#"{"Gaussian":{"sigma":-1.0}}"#);
        assert!(bad.unwrap_err().to_string().contains("sigma"));
        let lin: SoftNms = serde_json::from_str(r#""Linear""#).unwrap();
        assert_eq!(lin, SoftNms::Linear);
    }
}

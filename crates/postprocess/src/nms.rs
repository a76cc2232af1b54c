//! Hard NMS, padded NMS and class-aware (batched) NMS, and their configuration.

use lockstep_core::{BBox, ClassId};
use serde::{Deserialize, Serialize};

use crate::boxes::{check_scores, validated};
use crate::error::{Error, Input, Result};
use crate::greedy::{greedy, Algorithm};
use crate::order::{candidate_cmp, score_key, sort_candidates, Candidate, TieBreak};

/// NMS configuration: [`Nms::new`] with the IoU threshold, `with_*` setters, and
/// [`Nms::run`] and friends.
///
/// ```
/// use lockstep_postprocess::{BBox, Nms};
///
/// let boxes = [[0.0, 0.0, 1.0, 1.0], [0.05, 0.0, 1.05, 1.0], [5.0, 5.0, 6.0, 6.0]].map(BBox::from);
/// let scores = [0.9, 0.8, 0.7];
/// let nms = Nms::new(0.5).with_score_threshold(0.1).with_max_output(10);
/// assert_eq!(nms.run(&boxes, &scores)?, vec![0, 2]);
/// # Ok::<(), lockstep_postprocess::Error>(())
/// ```
///
/// Semantics, shared by every `run_*` method:
/// * candidates are the boxes with `score > score_threshold` (strict, as TensorFlow);
/// * they are visited in the total order of [`TieBreak`] (score descending first);
/// * a candidate is dropped when it has `IoU > iou_threshold` (strict) with an already
///   kept box, the IoU of [`iou`](crate::iou) computed in `f32` and compared in `f64`;
/// * at most `max_output` indices are returned, in visiting order.
///
/// Every `run_*` method first calls [`Nms::validate`]; deserialising checks the
/// configuration the same way ([`Error::IouThreshold`] and friends), so a bad file fails
/// where it is read. The fields are readable; build values with `new` and the setters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawNms")]
#[non_exhaustive]
pub struct Nms {
    /// Suppress when `IoU > iou_threshold`; must lie in `[0, 1]`.
    pub iou_threshold: f64,
    /// Only boxes with `score > t` are candidates; `None` for all boxes.
    pub score_threshold: Option<f32>,
    /// At most this many indices in total; `None` for no limit.
    pub max_output: Option<u64>,
    /// At most this many boxes per class in [`Nms::run_batched`] (and in total in
    /// [`Nms::run`]); `None` for no limit.
    pub max_output_per_class: Option<u64>,
    /// How equal score keys are ordered.
    pub tie_break: TieBreak,
    /// The score grid step, see [`Nms::with_score_quantum`]; `None` compares raw scores.
    pub score_quantum: Option<f64>,
    /// Which greedy implementation runs; all give the same result.
    pub algorithm: Algorithm,
}

/// The serde shape of [`Nms`], checked by `TryFrom` before it becomes one.
#[derive(Deserialize)]
struct RawNms {
    iou_threshold: f64,
    score_threshold: Option<f32>,
    max_output: Option<u64>,
    max_output_per_class: Option<u64>,
    tie_break: TieBreak,
    score_quantum: Option<f64>,
    algorithm: Algorithm,
}

impl TryFrom<RawNms> for Nms {
    type Error = Error;

    fn try_from(r: RawNms) -> Result<Self> {
        let nms = Nms {
            iou_threshold: r.iou_threshold,
            score_threshold: r.score_threshold,
            max_output: r.max_output,
            max_output_per_class: r.max_output_per_class,
            tie_break: r.tie_break,
            score_quantum: r.score_quantum,
            algorithm: r.algorithm,
        };
        nms.validate()?;
        Ok(nms)
    }
}

/// The smallest accepted [score quantum](Nms::with_score_quantum): every finite `f32`
/// score `s` has `|s| < 3.5e38`, so `|s| / q < 3.5e238` stays far inside `f64`. A smaller
/// `q` could overflow `s / q` to infinity and make every large score one key.
pub const MIN_SCORE_QUANTUM: f64 = 1e-200;

/// Output padded to a fixed length, as TensorFlow's `NonMaxSuppressionV4` with
/// `pad_to_max_output_size=True`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Padded {
    /// Exactly `max_output` entries: the kept indices, then zeros.
    pub indices: Vec<usize>,
    /// How many leading entries of `indices` are real.
    pub valid: usize,
}

/// Greedy hard NMS with the default configuration: `Nms::new(iou_threshold).run(..)`.
pub fn nms(boxes: &[BBox], scores: &[f32], iou_threshold: f64) -> Result<Vec<usize>> {
    Nms::new(iou_threshold).run(boxes, scores)
}

/// Class-aware NMS with the default configuration:
/// `Nms::new(iou_threshold).run_batched(..)`.
pub fn batched_nms(
    boxes: &[BBox],
    scores: &[f32],
    classes: &[ClassId],
    iou_threshold: f64,
) -> Result<Vec<usize>> {
    Nms::new(iou_threshold).run_batched(boxes, scores, classes)
}

/// A configured limit as a `usize`: one past `usize::MAX` cannot be reached by a slice.
fn limit(n: Option<u64>) -> usize {
    n.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
}

impl Nms {
    /// A configuration with the given IoU threshold, no score threshold, no output limit,
    /// [`TieBreak::Canonical`], no score quantum and [`Algorithm::Auto`].
    /// The threshold is checked when the configuration runs (it must lie in `[0, 1]`).
    pub fn new(iou_threshold: f64) -> Self {
        Self {
            iou_threshold,
            score_threshold: None,
            max_output: None,
            max_output_per_class: None,
            tie_break: TieBreak::Canonical,
            score_quantum: None,
            algorithm: Algorithm::Auto,
        }
    }

    /// Suppress when `IoU > t`; `t` must lie in `[0, 1]`.
    pub fn with_iou_threshold(mut self, t: f64) -> Self {
        self.iou_threshold = t;
        self
    }

    /// Only boxes with `score > t` (strict) are candidates. `t` must not be NaN.
    pub fn with_score_threshold(mut self, t: f32) -> Self {
        self.score_threshold = Some(t);
        self
    }

    /// Return at most `n` indices in total.
    pub fn with_max_output(mut self, n: u64) -> Self {
        self.max_output = Some(n);
        self
    }

    /// In [`Nms::run_batched`], keep at most `n` boxes of each class (applied before
    /// `max_output`). Plain NMS treats all boxes as one class.
    pub fn with_max_output_per_class(mut self, n: u64) -> Self {
        self.max_output_per_class = Some(n);
        self
    }

    /// How equal score keys are ordered; [`TieBreak::Canonical`] by default.
    pub fn with_tie_break(mut self, tie: TieBreak) -> Self {
        self.tie_break = tie;
        self
    }

    /// Compare scores on a grid of step `q`: the key of a score `s` is
    /// `roundTiesEven(s / q)` computed in `f64`. Scores within the same grid step become
    /// exact ties, resolved by the tie key, so last-bit differences between machines
    /// cannot reorder them (unless they straddle a grid boundary). `q` must be finite and
    /// at least [`MIN_SCORE_QUANTUM`] (else [`Error::ScoreQuantum`] when the
    /// configuration runs), so that `s / q` is finite for every finite `f32` score and a
    /// higher score never gets a lower key. The score threshold still compares raw
    /// scores; soft-NMS decays raw scores and orders them by their key.
    pub fn with_score_quantum(mut self, q: f64) -> Self {
        self.score_quantum = Some(q);
        self
    }

    /// Which greedy implementation to use; all give the same result.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Checks the configuration: the IoU threshold lies in `[0, 1]`
    /// ([`Error::IouThreshold`]), the score threshold is not NaN
    /// ([`Error::ScoreThresholdNan`]), a score quantum is finite and at least
    /// [`MIN_SCORE_QUANTUM`] ([`Error::ScoreQuantum`]).
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.iou_threshold) {
            return Err(Error::IouThreshold {
                value: self.iou_threshold,
            });
        }
        if self.score_threshold.is_some_and(f32::is_nan) {
            return Err(Error::ScoreThresholdNan);
        }
        if let Some(q) = self.score_quantum {
            if !(q.is_finite() && q >= MIN_SCORE_QUANTUM) {
                return Err(Error::ScoreQuantum { value: q });
            }
        }
        Ok(())
    }

    pub(crate) fn max_total(&self) -> usize {
        limit(self.max_output)
    }

    /// Validates inputs and returns the candidates (score above threshold), unsorted.
    pub(crate) fn candidates(
        &self,
        boxes: &[BBox],
        scores: &[f32],
        classes: Option<&[ClassId]>,
    ) -> Result<Vec<Candidate>> {
        self.validate()?;
        check_scores(boxes.len(), scores)?;
        if let Some(classes) = classes {
            if classes.len() != boxes.len() {
                return Err(Error::LengthMismatch {
                    what: Input::Classes,
                    boxes: boxes.len(),
                    found: classes.len(),
                });
            }
        }
        let boxes = validated(boxes)?;
        let quantum = self.score_quantum;
        Ok(boxes
            .into_iter()
            .zip(scores)
            .enumerate()
            .filter(|(_, (_, &s))| self.score_threshold.is_none_or(|t| s > t))
            .map(|(index, (bbox, &score))| Candidate {
                index,
                score,
                key: score_key(score, quantum),
                bbox,
                class: classes
                    .and_then(|c| c.get(index).copied())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Greedy hard NMS. Returns the indices of the kept boxes, in visiting order.
    pub fn run(&self, boxes: &[BBox], scores: &[f32]) -> Result<Vec<usize>> {
        let mut c = self.candidates(boxes, scores, None)?;
        sort_candidates(&mut c, self.tie_break);
        let limit = self.max_total().min(limit(self.max_output_per_class));
        Ok(greedy(&c, self.iou_threshold, limit, self.algorithm)
            .into_iter()
            .filter_map(|p| c.get(p).map(|c| c.index))
            .collect())
    }

    /// [`Nms::run`] padded with zeros to `max_output` entries (which must be set), as
    /// TensorFlow's `NonMaxSuppressionV4`. It allocates `max_output` entries, the size the
    /// caller asked for; one that cannot be reserved is [`Error::PaddingTooLarge`].
    pub fn run_padded(&self, boxes: &[BBox], scores: &[f32]) -> Result<Padded> {
        let n = self.max_output.ok_or(Error::PaddingWithoutMaxOutput)?;
        let indices = self.run(boxes, scores)?;
        pad(indices, n)
    }

    /// Class-aware NMS: boxes suppress only boxes of the same class. Each class is
    /// reduced by greedy NMS on its own (exact grouping, no coordinate offsets), keeping
    /// at most `max_output_per_class`; the kept boxes of all classes are then merged in
    /// the global visiting order (score key descending, then the tie key, which includes
    /// the class) and cut to `max_output`.
    pub fn run_batched(
        &self,
        boxes: &[BBox],
        scores: &[f32],
        classes: &[ClassId],
    ) -> Result<Vec<usize>> {
        let mut c = self.candidates(boxes, scores, Some(classes))?;
        // Group by class, then NMS order within each class.
        let tie = self.tie_break;
        c.sort_unstable_by(|a, b| a.class.cmp(&b.class).then_with(|| candidate_cmp(a, b, tie)));
        let per_class = limit(self.max_output_per_class);
        let mut kept: Vec<Candidate> = Vec::new();
        for group in c.chunk_by(|a, b| a.class == b.class) {
            let positions = greedy(group, self.iou_threshold, per_class, self.algorithm);
            kept.extend(positions.into_iter().filter_map(|p| group.get(p).copied()));
        }
        sort_candidates(&mut kept, tie);
        kept.truncate(self.max_total());
        Ok(kept.into_iter().map(|c| c.index).collect())
    }

    /// [`Nms::run_batched`] padded with zeros to `max_output` entries (which must be set).
    pub fn run_batched_padded(
        &self,
        boxes: &[BBox],
        scores: &[f32],
        classes: &[ClassId],
    ) -> Result<Padded> {
        let n = self.max_output.ok_or(Error::PaddingWithoutMaxOutput)?;
        let indices = self.run_batched(boxes, scores, classes)?;
        pad(indices, n)
    }
}

/// Pads to `n` entries. `n` is the caller's `max_output`: a length that cannot even be
/// reserved is [`Error::PaddingTooLarge`] instead of an abort.
pub(crate) fn pad(mut indices: Vec<usize>, n: u64) -> Result<Padded> {
    let too_large = Error::PaddingTooLarge { requested: n };
    let len = usize::try_from(n).map_err(|_| too_large.clone())?;
    let valid = indices.len();
    indices
        .try_reserve_exact(len.saturating_sub(valid))
        .map_err(|_| too_large)?;
    indices.resize(len.max(valid), 0);
    Ok(Padded { indices, valid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx<const N: usize>(a: [[f32; 4]; N]) -> [BBox; N] {
        a.map(BBox::from)
    }

    #[test]
    fn typed_errors_for_bad_configuration() {
        let b = bx([[0.0, 0.0, 1.0, 1.0]]);
        assert_eq!(
            nms(&b, &[0.5], 1.5),
            Err(Error::IouThreshold { value: 1.5 })
        );
        assert!(matches!(
            nms(&b, &[0.5], f64::NAN),
            Err(Error::IouThreshold { .. })
        ));
        assert_eq!(
            nms(&b, &[0.5], -0.1),
            Err(Error::IouThreshold { value: -0.1 })
        );
        assert_eq!(
            Nms::new(0.5).with_score_threshold(f32::NAN).run(&b, &[0.5]),
            Err(Error::ScoreThresholdNan)
        );
        assert_eq!(
            Nms::new(0.5).with_score_quantum(0.0).run(&b, &[0.5]),
            Err(Error::ScoreQuantum { value: 0.0 })
        );
        assert_eq!(
            Nms::new(0.5).run_padded(&b, &[0.5]),
            Err(Error::PaddingWithoutMaxOutput)
        );
        assert_eq!(
            batched_nms(&b, &[0.5], &[], 0.5),
            Err(Error::LengthMismatch {
                what: Input::Classes,
                boxes: 1,
                found: 0
            })
        );
    }

    #[test]
    fn thresholds_at_the_ends_of_the_range() {
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0],
            [0.5, 0.0, 1.5, 1.0],
            [3.0, 3.0, 4.0, 4.0],
        ]);
        let s = [0.9, 0.8, 0.7, 0.6];
        // IoU 1 is never > 1: nothing is suppressed.
        assert_eq!(nms(&b, &s, 1.0).unwrap(), vec![0, 1, 2, 3]);
        // Threshold 0: any positive overlap suppresses.
        assert_eq!(nms(&b, &s, 0.0).unwrap(), vec![0, 3]);
    }

    #[test]
    fn impossible_padding_is_an_error_not_an_abort() {
        let b = bx([[0.0, 0.0, 1.0, 1.0]]);
        assert_eq!(
            Nms::new(0.5)
                .with_max_output(u64::MAX)
                .run_padded(&b, &[0.5]),
            Err(Error::PaddingTooLarge {
                requested: u64::MAX
            })
        );
    }

    #[test]
    fn padded_output_fills_with_zeros() {
        let b = bx([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]);
        let p = Nms::new(0.5)
            .with_max_output(4)
            .run_padded(&b, &[0.3, 0.4])
            .unwrap();
        assert_eq!(
            p,
            Padded {
                indices: vec![1, 0, 0, 0],
                valid: 1
            }
        );
    }

    #[test]
    fn batched_keeps_overlapping_boxes_of_different_classes() {
        let b = bx([
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0],
            [0.0, 0.0, 1.0, 1.0],
            [-5.0, -5.0, -4.0, -4.0],
        ]);
        let s = [0.9, 0.8, 0.95, 0.1];
        let c = [0, 1, 0, 1].map(ClassId);
        let keep = batched_nms(&b, &s, &c, 0.5).unwrap();
        assert_eq!(keep, vec![2, 1, 3]);
        let keep = Nms::new(0.5)
            .with_max_output_per_class(1)
            .with_max_output(10)
            .run_batched(&b, &s, &c)
            .unwrap();
        assert_eq!(keep, vec![2, 1]);
        let p = Nms::new(0.5)
            .with_max_output(2)
            .run_batched_padded(&b, &s, &c)
            .unwrap();
        assert_eq!(
            p,
            Padded {
                indices: vec![2, 1],
                valid: 2
            }
        );
    }

    #[test]
    fn quantum_turns_near_ties_into_canonical_ties() {
        // Same box twice with scores one ulp apart: without a quantum the higher score
        // wins.
        let b = bx([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]);
        let hi = 0.5f32;
        let lo = f32::from_bits(hi.to_bits() - 1);
        assert_eq!(nms(&b, &[lo, hi], 0.5).unwrap(), vec![1]);
        // With a quantum they tie on the key; the canonical key then prefers the higher
        // raw score, wherever it sits in the input.
        let q = Nms::new(0.5).with_score_quantum(1e-4);
        assert_eq!(q.run(&b, &[lo, hi]).unwrap(), vec![1]);
        assert_eq!(q.run(&b, &[hi, lo]).unwrap(), vec![0]);
        // A box earlier in the canonical key beats a higher raw score in the same bucket.
        let b2 = bx([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.01]]);
        assert_eq!(q.run(&b2, &[lo, hi]).unwrap(), vec![0]);
        assert_eq!(nms(&b2, &[lo, hi], 0.5).unwrap(), vec![1]);
    }

    /// Issue 10, defect 10: with q = 1e-320, `0.1 / q` and `0.9 / q` both overflowed to
    /// the same infinite key and the canonical key kept the 0.1 box.
    #[test]
    fn quanta_that_overflow_the_key_are_refused() {
        let b = bx([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.01]]);
        let s = [0.1, 0.9];
        for q in [1e-320, 1e-250, MIN_SCORE_QUANTUM / 2.0] {
            assert_eq!(
                Nms::new(0.5).with_score_quantum(q).run(&b, &s),
                Err(Error::ScoreQuantum { value: q })
            );
        }
        let q = Nms::new(0.5).with_score_quantum(MIN_SCORE_QUANTUM);
        assert_eq!(q.run(&b, &s).unwrap(), vec![1]);
        // At the bound the largest scores still get finite, ordered keys.
        let keys = [f32::MAX, 1e30, 0.9, 0.1, f32::from_bits(1), 0.0, -f32::MAX]
            .map(|s| score_key(s, Some(MIN_SCORE_QUANTUM)));
        assert!(keys.iter().all(|k| k.is_finite()));
        assert!(keys.windows(2).all(|w| w[0] > w[1]));
        // A huge quantum makes every score one key: allowed, ties go to the tie key.
        let huge = Nms::new(0.5).with_score_quantum(f64::MAX);
        assert_eq!(huge.run(&b, &s).unwrap(), vec![0]);
    }

    /// The serde form is that of 0.1 (same field names, counts as plain numbers).
    #[test]
    fn serialised_form_is_unchanged() {
        let nms = Nms::new(0.5)
            .with_max_output(3)
            .with_tie_break(TieBreak::LowerIndex);
        assert_eq!(
            serde_json::to_string(&nms).unwrap(),
            r#"{"iou_threshold":0.5,"score_threshold":null,"max_output":3,"max_output_per_class":null,"tie_break":"LowerIndex","score_quantum":null,"algorithm":"Auto"}"#
        );
    }

    #[test]
    fn deserialised_configurations_are_checked() {
        let good = Nms::new(0.5)
            .with_score_threshold(0.1)
            .with_score_quantum(1e-3);
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<Nms>(&json).unwrap(), good);
        for (from, to) in [
            ("\"iou_threshold\":0.5", "\"iou_threshold\":1.5"),
            ("\"score_quantum\":0.001", "\"score_quantum\":1e-320"),
            ("\"score_quantum\":0.001", "\"score_quantum\":0.0"),
        ] {
            assert!(json.contains(from), "{json}");
            let bad = json.replace(from, to);
            assert!(serde_json::from_str::<Nms>(&bad).is_err(), "{bad}");
        }
    }
}

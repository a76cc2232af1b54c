//! IoU matrices and greedy detection-to-ground-truth matching, in `f64` as pycocotools.

use lockstep_core::BBox;
use serde::{Deserialize, Serialize};

use crate::boxes::{check_boxes, normalize};
use crate::error::{Error, Result};

/// IoU in `f64` on boxes as given (normalised first), the formula of the metrics:
/// `inter / (area_a + area_b - inter)` with every operation in `f64`, no `+ 1`, and 0
/// when either box has zero area. NMS uses the `f32` [`iou`](crate::iou) instead, as
/// torchvision and TensorFlow do.
pub fn iou_f64(a: &BBox, b: &BBox) -> f64 {
    let a = normalize(*a).to_array().map(f64::from);
    let b = normalize(*b).to_array().map(f64::from);
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    if area_a <= 0.0 || area_b <= 0.0 {
        return 0.0;
    }
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / (area_a + area_b - inter)
}

/// A dense row-major matrix of IoUs: rows are the first box set, columns the second.
/// Deserialising checks that `values` holds exactly `rows · cols` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawIouMatrix")]
pub struct IouMatrix {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

/// The serde shape of [`IouMatrix`], checked by `TryFrom` before it becomes one.
#[derive(Deserialize)]
struct RawIouMatrix {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

impl TryFrom<RawIouMatrix> for IouMatrix {
    type Error = Error;

    fn try_from(r: RawIouMatrix) -> Result<Self> {
        if r.rows.checked_mul(r.cols) != Some(r.values.len()) {
            return Err(Error::MatrixShape {
                rows: r.rows,
                cols: r.cols,
                values: r.values.len(),
            });
        }
        Ok(IouMatrix {
            rows: r.rows,
            cols: r.cols,
            values: r.values,
        })
    }
}

impl IouMatrix {
    /// Number of rows (boxes of the first set).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns (boxes of the second set).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The IoU of row box `r` and column box `c`, or `None` out of range.
    pub fn get(&self, r: usize, c: usize) -> Option<f64> {
        if r < self.rows && c < self.cols {
            // r < rows and c < cols, and rows · cols = values.len(): no overflow.
            self.values.get(r * self.cols + c).copied()
        } else {
            None
        }
    }
    /// Row `r` as a slice, or `None` out of range.
    pub fn row(&self, r: usize) -> Option<&[f64]> {
        (r < self.rows)
            .then(|| self.values.get(r * self.cols..(r + 1) * self.cols))
            .flatten()
    }
    /// All values, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }
}

/// The matrix of [`iou_f64`] between every box of `a` (rows) and of `b` (columns).
/// Errors on a NaN or infinite coordinate.
pub fn iou_matrix(a: &[BBox], b: &[BBox]) -> Result<IouMatrix> {
    check_boxes(a)?;
    check_boxes(b)?;
    Ok(iou_matrix_unchecked(a, b))
}

pub(crate) fn iou_matrix_unchecked(a: &[BBox], b: &[BBox]) -> IouMatrix {
    let values = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| iou_f64(x, y)))
        .collect();
    IouMatrix {
        rows: a.len(),
        cols: b.len(),
        values,
    }
}

/// The effective match threshold: pycocotools caps it at `1 - 1e-10` so that a threshold
/// of 1 can still match identical boxes.
pub(crate) fn match_threshold(t: f64) -> f64 {
    t.min(1.0 - 1e-10)
}

/// Greedy matching over an IoU matrix whose rows are detections already in visiting
/// order. Each detection takes the still-unmatched column with the highest IoU
/// `>= threshold`; among equal IoUs the later column wins (as pycocotools).
pub(crate) fn match_rows(ious: &IouMatrix, threshold: f64) -> Vec<Option<usize>> {
    let t = match_threshold(threshold);
    let mut taken = vec![false; ious.cols()];
    (0..ious.rows())
        .map(|r| {
            let row = ious.row(r).unwrap_or(&[]);
            let mut best: Option<(usize, f64)> = None;
            for (c, (&v, &used)) in row.iter().zip(&taken).enumerate() {
                let floor = best.map_or(t, |(_, b)| b);
                if !used && v >= floor {
                    best = Some((c, v));
                }
            }
            let m = best.map(|(c, _)| c);
            if let Some(slot) = m.and_then(|c| taken.get_mut(c)) {
                *slot = true;
            }
            m
        })
        .collect()
}

/// Greedy matching of detections to ground truth, the rule COCO evaluation uses:
/// detections are visited by score descending (ties: lower input index first), and each
/// takes the unmatched ground-truth box with the highest IoU ([`iou_f64`]) that is
/// `>= iou_threshold` (note: `>=`, unlike NMS's strict `>`; a threshold of 1 acts as
/// `1 - 1e-10`); among equal IoUs the later ground truth wins. Returns, for each
/// detection in input order, the index of its ground truth or `None`.
pub fn greedy_match(
    det_boxes: &[BBox],
    det_scores: &[f32],
    gt_boxes: &[BBox],
    iou_threshold: f64,
) -> Result<Vec<Option<usize>>> {
    crate::boxes::check_scores(det_boxes.len(), det_scores)?;
    if !(0.0..=1.0).contains(&iou_threshold) {
        return Err(Error::EvalIouThreshold {
            value: iou_threshold,
        });
    }
    check_boxes(det_boxes)?;
    check_boxes(gt_boxes)?;
    let mut order: Vec<usize> = (0..det_boxes.len()).collect();
    order.sort_by(|&a, &b| det_scores[b].total_cmp(&det_scores[a]).then(a.cmp(&b)));
    let sorted: Vec<BBox> = order
        .iter()
        .filter_map(|&i| det_boxes.get(i).copied())
        .collect();
    let matches = match_rows(&iou_matrix_unchecked(&sorted, gt_boxes), iou_threshold);
    let mut out = vec![None; det_boxes.len()];
    for (&i, m) in order.iter().zip(matches) {
        if let Some(slot) = out.get_mut(i) {
            *slot = m;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx<const N: usize>(a: [[f32; 4]; N]) -> [BBox; N] {
        a.map(BBox::from)
    }

    #[test]
    fn iou_matrix_known_values() {
        let a = bx([[0.0, 0.0, 2.0, 2.0], [10.0, 10.0, 11.0, 11.0]]);
        let b = bx([
            [1.0, 0.0, 3.0, 2.0],
            [0.0, 0.0, 2.0, 2.0],
            [2.0, 2.0, 2.0, 5.0],
        ]);
        let m = iou_matrix(&a, &b).unwrap();
        assert_eq!((m.rows(), m.cols()), (2, 3));
        assert_eq!(m.get(0, 0), Some(2.0 / 6.0));
        assert_eq!(m.get(0, 1), Some(1.0));
        assert_eq!(m.get(0, 2), Some(0.0));
        assert_eq!(m.row(1), Some(&[0.0, 0.0, 0.0][..]));
        assert_eq!(m.get(2, 0), None);
        assert!(iou_matrix(&bx([[0.0, f32::NAN, 1.0, 1.0]]), &b).is_err());
    }

    #[test]
    fn greedy_match_prefers_high_scores_then_high_iou() {
        let gts = bx([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]]);
        let dets = bx([
            [1.0, 0.0, 11.0, 10.0],  // IoU 9/11 with gt 0
            [0.0, 0.0, 10.0, 10.0],  // exact gt 0, higher score: takes it first
            [21.0, 0.0, 31.0, 10.0], // gt 1
            [50.0, 0.0, 60.0, 10.0], // nothing
        ]);
        let m = greedy_match(&dets, &[0.5, 0.9, 0.4, 0.8], &gts, 0.5).unwrap();
        assert_eq!(m, vec![None, Some(0), Some(1), None]);
        // With a threshold above 9/11 the shifted box 2 no longer matches.
        let m = greedy_match(&dets, &[0.5, 0.9, 0.4, 0.8], &gts, 0.85).unwrap();
        assert_eq!(m, vec![None, Some(0), None, None]);
        // Threshold 1 still matches an exact duplicate.
        let m = greedy_match(&dets[1..2], &[0.9], &gts, 1.0).unwrap();
        assert_eq!(m, vec![Some(0)]);
    }

    #[test]
    fn equal_iou_goes_to_the_later_ground_truth() {
        let gts = bx([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]]);
        let m = greedy_match(&bx([[0.0, 0.0, 2.0, 2.0]]), &[1.0], &gts, 0.5).unwrap();
        assert_eq!(m, vec![Some(1)]);
    }

    #[test]
    fn deserialised_matrices_must_be_consistent() {
        let one = bx([[0.0, 0.0, 1.0, 1.0]]);
        let m = iou_matrix(&one, &one).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<IouMatrix>(&json).unwrap(), m);
        // A claimed shape larger than the values (or one whose product overflows) used
        // to be accepted; `row` and `get` then indexed past the end or overflowed.
        for bad in [
            r#"{"rows":2,"cols":1,"values":[1.0]}"#,
            r#"{"rows":18446744073709551615,"cols":2,"values":[]}"#,
        ] {
            assert!(serde_json::from_str::<IouMatrix>(bad).is_err(), "{bad}");
        }
    }
}

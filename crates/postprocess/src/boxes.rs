//! Box layout, normalisation and the IoU used by NMS.
//!
//! A box is `[x1, y1, x2, y2]` in `f32`. Corners may arrive in either diagonal order (as
//! TensorFlow allows); [`normalize`] turns any box into `x1 <= x2`, `y1 <= y2`.

use crate::error::{Error, Result};

/// A box as `[x1, y1, x2, y2]`.
pub type BBox = [f32; 4];

/// Converts a box in TensorFlow's `[y1, x1, y2, x2]` layout to `[x1, y1, x2, y2]`.
/// Only the layout changes; corners are not reordered (see [`normalize`]).
pub fn from_yxyx(b: [f32; 4]) -> BBox {
    [b[1], b[0], b[3], b[2]]
}

/// Converts a slice of TensorFlow-layout boxes, see [`from_yxyx`].
pub fn boxes_from_yxyx(boxes: &[[f32; 4]]) -> Vec<BBox> {
    boxes.iter().map(|&b| from_yxyx(b)).collect()
}

/// Orders the corners so that `x1 <= x2` and `y1 <= y2`, and turns `-0.0` into `+0.0`
/// so that geometrically identical boxes have identical bits (the canonical tie key
/// compares bits).
pub fn normalize(b: BBox) -> BBox {
    // `+ 0.0` maps -0.0 to +0.0 and leaves every other value unchanged.
    [
        b[0].min(b[2]) + 0.0,
        b[1].min(b[3]) + 0.0,
        b[0].max(b[2]) + 0.0,
        b[1].max(b[3]) + 0.0,
    ]
}

/// The area `(x2 - x1) * (y2 - y1)` of a normalised box, in `f32`.
pub fn area(b: &BBox) -> f32 {
    (b[2] - b[0]) * (b[3] - b[1])
}

/// Intersection over union of two boxes, in `f32`, the formula NMS uses.
///
/// Both boxes are normalised first. With `area = (x2 - x1) * (y2 - y1)` and
/// `inter = max(0, min(ax2, bx2) - max(ax1, bx1)) * max(0, min(ay2, by2) - max(ay1, by1))`,
/// `iou = inter / (area_a + area_b - inter)`, every operation in `f32` in that order
/// (no `+ 1`, as torchvision and TensorFlow). If either box has zero area the IoU is 0;
/// if the division is NaN (only when areas overflow `f32`), the IoU is 0. The result is
/// symmetric bit for bit: `iou(a, b) == iou(b, a)`.
pub fn iou(a: &BBox, b: &BBox) -> f32 {
    let (a, b) = (normalize(*a), normalize(*b));
    iou_normalized(&a, area(&a), &b, area(&b))
}

/// [`iou`] on boxes already normalised, with their areas precomputed.
#[inline]
pub(crate) fn iou_normalized(a: &BBox, area_a: f32, b: &BBox, area_b: f32) -> f32 {
    if area_a <= 0.0 || area_b <= 0.0 {
        return 0.0;
    }
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let v = inter / (area_a + area_b - inter);
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Checks every coordinate is finite and returns the normalised boxes.
pub(crate) fn validated(boxes: &[BBox]) -> Result<Vec<BBox>> {
    boxes
        .iter()
        .enumerate()
        .map(|(index, b)| {
            if let Some((coordinate, &value)) = b.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(Error::NonFiniteCoordinate {
                    index,
                    coordinate,
                    value,
                });
            }
            Ok(normalize(*b))
        })
        .collect()
}

/// Checks `scores` matches `boxes` in length and holds only finite values.
pub(crate) fn check_scores(boxes: usize, scores: &[f32]) -> Result<()> {
    if scores.len() != boxes {
        return Err(Error::LengthMismatch {
            what: "scores",
            boxes,
            found: scores.len(),
        });
    }
    match scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        Some((index, &value)) => Err(Error::NonFiniteScore { index, value }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yxyx_conversion_swaps_axes() {
        assert_eq!(from_yxyx([1.0, 2.0, 3.0, 4.0]), [2.0, 1.0, 4.0, 3.0]);
        assert_eq!(
            boxes_from_yxyx(&[[0.0, 0.1, 1.0, 1.1]]),
            vec![[0.1, 0.0, 1.1, 1.0]]
        );
    }

    #[test]
    fn normalize_orders_corners_and_clears_negative_zero() {
        assert_eq!(normalize([2.0, 3.0, 0.0, 1.0]), [0.0, 1.0, 2.0, 3.0]);
        let n = normalize([-0.0, 0.0, 1.0, 1.0]);
        assert_eq!(n[0].to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn iou_known_values() {
        // Two unit squares overlapping by half: inter 0.5, union 1.5.
        let v = iou(&[0.0, 0.0, 1.0, 1.0], &[0.5, 0.0, 1.5, 1.0]);
        assert_eq!(v.to_bits(), (0.5f32 / 1.5f32).to_bits());
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[0.0, 0.0, 1.0, 1.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
        // Flipped corners describe the same box.
        assert_eq!(iou(&[1.0, 1.0, 0.0, 0.0], &[0.0, 0.0, 1.0, 1.0]), 1.0);
    }

    #[test]
    fn degenerate_boxes_have_zero_iou() {
        let point = [1.0, 1.0, 1.0, 1.0];
        assert_eq!(iou(&point, &point), 0.0);
        assert_eq!(iou(&[0.0, 0.0, 2.0, 0.0], &[0.0, 0.0, 2.0, 2.0]), 0.0);
    }

    #[test]
    fn overflowing_areas_give_zero_not_nan() {
        let huge = [-3.0e38, -3.0e38, 3.0e38, 3.0e38];
        assert_eq!(iou(&huge, &huge), 0.0);
    }

    #[test]
    fn validation_reports_the_offending_coordinate() {
        let err = validated(&[[0.0; 4], [0.0, 0.0, f32::NAN, 1.0]]).unwrap_err();
        assert!(matches!(
            err,
            Error::NonFiniteCoordinate {
                index: 1,
                coordinate: 2,
                ..
            }
        ));
        let err = check_scores(2, &[0.0, f32::INFINITY]).unwrap_err();
        assert_eq!(
            err,
            Error::NonFiniteScore {
                index: 1,
                value: f32::INFINITY
            }
        );
        assert!(matches!(
            check_scores(2, &[0.0]),
            Err(Error::LengthMismatch {
                boxes: 2,
                found: 1,
                ..
            })
        ));
    }
}

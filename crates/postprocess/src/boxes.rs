//! Box layout, normalisation and the IoU used by NMS.
//!
//! A box is [`lockstep_core::BBox`], `(x1, y1, x2, y2)` in `f32`. Corners may arrive in
//! either diagonal order (as TensorFlow allows); [`normalize`] turns any box into
//! `x1 <= x2`, `y1 <= y2`.

use lockstep_core::BBox;

use crate::error::{Error, Input, Result};

/// Converts a box in TensorFlow's `[y1, x1, y2, x2]` layout to a [`BBox`].
/// Only the layout changes; corners are not reordered (see [`normalize`]).
pub fn from_yxyx(b: [f32; 4]) -> BBox {
    BBox::new(b[1], b[0], b[3], b[2])
}

/// Converts a slice of TensorFlow-layout boxes, see [`from_yxyx`].
pub fn boxes_from_yxyx(boxes: &[[f32; 4]]) -> Vec<BBox> {
    boxes.iter().map(|&b| from_yxyx(b)).collect()
}

/// Orders the corners so that `x1 <= x2` and `y1 <= y2`, and turns `-0.0` into `+0.0`
/// so that geometrically identical boxes have identical bits (the canonical tie key
/// compares bits).
#[inline]
pub fn normalize(b: BBox) -> BBox {
    // `+ 0.0` maps -0.0 to +0.0 and leaves every other value unchanged.
    BBox {
        x1: b.x1.min(b.x2) + 0.0,
        y1: b.y1.min(b.y2) + 0.0,
        x2: b.x1.max(b.x2) + 0.0,
        y2: b.y1.max(b.y2) + 0.0,
    }
}

/// The area `(x2 - x1) * (y2 - y1)` of a normalised box, in `f32` (the same bits as
/// [`BBox::area`], kept here so the hot loops inline it).
#[inline]
pub(crate) fn area(b: &BBox) -> f32 {
    (b.x2 - b.x1) * (b.y2 - b.y1)
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
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = w * h;
    let v = inter / (area_a + area_b - inter);
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// The first non-finite coordinate of `b`: its position (0..4, corner order) and value.
pub(crate) fn non_finite(b: &BBox) -> Option<(usize, f32)> {
    b.to_array()
        .into_iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
}

/// Checks every coordinate is finite.
pub(crate) fn check_boxes(boxes: &[BBox]) -> Result<()> {
    for (index, b) in boxes.iter().enumerate() {
        if let Some((coordinate, value)) = non_finite(b) {
            return Err(Error::NonFiniteCoordinate {
                index,
                coordinate,
                value,
            });
        }
    }
    Ok(())
}

/// Checks every coordinate is finite and returns the normalised boxes.
pub(crate) fn validated(boxes: &[BBox]) -> Result<Vec<BBox>> {
    boxes
        .iter()
        .enumerate()
        .map(|(index, b)| match non_finite(b) {
            Some((coordinate, value)) => Err(Error::NonFiniteCoordinate {
                index,
                coordinate,
                value,
            }),
            None => Ok(normalize(*b)),
        })
        .collect()
}

/// Checks `scores` matches `boxes` in length and holds only finite values.
pub(crate) fn check_scores(boxes: usize, scores: &[f32]) -> Result<()> {
    if scores.len() != boxes {
        return Err(Error::LengthMismatch {
            what: Input::Scores,
            boxes,
            found: scores.len(),
        });
    }
    match scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        Some((index, &value)) => Err(Error::NonFiniteScore { index, value }),
        None => Ok(()),
    }
}

/// Serde for a [`BBox`] as the array `[x1, y1, x2, y2]`: the wire form of
/// [`Detection`](crate::Detection) and [`GroundTruth`](crate::GroundTruth), unchanged
/// since 0.1.
pub(crate) mod as_array {
    use lockstep_core::BBox;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &BBox, s: S) -> Result<S::Ok, S::Error> {
        b.to_array().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BBox, D::Error> {
        <[f32; 4]>::deserialize(d).map(BBox::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(a: [f32; 4]) -> BBox {
        BBox::from(a)
    }

    #[test]
    fn yxyx_conversion_swaps_axes() {
        assert_eq!(from_yxyx([1.0, 2.0, 3.0, 4.0]), b([2.0, 1.0, 4.0, 3.0]));
        assert_eq!(
            boxes_from_yxyx(&[[0.0, 0.1, 1.0, 1.1]]),
            vec![b([0.1, 0.0, 1.1, 1.0])]
        );
    }

    #[test]
    fn normalize_orders_corners_and_clears_negative_zero() {
        assert_eq!(normalize(b([2.0, 3.0, 0.0, 1.0])), b([0.0, 1.0, 2.0, 3.0]));
        let n = normalize(b([-0.0, 0.0, 1.0, 1.0]));
        assert_eq!(n.x1.to_bits(), 0.0f32.to_bits());
    }

    #[test]
    fn area_is_the_core_area() {
        for a in [
            [0.0, 0.0, 1.5, 2.5],
            [0.1, 0.2, 0.3, 0.7],
            [-3.0, 1.0, 2.0, 1.0],
        ] {
            assert_eq!(area(&b(a)).to_bits(), b(a).area().to_bits());
        }
    }

    #[test]
    fn iou_known_values() {
        // Two unit squares overlapping by half: inter 0.5, union 1.5.
        let v = iou(&b([0.0, 0.0, 1.0, 1.0]), &b([0.5, 0.0, 1.5, 1.0]));
        assert_eq!(v.to_bits(), (0.5f32 / 1.5f32).to_bits());
        assert_eq!(iou(&b([0.0, 0.0, 1.0, 1.0]), &b([0.0, 0.0, 1.0, 1.0])), 1.0);
        assert_eq!(iou(&b([0.0, 0.0, 1.0, 1.0]), &b([2.0, 2.0, 3.0, 3.0])), 0.0);
        // Flipped corners describe the same box.
        assert_eq!(iou(&b([1.0, 1.0, 0.0, 0.0]), &b([0.0, 0.0, 1.0, 1.0])), 1.0);
    }

    #[test]
    fn degenerate_boxes_have_zero_iou() {
        let point = b([1.0, 1.0, 1.0, 1.0]);
        assert_eq!(iou(&point, &point), 0.0);
        assert_eq!(iou(&b([0.0, 0.0, 2.0, 0.0]), &b([0.0, 0.0, 2.0, 2.0])), 0.0);
    }

    #[test]
    fn overflowing_areas_give_zero_not_nan() {
        let huge = b([-3.0e38, -3.0e38, 3.0e38, 3.0e38]);
        assert_eq!(iou(&huge, &huge), 0.0);
    }

    #[test]
    fn validation_reports_the_offending_coordinate() {
        let err = validated(&[b([0.0; 4]), b([0.0, 0.0, f32::NAN, 1.0])]).unwrap_err();
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
                what: Input::Scores,
                boxes: 2,
                found: 1,
            })
        ));
    }
}

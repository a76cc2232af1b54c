//! Boxes in pixel coordinates.

use crate::ClassId;

/// An axis-aligned box `(x1, y1, x2, y2)` in `f32` pixels, origin at the image's
/// top-left corner: the box covering exactly pixel `(0, 0)` is `(0, 0, 1, 1)`.
///
/// The layout is `repr(C)` and matches `[f32; 4]` in that order, the layout
/// torchvision and COCO's converted boxes use.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(C)]
pub struct BBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BBox {
    /// A box from its corners.
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// The corners as `[x1, y1, x2, y2]`.
    pub const fn to_array(self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }

    /// `x2 − x1`, in `f32`.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    /// `y2 − y1`, in `f32`.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    /// `(x2 − x1) · (y2 − y1)`, in `f32`: one rounding per operation, so the same bits
    /// on every machine. Negative when exactly one pair of corners is reversed.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Whether all four corners are finite.
    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }
}

impl From<[f32; 4]> for BBox {
    fn from([x1, y1, x2, y2]: [f32; 4]) -> Self {
        Self { x1, y1, x2, y2 }
    }
}

impl From<BBox> for [f32; 4] {
    fn from(b: BBox) -> Self {
        b.to_array()
    }
}

/// A box and its class: the one labelled-box type of lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LabeledBox {
    /// Where.
    pub bbox: BBox,
    /// What.
    pub class: ClassId,
}

impl LabeledBox {
    /// A box with its class.
    pub const fn new(bbox: BBox, class: ClassId) -> Self {
        Self { bbox, class }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_in_corner_order() {
        let b = BBox::from([1.0, 2.0, 3.5, 7.0]);
        assert_eq!((b.x1, b.y1, b.x2, b.y2), (1.0, 2.0, 3.5, 7.0));
        assert_eq!(<[f32; 4]>::from(b), [1.0, 2.0, 3.5, 7.0]);
        assert_eq!(b.width(), 2.5);
        assert_eq!(b.height(), 5.0);
        assert_eq!(b.area(), 12.5);
    }

    #[test]
    fn finiteness_looks_at_every_corner() {
        for i in 0..4 {
            let mut a = [0.0f32, 0.0, 1.0, 1.0];
            assert!(BBox::from(a).is_finite());
            a[i] = f32::NAN;
            assert!(!BBox::from(a).is_finite(), "corner {i}");
            a[i] = f32::INFINITY;
            assert!(!BBox::from(a).is_finite(), "corner {i}");
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_form_names_the_fields() {
        let b = LabeledBox::new(BBox::new(0.0, 1.0, 2.0, 3.0), ClassId(4));
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(
            json,
            r#"{"bbox":{"x1":0.0,"y1":1.0,"x2":2.0,"y2":3.0},"class":4}"#
        );
        assert_eq!(serde_json::from_str::<LabeledBox>(&json).unwrap(), b);
    }
}

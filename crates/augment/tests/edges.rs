//! Edges that mutation testing found untested: a quarter-turn count of 0 (or 4) with
//! boxes, degenerate boxes, the exact thresholds of the box policy, and the largest
//! output side accepted. Each states the documented behaviour.

use image::RgbImage;
use lockstep_augment::{
    replay, BBox, BoxPolicy, ClassId, DropReason, Interpolation, LabeledBox, Op, OpParams, Rect,
    Sample, MAX_SIDE,
};

fn sample(width: u32, height: u32, boxes: &[BBox]) -> Sample {
    let image = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([x as u8, y as u8, (x * 7 + y * 3) as u8])
    });
    let boxes = boxes
        .iter()
        .map(|b| LabeledBox::new(*b, ClassId(1)))
        .collect();
    Sample::new(image, boxes).unwrap()
}

#[test]
fn zero_and_four_quarter_turns_leave_image_and_boxes_as_they_are() {
    let boxes = [BBox::new(1.0, 2.0, 5.0, 3.5), BBox::new(0.0, 0.0, 7.0, 4.0)];
    for k in [0, 4, 8] {
        let input = sample(7, 4, &boxes);
        let out = replay(
            input.clone(),
            &[OpParams::Rotate90 { k }],
            &BoxPolicy::default(),
        )
        .unwrap();
        assert_eq!(out.sample, input, "k = {k}");
        assert!(out.dropped.is_empty());
    }
}

#[test]
fn degenerate_boxes_are_valid_and_inverted_ones_are_not() {
    let image = RgbImage::new(8, 8);
    let valid = [
        BBox::new(3.0, 1.0, 3.0, 5.0), // zero width
        BBox::new(1.0, 4.0, 6.0, 4.0), // zero height
        BBox::new(2.0, 2.0, 2.0, 2.0), // a point
    ];
    for b in valid {
        let s = Sample::new(image.clone(), vec![LabeledBox::new(b, ClassId(0))]);
        assert!(s.is_ok(), "{b:?}: {s:?}");
    }
    let inverted = [BBox::new(5.0, 1.0, 3.0, 5.0), BBox::new(1.0, 5.0, 6.0, 4.0)];
    for b in inverted {
        let s = Sample::new(image.clone(), vec![LabeledBox::new(b, ClassId(0))]);
        assert!(
            matches!(s, Err(lockstep_augment::Error::BadBox { .. })),
            "{b:?}: {s:?}"
        );
    }
}

/// A box that keeps exactly `min_area`, or exactly `min_visible_fraction` of its area,
/// is kept: the policy drops only boxes *below* each threshold.
#[test]
fn a_box_exactly_at_a_policy_threshold_is_kept() {
    // 4×4 box; an identity op keeps its 16 px².
    let input = sample(10, 10, &[BBox::new(2.0, 2.0, 6.0, 6.0)]);
    let identity = [OpParams::Rotate90 { k: 0 }];
    let at = BoxPolicy::default().with_min_area(16.0);
    let kept = replay(input.clone(), &identity, &at).unwrap();
    assert_eq!(kept.sample.boxes.len(), 1);
    let above = BoxPolicy::default().with_min_area(16.5);
    let dropped = replay(input.clone(), &identity, &above).unwrap();
    assert!(dropped.sample.boxes.is_empty());
    assert_eq!(dropped.dropped[0].reason, DropReason::TooSmall);

    // A crop from column 4 keeps half of the box (x 4..6 of 2..6).
    let crop = [OpParams::Crop {
        rect: Rect {
            x: 4,
            y: 0,
            width: 6,
            height: 10,
        },
    }];
    let half = BoxPolicy::default().with_min_visible_fraction(0.5);
    let kept = replay(input.clone(), &crop, &half).unwrap();
    assert_eq!(kept.sample.boxes.len(), 1);
    assert_eq!(kept.sample.boxes[0].bbox, BBox::new(0.0, 2.0, 2.0, 6.0));
    let more = BoxPolicy::default().with_min_visible_fraction(0.5001);
    let dropped = replay(input, &crop, &more).unwrap();
    assert!(dropped.sample.boxes.is_empty());
    assert_eq!(dropped.dropped[0].reason, DropReason::MostlyOutside);
}

#[test]
fn output_sides_up_to_max_side_are_accepted() {
    let resize = |width, height| Op::Resize {
        width,
        height,
        interpolation: Interpolation::Bilinear,
    };
    assert!(resize(MAX_SIDE, 1).validate().is_ok());
    assert!(resize(1, MAX_SIDE).validate().is_ok());
    assert!(resize(MAX_SIDE + 1, 1).validate().is_err());
    assert!(resize(1, MAX_SIDE + 1).validate().is_err());
    assert!(resize(0, 1).validate().is_err());
}

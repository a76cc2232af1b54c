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

#[test]
fn an_image_empty_along_either_side_is_refused_before_conversion() {
    use image::{DynamicImage, GrayImage, RgbaImage};
    use lockstep_augment::{to_rgb8, Alpha, Error};
    for (w, h) in [(0, 5), (5, 0), (0, 0)] {
        for image in [
            DynamicImage::ImageRgb8(RgbImage::new(w, h)),
            DynamicImage::ImageLuma8(GrayImage::new(w, h)),
            DynamicImage::ImageRgba8(RgbaImage::new(w, h)),
        ] {
            let got = to_rgb8(image, Alpha::Drop);
            assert!(
                matches!(got, Err(Error::EmptyImage { width, height }) if (width, height) == (w, h)),
                "{w}x{h}: {got:?}"
            );
        }
    }
}

#[test]
fn a_pipeline_reports_its_ops_in_order() {
    use lockstep_augment::Compose;
    let ops = vec![
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.8,
            high: 1.2,
        },
        Op::RandomRotate90,
    ];
    let pipeline = Compose::new(ops.clone()).unwrap();
    assert_eq!(pipeline.ops(), &ops[..]);
}

/// Recorded parameters are written as exact decimal strings, and hand-written files may
/// use plain JSON numbers (floats, unsigned and negative integers) for the same values.
#[test]
fn recorded_parameters_read_plain_json_numbers_too() {
    let read = |json: &str| serde_json::from_str::<OpParams>(json);
    let hue = serde_json::to_string(&OpParams::Hue { shift: -0.25 }).unwrap();
    let hue_with = |text: &str| hue.replace("\"-0.25\"", text);
    assert_ne!(hue_with("-0.25"), hue, "{hue}");
    assert_eq!(
        read(&hue_with("-0.25")).unwrap(),
        OpParams::Hue { shift: -0.25 }
    );
    assert_eq!(read(&hue_with("0")).unwrap(), OpParams::Hue { shift: 0.0 });
    // A negative integer is read as itself, then refused by the range check.
    let err = read(&hue_with("-2")).unwrap_err().to_string();
    assert!(err.contains("hue shift = -2 is outside"), "{err}");
    let brightness = serde_json::to_string(&OpParams::Brightness { factor: 1.5 }).unwrap();
    let brightness_with = |text: &str| brightness.replace("\"1.5\"", text);
    assert_eq!(
        read(&brightness_with("2")).unwrap(),
        OpParams::Brightness { factor: 2.0 }
    );
    assert_eq!(
        read(&brightness_with("1.5")).unwrap(),
        OpParams::Brightness { factor: 1.5 }
    );
    let err = read(&hue_with("true")).unwrap_err().to_string();
    assert!(
        err.contains("an f64 as a decimal string or a number"),
        "{err}"
    );
}

#[test]
fn an_empty_rectangle_is_never_inside() {
    let rect = |width, height| Rect {
        x: 1,
        y: 1,
        width,
        height,
    };
    assert!(rect(3, 3).check_inside(4, 4).is_ok());
    assert!(rect(0, 3).check_inside(4, 4).is_err());
    assert!(rect(3, 0).check_inside(4, 4).is_err());
    assert!(rect(4, 3).check_inside(4, 4).is_err());
}

#[test]
fn padding_up_to_max_side_is_accepted() {
    use lockstep_augment::{pad, Padding};
    let one = RgbImage::from_pixel(1, 1, image::Rgb([9, 8, 7]));
    let padding = |right, bottom| Padding {
        left: 0,
        top: 0,
        right,
        bottom,
    };
    let wide = pad(&one, padding(MAX_SIDE - 1, 0), [1, 2, 3]).unwrap();
    assert_eq!(wide.dimensions(), (MAX_SIDE, 1));
    assert_eq!(wide.get_pixel(0, 0).0, [9, 8, 7]);
    assert_eq!(wide.get_pixel(MAX_SIDE - 1, 0).0, [1, 2, 3]);
    let tall = pad(&one, padding(0, MAX_SIDE - 1), [1, 2, 3]).unwrap();
    assert_eq!(tall.dimensions(), (1, MAX_SIDE));
    assert!(pad(&one, padding(MAX_SIDE, 0), [0; 3]).is_err());
    assert!(pad(&one, padding(0, MAX_SIDE), [0; 3]).is_err());
}

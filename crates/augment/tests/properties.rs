//! Properties: determinism, independence of thread count, order and call history;
//! replay; boxes moving with pixels; typed errors for bad input.

use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba};
use lockstep_augment::*;
use lockstep_seeding::{EpochKey, SampleKey, SeedTree};
use proptest::prelude::*;

fn image(w: u32, h: u32, salt: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 13 + y * 7 + salt) as u8,
            (x * y + salt * 3) as u8,
            (y * 29 + x * 5 + salt * 11) as u8,
        ])
    })
}

/// Item `i` of epoch 0 under the data root `root`.
fn key(root: u64, i: u64) -> SampleKey {
    EpochKey::new(&SeedTree::from_u64(root), 0).sample(i)
}

fn labeled(x1: f32, y1: f32, x2: f32, y2: f32, class: u32) -> LabeledBox {
    LabeledBox::new(BBox::new(x1, y1, x2, y2), ClassId(class))
}

fn pipeline() -> Compose {
    let pipeline = Compose::default()
        .with_ops(vec![
            Op::RandomResizedCrop {
                width: 20,
                height: 16,
                scale: [0.2, 1.0],
                ratio: [0.75, 1.3333333333333333],
                interpolation: Interpolation::Bilinear,
            },
            Op::Hflip { p: 0.5 },
            Op::Vflip { p: 0.3 },
            Op::RandomRotate90,
            Op::Brightness {
                low: 0.6,
                high: 1.4,
            },
            Op::Contrast {
                low: 0.6,
                high: 1.4,
            },
            Op::Saturation {
                low: 0.6,
                high: 1.4,
            },
            Op::Hue {
                low: -0.2,
                high: 0.2,
            },
            Op::Noise {
                p: 0.5,
                std_low: 1.0,
                std_high: 6.0,
            },
            Op::Erase {
                p: 0.5,
                scale: [0.02, 0.3],
                ratio: [0.3, 3.3],
                fill: [0, 0, 0],
            },
        ])
        .with_policy(BoxPolicy::default().with_min_visible_fraction(0.3));
    pipeline.validate().unwrap();
    pipeline
}

fn sample(i: u32) -> Sample {
    let boxes = vec![
        labeled(1.0, 2.0, 15.5, 12.0, 0),
        labeled(20.0, 10.0, 31.0, 23.0, 1),
        labeled(0.0, 0.0, 32.0, 24.0, 2),
    ];
    Sample::new(image(32, 24, i), boxes).unwrap()
}

fn batch(n: u32, threads: usize) -> Vec<Augmented> {
    let epoch = EpochKey::new(&SeedTree::from_u64(99).child("train"), 4);
    let batch = (0..n)
        .map(|i| (sample(i), epoch.sample(u64::from(i))))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| pipeline().apply_batch(batch)).unwrap()
}

#[test]
fn batch_is_identical_for_1_2_and_8_threads() {
    let one = batch(24, 1);
    assert_eq!(one, batch(24, 2));
    assert_eq!(one, batch(24, 8));
    // And each item equals the sequential single-sample call.
    let epoch = EpochKey::new(&SeedTree::from_u64(99).child("train"), 4);
    for (i, out) in one.iter().enumerate() {
        let alone = pipeline()
            .apply(sample(i as u32), &epoch.sample(i as u64))
            .unwrap();
        assert_eq!(&alone, out);
    }
    // Different samples drew different parameters.
    assert_ne!(one[0].params, one[1].params);
}

#[test]
fn replay_through_json_is_exact() {
    for i in 0..16 {
        let out = pipeline().apply(sample(i), &key(5, u64::from(i))).unwrap();
        let json = serde_json::to_string(&out.params).unwrap();
        let params: Vec<OpParams> = serde_json::from_str(&json).unwrap();
        assert_eq!(params, out.params);
        let again = replay(sample(i), &params, pipeline().policy()).unwrap();
        assert_eq!(again, out);
    }
}

#[test]
fn pipeline_round_trips_through_json() {
    let p = pipeline();
    let text = serde_json::to_string(&p).unwrap();
    let back: Compose = serde_json::from_str(&text).unwrap();
    assert_eq!(back, p);
}

#[test]
fn each_op_draws_from_its_own_key() {
    // Appending an op does not change what the earlier ops drew.
    let key = key(1, 0);
    let short = Compose::new(vec![
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.5,
            high: 1.5,
        },
    ])
    .unwrap();
    let long = Compose::new(vec![
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.5,
            high: 1.5,
        },
        Op::Contrast {
            low: 0.5,
            high: 1.5,
        },
    ])
    .unwrap();
    let a = short.apply(sample(0), &key).unwrap();
    let b = long.apply(sample(0), &key).unwrap();
    assert_eq!(a.params[..], b.params[..2]);
    // The op's key is …/sample[i]/augment/op[p]/<name>, and drawing by hand from it
    // gives the same params.
    let brightness = Op::Brightness {
        low: 0.5,
        high: 1.5,
    };
    let node = op_key(&key, 1, &brightness);
    assert_eq!(
        node.path(),
        format!("{}/augment/op[1]/brightness", key.path())
    );
    let by_hand = brightness.draw(&node, ImageSize::new(32, 24)).unwrap();
    assert_eq!(by_hand, a.params[1]);
}

#[test]
fn boxes_move_with_the_pixels() {
    // A box painted white on black stays on the white pixels through every geometric op.
    let mut img = RgbImage::new(30, 20);
    for y in 4..11 {
        for x in 6..19 {
            img.put_pixel(x, y, Rgb([255, 255, 255]));
        }
    }
    let b = labeled(6.0, 4.0, 19.0, 11.0, 7);
    let ops = [
        OpParams::Hflip { applied: true },
        OpParams::Vflip { applied: true },
        OpParams::Rotate90 { k: 1 },
        OpParams::Rotate90 { k: 3 },
        OpParams::Crop {
            rect: Rect {
                x: 3,
                y: 2,
                width: 20,
                height: 15,
            },
        },
        OpParams::Pad {
            padding: Padding {
                left: 3,
                top: 1,
                right: 0,
                bottom: 5,
            },
            fill: [0, 0, 0],
        },
        OpParams::Resize {
            width: 60,
            height: 40,
            interpolation: Interpolation::Nearest,
        },
    ];
    for p in ops {
        let out = p
            .apply(
                Sample::new(img.clone(), vec![b]).unwrap(),
                &BoxPolicy::default(),
            )
            .unwrap();
        assert_eq!(out.sample.boxes[0].class, ClassId(7));
        let ob = out.sample.boxes[0].bbox;
        let im = &out.sample.image;
        let white = |x: f32, y: f32| im.get_pixel(x as u32, y as u32).0 == [255, 255, 255];
        // Inside corners are white, pixels just outside are black.
        assert!(
            white(ob.x1, ob.y1) && white(ob.x2 - 1.0, ob.y2 - 1.0),
            "{p:?}"
        );
        assert!(
            !white(ob.x1 - 1.0, ob.y1) && !white(ob.x2, ob.y2 - 1.0),
            "{p:?}"
        );
        let area = ob.area() / b.bbox.area();
        assert!(area == 1.0 || area == 4.0, "{p:?}: area ratio {area}");
    }
}

#[test]
fn drops_are_reported_with_index_and_reason() {
    let img = image(40, 40, 0);
    let boxes = vec![
        labeled(0.0, 0.0, 10.0, 10.0, 0),   // fully outside the crop
        labeled(15.0, 15.0, 25.0, 25.0, 1), // 1/4 visible
        labeled(22.0, 22.0, 30.0, 30.0, 2), // fully inside
    ];
    let policy = BoxPolicy::default().with_min_visible_fraction(0.5);
    let crop = OpParams::Crop {
        rect: Rect {
            x: 20,
            y: 20,
            width: 20,
            height: 20,
        },
    };
    let out = crop
        .apply(Sample::new(img, boxes).unwrap(), &policy)
        .unwrap();
    assert_eq!(out.sample.boxes, vec![labeled(2.0, 2.0, 10.0, 10.0, 2)]);
    let got: Vec<(usize, DropReason)> = out.dropped.iter().map(|d| (d.index, d.reason)).collect();
    assert_eq!(
        got,
        vec![(0, DropReason::TooSmall), (1, DropReason::MostlyOutside)]
    );
    assert_eq!(out.dropped[1].op, "crop");
}

#[test]
fn bad_input_is_a_typed_error() {
    let key = key(0, 0);
    let empty = RgbImage::new(0, 5);
    assert!(matches!(
        Sample::image_only(empty.clone()),
        Err(Error::EmptyImage { .. })
    ));
    assert!(matches!(
        adjust_brightness(&empty, 1.0),
        Err(Error::EmptyImage { .. })
    ));
    assert!(matches!(hflip(&empty), Err(Error::EmptyImage { .. })));
    let img = image(8, 6, 0);
    assert!(matches!(
        Op::RandomCrop {
            width: 9,
            height: 6
        }
        .draw(&key, ImageSize::new(8, 6)),
        Err(Error::CropOutOfBounds { .. })
    ));
    assert!(matches!(
        Compose::new(vec![Op::Hflip { p: 1.5 }]),
        Err(Error::Probability { .. })
    ));
    assert!(matches!(
        Compose::new(vec![Op::Vflip { p: f64::NAN }]),
        Err(Error::Probability { .. })
    ));
    assert!(matches!(
        adjust_contrast(&img, f64::NAN),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        adjust_saturation(&img, -1.0),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        Compose::new(vec![Op::Brightness {
            low: 1.5,
            high: 0.5
        }]),
        Err(Error::BadRange { .. })
    ));
    assert!(Compose::new(vec![Op::Gamma {
        low: 0.0,
        high: 1.0,
        gain: 1.0
    }])
    .is_err());
    assert!(matches!(
        Sample::new(img.clone(), vec![labeled(5.0, 1.0, 4.0, 2.0, 0)]),
        Err(Error::BadBox { index: 0, .. })
    ));
    assert!(matches!(
        Sample::new(
            img.clone(),
            vec![
                labeled(0.0, 0.0, 1.0, 1.0, 0),
                labeled(0.0, 0.0, 9.0, 2.0, 0)
            ]
        ),
        Err(Error::BadBox { index: 1, .. })
    ));
    assert!(matches!(
        Sample::new(img.clone(), vec![labeled(f32::NAN, 0.0, 1.0, 1.0, 0)]),
        Err(Error::BadBox { .. })
    ));
    // A sample whose boxes were edited after construction is still checked.
    let mut s = Sample::image_only(img.clone()).unwrap();
    s.boxes.push(labeled(-1.0, 0.0, 1.0, 1.0, 0));
    assert!(matches!(
        pipeline().apply(s, &key),
        Err(Error::BadBox { .. })
    ));
    // Hand-edited replay parameters are checked too.
    let bad = OpParams::Crop {
        rect: Rect {
            x: 5,
            y: 0,
            width: 4,
            height: 1,
        },
    };
    assert!(matches!(
        replay(
            Sample::image_only(img.clone()).unwrap(),
            &[bad],
            &BoxPolicy::default()
        ),
        Err(Error::CropOutOfBounds { .. })
    ));
    let bad = OpParams::Noise {
        std: 1.0,
        seed: Some("xyz".into()),
    };
    assert!(matches!(
        replay(
            Sample::image_only(img.clone()).unwrap(),
            &[bad],
            &BoxPolicy::default()
        ),
        Err(Error::BadSeed { .. })
    ));
    // A policy set through the unchecked setter is checked where it is used.
    let bad_policy =
        Compose::default().with_policy(BoxPolicy::default().with_min_visible_fraction(2.0));
    assert!(bad_policy.validate().is_err());
    assert!(matches!(
        bad_policy.apply(sample(0), &key),
        Err(Error::OutOfRange { .. })
    ));
    assert!(bad_policy.replay(sample(0), &[]).is_err());
    let bad_op = Compose::default().with_ops(vec![Op::Hflip { p: 2.0 }]);
    assert!(matches!(
        bad_op.apply_batch(vec![(sample(0), key.clone())]),
        Err(Error::Probability { .. })
    ));
}

#[test]
fn colour_types_are_converted_or_refused_explicitly() {
    let luma = ImageBuffer::from_fn(3, 2, |x, _| Luma([x as u8 * 50]));
    let rgb = to_rgb8(DynamicImage::ImageLuma8(luma), Alpha::Reject).unwrap();
    assert_eq!(rgb.get_pixel(2, 1).0, [100, 100, 100]);
    let rgba = ImageBuffer::from_pixel(2, 2, Rgba([1u8, 2, 3, 0]));
    assert!(matches!(
        to_rgb8(DynamicImage::ImageRgba8(rgba.clone()), Alpha::Reject),
        Err(Error::UnsupportedColor { .. })
    ));
    assert_eq!(
        to_rgb8(DynamicImage::ImageRgba8(rgba), Alpha::Drop)
            .unwrap()
            .get_pixel(0, 0)
            .0,
        [1, 2, 3]
    );
    let la = ImageBuffer::from_pixel(2, 2, LumaA([9u8, 255]));
    assert_eq!(
        to_rgb8(DynamicImage::ImageLumaA8(la), Alpha::Drop)
            .unwrap()
            .get_pixel(1, 1)
            .0,
        [9, 9, 9]
    );
    let deep = ImageBuffer::from_pixel(2, 2, Rgb([1u16, 2, 3]));
    assert!(matches!(
        to_rgb8(DynamicImage::ImageRgb16(deep), Alpha::Drop),
        Err(Error::UnsupportedColor { .. })
    ));
    let float = ImageBuffer::from_pixel(2, 2, Rgb([0.5f32, 0.5, 0.5]));
    assert!(matches!(
        to_rgb8(DynamicImage::ImageRgb32F(float), Alpha::Drop),
        Err(Error::UnsupportedColor { .. })
    ));
    assert!(matches!(
        to_rgb8(DynamicImage::new_rgb8(0, 0), Alpha::Drop),
        Err(Error::EmptyImage { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn same_key_same_output_and_history_does_not_matter(seed in any::<u64>(), i in 0u64..1000, others in proptest::collection::vec(0u64..1000, 0..4)) {
        let key = key(seed, i);
        let first = pipeline().apply(sample(i as u32), &key).unwrap();
        // Unrelated calls in between change nothing.
        for o in others {
            pipeline().apply(sample(o as u32), &self::key(seed, o)).unwrap();
        }
        let second = pipeline().apply(sample(i as u32), &key).unwrap();
        prop_assert_eq!(&first, &second);
        let replayed = replay(sample(i as u32), &first.params, pipeline().policy()).unwrap();
        prop_assert_eq!(first, replayed);
    }

    #[test]
    fn batch_order_does_not_matter(seed in any::<u64>(), n in 1u32..6) {
        let pairs: Vec<(Sample, SampleKey)> = (0..n).map(|i| (sample(i), key(seed, u64::from(i)))).collect();
        let fwd = pipeline().apply_batch(pairs.clone()).unwrap();
        let mut rev = pipeline().apply_batch(pairs.into_iter().rev().collect()).unwrap();
        rev.reverse();
        prop_assert_eq!(fwd, rev);
    }

    #[test]
    fn boxes_stay_inside_and_are_all_accounted_for(seed in any::<u64>(), x1 in 0f32..30.0, y1 in 0f32..22.0, w in 0f32..20.0, h in 0f32..20.0) {
        let b = labeled(x1, y1, (x1 + w).min(32.0), (y1 + h).min(24.0), 5);
        let s = Sample::new(image(32, 24, 1), vec![b, labeled(0.0, 0.0, 32.0, 24.0, 6)]).unwrap();
        let out = pipeline().apply(s, &key(seed, 0)).unwrap();
        let (iw, ih) = out.sample.image.dimensions();
        prop_assert_eq!(out.sample.boxes.len() + out.dropped.len(), 2);
        for b in out.sample.boxes.iter().map(|b| b.bbox) {
            prop_assert!(0.0 <= b.x1 && b.x1 <= b.x2 && b.x2 <= iw as f32);
            prop_assert!(0.0 <= b.y1 && b.y1 <= b.y2 && b.y2 <= ih as f32);
            prop_assert!(b.area() >= 1.0);
        }
    }

    #[test]
    fn drawn_parameters_stay_in_their_ranges(seed in any::<u64>(), w in 1u32..300, h in 1u32..300) {
        let key = SeedTree::from_u64(seed);
        let size = ImageSize::new(w, h);
        let crop = Op::RandomResizedCrop { width: 8, height: 8, scale: [0.08, 1.0], ratio: [0.75, 4.0 / 3.0], interpolation: Interpolation::Nearest };
        match crop.draw(&key, size).unwrap() {
            OpParams::ResizedCrop { rect, .. } => prop_assert!(rect.check_inside(w, h).is_ok()),
            other => prop_assert!(false, "{:?}", other),
        }
        match (Op::Erase { p: 1.0, scale: [0.02, 0.33], ratio: [0.3, 3.3], fill: [0; 3] }).draw(&key, size).unwrap() {
            OpParams::Erase { rect: Some(rect), .. } => prop_assert!(rect.check_inside(w, h).is_ok()),
            OpParams::Erase { rect: None, .. } => {}
            other => prop_assert!(false, "{:?}", other),
        }
        match (Op::Brightness { low: 0.7, high: 1.3 }).draw(&key, size).unwrap() {
            OpParams::Brightness { factor } => prop_assert!((0.7..1.3).contains(&factor)),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn hue_round_trip_is_close_and_zero_shift_exact(r in any::<u8>(), g in any::<u8>(), b in any::<u8>(), s in -0.5f64..0.5) {
        let px = RgbImage::from_pixel(1, 1, Rgb([r, g, b]));
        prop_assert_eq!(&adjust_hue(&px, 0.0).unwrap(), &px);
        let there = adjust_hue(&px, s).unwrap();
        // Value (max) and the min are kept exactly by the integer HSV.
        let (o, t) = (px.get_pixel(0, 0).0, there.get_pixel(0, 0).0);
        prop_assert_eq!(o.iter().max(), t.iter().max());
        prop_assert_eq!(o.iter().min(), t.iter().min());
    }
}

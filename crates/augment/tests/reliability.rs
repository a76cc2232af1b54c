//! Regression tests for issue 10 (reliability): over-long pixel buffers, deserialised
//! values that bypassed the constructors' checks, non-finite tensors, and the error a
//! parallel batch returns.

use image::{DynamicImage, Rgb, RgbImage};
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

/// `img` with `extra` stray bytes after its pixels, as `RgbImage::from_raw` allows.
fn overlong(img: &RgbImage, extra: usize) -> RgbImage {
    let mut raw = img.as_raw().clone();
    raw.extend((0..extra).map(|i| (i * 37 + 200) as u8));
    RgbImage::from_raw(img.width(), img.height(), raw).unwrap()
}

/// Stray tails: part of a pixel, one pixel, more than a row, a whole second image.
fn tails(img: &RgbImage) -> [usize; 4] {
    [1, 3, img.width() as usize * 3 + 5, img.as_raw().len()]
}

fn every_op() -> Vec<Op> {
    vec![
        Op::RandomResizedCrop {
            width: 20,
            height: 16,
            scale: [0.3, 1.0],
            ratio: [0.75, 1.333],
            interpolation: Interpolation::Bilinear,
        },
        Op::Pad {
            padding: Padding {
                left: 2,
                top: 3,
                right: 1,
                bottom: 4,
            },
            fill: [9, 8, 7],
        },
        Op::Hflip { p: 1.0 },
        Op::Vflip { p: 1.0 },
        Op::RandomRotate90,
        Op::Brightness {
            low: 0.6,
            high: 1.4,
        },
        Op::Contrast {
            low: 0.6,
            high: 1.4,
        },
        Op::Gamma {
            low: 0.8,
            high: 1.2,
            gain: 1.0,
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
            p: 1.0,
            std_low: 1.0,
            std_high: 6.0,
        },
        Op::Erase {
            p: 1.0,
            scale: [0.02, 0.3],
            ratio: [0.3, 3.3],
            fill: [0, 0, 0],
        },
        Op::Resize {
            width: 13,
            height: 11,
            interpolation: Interpolation::Nearest,
        },
    ]
}

/// Issue 10, defect 9: `to_tensor` and `Compose` with `Pad` panicked, `pad` copied the
/// stray bytes into the border, `rotate90(k = 2)` rotated a stray pixel in, contrast
/// took a wrong mean, and the copying kernels kept the tail. Every kernel must give
/// exactly what it gives for the exact-length image.
#[test]
fn overlong_buffers_give_the_exact_images_output() {
    let exact = image(7, 5, 3);
    let rect = Rect {
        x: 1,
        y: 2,
        width: 4,
        height: 3,
    };
    let padding = Padding {
        left: 1,
        top: 2,
        right: 3,
        bottom: 1,
    };
    type Kernel = Box<dyn Fn(&RgbImage) -> Result<RgbImage>>;
    let kernels: Vec<(&str, Kernel)> = vec![
        ("hflip", Box::new(hflip)),
        ("vflip", Box::new(vflip)),
        ("crop", Box::new(move |i| crop(i, rect))),
        ("erase", Box::new(move |i| erase(i, rect, [1, 2, 3]))),
        ("pad", Box::new(move |i| pad(i, padding, [9, 9, 9]))),
        ("rotate0", Box::new(|i| rotate90(i, 0))),
        ("rotate1", Box::new(|i| rotate90(i, 1))),
        ("rotate2", Box::new(|i| rotate90(i, 2))),
        ("rotate3", Box::new(|i| rotate90(i, 3))),
        (
            "nearest",
            Box::new(|i| resize(i, 11, 3, Interpolation::Nearest)),
        ),
        (
            "bilinear",
            Box::new(|i| resize(i, 11, 3, Interpolation::Bilinear)),
        ),
        ("brightness", Box::new(|i| adjust_brightness(i, 1.3))),
        ("contrast", Box::new(|i| adjust_contrast(i, 1.7))),
        ("saturation", Box::new(|i| adjust_saturation(i, 0.4))),
        ("saturation_wide", Box::new(|i| adjust_saturation(i, 3.0))),
        ("hue", Box::new(|i| adjust_hue(i, 0.2))),
        ("gamma", Box::new(|i| adjust_gamma(i, 0.7, 1.1))),
        ("noise", Box::new(|i| adjust_noise(i, 9.0, [4; 32]))),
        (
            "to_rgb8",
            Box::new(|i| to_rgb8(DynamicImage::ImageRgb8(i.clone()), Alpha::Reject)),
        ),
    ];
    for extra in tails(&exact) {
        let long = overlong(&exact, extra);
        for (name, k) in &kernels {
            let want = k(&exact).unwrap();
            assert_eq!(want.as_raw().len(), want.len(), "{name}");
            assert_eq!(k(&long).unwrap(), want, "{name}, {extra} stray bytes");
        }
        let t = to_tensor(&long, &Normalize::IMAGENET).unwrap();
        assert_eq!(t, to_tensor(&exact, &Normalize::IMAGENET).unwrap());
        let b = batch_to_tensor(&[long.clone(), exact.clone()], &Normalize::UNIT).unwrap();
        let want = batch_to_tensor(&[exact.clone(), exact.clone()], &Normalize::UNIT).unwrap();
        assert_eq!(b, want);
    }
}

#[test]
fn overlong_buffers_through_pipelines_and_replay() {
    let exact = image(32, 24, 8);
    let boxes = vec![LabeledBox::new(BBox::new(1.0, 2.0, 15.5, 12.0), ClassId(0))];
    let ops = every_op();
    let key = EpochKey::new(&SeedTree::from_u64(4), 0).sample(2);
    // Each op alone, then all of them.
    let mut pipelines: Vec<Compose> = ops
        .iter()
        .map(|op| Compose::new(vec![op.clone()]).unwrap())
        .collect();
    pipelines.push(Compose::new(ops).unwrap());
    for extra in tails(&exact) {
        let long = overlong(&exact, extra);
        for p in &pipelines {
            let want = p
                .apply(Sample::new(exact.clone(), boxes.clone()).unwrap(), &key)
                .unwrap();
            let got = p
                .apply(Sample::new(long.clone(), boxes.clone()).unwrap(), &key)
                .unwrap();
            assert_eq!(got, want, "{:?}", p.ops());
            let again = p
                .replay(
                    Sample::new(long.clone(), boxes.clone()).unwrap(),
                    &want.params,
                )
                .unwrap();
            assert_eq!(again, want, "{:?}", p.ops());
        }
        let policy = BoxPolicy::default();
        let s = |img: &RgbImage| Sample::new(img.clone(), boxes.clone()).unwrap();
        let pad = OpParams::Pad {
            padding: Padding {
                left: 1,
                top: 1,
                right: 1,
                bottom: 1,
            },
            fill: [0; 3],
        };
        assert_eq!(pad.apply(s(&long), &policy), pad.apply(s(&exact), &policy));
        let turn = OpParams::Rotate90 { k: 2 };
        assert_eq!(
            turn.apply(s(&long), &policy),
            turn.apply(s(&exact), &policy)
        );
        let contrast = Op::Contrast {
            low: 0.5,
            high: 1.5,
        }
        .draw(&key, ImageSize::new(32, 24))
        .unwrap();
        assert_eq!(
            contrast.apply(s(&long), &policy),
            contrast.apply(s(&exact), &policy)
        );
    }
}

/// Issue 10, defect 7: a `Compose` from JSON with `min_visible_fraction: 5.0` silently
/// dropped a fully visible box. Every deserialised type runs its constructor's checks.
#[test]
fn deserialised_values_are_checked_like_constructed_ones() {
    let json =
        r#"{"ops":[{"op":"hflip","p":1.0}],"policy":{"min_area":1.0,"min_visible_fraction":5.0}}"#;
    let err = serde_json::from_str::<Compose>(json).unwrap_err();
    assert!(err.to_string().contains("min_visible_fraction"), "{err}");
    let ok = json.replace("5.0", "0.5");
    let c: Compose = serde_json::from_str(&ok).unwrap();
    assert_eq!(c.policy().min_visible_fraction, 0.5);
    // Without a policy the default applies.
    let c: Compose = serde_json::from_str(r#"{"ops":[]}"#).unwrap();
    assert_eq!(c.policy(), &BoxPolicy::default());
    for bad in [
        r#"{"ops":[{"op":"hflip","p":2.0}]}"#,
        r#"{"ops":[{"op":"random_crop","width":0,"height":4}]}"#,
        r#"{"ops":[{"op":"brightness","low":2.0,"high":1.0}]}"#,
        r#"{"ops":[{"op":"gamma","low":1e-310,"high":1.0,"gain":1.0}]}"#,
        r#"{"ops":[{"op":"hflip","p":0.5,"extra":1}]}"#,
        r#"{"ops":[{"op":"hflip","p":0.5}],"policy":{"min_area":-1.0,"min_visible_fraction":0.0}}"#,
    ] {
        assert!(serde_json::from_str::<Compose>(bad).is_err(), "{bad}");
    }
    assert!(serde_json::from_str::<Op>(r#"{"op":"hue","low":-0.7,"high":0.0}"#).is_err());
    assert!(
        serde_json::from_str::<BoxPolicy>(r#"{"min_area":1.0,"min_visible_fraction":1.5}"#)
            .is_err()
    );
    for bad in [
        r#"{"op":"brightness","factor":"2000.0"}"#,
        r#"{"op":"hue","shift":"0.75"}"#,
        r#"{"op":"gamma","gamma":"0.0","gain":"1.0"}"#,
        r#"{"op":"noise","std":"1.0","seed":"zz"}"#,
        r#"{"op":"crop","rect":{"x":0,"y":0,"width":0,"height":3}}"#,
        r#"{"op":"resize","width":0,"height":3,"interpolation":"Nearest"}"#,
    ] {
        assert!(serde_json::from_str::<OpParams>(bad).is_err(), "{bad}");
    }
    let p: OpParams = serde_json::from_str(r#"{"op":"hue","shift":"0.25"}"#).unwrap();
    assert_eq!(p, OpParams::Hue { shift: 0.25 });
    assert!(serde_json::from_str::<Normalize>(r#"{"mean":[0,0,0],"std":[1,1e-45,1]}"#).is_err());
    let n: Normalize =
        serde_json::from_str(&serde_json::to_string(&Normalize::IMAGENET).unwrap()).unwrap();
    assert_eq!(n, Normalize::IMAGENET);
}

/// Issue 10, defect 10: `Normalize` with std 1e-45 put infinities into the tensor.
#[test]
fn normalisation_never_produces_infinities() {
    let img = image(3, 2, 1);
    for (mean, std) in [(0.0, 1e-45), (0.0, 1e-40), (3e38, 0.5), (-3e38, 0.1)] {
        let norm = Normalize::default()
            .with_mean([0.0, mean, 0.0])
            .with_std([1.0, std, 1.0]);
        assert!(Normalize::new(norm.mean, norm.std).is_err());
        assert!(
            matches!(
                to_tensor(&img, &norm),
                Err(Error::NormalizeOverflow { channel: 1, .. })
            ),
            "{mean} {std}"
        );
        assert!(batch_to_tensor(std::slice::from_ref(&img), &norm).is_err());
        assert!(norm.validate().is_err());
    }
    // The smallest std that keeps every value finite still works.
    let ok = Normalize::new([0.0; 3], [1e-38; 3]).unwrap();
    let t = to_tensor(&img, &ok).unwrap();
    assert!(t.data.iter().all(|v| v.is_finite()));
}

/// The failing samples' images are `(position + 1) x 1`, too small for the crop, so the
/// error names the position; the samples before the first failure are large, so a
/// thread working on a later chunk fails first in time.
fn failing_batch(n: usize, failing: &[usize]) -> Vec<(Sample, SampleKey)> {
    let epoch = EpochKey::new(&SeedTree::from_u64(3), 0);
    (0..n)
        .map(|i| {
            let img = if failing.contains(&i) {
                image(i as u32 + 1, 1, 0)
            } else if failing.iter().all(|&f| f > i) {
                image(160, 160, i as u32)
            } else {
                image(64, 64, i as u32)
            };
            (Sample::image_only(img).unwrap(), epoch.sample(i as u64))
        })
        .collect()
}

fn crop_pipeline() -> Compose {
    Compose::new(vec![
        Op::Saturation {
            low: 0.5,
            high: 1.5,
        },
        Op::RandomCrop {
            width: 64,
            height: 64,
        },
    ])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Issue 10, defect 14: `apply_batch` returned whichever sample failed first in time
    /// (rayon's `collect::<Result<..>>`), not the first by position.
    #[test]
    fn batch_error_is_the_first_by_position_for_any_thread_count(
        first in 1usize..8,
        later in proptest::collection::btree_set(8usize..48, 1..16),
    ) {
        let n = 48;
        let mut failing: Vec<usize> = later.into_iter().collect();
        failing.push(first);
        let pipeline = crop_pipeline();
        for threads in [1, 2, 8] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for _ in 0..3 {
                let batch = failing_batch(n, &failing);
                let err = pool.install(|| pipeline.apply_batch(batch)).unwrap_err();
                let ok = matches!(
                    err,
                    Error::CropOutOfBounds { image_width, .. } if image_width as usize == first + 1
                );
                prop_assert!(ok, "{} threads: {:?}, want sample {}", threads, err, first);
            }
        }
    }
}

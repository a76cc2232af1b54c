//! The drawn parameters of the cropping ops: where a random crop lands, where a centre
//! crop sits, and which configurations and image sizes are refused. (Found by mutation
//! testing: no test looked at a drawn crop's position.)

use lockstep_augment::{Error, ImageSize, Interpolation, Op, OpParams, Rect};
use lockstep_seeding::SeedTree;

fn size(width: u32, height: u32) -> ImageSize {
    ImageSize { width, height }
}

fn crop_rect(params: OpParams) -> Rect {
    match params {
        OpParams::Crop { rect } => rect,
        other => panic!("not a crop: {other:?}"),
    }
}

/// Every position from 0 to `w − cw` (and `h − ch`) is drawn, and no other.
#[test]
fn a_random_crop_lands_on_every_position_and_only_inside() {
    let op = Op::RandomCrop {
        width: 5,
        height: 4,
    };
    let node = SeedTree::from_u64(40).child("random_crop");
    let (mut xs, mut ys) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for i in 0..400 {
        let rect = crop_rect(op.draw(&node.index(i), size(8, 6)).unwrap());
        assert_eq!((rect.width, rect.height), (5, 4));
        xs.insert(rect.x);
        ys.insert(rect.y);
    }
    assert_eq!(xs.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(ys.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
    // A crop the size of the image has one position.
    let whole = Op::RandomCrop {
        width: 8,
        height: 6,
    };
    let rect = crop_rect(whole.draw(&node, size(8, 6)).unwrap());
    assert_eq!((rect.x, rect.y), (0, 0));
}

/// Known answer: the first draws of one node (y then x, each `below(range + 1)`).
#[test]
fn random_crop_known_answer() {
    let op = Op::RandomCrop {
        width: 100,
        height: 50,
    };
    let node = SeedTree::from_u64(41).child("kat");
    let got: Vec<(u32, u32)> = (0..4)
        .map(|i| {
            let r = crop_rect(op.draw(&node.index(i), size(640, 480)).unwrap());
            (r.x, r.y)
        })
        .collect();
    assert_eq!(got, KAT);
    // The recipe, from the node's stream: y = below(480 − 50 + 1), then x = below(640 − 100 + 1).
    for (i, &(x, y)) in KAT.iter().enumerate() {
        let mut rng = node.index(i as u64).rng();
        let want_y = rng.try_below(431).unwrap() as u32;
        let want_x = rng.try_below(541).unwrap() as u32;
        assert_eq!((x, y), (want_x, want_y));
    }
}

const KAT: [(u32, u32); 4] = [(395, 279), (41, 399), (339, 166), (456, 185)];

#[test]
fn a_centre_crop_sits_in_the_middle_rounding_down() {
    let op = Op::CenterCrop {
        width: 4,
        height: 3,
    };
    let node = SeedTree::from_u64(42);
    for (w, h, x, y) in [(10, 7, 3, 2), (11, 8, 3, 2), (4, 3, 0, 0), (5, 9, 0, 3)] {
        let rect = crop_rect(op.draw(&node, size(w, h)).unwrap());
        assert_eq!(
            rect,
            Rect {
                x,
                y,
                width: 4,
                height: 3
            },
            "{w}x{h}"
        );
    }
}

#[test]
fn drawing_for_an_empty_image_is_refused() {
    let node = SeedTree::from_u64(43);
    for (w, h) in [(0, 5), (5, 0), (0, 0)] {
        let got = Op::Hflip { p: 0.5 }.draw(&node, size(w, h));
        assert!(
            matches!(got, Err(Error::EmptyImage { width, height }) if (width, height) == (w, h)),
            "{w}x{h}: {got:?}"
        );
    }
}

#[test]
fn resized_crop_scale_and_ratio_are_checked() {
    let op = |scale: [f64; 2], ratio: [f64; 2]| Op::RandomResizedCrop {
        width: 8,
        height: 8,
        scale,
        ratio,
        interpolation: Interpolation::Bilinear,
    };
    assert!(op([0.08, 1.0], [0.75, 4.0 / 3.0]).validate().is_ok());
    for (scale, ratio) in [
        ([0.0, 1.0], [0.75, 1.25]), // an empty window
        ([0.5, 1.5], [0.75, 1.25]), // more than the image
        ([0.9, 0.1], [0.75, 1.25]), // inverted
        ([0.5, 1.0], [0.0, 1.25]),  // a zero aspect
        ([0.5, 1.0], [2.0, 1.0]),   // inverted
        ([0.5, 1.0], [-1.0, 1.0]),  // negative
    ] {
        assert!(
            matches!(op(scale, ratio).validate(), Err(Error::BadRange { .. })),
            "{scale:?} {ratio:?}"
        );
    }
}

#[test]
fn noise_seeds_are_exactly_64_hex_digits() {
    use lockstep_augment::{parse_seed_hex, seed_hex};
    let seed: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
    let text = seed_hex(&seed);
    assert_eq!(parse_seed_hex(&text).unwrap(), seed);
    for bad in [&text[..62], &text[..63], &format!("{text}0"), ""] {
        assert!(
            matches!(parse_seed_hex(bad), Err(Error::BadSeed { .. })),
            "{} digits accepted",
            bad.len()
        );
    }
}

fn resized_crop(scale: [f64; 2], ratio: [f64; 2]) -> Op {
    Op::RandomResizedCrop {
        width: 8,
        height: 8,
        scale,
        ratio,
        interpolation: Interpolation::Bilinear,
    }
}

fn window(params: OpParams) -> Rect {
    match params {
        OpParams::ResizedCrop { rect, .. } => rect,
        other => panic!("not a resized crop: {other:?}"),
    }
}

/// When no attempt fits, the window is the whole image with its aspect clamped into
/// the ratio range, centred (torchvision's fallback).
#[test]
fn a_resized_crop_falls_back_to_the_clamped_centre() {
    let node = SeedTree::from_u64(44).child("fallback");
    let cases = [
        // Too wide for the ratio range: every attempt is taller than 10 rows.
        (size(100, 10), [0.5, 1.0], [0.5, 2.0], (40, 0, 20, 10)),
        // Too tall: every attempt is wider than 10 columns.
        (size(10, 100), [0.5, 1.0], [0.5, 2.0], (0, 40, 10, 20)),
        // Within the range, but every attempt rounds to an empty window.
        (size(3, 3), [0.001, 0.002], [0.75, 4.0 / 3.0], (0, 0, 3, 3)),
    ];
    for (image, scale, ratio, (x, y, w, h)) in cases {
        for i in 0..8 {
            let rect = window(
                resized_crop(scale, ratio)
                    .draw(&node.index(i), image)
                    .unwrap(),
            );
            assert_eq!(
                rect,
                Rect {
                    x,
                    y,
                    width: w,
                    height: h
                },
                "{image:?}"
            );
        }
    }
}

/// A drawn window is never empty and always inside, also for extreme aspects where
/// one side rounds to 0.
#[test]
fn a_resized_crop_window_is_never_empty() {
    let node = SeedTree::from_u64(45).child("extreme");
    // Narrow windows of a tall image (the width rounds to 0) and flat windows of a
    // wide one (the height does).
    for (image, ratio) in [(size(10, 30), [0.01, 0.02]), (size(30, 10), [50.0, 100.0])] {
        let op = resized_crop([0.03, 0.04], ratio);
        for i in 0..300 {
            let rect = window(op.draw(&node.index(i), image).unwrap());
            assert!(rect.width >= 1 && rect.height >= 1, "{rect:?}");
            assert!(
                rect.check_inside(image.width, image.height).is_ok(),
                "{rect:?}"
            );
        }
    }
}

/// torchvision's window recipe, written from the documentation of `Op::RandomResizedCrop`
/// and `Op::Erase`, on the op's own stream: up to 10 attempts of
/// `area = W·H·uniform(scale)`, `aspect = exp(uniform(ln r₀, ln r₁))`, then `y` and `x`
/// below the free room plus one. `None`: no attempt fitted.
fn reference_window(
    key: &SeedTree,
    image: ImageSize,
    scale: [f64; 2],
    ratio: [f64; 2],
    erase_p: Option<f64>,
) -> Option<Rect> {
    let (big_w, big_h) = (image.width, image.height);
    let mut rng = key.rng();
    if let Some(p) = erase_p {
        if !rng.bernoulli(p).unwrap() {
            return None;
        }
    }
    let round = |v: f64| v.round().clamp(0.0, f64::from(u32::MAX)) as u32;
    for _ in 0..10 {
        let area =
            f64::from(big_w) * f64::from(big_h) * rng.uniform_f64(scale[0], scale[1]).unwrap();
        let aspect = libm::exp(
            rng.uniform_f64(libm::log(ratio[0]), libm::log(ratio[1]))
                .unwrap(),
        );
        let (a, b) = (round((area * aspect).sqrt()), round((area / aspect).sqrt()));
        // The crop's aspect is width / height; the eraser's is height / width, and it
        // must leave something of the image on both axes.
        let (w, h, fits) = if erase_p.is_some() {
            (b, a, 0 < a && a < big_h && 0 < b && b < big_w)
        } else {
            (a, b, 0 < a && a <= big_w && 0 < b && b <= big_h)
        };
        if fits {
            let y = rng.try_below(u64::from(big_h - h) + 1).unwrap() as u32;
            let x = rng.try_below(u64::from(big_w - w) + 1).unwrap() as u32;
            return Some(Rect {
                x,
                y,
                width: w,
                height: h,
            });
        }
    }
    None
}

#[test]
fn windows_follow_the_documented_recipe() {
    let node = SeedTree::from_u64(46).child("recipe");
    let configs = [
        (size(64, 48), [0.08, 1.0], [0.75, 4.0 / 3.0]),
        (size(10, 10), [0.9, 1.0], [1.0, 1.0]),
        (size(50, 10), [0.02, 0.03], [0.01, 0.02]),
        (size(10, 50), [0.02, 0.03], [50.0, 100.0]),
        (size(50, 10), [0.02, 0.03], [50.0, 100.0]),
        // Erased windows as wide as the image (refused: something must remain).
        (size(10, 10), [0.45, 0.65], [0.5, 0.6]),
        (size(7, 300), [0.3, 0.9], [0.2, 5.0]),
    ];
    let (mut crops, mut erased, mut empty) = (0, 0, 0);
    for (image, scale, ratio) in configs {
        for i in 0..150 {
            let key = node.index(i);
            let crop = resized_crop(scale, ratio).draw(&key, image).unwrap();
            if let Some(want) = reference_window(&key, image, scale, ratio, None) {
                assert_eq!(window(crop), want, "{image:?} {scale:?} {ratio:?} #{i}");
                crops += 1;
            }
            let erase = Op::Erase {
                p: 0.75,
                scale,
                ratio,
                fill: [0; 3],
            };
            let got = match erase.draw(&key, image).unwrap() {
                OpParams::Erase { rect, .. } => rect,
                other => panic!("{other:?}"),
            };
            let want = reference_window(&key, image, scale, ratio, Some(0.75));
            assert_eq!(got, want, "erase {image:?} {scale:?} {ratio:?} #{i}");
            if got.is_some() {
                erased += 1;
            } else {
                empty += 1;
            }
        }
    }
    assert!(
        crops >= 250 && erased >= 150 && empty >= 150,
        "{crops} {erased} {empty}"
    );
}

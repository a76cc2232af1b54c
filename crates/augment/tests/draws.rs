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
    let op = resized_crop([0.03, 0.04], [0.01, 0.02]);
    for i in 0..300 {
        let rect = window(op.draw(&node.index(i), size(10, 30)).unwrap());
        assert!(rect.width >= 1 && rect.height >= 1, "{rect:?}");
        assert!(rect.check_inside(10, 30).is_ok(), "{rect:?}");
    }
}

//! Known-answer tests: the bytes of every op's output, and of a composed pipeline, on
//! small fixed images, pinned by their BLAKE3 hash. A change here changes outputs for
//! users: log it under "Reproducibility-breaking changes".

use image::{Rgb, RgbImage};
use lockstep_augment::*;
use lockstep_seeding::{EpochKey, SeedTree};

/// A 23x17 image with every kind of pixel: ramps, grey, saturated.
fn fixed_image() -> RgbImage {
    RgbImage::from_fn(23, 17, |x, y| {
        Rgb([
            (x * 11 + y * 3) as u8,
            (y * 15 + (x * x) % 7) as u8,
            ((x * y * 5 + 40) % 256) as u8,
        ])
    })
}

fn hash(image: &RgbImage) -> String {
    let mut h = blake3::Hasher::new();
    h.update(&image.width().to_le_bytes());
    h.update(&image.height().to_le_bytes());
    h.update(image.as_raw());
    h.finalize().to_hex()[..16].to_string()
}

fn check(table: &[(&str, RgbImage, &str)]) {
    let mut wrong = Vec::new();
    for (name, image, expected) in table {
        let got = hash(image);
        if got != *expected {
            wrong.push(format!("(\"{name}\", {got})"));
        }
    }
    assert!(wrong.is_empty(), "changed outputs: {wrong:#?}");
}

#[test]
fn every_adjust_op_is_pinned() {
    let img = fixed_image();
    let r = |x, y, w, h| Rect {
        x,
        y,
        width: w,
        height: h,
    };
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let table = [
        ("hflip", hflip(&img).unwrap(), "9192361937de52f1"),
        ("vflip", vflip(&img).unwrap(), "2b79337900b1c113"),
        (
            "crop",
            crop(&img, r(3, 2, 11, 9)).unwrap(),
            "d482294bb237440d",
        ),
        (
            "resize nearest up",
            resize(&img, 40, 31, Interpolation::Nearest).unwrap(),
            "0de9619e103b9216",
        ),
        (
            "resize nearest down",
            resize(&img, 9, 5, Interpolation::Nearest).unwrap(),
            "52c9d2a7498bf9f2",
        ),
        (
            "resize bilinear up",
            resize(&img, 40, 31, Interpolation::Bilinear).unwrap(),
            "96f23a99b5c07734",
        ),
        (
            "resize bilinear down",
            resize(&img, 9, 5, Interpolation::Bilinear).unwrap(),
            "8cdc93f4b9894b32",
        ),
        ("rotate90 1", rotate90(&img, 1).unwrap(), "ca3bcc34925b3371"),
        ("rotate90 2", rotate90(&img, 2).unwrap(), "e3bf6267e7165093"),
        ("rotate90 3", rotate90(&img, 3).unwrap(), "7532b0bc5b487ba1"),
        (
            "pad",
            pad(
                &img,
                Padding {
                    left: 1,
                    top: 2,
                    right: 3,
                    bottom: 4,
                },
                [9, 99, 199],
            )
            .unwrap(),
            "da5cbd8fdd1b6762",
        ),
        (
            "erase",
            erase(&img, r(4, 5, 6, 7), [1, 2, 3]).unwrap(),
            "d439324829e9aeca",
        ),
        (
            "brightness 0.61",
            adjust_brightness(&img, 0.61).unwrap(),
            "f374ba4d130c3219",
        ),
        (
            "brightness 1.73",
            adjust_brightness(&img, 1.73).unwrap(),
            "3ee1e2839d8cada4",
        ),
        (
            "contrast 0.42",
            adjust_contrast(&img, 0.42).unwrap(),
            "245c6da942115890",
        ),
        (
            "contrast 1.9",
            adjust_contrast(&img, 1.9).unwrap(),
            "84f188a849e44fe9",
        ),
        (
            "saturation 0.0",
            adjust_saturation(&img, 0.0).unwrap(),
            "a5b7c13ab668231c",
        ),
        (
            "saturation 1.45",
            adjust_saturation(&img, 1.45).unwrap(),
            "bc9efa551f626f1f",
        ),
        (
            "saturation 100",
            adjust_saturation(&img, 100.0).unwrap(),
            "4fbd7eada17581d8",
        ),
        (
            "hue -0.37",
            adjust_hue(&img, -0.37).unwrap(),
            "d6326f5d07d06867",
        ),
        (
            "hue 0.13",
            adjust_hue(&img, 0.13).unwrap(),
            "b62c9904a9b248f1",
        ),
        (
            "gamma 0.5",
            adjust_gamma(&img, 0.5, 1.0).unwrap(),
            "0364f9e8a750a548",
        ),
        (
            "gamma 2.2 gain 1.1",
            adjust_gamma(&img, 2.2, 1.1).unwrap(),
            "7e84fdb447c2b33c",
        ),
        (
            "noise 12.5",
            adjust_noise(&img, 12.5, seed).unwrap(),
            "f3df2cb6e0592894",
        ),
    ];
    check(&table);
}

fn detection_pipeline() -> Compose {
    let pipeline = Compose::default()
        .with_ops(vec![
            Op::RandomResizedCrop {
                width: 16,
                height: 12,
                scale: [0.3, 1.0],
                ratio: [0.75, 1.3333333333333333],
                interpolation: Interpolation::Bilinear,
            },
            Op::Hflip { p: 0.5 },
            Op::Vflip { p: 0.5 },
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
                low: -0.1,
                high: 0.1,
            },
            Op::Gamma {
                low: 0.8,
                high: 1.25,
                gain: 1.0,
            },
            Op::Noise {
                p: 0.5,
                std_low: 2.0,
                std_high: 8.0,
            },
            Op::Erase {
                p: 0.5,
                scale: [0.02, 0.2],
                ratio: [0.3, 3.3],
                fill: [0, 0, 0],
            },
            Op::Pad {
                padding: Padding {
                    left: 2,
                    top: 0,
                    right: 0,
                    bottom: 2,
                },
                fill: [114, 114, 114],
            },
        ])
        .with_policy(
            BoxPolicy::default()
                .with_min_area(2.0)
                .with_min_visible_fraction(0.25),
        );
    pipeline.validate().unwrap();
    pipeline
}

const PIPELINE: [&str; 6] = [
    "07fbcd0650bbcb12",
    "be3f8aaa6980c982",
    "77169f2f9089aa97",
    "a2e1208013e39a4d",
    "54cee6b39b35f0cc",
    "bdeb18a1c760a863",
];

fn boxes() -> Vec<LabeledBox> {
    let b = |x1, y1, x2, y2, class| LabeledBox::new(BBox::new(x1, y1, x2, y2), ClassId(class));
    vec![
        b(1.0, 1.0, 12.5, 9.0, 1),
        b(10.0, 4.0, 22.0, 16.0, 2),
        b(0.0, 15.0, 3.0, 17.0, 3),
    ]
}

#[test]
fn composed_pipeline_is_pinned() {
    let pipeline = detection_pipeline();
    let epoch = EpochKey::new(&SeedTree::from_u64(2024).child("train"), 1);
    let mut table = Vec::new();
    let mut summaries = Vec::new();
    for i in 0..6 {
        let sample = Sample::new(fixed_image(), boxes()).unwrap();
        let out = pipeline.apply(sample, &epoch.sample(i)).unwrap();
        let bits: Vec<String> = out
            .sample
            .boxes
            .iter()
            .map(|b| {
                format!(
                    "{:08x}{:08x}{:08x}{:08x}/{}",
                    b.bbox.x1.to_bits(),
                    b.bbox.y1.to_bits(),
                    b.bbox.x2.to_bits(),
                    b.bbox.y2.to_bits(),
                    b.class.0
                )
            })
            .collect();
        let dropped: Vec<(usize, DropReason)> =
            out.dropped.iter().map(|d| (d.index, d.reason)).collect();
        summaries.push(format!("{bits:?} {dropped:?}"));
        table.push(("pipeline", out.sample.image, PIPELINE[i as usize]));
    }
    let names: Vec<String> = (0..6).map(|i| format!("sample {i}")).collect();
    let table: Vec<(&str, RgbImage, &str)> = table
        .into_iter()
        .zip(&names)
        .map(|((_, img, h), n)| (n.as_str(), img, h))
        .collect();
    check(&table);
    let expected_boxes = [
        r#"["410000003f4000004189999a40d80000/1", "40000000404000004120000041400000/2"] [(2, TooSmall)]"#,
        r#"["40e80000411111114154000041800000/1", "400000000000000041300000413bbbbc/2"] [(2, TooSmall)]"#,
        r#"["4036db6c00000000411b6db741155555/1", "40adb6dc40e38e394160000041800000/2"] [(2, TooSmall)]"#,
        r#"["40f4b4b5410666664154b4b541800000/1", "402d2d2c3f4cccd04132d2d341266666/2"] [(2, TooSmall)]"#,
        r#"["40000000000000004100000040e1e1e2/1", "40880000409696984154000041800000/2"] [(2, TooSmall)]"#,
        r#"["402d2d2c000000004105a5a640d00000/1", "409a5a5a408000004154b4b541800000/2"] [(2, TooSmall)]"#,
    ];
    assert_eq!(summaries, expected_boxes, "box outputs changed");
}

#[test]
fn drawn_parameters_are_pinned() {
    let pipeline = detection_pipeline();
    let key = EpochKey::new(&SeedTree::from_u64(2024).child("train"), 1).sample(0);
    let out = pipeline
        .apply(Sample::new(fixed_image(), boxes()).unwrap(), &key)
        .unwrap();
    let json = serde_json::to_string(&out.params).unwrap();
    assert_eq!(
        json,
        r#"[{"op":"resized_crop","rect":{"x":0,"y":0,"width":20,"height":16},"width":16,"height":12,"interpolation":"Bilinear"},{"op":"hflip","applied":false},{"op":"vflip","applied":true},{"op":"rotate90","k":2},{"op":"brightness","factor":"0.6367811126366109"},{"op":"contrast","factor":"1.1932183602080175"},{"op":"saturation","factor":"0.6063241169069135"},{"op":"hue","shift":"0.03135944816830841"},{"op":"gamma","gamma":"0.810212088415713","gain":"1.0"},{"op":"noise","std":"0.0","seed":null},{"op":"erase","rect":{"x":9,"y":1,"width":3,"height":7},"fill":[0,0,0]},{"op":"pad","padding":{"left":2,"top":0,"right":0,"bottom":2},"fill":[114,114,114]}]"#
    );
}

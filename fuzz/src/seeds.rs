//! The seed corpus: small valid inputs per target, made with the crates' own
//! serialisations (`cargo run -p lockstep-fuzz --example seed_corpus` writes them
//! to `fuzz/corpus/`; the smoke test also runs them straight from here).

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use lockstep_augment::{BoxPolicy, Compose, Interpolation, Op, Padding};
use lockstep_data::{BufferedShuffle, Sampler, SamplerConfig, Shard};
use lockstep_nn::checkpoint::{MANIFEST, OPTIMIZER, WEIGHTS};
use lockstep_seeding::SeedTree;
use serde_json::json;

use crate::targets::coco::IMAGE_NAME;
use crate::targets::nn::template;

/// A named seed input.
pub type Seed = (String, Vec<u8>);

/// The seeds of target `name` (empty for an unknown name).
pub fn seeds(name: &str) -> Vec<Seed> {
    match name {
        "coco_annotations" => coco(),
        "seed_tree_json" => seed_tree(),
        "sampler_state" => sampler(),
        "buffered_shuffle_state" => buffered_shuffle(),
        "interleave_state" => vec![
            seed("tf-example", vec![2, 4, 4, 2, 3, 6, 6]),
            seed("flat-map", vec![3, 1, 3, 3, 2, 0, 5]),
            seed("limits", vec![1, 2, 2, 1, 4]),
        ],
        "compose_json" => compose(),
        "op_json" => ops()
            .into_iter()
            .enumerate()
            .map(|(i, op)| seed(&format!("{i:02}-{}", op.name()), to_json(&op)))
            .collect(),
        "checkpoint_manifest" => template()
            .map(|t| vec![seed("manifest", t.file(MANIFEST).to_vec())])
            .unwrap_or_default(),
        "safetensors" => template()
            .map(|t| {
                vec![
                    seed("weights", t.file(WEIGHTS).to_vec()),
                    seed("optimizer", t.file(OPTIMIZER).to_vec()),
                ]
            })
            .unwrap_or_default(),
        "nms" => nms(),
        "metrics" => metrics(),
        "repro_cli" => [
            ("quick", "--quick"),
            (
                "seed-steps",
                "--seed\x003\x00--steps\x0040\x00--threads\x002",
            ),
            (
                "paths",
                "--device\x00cpu\x00--data\x00coco\x00--out\x00/tmp/repro",
            ),
            ("cuda", "--device\x00cuda\x00--quick"),
        ]
        .iter()
        .map(|(n, a)| seed(n, a.as_bytes().to_vec()))
        .collect(),
        _ => Vec::new(),
    }
}

fn seed(name: &str, bytes: Vec<u8>) -> Seed {
    (name.to_string(), bytes)
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Plain data types of the crates: serialisation does not fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match image.write_to(&mut out, format) {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}

fn coco() -> Vec<Seed> {
    let instances = json!({
        "images": [
            {"id": 1, "file_name": IMAGE_NAME, "width": 4, "height": 3},
            {"id": 2, "file_name": IMAGE_NAME},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 7, "bbox": [0.5, 0.0, 2.0, 1.5]},
            {"id": 11, "image_id": 1, "category_id": 8, "bbox": [1, 1, 3, 2], "iscrowd": 1},
            {"id": 12, "image_id": 2, "category_id": 7, "bbox": [0, 0, 4, 3]},
        ],
        "categories": [
            {"id": 7, "name": "circle", "supercategory": "shape"},
            {"id": 8, "name": "square"},
        ],
    });
    let json = to_json(&instances);
    let image = RgbImage::from_fn(4, 3, |x, y| image::Rgb([(x * 60) as u8, (y * 80) as u8, 7]));
    let with = |bytes: Vec<u8>| {
        let mut out = json.clone();
        out.push(0);
        out.extend(bytes);
        out
    };
    vec![
        seed("png", with(encode(&image, ImageFormat::Png))),
        seed("jpeg", with(encode(&image, ImageFormat::Jpeg))),
        seed("json-only", json.clone()),
    ]
}

fn seed_tree() -> Vec<Seed> {
    let node = SeedTree::from_u64(42)
        .child("train")
        .child_index("epoch", 3)
        .child_index("sample", 1234)
        .child("augment");
    vec![
        seed("root", SeedTree::from_u64(0).to_json().into_bytes()),
        seed("deep", node.to_json().into_bytes()),
        seed(
            "bytes-root",
            SeedTree::from_bytes([0xa5; 32])
                .child("x")
                .to_json()
                .into_bytes(),
        ),
        seed("path", node.path().into_bytes()),
        seed("escaped-path", b"a\\/b/[3]/c\\[d\\]".to_vec()),
    ]
}

fn sampler() -> Vec<Seed> {
    let mut out = Vec::new();
    let cases = [
        ("shuffled", 10, true, false, 2, (1, 2), 3),
        ("sequential", 7, false, true, 3, (0, 3), 2),
        ("single", 1, true, false, 1, (0, 1), 0),
    ];
    for (name, len, shuffle, drop_remainder, epochs, (rank, world), steps) in cases {
        let config = SamplerConfig::new(len, SeedTree::from_u64(5).child("train"))
            .with_shuffle(shuffle)
            .with_drop_remainder(drop_remainder)
            .with_epochs(epochs);
        let Ok(shard) = Shard::new(rank, world) else {
            continue;
        };
        let Ok(mut sampler) = Sampler::new(config, shard) else {
            continue;
        };
        for _ in 0..steps {
            let _ = sampler.next_step();
        }
        let state: serde_json::Value =
            serde_json::from_str(&sampler.state().to_json()).unwrap_or_default();
        let doc = json!({ "state": state, "shard": shard });
        out.push(seed(name, to_json(&doc)));
    }
    out
}

fn buffered_shuffle() -> Vec<Seed> {
    let node = SeedTree::from_u64(8).child("shuffle");
    let mut out = Vec::new();
    for (name, len, buffer, taken) in [
        ("mid", 20u64, 4u64, 5),
        ("start", 5, 8, 0),
        ("end", 6, 2, 6),
    ] {
        let Ok(mut shuffle) = BufferedShuffle::new(0..len, &node, buffer) else {
            continue;
        };
        for _ in 0..taken {
            let _ = shuffle.next();
        }
        let state: serde_json::Value =
            serde_json::from_str(&shuffle.state().to_json()).unwrap_or_default();
        out.push(seed(name, to_json(&json!({ "state": state, "len": len }))));
    }
    out
}

fn ops() -> Vec<Op> {
    vec![
        Op::Hflip { p: 0.5 },
        Op::Vflip { p: 1.0 },
        Op::RandomRotate90,
        Op::RandomCrop {
            width: 6,
            height: 4,
        },
        Op::CenterCrop {
            width: 5,
            height: 5,
        },
        Op::RandomResizedCrop {
            width: 8,
            height: 8,
            scale: [0.08, 1.0],
            ratio: [0.75, 4.0 / 3.0],
            interpolation: Interpolation::Bilinear,
        },
        Op::Resize {
            width: 9,
            height: 7,
            interpolation: Interpolation::Nearest,
        },
        Op::Pad {
            padding: Padding {
                left: 1,
                top: 2,
                right: 0,
                bottom: 3,
            },
            fill: [1, 2, 3],
        },
        Op::Brightness {
            low: 0.5,
            high: 1.5,
        },
        Op::Contrast {
            low: 0.0,
            high: 2.0,
        },
        Op::Saturation {
            low: 0.2,
            high: 1.0,
        },
        Op::Hue {
            low: -0.5,
            high: 0.5,
        },
        Op::Gamma {
            low: 0.5,
            high: 2.0,
            gain: 1.0,
        },
        Op::Noise {
            p: 0.5,
            std_low: 0.0,
            std_high: 8.0,
        },
        Op::Erase {
            p: 1.0,
            scale: [0.02, 0.33],
            ratio: [0.3, 3.3],
            fill: [0, 0, 0],
        },
    ]
}

fn compose() -> Vec<Seed> {
    let all = ops();
    let mut out = Vec::new();
    let pipelines: [(&str, Vec<Op>, BoxPolicy); 3] = [
        ("all-ops", all.clone(), BoxPolicy::default()),
        (
            "crop-policy",
            all.iter().skip(3).take(3).cloned().collect(),
            BoxPolicy::default()
                .with_min_area(2.0)
                .with_min_visible_fraction(0.5),
        ),
        (
            "colour",
            all.iter().skip(8).take(5).cloned().collect(),
            BoxPolicy::default(),
        ),
    ];
    for (name, ops, policy) in pipelines {
        let c = Compose::default().with_ops(ops).with_policy(policy);
        if c.validate().is_ok() {
            out.push(seed(name, to_json(&c)));
        }
    }
    out
}

/// A grid value of [`crate::bytes::Bytes::f32`]: tag 0, then `16·v` as `i16`.
fn grid(v: f32, out: &mut Vec<u8>) {
    out.push(0);
    out.extend(((v * 16.0) as i16).to_le_bytes());
}

/// A value of [`crate::bytes::Bytes::unit`] in `[0, 1]`: `k / 255`.
fn unit(k: u8, out: &mut Vec<u8>) {
    out.extend([0, k]);
}

fn nms() -> Vec<Seed> {
    let boxes = [
        [0.0, 0.0, 10.0, 10.0],
        [1.0, 1.0, 11.0, 11.0],
        [20.0, 20.0, 30.0, 30.0],
        [0.5, 0.0, 10.0, 9.5],
    ];
    let mut out = Vec::new();
    for (name, options) in [("plain", 0u8), ("all-options", 0x1f)] {
        let mut b = Vec::new();
        unit(128, &mut b); // IoU threshold.
        b.push(options);
        if options != 0 {
            unit(25, &mut b); // Score threshold.
            b.extend([4, 3]); // Max output 3.
            b.extend([4, 2]); // Per class 2.
            b.extend([6, 1]); // Quantum 1/255.
        }
        b.extend([6, 128]); // Sigma 0.5.
        b.push(boxes.len() as u8);
        b.push(0); // Scores of the same length.
        for bx in boxes {
            for v in bx {
                grid(v, &mut b);
            }
        }
        for s in [230, 200, 180, 230] {
            unit(s, &mut b);
        }
        b.extend([0, 0, 1, 0]);
        out.push(seed(name, b));
    }
    out
}

fn metrics() -> Vec<Seed> {
    let mut b = vec![2];
    unit(128, &mut b);
    unit(191, &mut b);
    b.extend([1, 4, 100]); // max_detections Some(100).
    let dets = [
        (0, 1, 230, [0.0, 0.0, 10.0, 10.0]),
        (0, 1, 128, [1.0, 1.0, 9.0, 9.0]),
        (1, 2, 77, [5.0, 5.0, 6.0, 8.0]),
    ];
    b.push(dets.len() as u8);
    for (image, class, score, bx) in dets {
        b.extend([image, class]);
        unit(score, &mut b);
        for v in bx {
            grid(v, &mut b);
        }
    }
    let gts = [(0, 1, [0.0, 0.0, 10.0, 10.0]), (1, 2, [5.0, 5.0, 6.5, 8.0])];
    b.push(gts.len() as u8);
    for (image, class, bx) in gts {
        b.extend([image, class]);
        for v in bx {
            grid(v, &mut b);
        }
    }
    vec![seed("two-images", b)]
}

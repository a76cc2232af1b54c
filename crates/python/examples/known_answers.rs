//! Prints, as one JSON object, what the Rust crates give for the fixed inputs that
//! `tests/test_same_bits.py` feeds the Python module: seed keys and draws,
//! permutations, sampler orders and states, augment outputs and NMS results. The pytest
//! suite runs this example and compares every value bit for bit (floats as bit
//! patterns).
//!
//! `cargo run -p lockstep-python --example known_answers`

use image::RgbImage;
use lockstep_augment::{Compose, Op, Sample};
use lockstep_core::{BBox, ClassId, LabeledBox};
use lockstep_data::{Sampler, SamplerConfig, Shard};
use lockstep_postprocess::{Nms, SoftNms, TieBreak};
use lockstep_seeding::{EpochKey, SeedTree};
use serde_json::{json, Value};

/// The test image: pixel (x, y) channel c is `(x·7 + y·13 + c·29) mod 256`.
fn image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([0u8, 1, 2].map(|c| ((x * 7 + y * 13 + u32::from(c) * 29) % 256) as u8))
    })
}

/// The NMS input: `n` boxes on a 16-column grid with jitter from the seed tree and
/// scores from a small set (so ties happen).
fn nms_input(n: u64) -> (Vec<BBox>, Vec<f32>, Vec<ClassId>) {
    let node = SeedTree::from_u64(11).child("nms");
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    let mut classes = Vec::new();
    for i in 0..n {
        let x = (i % 16) as f32 * 6.0 + node.f32_at(4 * i) * 8.0;
        let y = (i / 16) as f32 * 6.0 + node.f32_at(4 * i + 1) * 8.0;
        let s = 4.0 + node.f32_at(4 * i + 2) * 12.0;
        boxes.push(BBox::new(x, y, x + s, y + s));
        scores.push((node.u64_at(4 * i + 3) % 8) as f32 / 8.0);
        classes.push(ClassId((i % 3) as u32));
    }
    (boxes, scores, classes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = SeedTree::from_u64(7);
    let node = root.child("train").child_index("epoch", 3).index(5);
    let mut rng = node.rng();
    let draws = json!({
        "below_1000": (0..8).map(|_| rng.try_below(1000)).collect::<Result<Vec<_>, _>>()?,
        "bernoulli_0_3": (0..8).map(|_| rng.bernoulli(0.3)).collect::<Result<Vec<_>, _>>()?,
        "uniform_f64_bits": (0..4).map(|_| rng.uniform_f64(-2.0, 5.0).map(f64::to_bits)).collect::<Result<Vec<_>, _>>()?,
        "uniform_f32_bits": (0..4).map(|_| rng.uniform_f32(-2.0, 5.0).map(f32::to_bits)).collect::<Result<Vec<_>, _>>()?,
        "normal_bits": (0..4).map(|_| rng.normal(1.5, 0.25).map(f64::to_bits)).collect::<Result<Vec<_>, _>>()?,
    });
    let seed = json!({
        "path": node.path(),
        "key_hex": node.key_hex(),
        "u64_at": (0..4).map(|i| node.u64_at(i * 1000)).collect::<Vec<_>>(),
        "f64_at_bits": (0..4).map(|i| node.f64_at(i).to_bits()).collect::<Vec<_>>(),
        "f32_at_bits": (0..4).map(|i| node.f32_at(i).to_bits()).collect::<Vec<_>>(),
        "label_42": root.child("42").key_hex(),
        "index_42": root.index(42).key_hex(),
        "bytes_root": SeedTree::from_bytes([9; 32]).child("x").key_hex(),
        "draws": draws,
        "json": node.to_json(),
    });

    let perm = lockstep_data::permutation(&root.child("perm"), 50)?;
    let ip = lockstep_data::IndexPermutation::new(&root.child("ip"), 1_000_003)?;
    let ip_values: Vec<u64> = [0u64, 1, 2, 999, 500_000, 1_000_002]
        .iter()
        .map(|&i| ip.get(i))
        .collect::<Result<_, _>>()?;

    let data = root.child("data");
    let config = SamplerConfig::new(23, data.clone()).with_epochs(2);
    let mut rank1 = Sampler::new(config.clone(), Shard::new(1, 3)?)?;
    let first: Vec<u64> = rank1.by_ref().take(4).map(|s| s.index).collect();
    let state = rank1.state().to_json();
    let rest: Vec<u64> = rank1.map(|s| s.index).collect();
    let single: Vec<u64> = Sampler::new(config, Shard::single())?
        .map(|s| s.index)
        .collect();

    let pipeline = Compose::new(vec![
        Op::RandomResizedCrop {
            width: 24,
            height: 20,
            scale: [0.3, 1.0],
            ratio: [0.75, 1.333],
            interpolation: lockstep_augment::Interpolation::Bilinear,
        },
        Op::Hflip { p: 0.5 },
        Op::Brightness {
            low: 0.7,
            high: 1.3,
        },
        Op::Saturation {
            low: 0.5,
            high: 1.5,
        },
        Op::Noise {
            p: 0.8,
            std_low: 1.0,
            std_high: 6.0,
        },
    ])?;
    let boxes = vec![
        LabeledBox::new(BBox::new(4.0, 5.0, 30.0, 28.0), ClassId(1)),
        LabeledBox::new(BBox::new(33.0, 2.0, 46.0, 39.0), ClassId(4)),
    ];
    let mut augment = Vec::new();
    for i in 0..6u64 {
        let key = EpochKey::new(&data, 1).sample(i);
        let out = pipeline.apply(Sample::new(image(48, 40), boxes.clone())?, &key)?;
        augment.push(json!({
            "index": i,
            "image_fnv1a": fnv1a(out.sample.image.as_raw()),
            "shape": [out.sample.image.height(), out.sample.image.width()],
            "box_bits": out.sample.boxes.iter().flat_map(|b| b.bbox.to_array().map(f32::to_bits)).collect::<Vec<_>>(),
            "labels": out.sample.boxes.iter().map(|b| b.class.0).collect::<Vec<_>>(),
            "params": serde_json::to_value(&out.params)?,
        }));
    }

    let mut nms_cases = Vec::new();
    for n in [40u64, 300] {
        let (b, s, c) = nms_input(n);
        let plain = Nms::new(0.5).run(&b, &s)?;
        let lower = Nms::new(0.5)
            .with_tie_break(TieBreak::LowerIndex)
            .run(&b, &s)?;
        let batched = Nms::new(0.45).run_batched(&b, &s, &c)?;
        let padded = Nms::new(0.5).with_max_output(10).run_padded(&b, &s)?;
        let soft = Nms::new(0.3).run_soft(&b, &s, SoftNms::Gaussian { sigma: 0.5 })?;
        let linear = Nms::new(0.3).run_soft(&b, &s, SoftNms::Linear)?;
        nms_cases.push(json!({
            "n": n,
            "plain": plain,
            "lower_index": lower,
            "batched": batched,
            "padded": padded.indices,
            "padded_valid": padded.valid,
            "soft_indices": soft.indices,
            "soft_score_bits": soft.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            "linear_indices": linear.indices,
            "linear_score_bits": linear.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
        }));
    }

    let out: Value = json!({
        "seed": seed,
        "permutation": perm,
        "index_permutation": ip_values,
        "sampler": {"first": first, "state": state, "rest": rest, "single": single},
        "augment": augment,
        "nms": nms_cases,
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// FNV-1a over the bytes, as hex: a short fingerprint the test recomputes in Python.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

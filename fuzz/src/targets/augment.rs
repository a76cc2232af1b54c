//! `Compose` and `Op` from JSON, applied to small images.

use image::RgbImage;
use lockstep_augment::{
    to_tensor, BBox, BoxPolicy, ClassId, Compose, ImageSize, LabeledBox, Normalize, Op, Sample,
};
use lockstep_seeding::{EpochKey, SeedTree};
use serde_json::Value;

/// The largest integer (an output side or a border) a pipeline may ask for before the
/// target stops short of running it: larger outputs are valid but allocate what the
/// configuration asks for (up to 65536² pixels), which is not a defect.
const MAX_INTEGER: u64 = 512;

/// Whether every integer in the configuration's JSON form is at most [`MAX_INTEGER`].
fn small(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_u64().is_none_or(|v| v <= MAX_INTEGER),
        Value::Array(items) => items.iter().all(small),
        Value::Object(map) => map.values().all(small),
        _ => true,
    }
}

/// The images every pipeline runs on: a 12x8 gradient with boxes, a 1x1 image, and a
/// 5x3 image whose buffer is longer than `5·3·3` (which `RgbImage::from_raw` allows).
fn samples() -> Vec<Sample> {
    let gradient = RgbImage::from_fn(12, 8, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 30) as u8, ((x + y) * 9) as u8])
    });
    let labeled =
        |x1, y1, x2, y2, class| LabeledBox::new(BBox::new(x1, y1, x2, y2), ClassId(class));
    let boxes = vec![
        labeled(1.0, 1.0, 6.0, 5.0, 1),
        labeled(0.0, 0.0, 12.0, 8.0, 2),
        labeled(10.5, 7.0, 12.0, 8.0, 3),
    ];
    let mut out = vec![Sample {
        image: gradient,
        boxes,
    }];
    out.extend(
        RgbImage::from_raw(1, 1, vec![200, 10, 90]).map(|image| Sample {
            image,
            boxes: vec![labeled(0.0, 0.0, 1.0, 1.0, 0)],
        }),
    );
    let long: Vec<u8> = (0..5 * 3 * 3 + 7).map(|i| (i * 37) as u8).collect();
    out.extend(RgbImage::from_raw(5, 3, long).map(|image| Sample {
        image,
        boxes: vec![labeled(1.0, 0.0, 4.0, 3.0, 0)],
    }));
    out
}

/// Runs `compose` on every sample; a successful run must replay to the same output,
/// and its image must convert to a tensor of the right size.
fn run(compose: &Compose) {
    let epoch = EpochKey::new(&SeedTree::from_u64(7).child("fuzz"), 0);
    for (i, sample) in samples().into_iter().enumerate() {
        let key = epoch.sample(i as u64);
        let Ok(out) = compose.apply(sample.clone(), &key) else {
            continue;
        };
        let replayed = compose.replay(sample, &out.params);
        let replayed = replayed.unwrap_or_else(|e| panic!("replay of a successful run: {e}"));
        assert_eq!(replayed.sample, out.sample, "replay differs from apply");
        assert_eq!(replayed.dropped, out.dropped, "replay drops other boxes");
        let (w, h) = out.sample.image.dimensions();
        if let Ok(t) = to_tensor(&out.sample.image, &Normalize::IMAGENET) {
            assert_eq!(t.shape_i64(), vec![3, i64::from(h), i64::from(w)]);
        }
        for b in out.sample.boxes.iter().map(|b| b.bbox) {
            assert!(
                b.x1 <= b.x2 && b.y1 <= b.y2 && b.x1 >= 0.0 && b.y1 >= 0.0,
                "box {b:?} is not inside the {w}x{h} output"
            );
            assert!(
                b.x2 <= w as f32 && b.y2 <= h as f32,
                "box {b:?} is not inside the {w}x{h} output"
            );
        }
    }
}

/// A `Compose` from JSON; if it parses and asks for small outputs, it runs on the
/// test images (see [`run`]).
pub fn compose_json(data: &[u8]) {
    let Ok(compose) = serde_json::from_slice::<Compose>(data) else {
        return;
    };
    let Ok(value) = serde_json::to_value(&compose) else {
        panic!("a parsed Compose does not serialise");
    };
    let again: Option<Compose> = serde_json::from_value(value.clone()).ok();
    assert_eq!(again.as_ref(), Some(&compose), "Compose JSON round trip");
    if small(&value) {
        run(&compose);
    }
}

/// An `Op` from JSON: `validate`, `draw` at a few sizes, and, if it asks for small
/// outputs, its drawn parameters applied (`draw` then `OpParams::apply`) and a one-op
/// `Compose` on the test images.
pub fn op_json(data: &[u8]) {
    let Ok(op) = serde_json::from_slice::<Op>(data) else {
        return;
    };
    let valid = op.validate().is_ok();
    let key = SeedTree::from_u64(9).child(op.name());
    for (w, h) in [(1, 1), (12, 8), (0, 5), (u32::MAX, u32::MAX)] {
        let _ = op.draw(&key, ImageSize::new(w, h));
    }
    let Ok(value) = serde_json::to_value(&op) else {
        panic!("a parsed Op does not serialise");
    };
    if !small(&value) {
        return;
    }
    for sample in samples() {
        let (w, h) = sample.image.dimensions();
        if let Ok(params) = op.draw(&key, ImageSize::new(w, h)) {
            let _ = params.apply(sample, &BoxPolicy::default());
        }
    }
    match Compose::new(vec![op]) {
        Ok(compose) => run(&compose),
        Err(_) => assert!(!valid, "Compose::new refuses an op that validates"),
    }
}

//! `cargo bench -p lockstep-postprocess --bench postprocess`: hard NMS on clustered
//! detections, against `torchvision.ops.nms` (bench/peers/postprocess.py).
//!
//! Both sides build the SAME boxes from the recipe below, a fixed integer recurrence
//! (xorshift64, shifts 13/7/17) used only to lay out a benchmark workload; nothing
//! reproducible in the library depends on it. Recipe for `n` boxes:
//!
//! * state `s = 0x9E3779B97F4A7C15 ^ n`; `next()`: `s ^= s << 13; s ^= s >> 7; s ^= s << 17`
//!   (mod 2^64), returns `s`; `unit() = (next() >> 11) / 2^53` in `f64`.
//! * `m = max(1, n / 25)` objects, each: `cx = unit()·1280, cy = unit()·1280,
//!   w = 16 + unit()·112, h = 16 + unit()·112` (drawn in that order, object by object).
//! * box `i` belongs to object `i mod m`: `dx = (unit() - 0.5)·0.3·w`,
//!   `dy = (unit() - 0.5)·0.3·h`, `sw = w·(0.85 + unit()·0.3)`, `sh = h·(0.85 + unit()·0.3)`,
//!   `x1 = cx + dx - sw/2, y1 = cy + dy - sh/2, x2 = x1 + sw, y2 = y1 + sh` (cast to `f32`),
//!   then `score = (next() >> 40) / 2^24`.
//!
//! IoU threshold 0.5, no score threshold, no output limit.

use lockstep_benchkit::Suite;
use lockstep_postprocess::{nms, BBox};

struct Recipe(u64);

impl Recipe {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn workload(n: u64) -> (Vec<BBox>, Vec<f32>) {
    let mut r = Recipe(0x9E37_79B9_7F4A_7C15 ^ n);
    let m = (n / 25).max(1);
    let objects: Vec<[f64; 4]> = (0..m)
        .map(|_| {
            let cx = r.unit() * 1280.0;
            let cy = r.unit() * 1280.0;
            let w = 16.0 + r.unit() * 112.0;
            let h = 16.0 + r.unit() * 112.0;
            [cx, cy, w, h]
        })
        .collect();
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    for i in 0..n {
        let [cx, cy, w, h] = objects[(i % m) as usize];
        let dx = (r.unit() - 0.5) * 0.3 * w;
        let dy = (r.unit() - 0.5) * 0.3 * h;
        let sw = w * (0.85 + r.unit() * 0.3);
        let sh = h * (0.85 + r.unit() * 0.3);
        let x1 = cx + dx - sw / 2.0;
        let y1 = cy + dy - sh / 2.0;
        boxes.push(BBox::new(
            x1 as f32,
            y1 as f32,
            (x1 + sw) as f32,
            (y1 + sh) as f32,
        ));
        scores.push(((r.next() >> 40) as f64 / (1u64 << 24) as f64) as f32);
    }
    (boxes, scores)
}

fn main() {
    let suite = Suite::new("postprocess");
    for (label, n, target) in [
        ("1k", 1_000u64, None),
        ("10k", 10_000, Some(2.0)),
        ("50k", 50_000, Some(10.0)),
    ] {
        let (boxes, scores) = workload(n);
        let kept = nms(&boxes, &scores, 0.5).map(|k| k.len()).unwrap_or(0);
        eprintln!("nms clustered {label}: {n} boxes, {kept} kept");
        let mut record = suite.measure(&format!("nms clustered {label}"), n, |_| {
            nms(&boxes, &scores, 0.5)
        });
        if let Some(x) = target {
            record = record.min_speedup("torchvision", x);
        }
        suite.emit(&record);
    }
}

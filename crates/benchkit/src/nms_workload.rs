//! The NMS benchmark workload: the same clustered boxes for our side and the peers'
//! (`bench/peers/postprocess.py` and `bench/peers/python.py` rebuild it in Python).
//!
//! A fixed integer recurrence (xorshift64, shifts 13/7/17) lays out the workload;
//! nothing reproducible in the library depends on it, and it lives here, in the internal
//! bench crate, so that no library crate names a generator. Recipe for `n` boxes:
//!
//! * state `s = 0x9E3779B97F4A7C15 ^ n`; `next()`: `s ^= s << 13; s ^= s >> 7; s ^= s << 17`
//!   (mod 2^64), returns `s`; `unit() = (next() >> 11) / 2^53` in `f64`.
//! * `m = max(1, n / 25)` objects, each: `cx = unit()·1280, cy = unit()·1280,
//!   w = 16 + unit()·112, h = 16 + unit()·112` (drawn in that order, object by object).
//! * box `i` belongs to object `i mod m`: `dx = (unit() - 0.5)·0.3·w`,
//!   `dy = (unit() - 0.5)·0.3·h`, `sw = w·(0.85 + unit()·0.3)`, `sh = h·(0.85 + unit()·0.3)`,
//!   `x1 = cx + dx - sw/2, y1 = cy + dy - sh/2, x2 = x1 + sw, y2 = y1 + sh` (cast to `f32`),
//!   then `score = (next() >> 40) / 2^24`.

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

/// `n` clustered boxes `[x1, y1, x2, y2]` and their scores, by the recipe above.
pub fn nms_workload(n: u64) -> (Vec<[f32; 4]>, Vec<f32>) {
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
        boxes.push([x1 as f32, y1 as f32, (x1 + sw) as f32, (y1 + sh) as f32]);
        scores.push(((r.next() >> 40) as f64 / (1u64 << 24) as f64) as f32);
    }
    (boxes, scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peers rebuild the recipe in Python, so its values must not drift. The digest
    /// equals the one of `bench/peers/postprocess.py`'s `workload(1000)` (checked by hand).
    #[test]
    fn the_recipe_is_pinned() {
        let (boxes, scores) = nms_workload(1000);
        assert_eq!((boxes.len(), scores.len()), (1000, 1000));
        let digest: u64 = boxes
            .iter()
            .flatten()
            .chain(&scores)
            .fold(0xcbf2_9ce4_8422_2325, |h, v| {
                (h ^ u64::from(v.to_bits())).wrapping_mul(0x100_0000_01b3)
            });
        assert_eq!(digest, PINNED_DIGEST, "got {digest:#x}");
    }

    const PINNED_DIGEST: u64 = 0x1d21_adbc_7ee8_f0a9;
}

//! A small synthetic "shapes" detection set for tests, benchmarks and examples:
//! rectangles (class 0), ellipses (class 1) and triangles (class 2) in several colours,
//! 1–5 per image, on a dark plain background.
//!
//! Image `i` is a pure function of `seed/image[i]` and the size. Draw order from that
//! node's stream: background grey `below(40)`; object count `1 + below(5)`; then per
//! object: class `below(3)`, colour `below(6)` from a fixed palette, width and height
//! `min_side + below(max_side − min_side + 1)` with sides from `size/8` to `size/2`, left
//! and top `below(size − w + 1)`, `below(size − h + 1)`. Objects are painted in order;
//! the box is the shape's full extent even where a later object covers it. Pixel tests
//! use pixel centres in `f32`; values are bytes scaled by `1/255`.

use lockstep_seeding::SeedTree;
use tch::Tensor;

use crate::error::{Error, Result};
use crate::models::detector::ObjectBox;

const PALETTE: [[u8; 3]; 6] = [
    [230, 40, 40],
    [40, 200, 60],
    [50, 90, 230],
    [230, 210, 40],
    [220, 60, 220],
    [40, 210, 220],
];

fn below(rng: &mut lockstep_seeding::SeedRng, n: u64) -> Result<u64> {
    rng.try_below(n).map_err(|e| Error::InvalidConfig {
        what: "synthetic",
        value: e.to_string(),
    })
}

/// Image `index` as `[3, size, size]` bytes (channel-major) and its objects.
pub fn shapes_image(seed: &SeedTree, index: u64, size: u32) -> Result<(Vec<u8>, Vec<ObjectBox>)> {
    if size < 16 {
        return Err(Error::InvalidConfig {
            what: "synthetic.size",
            value: size.to_string(),
        });
    }
    let s = size as usize;
    // 3·size² overflows usize for sizes near u32::MAX: a typed error, not a wrap.
    let len = s
        .checked_mul(s)
        .and_then(|n| n.checked_mul(3))
        .ok_or_else(|| Error::InvalidConfig {
            what: "synthetic.size",
            value: size.to_string(),
        })?;
    let mut rng = seed.child_index("image", index).rng();
    let grey = below(&mut rng, 40)? as u8;
    let mut img = vec![grey; len];
    let count = 1 + below(&mut rng, 5)?;
    let (lo, hi) = (u64::from(size / 8), u64::from(size / 2));
    let mut objects = Vec::new();
    for _ in 0..count {
        let class = below(&mut rng, 3)? as u32;
        let colour = PALETTE[below(&mut rng, 6)? as usize];
        let w = lo + below(&mut rng, hi - lo + 1)?;
        let h = lo + below(&mut rng, hi - lo + 1)?;
        let x1 = below(&mut rng, u64::from(size) - w + 1)?;
        let y1 = below(&mut rng, u64::from(size) - h + 1)?;
        let (wf, hf) = (w as f32, h as f32);
        let (cx, cy) = (x1 as f32 + wf / 2.0, y1 as f32 + hf / 2.0);
        for y in y1..y1 + h {
            for x in x1..x1 + w {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = match class {
                    0 => true,
                    1 => {
                        let (dx, dy) = ((px - cx) / (wf / 2.0), (py - cy) / (hf / 2.0));
                        dx * dx + dy * dy <= 1.0
                    }
                    _ => {
                        let t = (py - y1 as f32) / hf;
                        (px - cx).abs() <= t * wf / 2.0
                    }
                };
                if inside {
                    let at = y as usize * s + x as usize;
                    for (c, v) in colour.iter().enumerate() {
                        img[c * s * s + at] = *v;
                    }
                }
            }
        }
        objects.push(ObjectBox {
            bbox: [x1 as f32, y1 as f32, (x1 + w) as f32, (y1 + h) as f32],
            class,
        });
    }
    Ok((img, objects))
}

/// Images `start .. start + n` as a float tensor `[n, 3, size, size]` in `[0, 1]` and
/// their objects.
pub fn shapes_batch(
    seed: &SeedTree,
    start: u64,
    n: u64,
    size: u32,
) -> Result<(Tensor, Vec<Vec<ObjectBox>>)> {
    let mut bytes = Vec::new();
    let mut objects = Vec::new();
    for i in start..start + n {
        let (img, objs) = shapes_image(seed, i, size)?;
        bytes.extend_from_slice(&img);
        objects.push(objs);
    }
    let s = i64::from(size);
    let t = Tensor::f_from_slice(&bytes)?
        .f_view([n as i64, 3, s, s])?
        .f_to_kind(tch::Kind::Float)?
        .f_div_scalar(255.0)?;
    Ok((t, objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let (img, objs) = shapes_image(&SeedTree::from_u64(1), 0, 32).unwrap();
        let digest = blake3::hash(&img).to_hex().to_string();
        assert_eq!((objs.len(), &digest[..16]), (1, "7dd53af6d8d0c3e4"));
        assert_eq!(
            format!(
                "{:?}",
                objs.iter().map(|o| (o.bbox, o.class)).collect::<Vec<_>>()
            ),
            "[([4.0, 1.0, 16.0, 10.0], 1)]"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        #[test]
        fn same_key_same_image_and_boxes_inside(seed in proptest::prelude::any::<u64>(), i in 0u64..1000) {
            let root = SeedTree::from_u64(seed);
            let a = shapes_image(&root, i, 32).unwrap();
            // Call history does not matter: drawing another image first changes nothing.
            let _ = shapes_image(&root, i + 1, 32).unwrap();
            let b = shapes_image(&root, i, 32).unwrap();
            proptest::prop_assert_eq!(&a, &b);
            proptest::prop_assert!((1..=5).contains(&a.1.len()));
            for o in &a.1 {
                proptest::prop_assert!(o.bbox[0] >= 0.0 && o.bbox[2] <= 32.0 && o.bbox[0] < o.bbox[2]);
                proptest::prop_assert!(o.bbox[1] >= 0.0 && o.bbox[3] <= 32.0 && o.bbox[1] < o.bbox[3]);
                proptest::prop_assert!(o.class < 3);
            }
        }
    }
}

//! The built-in synthetic "shapes" detection set: rectangles, ellipses and triangles of
//! six colours on dark, noisy backgrounds, 1–5 objects per image (feature `synthetic`).
//!
//! Image `node` is a pure function of its seed node (`…/image[i]` by convention) and
//! its side, drawn with integer arithmetic only, so the pixels are byte-identical on
//! every machine and for any thread count. Boxes are the tight bounds of the pixels
//! each shape painted, with exclusive right and bottom edges, as [`LabeledBox`]es in
//! `f32` pixels (integers, so exact). The recipe is the one of `lockstep-repro`'s
//! built-in COCO set (whose content hash the suite pins):
//!
//! - background: base colour `20 + below(60)` per channel from `node/background`, then
//!   per pixel the counter draw `v = (node/background/noise).u64_at(y·size + x)` adds
//!   `((v >> 8c) & 0xff) · 49 / 256 − 24` to channel `c`, clamped to `0..=255`;
//! - object count `1 + below(5)` from `node/layout`;
//! - object `k`, from `node/object[k]`: up to 8 placements of class `below(3)`, width
//!   and height `14 + below(size / 3)`, left `below(size − w)`, top `below(size − h)`
//!   and colour `below(6)`; a placement whose frame covers more than 15 % of a placed
//!   box (relative to the smaller one) is skipped, so every label stays visible;
//! - shapes are tested at doubled pixel centres in exact integer arithmetic: the frame
//!   (class 0), its inscribed ellipse (class 1), a triangle with its apex at the top
//!   centre and its base along the bottom edge (class 2).

use std::num::NonZeroU64;

use image::RgbImage;
use lockstep_core::{BBox, ClassId, LabeledBox};
use lockstep_seeding::{SeedRng, SeedTree};

/// The class names, by [`ClassId`] (COCO category ids are these plus 1).
pub const CLASSES: [&str; 3] = ["rectangle", "ellipse", "triangle"];

/// The smallest image side [`shapes_image`] accepts.
pub const MIN_IMAGE_SIZE: u32 = 32;

/// The largest image side [`shapes_image`] accepts: larger images would only be a way
/// to ask for gigabytes by mistake.
pub const MAX_IMAGE_SIZE: u32 = 4096;

/// Shape colours: saturated and distinct from the dark, noisy backgrounds.
const PALETTE: [[u8; 3]; 6] = [
    [230, 60, 50],
    [60, 200, 80],
    [70, 110, 240],
    [240, 210, 60],
    [200, 80, 220],
    [60, 210, 220],
];

/// An image side outside [`MIN_IMAGE_SIZE`]`..=`[`MAX_IMAGE_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("shapes image size {size} is outside {MIN_IMAGE_SIZE}..={MAX_IMAGE_SIZE}")]
pub struct ImageSizeError {
    /// The side asked for.
    pub size: u32,
}

/// Draws the image of `node` with side `size`: the pixels and the objects on them.
///
/// ```
/// use lockstep_data::synthetic::shapes_image;
/// use lockstep_seeding::SeedTree;
///
/// let node = SeedTree::from_u64(5).child("shapes").child("train").child_index("image", 0);
/// let (image, boxes) = shapes_image(&node, 96)?;
/// assert_eq!(image.dimensions(), (96, 96));
/// assert!((1..=5).contains(&boxes.len()));
/// # Ok::<(), lockstep_data::synthetic::ImageSizeError>(())
/// ```
pub fn shapes_image(
    node: &SeedTree,
    size: u32,
) -> Result<(RgbImage, Vec<LabeledBox>), ImageSizeError> {
    if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
        return Err(ImageSizeError { size });
    }
    let mut image = background(&node.child("background"), size);
    let mut layout = node.child("layout").rng();
    let count = 1 + draw_below(&mut layout, 5);
    let mut placed: Vec<([u32; 4], usize)> = Vec::new();
    for k in 0..count {
        let mut rng = node.child_index("object", k).rng();
        for _attempt in 0..8 {
            let class = draw_below(&mut rng, CLASSES.len() as u64) as usize;
            let w = 14 + draw_below(&mut rng, u64::from(size / 3)) as u32;
            let h = 14 + draw_below(&mut rng, u64::from(size / 3)) as u32;
            let x1 = draw_below(&mut rng, u64::from(size - w)) as u32;
            let y1 = draw_below(&mut rng, u64::from(size - h)) as u32;
            let colour = PALETTE[draw_below(&mut rng, PALETTE.len() as u64) as usize];
            let frame = [x1, y1, x1 + w, y1 + h];
            if placed
                .iter()
                .any(|(b, _)| overlap_fraction(b, &frame) > 0.15)
            {
                continue;
            }
            if let Some(bbox) = paint(&mut image, class, frame, colour) {
                placed.push((bbox, class));
            }
            break;
        }
    }
    let boxes = placed
        .into_iter()
        .map(|([x1, y1, x2, y2], class)| {
            // Sides are at most MAX_IMAGE_SIZE, so every corner is exact in f32.
            LabeledBox::new(
                BBox::new(x1 as f32, y1 as f32, x2 as f32, y2 as f32),
                ClassId(class as u32),
            )
        })
        .collect();
    Ok((image, boxes))
}

/// A uniform integer below `n` from `rng`. Every caller passes `n ≥ 1` (`size / 3 ≥ 10`
/// and `size − w ≥ 1` for sides of at least 32), and `n = 0` would draw as `n = 1`.
fn draw_below(rng: &mut SeedRng, n: u64) -> u64 {
    rng.below(NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN))
}

/// A dark background colour with per-pixel noise from counter-based draws.
fn background(node: &SeedTree, size: u32) -> RgbImage {
    let mut rng = node.rng();
    let base = [
        20 + draw_below(&mut rng, 60) as u8,
        20 + draw_below(&mut rng, 60) as u8,
        20 + draw_below(&mut rng, 60) as u8,
    ];
    let noise = node.child("noise");
    RgbImage::from_fn(size, size, |x, y| {
        let v = noise.u64_at(u64::from(y) * u64::from(size) + u64::from(x));
        let mut px = [0u8; 3];
        for (c, out) in px.iter_mut().enumerate() {
            // Noise in [-24, 24] per channel, from separate bytes of one draw.
            let delta = ((v >> (8 * c)) & 0xff) as i32 * 49 / 256 - 24;
            *out = (i32::from(base[c]) + delta).clamp(0, 255) as u8;
        }
        image::Rgb(px)
    })
}

/// The part of box `b`'s area covered by box `a`, relative to the smaller box.
fn overlap_fraction(a: &[u32; 4], b: &[u32; 4]) -> f64 {
    let w = a[2].min(b[2]).saturating_sub(a[0].max(b[0]));
    let h = a[3].min(b[3]).saturating_sub(a[1].max(b[1]));
    let inter = f64::from(w) * f64::from(h);
    let area = |r: &[u32; 4]| f64::from(r[2] - r[0]) * f64::from(r[3] - r[1]);
    inter / area(a).min(area(b)).max(1.0)
}

/// Paints shape `class` inside `frame` and returns the tight box of painted pixels.
fn paint(image: &mut RgbImage, class: usize, frame: [u32; 4], colour: [u8; 3]) -> Option<[u32; 4]> {
    let [x1, y1, x2, y2] = frame;
    let (w, h) = (i64::from(x2 - x1), i64::from(y2 - y1));
    let mut bounds: Option<[u32; 4]> = None;
    for y in y1..y2 {
        for x in x1..x2 {
            // Pixel centres in doubled coordinates relative to the frame, so every test
            // below is exact integer arithmetic.
            let px = 2 * i64::from(x - x1) + 1;
            let py = 2 * i64::from(y - y1) + 1;
            let inside = match class {
                0 => true,
                1 => {
                    // ((px − w)/w)² + ((py − h)/h)² ≤ 1, scaled by w²h².
                    let dx = px - w;
                    let dy = py - h;
                    dx * dx * h * h + dy * dy * w * w <= w * w * h * h
                }
                _ => {
                    // Apex at the top centre (w, 0), base along the bottom edge (py = 2h):
                    // the half-width grows linearly from 0 at the apex to w at the base,
                    // |px − w| ≤ py · w / 2h, multiplied out.
                    (px - w).abs() * 2 * h <= py * w
                }
            };
            if inside {
                image.put_pixel(x, y, image::Rgb(colour));
                bounds = Some(match bounds {
                    None => [x, y, x + 1, y + 1],
                    Some([bx1, by1, bx2, by2]) => {
                        [bx1.min(x), by1.min(y), bx2.max(x + 1), by2.max(y + 1)]
                    }
                });
            }
        }
    }
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of lockstep-repro's pinned image (`tests/shapes.rs`,
    /// `PINNED_PIXELS`): this renderer is that one, moved.
    const REPRO_PINNED_PIXELS: &str =
        "16d1f1f441519271c3aebb1e603cfed82932419976d16a86c783904104ed5886";

    #[test]
    fn known_answer_equals_the_repro_pin() {
        let node = SeedTree::from_u64(5)
            .child("shapes")
            .child("train")
            .child_index("image", 0);
        let (image, boxes) = shapes_image(&node, 96).unwrap();
        assert_eq!(
            blake3::hash(image.as_raw()).to_hex().to_string(),
            REPRO_PINNED_PIXELS
        );
        assert!((1..=5).contains(&boxes.len()));
        for b in &boxes {
            let [x1, y1, x2, y2] = b.bbox.to_array().map(|v| v as u32);
            assert!(x1 < x2 && y1 < y2 && x2 <= 96 && y2 <= 96);
            // Tight: each edge row and column holds a palette pixel.
            let bright = |x: u32, y: u32| image.get_pixel(x, y).0.iter().any(|&c| c >= 200);
            assert!((x1..x2).any(|x| bright(x, y1)) && (x1..x2).any(|x| bright(x, y2 - 1)));
            assert!((y1..y2).any(|y| bright(x1, y)) && (y1..y2).any(|y| bright(x2 - 1, y)));
            assert!(b.class.0 < 3);
        }
    }

    #[test]
    fn sizes_outside_the_range_are_refused() {
        let node = SeedTree::from_u64(5);
        for size in [0, 16, 31, MAX_IMAGE_SIZE + 1, u32::MAX] {
            assert_eq!(shapes_image(&node, size), Err(ImageSizeError { size }));
        }
        assert!(shapes_image(&node, 32).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        #[test]
        fn same_node_same_image_and_boxes_inside(seed in proptest::prelude::any::<u64>(), i in 0u64..1000) {
            let root = SeedTree::from_u64(seed);
            let a = shapes_image(&root.child_index("image", i), 48).unwrap();
            // Drawing another image first changes nothing: no state is carried.
            let _ = shapes_image(&root.child_index("image", i + 1), 48).unwrap();
            let b = shapes_image(&root.child_index("image", i), 48).unwrap();
            proptest::prop_assert_eq!(&a, &b);
            proptest::prop_assert!((1..=5).contains(&a.1.len()));
            for o in &a.1 {
                proptest::prop_assert!(o.bbox.x1 >= 0.0 && o.bbox.x2 <= 48.0 && o.bbox.x1 < o.bbox.x2);
                proptest::prop_assert!(o.bbox.y1 >= 0.0 && o.bbox.y2 <= 48.0 && o.bbox.y1 < o.bbox.y2);
            }
        }
    }

    /// Known answer over many images, so that every class (rectangle, ellipse,
    /// triangle) and every box edge is pinned: the BLAKE3 of each image's pixels and
    /// boxes, hashed together. (One image alone held no ellipse, and mutation testing
    /// showed the ellipse and the box bounds unpinned.)
    #[test]
    fn known_answer_over_many_images_and_every_class() {
        let root = SeedTree::from_u64(6).child("shapes-kat");
        let mut all = blake3::Hasher::new();
        let mut classes = [0usize; 3];
        for i in 0..24 {
            let (image, boxes) = shapes_image(&root.child_index("image", i), 64).unwrap();
            all.update(image.as_raw());
            for b in &boxes {
                classes[b.class.0 as usize] += 1;
                for v in b.bbox.to_array() {
                    all.update(&v.to_le_bytes());
                }
                all.update(&b.class.0.to_le_bytes());
                // Tight: the painted pixels reach every edge of the box.
                let [x1, y1, x2, y2] = b.bbox.to_array().map(|v| v as u32);
                let bright = |x: u32, y: u32| image.get_pixel(x, y).0.iter().any(|&c| c >= 200);
                assert!((x1..x2).any(|x| bright(x, y1)) && (x1..x2).any(|x| bright(x, y2 - 1)));
                assert!((y1..y2).any(|y| bright(x1, y)) && (y1..y2).any(|y| bright(x2 - 1, y)));
            }
        }
        assert!(classes.iter().all(|&n| n >= 5), "{classes:?}");
        assert_eq!(all.finalize().to_hex().to_string(), MANY_IMAGES_KAT);
    }

    const MANY_IMAGES_KAT: &str =
        "973266729ef9b1b46340e91398d30f0fe8ed6b907667e45c6eaf61a7986fab7b";
}

//! Detections drawn on validation images, so a person can look at what the model found.

use image::{Rgb, RgbImage};
use lockstep_core::{BBox, LabeledBox};

/// Colours per class (rectangle, ellipse, triangle) for detections.
const CLASS_COLOURS: [[u8; 3]; 3] = [[255, 140, 0], [255, 255, 0], [255, 40, 40]];
/// Ground truth is white and drawn just outside its box, so it shows on any shape.
const GROUND_TRUTH: [u8; 3] = [255, 255, 255];

/// The image scaled up `scale` times (nearest), with ground truth outlined in white just
/// outside its box and detections outlined in their class colour (rectangle orange,
/// ellipse yellow, triangle red), two pixels wide. Boxes are in the image's pixels.
pub(crate) fn overlay(
    image: &RgbImage,
    truth: &[LabeledBox],
    detections: &[LabeledBox],
    scale: u32,
) -> RgbImage {
    let scale = scale.max(1);
    let mut out = image::imageops::resize(
        image,
        image.width() * scale,
        image.height() * scale,
        image::imageops::FilterType::Nearest,
    );
    let margin = 1.0 / scale as f32;
    for t in truth {
        let b = t.bbox;
        let outside = BBox::new(b.x1 - margin, b.y1 - margin, b.x2 + margin, b.y2 + margin);
        outline(&mut out, outside, scale, GROUND_TRUTH, 1);
    }
    for d in detections {
        let colour = CLASS_COLOURS
            .get(d.class.index())
            .copied()
            .unwrap_or([255, 0, 255]);
        outline(&mut out, d.bbox, scale, colour, 2);
    }
    out
}

/// Tiles images left to right, `columns` per row.
pub(crate) fn grid(images: &[RgbImage], columns: usize) -> RgbImage {
    let columns = columns.max(1);
    // Tiles as large as the largest image, so mixed sizes neither overlap nor clip.
    let w = images.iter().map(|i| i.width()).max().unwrap_or(1);
    let h = images.iter().map(|i| i.height()).max().unwrap_or(1);
    let rows = images.len().div_ceil(columns).max(1);
    let mut out = RgbImage::new(w * columns as u32, h * rows as u32);
    for (k, image) in images.iter().enumerate() {
        let x = (k % columns) as i64 * i64::from(w);
        let y = (k / columns) as i64 * i64::from(h);
        image::imageops::overlay(&mut out, image, x, y);
    }
    out
}

fn outline(image: &mut RgbImage, bbox: BBox, scale: u32, colour: [u8; 3], width: u32) {
    let (iw, ih) = (image.width() as i64, image.height() as i64);
    let to_px = |v: f32| (f64::from(v) * f64::from(scale)).round() as i64;
    let (x1, y1, x2, y2) = (
        to_px(bbox.x1),
        to_px(bbox.y1),
        to_px(bbox.x2) - 1,
        to_px(bbox.y2) - 1,
    );
    let mut put = |x: i64, y: i64| {
        if (0..iw).contains(&x) && (0..ih).contains(&y) {
            image.put_pixel(x as u32, y as u32, Rgb(colour));
        }
    };
    for t in 0..i64::from(width) {
        for x in x1..=x2 {
            put(x, y1 + t);
            put(x, y2 - t);
        }
        for y in y1..=y2 {
            put(x1 + t, y);
            put(x2 - t, y);
        }
    }
}

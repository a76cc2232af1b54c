//! `detections.png`: the first validation images with their ground truth and run A's
//! detections, labelled with class name and score, under a legend, so a person can
//! look at what the model found.
//!
//! Drawn with imageproc; text in DejaVu Sans Mono (`assets/DejaVuSansMono.ttf`,
//! bundled, licence in `assets/LICENSE-DejaVu.txt`). Each class's colour is derived
//! from its name (BLAKE3 of the name picks one of twelve bright colours; a class
//! whose colour an earlier class of the dataset took gets the next free one), so a
//! class keeps its colour in every run and classes of a dataset are told apart.

use std::path::Path;

use ab_glyph::{FontRef, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;
use lockstep_core::{BBox, LabeledBox};
use lockstep_data::Dataset as _;

use crate::dataset_check::{DatasetCheck, SplitName};
use crate::error::{Error, Result};
use crate::layout::DataPaths;
use crate::worker::{self, Split, WorkerResult};

/// Detections scoring below this are not drawn (the worker keeps those above 0.05 for
/// the mAP; drawing them all would hide the picture).
pub(crate) const DRAWN_SCORE: f32 = 0.3;
/// The side up to which a validation image is drawn enlarged.
const MAX_TILE_SIDE: u32 = 768;
/// Pixels between tiles and around the picture.
const GAP: u32 = 10;
/// Tiles per row.
const COLUMNS: usize = 4;
/// Ground truth: white, one pixel, just outside its box.
const GROUND_TRUTH: Rgb<u8> = Rgb([255, 255, 255]);
const BACKGROUND: Rgb<u8> = Rgb([40, 40, 40]);
const TEXT: Rgb<u8> = Rgb([235, 235, 235]);
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
/// Label text height in pixels.
const LABEL_PX: f32 = 14.0;

fn font() -> Result<FontRef<'static>> {
    FontRef::try_from_slice(FONT_BYTES).map_err(|e| Error::Plot {
        path: "assets/DejaVuSansMono.ttf".into(),
        source: Box::new(e),
    })
}

/// Class colours, none of them white (ground truth's colour); a tab's text is black or
/// white, whichever reads on it ([`ink`]).
const PALETTE: [[u8; 3]; 12] = [
    // Twelve hues chosen to stay apart from each other, so that a collision-free pick
    // never gives two classes look-alike colours.
    [230, 25, 75],   // red
    [60, 180, 75],   // green
    [255, 225, 25],  // yellow
    [0, 130, 200],   // blue
    [245, 130, 48],  // orange
    [145, 30, 180],  // purple
    [70, 240, 240],  // cyan
    [240, 50, 230],  // magenta
    [210, 245, 60],  // lime
    [250, 190, 212], // pink
    [0, 128, 128],   // teal
    [170, 110, 40],  // brown
];

/// The [`PALETTE`] slot BLAKE3 of `name` picks.
fn slot(name: &str) -> usize {
    let hash = blake3::hash(name.as_bytes());
    let b = hash.as_bytes();
    let v = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    (v % PALETTE.len() as u64) as usize
}

/// The colours of classes `names` (in class order): each name's hash picks a
/// [`PALETTE`] slot, so a class keeps its colour in every run and in every dataset
/// where no earlier class wants the same slot; a class whose slot is taken takes the
/// next free one, so up to twelve classes never share a colour.
pub(crate) fn class_colours(names: &[String]) -> Vec<Rgb<u8>> {
    let mut taken = [false; PALETTE.len()];
    names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let first = slot(name);
            let free = (0..PALETTE.len())
                .map(|step| (first + step) % PALETTE.len())
                .find(|&s| !taken[s]);
            // Beyond twelve classes colours repeat, by the hash alone.
            let s = free.unwrap_or(first);
            if k < PALETTE.len() {
                taken[s] = true;
            }
            Rgb(PALETTE[s])
        })
        .collect()
}

/// The first validation images with ground truth and run A's detections above
/// [`DRAWN_SCORE`], labelled, under a legend; written to `path`.
pub(crate) fn detections(
    data: &DataPaths,
    checked: &DatasetCheck,
    ra: &WorkerResult,
    input_size: u32,
    path: &Path,
) -> Result<()> {
    let font = font()?;
    let val = Split::checked(
        data,
        SplitName::Val,
        Some(&checked.classes),
        &checked.policy,
    )?;
    let names = &checked.summary.class_names;
    let colours = class_colours(names);
    let name_of = |d: &LabeledBox| {
        names
            .get(d.class.index())
            .cloned()
            .unwrap_or_else(|| d.class.to_string())
    };
    let colour_of = |d: &LabeledBox| colours.get(d.class.index()).copied().unwrap_or(TEXT);
    let mut tiles = Vec::new();
    // `drawn` is read back from the worker's result file: at most DRAWN_IMAGES are used.
    for (index, dets) in (0..val.len()).zip(ra.drawn.iter().take(worker::DRAWN_IMAGES)) {
        let (image_id, sample) = val.sample(index)?;
        // Detections are in the model input's pixels; scale them to the image.
        let sx = sample.image.width() as f32 / input_size as f32;
        let sy = sample.image.height() as f32 / input_size as f32;
        let found: Vec<(LabeledBox, f32)> = dets
            .iter()
            .filter(|d| d.score >= DRAWN_SCORE)
            .map(|d| {
                let b = d.bbox;
                let bbox = BBox::new(b.x1 * sx, b.y1 * sy, b.x2 * sx, b.y2 * sy);
                (LabeledBox::new(bbox, d.class), d.score)
            })
            .collect();
        // Small images are shown up to three times larger (labels need the room);
        // large ones (a user's photos) as they are, so the picture stays a sane size.
        let side = sample.image.width().max(sample.image.height()).max(1);
        let scale = (MAX_TILE_SIDE / side).clamp(1, 3);
        let mut tile = overlay(
            &sample.image,
            &sample.boxes,
            &found,
            scale,
            &font,
            (&name_of, &colour_of),
        );
        caption(&mut tile, &format!("image {image_id}"), &font);
        tiles.push(tile);
    }
    let shown: Vec<(String, Rgb<u8>)> = names
        .iter()
        .cloned()
        .zip(colours.clone())
        .take(12)
        .collect();
    let picture = with_legend(grid(&tiles, COLUMNS), &shown, names.len(), &font);
    picture.save(path).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        source: e,
    })
}

/// A detection's class name and colour.
type Labeller<'a> = (
    &'a dyn Fn(&LabeledBox) -> String,
    &'a dyn Fn(&LabeledBox) -> Rgb<u8>,
);

/// The image scaled up `scale` times (nearest), with ground truth outlined in white just
/// outside its box and each detection outlined in its class colour, two pixels wide,
/// with `name score` on a filled tab above it. Boxes are in the image's pixels.
fn overlay(
    image: &RgbImage,
    truth: &[LabeledBox],
    detections: &[(LabeledBox, f32)],
    scale: u32,
    font: &FontRef<'_>,
    (name_of, colour_of): Labeller<'_>,
) -> RgbImage {
    let scale = scale.max(1);
    let mut out = image::imageops::resize(
        image,
        image.width() * scale,
        image.height() * scale,
        image::imageops::FilterType::Nearest,
    );
    for t in truth {
        if let Some(r) = rect(t.bbox, scale as f32, 1) {
            draw_hollow_rect_mut(&mut out, r, GROUND_TRUTH);
        }
    }
    // Lowest scores first, so the best detection's label is on top.
    let mut order: Vec<&(LabeledBox, f32)> = detections.iter().collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (d, score) in order {
        let colour = colour_of(d);
        for inset in 0..2 {
            if let Some(r) = rect(d.bbox, scale as f32, -inset) {
                draw_hollow_rect_mut(&mut out, r, colour);
            }
        }
        let label = format!("{} {score:.2}", name_of(d));
        let (x, y) = (
            (d.bbox.x1 * scale as f32).round() as i32,
            (d.bbox.y1 * scale as f32).round() as i32,
        );
        tab(&mut out, x, y, &label, colour, font);
    }
    out
}

/// The pixel rectangle of `bbox` at `scale`, grown by `grow` pixels on each side.
fn rect(bbox: BBox, scale: f32, grow: i32) -> Option<Rect> {
    let x1 = (bbox.x1 * scale).round() as i32 - grow;
    let y1 = (bbox.y1 * scale).round() as i32 - grow;
    let x2 = (bbox.x2 * scale).round() as i32 + grow;
    let y2 = (bbox.y2 * scale).round() as i32 + grow;
    let (w, h) = (x2 - x1, y2 - y1);
    (w > 0 && h > 0).then(|| Rect::at(x1, y1).of_size(w as u32, h as u32))
}

/// Black on light colours, white on dark ones (Rec. 601 luma in integers).
fn ink(colour: Rgb<u8>) -> Rgb<u8> {
    let [r, g, b] = colour.0.map(u32::from);
    if 299 * r + 587 * g + 114 * b >= 140_000 {
        Rgb([0, 0, 0])
    } else {
        Rgb([255, 255, 255])
    }
}

/// `label` in [`ink`] on a tab of `colour` just above `(x, y)` (inside the image).
fn tab(image: &mut RgbImage, x: i32, y: i32, label: &str, colour: Rgb<u8>, font: &FontRef<'_>) {
    let px = PxScale::from(LABEL_PX);
    let (w, h) = text_size(px, font, label);
    let (w, h) = (w + 4, h + 4);
    let max_x = (image.width() as i32 - w as i32).max(0);
    let x = x.clamp(0, max_x);
    let y = (y - h as i32).max(0);
    draw_filled_rect_mut(image, Rect::at(x, y).of_size(w, h), colour);
    draw_text_mut(image, ink(colour), x + 2, y + 1, px, font, label);
}

/// A caption strip under the tile.
fn caption(tile: &mut RgbImage, text: &str, font: &FontRef<'_>) {
    let px = PxScale::from(LABEL_PX);
    let (_, h) = text_size(px, font, text);
    let mut out = RgbImage::from_pixel(tile.width(), tile.height() + h + 6, BACKGROUND);
    image::imageops::overlay(&mut out, tile, 0, 0);
    draw_text_mut(&mut out, TEXT, 2, tile.height() as i32 + 2, px, font, text);
    *tile = out;
}

/// Tiles images left to right, `columns` per row, with [`GAP`] pixels between them.
fn grid(images: &[RgbImage], columns: usize) -> RgbImage {
    let columns = columns.max(1).min(images.len().max(1));
    // Cells as large as the largest image, so mixed sizes neither overlap nor clip.
    let w = images.iter().map(|i| i.width()).max().unwrap_or(1);
    let h = images.iter().map(|i| i.height()).max().unwrap_or(1);
    let rows = images.len().div_ceil(columns).max(1);
    let mut out = RgbImage::from_pixel(
        GAP + (w + GAP) * columns as u32,
        GAP + (h + GAP) * rows as u32,
        BACKGROUND,
    );
    for (k, image) in images.iter().enumerate() {
        let x = GAP + (k % columns) as u32 * (w + GAP);
        let y = GAP + (k / columns) as u32 * (h + GAP);
        image::imageops::overlay(&mut out, image, i64::from(x), i64::from(y));
    }
    out
}

/// `picture` under a legend: ground truth vs detection, the score cut-off, and the
/// colour of each class in `names` (`total` classes in all).
fn with_legend(
    picture: RgbImage,
    names: &[(String, Rgb<u8>)],
    total: usize,
    font: &FontRef<'_>,
) -> RgbImage {
    let px = PxScale::from(LABEL_PX);
    let line = LABEL_PX as u32 + 8;
    let lines = [
        "white thin box: ground truth".to_string(),
        format!(
            "coloured box with tab: detection (class score), score >= {DRAWN_SCORE:.2} drawn; \
             colour per class from a hash of its name"
        ),
    ];
    let legend_h = GAP + line * (lines.len() as u32 + 1) + GAP / 2;
    let mut width = picture.width();
    for l in &lines {
        width = width.max(text_size(px, font, l).0 + 40 + 2 * GAP);
    }
    let mut out = RgbImage::from_pixel(width, picture.height() + legend_h, BACKGROUND);
    let mut y = GAP as i32;
    // Swatches: ground truth, then one detection colour.
    draw_hollow_rect_mut(
        &mut out,
        Rect::at(GAP as i32, y).of_size(24, 14),
        GROUND_TRUTH,
    );
    draw_text_mut(&mut out, TEXT, GAP as i32 + 32, y - 1, px, font, &lines[0]);
    y += line as i32;
    let first = names.first().map(|n| n.1).unwrap_or(TEXT);
    for inset in 0..2 {
        draw_hollow_rect_mut(
            &mut out,
            Rect::at(GAP as i32 + inset, y + inset)
                .of_size(24 - 2 * inset as u32, 14 - 2 * inset as u32),
            first,
        );
    }
    draw_text_mut(&mut out, TEXT, GAP as i32 + 32, y - 1, px, font, &lines[1]);
    y += line as i32;
    // The classes' colours, on one line.
    let mut x = GAP as i32;
    for (name, colour) in names {
        let (w, h) = text_size(px, font, name);
        if x as u32 + w + 8 > width {
            break;
        }
        draw_filled_rect_mut(&mut out, Rect::at(x, y).of_size(w + 6, h + 4), *colour);
        draw_text_mut(&mut out, ink(*colour), x + 3, y + 1, px, font, name);
        x += (w + 14) as i32;
    }
    if total > names.len() {
        let more = format!("… {} more classes", total - names.len());
        draw_text_mut(&mut out, TEXT, x, y + 1, px, font, &more);
    }
    image::imageops::overlay(&mut out, &picture, 0, i64::from(legend_h));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_colours_are_stable_and_distinct() {
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // A class alone gets its hash's colour, whatever the dataset.
        let alone = class_colours(&names(&["seven"]))[0];
        assert_eq!(class_colours(&names(&["one", "seven"]))[1], alone);
        for list in [
            names(&["rectangle", "ellipse", "triangle"]),
            names(&["one", "three", "seven"]),
            (0..12).map(|k| format!("class {k}")).collect(),
        ] {
            let c = class_colours(&list);
            for (i, a) in c.iter().enumerate() {
                assert_ne!(*a, GROUND_TRUTH);
                assert!(c[..i].iter().all(|b| b != a), "{list:?}: {c:?}");
            }
        }
        // Beyond twelve classes colours repeat, and nothing panics.
        let many: Vec<String> = (0..40).map(|k| format!("c{k}")).collect();
        assert_eq!(class_colours(&many).len(), 40);
    }

    #[test]
    fn tab_text_contrasts_with_every_palette_colour() {
        for c in PALETTE.map(Rgb) {
            let [r, g, b] = c.0.map(i32::from);
            let luma = (299 * r + 587 * g + 114 * b) / 1000;
            let text = if ink(c) == Rgb([0, 0, 0]) { 0 } else { 255 };
            assert!(
                (luma - text).abs() >= 100,
                "{c:?}: luma {luma}, text {text}"
            );
        }
    }

    #[test]
    fn tiles_are_separated_by_a_gap() {
        let tile = RgbImage::from_pixel(5, 5, Rgb([255, 0, 0]));
        let g = grid(&[tile.clone(), tile], 2);
        assert_eq!((g.width(), g.height()), (GAP * 3 + 10, GAP * 2 + 5));
        // Between the two tiles: background.
        assert_eq!(*g.get_pixel(GAP + 5 + 1, GAP + 1), BACKGROUND);
        assert_eq!(*g.get_pixel(GAP, GAP), Rgb([255, 0, 0]));
    }

    #[test]
    fn the_font_loads() {
        assert!(font().is_ok());
    }
}

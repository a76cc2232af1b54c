//! The start-up dataset check: each broken-dataset case of issue 17 fails before any
//! training, naming the split, file, image id and annotation id; every problem is
//! collected; `--on-bad-sample skip` and `--clip-boxes` record what they did; the
//! summary counts modes, classes by name and empty images.

use std::path::{Path, PathBuf};

use image::{GrayImage, Rgb, RgbImage, RgbaImage};
use lockstep_repro::dataset_check::{
    check, CheckConfig, ImageMode, OnBadSample, Problem, ProblemKind, SplitName,
};
use lockstep_repro::layout::DataPaths;
use lockstep_repro::options::Options;
use lockstep_repro::Error;
use serde_json::{json, Value};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lockstep-dscheck-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A tiny COCO set: train has 3 RGB images of 20x16 (the last without boxes), val 2,
/// categories 11 "one" and 13 "three". `edit` may change the val JSON before writing.
fn dataset(name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = scratch(name);
    let categories = json!([{"id": 11, "name": "one"}, {"id": 13, "name": "three"}]);
    for (split, n) in [("train", 3u64), ("val", 2)] {
        let images_dir = dir.join(split).join("images");
        std::fs::create_dir_all(&images_dir).unwrap();
        let mut images = Vec::new();
        let mut annotations = Vec::new();
        for i in 0..n {
            let file = format!("{i}.png");
            RgbImage::from_pixel(20, 16, Rgb([90, 120, 150]))
                .save(images_dir.join(&file))
                .unwrap();
            let id = 100 + i;
            images.push(json!({"id": id, "file_name": file, "width": 20, "height": 16}));
            if i + 1 < n || split == "val" {
                annotations.push(json!({
                    "id": 1000 + id, "image_id": id,
                    "category_id": if i % 2 == 0 { 11 } else { 13 },
                    "bbox": [2, 3, 8, 6], "iscrowd": 0,
                }));
            }
        }
        let instances =
            json!({"images": images, "annotations": annotations, "categories": categories});
        std::fs::write(
            dir.join(split).join("instances.json"),
            serde_json::to_vec(&instances).unwrap(),
        )
        .unwrap();
    }
    // The val annotations, edited as the case needs.
    let val = dir.join("val").join("instances.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&val).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&val, serde_json::to_vec(&v).unwrap()).unwrap();
    dir
}

fn problems(dir: &Path, config: CheckConfig) -> Vec<Problem> {
    match check(&DataPaths::under(dir), &config) {
        Err(Error::BadDataset { problems }) => problems,
        other => panic!("expected BadDataset, got {other:?}"),
    }
}

/// The one problem found, and the message naming it.
fn only_problem(dir: &Path) -> (Problem, String) {
    let found = problems(dir, CheckConfig::default());
    assert_eq!(found.len(), 1, "{found:#?}");
    let text = found[0].to_string();
    (found[0].clone(), text)
}

#[test]
fn a_clean_dataset_passes_and_is_summarised() {
    let dir = dataset("clean", |_| {});
    let checked = check(&DataPaths::under(&dir), &CheckConfig::default()).unwrap();
    let s = &checked.summary;
    assert_eq!(
        (s.train.images, s.train.boxes, s.train.empty_images),
        (3, 2, 1)
    );
    assert_eq!((s.val.images, s.val.boxes, s.val.empty_images), (2, 2, 0));
    assert_eq!(s.class_names, ["one", "three"]);
    let names: Vec<_> = s
        .train
        .per_class
        .iter()
        .map(|c| (c.name.as_str(), c.boxes))
        .collect();
    assert_eq!(names, [("one", 1), ("three", 1)]);
    assert_eq!(s.train.modes, [(ImageMode::Rgb, 3)]);
    assert!(s.skipped.is_empty() && s.clipped.is_empty());
    assert!(checked.policy.skip_train.is_empty() && checked.policy.skip_val.is_empty());
}

#[test]
fn a_missing_val_image_is_named() {
    let dir = dataset("missing", |_| {});
    std::fs::remove_file(dir.join("val/images/1.png")).unwrap();
    let (p, text) = only_problem(&dir);
    assert_eq!((p.split, p.image_id), (SplitName::Val, Some(101)));
    assert!(p.file.ends_with("val/images/1.png"), "{text}");
    assert!(matches!(p.kind, ProblemKind::Unreadable { .. }), "{text}");
    assert!(
        text.contains("val/images/1.png") && text.contains("image 101"),
        "{text}"
    );
}

#[test]
fn a_val_category_not_in_train_is_named() {
    let dir = dataset("category", |v| {
        v["categories"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": 17, "name": "seven"}));
        v["annotations"][1]["category_id"] = json!(17);
    });
    let (p, text) = only_problem(&dir);
    assert_eq!(
        (p.split, p.image_id, p.annotation_id),
        (SplitName::Val, Some(101), Some(1101))
    );
    assert_eq!(
        p.kind,
        ProblemKind::UnknownCategory {
            category: 17,
            known: vec![11, 13]
        }
    );
    assert!(
        text.contains("val/images/1.png") && text.contains("image 101, annotation 1101"),
        "{text}"
    );
}

#[test]
fn width_and_height_swapped_in_the_json_are_named() {
    let dir = dataset("swapped", |v| {
        v["images"][0]["width"] = json!(16);
        v["images"][0]["height"] = json!(20);
    });
    let (p, text) = only_problem(&dir);
    assert_eq!((p.split, p.image_id), (SplitName::Val, Some(100)));
    assert!(matches!(p.kind, ProblemKind::SizeMismatch { .. }));
    assert!(
        text.contains("val/images/0.png") && text.contains("image 100") && text.contains("swapped"),
        "{text}"
    );
}

#[test]
fn a_box_outside_the_image_is_named() {
    // x1 = -6: beyond the 1 px tolerance.
    let dir = dataset("outside", |v| {
        v["annotations"][0]["bbox"] = json!([-6, 3, 8, 6]);
    });
    let (p, text) = only_problem(&dir);
    assert_eq!(
        (p.split, p.image_id, p.annotation_id),
        (SplitName::Val, Some(100), Some(1100))
    );
    assert!(matches!(p.kind, ProblemKind::BoxOutside { .. }));
    assert!(
        text.contains("val/images/0.png") && text.contains("image 100, annotation 1100"),
        "{text}"
    );
}

#[test]
fn a_box_within_the_tolerance_is_clipped_silently_and_counted() {
    let dir = dataset("nudged", |v| {
        v["annotations"][0]["bbox"] = json!([12.5, 3, 8, 6]); // x2 = 20.5 on a 20-wide image
    });
    let checked = check(&DataPaths::under(&dir), &CheckConfig::default()).unwrap();
    assert_eq!(checked.summary.val.nudged_boxes, 1);
}

#[test]
fn every_problem_is_collected_not_only_the_first() {
    let dir = dataset("all", |v| {
        v["annotations"][0]["bbox"] = json!([-6, 3, 8, 6]);
        v["images"][1]["width"] = json!(99);
    });
    std::fs::remove_file(dir.join("train/images/0.png")).unwrap();
    let found = problems(&dir, CheckConfig::default());
    let places: Vec<(SplitName, Option<u64>)> =
        found.iter().map(|p| (p.split, p.image_id)).collect();
    assert_eq!(
        places,
        [
            (SplitName::Train, Some(100)),
            (SplitName::Val, Some(100)),
            (SplitName::Val, Some(101))
        ],
        "{found:#?}"
    );
    // The error's message lists them all.
    let message = Error::BadDataset { problems: found }.to_string();
    assert!(message.contains("3 problem(s)"), "{message}");
    assert_eq!(message.lines().count(), 4, "{message}");
}

#[test]
fn skip_leaves_bad_images_out_and_lists_them() {
    let dir = dataset("skip", |v| {
        v["annotations"][0]["bbox"] = json!([-6, 3, 8, 6]);
    });
    let config = CheckConfig::default().with_on_bad_sample(OnBadSample::Skip);
    let checked = check(&DataPaths::under(&dir), &config).unwrap();
    assert_eq!(checked.summary.val.images, 1);
    assert_eq!(checked.summary.val.skipped_images, 1);
    assert_eq!(checked.summary.skipped.len(), 1);
    assert_eq!(
        checked.policy.skip_val.iter().copied().collect::<Vec<_>>(),
        [100]
    );
}

#[test]
fn clip_boxes_clips_and_lists() {
    let dir = dataset("clip", |v| {
        v["annotations"][0]["bbox"] = json!([-6, 3, 8, 6]);
    });
    let config = CheckConfig::default().with_clip_boxes(true);
    let checked = check(&DataPaths::under(&dir), &config).unwrap();
    let c = &checked.summary.clipped;
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].image_id, c[0].annotation_id), (100, 1100));
    assert_eq!(c[0].before, [-6.0, 3.0, 2.0, 9.0]);
    assert_eq!(c[0].after, [0.0, 3.0, 2.0, 9.0]);
    // A box with nothing inside the image cannot be clipped.
    let dir = dataset("clip-none", |v| {
        v["annotations"][0]["bbox"] = json!([30, 3, 8, 6]);
    });
    let found = problems(&dir, config);
    assert!(
        matches!(found[0].kind, ProblemKind::BoxNotInImage { .. }),
        "{found:?}"
    );
}

#[test]
fn other_annotation_file_names_are_accepted() {
    let dir = dataset("names", |_| {});
    std::fs::rename(
        dir.join("train/instances.json"),
        dir.join("train/instances_train2017.json"),
    )
    .unwrap();
    let options = Options::parse(&[
        "--data".into(),
        dir.display().to_string(),
        "--train-annotations".into(),
        dir.join("train/instances_train2017.json")
            .display()
            .to_string(),
    ])
    .unwrap();
    let paths = options.data_paths(Path::new("unused"));
    assert!(check(&paths, &options.check_config()).is_ok());
    // Without --data the option is refused.
    assert!(Options::parse(&["--train-annotations".into(), "x.json".into()]).is_err());
}

/// Grey, RGBA, palette PNGs and a JPEG are accepted and counted by mode.
#[test]
fn image_modes_are_counted() {
    let dir = dataset("modes", |_| {});
    let images = dir.join("train/images");
    GrayImage::from_pixel(20, 16, image::Luma([80]))
        .save(images.join("0.png"))
        .unwrap();
    RgbaImage::from_pixel(20, 16, image::Rgba([1, 2, 3, 128]))
        .save(images.join("1.png"))
        .unwrap();
    std::fs::write(images.join("2.png"), palette_png(20, 16)).unwrap();
    let checked = check(&DataPaths::under(&dir), &CheckConfig::default()).unwrap();
    assert_eq!(
        checked.summary.train.modes,
        [
            (ImageMode::Rgba, 1),
            (ImageMode::Grey, 1),
            (ImageMode::Palette, 1)
        ]
    );
}

/// The suite's entry point fails in its dataset section, before any worker starts:
/// the worker binary given does not exist, so reaching training would be another error.
#[test]
fn the_suite_stops_before_training() {
    let dir = dataset("suite", |v| {
        v["annotations"][0]["bbox"] = json!([-6, 3, 8, 6]);
    });
    let out = scratch("suite-out");
    let options = Options::default()
        .with_data(Some(dir.clone()))
        .with_out(out.clone())
        .with_quick(true);
    let err =
        lockstep_repro::suite::run(&options, Path::new("/nonexistent/lockstep-repro")).unwrap_err();
    assert!(matches!(err, Error::BadDataset { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("image 100, annotation 1100"), "{text}");
    let listing = std::fs::read_to_string(out.join("dataset-problems.txt")).unwrap();
    assert!(listing.contains("val/images/0.png"), "{listing}");
    assert!(!out.join("runs").join("run-a").exists());
}

/// A 1-bit palette PNG (colour type 3) written by hand: the `image` crate writes none.
fn palette_png(width: u32, height: u32) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc(&body).to_be_bytes());
    }
    // Raw scanlines: filter byte 0, then one byte per pixel (8-bit indices, all 0).
    let raw: Vec<u8> = (0..height)
        .flat_map(|_| std::iter::once(0u8).chain(std::iter::repeat_n(0u8, width as usize)))
        .collect();
    // zlib, one stored block.
    let mut z = vec![0x78, 0x01, 1];
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", &[200, 30, 30, 30, 200, 30]);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

//! The COCO loader on small datasets written to a temporary folder.

use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};
use lockstep_data::{CocoDataset, CorruptPolicy, Dataset, Error};

/// A fresh folder for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lockstep-data-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("images")).unwrap();
        Self(dir)
    }

    fn images(&self) -> PathBuf {
        self.0.join("images")
    }

    fn json(&self) -> PathBuf {
        self.0.join("instances.json")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_image(dir: &Path, name: &str, width: u32, height: u32, format: ImageFormat) {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 10 % 256) as u8, (y * 20 % 256) as u8, 7])
    });
    img.save_with_format(dir.join(name), format).unwrap();
}

/// Three images (two PNG, one JPEG), three annotations, two categories.
fn dataset(name: &str) -> TempDir {
    let t = TempDir::new(name);
    write_image(&t.images(), "a.png", 8, 6, ImageFormat::Png);
    write_image(&t.images(), "b.png", 5, 4, ImageFormat::Png);
    write_image(&t.images(), "c.jpg", 16, 16, ImageFormat::Jpeg);
    std::fs::write(t.json(), INSTANCES).unwrap();
    t
}

const INSTANCES: &str = r#"{
  "images": [
    {"id": 10, "file_name": "a.png", "width": 8, "height": 6},
    {"id": 20, "file_name": "b.png", "width": 5, "height": 4},
    {"id": 30, "file_name": "c.jpg", "width": 16, "height": 16}
  ],
  "annotations": [
    {"id": 1, "image_id": 10, "category_id": 3, "bbox": [1.0, 2.0, 3.0, 2.5], "iscrowd": 0},
    {"id": 2, "image_id": 10, "category_id": 7, "bbox": [0.1, 0.0, 0.2, 1.0]},
    {"id": 3, "image_id": 30, "category_id": 3, "bbox": [4, 4, 8, 8], "iscrowd": 1}
  ],
  "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog", "supercategory": "animal"}]
}"#;

#[test]
fn reads_images_boxes_and_labels() {
    let t = dataset("reads");
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.categories().len(), 2);
    assert!(d.skipped().is_empty());

    let a = d.get(0).unwrap();
    assert_eq!((a.image_id, a.file_name.as_str()), (10, "a.png"));
    assert_eq!(a.image.dimensions(), (8, 6));
    assert_eq!(a.image.get_pixel(3, 2), &Rgb([30, 40, 7]));
    assert_eq!(a.objects[0].bbox.to_array(), [1.0, 2.0, 4.0, 4.5]);
    assert_eq!(
        a.objects[1].bbox.x2.to_bits(),
        ((0.1f64 + 0.2f64) as f32).to_bits()
    );
    let labels: Vec<u64> = a.objects.iter().map(|o| o.category_id).collect();
    let ids: Vec<u64> = a.objects.iter().map(|o| o.annotation_id).collect();
    assert_eq!((labels, ids), (vec![3, 7], vec![1, 2]));
    assert!(a.objects.iter().all(|o| !o.crowd));
    // Category ids 3 and 7 are classes 0 and 1.
    let classes = d.classes().unwrap();
    let labeled: Vec<_> = a
        .objects
        .iter()
        .map(|o| o.labeled(&classes).unwrap())
        .collect();
    assert_eq!(labeled[0].class, lockstep_core::ClassId(0));
    assert_eq!(labeled[1].class, lockstep_core::ClassId(1));
    assert_eq!(labeled[0].bbox, a.objects[0].bbox);

    let b = d.get(1).unwrap();
    assert!(b.objects.is_empty());

    let c = d.get(2).unwrap();
    assert_eq!(c.image.dimensions(), (16, 16));
    assert_eq!(c.objects.len(), 1);
    assert_eq!(c.objects[0].bbox.to_array(), [4.0, 4.0, 12.0, 12.0]);
    assert!(c.objects[0].crowd);

    assert!(matches!(
        d.get(3).unwrap_err(),
        Error::IndexOutOfRange { index: 3, len: 3 }
    ));
}

#[test]
fn corrupt_image_names_its_file_or_is_skipped_and_recorded() {
    let t = dataset("corrupt");
    std::fs::write(t.images().join("b.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    match d.get(1) {
        Err(Error::ImageDecode { path, .. }) => assert!(path.ends_with("b.png")),
        other => panic!("expected a decode error, got {other:?}"),
    }

    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::SkipAndRecord).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.get(1).unwrap().image_id, 30);
    let skipped = d.skipped();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].image_id, Some(20));
    assert!(
        matches!(&*skipped[0].error, Error::ImageDecode { path, .. } if path.ends_with("b.png"))
    );
}

#[test]
fn size_mismatch_and_missing_file() {
    let t = dataset("size");
    write_image(&t.images(), "a.png", 9, 6, ImageFormat::Png);
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    assert!(matches!(
        d.get(0),
        Err(Error::ImageSize {
            width: 8,
            found_width: 9,
            ..
        })
    ));
    std::fs::remove_file(t.images().join("c.jpg")).unwrap();
    match CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail) {
        Err(Error::Io { path, source }) => {
            assert!(path.ends_with("c.jpg"));
            // The operating system's error is kept, not flattened into a string.
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a missing file, got {other:?}"),
    }
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::SkipAndRecord).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d.skipped().len(), 2);
}

#[test]
fn bad_annotations_name_their_id() {
    let t = dataset("annotations");
    let edit = |from: &str, to: &str| {
        let text = INSTANCES.replace(from, to);
        assert_ne!(text, INSTANCES);
        std::fs::write(t.json(), text).unwrap();
    };
    let id_of = |r: lockstep_data::Result<CocoDataset>| match r {
        Err(Error::BadAnnotation { annotation_id, .. }) => annotation_id,
        other => panic!("expected a bad annotation, got {other:?}"),
    };
    edit("[0.1, 0.0, 0.2, 1.0]", "[0.1, 0.0, -0.2, 1.0]");
    assert_eq!(
        id_of(CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail)),
        2
    );
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::SkipAndRecord).unwrap();
    assert_eq!(
        d.images().iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![20, 30]
    );
    assert!(matches!(
        *d.skipped()[0].error,
        Error::BadAnnotation {
            annotation_id: 2,
            ..
        }
    ));

    edit("\"category_id\": 7", "\"category_id\": 8");
    assert_eq!(
        id_of(CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail)),
        2
    );
    edit("[4, 4, 8, 8]", "[4, 4, 8]");
    assert_eq!(
        id_of(CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail)),
        3
    );
    edit("\"id\": 3, \"image_id\": 30", "\"id\": 3, \"image_id\": 31");
    assert_eq!(
        id_of(CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail)),
        3
    );
    // An annotation of a missing image drops no sample, but it is recorded.
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::SkipAndRecord).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d.skipped().len(), 1);
    assert_eq!(d.skipped()[0].image_id, None);
}

#[test]
fn unsafe_file_names_and_bad_json() {
    let t = dataset("names");
    std::fs::write(t.json(), INSTANCES.replace("b.png", "../b.png")).unwrap();
    assert!(matches!(
        CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail),
        Err(Error::BadImageEntry { image_id: 20, .. })
    ));
    std::fs::write(t.json(), "{\"images\": 3}").unwrap();
    assert!(matches!(
        CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail),
        Err(Error::Json { .. })
    ));
    match CocoDataset::open(t.images(), t.0.join("absent.json"), CorruptPolicy::Fail) {
        Err(e @ Error::Io { .. }) => {
            let source = std::error::Error::source(&e).expect("the io::Error is the source");
            let io = source
                .downcast_ref::<std::io::Error>()
                .expect("an io::Error");
            assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let twice = INSTANCES.replace("\"id\": 20,", "\"id\": 10,");
    assert_ne!(twice, INSTANCES);
    std::fs::write(t.json(), twice).unwrap();
    assert!(matches!(
        CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail),
        Err(Error::DuplicateId {
            kind: "image",
            id: 10,
            ..
        })
    ));
}

#[test]
fn boxes_that_overflow_or_vanish_in_f32_name_file_image_and_annotation() {
    let t = dataset("f32-boxes");
    for (bbox, why) in [
        ("[1e39, 0, 1, 1]", "beyond the f32 range"),
        ("[1e8, 0, 1, 1]", "once rounded to f32"),
        ("[0, 0, 1e39, 1]", "beyond the f32 range"),
        ("[0, 1e8, 1, 1]", "once rounded to f32"),
        ("[-1e39, 0, 1, 1]", "beyond the f32 range"),
    ] {
        std::fs::write(t.json(), INSTANCES.replace("[1.0, 2.0, 3.0, 2.5]", bbox)).unwrap();
        match CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail) {
            Err(Error::BadAnnotation {
                path,
                image_id,
                annotation_id,
                reason,
            }) => {
                assert_eq!(path, t.json(), "{bbox}");
                assert_eq!((image_id, annotation_id), (10, 1), "{bbox}");
                assert!(reason.contains(why), "{bbox}: {reason}");
            }
            other => panic!("{bbox}: expected a bad annotation, got {other:?}"),
        }
    }
    // Large but representable boxes stay finite and keep a positive size.
    std::fs::write(
        t.json(),
        INSTANCES.replace("[1.0, 2.0, 3.0, 2.5]", "[1e30, 0, 1e30, 1]"),
    )
    .unwrap();
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    let [x1, y1, x2, y2] = d.images()[0].objects[0].bbox.to_array();
    assert!([x1, y1, x2, y2].iter().all(|v| v.is_finite()));
    assert!(x2 > x1 && y2 > y1);
}

#[test]
fn numeric_fields_out_of_range_are_typed_errors() {
    let t = dataset("numbers");
    let open = |text: String| {
        std::fs::write(t.json(), text).unwrap();
        CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail)
    };
    // Sizes of 0 are refused by entry; sizes and ids outside their types are JSON errors.
    assert!(matches!(
        open(INSTANCES.replace("\"width\": 5", "\"width\": 0")),
        Err(Error::BadImageEntry { image_id: 20, .. })
    ));
    for (from, to) in [
        ("\"width\": 5", "\"width\": -5"),
        ("\"width\": 5", "\"width\": 1e10"),
        ("\"height\": 4", "\"height\": 4294967296"),
        ("\"id\": 20", "\"id\": 18446744073709551616"),
        ("\"id\": 20", "\"id\": -1"),
        ("[4, 4, 8, 8]", "[4, 4, 8, 1e400]"),
        ("\"iscrowd\": 1", "\"iscrowd\": 256"),
    ] {
        let text = INSTANCES.replace(from, to);
        assert_ne!(text, INSTANCES);
        assert!(
            matches!(open(text), Err(Error::Json { .. })),
            "{from} -> {to}"
        );
    }
}

#[test]
fn annotations_parse_from_bytes_without_the_file_system() {
    use lockstep_data::CocoAnnotations;
    let source = Path::new("in-memory.json");
    let a = CocoAnnotations::from_json_slice(INSTANCES.as_bytes(), source, CorruptPolicy::Fail)
        .unwrap();
    assert_eq!(a.images().len(), 3);
    assert_eq!(
        a.images()[0].objects[0].bbox.to_array(),
        [1.0, 2.0, 4.0, 4.5]
    );
    assert_eq!(a.categories().len(), 2);
    // The same checks as `open`, naming the source.
    let bad = INSTANCES.replace("[0.1, 0.0, 0.2, 1.0]", "[1e8, 0, 1, 1]");
    assert!(matches!(
        CocoAnnotations::from_json_slice(bad.as_bytes(), source, CorruptPolicy::Fail),
        Err(Error::BadAnnotation { path, image_id: 10, annotation_id: 2, .. }) if path == source
    ));
    let kept =
        CocoAnnotations::from_json_slice(bad.as_bytes(), source, CorruptPolicy::SkipAndRecord)
            .unwrap();
    assert_eq!(
        kept.images().iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![20, 30]
    );
    assert_eq!(kept.skipped().len(), 1);
    for junk in [
        &b""[..],
        b"\xff\xfe",
        b"[]",
        b"{\"images\":[{\"id\":1}]}",
        &[b'['; 10_000],
    ] {
        assert!(matches!(
            CocoAnnotations::from_json_slice(junk, source, CorruptPolicy::Fail),
            Err(Error::Json { .. })
        ));
    }
}

/// A JPEG whose frame header claims `width` columns: the bytes after the header no
/// longer match, as in the inputs a fuzzer found (a 650-byte file claiming 65,284 × 244
/// took seconds and 290 MB to decode).
fn jpeg_claiming_width(path: &Path, width: u16) {
    let mut bytes = Vec::new();
    RgbImage::from_pixel(16, 16, Rgb([90, 30, 200]))
        .write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .unwrap();
    // Baseline frame header: FF C0, length (2), precision (1), height (2), width (2).
    let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_header_claiming_a_huge_or_another_size_is_refused_before_decoding() {
    let t = dataset("huge-claim");
    // The annotation file says 16 × 16: the header's other width is caught from the
    // header alone.
    jpeg_claiming_width(&t.images().join("c.jpg"), 300);
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    assert!(matches!(
        d.get(2),
        Err(Error::ImageSize {
            width: 16,
            found_width: 300,
            ..
        })
    ));
    // Without a size in the annotation file, a side beyond MAX_IMAGE_SIDE is refused.
    assert!(u32::from(u16::MAX) > lockstep_data::MAX_IMAGE_SIDE);
    jpeg_claiming_width(&t.images().join("c.jpg"), 65_284);
    std::fs::write(
        t.json(),
        INSTANCES.replace(
            r#""file_name": "c.jpg", "width": 16, "height": 16"#,
            r#""file_name": "c.jpg""#,
        ),
    )
    .unwrap();
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    match d.get(2) {
        Err(Error::ImageDecode { path, source }) => {
            assert!(path.ends_with("c.jpg"));
            assert!(
                matches!(source, image::ImageError::Limits(_)),
                "refused by the size limit, not by a decode failure: {source}"
            );
        }
        other => panic!("expected the size limit, got {other:?}"),
    }
}

/// A box with zero width or zero height is refused for what it is, before any rounding
/// (the message does not blame `f32`). (Found by mutation testing.)
#[test]
fn a_box_without_width_or_without_height_is_refused_as_such() {
    let t = dataset("degenerate");
    for bbox in ["[0.1, 0.0, 0.0, 1.0]", "[0.1, 0.0, 0.2, 0.0]"] {
        let text = INSTANCES.replace("[0.1, 0.0, 0.2, 1.0]", bbox);
        assert_ne!(text, INSTANCES);
        std::fs::write(t.json(), text).unwrap();
        match CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail) {
            Err(Error::BadAnnotation {
                annotation_id: 2,
                reason,
                ..
            }) => {
                assert!(
                    reason.ends_with("has no positive width and height"),
                    "{reason}"
                );
            }
            other => panic!("{bbox}: {other:?}"),
        }
    }
}

/// An image path that names a folder is refused when the dataset opens, as not a
/// regular file. (Found by mutation testing.)
#[test]
fn an_image_that_is_a_folder_is_refused() {
    let t = dataset("folder");
    std::fs::remove_file(t.images().join("b.png")).unwrap();
    std::fs::create_dir(t.images().join("b.png")).unwrap();
    match CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail) {
        Err(Error::Io { path, source }) => {
            assert!(path.ends_with("b.png"), "{path:?}");
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput);
            assert!(source.to_string().contains("not a regular file"));
        }
        other => panic!("{other:?}"),
    }
}

/// The class numbering of the categories: dense by ascending id, whatever the order of
/// the file.
#[test]
fn the_class_map_holds_the_categories_by_id() {
    let t = dataset("classmap");
    let d = CocoDataset::open(t.images(), t.json(), CorruptPolicy::Fail).unwrap();
    let map = d.classes().unwrap();
    assert_eq!(map.len(), 2);
    assert!(!map.is_empty());
    let ids: Vec<u64> = map.categories().iter().map(|c| c.id).collect();
    assert_eq!(ids, [3, 7]);
    assert_eq!(map.class_of(7), Some(lockstep_core::ClassId(1)));
    assert_eq!(
        map.category(lockstep_core::ClassId(0))
            .map(|c| c.name.as_str()),
        Some("cat")
    );
}

//! Agreement with torchvision.transforms.v2.functional and Pillow: for fixed parameters,
//! every output channel is within ±1 of the reference's. The references were made by
//! `fixtures/make_fixtures.py` and are committed under `fixtures/`.

use std::path::{Path, PathBuf};

use image::RgbImage;
use lockstep_augment as aug;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn load(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

fn ours(input: &RgbImage, op: &str, p: &Value) -> RgbImage {
    let f = |k: &str| p[k].as_f64().unwrap();
    let u = |k: &str| p[k].as_u64().unwrap() as u32;
    match op {
        "brightness" => aug::adjust_brightness(input, f("factor")),
        "contrast" => aug::adjust_contrast(input, f("factor")),
        "saturation" => aug::adjust_saturation(input, f("factor")),
        "hue" => aug::adjust_hue(input, f("shift")),
        "hflip" => aug::hflip(input),
        "vflip" => aug::vflip(input),
        "crop" => aug::crop(
            input,
            aug::Rect {
                x: u("x"),
                y: u("y"),
                width: u("width"),
                height: u("height"),
            },
        ),
        "resize_nearest" => {
            aug::resize(input, u("width"), u("height"), aug::Interpolation::Nearest)
        }
        "rotate90" => aug::rotate90(input, u("k")),
        other => panic!("unknown op {other}"),
    }
    .unwrap()
}

#[test]
fn agrees_with_torchvision_and_pillow_within_one_level() {
    let dir = fixtures();
    let input = load(&dir.join("input.png"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    let cases = manifest["cases"].as_array().unwrap();
    assert!(cases.len() >= 50, "the manifest lost cases");
    let mut failures = Vec::new();
    let mut exact = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let reference = load(&dir.join("ref").join(case["file"].as_str().unwrap()));
        let got = ours(&input, case["op"].as_str().unwrap(), &case["params"]);
        assert_eq!(got.dimensions(), reference.dimensions(), "{name}: size");
        let worst = got
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| (i16::from(*a) - i16::from(*b)).abs())
            .max()
            .unwrap_or(0);
        if worst > 1 {
            failures.push(format!("{name}: max difference {worst}"));
        }
        if worst == 0 {
            exact += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Geometric ops must match exactly, not just within one level.
    assert!(exact >= 13, "only {exact} cases matched exactly");
}

#[test]
fn geometric_ops_match_exactly() {
    let dir = fixtures();
    let input = load(&dir.join("input.png"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    for case in manifest["cases"].as_array().unwrap() {
        let op = case["op"].as_str().unwrap();
        if !matches!(
            op,
            "hflip" | "vflip" | "crop" | "resize_nearest" | "rotate90"
        ) {
            continue;
        }
        let reference = load(&dir.join("ref").join(case["file"].as_str().unwrap()));
        assert_eq!(
            ours(&input, op, &case["params"]),
            reference,
            "{}",
            case["name"]
        );
    }
}

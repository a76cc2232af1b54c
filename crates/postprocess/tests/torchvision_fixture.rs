//! Our NMS keeps exactly the indices torchvision.ops.nms keeps on inputs without score
//! ties. The fixture is written by `fixtures/make_fixtures.py` (torch 2.11.0,
//! torchvision 0.26.0, CPU).

use lockstep_postprocess::{Algorithm, BBox, Nms, TieBreak};
use serde_json::Value;

#[test]
fn matches_torchvision_on_committed_fixture() {
    let text = include_str!("../fixtures/torchvision_nms.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let t = case["iou_threshold"].as_f64().unwrap();
        // Values are the exact f32 values written as f64, so `as f32` is exact.
        let boxes: Vec<BBox> = case["boxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let v: Vec<f32> = b
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect();
                BBox::new(v[0], v[1], v[2], v[3])
            })
            .collect();
        let scores: Vec<f32> = case["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let keep: Vec<usize> = case["keep"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        assert!(!keep.is_empty(), "{name}");
        for algorithm in [Algorithm::Quadratic, Algorithm::Grid] {
            for tie in [TieBreak::Canonical, TieBreak::LowerIndex] {
                let got = Nms::new(t)
                    .with_algorithm(algorithm)
                    .with_tie_break(tie)
                    .run(&boxes, &scores)
                    .unwrap();
                assert_eq!(got, keep, "{name} {algorithm:?} {tie:?}");
            }
        }
    }
}

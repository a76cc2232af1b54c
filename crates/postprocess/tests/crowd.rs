//! Crowd regions (COCO's `iscrowd: 1`) evaluated as pycocotools' `COCOeval` does, on the
//! hand-made case of `fixtures/crowd_case.json` (written by `fixtures/crowd_case.py`
//! with pycocotools 2.0.11; the expected values below are copied from its output).

use lockstep_postprocess::{
    evaluate, BBox, ClassId, Detection, EvalConfig, GroundTruth, LabeledBox,
};

/// COCO `[x, y, w, h]` as corners.
fn corners(xywh: &serde_json::Value) -> BBox {
    let v: Vec<f32> = xywh
        .as_array()
        .expect("bbox array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect();
    BBox::new(v[0], v[1], v[0] + v[2], v[1] + v[3])
}

fn case() -> (Vec<Detection>, Vec<GroundTruth>) {
    let text = include_str!("fixtures/crowd_case.json");
    let case: serde_json::Value = serde_json::from_str(text).expect("fixture JSON");
    let gts = case["ground_truth"]
        .as_array()
        .expect("ground truth")
        .iter()
        .map(|g| {
            let labeled = LabeledBox::new(
                corners(&g[2]),
                ClassId(g[1].as_u64().expect("category") as u32),
            );
            GroundTruth::new(g[0].as_u64().expect("image"), labeled)
                .with_crowd(g[3].as_u64() == Some(1))
        })
        .collect();
    let dets = case["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .map(|d| {
            let labeled = LabeledBox::new(
                corners(&d[2]),
                ClassId(d[1].as_u64().expect("category") as u32),
            );
            Detection::new(
                d[0].as_u64().expect("image"),
                labeled,
                d[3].as_f64().expect("score") as f32,
            )
        })
        .collect();
    (dets, gts)
}

/// pycocotools adds `np.spacing(1)` to precision's denominator; we do not.
const TOLERANCE: f64 = 1e-12;

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= TOLERANCE,
        "{what}: got {got}, pycocotools {want}"
    );
}

#[test]
fn crowd_regions_match_pycocotools() {
    let (dets, gts) = case();
    let report = evaluate(&dets, &gts, &EvalConfig::default()).unwrap();
    // COCOeval.stats[0..3] of the fixture.
    close(report.map, 0.8506600660066005, "mAP@[.5:.95]");
    close(report.map_50, 0.9752475247524752, "mAP@0.5");
    close(report.map_75, 0.7854785478547854, "mAP@0.75");
    // Per class: category 1 and 2; category 3 has only a crowd region (-1 there).
    assert_eq!(report.per_class.len(), 2);
    let c1 = &report.per_class[0];
    assert_eq!(
        (c1.class, c1.num_ground_truth, c1.num_crowd),
        (ClassId(1), 4, 1)
    );
    close(c1.ap, 0.7013201320132012, "class 1 AP");
    close(c1.ap_50, 0.9504950495049505, "class 1 AP@0.5");
    close(c1.ap_75, 0.5709570957095709, "class 1 AP@0.75");
    let c2 = &report.per_class[1];
    assert_eq!(
        (c2.class, c2.num_ground_truth, c2.num_crowd),
        (ClassId(2), 1, 1)
    );
    close(c2.ap, 1.0, "class 2 AP");
    assert_eq!(report.classes_without_ground_truth, vec![ClassId(3)]);
}

/// The same case with every crowd flag cleared scores differently: the flag is what
/// changes the result (so the test above cannot pass by accident).
#[test]
fn without_the_crowd_flag_the_case_scores_otherwise() {
    let (dets, gts) = case();
    let plain: Vec<GroundTruth> = gts.iter().map(|g| g.with_crowd(false)).collect();
    let report = evaluate(&dets, &plain, &EvalConfig::default()).unwrap();
    assert!(
        (report.map_50 - 0.9752475247524752).abs() > 0.01,
        "{report:?}"
    );
}

/// A detection that falls on a crowd region is neither a hit nor a false positive, and
/// a crowd region is never a miss.
#[test]
fn a_detection_on_a_crowd_region_is_ignored() {
    let object = LabeledBox::new(BBox::new(0.0, 0.0, 10.0, 10.0), ClassId(0));
    let crowd = LabeledBox::new(BBox::new(50.0, 50.0, 90.0, 90.0), ClassId(0));
    let gts = [GroundTruth::new(0, object), GroundTruth::crowd(0, crowd)];
    let inside = LabeledBox::new(BBox::new(60.0, 60.0, 70.0, 70.0), ClassId(0));
    // The crowd detection scores highest: were it a false positive, AP would drop.
    let dets = [
        Detection::new(0, inside, 0.99),
        Detection::new(0, object, 0.5),
    ];
    let report = evaluate(&dets, &gts, &EvalConfig::default()).unwrap();
    assert_eq!(report.map, 1.0);
    assert_eq!(report.per_class[0].num_ground_truth, 1);
    // Only crowd regions: nothing to evaluate.
    assert!(evaluate(&dets, &gts[1..], &EvalConfig::default()).is_err());
}

/// The wire form: `crowd` appears only when set, and old JSON reads as not crowd.
#[test]
fn crowd_flag_serialises_only_when_set() {
    let b = LabeledBox::new(BBox::new(1.0, 2.0, 3.0, 4.0), ClassId(1));
    let plain = serde_json::to_string(&GroundTruth::new(3, b)).unwrap();
    assert!(!plain.contains("crowd"), "{plain}");
    let crowd = serde_json::to_string(&GroundTruth::crowd(3, b)).unwrap();
    assert!(crowd.contains("\"crowd\":true"), "{crowd}");
    assert!(serde_json::from_str::<GroundTruth>(&crowd).unwrap().crowd);
}

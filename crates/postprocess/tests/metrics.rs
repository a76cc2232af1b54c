//! Detection metrics: hand-computed AP and mAP, COCO details, serde.

mod common;

use lockstep_postprocess::{
    coco_iou_thresholds, evaluate, BBox, ClassId, Detection, EvalConfig, EvalReport, GroundTruth,
    LabeledBox,
};
use proptest::prelude::*;

fn det(image_id: u64, class: u32, score: f32, bbox: impl Into<BBox>) -> Detection {
    Detection::new(
        image_id,
        LabeledBox::new(bbox.into(), ClassId(class)),
        score,
    )
}

fn gt(image_id: u64, class: u32, bbox: impl Into<BBox>) -> GroundTruth {
    GroundTruth::new(image_id, LabeledBox::new(bbox.into(), ClassId(class)))
}

/// Sum of the 101 interpolated precisions, left to right, over 101: `p_hi` for recall
/// levels `0..=split`, `p_lo` for the rest.
fn ap_101(split: usize, p_hi: f64, p_lo: f64) -> f64 {
    let mut s = 0.0f64;
    for j in 0..=100 {
        s += if j <= split { p_hi } else { p_lo };
    }
    s / 101.0
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Class 1 on image 0: two objects; detections TP (IoU 1), FP, then a TP with IoU 0.62
/// (`[20,0,30,6.2]` against `[20,0,30,10]`).
fn scene() -> (Vec<Detection>, Vec<GroundTruth>) {
    let gts = vec![
        gt(0, 1, [0.0, 0.0, 10.0, 10.0]),
        gt(0, 1, [20.0, 0.0, 30.0, 10.0]),
        gt(0, 2, [50.0, 50.0, 60.0, 60.0]), // class 2: never detected
    ];
    let dets = vec![
        det(0, 1, 0.9, [0.0, 0.0, 10.0, 10.0]),
        det(0, 1, 0.8, [100.0, 100.0, 110.0, 110.0]),
        det(0, 1, 0.7, [20.0, 0.0, 30.0, 6.2]),
        det(1, 1, 0.95, [0.0, 0.0, 10.0, 10.0]), // image 1 has no ground truth: FP
        det(0, 3, 0.5, [0.0, 0.0, 1.0, 1.0]),    // class 3 has no ground truth
    ];
    (dets, gts)
}

#[test]
fn hand_computed_ap_and_map() {
    let (dets, gts) = scene();
    let report = evaluate(&dets, &gts, &EvalConfig::default()).unwrap();
    assert_eq!(report.classes_without_ground_truth, vec![ClassId(3)]);
    assert_eq!(report.per_class.len(), 2);
    let c1 = &report.per_class[0];
    assert_eq!(
        (c1.class, c1.num_ground_truth, c1.num_detections),
        (ClassId(1), 2, 4)
    );
    // Visiting order: 0.95 FP (image 1), 0.9 TP, 0.8 FP, 0.7 TP-or-FP.
    // IoU <= 0.6 thresholds: precision 0, 1/2, 1/3, 2/4 -> interpolated 1/2, 1/2, 1/2, 1/2
    // with recall 0, .5, .5, 1: every level takes 1/2.
    let low = ap_101(100, 0.5, 0.5);
    // Above 0.62: recall stops at 0.5 with interpolated precision 1/2; levels > 0.5 get 0.
    let high = ap_101(50, 0.5, 0.0);
    let expected: Vec<f64> = coco_iou_thresholds()
        .iter()
        .map(|&t| if t <= 0.62 { low } else { high })
        .collect();
    assert_eq!(expected.iter().filter(|&&a| a == low).count(), 3);
    assert_eq!(c1.ap_per_threshold, expected);
    assert_eq!(c1.ap_50.to_bits(), low.to_bits());
    assert_eq!(c1.ap_75.to_bits(), high.to_bits());
    assert_eq!(c1.ap.to_bits(), mean(&expected).to_bits());
    let c2 = &report.per_class[1];
    assert_eq!(
        (c2.class, c2.num_ground_truth, c2.num_detections, c2.ap),
        (ClassId(2), 1, 0, 0.0)
    );
    assert_eq!(report.map_50.to_bits(), mean(&[low, 0.0]).to_bits());
    assert_eq!(report.map_75.to_bits(), mean(&[high, 0.0]).to_bits());
    assert_eq!(
        report.map.to_bits(),
        mean(&[mean(&expected), 0.0]).to_bits()
    );
}

#[test]
fn perfect_detections_score_exactly_one() {
    let gts: Vec<GroundTruth> = (0..5)
        .map(|i| gt(i / 2, (i % 3) as u32, [i as f32, 0.0, i as f32 + 1.0, 1.0]))
        .collect();
    let dets: Vec<Detection> = gts
        .iter()
        .map(|g| Detection::new(g.image_id, g.labeled(), 0.5))
        .collect();
    let r = evaluate(&dets, &gts, &EvalConfig::default()).unwrap();
    assert_eq!((r.map, r.map_50, r.map_75), (1.0, 1.0, 1.0));
}

#[test]
fn max_detections_drops_the_lowest_scores_per_image_and_class() {
    let gts = [gt(0, 0, [0.0, 0.0, 10.0, 10.0])];
    // The true positive has the lower score; with max_detections 1 it is cut.
    let dets = [
        det(0, 0, 0.9, [50.0, 50.0, 60.0, 60.0]),
        det(0, 0, 0.1, [0.0, 0.0, 10.0, 10.0]),
    ];
    let all = EvalConfig::default().with_max_detections(None);
    let one = EvalConfig::default().with_max_detections(Some(1));
    // Unlimited: FP then TP -> precision 1/2 at recall 1: every level gets 1/2.
    assert_eq!(
        evaluate(&dets, &gts, &all).unwrap().map_50,
        ap_101(100, 0.5, 0.5)
    );
    assert_eq!(evaluate(&dets, &gts, &one).unwrap().map_50, 0.0);
}

#[test]
fn custom_thresholds_and_serde_round_trip() {
    let (dets, gts) = scene();
    let config = EvalConfig::default().with_iou_thresholds(vec![0.6, 0.7]);
    let report = evaluate(&dets, &gts, &config).unwrap();
    assert_eq!(report.iou_thresholds, vec![0.6, 0.7]);
    assert_eq!(report.per_class[0].ap_per_threshold.len(), 2);
    // map_50 and map_75 are reported even when not among the configured thresholds.
    assert_eq!(
        report.map_50,
        evaluate(&dets, &gts, &EvalConfig::default())
            .unwrap()
            .map_50
    );
    let text = serde_json::to_string(&report).unwrap();
    let back: EvalReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
    let config_text = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<EvalConfig>(&config_text).unwrap(),
        config
    );
}

#[test]
fn corners_in_either_order_give_the_same_report() {
    let (dets, gts) = scene();
    let flipped: Vec<Detection> = dets
        .iter()
        .map(|d| Detection {
            bbox: BBox::new(d.bbox.x2, d.bbox.y2, d.bbox.x1, d.bbox.y1),
            ..*d
        })
        .collect();
    let cfg = EvalConfig::default();
    assert_eq!(
        evaluate(&flipped, &gts, &cfg).unwrap(),
        evaluate(&dets, &gts, &cfg).unwrap()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// With distinct scores, the report does not depend on the order of the detections.
    #[test]
    fn report_is_invariant_to_detection_order(seed in any::<u64>(), n in 1usize..120) {
        let (boxes, _, classes) = common::clustered(seed, n, 0);
        let gts: Vec<GroundTruth> = boxes.iter().zip(&classes).step_by(4)
            .map(|(&b, &c)| gt(u64::from(c.0 % 2), c.0, b)).collect();
        prop_assume!(!gts.is_empty());
        // Distinct scores: i / n.
        let dets: Vec<Detection> = boxes.iter().zip(&classes).enumerate()
            .map(|(i, (&b, &c))| det(u64::from(c.0 % 2), c.0, i as f32 / n as f32, b)).collect();
        let p = common::permutation(seed, n);
        let shuffled: Vec<Detection> = p.iter().map(|&i| dets[i]).collect();
        let cfg = EvalConfig::default();
        let a = evaluate(&dets, &gts, &cfg).unwrap();
        let b = evaluate(&shuffled, &gts, &cfg).unwrap();
        prop_assert_eq!(&a, &b);
        for c in &a.per_class {
            prop_assert!((0.0..=1.0).contains(&c.ap) && (0.0..=1.0).contains(&c.ap_50));
            prop_assert!(c.ap_75 <= c.ap_50);
        }
    }
}

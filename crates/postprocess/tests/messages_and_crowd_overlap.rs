//! What mutation testing found untested in postprocess: the words the errors use for
//! the input, entry and field at fault, and the exact share of a detection that a crowd
//! region covers (pycocotools' `inter / area(det)`, not the IoU).

use lockstep_postprocess::{
    batched_nms, evaluate, nms, BBox, ClassId, Detection, EvalConfig, GroundTruth, LabeledBox,
};

#[test]
fn length_errors_name_the_input() {
    let boxes = [BBox::new(0.0, 0.0, 1.0, 1.0); 2];
    let err = nms(&boxes, &[0.5], 0.5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "scores has 1 entries but there are 2 boxes"
    );
    let err = batched_nms(&boxes, &[0.5, 0.4], &[ClassId(0)], 0.5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "classes has 1 entries but there are 2 boxes"
    );
}

#[test]
fn evaluation_errors_name_the_entry_and_the_field() {
    let good = LabeledBox::new(BBox::new(0.0, 0.0, 1.0, 1.0), ClassId(0));
    let bad = LabeledBox::new(BBox::new(0.0, f32::NAN, 1.0, 1.0), ClassId(0));
    let gts = [GroundTruth::new(0, good)];
    let config = EvalConfig::default();
    let err = evaluate(&[Detection::new(0, good, f32::NAN)], &gts, &config).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("detection 0 has a non-finite score"),
        "{err}"
    );
    let err = evaluate(&[Detection::new(0, bad, 0.5)], &gts, &config).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("detection 0 has a non-finite bbox"),
        "{err}"
    );
    let err = evaluate(&[], &[gts[0], GroundTruth::new(1, bad)], &config).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("ground truth 1 has a non-finite bbox"),
        "{err}"
    );
}

/// AP at two thresholds for: one object found exactly (score 0.5), and a stronger
/// detection of which a crowd region covers 60% (6 of its 10 columns). At IoU 0.55 the
/// crowd absorbs it (AP 1); at 0.65 it is a false positive ranked first (AP 0.5). Its
/// IoU with the crowd region is 60 / (100 + 340 − 60) ≈ 0.16, so only the covered share
/// can give these figures.
#[test]
fn a_crowd_region_absorbs_a_detection_by_the_share_it_covers() {
    let object = LabeledBox::new(BBox::new(100.0, 100.0, 120.0, 120.0), ClassId(0));
    let crowd = LabeledBox::new(BBox::new(6.0, 3.0, 40.0, 13.0), ClassId(0));
    let half_in = LabeledBox::new(BBox::new(2.0, 3.0, 12.0, 13.0), ClassId(0));
    let gts = [GroundTruth::new(0, object), GroundTruth::crowd(0, crowd)];
    let dets = [
        Detection::new(0, half_in, 0.9),
        Detection::new(0, object, 0.5),
    ];
    let config = EvalConfig::default().with_iou_thresholds(vec![0.55, 0.65]);
    let report = evaluate(&dets, &gts, &config).unwrap();
    assert_eq!(report.per_class[0].ap_per_threshold, vec![1.0, 0.5]);
    // Mirrored and moved, the share is the same.
    let flip = |b: BBox| BBox::new(-b.x2 + 500.0, b.y1 + 7.0, -b.x1 + 500.0, b.y2 + 7.0);
    let gts = [
        GroundTruth::new(0, LabeledBox::new(flip(object.bbox), ClassId(0))),
        GroundTruth::crowd(0, LabeledBox::new(flip(crowd.bbox), ClassId(0))),
    ];
    let dets = [
        Detection::new(0, LabeledBox::new(flip(half_in.bbox), ClassId(0)), 0.9),
        Detection::new(0, LabeledBox::new(flip(object.bbox), ClassId(0)), 0.5),
    ];
    let report = evaluate(&dets, &gts, &config).unwrap();
    assert_eq!(report.per_class[0].ap_per_threshold, vec![1.0, 0.5]);
}

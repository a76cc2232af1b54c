//! NMS (hard, padded, batched, soft) and mAP on byte-decoded boxes, scores and
//! parameters.

use lockstep_postprocess::{
    evaluate, greedy_match, iou_matrix, Algorithm, BBox, ClassId, Detection, EvalConfig,
    GroundTruth, Nms, SoftNms, TieBreak,
};

use crate::bytes::Bytes;

/// At most this many boxes per input: past the grid threshold (128) would need 2 KiB
/// of input per case, and the quadratic and grid paths are compared on every input.
const MAX_BOXES: usize = 160;

fn bbox(b: &mut Bytes<'_>) -> BBox {
    BBox::from([b.f32(), b.f32(), b.f32(), b.f32()])
}

fn score(b: &mut Bytes<'_>) -> f32 {
    b.unit() as f32
}

/// Padded outputs longer than this are not asked for: padding allocates the length the
/// caller gives, which is documented, not a defect.
const MAX_PADDED: usize = 1 << 16;

/// An NMS configuration with every builder option decoded from bytes, and whether its
/// padded runs allocate at most [`MAX_PADDED`] entries.
fn config(b: &mut Bytes<'_>) -> (Nms, bool) {
    let mut nms = Nms::new(b.unit());
    let mut pad_ok = true;
    let options = b.u8();
    if options & 1 != 0 {
        nms = nms.with_score_threshold(b.unit() as f32);
    }
    if options & 2 != 0 {
        let n = b.size();
        pad_ok = n <= MAX_PADDED as u64;
        nms = nms.with_max_output(n);
    }
    if options & 4 != 0 {
        nms = nms.with_max_output_per_class(b.size());
    }
    if options & 8 != 0 {
        nms = nms.with_tie_break(TieBreak::LowerIndex);
    }
    if options & 16 != 0 {
        nms = nms.with_score_quantum(b.f64());
    }
    (nms, pad_ok)
}

/// Boxes, scores (sometimes of another length), classes and a configuration: every
/// NMS entry point. Kept indices must be in range and distinct, and the quadratic and
/// grid algorithms must agree, as documented.
pub fn nms(data: &[u8]) {
    let mut b = Bytes::new(data);
    let (nms, pad_ok) = config(&mut b);
    let sigma = b.f32();
    let n = b.count(MAX_BOXES.min(255));
    let mismatch = b.u8() == 255;
    let boxes: Vec<BBox> = (0..n).map(|_| bbox(&mut b)).collect();
    let scores: Vec<f32> = (0..n + usize::from(mismatch))
        .map(|_| score(&mut b))
        .collect();
    let classes: Vec<ClassId> = (0..n).map(|_| ClassId(u32::from(b.u8() % 4))).collect();

    let quadratic = nms
        .clone()
        .with_algorithm(Algorithm::Quadratic)
        .run(&boxes, &scores);
    let grid = nms
        .clone()
        .with_algorithm(Algorithm::Grid)
        .run(&boxes, &scores);
    match (&quadratic, &grid) {
        (Ok(q), Ok(g)) => {
            assert_eq!(q, g, "quadratic and grid NMS keep different boxes");
            check_indices(q, n);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("quadratic and grid NMS disagree on validity"),
    }
    let _ = nms.run(&boxes, &scores);
    if pad_ok {
        if let Ok(p) = nms.run_padded(&boxes, &scores) {
            assert!(p.valid <= p.indices.len());
        }
        let _ = nms.run_batched_padded(&boxes, &scores, &classes);
    }
    if let Ok(kept) = nms.run_batched(&boxes, &scores, &classes) {
        check_indices(&kept, n);
    }
    for method in [SoftNms::Gaussian { sigma }, SoftNms::Linear] {
        if let Ok(out) = nms.run_soft(&boxes, &scores, method) {
            check_indices(&out.indices, n);
            assert_eq!(out.indices.len(), out.scores.len());
            for (&i, &s) in out.indices.iter().zip(&out.scores) {
                // Decay multiplies by a weight in [0, 1]: it never moves a score away
                // from zero.
                assert!(
                    s.abs() <= scores[i].abs(),
                    "soft-NMS moved score {} to {s}",
                    scores[i]
                );
            }
            let _ = out.padded(b.count(255) as u64);
        }
    }
}

fn check_indices(kept: &[usize], n: usize) {
    let mut sorted = kept.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), kept.len(), "an index is kept twice: {kept:?}");
    assert!(kept.iter().all(|&i| i < n), "index out of range: {kept:?}");
}

/// Detections, ground truth and an evaluation configuration: `evaluate` (every mAP in
/// `[0, 1]`), `greedy_match` and `iou_matrix`.
pub fn metrics(data: &[u8]) {
    let mut b = Bytes::new(data);
    let thresholds: Vec<f64> = (0..b.count(12)).map(|_| b.unit()).collect();
    let max_detections = match b.u8() % 4 {
        0 => None,
        _ => Some(b.size()),
    };
    let config = EvalConfig::default()
        .with_iou_thresholds(thresholds)
        .with_max_detections(max_detections);
    let dets: Vec<Detection> = (0..b.count(48))
        .map(|_| Detection {
            image_id: u64::from(b.u8() % 3),
            class: ClassId(u32::from(b.u8() % 3)),
            score: score(&mut b),
            bbox: bbox(&mut b),
        })
        .collect();
    let gts: Vec<GroundTruth> = (0..b.count(48))
        .map(|_| GroundTruth {
            image_id: u64::from(b.u8() % 3),
            class: ClassId(u32::from(b.u8() % 3)),
            bbox: bbox(&mut b),
            crowd: false,
        })
        .collect();
    if let Ok(report) = evaluate(&dets, &gts, &config) {
        for (what, v) in [
            ("map", report.map),
            ("map_50", report.map_50),
            ("map_75", report.map_75),
        ] {
            assert!((0.0..=1.0).contains(&v), "{what} is {v}");
        }
    }
    let det_boxes: Vec<BBox> = dets.iter().map(|d| d.bbox).collect();
    let det_scores: Vec<f32> = dets.iter().map(|d| d.score).collect();
    let gt_boxes: Vec<BBox> = gts.iter().map(|g| g.bbox).collect();
    let threshold = config.iou_thresholds.first().copied().unwrap_or(0.5);
    if let Ok(matched) = greedy_match(&det_boxes, &det_scores, &gt_boxes, threshold) {
        assert_eq!(matched.len(), dets.len());
        let mut taken: Vec<usize> = matched.iter().flatten().copied().collect();
        taken.sort_unstable();
        let before = taken.len();
        taken.dedup();
        assert_eq!(before, taken.len(), "a ground truth matched twice");
    }
    if let Ok(m) = iou_matrix(&det_boxes, &gt_boxes) {
        assert_eq!((m.rows(), m.cols()), (dets.len(), gts.len()));
        assert!(m.as_slice().iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

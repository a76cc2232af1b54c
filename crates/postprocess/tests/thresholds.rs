//! The strict comparisons NMS documents, at the exact boundary: a score equal to the
//! score threshold is not a candidate, linear soft-NMS leaves a score alone unless the
//! IoU is above the threshold, and -0.0 and +0.0 are one score in the canonical tie
//! order. (Found by mutation testing: no test sat on these boundaries.)

use lockstep_postprocess::{BBox, Nms, SoftNms, TieBreak};

#[test]
fn a_score_equal_to_the_score_threshold_is_not_a_candidate() {
    let boxes = [
        BBox::new(0.0, 0.0, 1.0, 1.0),
        BBox::new(5.0, 5.0, 6.0, 6.0),
        BBox::new(9.0, 9.0, 10.0, 10.0),
    ];
    let scores = [0.5, 0.25, 0.2500001];
    let kept = Nms::new(0.5)
        .with_score_threshold(0.25)
        .run(&boxes, &scores)
        .unwrap();
    assert_eq!(kept, [0, 2]);
}

/// Box 1 overlaps box 0 with IoU 1/3 (below 0.5) and box 2 with IoU 0.6 (above): only
/// box 2's score decays, to `0.7 · (1 − 0.6)`.
#[test]
fn linear_soft_nms_decays_only_above_the_iou_threshold() {
    let boxes = [
        BBox::new(0.0, 0.0, 10.0, 10.0),
        BBox::new(5.0, 0.0, 15.0, 10.0), // IoU 50 / 150 = 1/3
        BBox::new(0.0, 0.0, 10.0, 6.0),  // IoU 60 / 100 = 0.6
    ];
    let scores = [0.9, 0.8, 0.7];
    let out = Nms::new(0.5)
        .run_soft(&boxes, &scores, SoftNms::Linear)
        .unwrap();
    assert_eq!(out.indices, [0, 1, 2]);
    assert_eq!(out.scores[0], 0.9);
    assert_eq!(out.scores[1], 0.8, "IoU 1/3 is not above 0.5: no decay");
    let iou = lockstep_postprocess::iou(&boxes[0], &boxes[2]);
    assert_eq!(out.scores[2], 0.7 * (1.0 - iou));
    assert!((out.scores[2] - 0.28).abs() < 1e-6);
}

/// Pairs of equal boxes whose scores are -0.0 or +0.0: within a pair everything but
/// the index ties, so the lower index comes first whatever the signs. The pairs are
/// given in the reverse of their canonical (box) order, so that the sort has to move
/// them and compares entries in both directions.
#[test]
fn signed_zero_scores_tie_in_the_canonical_order() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut sign = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state & 1 == 0 {
            -0.0f32
        } else {
            0.0
        }
    };
    for pairs in [1usize, 2, 3, 10, 40] {
        for _ in 0..16 {
            let mut boxes = Vec::new();
            let mut scores = Vec::new();
            for k in 0..pairs {
                let x = 3.0 * (pairs - k) as f32;
                let b = BBox::new(x, 0.0, x + 1.0, 1.0);
                boxes.extend([b, b]);
                scores.extend([sign(), sign()]);
            }
            // IoU 1 is not above 1: nothing is suppressed, so the order is visible.
            let kept = Nms::new(1.0)
                .with_tie_break(TieBreak::Canonical)
                .run(&boxes, &scores)
                .unwrap();
            let expected: Vec<usize> = (0..pairs).rev().flat_map(|k| [2 * k, 2 * k + 1]).collect();
            assert_eq!(kept, expected, "scores {scores:?}");
        }
    }
}

/// An IoU exactly at the threshold is not above it: linear soft-NMS leaves the score.
#[test]
fn linear_soft_nms_leaves_a_score_at_exactly_the_threshold() {
    let boxes = [
        BBox::new(0.0, 0.0, 10.0, 10.0),
        BBox::new(0.0, 0.0, 10.0, 5.0),
    ];
    assert_eq!(lockstep_postprocess::iou(&boxes[0], &boxes[1]), 0.5);
    let out = Nms::new(0.5)
        .run_soft(&boxes, &[0.9, 0.8], SoftNms::Linear)
        .unwrap();
    assert_eq!(out.scores, [0.9, 0.8]);
}

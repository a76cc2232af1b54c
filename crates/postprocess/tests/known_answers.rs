//! Known answers: TensorFlow's published NMS cases, torchvision-style threshold edges,
//! and pinned soft-NMS scores.

use lockstep_postprocess::{
    boxes_from_yxyx, iou, nms, Algorithm, BBox, Error, Input, Nms, Padded, SoftNms, TieBreak,
};

/// TensorFlow's three-clusters case, boxes given as (y1, x1, y2, x2).
fn tf_case() -> (Vec<BBox>, Vec<f32>) {
    let boxes = boxes_from_yxyx(&[
        [0.0, 0.0, 1.0, 1.0],
        [0.0, 0.1, 1.0, 1.1],
        [0.0, -0.1, 1.0, 0.9],
        [0.0, 10.0, 1.0, 11.0],
        [0.0, 10.1, 1.0, 11.1],
        [0.0, 100.0, 1.0, 101.0],
    ]);
    (boxes, vec![0.9, 0.75, 0.6, 0.95, 0.5, 0.3])
}

#[test]
fn tensorflow_three_clusters() {
    let (b, s) = tf_case();
    for tie in [TieBreak::Canonical, TieBreak::LowerIndex] {
        for algorithm in [Algorithm::Quadratic, Algorithm::Grid] {
            let cfg = Nms::new(0.5).with_tie_break(tie).with_algorithm(algorithm);
            assert_eq!(cfg.run(&b, &s).unwrap(), vec![3, 0, 5]);
            assert_eq!(
                cfg.clone().with_max_output(2).run(&b, &s).unwrap(),
                vec![3, 0]
            );
            assert_eq!(
                cfg.clone().with_max_output(30).run(&b, &s).unwrap(),
                vec![3, 0, 5]
            );
            assert_eq!(
                cfg.clone().with_score_threshold(0.4).run(&b, &s).unwrap(),
                vec![3, 0]
            );
        }
    }
}

#[test]
fn tensorflow_flipped_coordinates() {
    // The same clusters with corners given in the other diagonal order.
    let b = boxes_from_yxyx(&[
        [1.0, 1.0, 0.0, 0.0],
        [0.0, 0.1, 1.0, 1.1],
        [0.0, 0.9, 1.0, -0.1],
        [0.0, 10.0, 1.0, 11.0],
        [1.0, 10.1, 0.0, 11.1],
        [1.0, 101.0, 0.0, 100.0],
    ]);
    let s = [0.9, 0.75, 0.6, 0.95, 0.5, 0.3];
    assert_eq!(nms(&b, &s, 0.5).unwrap(), vec![3, 0, 5]);
}

#[test]
fn tensorflow_ten_identical_boxes() {
    let b = vec![BBox::new(0.0, 0.0, 1.0, 1.0); 10];
    let s = vec![0.9; 10];
    assert_eq!(nms(&b, &s, 0.5).unwrap(), vec![0]);
    let lower = Nms::new(0.5).with_tie_break(TieBreak::LowerIndex);
    assert_eq!(lower.run(&b, &s).unwrap(), vec![0]);
}

#[test]
fn tensorflow_v4_padded() {
    let (b, s) = tf_case();
    let p = Nms::new(0.5).with_max_output(6).run_padded(&b, &s).unwrap();
    assert_eq!(
        p,
        Padded {
            indices: vec![3, 0, 5, 0, 0, 0],
            valid: 3
        }
    );
    let p = Nms::new(0.5).with_max_output(2).run_padded(&b, &s).unwrap();
    assert_eq!(
        p,
        Padded {
            indices: vec![3, 0],
            valid: 2
        }
    );
}

#[test]
fn tensorflow_v5_soft_nms() {
    // TF's published answer (rounded): indices [3, 0, 1, 5, 4, 2],
    // scores [0.95, 0.9, 0.384, 0.3, 0.256, 0.197].
    let (b, s) = tf_case();
    let out = Nms::new(0.5)
        .with_score_threshold(0.0)
        .with_max_output(6)
        .run_soft(&b, &s, SoftNms::Gaussian { sigma: 0.5 })
        .unwrap();
    assert_eq!(out.indices, vec![3, 0, 1, 5, 4, 2]);
    let published = [0.95, 0.9, 0.384, 0.3, 0.256, 0.197];
    for (got, want) in out.scores.iter().zip(published) {
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    }
    // Our exact bits (f32, libm::expf), pinned.
    let bits: Vec<u32> = out.scores.iter().map(|s| s.to_bits()).collect();
    assert_eq!(bits, PINNED_SOFT_BITS);
}

const PINNED_SOFT_BITS: [u32; 6] = [
    1064514355, 1063675494, 1053072413, 1050253722, 1048777414, 1045017381,
];

#[test]
fn torchvision_style_threshold_edges() {
    // IoU of [0,0,10,10] and [0,0,10+d,10] is 100 / (100 + 10 d).
    let a = BBox::new(0.0, 0.0, 10.0, 10.0);
    let above = BBox::new(0.0, 0.0, 19.99, 10.0); // IoU 0.50025 > 0.5: suppressed
    let exact = BBox::new(0.0, 0.0, 20.0, 10.0); // IoU exactly 0.5: kept (strict >)
    let below = BBox::new(0.0, 0.0, 20.01, 10.0); // IoU 0.49975 < 0.5: kept
    assert!(iou(&a, &above) > 0.5);
    assert_eq!(iou(&a, &exact), 0.5);
    assert!(iou(&a, &below) < 0.5);
    assert_eq!(nms(&[a, above], &[0.9, 0.8], 0.5).unwrap(), vec![0]);
    assert_eq!(nms(&[a, exact], &[0.9, 0.8], 0.5).unwrap(), vec![0, 1]);
    assert_eq!(nms(&[a, below], &[0.9, 0.8], 0.5).unwrap(), vec![0, 1]);
    // The lower-scored box never suppresses the higher one.
    assert_eq!(nms(&[above, a], &[0.8, 0.9], 0.5).unwrap(), vec![1]);
}

#[test]
fn typed_errors_for_bad_inputs() {
    let b = [BBox::new(0.0, 0.0, 1.0, 1.0); 2];
    assert_eq!(
        nms(&b, &[0.5, f32::NAN], 0.5)
            .map_err(|e| matches!(e, Error::NonFiniteScore { index: 1, .. })),
        Err(true)
    );
    assert_eq!(
        nms(&[BBox::new(0.0, f32::NEG_INFINITY, 1.0, 1.0)], &[0.5], 0.5),
        Err(Error::NonFiniteCoordinate {
            index: 0,
            coordinate: 1,
            value: f32::NEG_INFINITY
        })
    );
    assert_eq!(
        nms(&b, &[0.5], 0.5),
        Err(Error::LengthMismatch {
            what: Input::Scores,
            boxes: 2,
            found: 1
        })
    );
    assert_eq!(
        nms(&b, &[0.5, 0.4], 1.01),
        Err(Error::IouThreshold { value: 1.01 })
    );
    assert_eq!(
        Nms::new(0.5).run_soft(&b, &[0.5, 0.4], SoftNms::Gaussian { sigma: -1.0 }),
        Err(Error::Sigma { value: -1.0 })
    );
    // Empty input is fine.
    assert_eq!(nms(&[], &[], 0.5).unwrap(), Vec::<usize>::new());
}

//! Properties of NMS: agreement with a naive reference, permutation invariance,
//! idempotence, the IoU bound on kept pairs, and batched = per-class.

mod common;

use common::{clustered, identity, permutation, reference_nms, reference_order};
use lockstep_postprocess::{iou, Algorithm, BBox, ClassId, Nms, SoftNms, TieBreak};
use proptest::prelude::*;

fn threshold() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), Just(0.5), 0.0f64..=1.0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_path_equals_the_naive_reference(seed in any::<u64>(), n in 0usize..400, levels in 0u64..6, t in threshold()) {
        let (boxes, scores, _) = clustered(seed, n, levels);
        let expected = reference_nms(&boxes, &scores, t);
        for algorithm in [Algorithm::Auto, Algorithm::Quadratic, Algorithm::Grid] {
            let got = Nms::new(t).with_algorithm(algorithm).run(&boxes, &scores).unwrap();
            prop_assert_eq!(&got, &expected, "{:?}", algorithm);
        }
    }

    #[test]
    fn permuting_the_input_changes_only_the_indices(seed in any::<u64>(), n in 0usize..300, levels in 0u64..4, t in threshold()) {
        let (boxes, scores, classes) = clustered(seed, n, levels);
        let p = permutation(seed, n);
        let pb: Vec<_> = p.iter().map(|&i| boxes[i]).collect();
        let ps: Vec<_> = p.iter().map(|&i| scores[i]).collect();
        let pc: Vec<_> = p.iter().map(|&i| classes[i]).collect();
        let cfg = Nms::new(t).with_score_threshold(0.1).with_max_output(50);
        let a = cfg.run(&boxes, &scores).unwrap();
        let b = cfg.run(&pb, &ps).unwrap();
        prop_assert_eq!(identity(&boxes, &scores, &a), identity(&pb, &ps, &b));
        let a = cfg.clone().with_score_quantum(0.01).run(&boxes, &scores).unwrap();
        let b = cfg.clone().with_score_quantum(0.01).run(&pb, &ps).unwrap();
        prop_assert_eq!(identity(&boxes, &scores, &a), identity(&pb, &ps, &b));
        let a = cfg.run_batched(&boxes, &scores, &classes).unwrap();
        let b = cfg.run_batched(&pb, &ps, &pc).unwrap();
        prop_assert_eq!(identity(&boxes, &scores, &a), identity(&pb, &ps, &b));
        let soft = SoftNms::Gaussian { sigma: 0.5 };
        let a = cfg.run_soft(&boxes, &scores, soft).unwrap();
        let b = cfg.run_soft(&pb, &ps, soft).unwrap();
        prop_assert_eq!(identity(&boxes, &scores, &a.indices), identity(&pb, &ps, &b.indices));
        prop_assert_eq!(
            a.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>(),
            b.scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn nms_is_idempotent_and_kept_pairs_overlap_at_most_t(seed in any::<u64>(), n in 0usize..300, levels in 0u64..4, t in threshold()) {
        let (boxes, scores, _) = clustered(seed, n, levels);
        let kept = Nms::new(t).run(&boxes, &scores).unwrap();
        for (a, &i) in kept.iter().enumerate() {
            for &j in &kept[a + 1..] {
                prop_assert!(f64::from(iou(&boxes[i], &boxes[j])) <= t);
            }
        }
        let kb: Vec<_> = kept.iter().map(|&i| boxes[i]).collect();
        let ks: Vec<_> = kept.iter().map(|&i| scores[i]).collect();
        let again = Nms::new(t).run(&kb, &ks).unwrap();
        prop_assert_eq!(again, (0..kept.len()).collect::<Vec<_>>());
    }

    #[test]
    fn batched_equals_per_class_nms_merged(seed in any::<u64>(), n in 0usize..300, levels in 0u64..4, t in threshold()) {
        let (boxes, scores, classes) = clustered(seed, n, levels);
        let got = Nms::new(t).run_batched(&boxes, &scores, &classes).unwrap();
        let mut merged = Vec::new();
        for class in (0..3).map(ClassId) {
            let members: Vec<usize> = (0..n).filter(|&i| classes[i] == class).collect();
            let cb: Vec<_> = members.iter().map(|&i| boxes[i]).collect();
            let cs: Vec<_> = members.iter().map(|&i| scores[i]).collect();
            merged.extend(reference_nms(&cb, &cs, t).into_iter().map(|k| members[k]));
        }
        let rank = reference_order(&boxes, &scores, &classes);
        let mut position = vec![0; n];
        for (r, &i) in rank.iter().enumerate() {
            position[i] = r;
        }
        merged.sort_by_key(|&i| position[i]);
        prop_assert_eq!(got, merged);
    }

    #[test]
    fn lower_index_tie_break_matches_a_stable_sort(seed in any::<u64>(), n in 0usize..200, t in threshold()) {
        let (boxes, scores, _) = clustered(seed, n, 3);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut kept: Vec<usize> = Vec::new();
        for i in order {
            if kept.iter().all(|&k| f64::from(iou(&boxes[k], &boxes[i])) <= t) {
                kept.push(i);
            }
        }
        let got = Nms::new(t).with_tie_break(TieBreak::LowerIndex).run(&boxes, &scores).unwrap();
        prop_assert_eq!(got, kept);
    }

    #[test]
    fn soft_nms_never_raises_a_score_and_selects_each_box_once(seed in any::<u64>(), n in 0usize..150, sigma in 0.01f32..2.0) {
        let (boxes, scores, _) = clustered(seed, n, 0);
        let out = Nms::new(0.5).with_score_threshold(0.001).run_soft(&boxes, &scores, SoftNms::Gaussian { sigma }).unwrap();
        let mut seen = vec![false; n];
        for (&i, &s) in out.indices.iter().zip(&out.scores) {
            prop_assert!(!seen[i]);
            seen[i] = true;
            prop_assert!(s <= scores[i] && s > 0.001);
        }
        let lin = Nms::new(0.5).with_score_threshold(0.001).run_soft(&boxes, &scores, SoftNms::Linear).unwrap();
        for (&i, &s) in lin.indices.iter().zip(&lin.scores) {
            prop_assert!(s <= scores[i] && s > 0.001);
        }
    }

    /// Defect 6 of issue 10: every accepted sigma (subnormal, tiny, huge) and threshold
    /// terminates, and a box that overlaps nothing keeps its exact score.
    #[test]
    fn soft_nms_terminates_and_leaves_isolated_boxes_alone(
        seed in any::<u64>(),
        n in 0usize..60,
        sigma in prop_oneof![
            (1u32..0x0080_0000).prop_map(f32::from_bits), // subnormal
            Just(f32::MIN_POSITIVE),
            1e-38f32..1e-30,
            0.01f32..2.0,
            Just(f32::MAX),
        ],
        threshold in prop_oneof![Just(None), Just(Some(0.0f32)), Just(Some(f32::MIN_POSITIVE)), Just(Some(f32::NEG_INFINITY))],
        linear in any::<bool>(),
    ) {
        let (mut boxes, mut scores, _) = clustered(seed, n, 0);
        // A box far from every other one, so its IoU with each is 0.
        boxes.push(BBox::new(1e6, 1e6, 1e6 + 1.0, 1e6 + 1.0));
        scores.push(0.25);
        let mut cfg = Nms::new(0.5);
        if let Some(t) = threshold {
            cfg = cfg.with_score_threshold(t);
        }
        let method = if linear { SoftNms::Linear } else { SoftNms::Gaussian { sigma } };
        let out = cfg.run_soft(&boxes, &scores, method).unwrap();
        let mut seen = vec![false; boxes.len()];
        for (&i, &s) in out.indices.iter().zip(&out.scores) {
            prop_assert!(!seen[i]);
            seen[i] = true;
            prop_assert!(s.is_finite() && s <= scores[i]);
        }
        let isolated = boxes.len() - 1;
        let at = out.indices.iter().position(|&i| i == isolated);
        prop_assert!(at.is_some(), "the isolated box was dropped");
        prop_assert_eq!(out.scores[at.unwrap_or(0)].to_bits(), 0.25f32.to_bits());
    }
}

//! Test data from the seed tree, and an independent naive reference NMS.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::num::NonZeroU64;

use lockstep_postprocess::{iou, normalize, BBox, ClassId};
use lockstep_seeding::SeedTree;

/// `n` boxes clustered around a few objects (so NMS has work to do), some with flipped
/// corners, some degenerate; scores drawn from `levels` distinct values when `levels`
/// is small (forcing ties), else continuous.
pub fn clustered(seed: u64, n: usize, levels: u64) -> (Vec<BBox>, Vec<f32>, Vec<ClassId>) {
    let node = SeedTree::from_u64(seed).child("clustered");
    let mut rng = node.rng();
    let objects = 1 + (n as u64) / 8;
    let centres: Vec<(f32, f32, f32)> = (0..objects)
        .map(|_| {
            let x = rng.uniform_f32(-50.0, 150.0).unwrap();
            let y = rng.uniform_f32(-50.0, 150.0).unwrap();
            let s = rng.uniform_f32(2.0, 40.0).unwrap();
            (x, y, s)
        })
        .collect();
    let mut boxes = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut classes = Vec::with_capacity(n);
    for _ in 0..n {
        let j = rng.below(NonZeroU64::new(objects).unwrap()) as usize;
        let (x, y, s) = centres[j];
        let jitter = |r: &mut lockstep_seeding::SeedRng| r.uniform_f32(-0.3, 0.3).unwrap() * s;
        let x1 = x + jitter(&mut rng);
        let y1 = y + jitter(&mut rng);
        let x2 = x + s + jitter(&mut rng);
        let y2 = y + s + jitter(&mut rng);
        let mut b = BBox::new(x1, y1, x2, y2);
        match rng.below(NonZeroU64::new(16).unwrap()) {
            0 => b = BBox::new(x2, y2, x1, y1), // flipped corners
            1 => b = BBox::new(x1, y1, x1, y2), // zero width
            2 if !boxes.is_empty() => b = boxes[boxes.len() - 1], // exact duplicate
            _ => {}
        }
        boxes.push(b);
        let score = if levels > 0 {
            rng.below(NonZeroU64::new(levels).unwrap()) as f32 / levels as f32
        } else {
            rng.unit_f32()
        };
        scores.push(score);
        classes.push(ClassId(rng.below(NonZeroU64::new(3).unwrap()) as u32));
    }
    (boxes, scores, classes)
}

/// A seeded permutation of `0..n` (Fisher–Yates over u64 draws).
pub fn permutation(seed: u64, n: usize) -> Vec<usize> {
    let mut rng = SeedTree::from_u64(seed).child("perm").rng();
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.below(NonZeroU64::new(i as u64 + 1).unwrap()) as usize;
        p.swap(i, j);
    }
    p
}

/// The canonical order written out independently of the library.
pub fn reference_order(boxes: &[BBox], scores: &[f32], classes: &[ClassId]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| {
        let (na, nb) = (
            normalize(boxes[a]).to_array(),
            normalize(boxes[b]).to_array(),
        );
        let sa = f64::from(scores[a]) + 0.0;
        let sb = f64::from(scores[b]) + 0.0;
        sb.total_cmp(&sa)
            .then_with(|| {
                (0..4)
                    .map(|k| na[k].total_cmp(&nb[k]))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or(Ordering::Equal)
            })
            .then(classes[a].cmp(&classes[b]))
            .then((scores[b] + 0.0).total_cmp(&(scores[a] + 0.0)))
            .then(a.cmp(&b))
    });
    order
}

/// Textbook greedy NMS: visit in order, keep a box unless a kept box overlaps it with
/// IoU > t. O(n^2).
pub fn reference_nms(boxes: &[BBox], scores: &[f32], t: f64) -> Vec<usize> {
    let classes = vec![ClassId(0); boxes.len()];
    let mut kept: Vec<usize> = Vec::new();
    for i in reference_order(boxes, scores, &classes) {
        if kept
            .iter()
            .all(|&k| f64::from(iou(&boxes[k], &boxes[i])) <= t)
        {
            kept.push(i);
        }
    }
    kept
}

/// The (box bits, score bits) of the given indices, to compare results across permutations.
pub fn identity(boxes: &[BBox], scores: &[f32], idx: &[usize]) -> Vec<([u32; 4], u32)> {
    idx.iter()
        .map(|&i| {
            (
                normalize(boxes[i]).to_array().map(f32::to_bits),
                scores[i].to_bits(),
            )
        })
        .collect()
}

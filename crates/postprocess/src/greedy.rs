//! Greedy hard NMS over candidates already in NMS order: a quadratic reference path and
//! a spatial-grid path that returns exactly the same selection.
//!
//! Greedy NMS keeps a candidate if and only if no previously *kept* candidate has
//! `IoU > threshold` with it. A kept box can suppress a candidate only if their
//! intersection has positive area, so the grid path compares each candidate only with
//! the kept boxes that share a grid cell with it. Cell indices are computed by a
//! monotone function of the coordinate (`floor((x - x0) * scale)`, clamped), so two boxes
//! that overlap always share the cell of the overlap's lower-left corner; and the IoU is
//! computed by the same function in both paths. Hence the two paths agree bit for bit.

use lockstep_core::BBox;
use serde::{Deserialize, Serialize};

use crate::boxes::{area, iou_normalized};
use crate::order::Candidate;

/// Which implementation of greedy hard NMS to use. All return the same indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// The grid above 128 candidates, the quadratic loop up to 128.
    #[default]
    Auto,
    /// Compare each kept box with every later candidate: O(n · kept).
    Quadratic,
    /// Compare each candidate only with the kept boxes in the grid cells it covers.
    Grid,
}

/// With [`Algorithm::Auto`], inputs with more candidates than this use the grid.
/// A tuning choice, not part of the API: both paths give the same result.
pub(crate) const AUTO_GRID_MIN: usize = 128;

/// A box covering more cells than this is handled as "large": it is checked against
/// all kept boxes (as a candidate) or against every candidate (as a kept box).
const MAX_CELLS_PER_BOX: usize = 64;

/// Greedy NMS over `c`, which must be sorted in NMS order. Returns positions into `c`.
pub(crate) fn greedy(
    c: &[Candidate],
    threshold: f64,
    max_output: usize,
    algorithm: Algorithm,
) -> Vec<usize> {
    if max_output == 0 || c.is_empty() {
        return Vec::new();
    }
    let areas: Vec<f32> = c.iter().map(|c| area(&c.bbox)).collect();
    let use_grid = match algorithm {
        Algorithm::Auto => c.len() > AUTO_GRID_MIN,
        Algorithm::Quadratic => false,
        Algorithm::Grid => true,
    };
    if use_grid {
        grid_greedy(c, &areas, threshold, max_output)
    } else {
        quadratic_greedy(c, &areas, threshold, max_output)
    }
}

#[inline]
fn overlaps_too_much(a: &BBox, area_a: f32, b: &BBox, area_b: f32, threshold: f64) -> bool {
    f64::from(iou_normalized(a, area_a, b, area_b)) > threshold
}

fn quadratic_greedy(
    c: &[Candidate],
    areas: &[f32],
    threshold: f64,
    max_output: usize,
) -> Vec<usize> {
    let mut suppressed = vec![false; c.len()];
    let mut keep = Vec::new();
    for (i, (ci, &ai)) in c.iter().zip(areas).enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        if keep.len() >= max_output {
            break;
        }
        if ai <= 0.0 {
            continue;
        }
        let later = c.iter().zip(areas).zip(suppressed.iter_mut()).skip(i + 1);
        for ((cj, &aj), s) in later {
            if !*s && overlaps_too_much(&ci.bbox, ai, &cj.bbox, aj, threshold) {
                *s = true;
            }
        }
    }
    keep
}

/// A uniform grid over the extent of the candidates, cells about one mean box in size.
struct Grid {
    x0: f64,
    y0: f64,
    sx: f64,
    sy: f64,
    gx: usize,
    gy: usize,
}

/// The inclusive cell range `[cx0, cx1] x [cy0, cy1]` a box covers.
#[derive(Clone, Copy)]
struct Span {
    cx0: usize,
    cy0: usize,
    cx1: usize,
    cy1: usize,
}

impl Span {
    fn cells(&self) -> usize {
        (self.cx1 - self.cx0 + 1) * (self.cy1 - self.cy0 + 1)
    }
}

impl Grid {
    fn new(c: &[Candidate], areas: &[f32]) -> Self {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        let (mut sum_w, mut sum_h, mut count) = (0.0f64, 0.0f64, 0u64);
        for (cand, &a) in c.iter().zip(areas) {
            let b = cand.bbox.to_array().map(f64::from);
            x0 = x0.min(b[0]);
            y0 = y0.min(b[1]);
            x1 = x1.max(b[2]);
            y1 = y1.max(b[3]);
            if a > 0.0 {
                sum_w += b[2] - b[0];
                sum_h += b[3] - b[1];
                count += 1;
            }
        }
        let axis = |extent: f64, sum: f64| -> usize {
            // Coordinates are finite, so extent and sum are too.
            if count == 0 || extent <= 0.0 || sum <= 0.0 {
                return 1;
            }
            let mean = sum / count as f64;
            (extent / mean).ceil().clamp(1.0, 4096.0) as usize
        };
        let (mut gx, mut gy) = (axis(x1 - x0, sum_w), axis(y1 - y0, sum_h));
        // Keep the cell count proportional to the input.
        let budget = c.len().saturating_mul(2).max(16);
        while gx.saturating_mul(gy) > budget {
            gx = gx.div_ceil(2);
            gy = gy.div_ceil(2);
        }
        let scale = |g: usize, extent: f64| if extent > 0.0 { g as f64 / extent } else { 0.0 };
        Self {
            x0,
            y0,
            sx: scale(gx, x1 - x0),
            sy: scale(gy, y1 - y0),
            gx,
            gy,
        }
    }

    /// Monotone non-decreasing in `v`, which is what makes the grid path exact.
    fn cell(v: f32, origin: f64, scale: f64, g: usize) -> usize {
        let t = ((f64::from(v) - origin) * scale).floor();
        t.clamp(0.0, (g - 1) as f64) as usize
    }

    fn span(&self, b: &BBox) -> Span {
        Span {
            cx0: Self::cell(b.x1, self.x0, self.sx, self.gx),
            cy0: Self::cell(b.y1, self.y0, self.sy, self.gy),
            cx1: Self::cell(b.x2, self.x0, self.sx, self.gx),
            cy1: Self::cell(b.y2, self.y0, self.sy, self.gy),
        }
    }
}

fn grid_greedy(c: &[Candidate], areas: &[f32], threshold: f64, max_output: usize) -> Vec<usize> {
    let grid = Grid::new(c, areas);
    let mut cells: Vec<Vec<usize>> = vec![Vec::new(); grid.gx * grid.gy];
    // Kept boxes covering many cells, checked against every candidate.
    let mut large: Vec<usize> = Vec::new();
    // Kept boxes with positive area, for candidates that cover many cells.
    let mut kept_with_area: Vec<usize> = Vec::new();
    // `seen[k] == i` once kept box k has been compared with candidate i.
    let mut seen: Vec<usize> = vec![usize::MAX; c.len()];
    let mut keep = Vec::new();
    for (i, (ci, &ai)) in c.iter().zip(areas).enumerate() {
        // Zero-area boxes have IoU 0 with everything: never suppressed, never suppress.
        let span = (ai > 0.0).then(|| grid.span(&ci.bbox));
        if let Some(span) = span {
            let hit = |k: usize| {
                let (ck, ak) = (&c[k], areas[k]);
                overlaps_too_much(&ck.bbox, ak, &ci.bbox, ai, threshold)
            };
            let suppressed = if span.cells() > MAX_CELLS_PER_BOX {
                kept_with_area.iter().any(|&k| hit(k))
            } else {
                let mut found = large.iter().any(|&k| hit(k));
                'cells: for cy in span.cy0..=span.cy1 {
                    if found {
                        break;
                    }
                    for cell in &cells[cy * grid.gx + span.cx0..=cy * grid.gx + span.cx1] {
                        for &k in cell {
                            if seen[k] != i {
                                seen[k] = i;
                                if hit(k) {
                                    found = true;
                                    break 'cells;
                                }
                            }
                        }
                    }
                }
                found
            };
            if suppressed {
                continue;
            }
        }
        keep.push(i);
        if keep.len() >= max_output {
            break;
        }
        if let Some(span) = span {
            kept_with_area.push(i);
            if span.cells() > MAX_CELLS_PER_BOX {
                large.push(i);
            } else {
                for cy in span.cy0..=span.cy1 {
                    for cell in &mut cells[cy * grid.gx + span.cx0..=cy * grid.gx + span.cx1] {
                        cell.push(i);
                    }
                }
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{score_key, sort_candidates, TieBreak};
    use lockstep_core::ClassId;

    fn cands(boxes: &[[f32; 4]]) -> Vec<Candidate> {
        let mut c: Vec<Candidate> = boxes
            .iter()
            .enumerate()
            .map(|(index, &bbox)| {
                let score = 1.0 - index as f32 / 1000.0;
                Candidate {
                    index,
                    score,
                    key: score_key(score, None),
                    bbox: BBox::from(bbox),
                    class: ClassId(0),
                }
            })
            .collect();
        sort_candidates(&mut c, TieBreak::Canonical);
        c
    }

    #[test]
    fn both_paths_agree_on_a_chain_of_overlaps() {
        // Each box overlaps the next by 60%: greedy keeps every other one.
        let boxes: Vec<[f32; 4]> = (0..300)
            .map(|i| [i as f32 * 0.4, 0.0, i as f32 * 0.4 + 1.0, 1.0])
            .collect();
        let c = cands(&boxes);
        let q = greedy(&c, 0.3, usize::MAX, Algorithm::Quadratic);
        let g = greedy(&c, 0.3, usize::MAX, Algorithm::Grid);
        assert_eq!(q, g);
        assert_eq!(q.len(), 150);
        assert_eq!(&q[..3], &[0, 2, 4]);
    }

    #[test]
    fn large_boxes_take_the_large_path_and_still_agree() {
        let mut boxes: Vec<[f32; 4]> = (0..200)
            .map(|i| {
                let (x, y) = ((i % 20) as f32, (i / 20) as f32);
                [x, y, x + 1.0, y + 1.0]
            })
            .collect();
        boxes.insert(0, [0.0, 0.0, 20.0, 10.0]);
        boxes.push([0.0, 0.0, 0.0, 5.0]);
        let c = cands(&boxes);
        for t in [0.0, 0.001, 0.5] {
            assert_eq!(
                greedy(&c, t, usize::MAX, Algorithm::Quadratic),
                greedy(&c, t, usize::MAX, Algorithm::Grid)
            );
        }
        // At threshold 0 the big box (first) suppresses every unit box it touches.
        let kept = greedy(&c, 0.0, usize::MAX, Algorithm::Grid);
        assert_eq!(kept, vec![0, 201]);
    }

    #[test]
    fn max_output_stops_early() {
        let boxes: Vec<[f32; 4]> = (0..10)
            .map(|i| [i as f32 * 2.0, 0.0, i as f32 * 2.0 + 1.0, 1.0])
            .collect();
        let c = cands(&boxes);
        assert_eq!(greedy(&c, 0.5, 3, Algorithm::Grid), vec![0, 1, 2]);
        assert_eq!(
            greedy(&c, 0.5, 0, Algorithm::Quadratic),
            Vec::<usize>::new()
        );
    }
}

//! The loss curves of the suite's runs, overlaid in one SVG, with a step marked when
//! there is one to mark (where a control perturbed the run).

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};

/// One curve: a name and the loss of each step.
#[derive(Debug, Clone)]
pub(crate) struct Curve {
    /// The run's name in the legend.
    pub(crate) name: String,
    /// The loss per step, step 0 first.
    pub(crate) losses: Vec<f64>,
}

impl Curve {
    /// A curve of `f32` losses, widened.
    pub(crate) fn of(name: &str, losses: &[f32]) -> Self {
        Self {
            name: name.into(),
            losses: losses.iter().map(|&l| f64::from(l)).collect(),
        }
    }
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws `curves` into an SVG at `path`; `marker` draws a vertical line at a step, with
/// its legend text.
pub(crate) fn loss_curves(
    path: &Path,
    title: &str,
    curves: &[Curve],
    marker: Option<(usize, String)>,
) -> Result<()> {
    let plot_error = |e: Box<dyn std::error::Error + Send + Sync>| Error::Plot {
        path: path.to_path_buf(),
        source: e,
    };
    let steps = curves
        .iter()
        .map(|c| c.losses.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let finite = curves
        .iter()
        .flat_map(|c| c.losses.iter().copied())
        .filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low.is_finite() && high > low {
        (low, high)
    } else {
        (0.0, 1.0)
    };
    let pad = (high - low) * 0.05;
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(e.into()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0usize..steps, (low - pad)..(high + pad))
        .map_err(|e| plot_error(e.into()))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss")
        .draw()
        .map_err(|e| plot_error(e.into()))?;
    for (k, curve) in curves.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        // Later curves are dashed-looking (thinner) so identical curves stay visible.
        let width = if k == 0 { 4 } else { 2 };
        chart
            .draw_series(LineSeries::new(
                curve
                    .losses
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| (i, *v)),
                colour.stroke_width(width),
            ))
            .map_err(|e| plot_error(e.into()))?
            .label(curve.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
    }
    if let Some((step, text)) = marker {
        chart
            .draw_series(LineSeries::new(
                vec![(step, low - pad), (step, high + pad)],
                RED.stroke_width(2),
            ))
            .map_err(|e| plot_error(e.into()))?
            .label(text)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_error(e.into()))?;
    root.present().map_err(|e| plot_error(e.into()))?;
    Ok(())
}

//! Calibration (reliability) diagram for binary classification with any number of inputs: the
//! observed frequency of class 1 against the mean predicted p(y = 1) in equal-width bins.

use super::legend::draw_legend;
use super::{render, Figure, AXIS_NAME_FONT, TICK_FONT};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::tabular::predict;
use crate::tabular::SavedModel;
use nalgebra::{DMatrix, DVector};
use plotters::prelude::*;
use std::path::Path;

/// One bin of the diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bin {
    /// Mean predicted probability of the points in the bin.
    predicted: f64,
    /// Fraction of them with y = 1.
    observed: f64,
    /// Number of points.
    count: usize,
}

/// Splits [0, 1] into `bins` equal bins and returns the non-empty ones in order
/// (p = 1 falls in the last bin).
fn reliability_bins(p: &[f64], y: &[f64], bins: usize) -> Vec<Bin> {
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for (&pi, &yi) in p.iter().zip(y) {
        let k = ((pi * bins as f64) as usize).min(bins - 1);
        sums[k].0 += pi;
        sums[k].1 += yi;
        sums[k].2 += 1;
    }
    sums.into_iter()
        .filter(|s| s.2 > 0)
        .map(|(sp, sy, n)| Bin {
            predicted: sp / n as f64,
            observed: sy / n as f64,
            count: n,
        })
        .collect()
}

/// The legend entry of the diagonal.
const DIAGONAL: &str = "perfect calibration";

/// The legend entry of the model's line.
const MODEL: &str = "model (marker size grows with the points in the bin)";

struct Calibration {
    bins: Vec<Bin>,
}

impl Figure for Calibration {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> std::result::Result<(), String> {
        let err = |x: &dyn std::fmt::Debug| format!("{x:?}");
        root.fill(&WHITE).map_err(|x| err(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "calibration: observed frequency vs predicted p(y = 1)",
                ("sans-serif", 24),
            )
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(|x| err(&x))?;
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .x_desc("mean predicted p(y = 1) in the bin")
            .y_desc("observed fraction with y = 1")
            .draw()
            .map_err(|x| err(&x))?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.5)))
            .map_err(|x| err(&x))?
            .label(DIAGONAL)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5)));
        chart
            .draw_series(LineSeries::new(
                self.bins.iter().map(|b| (b.predicted, b.observed)),
                BLUE.stroke_width(2),
            ))
            .map_err(|x| err(&x))?
            .label(MODEL)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        let largest = self.bins.iter().map(|b| b.count).max().unwrap_or(1) as f64;
        chart
            .draw_series(self.bins.iter().map(|b| {
                let radius = 3.0 + 9.0 * (b.count as f64 / largest).sqrt();
                Circle::new((b.predicted, b.observed), radius as i32, BLUE.filled())
            }))
            .map_err(|x| err(&x))?;
        let bins: Vec<(f64, f64)> = self
            .bins
            .iter()
            .map(|b| (b.predicted, b.observed))
            .collect();
        let paths = [vec![(0.0, 0.0), (1.0, 1.0)], bins];
        draw_legend(&mut chart, &paths, &[DIAGONAL, MODEL])?;
        root.present().map_err(|x| err(&x))
    }
}

/// Binary classification, any number of inputs: the reliability diagram of the model on raw
/// inputs `x` (N×D, the model's feature columns) and labels `y` (N, each 0 or 1), with `bins`
/// equal-width probability bins (≥ 1), the diagonal, and markers sized by the bin's count.
///
/// # Errors
/// `ShapeMismatch` for inconsistent shapes; `InvalidParameter` for `bins` = 0 or a model whose
/// likelihood is not binary; `InvalidTarget` naming the row of a label other than 0 and 1;
/// `Plot`; model errors.
pub fn calibration(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    bins: usize,
) -> Result<()> {
    check_shape(
        "calibration labels",
        Shape::new(x.nrows(), 1),
        Shape::new(y.len(), 1),
    )?;
    let invalid = |name: &str, value: f64, reason| SvgpError::InvalidParameter {
        name: name.into(),
        value,
        reason,
    };
    if bins == 0 {
        return Err(invalid("bins", 0.0, "must be at least 1"));
    }
    if saved.model.likelihood().num_classes() != Some(2) {
        return Err(invalid(
            "likelihood",
            f64::NAN,
            "a calibration plot needs a binary-classification model",
        ));
    }
    saved.model.likelihood().check_targets(y)?;
    let (p, _) = predict(saved, x)?;
    let figure = Calibration {
        bins: reliability_bins(p.as_slice(), y.as_slice(), bins),
    };
    render(path.as_ref(), &figure)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bins by hand: 0.05 and 0.15 fall in bins 0 and 1 of 10, p = 1 in the last bin, empty bins
    /// are dropped, and each bin's means are the plain averages.
    #[test]
    fn bins_hold_the_plain_averages() {
        let p = [0.05, 0.07, 0.15, 1.0, 0.95];
        let y = [0.0, 1.0, 0.0, 1.0, 1.0];
        let bins = reliability_bins(&p, &y, 10);
        assert_eq!(bins.len(), 3);
        assert_eq!(bins[0].count, 2);
        assert!((bins[0].predicted - 0.06).abs() < 1e-15);
        assert!((bins[0].observed - 0.5).abs() < 1e-15);
        assert_eq!(bins[1].count, 1);
        assert_eq!(bins[2].count, 2);
        assert!((bins[2].predicted - 0.975).abs() < 1e-15);
        assert_eq!(bins[2].observed, 1.0);
    }

    /// The figure is not blank, and a miscalibrated bin at (0.1, 0.9) puts more of the model's
    /// blue in the upper-left quarter of the plot than one at (0.9, 0.1) does (whose legend,
    /// with a short blue line, moves there): the drawing follows the bins.
    #[test]
    fn diagram_is_drawn_where_the_bins_are() {
        let (w, h) = (super::super::SIZE.0 as usize, super::super::SIZE.1 as usize);
        let upper_left_ink = |predicted: f64, observed: f64| {
            let figure = Calibration {
                bins: vec![Bin {
                    predicted,
                    observed,
                    count: 50,
                }],
            };
            let pixels = super::super::render_to_buffer(&figure);
            let inked = |x0: usize, x1: usize, y0: usize, y1: usize, ink: Option<[u8; 3]>| {
                (y0..y1)
                    .flat_map(|r| (x0..x1).map(move |c| 3 * (r * w + c)))
                    .filter(|&k| match ink {
                        Some(colour) => pixels[k..k + 3] == colour,
                        None => pixels[k..k + 3] != [255, 255, 255],
                    })
                    .count()
            };
            let total = inked(0, w, 0, h, None);
            assert!(total > 10_000, "{total}");
            inked(w / 8, w / 3, h / 8, h / 3, Some([BLUE.0, BLUE.1, BLUE.2]))
        };
        let (near, far) = (upper_left_ink(0.1, 0.9), upper_left_ink(0.9, 0.1));
        // the marker of 50 points has radius 12 px: about 450 px of blue
        assert!(near > far + 300, "{near} vs {far}");
    }
}

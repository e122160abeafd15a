//! Plots of a fitted model against its data, in the data's original units.

use super::legend::{class_labels, draw_legend};
use super::ticks::tick_label;
use super::{err, padded_range, render, Drawn, Figure, AXIS_NAME_FONT, TICK_FONT};
use crate::error::{check_shape, Result, Shape};
use crate::tabular::predict;
use crate::tabular::SavedModel;
use nalgebra::{DMatrix, DVector};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// `ShapeMismatch` unless both the model and `x` have exactly `d` input columns.
pub(super) fn check_inputs(
    what: &'static str,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    d: usize,
) -> Result<()> {
    check_shape(
        what,
        Shape::new(x.nrows(), d),
        Shape::new(x.nrows(), saved.feature_names.len()),
    )?;
    check_shape(
        what,
        Shape::new(x.nrows(), d),
        Shape::new(x.nrows(), x.ncols()),
    )
}

/// Inducing inputs in the data's original units (M×D).
pub(super) fn inducing_inputs(saved: &SavedModel) -> DMatrix<f64> {
    let z = saved.model.z();
    match &saved.input_scaling {
        Some(s) => DMatrix::from_fn(z.nrows(), z.ncols(), |i, j| {
            s.mean[j] + s.scale[j] * z[(i, j)]
        }),
        None => z.clone(),
    }
}

/// The horizontal and vertical axis names of a plot of `saved` over its inputs: the two
/// feature columns for two inputs, else the first feature and the target.
pub(super) fn axis_names(saved: &SavedModel) -> (String, String) {
    let feature = |j: usize| saved.feature_names.get(j).cloned().unwrap_or_default();
    match saved.feature_names.len() {
        2 => (feature(0), feature(1)),
        _ => (feature(0), saved.target_name.clone()),
    }
}

/// One panel of a 1-D fit: data, mean, ±2σ bands of f and y, inducing inputs.
pub(super) struct Fit1d {
    caption: String,
    /// The horizontal and vertical axis names (the feature and the target column).
    axes: (String, String),
    x: Vec<f64>,
    y: Vec<f64>,
    grid: Vec<f64>,
    mean: Vec<f64>,
    sd_f: Vec<f64>,
    sd_y: Vec<f64>,
    z: Vec<f64>,
}

impl Fit1d {
    /// mean + k·sd at each grid point.
    fn band(&self, k: f64, sd: &[f64]) -> Vec<f64> {
        self.mean.iter().zip(sd).map(|(m, s)| m + k * s).collect()
    }

    /// The ±2σ bands of y and f, as filled polygons with legend entries.
    fn draw_bands<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ) -> Drawn {
        for (sd, colour, label) in [
            (&self.sd_y, BLUE.mix(0.12), "y ± 2σ"),
            (&self.sd_f, BLUE.mix(0.3), "f ± 2σ"),
        ] {
            let upper = self.band(2.0, sd);
            let lower = self.band(-2.0, sd);
            let polygon: Vec<(f64, f64)> = self
                .grid
                .iter()
                .copied()
                .zip(upper)
                .chain(self.grid.iter().copied().zip(lower).rev())
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(polygon, colour.filled())))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], colour.filled())
                });
        }
        Ok(())
    }
}

impl Fit1d {
    /// The padded range of the data and of the ±2σ band of y.
    pub(super) fn y_range(&self) -> (f64, f64) {
        padded_range(
            self.y
                .iter()
                .copied()
                .chain(self.band(2.0, &self.sd_y))
                .chain(self.band(-2.0, &self.sd_y)),
        )
    }

    /// Draws the panel on `area` with the vertical range `(lo, hi)`.
    pub(super) fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, plotters::coord::Shift>,
        (lo, hi): (f64, f64),
    ) -> Drawn {
        let (x0, x1) = (self.grid[0], self.grid[self.grid.len() - 1]);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.caption, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .x_desc(&self.axes.0)
            .y_desc(&self.axes.1)
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(err)?;
        self.draw_bands(&mut chart)?;
        chart
            .draw_series(LineSeries::new(
                self.grid.iter().copied().zip(self.mean.iter().copied()),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label("mean")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(
                self.x
                    .iter()
                    .zip(&self.y)
                    .map(|(&x, &y)| Circle::new((x, y), 2, BLACK.filled())),
            )
            .map_err(err)?
            .label("data")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, BLACK.filled()));
        chart
            .draw_series(
                self.z
                    .iter()
                    .map(|&z| TriangleMarker::new((z, lo), 6, RED.filled())),
            )
            .map_err(err)?
            .label("inducing inputs")
            .legend(|(x, y)| TriangleMarker::new((x + 10, y), 5, RED.filled()));
        let mut paths: Vec<Vec<(f64, f64)>> = self
            .x
            .iter()
            .zip(&self.y)
            .map(|(&x, &y)| vec![(x, y)])
            .collect();
        for k in [-2.0, 0.0, 2.0] {
            paths.push(
                self.grid
                    .iter()
                    .copied()
                    .zip(self.band(k, &self.sd_y))
                    .collect(),
            );
        }
        let labels = ["y ± 2σ", "f ± 2σ", "mean", "data", "inducing inputs"];
        draw_legend(&mut chart, &paths, &labels)
    }
}

impl Figure for Fit1d {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        self.draw_on(&root, self.y_range())?;
        root.present().map_err(err)
    }
}

/// The panel of `saved`'s fit to raw `x` (N×1) and `y`, on 300 points over x's padded range:
/// the predictive mean and variance of y, and the variance of the first latent f (in y's units).
///
/// # Errors
/// `ShapeMismatch` unless the model and `x` have one input; model errors.
pub(super) fn fit_figure(
    caption: String,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<Fit1d> {
    check_inputs("1-D fit plot", saved, x, 1)?;
    let (x0, x1) = padded_range(x.iter().copied());
    let grid: Vec<f64> = (0..300)
        .map(|i| x0 + (x1 - x0) * i as f64 / 299.0)
        .collect();
    let xg = DMatrix::from_column_slice(grid.len(), 1, &grid);
    let (mean, var_y) = predict(saved, &xg)?;
    let xs = saved
        .input_scaling
        .as_ref()
        .map_or(xg.clone(), |s| s.transform(&xg));
    let (_, var_f) = saved.model.predict_f(&xs)?;
    let scale2 = saved
        .target_scaling
        .as_ref()
        .map_or(1.0, |s| s.scale[0].powi(2));
    Ok(Fit1d {
        caption,
        axes: axis_names(saved),
        x: x.iter().copied().collect(),
        y: y.iter().copied().collect(),
        grid,
        mean: mean.column(0).iter().copied().collect(),
        sd_f: var_f
            .column(0)
            .iter()
            .map(|v| (v * scale2).sqrt())
            .collect(),
        sd_y: var_y.column(0).iter().map(|v| v.sqrt()).collect(),
        z: inducing_inputs(saved).iter().copied().collect(),
    })
}

/// A 1-D regression fit: the data, the predictive mean, ±2σ bands for f and for y, and the
/// inducing inputs on the x axis. `x` is N×1 raw inputs, `y` N raw targets.
///
/// # Errors
/// `ShapeMismatch` unless the model has one input; `Plot` for a write failure; model errors.
pub fn fit_1d(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<()> {
    let figure = fit_figure("SVGP fit".into(), saved, x, y)?;
    render(path.as_ref(), &figure)
}

/// An n×n grid of cells over the padded ranges of two input columns.
pub(super) struct Grid2d {
    /// (x range, y range) of the plot.
    pub(super) range: ((f64, f64), (f64, f64)),
    /// Cells per side.
    pub(super) n: usize,
    step: (f64, f64),
    /// Cell centres, n²×2: cell k is column k % n and row k / n, from the lower left.
    pub(super) centres: DMatrix<f64>,
}

impl Grid2d {
    /// The grid over the padded ranges of `x`'s two columns.
    pub(super) fn over(x: &DMatrix<f64>, n: usize) -> Self {
        let rx = padded_range(x.column(0).iter().copied());
        let ry = padded_range(x.column(1).iter().copied());
        let step = ((rx.1 - rx.0) / n as f64, (ry.1 - ry.0) / n as f64);
        let centres = DMatrix::from_fn(n * n, 2, |k, j| {
            if j == 0 {
                rx.0 + (k % n) as f64 * step.0 + 0.5 * step.0
            } else {
                ry.0 + (k / n) as f64 * step.1 + 0.5 * step.1
            }
        });
        Grid2d {
            range: (rx, ry),
            n,
            step,
            centres,
        }
    }

    /// Lower-left and upper-right corners of cell k.
    pub(super) fn corners(&self, k: usize) -> ((f64, f64), (f64, f64)) {
        let (cx, cy) = (self.centres[(k, 0)], self.centres[(k, 1)]);
        let (hx, hy) = (0.5 * self.step.0, 0.5 * self.step.1);
        ((cx - hx, cy - hy), (cx + hx, cy + hy))
    }
}

/// Which cells of an n×n grid (cell k at column k % n, row k / n) lie on a decision boundary:
/// those whose class differs from the cell's right or upper neighbour's.
pub(super) fn boundary_cells(class: &[usize], n: usize) -> Vec<bool> {
    (0..class.len())
        .map(|k| {
            let right = k % n + 1 < n && class[k + 1] != class[k];
            let above = k / n + 1 < n && k + n < class.len() && class[k + n] != class[k];
            right || above
        })
        .collect()
}

/// The rows of an N×2 matrix as points.
pub(super) fn points_2d(x: &DMatrix<f64>) -> Vec<(f64, f64)> {
    (0..x.nrows()).map(|i| (x[(i, 0)], x[(i, 1)])).collect()
}

/// A heat-map cell: lower-left corner, upper-right corner, p(y = 1) at its centre, and whether
/// it lies on the 0.5 boundary.
type Cell = ((f64, f64), (f64, f64), f64, bool);

struct Classification2d {
    cells: Vec<Cell>,
    points: Vec<(f64, f64, bool)>,
    z: Vec<(f64, f64)>,
    range: ((f64, f64), (f64, f64)),
    /// The horizontal and vertical axis names (the two feature columns).
    axes: (String, String),
    /// The legend entries of classes 0 and 1.
    labels: [String; 2],
}

impl Figure for Classification2d {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let ((x0, x1), (y0, y1)) = self.range;
        let mut chart = ChartBuilder::on(&root)
            .caption("p(y = 1), 0.5 boundary in black", ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .disable_mesh()
            .x_desc(&self.axes.0)
            .y_desc(&self.axes.1)
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(self.cells.iter().map(|&(a, b, p, boundary)| {
                let colour = if boundary {
                    BLACK.to_rgba()
                } else {
                    RGBColor((255.0 * p) as u8, 80, (255.0 * (1.0 - p)) as u8).mix(0.45)
                };
                Rectangle::new([a, b], colour.filled())
            }))
            .map_err(err)?;
        for (label, one, colour) in [(&self.labels[0], false, BLUE), (&self.labels[1], true, RED)] {
            let of_class = self.points.iter().filter(|p| p.2 == one);
            chart
                .draw_series(of_class.map(|&(x, y, _)| Circle::new((x, y), 3, colour.filled())))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, colour.filled()));
        }
        chart
            .draw_series(
                self.z
                    .iter()
                    .map(|&(x, y)| Cross::new((x, y), 6, BLACK.stroke_width(2))),
            )
            .map_err(err)?
            .label("inducing inputs")
            .legend(|(x, y)| Cross::new((x + 10, y), 5, BLACK.stroke_width(2)));
        let paths: Vec<Vec<(f64, f64)>> = self
            .points
            .iter()
            .map(|&(x, y, _)| vec![(x, y)])
            .chain(self.z.iter().map(|&p| vec![p]))
            .collect();
        let labels = [self.labels[0].as_str(), &self.labels[1], "inducing inputs"];
        draw_legend(&mut chart, &paths, &labels)?;
        root.present().map_err(err)
    }
}

/// Binary classification in 2-D: p(y = 1) as a heat map (blue 0 → red 1), the cells where it
/// crosses 0.5 in black, the data coloured by class with the model's class labels in the legend, the inducing
/// inputs as crosses, and the axes named after the feature columns. `x` is N×2 raw inputs.
///
/// # Errors
/// `ShapeMismatch` unless the model has two inputs and `y` one label per row; `InvalidTarget`
/// naming the row of a label outside the likelihood's domain; `Plot`; model errors.
pub fn classification_2d(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<()> {
    check_inputs("2-D classification plot", saved, x, 2)?;
    check_shape(
        "classification plot labels",
        Shape::new(x.nrows(), 1),
        Shape::new(y.len(), 1),
    )?;
    saved.model.likelihood().check_targets(y)?;
    let grid = Grid2d::over(x, 120);
    let (p, _) = predict(saved, &grid.centres)?;
    let side: Vec<usize> = p.iter().map(|&v| usize::from(v >= 0.5)).collect();
    let boundary = boundary_cells(&side, grid.n);
    let cells = (0..p.nrows())
        .map(|k| {
            let (a, b) = grid.corners(k);
            (a, b, p[k], boundary[k])
        })
        .collect();
    let figure = Classification2d {
        cells,
        points: points_2d(x)
            .into_iter()
            .zip(y.iter())
            .map(|((a, b), &c)| (a, b, c == 1.0))
            .collect(),
        z: points_2d(&inducing_inputs(saved)),
        range: grid.range,
        axes: axis_names(saved),
        labels: class_labels(saved, 2).try_into().unwrap_or_default(),
    };
    render(path.as_ref(), &figure)
}

struct PredictedObserved {
    /// (observed, predicted mean, predicted sd of y) per row.
    rows: Vec<(f64, f64, f64)>,
    /// The target columns' names.
    target: String,
}

impl Figure for PredictedObserved {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let (lo, hi) = padded_range(
            self.rows
                .iter()
                .flat_map(|&(o, m, s)| [o, m - 2.0 * s, m + 2.0 * s]),
        );
        let mut chart = ChartBuilder::on(&root)
            .caption("predicted (± 2σ of y) vs observed", ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .x_desc(format!("observed {}", self.target))
            .y_desc(format!("predicted {}", self.target))
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.5)))
            .map_err(err)?;
        chart
            .draw_series(self.rows.iter().map(|&(o, m, s)| {
                ErrorBar::new_vertical(o, m - 2.0 * s, m, m + 2.0 * s, BLUE.mix(0.4).filled(), 4)
            }))
            .map_err(err)?;
        root.present().map_err(err)
    }
}

/// Regression with any number of inputs: predicted mean with ±2σ (of y) error bars against the
/// observed targets, and the diagonal. `x` is N×D raw inputs, `y` N raw targets (N×P
/// column-major for P outputs: every output's points on the one diagonal).
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; `Plot`; model errors.
pub fn predicted_vs_observed(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<()> {
    let (mean, var) = predict(saved, x)?;
    let (mean, var) = (mean.as_slice(), var.as_slice()); // column-major, as y
    let rows = (0..y.len().min(mean.len()))
        .map(|k| (y[k], mean[k], var[k].sqrt()))
        .collect();
    let target = [saved.target_name.as_str()]
        .into_iter()
        .chain(saved.extra_targets.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(", ");
    render(path.as_ref(), &PredictedObserved { rows, target })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SquaredExponential;
    use crate::likelihood::Gaussian;
    use crate::model::Svgp;

    fn saved_1d() -> SavedModel {
        let z = DMatrix::from_column_slice(4, 1, &[-2.0, -0.5, 0.5, 2.0]);
        let model = Svgp::new(
            Box::new(SquaredExponential::new(1.0, vec![1.0]).unwrap()),
            Box::new(Gaussian::new(0.1).unwrap()),
            z,
        )
        .unwrap();
        SavedModel {
            model,
            feature_names: vec!["x".into()],
            target_name: "y".into(),
            extra_targets: Vec::new(),
            input_scaling: None,
            target_scaling: None,
            classes: None,
        }
    }

    /// Boundaries by hand on a 3×3 grid whose left column is class 0 and the rest class 1:
    /// only the left column's cells, whose right neighbours differ, are on the boundary.
    #[test]
    fn boundary_cells_are_where_the_class_changes() {
        let class = [0, 1, 1, 0, 1, 1, 0, 1, 1];
        let boundary = boundary_cells(&class, 3);
        let expected = [true, false, false, true, false, false, true, false, false];
        assert_eq!(boundary, expected);
        assert!(boundary_cells(&[1; 9], 3).iter().all(|&b| !b));
    }

    /// The 1-D fit is not blank, and its left and right halves differ (data, bands and inducing
    /// markers are placed by value, not uniformly).
    #[test]
    fn fit_plot_has_content_that_varies_across_the_figure() {
        let saved = saved_1d();
        let x = DMatrix::from_fn(30, 1, |i, _| -3.0 + 0.2 * i as f64);
        let y = DVector::from_fn(30, |i, _| (x[(i, 0)]).sin() * (1.0 + i as f64 / 10.0));
        let (x0, x1) = padded_range(x.iter().copied());
        let grid: Vec<f64> = (0..300)
            .map(|i| x0 + (x1 - x0) * i as f64 / 299.0)
            .collect();
        let figure = Fit1d {
            caption: "SVGP fit".into(),
            axes: ("x".into(), "y".into()),
            x: x.iter().copied().collect(),
            y: y.iter().copied().collect(),
            mean: grid.iter().map(|g| g.sin()).collect(),
            sd_f: vec![0.2; 300],
            sd_y: vec![0.4; 300],
            grid,
            z: vec![-2.0, 0.0, 2.0],
        };
        let pixels = super::super::render_to_buffer(&figure);
        let row = (super::super::SIZE.0 * 3) as usize;
        let half = |right: bool| -> usize {
            pixels
                .chunks(row)
                .flat_map(|r| if right { &r[row / 2..] } else { &r[..row / 2] })
                .filter(|&&v| v != 255)
                .count()
        };
        let (left, right) = (half(false), half(true));
        assert!(left > 10_000 && right > 10_000, "{left}, {right}");
        assert_ne!(left, right);
        // the public function runs end to end on the model, to a file
        let path = std::env::temp_dir().join(format!("svgp-fit-{}.svg", std::process::id()));
        fit_1d(&path, &saved, &x, &y).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5_000);
        let wrong = DMatrix::zeros(3, 2);
        assert!(fit_1d(&path, &saved, &wrong, &DVector::zeros(3)).is_err());
    }
}

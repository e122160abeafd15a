//! Plots of a C-class classifier: the 2-D map of its most probable class with the confidence
//! shown, and the confusion matrix of true against predicted classes.

use super::fit::{axis_names, boundary_cells, check_inputs, inducing_inputs, points_2d, Grid2d};
use super::legend::{class_labels, draw_legend};
use super::ticks::tick_label;
use super::{err, render, Drawn, Figure, AXIS_NAME_FONT, TICK_FONT};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::tabular::{predict, SavedModel};
use nalgebra::{DMatrix, DVector};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// A qualitative palette (Tableau 10), cycled beyond ten classes.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Colour of the decision boundaries on the map.
const BOUNDARY: RGBColor = RGBColor(30, 30, 30);

/// Class k's colour blended with white: `weight` 1 is the full colour, 0 white.
fn class_colour(k: usize, weight: f64) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    let w = weight.clamp(0.0, 1.0);
    let mix = |c: u8| (255.0 - w * (255.0 - f64::from(c))).round() as u8;
    RGBColor(mix(r), mix(g), mix(b))
}

/// The class probabilities (N×C) of a classification model at raw inputs `x`; a binary
/// model's p(y = 1) becomes the two columns 1 − p and p.
///
/// # Errors
/// `InvalidParameter { name: "likelihood" }` for a model that is not a classifier; as
/// [`predict`].
fn class_probabilities(saved: &SavedModel, x: &DMatrix<f64>, what: &str) -> Result<DMatrix<f64>> {
    if saved.model.likelihood().num_classes().is_none() {
        return Err(SvgpError::InvalidParameter {
            name: format!("likelihood ({what})"),
            value: f64::NAN,
            reason: "this plot needs a classification model",
        });
    }
    let (p, _) = predict(saved, x)?;
    Ok(match p.ncols() {
        1 => DMatrix::from_fn(p.nrows(), 2, |i, j| if j == 0 { 1.0 - p[i] } else { p[i] }),
        _ => p,
    })
}

/// The most probable class of each row of `p` and its probability (the first on ties).
fn most_probable(p: &DMatrix<f64>) -> Vec<(usize, f64)> {
    p.row_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                    if v > best.1 {
                        (k, v)
                    } else {
                        best
                    }
                })
        })
        .collect()
}

/// The colour of each grid cell: its most probable class, paler as the largest probability
/// falls from 1 towards 1/C (chance), and [`BOUNDARY`] where the class differs from the cell to
/// the right or above.
fn cell_colours(p: &DMatrix<f64>, n: usize) -> Vec<RGBColor> {
    let best = most_probable(p);
    let chance = 1.0 / p.ncols() as f64;
    let classes: Vec<usize> = best.iter().map(|b| b.0).collect();
    let boundary = boundary_cells(&classes, n);
    best.iter()
        .zip(boundary)
        .map(|(&(class, top), on_boundary)| {
            if on_boundary {
                BOUNDARY
            } else {
                class_colour(class, 0.15 + 0.6 * (top - chance) / (1.0 - chance))
            }
        })
        .collect()
}

/// A cell of the map: its lower-left and upper-right corners.
type Corners = ((f64, f64), (f64, f64));

/// The class map: coloured cells, the data by class, the inducing inputs.
struct ClassMap {
    cells: Vec<(Corners, RGBColor)>,
    points: Vec<(f64, f64, usize)>,
    z: Vec<(f64, f64)>,
    range: ((f64, f64), (f64, f64)),
    /// The class labels, in class order.
    labels: Vec<String>,
    /// The horizontal and vertical axis names (the two feature columns).
    axes: (String, String),
}

impl Figure for ClassMap {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let ((x0, x1), (y0, y1)) = self.range;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "most probable class (paler: less sure), boundaries in black",
                ("sans-serif", 24),
            )
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
            .draw_series(
                self.cells
                    .iter()
                    .map(|&((a, b), colour)| Rectangle::new([a, b], colour.filled())),
            )
            .map_err(err)?;
        for (k, label) in self.labels.iter().enumerate() {
            let colour = class_colour(k, 1.0);
            let of_class = self.points.iter().filter(|p| p.2 == k);
            chart
                .draw_series(of_class.map(|&(x, y, _)| Circle::new((x, y), 4, colour.filled())))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, colour.filled()));
        }
        let outlines = self
            .points
            .iter()
            .map(|&(x, y, _)| Circle::new((x, y), 4, BLACK));
        chart.draw_series(outlines).map_err(err)?;
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
        let mut labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
        labels.push("inducing inputs");
        draw_legend(&mut chart, &paths, &labels)?;
        root.present().map_err(err)
    }
}

/// Classification with two inputs and C ≥ 2 classes: each cell of a grid over the data coloured
/// by its most probable class (a qualitative palette; paler where the largest probability is
/// nearer chance, 1/C), the decision boundaries in black, the data on top coloured by class
/// (`y` holds class indices 0, …, C − 1), the inducing inputs as crosses, a legend with the
/// model's class labels (or "⟨target⟩ = k") and the axes named after the feature columns. `x` is
/// N×2 raw inputs.
///
/// # Errors
/// `ShapeMismatch` unless the model and `x` have two inputs and `y` one entry per row;
/// `InvalidTarget` naming the row of a label that is not a class index; `InvalidParameter` for
/// a model that is not a classifier; `Plot`; model errors.
pub fn classification_map_2d(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<()> {
    render(path.as_ref(), &class_map(saved, x, y)?)
}

/// The figure of [`classification_map_2d`].
fn class_map(saved: &SavedModel, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<ClassMap> {
    check_inputs("2-D class map", saved, x, 2)?;
    check_shape(
        "class map labels",
        Shape::new(x.nrows(), 1),
        Shape::new(y.len(), 1),
    )?;
    saved.model.likelihood().check_targets(y)?;
    let grid = Grid2d::over(x, 150);
    let p = class_probabilities(saved, &grid.centres, "class map")?;
    let colours = cell_colours(&p, grid.n);
    Ok(ClassMap {
        cells: (0..colours.len())
            .map(|k| (grid.corners(k), colours[k]))
            .collect(),
        points: points_2d(x)
            .into_iter()
            .zip(y.iter())
            .map(|((a, b), &c)| (a, b, c as usize))
            .collect(),
        z: points_2d(&inducing_inputs(saved)),
        range: grid.range,
        labels: class_labels(saved, p.ncols()),
        axes: axis_names(saved),
    })
}

/// `counts[t][p]`: the number of rows of true class t predicted as p, for C classes.
fn confusion_counts(truth: &[usize], predicted: &[usize], c: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; c]; c];
    for (&t, &p) in truth.iter().zip(predicted) {
        counts[t][p] += 1;
    }
    counts
}

/// The confusion matrix figure: rows true classes (the first at the top), columns predicted.
struct Confusion {
    counts: Vec<Vec<usize>>,
    labels: Vec<String>,
}

impl Confusion {
    /// The fraction of rows on the diagonal.
    fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.counts.len()).map(|k| self.counts[k][k]).sum();
        right as f64 / total.max(1) as f64
    }

    /// The label at a segment of an axis (reversed for the true classes, drawn top down).
    fn label(&self, v: &SegmentValue<i32>, reversed: bool) -> String {
        let c = self.labels.len() as i32;
        match v {
            SegmentValue::CenterOf(k) | SegmentValue::Exact(k) if (0..c).contains(k) => {
                let k = if reversed { c - 1 - k } else { *k };
                self.labels[k as usize].clone()
            }
            _ => String::new(),
        }
    }
}

impl Figure for Confusion {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let c = self.labels.len();
        let last = c as i32 - 1;
        let caption = format!(
            "confusion matrix: counts, shaded by row fraction (accuracy {:.1}%)",
            100.0 * self.accuracy()
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(110)
            .build_cartesian_2d((0..last).into_segmented(), (0..last).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .disable_mesh()
            .x_labels(c)
            .y_labels(c)
            .x_desc("predicted class")
            .y_desc("true class")
            .x_label_formatter(&|v| self.label(v, false))
            .y_label_formatter(&|v| self.label(v, true))
            .draw()
            .map_err(err)?;
        let edge = |k: usize| match k {
            k if k == c => SegmentValue::Last,
            k => SegmentValue::Exact(k as i32),
        };
        let font = ("sans-serif", (160 / c.max(1)).clamp(10, 28) as f64).into_font();
        for (t, row) in self.counts.iter().enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let r = c - 1 - t;
            for (p, &count) in row.iter().enumerate() {
                let fraction = count as f64 / total;
                let cell = [(edge(p), edge(r)), (edge(p + 1), edge(r + 1))];
                let fill = class_colour(0, fraction);
                chart
                    .draw_series([Rectangle::new(cell, fill.filled())])
                    .map_err(err)?;
                let ink = if fraction > 0.5 { WHITE } else { BLACK };
                let style = font.color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                let at = (
                    SegmentValue::CenterOf(p as i32),
                    SegmentValue::CenterOf(r as i32),
                );
                chart
                    .draw_series([Text::new(count.to_string(), at, style)])
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)
    }
}

/// Classification with any number of inputs and C ≥ 2 classes: the counts of true (rows, `y`
/// holding class indices 0, …, C − 1) against predicted (columns, the most probable) class for
/// raw inputs `x` (N×D), each cell shaded by its fraction of the row, the axes labelled with
/// the model's class labels (or "⟨target⟩ = k"), and the accuracy in the title.
///
/// # Errors
/// `ShapeMismatch` for inconsistent shapes; `InvalidParameter` for a model that is not a
/// classifier; `InvalidTarget` for a label that is not a class index; `Plot`; model errors.
pub fn confusion_matrix(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
) -> Result<()> {
    check_shape(
        "confusion matrix labels",
        Shape::new(x.nrows(), 1),
        Shape::new(y.len(), 1),
    )?;
    let p = class_probabilities(saved, x, "confusion matrix")?;
    let c = p.ncols();
    if let Some(row) = y
        .iter()
        .position(|&v| !(v >= 0.0 && v.fract() == 0.0 && v < c as f64))
    {
        return Err(SvgpError::InvalidTarget {
            row,
            value: y[row],
            reason: "a class index 0, …, C − 1",
        });
    }
    let truth: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let predicted: Vec<usize> = most_probable(&p).into_iter().map(|(k, _)| k).collect();
    let figure = Confusion {
        counts: confusion_counts(&truth, &predicted, c),
        labels: class_labels(saved, c),
    };
    render(path.as_ref(), &figure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SquaredExponential;
    use crate::likelihood::{RobustMax, DEFAULT_EPSILON};
    use crate::model::Svgp;
    use crate::variational::VariationalQ;

    /// The centres of the three classes of [`three_classes`].
    const CENTRES: [(f64, f64); 3] = [(-2.0, -2.0), (2.0, -2.0), (0.0, 2.0)];

    /// A 3-class robust-max model on two inputs, its classes labelled, whose class k is the most
    /// probable near `CENTRES[k]` (an inducing input with a large mean in latent k).
    fn three_classes() -> SavedModel {
        let z = DMatrix::from_fn(3, 2, |i, j| [CENTRES[i].0, CENTRES[i].1][j]);
        let qs = (0..3)
            .map(|k| {
                let m = DVector::from_fn(3, |i, _| if i == k { 3.0 } else { -1.0 });
                VariationalQ::new(m, DMatrix::identity(3, 3) * 0.3).unwrap()
            })
            .collect();
        let kernel = SquaredExponential::new(1.0, vec![1.5, 1.5]).unwrap();
        let likelihood = RobustMax::new(3, DEFAULT_EPSILON, false).unwrap();
        let model =
            Svgp::with_qs(vec![Box::new(kernel)], Box::new(likelihood), z, qs, 1e-6).unwrap();
        SavedModel {
            model,
            feature_names: vec!["a".into(), "b".into()],
            target_name: "class".into(),
            extra_targets: Vec::new(),
            input_scaling: None,
            target_scaling: None,
            classes: Some(vec!["left".into(), "right".into(), "top".into()]),
        }
    }

    /// 30 points, ten around each centre (seeded by their index), with their class indices.
    fn data() -> (DMatrix<f64>, DVector<f64>) {
        let x = DMatrix::from_fn(30, 2, |i, j| {
            let c = CENTRES[i % 3];
            let wobble = 0.5 * ((i * 7 + j * 3) as f64).sin();
            [c.0, c.1][j] + wobble
        });
        (x, DVector::from_fn(30, |i, _| (i % 3) as f64))
    }

    /// The class whose colour, blended with white, a pixel is (within 2 per channel), if any.
    fn tint(pixel: &[u8]) -> Option<usize> {
        (0..3).find(|&k| {
            let (r, g, b) = PALETTE[k];
            // the weight from the channel furthest from white
            let (j, full) = [r, g, b]
                .into_iter()
                .enumerate()
                .min_by_key(|c| c.1)
                .unwrap();
            let w = (255.0 - f64::from(pixel[j])) / (255.0 - f64::from(full));
            let c = class_colour(k, w);
            w > 0.05
                && [c.0, c.1, c.2]
                    .iter()
                    .zip(pixel)
                    .all(|(a, b)| a.abs_diff(*b) <= 2)
        })
    }

    /// Pixels of each class's tint in a 60×60 window centred on (column, row).
    fn tints(pixels: &[u8], width: usize, (column, row): (usize, usize)) -> [usize; 3] {
        let mut counts = [0; 3];
        for r in row - 30..row + 30 {
            for c in column - 30..column + 30 {
                let k = 3 * (r * width + c);
                if let Some(class) = tint(&pixels[k..k + 3]) {
                    counts[class] += 1;
                }
            }
        }
        counts
    }

    /// Cell colours by hand on a 2×2 grid: a sure class-0 cell is stronger than an unsure one,
    /// and a cell whose right or upper neighbour has another class is a boundary.
    #[test]
    fn cells_are_coloured_by_class_and_confidence_with_boundaries() {
        let p = DMatrix::from_row_slice(4, 2, &[0.99, 0.01, 0.6, 0.4, 0.55, 0.45, 0.2, 0.8]);
        let colours = cell_colours(&p, 2);
        // cell 0 (class 0) has class 0 to its right but class 0 above (cell 2): not a boundary
        assert_eq!(colours[0], class_colour(0, 0.15 + 0.6 * 0.98));
        // cell 1 (class 0) has class 1 above (cell 3): a boundary
        assert_eq!(colours[1], BOUNDARY);
        // cell 2 (class 0) has class 1 to its right
        assert_eq!(colours[2], BOUNDARY);
        assert_eq!(colours[3], class_colour(1, 0.15 + 0.6 * 0.6));
        assert!(
            colours[0].0 < class_colour(0, 0.3).0,
            "sure cells are stronger"
        );
    }

    /// The map of a model with three known regions: each class's tint dominates around its
    /// centre, boundaries are drawn, and the public function writes a file.
    #[test]
    fn map_colours_each_region_by_its_class() {
        let saved = three_classes();
        let (x, y) = data();
        let figure = class_map(&saved, &x, &y).unwrap();
        assert_eq!(figure.labels, ["left", "right", "top"]);
        assert_eq!(figure.axes, ("a".to_string(), "b".to_string()));
        let pixels = super::super::render_to_buffer(&figure);
        let width = super::super::SIZE.0 as usize;
        // plot area about 75..885 × 50..560 px for x and y in ±2.75: the centres at
        for (k, at) in [(0, (185, 490)), (1, (775, 490)), (2, (480, 120))] {
            let counts = tints(&pixels, width, at);
            let most = (0..3).max_by_key(|&c| counts[c]).unwrap();
            assert_eq!(most, k, "around class {k}: {counts:?}");
            assert!(counts[k] > 1_000, "around class {k}: {counts:?}");
        }
        let boundary = pixels
            .chunks(3)
            .filter(|p| p == &[BOUNDARY.0, BOUNDARY.1, BOUNDARY.2])
            .count();
        assert!(boundary > 300, "{boundary} boundary pixels");
        let path = std::env::temp_dir().join(format!("svgp-map-{}.png", std::process::id()));
        classification_map_2d(&path, &saved, &x, &y).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 10_000);
        assert!(classification_map_2d(&path, &saved, &x.columns(0, 1).into(), &y).is_err());
    }

    /// Legend labels are the model's class labels, in class order; a model without labels, or
    /// with a number of them other than its classes, is labelled by target and class index.
    #[test]
    fn legend_labels_are_the_saved_class_labels_or_indices() {
        let mut saved = three_classes();
        assert_eq!(class_labels(&saved, 3), ["left", "right", "top"]);
        assert_eq!(class_labels(&saved, 2), ["class = 0", "class = 1"]);
        saved.classes = None;
        assert_eq!(
            class_labels(&saved, 3),
            ["class = 0", "class = 1", "class = 2"]
        );
    }

    /// Counts by hand: rows are true classes, columns predicted.
    #[test]
    fn counts_are_true_by_predicted() {
        let counts = confusion_counts(&[0, 0, 1, 2, 2, 2], &[0, 1, 1, 2, 0, 2], 3);
        assert_eq!(counts, vec![vec![1, 1, 0], vec![0, 1, 0], vec![1, 0, 2]]);
        let figure = Confusion {
            counts,
            labels: vec!["a".into(), "b".into(), "c".into()],
        };
        assert!((figure.accuracy() - 4.0 / 6.0).abs() < 1e-15);
    }

    /// A perfect classifier's matrix is dark in its upper-left cell (true and predicted class 0)
    /// and a classifier that is always wrong is not; the public function writes a file and
    /// refuses labels that are not class indices.
    #[test]
    fn confusion_matrix_shades_the_cells_with_the_counts() {
        let dark = |counts: Vec<Vec<usize>>| {
            let labels = vec!["left".into(), "right".into(), "top".into()];
            let pixels = super::super::render_to_buffer(&Confusion { counts, labels });
            let (w, h) = (super::super::SIZE.0 as usize, super::super::SIZE.1 as usize);
            let full = class_colour(0, 1.0);
            // inside the upper-left cell of the matrix
            (h / 6..h / 3)
                .flat_map(|r| (w / 6..w / 3).map(move |c| 3 * (r * w + c)))
                .filter(|&k| pixels[k..k + 3] == [full.0, full.1, full.2])
                .count()
        };
        let right = dark(vec![vec![10, 0, 0], vec![0, 10, 0], vec![0, 0, 10]]);
        let wrong = dark(vec![vec![0, 10, 0], vec![0, 0, 10], vec![10, 0, 0]]);
        assert!(right > 10_000 && wrong == 0, "{right} vs {wrong}");
        let saved = three_classes();
        let (x, y) = data();
        let path = std::env::temp_dir().join(format!("svgp-confusion-{}.png", std::process::id()));
        confusion_matrix(&path, &saved, &x, &y).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5_000);
        let mut bad = y.clone();
        bad[4] = 3.0;
        assert!(matches!(
            confusion_matrix(&path, &saved, &x, &bad),
            Err(SvgpError::InvalidTarget { row: 4, .. })
        ));
    }
}

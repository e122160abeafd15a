//! Line charts: labelled series on shared axes, the horizontal one linear or logarithmic, with
//! crosses on marked points and short tick labels; the ELBO traces are drawn with it.

use super::legend::draw_legend;
use super::ticks::tick_label;
use super::{err, Drawn};
use super::{padded_range, render, Figure, AXIS_NAME_FONT, TICK_FONT};
use crate::error::Result;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

/// Line colours, cycled beyond six series.
const COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

/// The scale of a chart's horizontal axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values, from 0 (or the smallest x if negative) to the largest x.
    Linear,
    /// Evenly spaced powers of ten, from the smallest positive x to the largest; points with
    /// x ≤ 0 are left out.
    Log,
}

/// One labelled line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub label: String,
    /// (x, y) in drawing order; points with a non-finite coordinate are left out.
    pub points: Vec<(f64, f64)>,
    /// Points to mark with a cross in the line's colour (say, shortened steps); may be empty.
    pub marked: Vec<(f64, f64)>,
}

/// Several labelled lines on shared axes, the legend in the corner that hides least of them.
#[derive(Debug, Clone, Copy)]
pub struct LineChart<'a> {
    /// The title above the plot.
    pub title: &'a str,
    /// The horizontal axis's name.
    pub x_label: &'a str,
    /// The vertical axis's name.
    pub y_label: &'a str,
    /// The horizontal axis's scale.
    pub x_scale: Scale,
    /// The lines, coloured in order.
    pub series: &'a [Series],
}

impl LineChart<'_> {
    /// Whether a point can be drawn on this chart's axes.
    fn visible(&self, (x, y): (f64, f64)) -> bool {
        x.is_finite() && y.is_finite() && (self.x_scale == Scale::Linear || x > 0.0)
    }

    /// The series' drawable points, line by line.
    fn visible_points(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        points
            .iter()
            .copied()
            .filter(|&p| self.visible(p))
            .collect()
    }

    /// The horizontal range: see [`Scale`]; a single value v spans (v, v + 1) (or (v, 10 v) on
    /// a log axis).
    fn x_range(&self) -> (f64, f64) {
        let xs = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|&&p| self.visible(p))
                .map(|p| p.0)
        };
        let lo = xs().fold(f64::INFINITY, f64::min);
        let hi = xs().fold(f64::NEG_INFINITY, f64::max);
        match self.x_scale {
            _ if !lo.is_finite() => (1.0, 10.0),
            Scale::Linear => (lo.min(0.0), if hi > lo.min(0.0) { hi } else { lo + 1.0 }),
            Scale::Log => (lo, if hi > lo { hi } else { 10.0 * lo }),
        }
    }

    /// Draws the axes, lines, crosses and legend on a chart of any horizontal coordinate.
    fn draw_on<'a, DB, X>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    ) -> Drawn
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .axis_desc_style(AXIS_NAME_FONT)
            .label_style(TICK_FONT)
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()
            .map_err(err)?;
        let mut paths = Vec::new();
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let points = self.visible_points(&series.points);
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(err)?
                .label(series.label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            let marked = self.visible_points(&series.marked);
            let crosses = marked
                .iter()
                .map(|&p| Cross::new(p, 5, colour.stroke_width(2)));
            chart.draw_series(crosses).map_err(err)?;
            paths.push(points);
            paths.extend(marked.into_iter().map(|p| vec![p]));
        }
        let labels: Vec<&str> = self.series.iter().map(|s| s.label.as_str()).collect();
        draw_legend(chart, &paths, &labels)
    }
}

impl Figure for LineChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = self.x_range();
        let (y0, y1) = padded_range(
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|&&p| self.visible(p))
                .map(|p| p.1),
        );
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(self.title, ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80);
        match self.x_scale {
            Scale::Linear => {
                let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
                self.draw_on(&mut chart)?;
            }
            Scale::Log => {
                let mut chart = builder
                    .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                    .map_err(err)?;
                self.draw_on(&mut chart)?;
            }
        }
        root.present().map_err(err)
    }
}

/// Writes `chart` to `path` (PNG or SVG by the extension): each series a line in its own
/// colour, its marked points as crosses, a legend of the labels, tick labels in `-4.5e8` style
/// beyond 10⁵.
///
/// # Errors
/// `Plot { path }` for an unwritable file or an extension other than .png/.svg.
pub fn line_chart(path: impl AsRef<Path>, chart: &LineChart<'_>) -> Result<()> {
    render(path.as_ref(), chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            marked: Vec::new(),
        }
    }

    /// Ranges by hand: linear from 0, log from the smallest positive x, and points a log axis
    /// cannot show (x ≤ 0) or no axis can (NaN) left out.
    #[test]
    fn ranges_follow_the_scale_and_skip_undrawable_points() {
        let lines = [
            series("a", vec![(0.0, 1.0), (2.0, 3.0), (f64::NAN, 9.0)]),
            series("b", vec![(0.5, 2.0), (8.0, -1.0)]),
        ];
        let mut chart = LineChart {
            title: "t",
            x_label: "x",
            y_label: "y",
            x_scale: Scale::Linear,
            series: &lines,
        };
        assert_eq!(chart.x_range(), (0.0, 8.0));
        assert_eq!(chart.visible_points(&lines[0].points).len(), 2);
        chart.x_scale = Scale::Log;
        assert_eq!(chart.x_range(), (0.5, 8.0));
        assert_eq!(chart.visible_points(&lines[0].points), vec![(2.0, 3.0)]);
        chart.series = &[];
        assert_eq!(chart.x_range(), (1.0, 10.0));
    }

    /// Both scales draw lines (many non-white pixels) and both file types are written.
    #[test]
    fn charts_draw_lines_on_both_scales_and_file_types() {
        let lines = [
            series(
                "fast",
                (1..200).map(|t| (t as f64, -4.5e8 / t as f64)).collect(),
            ),
            series(
                "slow",
                (1..200)
                    .map(|t| (t as f64, -4.5e8 / (t as f64).sqrt()))
                    .collect(),
            ),
        ];
        let dir = std::env::temp_dir().join(format!("svgp-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (x_scale, name) in [(Scale::Linear, "lines.png"), (Scale::Log, "lines.svg")] {
            let chart = LineChart {
                title: "ELBO",
                x_label: "iteration",
                y_label: "ELBO",
                x_scale,
                series: &lines,
            };
            let pixels = super::super::render_to_buffer(&chart);
            let non_white = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
            assert!(
                non_white > 5_000,
                "{x_scale:?}: {non_white} non-white pixels"
            );
            line_chart(dir.join(name), &chart).unwrap();
            assert!(
                std::fs::metadata(dir.join(name)).unwrap().len() > 5_000,
                "{name}"
            );
        }
        let svg = std::fs::read_to_string(dir.join("lines.svg")).unwrap();
        assert!(svg.contains("e8"), "tick labels in e-notation");
        assert!(
            !svg.contains("00000000"),
            "no long runs of zeros in the labels"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

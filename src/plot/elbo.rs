//! ELBO traces: several labelled runs on one figure, refused or shortened steps marked.

use super::{padded_range, render, Figure};
use crate::error::Result;
use crate::optim::IterReport;
use plotters::prelude::*;
use std::path::Path;

struct Traces<'a> {
    runs: &'a [(&'a str, &'a [IterReport])],
    log_x: bool,
}

impl Figure for Traces<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> std::result::Result<(), String> {
        let e = |x: &dyn std::fmt::Debug| format!("{x:?}");
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let max_iter = self
            .runs
            .iter()
            .flat_map(|(_, r)| r.last().map(|r| r.iteration))
            .max()
            .unwrap_or(1)
            .max(2) as f64;
        let (lo, hi) = padded_range(self.runs.iter().flat_map(|(_, r)| r.iter().map(|r| r.elbo)));
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption("ELBO", ("sans-serif", 24))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80);
        let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("iteration")
                    .y_desc("ELBO")
                    .draw()
                    .map_err(|x| e(&x))?;
                for (k, (label, reports)) in self.runs.iter().enumerate() {
                    let colour = colours[k % colours.len()];
                    let points: Vec<(f64, f64)> = reports
                        .iter()
                        .map(|r| (r.iteration as f64, r.elbo))
                        .collect();
                    chart
                        .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                        .map_err(|x| e(&x))?
                        .label(*label)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                        });
                    let marked = reports.iter().filter(|r| r.update.shortened()).map(|r| {
                        Cross::new((r.iteration as f64, r.elbo), 5, colour.stroke_width(2))
                    });
                    chart.draw_series(marked).map_err(|x| e(&x))?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|x| e(&x))?;
            }};
        }
        if self.log_x {
            body!(builder
                .build_cartesian_2d((1.0..max_iter).log_scale(), lo..hi)
                .map_err(|x| e(&x))?);
        } else {
            body!(builder
                .build_cartesian_2d(0.0..max_iter, lo..hi)
                .map_err(|x| e(&x))?);
        }
        root.present().map_err(|x| e(&x))
    }
}

/// Writes the ELBO against iteration for each labelled run (`runs`: label, reports in order),
/// on a linear or logarithmic iteration axis; iterations whose natural step was shortened or
/// refused are marked with a cross. Use a log axis to see the early iterations.
///
/// # Errors
/// `Plot { path }` for an unwritable file or an extension other than .png/.svg.
pub fn elbo_traces(
    path: impl AsRef<Path>,
    runs: &[(&str, &[IterReport])],
    log_x: bool,
) -> Result<()> {
    render(path.as_ref(), &Traces { runs, log_x })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn trace(scale: f64) -> Vec<IterReport> {
        (1..=100)
            .map(|t| IterReport {
                iteration: t,
                elbo: -scale / t as f64,
                update: crate::optim::QUpdate::Natural {
                    gamma: 0.1,
                    halvings: u32::from(t == 50),
                },
                elapsed: Duration::ZERO,
            })
            .collect()
    }

    /// The figure is not blank: the plot area's pixels differ between its left and right halves
    /// and many are not white.
    #[test]
    fn traces_draw_something_in_png_and_svg() {
        let (a, b) = (trace(100.0), trace(50.0));
        let runs = [("natgrad", a.as_slice()), ("adam", b.as_slice())];
        let pixels = super::super::render_to_buffer(&Traces {
            runs: &runs,
            log_x: false,
        });
        let non_white = pixels.chunks(3).filter(|p| p != &[255, 255, 255]).count();
        assert!(non_white > 5_000, "{non_white} non-white pixels");
        let dir = std::env::temp_dir().join(format!("svgp-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["elbo.png", "elbo.svg"] {
            elbo_traces(dir.join(name), &runs, true).unwrap();
            assert!(
                std::fs::metadata(dir.join(name)).unwrap().len() > 5_000,
                "{name} too small"
            );
        }
        assert!(elbo_traces(dir.join("elbo.txt"), &runs, false).is_err());
    }
}

//! ELBO traces: several labelled runs on one [`LineChart`], refused or shortened steps marked.

use super::lines::{line_chart, LineChart, Scale, Series};
use crate::error::Result;
use crate::optim::IterReport;
use std::path::Path;

/// The series of one run: (iteration, ELBO) per report, shortened or refused steps marked.
fn trace(label: &str, reports: &[IterReport]) -> Series {
    let point = |r: &IterReport| (r.iteration as f64, r.elbo);
    Series {
        label: label.to_string(),
        points: reports.iter().map(point).collect(),
        marked: reports
            .iter()
            .filter(|r| r.update.shortened())
            .map(point)
            .collect(),
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
    let series: Vec<Series> = runs
        .iter()
        .map(|(label, reports)| trace(label, reports))
        .collect();
    let chart = LineChart {
        title: "ELBO",
        x_label: "iteration",
        y_label: "ELBO",
        x_scale: if log_x { Scale::Log } else { Scale::Linear },
        series: &series,
    };
    line_chart(path, &chart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn reports(scale: f64) -> Vec<IterReport> {
        (1..=100)
            .map(|t| IterReport {
                iteration: t,
                elbo: -scale / t as f64,
                log_prior: 0.0,
                update: crate::optim::QUpdate::Natural {
                    gamma: 0.1,
                    halvings: u32::from(t == 50),
                },
                elapsed: Duration::ZERO,
            })
            .collect()
    }

    /// A run's series holds every iteration and marks exactly the shortened one (50).
    #[test]
    fn trace_marks_the_shortened_steps() {
        let series = trace("natgrad", &reports(100.0));
        assert_eq!(series.points.len(), 100);
        assert_eq!(series.points[0], (1.0, -100.0));
        assert_eq!(series.marked, vec![(50.0, -2.0)]);
    }

    /// Both file types are written on either axis, and other extensions are refused.
    #[test]
    fn traces_are_written_as_png_and_svg() {
        let (a, b) = (reports(100.0), reports(50.0));
        let runs = [("natgrad", a.as_slice()), ("adam", b.as_slice())];
        let dir = std::env::temp_dir().join(format!("svgp-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, log_x) in [("elbo.png", false), ("elbo.svg", true)] {
            elbo_traces(dir.join(name), &runs, log_x).unwrap();
            let bytes = std::fs::metadata(dir.join(name)).unwrap().len();
            assert!(bytes > 5_000, "{name}: {bytes} bytes");
        }
        assert!(elbo_traces(dir.join("elbo.txt"), &runs, false).is_err());
    }
}

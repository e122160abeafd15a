//! The plots of `svgp fit --plots`: the ELBO trace of the whole fit and the plots that apply to
//! the data and the likelihood.

use std::error::Error;
use std::path::{Path, PathBuf};
use svgp::data::Table;
use svgp::optim::{IterReport, QUpdate, Trace};
use svgp::plot::{self, DataPlot};
use svgp::tabular::{FitReport, SavedModel};

/// Writes the ELBO trace and the plots that apply to the data into `dir` (created if missing):
/// the fit with ±2σ bands (one input, regression; the heteroscedastic panel for that
/// likelihood), the class-probability map (two inputs, binary classification), predicted
/// against observed (regression, more inputs) or a calibration diagram (binary classification,
/// other input counts); for C-class models, the confusion matrix and, with two inputs, the class
/// map. Returns the files written, the ELBO trace last.
///
/// # Errors
/// When `dir` cannot be created or a plot cannot be drawn or written.
pub fn write(
    dir: &Path,
    saved: &SavedModel,
    table: &Table,
    trace: &Trace,
) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let elbo = dir.join("elbo.png");
    plot::elbo_traces(&elbo, &[("natgrad + Adam", &trace.reports)], false)?;
    let (x, y) = (&table.x, &table.y);
    let kind = DataPlot::choose(saved, x.ncols());
    let mut plots = vec![dir.join(kind.file_name())];
    kind.draw(&plots[0], saved, x, y)?;
    if kind == DataPlot::ClassMap2d {
        let confusion = DataPlot::Confusion;
        plots.push(dir.join(confusion.file_name()));
        confusion.draw(&plots[1], saved, x, y)?;
    }
    plots.push(elbo);
    Ok(plots)
}

/// The trace of the whole fit from the trace of this run: after a resume, the iterations before
/// it come from the checkpoint's ELBO trace (their step sizes and log priors are not kept, so
/// none is marked as shortened and their log priors are NaN).
pub fn whole_trace(report: &FitReport, resumed: Trace) -> Trace {
    let first = resumed
        .reports
        .first()
        .map_or(report.iterations + 1, |r| r.iteration);
    let earlier = report
        .elbo_trace
        .iter()
        .take(first.saturating_sub(1) as usize);
    let mut reports: Vec<IterReport> = earlier
        .enumerate()
        .map(|(i, &elbo)| IterReport {
            iteration: i as u64 + 1,
            elbo,
            log_prior: f64::NAN,
            update: QUpdate::Natural {
                gamma: f64::NAN,
                halvings: 0,
            },
            elapsed: std::time::Duration::ZERO,
        })
        .collect();
    reports.extend(resumed.reports);
    Trace { reports }
}

//! The progress bar of `svgp fit` on standard error: iteration, ELBO and γ.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use svgp::model::Svgp;
use svgp::optim::{IterReport, Observer, QUpdate, StopReason};

/// An indicatif bar on stderr showing iteration, ELBO and γ, cleared when training stops.
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar of `iterations` steps, hidden when `quiet` or when stderr is not a terminal.
    ///
    /// # Errors
    /// When the bar's template does not parse.
    pub fn new(iterations: u64, quiet: bool) -> Result<Self, Box<dyn std::error::Error>> {
        let bar = if !quiet && std::io::stderr().is_terminal() {
            ProgressBar::new(iterations)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise}]")
                .map_err(|e| e.to_string())?,
        );
        Ok(Progress(bar))
    }
}

impl Observer for Progress {
    fn on_iter(&mut self, _model: &Svgp, report: &IterReport) -> svgp::Result<()> {
        self.0.set_position(report.iteration);
        let gamma = match report.update {
            QUpdate::Natural { gamma, .. } => format!("{gamma:.2e}"),
            QUpdate::Kept { .. } => "kept".to_string(),
            QUpdate::Adam => "adam".to_string(),
        };
        self.0
            .set_message(format!("ELBO {:.3}  γ {gamma}", report.elbo));
        Ok(())
    }
    fn on_finish(&mut self, _model: &Svgp, _reason: StopReason) -> svgp::Result<()> {
        self.0.finish_and_clear();
        Ok(())
    }
}

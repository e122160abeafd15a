//! Observers of training: progress display, ELBO traces, plots. The trainer never prints; it
//! reports each iteration to its observers.

use super::trainer::{IterReport, StopReason};
use crate::error::Result;
use crate::model::Svgp;

/// Receives training events; any error stops training and is returned by the trainer.
pub trait Observer {
    /// Before the first iteration.
    ///
    /// # Errors
    /// Whatever the observer fails with (for example an I/O error).
    fn on_start(&mut self, _model: &Svgp) -> Result<()> {
        Ok(())
    }
    /// After each accepted iteration.
    ///
    /// # Errors
    /// As `on_start`.
    fn on_iter(&mut self, model: &Svgp, report: &IterReport) -> Result<()>;
    /// When training ends, with the reason.
    ///
    /// # Errors
    /// As `on_start`.
    fn on_finish(&mut self, _model: &Svgp, _reason: StopReason) -> Result<()> {
        Ok(())
    }
}

/// Records every iteration's report: the ELBO trace, step sizes and halvings.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// One report per iteration, in order.
    pub reports: Vec<IterReport>,
}

impl Trace {
    /// The first iteration whose ELBO is within `nats` of the last recorded one (`None` if the
    /// trace is empty).
    pub fn first_within_of_final(&self, nats: f64) -> Option<u64> {
        let last = self.reports.last()?.elbo;
        self.reports
            .iter()
            .find(|r| (r.elbo - last).abs() < nats)
            .map(|r| r.iteration)
    }
}

impl Observer for Trace {
    fn on_iter(&mut self, _model: &Svgp, report: &IterReport) -> Result<()> {
        self.reports.push(report.clone());
        Ok(())
    }
}

/// Forwards to an inner observer only every `n`-th iteration (and always the first).
#[derive(Debug, Clone)]
pub struct Every<O> {
    /// Period (≥ 1).
    pub n: u64,
    /// The observer called.
    pub inner: O,
}

impl<O: Observer> Observer for Every<O> {
    fn on_start(&mut self, model: &Svgp) -> Result<()> {
        self.inner.on_start(model)
    }
    fn on_iter(&mut self, model: &Svgp, report: &IterReport) -> Result<()> {
        if report.iteration == 1 || report.iteration.is_multiple_of(self.n.max(1)) {
            self.inner.on_iter(model, report)?;
        }
        Ok(())
    }
    fn on_finish(&mut self, model: &Svgp, reason: StopReason) -> Result<()> {
        self.inner.on_finish(model, reason)
    }
}

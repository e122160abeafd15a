//! Observers of training: progress display, ELBO traces, plots. The trainer never prints; it
//! reports each iteration to its observers.

use super::{IterReport, StopReason, Trainer};
use crate::error::Result;
use crate::model::Svgp;
use nalgebra::{DMatrix, DVector};
use std::time::Duration;

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
    /// After `on_iter`, with the whole trainer (its optimiser states: [`Trainer::state`]), for
    /// checkpoints. Default: nothing.
    ///
    /// # Errors
    /// As `on_start`.
    fn on_trainer(&mut self, _trainer: &Trainer) -> Result<()> {
        Ok(())
    }
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

/// Records the full-data ELBO (scale 1) on (`x`: N×D, `y`: N) at checkpoints of a run of
/// `total` iterations: each of the first `first` iterations, every `every`-th, and the last.
/// Each recorded report carries the halvings since the previous checkpoint, the iteration's
/// own log prior and a zero `elapsed`, so a seeded run records the same values every time.
#[derive(Debug, Clone)]
pub struct ElboCheckpoints<'a> {
    x: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    first: u64,
    every: u64,
    total: u64,
    halvings: u32,
    /// The checkpoints recorded so far, in order.
    pub points: Vec<IterReport>,
    /// Iterations so far whose natural step was shortened.
    pub shortened: u64,
}

impl<'a> ElboCheckpoints<'a> {
    /// Checkpoints at t ≤ `first`, at multiples of `every` (≥ 1) and at t = `total`.
    pub fn new(
        x: &'a DMatrix<f64>,
        y: &'a DVector<f64>,
        first: u64,
        every: u64,
        total: u64,
    ) -> Self {
        ElboCheckpoints {
            x,
            y,
            first,
            every: every.max(1),
            total,
            halvings: 0,
            points: Vec::new(),
            shortened: 0,
        }
    }

    /// The first checkpoint iteration whose full-data ELBO is at least `target`.
    pub fn first_at_least(&self, target: f64) -> Option<u64> {
        first_reaching(&self.points, target)
    }
}

impl Observer for ElboCheckpoints<'_> {
    fn on_iter(&mut self, model: &Svgp, report: &IterReport) -> Result<()> {
        let t = report.iteration;
        self.halvings += report.update.halvings();
        self.shortened += u64::from(report.update.shortened());
        if t <= self.first || t == self.total || t.is_multiple_of(self.every) {
            self.points.push(IterReport {
                iteration: t,
                elbo: model.elbo(self.x, self.y, 1.0)?,
                log_prior: report.log_prior,
                update: report
                    .update
                    .with_halvings(std::mem::take(&mut self.halvings)),
                elapsed: Duration::ZERO,
            });
        }
        Ok(())
    }
}

/// The iteration of the first report (in order) whose ELBO is at least `target`.
pub fn first_reaching(reports: &[IterReport], target: f64) -> Option<u64> {
    reports
        .iter()
        .find(|r| r.elbo >= target)
        .map(|r| r.iteration)
}

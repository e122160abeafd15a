//! A fit's training record (each iteration's report, why training stopped, the final ELBO, the
//! training time) as plain Python values and back, so that a pickled model keeps it: the model
//! file holds the model alone.

use crate::errors::value_error;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;
use svgp::optim::{IterReport, QUpdate, StopReason};

/// What a fit recorded besides the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Each iteration's report, in order.
    pub reports: Vec<IterReport>,
    /// Why training stopped (`None` for a model read from a file).
    pub stop_reason: Option<StopReason>,
    /// The full training-set ELBO at the end, in the target's units (NaN when unknown).
    pub final_elbo: f64,
    /// Wall time of the training loop, in seconds.
    pub train_seconds: f64,
}

/// The stop reasons by name ("loaded" is `None`).
const REASONS: [(&str, StopReason); 5] = [
    ("iterations", StopReason::Iterations),
    ("elbo_converged", StopReason::ElboConverged),
    ("time_limit", StopReason::TimeLimit),
    ("batches_exhausted", StopReason::BatchesExhausted),
    ("interrupted", StopReason::Interrupted),
];

/// The stop reason's name.
pub fn reason_name(reason: Option<StopReason>) -> &'static str {
    REASONS
        .iter()
        .find(|(_, r)| Some(*r) == reason)
        .map_or("loaded", |(name, _)| name)
}

/// The stop reason named `name`.
fn reason_of(name: &str) -> PyResult<Option<StopReason>> {
    if name == "loaded" {
        return Ok(None);
    }
    match REASONS.iter().find(|(n, _)| *n == name) {
        Some((_, reason)) => Ok(Some(*reason)),
        None => Err(value_error(format!("record: unknown stop reason {name:?}"))),
    }
}

/// The kind of q update, as the record names it.
fn update_name(update: &QUpdate) -> &'static str {
    match update {
        QUpdate::Natural { .. } => "natural",
        QUpdate::Kept { .. } => "kept",
        QUpdate::Adam => "adam",
    }
}

/// The q update of kind `name` with its γ and halvings.
fn update_of(name: &str, gamma: f64, halvings: u32) -> PyResult<QUpdate> {
    Ok(match name {
        "natural" => QUpdate::Natural { gamma, halvings },
        "kept" => QUpdate::Kept { halvings },
        "adam" => QUpdate::Adam,
        _ => return Err(value_error(format!("record: unknown q update {name:?}"))),
    })
}

/// A record as Python passes it back: `Record::to_dict`'s entries.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct RecordItems {
    iteration: Vec<u64>,
    elbo: Vec<f64>,
    update: Vec<String>,
    gamma: Vec<f64>,
    halvings: Vec<u32>,
    elapsed: Vec<f64>,
    stop_reason: String,
    final_elbo: f64,
    train_seconds: f64,
}

impl Record {
    /// The record of a model read from a file: no iterations, no final ELBO.
    pub fn loaded() -> Self {
        Record {
            reports: Vec::new(),
            stop_reason: None,
            final_elbo: f64::NAN,
            train_seconds: 0.0,
        }
    }

    /// The record as a dict of lists and numbers (picklable, and read back by
    /// [`Record::from_items`]).
    pub fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let each = |f: fn(&IterReport) -> f64| self.reports.iter().map(f).collect::<Vec<f64>>();
        let iterations: Vec<u64> = self.reports.iter().map(|r| r.iteration).collect();
        d.set_item("iteration", iterations)?;
        d.set_item("elbo", each(|r| r.elbo))?;
        let updates: Vec<&str> = self
            .reports
            .iter()
            .map(|r| update_name(&r.update))
            .collect();
        d.set_item("update", updates)?;
        d.set_item("gamma", each(|r| r.update.gamma().unwrap_or(f64::NAN)))?;
        let halvings: Vec<u32> = self.reports.iter().map(|r| r.update.halvings()).collect();
        d.set_item("halvings", halvings)?;
        d.set_item("elapsed", each(|r| r.elapsed.as_secs_f64()))?;
        d.set_item("stop_reason", reason_name(self.stop_reason))?;
        d.set_item("final_elbo", self.final_elbo)?;
        d.set_item("train_seconds", self.train_seconds)?;
        Ok(d)
    }

    /// The record `items` describe.
    ///
    /// # Errors
    /// `ValueError` for lists of different lengths, an unknown update kind or stop reason, or
    /// an elapsed time that is negative or not finite.
    pub fn from_items(items: RecordItems) -> PyResult<Self> {
        let n = items.iteration.len();
        let lengths = [
            items.elbo.len(),
            items.update.len(),
            items.gamma.len(),
            items.halvings.len(),
            items.elapsed.len(),
        ];
        if lengths.iter().any(|&len| len != n) {
            return Err(value_error(format!(
                "record: {n} iterations but lists of lengths {lengths:?}"
            )));
        }
        let reports = (0..n)
            .map(|i| {
                let elapsed = Duration::try_from_secs_f64(items.elapsed[i])
                    .map_err(|e| value_error(format!("record: elapsed[{i}]: {e}")))?;
                Ok(IterReport {
                    iteration: items.iteration[i],
                    elbo: items.elbo[i],
                    // the Python fits set no priors: each iteration's log prior is 0
                    log_prior: 0.0,
                    update: update_of(&items.update[i], items.gamma[i], items.halvings[i])?,
                    elapsed,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Record {
            reports,
            stop_reason: reason_of(&items.stop_reason)?,
            final_elbo: items.final_elbo,
            train_seconds: items.train_seconds,
        })
    }
}

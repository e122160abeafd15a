//! What training reports: each iteration's outcome, why a run stopped, and its summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What happened to q(v) in one iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QUpdate {
    /// A natural step was taken with step size `gamma`: the scheduled γ halved `halvings` times
    /// (to keep S positive definite, or with the ascent check the minibatch ELBO from falling).
    Natural {
        /// The step size used.
        gamma: f64,
        /// Times the scheduled γ was halved; 0 when the step was taken as asked.
        halvings: u32,
    },
    /// Every allowed γ gave a valid q that the ascent check refused (it lowered the minibatch
    /// ELBO), so q was kept this iteration.
    Kept {
        /// Times γ was halved before giving up (the natural step's `max_halvings`).
        halvings: u32,
    },
    /// An Adam step on m and L (the Adam-only mode).
    Adam,
}

impl QUpdate {
    /// The natural step's γ, if one was taken.
    pub fn gamma(&self) -> Option<f64> {
        match self {
            QUpdate::Natural { gamma, .. } => Some(*gamma),
            QUpdate::Kept { .. } | QUpdate::Adam => None,
        }
    }

    /// Times γ was halved (0 for Adam).
    pub fn halvings(&self) -> u32 {
        match self {
            QUpdate::Natural { halvings, .. } | QUpdate::Kept { halvings } => *halvings,
            QUpdate::Adam => 0,
        }
    }

    /// The same update with its halvings count replaced (Adam has none).
    pub fn with_halvings(self, halvings: u32) -> Self {
        match self {
            QUpdate::Natural { gamma, .. } => QUpdate::Natural { gamma, halvings },
            QUpdate::Kept { .. } => QUpdate::Kept { halvings },
            QUpdate::Adam => QUpdate::Adam,
        }
    }

    /// Whether the natural step was shortened or refused (γ halved at least once).
    pub fn shortened(&self) -> bool {
        self.halvings() > 0
    }
}

/// What one iteration did.
#[derive(Debug, Clone, PartialEq)]
pub struct IterReport {
    /// 1-based iteration.
    pub iteration: u64,
    /// Minibatch ELBO after the q step, at the hyperparameters Adam then moves from.
    pub elbo: f64,
    /// The log prior Σ [log p(θ) + log|dθ/dp|] at those hyperparameters (0 without priors):
    /// `elbo + log_prior` is the MAP objective the Adam step ascends.
    pub log_prior: f64,
    /// What happened to q.
    pub update: QUpdate,
    /// Wall time since training started (zero from [`super::Trainer::step`] alone).
    pub elapsed: Duration,
}

/// When to stop besides the iteration budget.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopRules {
    /// Stop when the mean ELBO of the last `window` iterations differs from that of the `window`
    /// before by less than `tolerance` (absolute, nats).
    pub elbo_tolerance: Option<(f64, u64)>,
    /// Stop after this much wall time.
    pub time_limit: Option<Duration>,
    /// Stop at the next iteration boundary once this flag is set (by a signal handler, another
    /// thread, an observer).
    pub interrupt: Option<&'static AtomicBool>,
}

impl StopRules {
    /// Whether the interrupt flag is set.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupt
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    /// Why training should stop after the reports so far (`elbos`, the last one's `elapsed`), if
    /// it should.
    pub(super) fn check(&self, elbos: &[f64], elapsed: Duration) -> Option<StopReason> {
        if let Some((tol, window)) = self.elbo_tolerance {
            if converged(elbos, tol, window as usize) {
                return Some(StopReason::ElboConverged);
            }
        }
        self.time_limit
            .is_some_and(|limit| elapsed >= limit)
            .then_some(StopReason::TimeLimit)
    }
}

/// |mean(last w) − mean(previous w)| < tol, once 2w values exist.
fn converged(elbos: &[f64], tol: f64, window: usize) -> bool {
    let w = window.max(1);
    if elbos.len() < 2 * w {
        return false;
    }
    let n = elbos.len();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&elbos[n - w..]) - mean(&elbos[n - 2 * w..n - w])).abs() < tol
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The iteration budget was used.
    Iterations,
    /// The ELBO changed by less than the tolerance.
    ElboConverged,
    /// The time limit was reached.
    TimeLimit,
    /// The batch source ran out (an explicit batch list).
    BatchesExhausted,
    /// The interrupt flag of [`StopRules`] was set.
    Interrupted,
}

/// The outcome of [`super::Trainer::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Why it stopped.
    pub reason: StopReason,
    /// Iterations completed.
    pub iterations: u64,
    /// The last iteration's minibatch ELBO (NaN if none ran).
    pub last_elbo: f64,
    /// The last iteration's log prior (NaN if none ran; 0 without priors).
    pub last_log_prior: f64,
    /// Wall time of the loop.
    pub elapsed: Duration,
    /// Iterations whose natural step was shortened (γ halved at least once).
    pub shortened_steps: u64,
    /// Rows processed (the sum of the batch sizes).
    pub rows_trained: u64,
}

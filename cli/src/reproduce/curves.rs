//! Parts (b) and (c): training runs that record the full-data ELBO at checkpoints, for Adam alone
//! and for natural gradients in θ, η and (m, L) with Adam on the hyperparameters.

use super::sets::Split;
use svgp::error::Result;
use svgp::kernel::KernelFamily;
use svgp::likelihood::{Gaussian, Likelihood};
use svgp::model::inducing::InducingInit;
use svgp::model::{Metrics, Svgp};
use svgp::optim::{
    first_reaching, AdamConfig, AscentCheck, BatchPlan, ElboCheckpoints, HyperTraining, InMemory,
    IterReport, Observer, QTraining, Schedule, StopRules, Trainer, Xi,
};
use svgp::tabular::{initial_kernel, LikelihoodChoice};
use svgp::transform::Positive;

/// Adam's learning rate for the hyperparameters and Z (and for q in Adam-only runs): the
/// command line's default.
pub(super) const ADAM_LEARNING_RATE: f64 = 0.01;

/// A training problem: data, likelihood and sizes.
#[derive(Debug, Clone)]
pub(super) struct Case {
    /// Short name, used in file names.
    pub key: &'static str,
    /// Description for the report.
    pub title: String,
    /// The data.
    pub split: Split,
    /// The likelihood, with the command line's initial parameters.
    pub likelihood: LikelihoodChoice,
    /// Inducing inputs M.
    pub m: usize,
    /// Minibatch size B.
    pub b: usize,
    /// Iteration budget.
    pub iterations: u64,
    /// Evenly spaced checkpoints at which the full-data ELBO is recorded, besides each of the
    /// first ten iterations (for the log-axis figures); 0 records only the last iteration.
    pub checkpoints: u64,
    /// The initial noise variance of a Gaussian likelihood, instead of the command line's 0.1.
    pub noise_variance: Option<f64>,
}

/// How q(v) is trained in a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Method {
    /// Adam on m and L as well as on the hyperparameters, at this learning rate.
    Adam {
        /// Adam's learning rate for q and the hyperparameters.
        learning_rate: f64,
    },
    /// Natural steps in ξ with a schedule, Adam on the hyperparameters.
    NatGrad {
        /// The parametrisation.
        xi: Xi,
        /// `None`: the default schedule of the likelihood; `Some(γ)`: constant γ.
        gamma: Option<f64>,
        /// Whether a step must not lower the minibatch ELBO (the crate's default) or only
        /// keep S positive definite (the paper's plain algorithm).
        ascent_check: AscentCheck,
    },
}

impl Method {
    /// The label used in tables and legends.
    pub fn label(&self) -> String {
        match self {
            Method::Adam { learning_rate } if *learning_rate == ADAM_LEARNING_RATE => {
                "Adam alone".to_string()
            }
            Method::Adam { learning_rate } => format!("Adam alone, lr {learning_rate}"),
            Method::NatGrad { xi, .. } => format!("natgrad {} + Adam", xi.symbol()),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone)]
pub(super) struct Run {
    /// The method.
    pub method: Method,
    /// Full-data ELBO at the case's checkpoints (each report's `halvings` sums those since the previous
    /// checkpoint; `elapsed` is zero so that reports are reproducible).
    pub checkpoints: Vec<IterReport>,
    /// Iterations completed.
    pub completed: u64,
    /// Iterations whose natural step was shortened.
    pub shortened: u64,
    /// Why the run ended early, if it did.
    pub failure: Option<String>,
    /// Full-data ELBO of the final model.
    pub final_elbo: f64,
    /// Test metrics of the final model (`None` without test rows).
    pub test: Option<Metrics>,
    /// For a case with a set noise variance (part (e)): the condition number of the optimal S
    /// of the collapsed bound at the final hyperparameters, S* = (I + A Aᵀ/σₙ²)⁻¹.
    pub optimal_s_condition: Option<f64>,
}

impl Run {
    /// The first checkpoint iteration whose ELBO is at least `target`.
    pub fn iterations_to(&self, target: f64) -> Option<u64> {
        first_reaching(&self.checkpoints, target)
    }
}

/// Trains `case` by `method` from SE-ARD (variance 1, lengthscales 1), the likelihood's initial
/// parameters, q = N(0, I) and k-means++ inducing inputs, with batches and Z seeded by `seed`.
/// A run that fails part-way (a step that cannot be made valid, a non-finite value) is
/// reported with its failure and the last good model, not returned as an error.
///
/// # Errors
/// Errors before training starts (inducing inputs, model construction) and in evaluating the
/// final model.
pub(super) fn train(case: &Case, method: Method, seed: u64) -> Result<Run> {
    train_observed(case, method, seed, None)
}

/// [`train`], with `extra` told every iteration after the checkpoints are (for the wall-clock
/// record of `reproduce --timing`).
///
/// # Errors
/// As [`train`].
pub(super) fn train_observed(
    case: &Case,
    method: Method,
    seed: u64,
    extra: Option<&mut dyn Observer>,
) -> Result<Run> {
    let (x, y) = (&case.split.x, &case.split.y);
    let mut trainer = trainer(initial_model(case, seed)?, method, case.b >= x.nrows());
    // No checkpoints: only the last iteration is recorded.
    let (first, every) = match case.checkpoints {
        0 => (0, case.iterations.max(1)),
        n => (10, (case.iterations / n).max(1)),
    };
    let mut observer = ElboCheckpoints::new(x, y, first, every, case.iterations);
    let plan = BatchPlan::Seeded {
        batch_size: case.b,
        seed,
    };
    let outcome = InMemory::new(x, y, plan).and_then(|mut source| {
        let rules = StopRules::default();
        match extra {
            Some(extra) => trainer.run(
                &mut source,
                case.iterations,
                rules,
                &mut [&mut observer, extra],
            ),
            None => trainer.run(&mut source, case.iterations, rules, &mut [&mut observer]),
        }
    });
    let failure = outcome
        .err()
        .map(|e| format!("stopped at iteration {}: {e}", trainer.iteration() + 1));
    let test = if case.split.x_test.nrows() > 0 {
        Some(
            trainer
                .model
                .evaluate(&case.split.x_test, &case.split.y_test)?,
        )
    } else {
        None
    };
    let optimal_s_condition = match case.noise_variance {
        Some(_) => Some(condition_number(trainer.model.sgpr_bound(x, y)?.q.s())),
        None => None,
    };
    Ok(Run {
        method,
        checkpoints: observer.points,
        completed: trainer.iteration(),
        shortened: observer.shortened,
        failure,
        final_elbo: trainer.model.elbo(x, y, 1.0)?,
        test,
        optimal_s_condition,
    })
}

/// The model a run of `case` starts from: SE-ARD (variance 1, lengthscales 1), the case's
/// likelihood (or a Gaussian at its set noise variance), q = N(0, I), k-means++ inducing
/// inputs seeded by `seed`.
///
/// # Errors
/// As the inducing-input choice and the model's construction.
fn initial_model(case: &Case, seed: u64) -> Result<Svgp> {
    let (x, y) = (&case.split.x, &case.split.y);
    let z = InducingInit::default().choose(x, case.m, seed)?;
    let likelihood: Box<dyn Likelihood> = match case.noise_variance {
        // a floor well below the set variance, so that Adam may move the noise either way
        Some(v) => Box::new(Gaussian::with_transform(v, Positive::with_floor(v * 1e-3))?),
        None => case
            .likelihood
            .build(svgp::tabular::classes_of(y).filter(|_| case.likelihood.is_multiclass()))?,
    };
    let kernel = initial_kernel(KernelFamily::SquaredExponential, x.ncols())?;
    Svgp::new(kernel, likelihood, z)
}

/// The trainer of `model` by `method`: Adam on everything, or natural steps on q (the
/// likelihood's default schedule for `full_batch` or a constant γ) with Adam on the rest.
fn trainer(model: Svgp, method: Method, full_batch: bool) -> Trainer {
    let (q_training, ascent_check) = match method {
        Method::Adam { .. } => (QTraining::Adam, AscentCheck::On),
        Method::NatGrad {
            xi,
            gamma,
            ascent_check,
        } => {
            let schedule = gamma.map_or_else(
                || Schedule::default_for(model.likelihood(), full_batch),
                Schedule::Constant,
            );
            (QTraining::natural(xi, schedule), ascent_check)
        }
    };
    let adam = AdamConfig {
        learning_rate: match method {
            Method::Adam { learning_rate } => learning_rate,
            Method::NatGrad { .. } => ADAM_LEARNING_RATE,
        },
        ..AdamConfig::default()
    };
    Trainer::new(model, q_training, HyperTraining::Adam(adam)).with_ascent_check(ascent_check)
}

/// λ_max / λ_min of a symmetric positive-definite matrix.
fn condition_number(s: &nalgebra::DMatrix<f64>) -> f64 {
    let eigenvalues = s.clone().symmetric_eigenvalues();
    eigenvalues.max() / eigenvalues.min()
}

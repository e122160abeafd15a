//! The front door for library users: [`Estimator`] takes raw inputs and targets, standardises
//! them, places the inducing inputs by k-means++, picks the step-size schedule for the
//! likelihood and trains (natural steps on q, Adam on the rest); the [`Fitted`] model predicts in
//! the data's original units and keeps its ELBO trace.

use super::fit::fit_memory;
use super::{FitOptions, LikelihoodChoice, SavedModel};
use crate::data::Table;
use crate::error::{Result, SvgpError};
use crate::kernel::KernelFamily;
use crate::model::Metrics;
use crate::optim::{Trace, Xi};
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// A sparse variational GP to be fitted to raw (x: N×D, y: N), with the defaults of
/// [`FitOptions`] (SE-ARD kernel, M = min(50, N), B = 256, 1000 iterations, natural steps in θ,
/// Adam at 0.01, seed 0) and no hold-out: evaluate on data of your own with [`Fitted::score`].
#[derive(Debug, Clone)]
pub struct Estimator {
    options: FitOptions,
    num_inducing: Option<usize>,
}

impl Estimator {
    /// An estimator with this likelihood.
    pub fn new(likelihood: LikelihoodChoice) -> Self {
        Estimator {
            options: FitOptions {
                likelihood,
                test_fraction: 0.0,
                ..FitOptions::default()
            },
            num_inducing: None,
        }
    }

    /// Regression with Gaussian noise.
    pub fn regression() -> Self {
        Self::new(LikelihoodChoice::Gaussian)
    }

    /// Binary classification (labels 0 and 1) with a probit link.
    pub fn classification() -> Self {
        Self::new(LikelihoodChoice::Bernoulli)
    }

    /// Classification into C ≥ 2 classes (labels 0, …, C − 1, C from the data): one latent GP per
    /// class sharing the kernel and Z, robust-max likelihood.
    pub fn multiclass() -> Self {
        Self::new(LikelihoodChoice::RobustMax)
    }

    /// The stationary kernel family (ARD, variance 1, lengthscales 1 on standardised inputs).
    pub fn kernel(mut self, family: KernelFamily) -> Self {
        self.options.kernel = family;
        self
    }

    /// M, the number of inducing inputs (at most N).
    pub fn inducing(mut self, num_inducing: usize) -> Self {
        self.num_inducing = Some(num_inducing);
        self
    }

    /// B, the minibatch size (the full batch when B ≥ N).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.options.batch_size = batch_size;
        self
    }

    /// Training iterations.
    pub fn iterations(mut self, iterations: u64) -> Self {
        self.options.iterations = iterations;
        self
    }

    /// The parametrisation ξ of the natural step.
    pub fn parametrisation(mut self, xi: Xi) -> Self {
        self.options.xi = xi;
        self
    }

    /// A constant natural step size γ instead of the likelihood's default schedule.
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.options.gamma = Some(gamma);
        self
    }

    /// Adam's learning rate for the kernel, the likelihood and Z.
    pub fn adam_learning_rate(mut self, learning_rate: f64) -> Self {
        self.options.adam_learning_rate = learning_rate;
        self
    }

    /// The seed of the inducing inputs and the batches.
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = seed;
        self
    }

    /// Fits to raw inputs `x` (N×D) and targets `y` (N).
    ///
    /// # Errors
    /// `ShapeMismatch` if y does not have N entries; `InvalidParameter` for no rows, a
    /// non-finite input (naming its row and column) or the setting at fault; `TooFewRows` for more inducing inputs than rows; `InvalidTarget` naming the row
    /// of a label outside the likelihood's domain; `SingleClass`; training errors.
    pub fn fit(&self, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Fitted> {
        crate::error::check_shape(
            "targets",
            crate::error::Shape::new(x.nrows(), 1),
            crate::error::Shape::new(y.len(), 1),
        )?;
        let options = FitOptions {
            num_inducing: self.num_inducing.unwrap_or(x.nrows().min(50)),
            ..self.options.clone()
        };
        if x.nrows() == 0 {
            return Err(SvgpError::InvalidParameter {
                name: "x".into(),
                value: 0.0,
                reason: "there are no rows to fit",
            });
        }
        super::check_finite_rows("x", x)?;
        let classes = match options.likelihood.is_multiclass() {
            true => super::check_class_indices(y).map(|()| super::classes_of(y))?,
            false => None,
        };
        options.likelihood.build(classes)?.check_targets(y)?;
        let mut trace = Trace::default();
        let report = fit_memory(&in_memory_table(x, y), &options, &mut [&mut trace])?;
        Ok(Fitted {
            saved: report.saved,
            elbo_trace: trace.reports.iter().map(|r| r.elbo).collect(),
            elbo: report.elbo,
        })
    }
}

/// The table of raw (x, y), columns named `x1`, …, `xD` and `y`.
fn in_memory_table(x: &DMatrix<f64>, y: &DVector<f64>) -> Table {
    Table {
        x: x.clone(),
        y: y.clone(),
        feature_names: (1..=x.ncols()).map(|j| format!("x{j}")).collect(),
        target_name: "y".into(),
        extra_targets: Vec::new(),
        path: "(in memory)".into(),
        lines: (1..=x.nrows() as u64).collect(),
        target_column: x.ncols() + 1,
        rows_dropped: 0,
        classes: None,
    }
}

/// A fitted model: predictions in the data's original units, the training trace.
#[derive(Debug, Clone)]
pub struct Fitted {
    saved: SavedModel,
    elbo_trace: Vec<f64>,
    elbo: f64,
}

impl Fitted {
    /// Predictive mean and variance of y at raw inputs `x` (N×D), as [`super::predict`]: N×1
    /// each for a scalar target (for a binary likelihood p(y = 1) and p(1 − p)), N×C for a
    /// C-class likelihood.
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong number of columns.
    pub fn predict(&self, x: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
        super::predict(&self.saved, x)
    }

    /// Each class's probability at raw inputs `x` (N×D), N×C with column c for class c (for a
    /// binary likelihood column 0 is p(y = 0) and column 1 p(y = 1)).
    ///
    /// # Errors
    /// `InvalidParameter { name: "likelihood" }` for a model that is not a classifier; as
    /// [`Fitted::predict`].
    pub fn predict_proba(&self, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
        super::predict_proba(&self.saved, x)
    }

    /// Metrics on raw (x: N×D, y: N) in original units: NLPD, and RMSE or accuracy and Brier.
    ///
    /// # Errors
    /// `InvalidTarget` for targets outside the likelihood's domain; as [`Fitted::predict`].
    pub fn score(&self, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Metrics> {
        super::evaluate(&self.saved, x, y)
    }

    /// The minibatch ELBO of every training iteration, in the model's (standardised) units.
    pub fn elbo_trace(&self) -> &[f64] {
        &self.elbo_trace
    }

    /// The full training-set ELBO at the end, in the targets' original units.
    pub fn elbo(&self) -> f64 {
        self.elbo
    }

    /// The model with its scalings (its `model` is the low-level [`crate::model::Svgp`]).
    pub fn saved(&self) -> &SavedModel {
        &self.saved
    }

    /// Writes the model file (atomically), which the command line's `predict` and `evaluate`
    /// read.
    ///
    /// # Errors
    /// `Io` naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.saved.save(path)
    }
}

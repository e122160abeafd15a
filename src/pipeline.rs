//! Tabular data end to end: fit an SVGP to a [`Table`] (seeded split, standardisation, inducing
//! inputs, training) and predict or evaluate in the data's original units. The `svgp` binary is a
//! thin layer over these calls.

use crate::data::{train_test_split, Standardiser, Table};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::kernel::{Kernel, KernelFamily, KernelSpec};
use crate::likelihood::{
    Bernoulli, BinaryLink, Gaussian, Likelihood, Poisson, PoissonLink, StudentT, DEFAULT_DF,
};
use crate::model::file::SavedModel;
use crate::model::inducing::InducingInit;
use crate::model::{Metrics, Svgp};
use crate::optim::{
    AdamConfig, BatchPlan, InvalidStepPolicy, NatGrad, Observer, QTraining, Schedule, StopReason,
    StopRules, Trainer,
};
use crate::transform::Positive;
use crate::variational::{Expectation, MeanCholesky, Natural};
use nalgebra::{DMatrix, DVector};
use std::time::Instant;

mod stream;
pub use stream::{fit_binary, planned_iterations, StreamOptions};

/// The likelihoods the command line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikelihoodChoice {
    /// Gaussian noise (regression; targets standardised).
    Gaussian,
    /// Bernoulli with probit link (classification, labels 0/1).
    Bernoulli,
    /// Student-t, ν = 3 fixed, learnable scale (robust regression; targets standardised).
    StudentT,
    /// Poisson with exp link (counts; targets kept as they are).
    Poisson,
}

impl LikelihoodChoice {
    /// Regression likelihoods have their targets standardised and report RMSE.
    pub fn standardises_targets(self) -> bool {
        matches!(
            self,
            LikelihoodChoice::Gaussian | LikelihoodChoice::StudentT
        )
    }

    /// The likelihood with its initial parameters (Gaussian σₙ² = 0.1; Student-t scale 0.3,
    /// ν = 3 fixed; probit; exp link).
    ///
    /// # Errors
    /// None in practice (the constants are valid); typed as the constructors are.
    pub fn build(self) -> Result<Box<dyn Likelihood>> {
        Ok(match self {
            LikelihoodChoice::Gaussian => Box::new(Gaussian::new(0.1)?),
            LikelihoodChoice::Bernoulli => Box::new(Bernoulli::new(BinaryLink::Probit)),
            LikelihoodChoice::StudentT => Box::new(StudentT::new(0.3, DEFAULT_DF, false)?),
            LikelihoodChoice::Poisson => Box::new(Poisson::new(PoissonLink::Exp)),
        })
    }
}

/// The parametrisation ξ of the natural-gradient step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XiChoice {
    /// θ (the default).
    Natural,
    /// η.
    Expectation,
    /// (m, L).
    MeanCholesky,
}

impl XiChoice {
    /// The natural-gradient step rule in this parametrisation, with `policy` for steps that
    /// leave S not positive definite (the command line uses the default: halve up to 10 times).
    pub fn step_rule(self, policy: InvalidStepPolicy) -> Box<dyn crate::optim::QStep> {
        match self {
            XiChoice::Natural => Box::new(NatGrad::<Natural>::new(policy)),
            XiChoice::Expectation => Box::new(NatGrad::<Expectation>::new(policy)),
            XiChoice::MeanCholesky => Box::new(NatGrad::<MeanCholesky>::new(policy)),
        }
    }

    /// The symbol used in reports: θ, η or (m, L).
    pub fn symbol(self) -> &'static str {
        match self {
            XiChoice::Natural => "θ",
            XiChoice::Expectation => "η",
            XiChoice::MeanCholesky => "(m, L)",
        }
    }
}

/// The kernel `fit` starts from: `family` with ARD over `d` inputs, variance 1 and every
/// lengthscale 1 (suited to standardised inputs), positive through the default softplus.
///
/// # Errors
/// As [`KernelSpec::build`].
pub fn initial_kernel(family: KernelFamily, d: usize) -> Result<Box<dyn Kernel>> {
    let mut params = vec![Positive::default().inverse("variance", 1.0)?];
    params.extend(std::iter::repeat_n(
        Positive::default().inverse("lengthscale", 1.0)?,
        d,
    ));
    KernelSpec::Stationary {
        family,
        params,
        floor: Positive::default().floor,
    }
    .build()
}

/// Everything `fit` needs besides the data. `Default` gives the command line's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// The likelihood (default Gaussian).
    pub likelihood: LikelihoodChoice,
    /// The kernel family, ARD, initial variance 1 and lengthscales 1 on standardised inputs
    /// (default squared exponential).
    pub kernel: KernelFamily,
    /// M (default 50; must not exceed the number of training rows).
    pub num_inducing: usize,
    /// B (default 256; the full batch when larger than N).
    pub batch_size: usize,
    /// Training iterations (default 1000).
    pub iterations: u64,
    /// ξ (default θ).
    pub xi: XiChoice,
    /// Constant γ; `None` for the default of the likelihood ([`Schedule::default_for`]).
    pub gamma: Option<f64>,
    /// Adam's learning rate for hyperparameters and Z (default 0.01).
    pub adam_learning_rate: f64,
    /// Seed of the split, the inducing inputs and the batches (default 0).
    pub seed: u64,
    /// Fraction of rows held out for testing, in [0, 1) (default 0.1).
    pub test_fraction: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            likelihood: LikelihoodChoice::Gaussian,
            kernel: KernelFamily::SquaredExponential,
            num_inducing: 50,
            batch_size: 256,
            iterations: 1000,
            xi: XiChoice::Natural,
            gamma: None,
            adam_learning_rate: 0.01,
            seed: 0,
            test_fraction: 0.1,
        }
    }
}

/// What `fit` did.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The trained model with its schema and scalings.
    pub saved: SavedModel,
    /// Iterations run.
    pub iterations: u64,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// Full training-set ELBO at the end, in the targets' original units.
    pub elbo: f64,
    /// Wall time of the training loop alone.
    pub train_seconds: f64,
    /// Training rows N.
    pub num_data: usize,
    /// Rows processed by the training iterations (the sum of the batch sizes).
    pub rows_trained: u64,
    /// Natural steps shortened by the safeguard.
    pub shortened_steps: u64,
    /// Metrics on the held-out rows, in original units (none when the test fraction is 0).
    pub test: Option<Metrics>,
}

fn option_error(name: &str, value: f64, reason: &'static str) -> SvgpError {
    SvgpError::InvalidParameter {
        name: name.to_string(),
        value,
        reason,
    }
}

/// Fits an SVGP to `table` with `options`, reporting every iteration to `observers`.
///
/// # Errors
/// `InvalidParameter` naming the option at fault (`--inducing` larger than the training rows,
/// `--test-fraction` outside [0, 1), non-positive γ, batch size or learning rate);
/// `InvalidTarget` for labels outside the likelihood's domain (naming the row) or a single class;
/// training errors.
pub fn fit(
    table: &Table,
    options: &FitOptions,
    observers: &mut [&mut dyn Observer],
) -> Result<FitReport> {
    let o = options;
    check_options(o)?;
    let likelihood = o.likelihood.build()?;
    likelihood
        .check_targets(&table.y)
        .map_err(|e| table.locate(e))?;
    if likelihood.is_binary()
        && (table.y.iter().all(|&v| v == 0.0) || table.y.iter().all(|&v| v == 1.0))
    {
        return Err(SvgpError::Csv {
            path: table.path.clone(),
            line: 0,
            column: table.target_column,
            reason: "classification needs both classes 0 and 1 in the target column; it has one"
                .into(),
        });
    }
    let (train, test) = train_test_split(table.x.nrows(), o.test_fraction, o.seed);
    let pick = |rows: &[usize]| {
        (
            table.x.select_rows(rows.iter()),
            DVector::from_iterator(rows.len(), rows.iter().map(|&i| table.y[i])),
        )
    };
    let (x_raw, y_raw) = pick(&train);
    if o.num_inducing == 0 || o.num_inducing > x_raw.nrows() {
        return Err(option_error(
            "--inducing",
            o.num_inducing as f64,
            "must be between 1 and the number of training rows",
        ));
    }
    let input_scaling = Standardiser::fit(&x_raw);
    let target_scaling = o
        .likelihood
        .standardises_targets()
        .then(|| Standardiser::fit_vector(&y_raw));
    let x = input_scaling.transform(&x_raw);
    let y = target_scaling
        .as_ref()
        .map_or(y_raw.clone(), |s| s.transform_vector(&y_raw));

    let z = InducingInit::default().choose(&x, o.num_inducing, o.seed)?;
    let mut trainer = build_trainer(o, likelihood, z, o.batch_size >= x.nrows())?;
    let start = Instant::now();
    let plan = BatchPlan::Seeded {
        batch_size: o.batch_size,
        seed: o.seed,
    };
    let summary = trainer.run(&x, &y, plan, o.iterations, StopRules::default(), observers)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let log_scale = target_scaling.as_ref().map_or(0.0, |s| s.scale[0].ln());
    let elbo = trainer.model.elbo(&x, &y, 1.0)? - x.nrows() as f64 * log_scale;
    let saved = SavedModel {
        model: trainer.model,
        feature_names: table.feature_names.clone(),
        target_name: table.target_name.clone(),
        input_scaling: Some(input_scaling),
        target_scaling,
    };
    let test = if test.is_empty() {
        None
    } else {
        let (xt, yt) = pick(&test);
        Some(evaluate(&saved, &xt, &yt)?)
    };
    Ok(FitReport {
        iterations: summary.iterations,
        stop_reason: summary.reason,
        elbo,
        train_seconds,
        num_data: x.nrows(),
        rows_trained: summary.iterations * o.batch_size.min(x.nrows()) as u64,
        shortened_steps: summary.shortened_steps,
        test,
        saved,
    })
}

/// Checks the options that do not depend on the data.
fn check_options(o: &FitOptions) -> Result<()> {
    if !(0.0..1.0).contains(&o.test_fraction) {
        return Err(option_error(
            "--test-fraction",
            o.test_fraction,
            "must be in [0, 1)",
        ));
    }
    if o.batch_size == 0 {
        return Err(option_error("--batch-size", 0.0, "must be at least 1"));
    }
    if !(o.adam_learning_rate.is_finite() && o.adam_learning_rate > 0.0) {
        return Err(option_error(
            "--adam-lr",
            o.adam_learning_rate,
            "must be finite and positive",
        ));
    }
    Ok(())
}

/// The trainer the options describe for inducing inputs `z` (M×D, standardised units): an
/// ARD kernel of the chosen family with variance 1 and lengthscales 1, the likelihood, the
/// natural step in ξ with γ (constant, or the likelihood's default for full or minibatches),
/// and Adam on the hyperparameters and Z.
fn build_trainer(
    o: &FitOptions,
    likelihood: Box<dyn Likelihood>,
    z: DMatrix<f64>,
    full_batch: bool,
) -> Result<Trainer> {
    let kernel = initial_kernel(o.kernel, z.ncols())?;
    let model = Svgp::new(kernel, likelihood, z)?;
    let schedule = match o.gamma {
        Some(g) => Schedule::Constant(g),
        None => Schedule::default_for(model.likelihood(), full_batch),
    };
    schedule.check()?;
    let step = o.xi.step_rule(InvalidStepPolicy::default());
    let adam = AdamConfig {
        learning_rate: o.adam_learning_rate,
        ..AdamConfig::default()
    };
    Ok(Trainer::new(
        model,
        QTraining::NatGrad { step, schedule },
        adam,
        true,
    ))
}

/// Predictive mean and variance of y at raw inputs `x` (N×D, columns in `feature_names` order),
/// in the target's original units (for a binary likelihood: p(y = 1) and p(1 − p)).
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; model errors.
pub fn predict(saved: &SavedModel, x: &DMatrix<f64>) -> Result<(DVector<f64>, DVector<f64>)> {
    let xs = standardised_inputs(saved, x)?;
    let (mean, var) = saved.model.predict_y(&xs)?;
    Ok(match &saved.target_scaling {
        Some(s) => (s.inverse_vector(&mean), var * s.scale[0].powi(2)),
        None => (mean, var),
    })
}

/// Metrics at raw inputs `x` and targets `y`, in the target's original units (RMSE scaled back,
/// NLPD shifted by log of the target scale).
///
/// # Errors
/// `InvalidTarget` for targets outside the likelihood's domain; as [`predict`].
pub fn evaluate(saved: &SavedModel, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Metrics> {
    let xs = standardised_inputs(saved, x)?;
    let ys = saved
        .target_scaling
        .as_ref()
        .map_or(y.clone(), |s| s.transform_vector(y));
    let mut metrics = saved.model.evaluate(&xs, &ys)?;
    if let Some(s) = &saved.target_scaling {
        metrics.rmse = metrics.rmse.map(|r| r * s.scale[0]);
        metrics.nlpd += s.scale[0].ln();
    }
    Ok(metrics)
}

/// Raw inputs (N×D, D = the model's features) in the model's standardised units.
fn standardised_inputs(saved: &SavedModel, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_shape(
        "inputs",
        Shape::new(x.nrows(), saved.feature_names.len()),
        Shape::new(x.nrows(), x.ncols()),
    )?;
    Ok(saved
        .input_scaling
        .as_ref()
        .map_or(x.clone(), |s| s.transform(x)))
}

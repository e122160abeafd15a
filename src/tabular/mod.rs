//! The tabular layer: raw tables in, fitted models with their schema and scalings out. [`fit`]
//! trains on a [`Table`](crate::data::Table) in memory and [`fit_binary`] on a `.svgpb` table
//! streamed from disk, both through one path (seeded hold-out, standardisation, inducing inputs
//! by k-means++, one [`crate::optim::Trainer::run`], the full-data ELBO, test metrics);
//! [`predict`] and [`evaluate`] work in the data's original units; [`SavedModel`] is the model
//! file; [`FitOptions`] and the names of its choices ([`Named`]) are the one settings schema.

use crate::data::{Batch, Standardiser};
use crate::error::{check_shape, Result, Shape};
use crate::kernel::{Kernel, KernelFamily, KernelSpec};
use crate::model::Metrics;
use crate::optim::StopReason;
use crate::transform::Positive;
use nalgebra::{DMatrix, DVector};

mod checkpoint;
mod estimator;
mod file;
mod fit;
mod joint;
mod scan;
mod settings;
mod stream;
pub use checkpoint::{settings_of, Checkpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION};
pub use estimator::{Estimator, Fitted};
pub use file::{SavedModel, FORMAT, FORMAT_VERSION};
pub use fit::{build_trainer, fit, fit_data, TrainingData};
pub use joint::{predict_joint, sample_joint};
pub use scan::{evaluate_csv, inputs_csv, predict_csv};
pub use settings::{
    accepted_names, parse_name, Checkpointing, FitOptions, LikelihoodChoice, Named, UnknownName,
};
pub use stream::{
    evaluate_binary, fit_binary, inputs_binary, planned_iterations, predict_binary, StreamOptions,
    StreamSource,
};

/// The rows (at least M) among which a fit places its inducing inputs by k-means++: a seeded
/// sample of the training rows when there are more, all of them otherwise. 20 000 rows give
/// M ≤ 2000 inducing inputs ≥ 10 rows each, and keep k-means++ and its Lloyd steps (O(N·M·D)
/// each) a small part of a fit however many rows it has.
pub const INDUCING_SAMPLE: usize = 20_000;

/// The number of classes C of targets that are class indices 0..C−1, each present at least once
/// (so a stray large index cannot ask for millions of latent GPs); `None` when there are no
/// targets, a target is not a non-negative integer, or a class below the largest has no row.
pub fn classes_of(y: &DVector<f64>) -> Option<usize> {
    classes_of_values(y.iter().copied())
}

/// [`classes_of`] over any sequence of targets.
pub(crate) fn classes_of_values(y: impl Iterator<Item = f64>) -> Option<usize> {
    let mut seen = std::collections::BTreeSet::new();
    add_classes(&mut seen, y)
        .then(|| contiguous_count(&seen))
        .flatten()
}

/// Whether `v` can be a class index: an integer in 0..10⁹.
fn is_class_index(v: f64) -> bool {
    v >= 0.0 && v.fract() == 0.0 && v < 1e9
}

/// Checks that every target is a class index (an integer 0, 1, … below 10⁹), as a multiclass
/// fit needs before it counts the classes with [`classes_of`].
///
/// # Errors
/// `InvalidTarget` naming the first row that is not (negative, fractional, NaN, infinite).
pub fn check_class_indices(y: &DVector<f64>) -> crate::Result<()> {
    crate::likelihood::check_each(
        y,
        "class targets must be integers 0, 1, …, C − 1 (C = number of classes)",
        is_class_index,
    )
}

/// Adds each target to `seen`; false at the first that is not a class index.
pub(crate) fn add_classes(
    seen: &mut std::collections::BTreeSet<u64>,
    y: impl Iterator<Item = f64>,
) -> bool {
    for v in y {
        if !is_class_index(v) {
            return false;
        }
        seen.insert(v as u64);
    }
    true
}

/// C when `seen` is exactly 0..C−1, C ≥ 1.
pub(crate) fn contiguous_count(seen: &std::collections::BTreeSet<u64>) -> Option<usize> {
    let c = seen.len();
    (c > 0 && seen.last() == Some(&(c as u64 - 1))).then_some(c)
}

/// The kernel a fit starts from: `family` with ARD over `d` inputs, variance 1 and every
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

/// What a fit did.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// The trained model with its schema and scalings.
    pub saved: SavedModel,
    /// Iterations completed, counted from the start of the original fit when resumed.
    pub iterations: u64,
    /// Why training stopped.
    pub stop_reason: StopReason,
    /// Full training-set ELBO at the end, in the targets' original units (NaN when training was
    /// interrupted: the pass over all the data is skipped).
    pub elbo: f64,
    /// The log prior Σ [log p(θ) + log|dθ/dp|] of the options' priors at the final
    /// hyperparameters, in the model's units (0 without priors); the fit ascended the
    /// minibatch ELBO plus this.
    pub log_prior: f64,
    /// Wall time of the training loop alone.
    pub train_seconds: f64,
    /// Training rows N.
    pub num_data: usize,
    /// Rows processed by the training iterations (the sum of the batch sizes).
    pub rows_trained: u64,
    /// Natural steps shortened by the safeguard.
    pub shortened_steps: u64,
    /// Metrics on the held-out rows, in original units (none when the test fraction is 0, or
    /// when training was interrupted).
    pub test: Option<Metrics>,
    /// The checkpoint written when training stopped, if checkpointing was on.
    pub checkpoint: Option<std::path::PathBuf>,
    /// The minibatch ELBO of every iteration, from the start of the original fit when resumed.
    pub elbo_trace: Vec<f64>,
}

/// Predictive mean and variance of y at raw inputs `x` (N×D, columns in `feature_names` order),
/// in the target's original units: N×1 each for a scalar target (for a binary likelihood:
/// p(y = 1) and p(1 − p)), N×C for a C-class likelihood (each class's probability p and p(1 − p)),
/// N×P for P outputs (each output's mean and variance).
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; model errors.
pub fn predict(saved: &SavedModel, x: &DMatrix<f64>) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
    let xs = standardised_inputs(saved, x)?;
    let (mut mean, mut var) = saved.model.predict_y(&xs)?;
    if let Some(s) = &saved.target_scaling {
        mean = s.inverse(&mean);
        for (p, mut column) in var.column_iter_mut().enumerate() {
            column *= s.scale[p].powi(2);
        }
    }
    Ok((mean, var))
}

/// Each class's probability at raw inputs `x` (N×D), N×C with column c for class c (for a
/// binary likelihood column 0 is p(y = 0) and column 1 p(y = 1)).
///
/// # Errors
/// `InvalidParameter { name: "likelihood" }` for a model that is not a classifier; as
/// [`predict`].
pub fn predict_proba(saved: &SavedModel, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    let Some(classes) = saved.model.likelihood().num_classes() else {
        return Err(crate::error::SvgpError::InvalidParameter {
            name: "likelihood".into(),
            value: f64::NAN,
            reason: "class probabilities need a classification likelihood",
        });
    };
    let p = predict(saved, x)?.0;
    if p.ncols() == classes {
        return Ok(p);
    }
    Ok(DMatrix::from_fn(p.nrows(), 2, |i, c| match c {
        1 => p[(i, 0)],
        _ => 1.0 - p[(i, 0)],
    }))
}

/// The latent GPs' marginal means and variances at raw inputs `x` (N×D), N×L each: with
/// standardised targets, latent p (p < P, the outputs) in output p's units, every other latent
/// in the model's own units.
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns.
pub fn predict_latent(
    saved: &SavedModel,
    x: &DMatrix<f64>,
) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
    let xs = standardised_inputs(saved, x)?;
    let (mut mean, mut var) = saved.model.predict_f(&xs)?;
    if let Some(s) = &saved.target_scaling {
        for p in 0..s.mean.len() {
            let (shift, scale) = (s.mean[p], s.scale[p]);
            mean.column_mut(p).apply(|t| *t = shift + scale * *t);
            var.column_mut(p).apply(|t| *t *= scale * scale);
        }
    }
    Ok((mean, var))
}

/// Metrics at raw inputs `x` and targets `y` (N×P column-major), in the targets' original units
/// (each output's RMSE scaled back and NLPD shifted by the log of its scale; the pooled RMSE
/// from the outputs' mean squared errors, the NLPD shifted by Σₚ log sₚ).
///
/// # Errors
/// `ShapeMismatch` unless y has N·P entries; `InvalidTarget` for targets outside the
/// likelihood's domain; as [`predict`].
pub fn evaluate(saved: &SavedModel, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Metrics> {
    let outputs = saved.model.likelihood().num_outputs();
    crate::error::check_targets_shape("test targets", x.nrows(), outputs, y.len())?;
    let xs = standardised_inputs(saved, x)?;
    let ys = saved
        .target_scaling
        .as_ref()
        .map_or(y.clone(), |s| s.transform_vector(y));
    let mut metrics = saved.model.evaluate(&xs, &ys)?;
    let Some(s) = &saved.target_scaling else {
        return Ok(metrics);
    };
    metrics.nlpd += s.log_scale_sum();
    if metrics.outputs.is_empty() {
        metrics.rmse = metrics.rmse.map(|r| r * s.scale[0]);
        return Ok(metrics);
    }
    for (o, scale) in metrics.outputs.iter_mut().zip(s.scale.iter()) {
        (o.rmse, o.nlpd) = (o.rmse * scale, o.nlpd + scale.ln());
    }
    let mean_square = metrics.outputs.iter().map(|o| o.rmse * o.rmse).sum::<f64>();
    metrics.rmse = Some((mean_square / metrics.outputs.len() as f64).sqrt());
    Ok(metrics)
}

/// Raw inputs (N×D, D = the model's features) in the model's standardised units.
///
/// # Errors
/// `ShapeMismatch` for a wrong number of columns; `InvalidParameter` naming the row and column
/// of a non-finite input (which would make a silent NaN prediction).
fn standardised_inputs(saved: &SavedModel, x: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    check_shape(
        "inputs",
        Shape::new(x.nrows(), saved.feature_names.len()),
        Shape::new(x.nrows(), x.ncols()),
    )?;
    check_finite_rows("inputs", x)?;
    Ok(saved
        .input_scaling
        .as_ref()
        .map_or(x.clone(), |s| s.transform(x)))
}

/// `InvalidParameter { name: "<what> row i, column j" }` (0-based) for the first non-finite
/// entry of `x`.
pub(crate) fn check_finite_rows(what: &str, x: &DMatrix<f64>) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(crate::error::SvgpError::InvalidParameter {
            name: format!("{what} row {}, column {}", k % x.nrows(), k / x.nrows()),
            value: x.as_slice()[k],
            reason: "entries must be finite",
        }),
        None => Ok(()),
    }
}

/// The scalings of a fit: inputs always, targets for regression likelihoods.
#[derive(Debug, Clone)]
pub struct Scalings {
    /// The inputs' map (D columns).
    pub inputs: Standardiser,
    /// The targets' map (P columns), for a likelihood that standardises them.
    pub targets: Option<Standardiser>,
}

impl Scalings {
    /// `batch` (raw units) in the model's units.
    fn apply(&self, batch: Batch) -> Batch {
        Batch {
            x: self.inputs.transform(&batch.x),
            y: self
                .targets
                .as_ref()
                .map_or(batch.y.clone(), |s| s.transform_vector(&batch.y)),
            rows: batch.rows,
        }
    }
}

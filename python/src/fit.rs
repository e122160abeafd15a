//! `svgp._svgp.fit`: checks the data (naming the row and column of a bad entry), builds the
//! library's `FitOptions` and trains through `svgp::tabular::fit` with the GIL released.

use crate::arrays::{check_finite, check_finite_vector, Matrix, Vector};
use crate::errors::{to_py, value_error};
use crate::fitted::Fitted;
use crate::watch::{Flag, Watch};
use pyo3::prelude::*;
use svgp::data::Table;
use svgp::kernel::KernelFamily;
use svgp::optim::Xi;
use svgp::tabular::{check_class_indices, classes_of, FitOptions, LikelihoodChoice};

/// The likelihood named `name`.
pub fn likelihood_of(name: &str) -> PyResult<LikelihoodChoice> {
    Ok(match name {
        "gaussian" => LikelihoodChoice::Gaussian,
        "bernoulli" => LikelihoodChoice::Bernoulli,
        "student_t" => LikelihoodChoice::StudentT,
        "poisson" => LikelihoodChoice::Poisson,
        "robustmax" => LikelihoodChoice::RobustMax,
        "softmax" => LikelihoodChoice::Softmax,
        "heteroscedastic" => LikelihoodChoice::Heteroscedastic,
        _ => {
            return Err(value_error(format!(
                "likelihood {name:?}: expected 'gaussian', 'bernoulli', 'student_t', 'poisson', \
                 'robustmax', 'softmax' or 'heteroscedastic'"
            )))
        }
    })
}

/// The kernel family named `name`.
pub fn kernel_of(name: &str) -> PyResult<KernelFamily> {
    Ok(match name {
        "se" | "rbf" => KernelFamily::SquaredExponential,
        "matern12" => KernelFamily::Matern12,
        "matern32" => KernelFamily::Matern32,
        "matern52" => KernelFamily::Matern52,
        _ => {
            return Err(value_error(format!(
                "kernel {name:?}: expected 'se' (or 'rbf'), 'matern12', 'matern32' or 'matern52'"
            )))
        }
    })
}

/// The parametrisation ξ named `name`.
fn xi_of(name: &str) -> PyResult<Xi> {
    Ok(match name {
        "natural" => Xi::Natural,
        "expectation" => Xi::Expectation,
        "meansqrt" => Xi::MeanCholesky,
        _ => {
            return Err(value_error(format!(
                "parametrisation {name:?}: expected 'natural', 'expectation' or 'meansqrt'"
            )))
        }
    })
}

/// The settings of a fit as Python passes them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Settings {
    likelihood: String,
    kernel: String,
    num_inducing: Option<usize>,
    batch_size: usize,
    max_iter: u64,
    parametrisation: String,
    gamma: Option<f64>,
    adam_lr: f64,
    random_state: u64,
    /// The class labels of a classifier's targets 0..C−1 (kept in the model file).
    pub classes: Option<Vec<String>>,
}

impl Settings {
    /// The library's options for N rows (M defaults to min(50, N), as `svgp::Estimator`).
    pub fn options(&self, n: usize) -> PyResult<FitOptions> {
        if self.gamma.is_some_and(|g| !(g.is_finite() && g > 0.0)) {
            return Err(value_error(format!(
                "gamma = {}: must be finite and positive",
                self.gamma.unwrap_or(f64::NAN)
            )));
        }
        Ok(FitOptions {
            likelihood: likelihood_of(&self.likelihood)?,
            kernel: kernel_of(&self.kernel)?,
            num_inducing: self.num_inducing.unwrap_or(n.min(50)),
            batch_size: self.batch_size,
            iterations: self.max_iter,
            xi: xi_of(&self.parametrisation)?,
            gamma: self.gamma,
            adam_learning_rate: self.adam_lr,
            seed: self.random_state,
            test_fraction: 0.0,
            ..FitOptions::default()
        })
    }
}

/// Checks raw (x, y) for a fit with `likelihood` and `outputs` target columns: rows, matching
/// lengths, finite entries and targets in the likelihood's domain, each error naming the row
/// (and column).
fn check_data(
    x: &nalgebra::DMatrix<f64>,
    y: &nalgebra::DVector<f64>,
    likelihood: LikelihoodChoice,
    outputs: usize,
) -> PyResult<()> {
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(value_error(format!(
            "X has shape ({}, {}): a fit needs at least one row and one column",
            x.nrows(),
            x.ncols()
        )));
    }
    if y.len() != x.nrows() * outputs {
        return Err(value_error(format!(
            "X has {} rows but y has {} entries for {outputs} output(s)",
            x.nrows(),
            y.len()
        )));
    }
    check_finite("X", x)?;
    check_finite_vector("y", y)?;
    if outputs > 1 {
        return likelihood.build_outputs(outputs).map(drop).map_err(to_py);
    }
    let classes = match likelihood.is_multiclass() {
        true => {
            check_class_indices(y).map_err(to_py)?;
            Some(classes_of(y).ok_or_else(|| {
                value_error("y must hold class indices 0..C−1, each class present".into())
            })?)
        }
        false => None,
    };
    likelihood
        .build(classes)
        .map_err(to_py)?
        .check_targets(y)
        .map_err(to_py)
}

/// Fits a model to raw `x` (N×D) and `y` (N, or N×P column-major for `outputs` = P target
/// columns, named y0 … y{P−1}) with `settings`, calling `callback(iteration,
/// elbo, gamma, halvings)` after each iteration (returning `False` stops training) and drawing
/// a progress line on stderr when `verbose`. Returns the fitted model and the exception that
/// stopped training (a `KeyboardInterrupt`, or the callback's), if one did: the model is kept
/// at its last accepted state either way, and the caller raises the exception.
#[pyfunction]
#[pyo3(signature = (x, y, settings, feature_names, callback=None, verbose=false, outputs=1))]
#[allow(clippy::too_many_arguments)] // the Python signature, keywords after the fourth
pub fn fit(
    py: Python<'_>,
    x: Matrix<'_>,
    y: Vector<'_>,
    settings: Settings,
    feature_names: Vec<String>,
    callback: Option<Py<PyAny>>,
    verbose: bool,
    outputs: usize,
) -> PyResult<(Fitted, Option<PyErr>)> {
    let (x, y) = (x.to_dmatrix(), y.to_dvector());
    let options = settings.options(x.nrows())?;
    check_data(&x, &y, options.likelihood, outputs.max(1))?;
    if feature_names.len() != x.ncols() {
        return Err(value_error(format!(
            "{} feature names for {} columns",
            feature_names.len(),
            x.ncols()
        )));
    }
    let n = x.nrows();
    let mut target_names: Vec<String> = match outputs {
        0 | 1 => vec!["y".into()],
        p => (0..p).map(|k| format!("y{k}")).collect(),
    };
    let table = Table {
        target_column: x.ncols() + 1,
        x,
        y,
        feature_names,
        target_name: target_names.remove(0),
        extra_targets: target_names,
        path: "(arrays)".into(),
        lines: (1..=n as u64).collect(),
        rows_dropped: 0,
        classes: settings.classes,
    };
    let flag = Flag::take();
    let options = FitOptions {
        interrupt: Some(flag.0),
        ..options
    };
    let mut watch = Watch::new(flag.0, callback.as_ref(), verbose, options.iterations);
    let report = py.detach(|| svgp::tabular::fit(&table, &options, &mut [&mut watch]));
    let report = report.map_err(to_py)?;
    let error = watch.error.take();
    Ok((Fitted::new(report, watch.reports), error))
}

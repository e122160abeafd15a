//! `svgp._svgp.fit`: checks the data (naming the row and column of a bad entry), reads the
//! settings into the library's `FitOptions` and trains through `svgp::tabular::fit` with the GIL released.

use crate::arrays::{check_finite, check_finite_vector, Matrix, Vector};
use crate::errors::{to_py, value_error};
use crate::fitted::Fitted;
use crate::settings::Settings;
use crate::watch::{Flag, Watch};
use pyo3::prelude::*;
use svgp::data::Table;
use svgp::tabular::{check_class_indices, classes_of, FitOptions, LikelihoodChoice};

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

//! `svgp._svgp.Fitted`: a trained model with its scalings (the library's `SavedModel`) and its
//! training trace. Predicts in the data's original units, scores, saves the model file the
//! command line reads, and writes the library's PNG/SVG plots.

use crate::arrays::{
    check_columns, check_finite, check_finite_vector, joint_of, matrix_to_numpy, samples_to_numpy,
    stack_to_numpy, to_numpy, Matrix, Vector,
};
use crate::errors::{to_py, value_error};
use crate::record::{reason_name, Record, RecordItems};
use nalgebra::{DMatrix, DVector};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::{Path, PathBuf};
use svgp::kernel::KernelSpec;
use svgp::likelihood::LikelihoodSpec;
use svgp::optim::{IterReport, StopReason};
use svgp::plot::DataPlot;
use svgp::tabular::{FitReport, SavedModel};
use svgp::transform::Positive;

/// A mean and a variance per row, as numpy arrays.
type MeanVar<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);

/// Means (N×L) and one covariance per latent (L×N×N), as numpy arrays.
type MeanCov<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray3<f64>>);

/// A trained model: predictions in original units, the training trace, the model file.
#[pyclass(module = "svgp._svgp", frozen)]
pub struct Fitted {
    saved: SavedModel,
    record: Record,
}

impl Fitted {
    /// The model a fit trained, with the reports its observer recorded.
    pub fn new(report: FitReport, reports: Vec<IterReport>) -> Self {
        Fitted {
            saved: report.saved,
            record: Record {
                reports,
                stop_reason: Some(report.stop_reason),
                final_elbo: report.elbo,
                train_seconds: report.train_seconds,
            },
        }
    }

    /// A model trained elsewhere (sharded training), with its iterations' reports and its
    /// full-data ELBO.
    pub fn trained(
        saved: SavedModel,
        reports: Vec<IterReport>,
        reason: StopReason,
        final_elbo: f64,
    ) -> Self {
        Fitted {
            saved,
            record: Record {
                reports,
                stop_reason: Some(reason),
                final_elbo,
                train_seconds: 0.0,
            },
        }
    }

    /// A model read from a file (no training trace).
    fn from_saved(saved: SavedModel) -> Self {
        Fitted {
            saved,
            record: Record::loaded(),
        }
    }

    /// Raw inputs checked: the model's number of columns, every entry finite.
    fn raw_inputs(&self, x: &Matrix<'_>) -> PyResult<DMatrix<f64>> {
        let x = x.to_dmatrix();
        check_columns("X", &x, self.saved.feature_names.len())?;
        check_finite("X", &x)?;
        Ok(x)
    }

    /// Raw inputs checked and standardised as the model was trained.
    fn inputs(&self, x: &Matrix<'_>) -> PyResult<DMatrix<f64>> {
        let x = self.raw_inputs(x)?;
        Ok(match &self.saved.input_scaling {
            Some(s) => s.transform(&x),
            None => x,
        })
    }

    /// Raw inputs and targets (N×P column-major for P outputs), checked, in the model's units,
    /// with Σₚ log of the targets' scales.
    fn data(&self, x: &Matrix<'_>, y: &Vector<'_>) -> PyResult<(DMatrix<f64>, DVector<f64>, f64)> {
        let xs = self.inputs(x)?;
        let y = y.to_dvector();
        let outputs = self.saved.model.likelihood().num_outputs();
        if y.len() != xs.nrows() * outputs {
            return Err(value_error(format!(
                "X has {} rows but y has {} entries for {outputs} output(s)",
                xs.nrows(),
                y.len()
            )));
        }
        check_finite_vector("y", &y)?;
        Ok(match &self.saved.target_scaling {
            Some(s) => (xs, s.transform_vector(&y), s.log_scale_sum()),
            None => (xs, y, 0.0),
        })
    }
}

#[pymethods]
impl Fitted {
    /// Predictive mean and variance of y at raw inputs X (N×D), N×P each, in the target's
    /// units: P = 1 for a scalar target (for a binary likelihood p(y = 1) and p(1 − p)), one
    /// column per class for a C-class likelihood.
    fn predict_y<'py>(&self, py: Python<'py>, x: Matrix<'_>) -> PyResult<MeanVar<'py>> {
        let x = self.raw_inputs(&x)?;
        let (mean, var) = py
            .detach(|| svgp::tabular::predict(&self.saved, &x))
            .map_err(to_py)?;
        Ok((matrix_to_numpy(py, &mean), matrix_to_numpy(py, &var)))
    }

    /// Each class's probability at raw inputs X (N×D), N×C (for a binary likelihood column 0
    /// is p(y = 0) and column 1 p(y = 1)).
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: Matrix<'_>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = self.raw_inputs(&x)?;
        let p = py
            .detach(|| svgp::tabular::predict_proba(&self.saved, &x))
            .map_err(to_py)?;
        Ok(matrix_to_numpy(py, &p))
    }

    /// Means and variances of the L latent GPs at raw inputs X (N×D), N×L each: the first
    /// latent of a regression model in the target's units, any other in the model's units.
    fn predict_f<'py>(&self, py: Python<'py>, x: Matrix<'_>) -> PyResult<MeanVar<'py>> {
        let x = self.raw_inputs(&x)?;
        let (mean, var) = py
            .detach(|| svgp::tabular::predict_latent(&self.saved, &x))
            .map_err(to_py)?;
        Ok((matrix_to_numpy(py, &mean), matrix_to_numpy(py, &var)))
    }

    /// Means and full covariances of the L latent GPs (`of` = "f") or of y for Gaussian
    /// outputs (`of` = "y": each output's latent plus its noise) at raw inputs X (N×D), in the
    /// units of `predict_f`: means N×L (or N×P) and covariances L×N×N (or P×N×N).
    #[pyo3(signature = (x, of="f"))]
    fn predict_full_cov<'py>(
        &self,
        py: Python<'py>,
        x: Matrix<'_>,
        of: &str,
    ) -> PyResult<MeanCov<'py>> {
        let (x, of) = (self.raw_inputs(&x)?, joint_of(of)?);
        let (mean, covs) = py
            .detach(|| svgp::tabular::predict_joint(&self.saved, &x, of))
            .map_err(to_py)?;
        Ok((matrix_to_numpy(py, &mean), stack_to_numpy(py, &covs)))
    }

    /// `num_samples` joint samples of f or y (`of` as in `predict_full_cov`) at raw inputs X
    /// (N×D), drawn from `seed` (the same seed gives the same samples): S×N×L (or S×N×P).
    #[pyo3(signature = (x, num_samples, seed, of="f"))]
    fn predict_samples<'py>(
        &self,
        py: Python<'py>,
        x: Matrix<'_>,
        num_samples: usize,
        seed: u64,
        of: &str,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let (x, of) = (self.raw_inputs(&x)?, joint_of(of)?);
        let samples = py
            .detach(|| svgp::tabular::sample_joint(&self.saved, &x, of, num_samples, seed))
            .map_err(to_py)?;
        Ok(samples_to_numpy(py, &samples))
    }

    /// log p(y*ᵢ | data) per row at raw X and y, in the target's units.
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        x: Matrix<'_>,
        y: Vector<'_>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (xs, ys, log_scale) = self.data(&x, &y)?;
        let lpd = py
            .detach(|| self.saved.model.log_predictive_density(&xs, &ys))
            .map_err(to_py)?;
        Ok(to_numpy(py, &lpd.map(|v| v - log_scale)))
    }

    /// The ELBO on raw X and y (all rows, scale 1), in the target's units.
    fn elbo(&self, py: Python<'_>, x: Matrix<'_>, y: Vector<'_>) -> PyResult<f64> {
        let (xs, ys, log_scale) = self.data(&x, &y)?;
        let elbo = py
            .detach(|| self.saved.model.elbo(&xs, &ys, 1.0))
            .map_err(to_py)?;
        Ok(elbo - xs.nrows() as f64 * log_scale)
    }

    /// Writes the model file (atomically), as `svgp fit --output` does.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.saved.save(path).map_err(to_py)
    }

    /// The model file's text.
    fn to_json(&self) -> PyResult<String> {
        self.saved.to_json().map_err(to_py)
    }

    /// The training record (each iteration's ELBO, γ, halvings, update kind and elapsed
    /// seconds; the stop reason, final ELBO and training time) as a dict of lists and numbers,
    /// which `from_json` takes back: the model file holds the model alone.
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.record.to_dict(py)
    }

    /// A model from model-file text (`name` labels errors) with the training `record` that
    /// `record()` gave (none: the record of a loaded model).
    #[staticmethod]
    #[pyo3(signature = (text, name="(pickle)", record=None))]
    fn from_json(text: &str, name: &str, record: Option<RecordItems>) -> PyResult<Fitted> {
        let saved = SavedModel::from_json(text, Path::new(name)).map_err(to_py)?;
        let record = match record {
            Some(items) => Record::from_items(items)?,
            None => Record::loaded(),
        };
        Ok(Fitted { saved, record })
    }

    /// A model read from a model file, as `svgp fit --output` writes.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Fitted> {
        Ok(Fitted::from_saved(SavedModel::load(path).map_err(to_py)?))
    }

    /// The minibatch ELBO of each training iteration (in the model's standardised units).
    #[getter]
    fn elbo_trace<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(py, self.record.reports.iter().map(|r| r.elbo))
    }

    /// The natural step size γ of each iteration (NaN where q was kept).
    #[getter]
    fn gamma_trace<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_iter(
            py,
            self.record
                .reports
                .iter()
                .map(|r| r.update.gamma().unwrap_or(f64::NAN)),
        )
    }

    /// Times γ was halved in each iteration (0 when the step was taken as scheduled).
    #[getter]
    fn halvings_trace<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        PyArray1::from_iter(py, self.record.reports.iter().map(|r| r.update.halvings()))
    }

    /// Iterations run.
    #[getter]
    fn n_iter(&self) -> usize {
        self.record.reports.len()
    }

    /// Why training stopped: iterations, interrupted, … ("loaded" for a model read from a file).
    #[getter]
    fn stop_reason(&self) -> &'static str {
        reason_name(self.record.stop_reason)
    }

    /// The full training-set ELBO at the end, in the target's units (NaN when interrupted or
    /// loaded).
    #[getter]
    fn final_elbo(&self) -> f64 {
        self.record.final_elbo
    }

    /// Wall time of the training loop, in seconds.
    #[getter]
    fn train_seconds(&self) -> f64 {
        self.record.train_seconds
    }

    /// The input columns' names, in model order.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.saved.feature_names.clone()
    }

    /// The likelihood's name.
    #[getter]
    fn likelihood(&self) -> &'static str {
        self.saved.model.likelihood().name()
    }

    /// The number of classes C of a classifier (2 for a binary one), None otherwise.
    #[getter]
    fn num_classes(&self) -> Option<usize> {
        self.saved.model.likelihood().num_classes()
    }

    /// The class labels kept in the model file (None when it has none).
    #[getter]
    fn classes(&self) -> Option<Vec<String>> {
        self.saved.classes.clone()
    }

    /// The number of target columns P (1 but for several Gaussian outputs).
    #[getter]
    fn num_outputs(&self) -> usize {
        self.saved.model.likelihood().num_outputs()
    }

    /// The number of latent GPs L.
    /// Whether each output is its latent plus Gaussian noise, so that y has a joint Gaussian
    /// law (`of` = "y" in `predict_full_cov` and `predict_samples`).
    #[getter]
    fn gaussian_outputs(&self) -> bool {
        (self.saved.model.likelihood())
            .additive_noise_variances()
            .is_some()
    }

    #[getter]
    fn num_latent(&self) -> usize {
        self.saved.model.num_latent()
    }

    /// M.
    #[getter]
    fn num_inducing(&self) -> usize {
        self.saved.model.num_inducing()
    }

    /// The inducing inputs Z (M×D), in the inputs' original units.
    fn inducing_points<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let z = self.saved.model.z();
        let scaling = self.saved.input_scaling.as_ref();
        Array2::from_shape_fn((z.nrows(), z.ncols()), |(i, j)| {
            scaling.map_or(z[(i, j)], |s| z[(i, j)] * s.scale[j] + s.mean[j])
        })
        .into_pyarray(py)
    }

    /// The kernel and likelihood hyperparameters in the data's original units: `kernel`
    /// (family name, or "composite"), `kernel_variance` (target units squared for regression)
    /// and `lengthscales` (input units) for a stationary kernel, `noise_variance` for a
    /// Gaussian likelihood, and `raw` (every unconstrained parameter by name).
    fn hyperparameters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        let model = &self.saved.model;
        let s = self
            .saved
            .target_scaling
            .as_ref()
            .map_or(1.0, |t| t.scale[0]);
        match model.kernel().spec() {
            KernelSpec::Stationary {
                family,
                params,
                floor,
            } => {
                let t = Positive::with_floor(floor);
                out.set_item("kernel", family.to_string())?;
                out.set_item("kernel_variance", t.forward(params[0]) * s * s)?;
                let lengthscales: Vec<f64> = (1..params.len())
                    .map(|j| {
                        let scale = self
                            .saved
                            .input_scaling
                            .as_ref()
                            .map_or(1.0, |sc| sc.scale[j - 1]);
                        t.forward(params[j]) * scale
                    })
                    .collect();
                out.set_item("lengthscales", PyArray1::from_vec(py, lengthscales))?;
            }
            _ => out.set_item("kernel", "composite")?,
        }
        if let Some(v) = model.likelihood().gaussian_noise_variance() {
            out.set_item("noise_variance", v * s * s)?;
        }
        if let LikelihoodSpec::MultiGaussian { outputs } = model.likelihood().spec() {
            let scaling = self.saved.target_scaling.as_ref();
            let variances = (outputs.iter().enumerate())
                .map(|(p, noise)| {
                    let s = scaling.map_or(1.0, |t| t.scale[p]);
                    Ok(noise.build().map_err(to_py)?.noise_variance() * s * s)
                })
                .collect::<PyResult<Vec<f64>>>()?;
            out.set_item("noise_variance", PyArray1::from_vec(py, variances))?;
        }
        let raw = PyDict::new(py);
        let names = model.hyper_param_names();
        for (name, value) in names.iter().zip(model.hyper_params().iter()) {
            if !name.starts_with("z[") {
                raw.set_item(name, *value)?;
            }
        }
        out.set_item("raw", raw)?;
        Ok(out)
    }

    /// Writes the ELBO trace as PNG or SVG (by the extension), iterations on a log axis when
    /// `log_x`.
    #[pyo3(signature = (path, log_x=false))]
    fn plot_elbo(&self, path: PathBuf, log_x: bool) -> PyResult<()> {
        if self.record.reports.is_empty() {
            return Err(value_error(
                "no training trace to plot (a loaded model)".into(),
            ));
        }
        svgp::plot::elbo_traces(&path, &[("natgrad + Adam", &self.record.reports)], log_x)
            .map_err(to_py)
    }

    /// Writes the plot that applies to the model and raw (X, y), as the command line's
    /// `--plots` (see `svgp::plot::DataPlot`), as PNG or SVG by the extension; y holds class
    /// indices 0..C−1 for a classifier. Returns the plot's name ("fit_1d",
    /// "heteroscedastic_1d", "predicted_vs_observed", "classification_2d", "calibration",
    /// "class_map_2d" or "confusion").
    fn plot_fit(
        &self,
        py: Python<'_>,
        path: PathBuf,
        x: Matrix<'_>,
        y: Vector<'_>,
    ) -> PyResult<&'static str> {
        let (x, y) = (self.raw_inputs(&x)?, y.to_dvector());
        check_finite_vector("y", &y)?;
        let kind = DataPlot::choose(&self.saved, x.ncols());
        py.detach(|| kind.draw(&path, &self.saved, &x, &y))
            .map_err(to_py)?;
        Ok(kind.name())
    }
}

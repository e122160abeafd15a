//! Data-parallel training: [`ShardWorker`] holds one shard of the training rows where it lives
//! (a Ray actor, or the driver itself) and evaluates its part of each global minibatch, scaled
//! by its own c_k = N_k / B_k (docs/MATH.md §7); `crate::driver::fit_sharded` trains through
//! the library's fitting path on the driver, whose every minibatch evaluation is the sum of the
//! workers' `DataTerms` (`svgp::optim::Evaluator`). The maths is the single-process trainer's;
//! only where the rows are differs.

use crate::arrays::{matrix_to_numpy, Matrix, Vector};
use crate::errors::{to_py, value_error};
use crate::wire::{scope_of, terms_to_tuple, unpack_qs, PackedQs, TermsTuple};
use nalgebra::{DMatrix, DVector};
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use std::path::PathBuf;
use svgp::data::Moments;
use svgp::model::{Marginals, Svgp, Workspace};
use svgp::optim::{BatchPlan, Batches, Evaluator};
use svgp::tabular::SavedModel;

/// Rows per chunk of a shard's full-data term.
const FULL_CHUNK: usize = 8192;

/// One shard of the training rows (raw, standardised here with the model file's scalings), its
/// seeded stream of parts of the global minibatches, and the model at the driver's state.
///
/// The driver names the q's it sends by a token; `evaluate` and `terms` without q's use the
/// q's this worker holds under that token, and answer None when it holds others (a worker
/// restarted since), for the driver to send them.
#[pyclass(module = "svgp._svgp")]
pub struct ShardWorker {
    x: DMatrix<f64>,
    y: DVector<f64>,
    batches: Batches,
    drawn: u64,
    rows: Vec<usize>,
    model: Svgp,
    ws: Workspace,
    /// c_k = N_k / B_k, this shard's data term's scale.
    scale: f64,
    /// The token of the q's `model` holds, if the driver sent any.
    held: Option<u64>,
}

#[pymethods]
impl ShardWorker {
    /// A worker for raw rows `x` (N_k×D) and `y` (N_k) of the model in `model_json` (the
    /// driver's initial model file text), drawing `batch_size` rows B_k per iteration with
    /// `seed` (all N_k rows when B_k ≥ N_k) and scaling its data term by N_k / B_k.
    #[new]
    fn new(
        model_json: &str,
        x: Matrix<'_>,
        y: Vector<'_>,
        batch_size: usize,
        seed: u64,
    ) -> PyResult<Self> {
        let saved =
            SavedModel::from_json(model_json, std::path::Path::new("(driver)")).map_err(to_py)?;
        let (mut x, mut y) = (x.to_dmatrix(), y.to_dvector());
        // Targets outside the likelihood's domain (a label 2 for Bernoulli, a negative count)
        // are refused here, naming the row, rather than trained on.
        saved.model.likelihood().check_targets(&y).map_err(to_py)?;
        if let Some(s) = &saved.input_scaling {
            x = s.transform(&x);
        }
        if let Some(s) = &saved.target_scaling {
            y = s.transform_vector(&y);
        }
        if x.nrows() == 0 {
            return Err(value_error("a shard needs at least one row".into()));
        }
        let plan = BatchPlan::Seeded { batch_size, seed };
        let batches = Batches::new(plan, x.nrows()).map_err(to_py)?;
        let scale = shard_scale(x.nrows(), batch_size);
        Ok(ShardWorker {
            x,
            y,
            batches,
            drawn: 0,
            rows: Vec::new(),
            model: saved.model,
            ws: Workspace::new(),
            scale,
            held: None,
        })
    }

    /// Sets this shard's part of global batch `iteration` (1-based; earlier parts are drawn and
    /// skipped, so a restarted worker catches up) at the driver's hyperparameters `hyper`, with
    /// this shard's scale.
    fn begin(&mut self, py: Python<'_>, iteration: u64, hyper: Vec<f64>) -> PyResult<()> {
        if iteration < self.drawn || iteration == 0 {
            return Err(value_error(format!(
                "batch {iteration} is before this shard's batch {}",
                self.drawn
            )));
        }
        while self.drawn < iteration {
            self.rows = self.batches.next_batch().unwrap_or_default();
            self.drawn += 1;
        }
        self.model.set_hyper_params(&hyper).map_err(to_py)?;
        let x = self.x.select_rows(self.rows.iter());
        let y = DVector::from_iterator(self.rows.len(), self.rows.iter().map(|&i| self.y[i]));
        let (model, ws, scale) = (&self.model, &mut self.ws, self.scale);
        py.detach(|| ws.set_batch(model, &x, &y, scale))
            .map_err(to_py)
    }

    /// [`ShardWorker::begin`], then returns the terms `scope` asks for at the q's `qs` sent under `token` (or, with `qs`
    /// None, at those held under `token`; None when this worker holds others).
    #[pyo3(signature = (iteration, hyper, qs, token, scope))]
    fn evaluate<'py>(
        &mut self,
        py: Python<'py>,
        iteration: u64,
        hyper: Vec<f64>,
        qs: Option<PackedQs<'_>>,
        token: u64,
        scope: &str,
    ) -> PyResult<Option<TermsTuple<'py>>> {
        self.begin(py, iteration, hyper)?;
        self.terms(py, qs, token, scope, false)
    }

    /// The terms `scope` asks for on the batch set by `evaluate`, at the q's `qs` sent under
    /// `token` (or, with `qs` None, at those held under `token`; None when this worker holds
    /// others), from the last checked candidate's marginals if `last_checked`.
    #[pyo3(signature = (qs, token, scope, last_checked))]
    fn terms<'py>(
        &mut self,
        py: Python<'py>,
        qs: Option<PackedQs<'_>>,
        token: u64,
        scope: &str,
        last_checked: bool,
    ) -> PyResult<Option<TermsTuple<'py>>> {
        let scope = scope_of(scope)?;
        if !self.hold(qs, token)? {
            return Ok(None);
        }
        let marginals = match last_checked {
            true => Marginals::LastChecked,
            false => Marginals::Compute,
        };
        let (model, ws) = (&self.model, &mut self.ws);
        let terms = py.detach(|| ws.data_terms(model, scope, marginals));
        Ok(Some(terms_to_tuple(py, terms.map_err(to_py)?)))
    }

    /// This shard's data term c_k Σᵢ veᵢ at candidate q's `qs`, which it holds from then on
    /// under `token`; with `with_hyper`, also its hyperparameter terms there (the Adam step's,
    /// should the candidate be accepted).
    fn check<'py>(
        &mut self,
        py: Python<'py>,
        qs: PackedQs<'_>,
        token: u64,
        with_hyper: bool,
    ) -> PyResult<(f64, Option<TermsTuple<'py>>)> {
        let qs = unpack_qs(&qs, self.model.num_inducing())?;
        let (model, ws) = (&self.model, &mut self.ws);
        let value = py
            .detach(|| Evaluator::candidates(ws, model).0(&qs))
            .map_err(to_py)?;
        self.held = None;
        self.model.set_qs(qs).map_err(to_py)?;
        self.held = Some(token);
        let hyper = match with_hyper {
            true => self.terms(py, None, token, "hyper", true)?,
            false => None,
        };
        Ok((value, hyper))
    }

    /// Σᵢ veᵢ over every row of this shard (scale 1) at the driver's hyperparameters `hyper`
    /// and q's `qs`, in chunks of 8192 rows: this shard's part of the full-data ELBO.
    fn full_data_term(
        &mut self,
        py: Python<'_>,
        hyper: Vec<f64>,
        qs: PackedQs<'_>,
    ) -> PyResult<f64> {
        let qs = unpack_qs(&qs, self.model.num_inducing())?;
        let mut model = self.model.clone();
        model.set_hyper_params(&hyper).map_err(to_py)?;
        model.set_qs(qs).map_err(to_py)?;
        let (x, y) = (&self.x, &self.y);
        py.detach(|| {
            let mut ws = Workspace::new();
            let mut total = 0.0;
            for first in (0..x.nrows()).step_by(FULL_CHUNK) {
                let rows = first..(first + FULL_CHUNK).min(x.nrows());
                let xs = x.rows(rows.start, rows.len()).into_owned();
                let ys = y.rows(rows.start, rows.len()).into_owned();
                ws.set_batch(&model, &xs, &ys, 1.0)?;
                total += Evaluator::candidates(&mut ws, &model).0(model.qs())?;
            }
            Ok(total)
        })
        .map_err(to_py)
    }

    /// This shard's rows N_k.
    #[getter]
    fn num_rows(&self) -> usize {
        self.x.nrows()
    }
}

/// c_k = N_k / B_k, the scale of a shard's part of a stratified batch (docs/MATH.md §7): its
/// `rows` N_k ≥ 1 over the rows it draws, B_k = min(`batch_size`, N_k) ≥ 1.
fn shard_scale(rows: usize, batch_size: usize) -> f64 {
    rows as f64 / batch_size.clamp(1, rows) as f64
}

impl ShardWorker {
    /// Takes the q's `qs` under `token`, or (with `qs` None) whether those held are `token`'s.
    fn hold(&mut self, qs: Option<PackedQs<'_>>, token: u64) -> PyResult<bool> {
        let Some(qs) = qs else {
            return Ok(self.held == Some(token));
        };
        let qs = unpack_qs(&qs, self.model.num_inducing())?;
        self.held = None;
        self.model.set_qs(qs).map_err(to_py)?;
        self.held = Some(token);
        Ok(true)
    }
}

/// The column moments of `x` (N×D) for the driver to merge (`svgp::data::Moments`): N, the
/// means and the sums of squared deviations.
#[pyfunction]
pub fn column_moments(x: Matrix<'_>) -> (u64, Vec<f64>, Vec<f64>) {
    let moments = Moments::of(&x.to_dmatrix());
    (
        moments.count,
        moments.mean.as_slice().to_vec(),
        moments.m2.as_slice().to_vec(),
    )
}

/// A table as numpy arrays: X (N×D), y (N) and the feature names.
type TableArrays<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    Vec<String>,
);

/// A shard's table from a file, for its worker: a CSV (the `target` and `features` columns, as
/// `svgp fit` reads them) or a binary `.svgpb` table (all its columns), read whole. Returns (X,
/// y, feature names).
#[pyfunction]
#[pyo3(signature = (path, target=None, features=None))]
pub fn read_table<'py>(
    py: Python<'py>,
    path: PathBuf,
    target: Option<&str>,
    features: Option<Vec<String>>,
) -> PyResult<TableArrays<'py>> {
    let (x, y, names) = py
        .detach(|| read_any(&path, target, features.as_deref()))
        .map_err(to_py)?;
    Ok((
        matrix_to_numpy(py, &x),
        PyArray1::from_slice(py, y.as_slice()),
        names,
    ))
}

/// [`read_table`] without Python.
fn read_any(
    path: &std::path::Path,
    target: Option<&str>,
    features: Option<&[String]>,
) -> svgp::Result<(DMatrix<f64>, DVector<f64>, Vec<String>)> {
    if svgp::data::is_binary_file(path)? {
        let file = svgp::data::BinaryFile::open(path)?;
        let header = file.header();
        let (n, d) = (header.num_rows as usize, header.num_features());
        let mut rows = Vec::new();
        file.read_rows(0, n, &mut rows)?;
        let x = DMatrix::from_fn(n, d, |i, j| rows[i * (d + 1) + j]);
        let y = DVector::from_fn(n, |i, _| rows[i * (d + 1) + d]);
        return Ok((x, y, header.feature_names.clone()));
    }
    let features: Option<Vec<&str>> = features.map(|f| f.iter().map(String::as_str).collect());
    let table = svgp::data::read_csv(path, target, features.as_deref())?;
    Ok((table.x, table.y, table.feature_names))
}

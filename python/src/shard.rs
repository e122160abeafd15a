//! Data-parallel training: [`ShardWorker`] holds one shard of the training rows where it lives
//! (a Ray actor, or the driver itself) and evaluates its part of each global minibatch;
//! [`ShardedTrainer`] is the library's `Trainer` on the driver, whose every minibatch
//! evaluation is the sum of the workers' `DataTerms` (`svgp::optim::Evaluator`). The maths is
//! the single-process trainer's; only where the rows are differs.

use crate::arrays::{matrix_to_numpy, Matrix, Vector};
use crate::errors::{to_py, value_error};
use crate::fit::Settings;
use crate::fitted::Fitted;
use nalgebra::{DMatrix, DVector};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::path::PathBuf;
use svgp::data::Standardiser;
use svgp::model::inducing::InducingInit;
use svgp::model::{total_kl, DataTerms, GradScope, Marginals, Svgp, Workspace};
use svgp::optim::{BatchPlan, Batches, CandidateTerm, Evaluator, IterReport, StopReason, Trainer};
use svgp::tabular::{
    build_trainer, classes_of, initial_kernel, settings_of, Checkpoint, SavedModel,
};
use svgp::variational::{Spare, VariationalQ};
use svgp::SvgpError;

/// Rows per chunk of a shard's full-data term.
const FULL_CHUNK: usize = 8192;

/// q's as Python passes them: one (m: (M,), L: (M, M)) pair per latent.
type QArrays<'py> = Vec<(PyReadonlyArray1<'py, f64>, PyReadonlyArray2<'py, f64>)>;

/// The q's of Python's (m, L) pairs.
fn qs_of(qs: &QArrays<'_>) -> PyResult<Vec<VariationalQ>> {
    qs.iter()
        .map(|(m, l)| {
            let m = DVector::from_column_slice(m.as_slice()?);
            let l = Matrix::F64(l.clone()).to_dmatrix();
            VariationalQ::new(m, l).map_err(to_py)
        })
        .collect()
}

/// The q's as (m, L) numpy pairs.
fn qs_to_py<'py>(py: Python<'py>, qs: &[VariationalQ]) -> PyResult<Bound<'py, PyList>> {
    let pairs = qs.iter().map(|q| {
        let m = PyArray1::from_slice(py, q.m().as_slice());
        (m, matrix_to_numpy(py, q.l()))
    });
    PyList::new(py, pairs)
}

/// The scope's name as the workers receive it.
fn scope_name(scope: GradScope) -> &'static str {
    match scope {
        GradScope::Eta => "eta",
        GradScope::Q => "q",
        GradScope::Hyper => "hyper",
        GradScope::All => "all",
    }
}

/// The scope named `name`.
fn scope_of(name: &str) -> PyResult<GradScope> {
    Ok(match name {
        "eta" => GradScope::Eta,
        "q" => GradScope::Q,
        "hyper" => GradScope::Hyper,
        "all" => GradScope::All,
        _ => {
            return Err(value_error(format!(
                "scope {name:?}: expected eta, q, hyper or all"
            )))
        }
    })
}

/// `DataTerms` as a worker returns them: (scope, c Σ ve, d_m list or None, d_s list or None,
/// d_hyper or None).
type TermsTuple = (
    String,
    f64,
    Option<Vec<Vec<f64>>>,
    Option<Vec<Vec<f64>>>,
    Option<Vec<f64>>,
);

/// The terms as a tuple of plain lists (M×M matrices column-major).
fn terms_to_tuple(t: DataTerms) -> TermsTuple {
    let vectors = |v: Option<Vec<DVector<f64>>>| {
        v.map(|v| v.into_iter().map(|x| x.as_slice().to_vec()).collect())
    };
    let matrices = |v: Option<Vec<DMatrix<f64>>>| {
        v.map(|v| v.into_iter().map(|x| x.as_slice().to_vec()).collect())
    };
    (
        scope_name(t.scope).to_string(),
        t.ve,
        vectors(t.d_m),
        matrices(t.d_s),
        t.d_hyper.map(|d| d.as_slice().to_vec()),
    )
}

/// The terms of a tuple, for M inducing points.
fn terms_of_tuple(t: TermsTuple, m: usize) -> PyResult<DataTerms> {
    let sized = |v: &[f64], n: usize| match v.len() == n {
        true => Ok(()),
        false => Err(value_error(format!(
            "a shard returned {} numbers, expected {n}",
            v.len()
        ))),
    };
    let d_m = t.2.map(|v| {
        v.iter()
            .map(|x| sized(x, m).map(|()| DVector::from_column_slice(x)))
            .collect::<PyResult<Vec<_>>>()
    });
    let d_s = t.3.map(|v| {
        v.iter()
            .map(|x| sized(x, m * m).map(|()| DMatrix::from_column_slice(m, m, x)))
            .collect::<PyResult<Vec<_>>>()
    });
    Ok(DataTerms {
        scope: scope_of(&t.0)?,
        ve: t.1,
        d_m: d_m.transpose()?,
        d_s: d_s.transpose()?,
        d_hyper: t.4.map(DVector::from_vec),
    })
}

/// One shard of the training rows (raw, standardised here with the model file's scalings), its
/// seeded stream of parts of the global minibatches, and the model at the driver's state.
#[pyclass(module = "svgp._svgp")]
pub struct ShardWorker {
    x: DMatrix<f64>,
    y: DVector<f64>,
    batches: Batches,
    drawn: u64,
    rows: Vec<usize>,
    model: Svgp,
    ws: Workspace,
}

#[pymethods]
impl ShardWorker {
    /// A worker for raw rows `x` (N×D) and `y` (N) of the model in `model_json` (the driver's
    /// initial model file text), drawing `batch_size` rows per iteration with `seed`.
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
        let plan = BatchPlan::Seeded { batch_size, seed };
        let batches = Batches::new(plan, x.nrows()).map_err(to_py)?;
        Ok(ShardWorker {
            x,
            y,
            batches,
            drawn: 0,
            rows: Vec::new(),
            model: saved.model,
            ws: Workspace::new(),
        })
    }

    /// Sets this shard's part of global batch `iteration` (1-based; earlier parts are drawn and
    /// skipped, so a restarted worker catches up) at the driver's hyperparameters `hyper`, with
    /// scale 1 until the driver sets the global one; returns the part's row count.
    fn begin(&mut self, py: Python<'_>, iteration: u64, hyper: Vec<f64>) -> PyResult<usize> {
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
        let (model, ws) = (&self.model, &mut self.ws);
        py.detach(|| ws.set_batch(model, &x, &y, 1.0))
            .map_err(to_py)?;
        Ok(self.rows.len())
    }

    /// This shard's data terms at q's `qs` that `scope` asks for, with the global scale.
    fn data_terms(
        &mut self,
        py: Python<'_>,
        qs: QArrays<'_>,
        scope: &str,
        last_checked: bool,
        scale: f64,
    ) -> PyResult<TermsTuple> {
        let scope = scope_of(scope)?;
        self.model.set_qs(qs_of(&qs)?).map_err(to_py)?;
        self.ws.set_scale(scale).map_err(to_py)?;
        let marginals = match last_checked {
            true => Marginals::LastChecked,
            false => Marginals::Compute,
        };
        let (model, ws) = (&self.model, &mut self.ws);
        let terms = py.detach(|| ws.data_terms(model, scope, marginals));
        Ok(terms_to_tuple(terms.map_err(to_py)?))
    }

    /// This shard's data term c Σ veᵢ at candidate q's `qs`, with the global scale.
    fn data_term(&mut self, py: Python<'_>, qs: QArrays<'_>, scale: f64) -> PyResult<f64> {
        let qs = qs_of(&qs)?;
        self.ws.set_scale(scale).map_err(to_py)?;
        let (model, ws) = (&self.model, &mut self.ws);
        py.detach(|| Evaluator::candidates(ws, model).0(&qs))
            .map_err(to_py)
    }

    /// Σᵢ veᵢ over every row of this shard (scale 1) at the driver's hyperparameters `hyper`
    /// and q's `qs`, in chunks of 8192 rows: this shard's part of the full-data ELBO.
    fn full_data_term(
        &mut self,
        py: Python<'_>,
        hyper: Vec<f64>,
        qs: QArrays<'_>,
    ) -> PyResult<f64> {
        let qs = qs_of(&qs)?;
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

/// The driver's side of one global minibatch: a Python object whose `data_terms(qs, scope,
/// last_checked, scale)` returns every shard's terms and `data_term(qs, scale)` every shard's
/// data term, in shard order.
struct Remote<'py> {
    shards: Bound<'py, PyAny>,
    scale: f64,
    m: usize,
    spare: Spare,
    error: Option<PyErr>,
}

impl Remote<'_> {
    /// `SvgpError::Shard` keeping the Python exception to raise.
    fn fail(&mut self, e: PyErr) -> SvgpError {
        let reason = e.to_string();
        self.error = Some(e);
        SvgpError::Shard { reason }
    }

    /// The sum of the shards' terms.
    fn call_terms(&self, model: &Svgp, scope: GradScope, last: bool) -> PyResult<DataTerms> {
        let py = self.shards.py();
        let qs = qs_to_py(py, model.qs())?;
        let args = (qs, scope_name(scope), last, self.scale);
        let parts: Vec<TermsTuple> = self.shards.call_method1("data_terms", args)?.extract()?;
        let mut parts = parts.into_iter().map(|t| terms_of_tuple(t, self.m));
        let mut total = parts
            .next()
            .ok_or_else(|| value_error("no shard answered".into()))??;
        for part in parts {
            total.add(&part?).map_err(to_py)?;
        }
        let latents = total.d_m.as_ref().map_or(model.num_latent(), Vec::len);
        if latents != model.num_latent() {
            return Err(value_error(format!(
                "the shards returned terms for {latents} latents; the model has {}",
                model.num_latent()
            )));
        }
        Ok(total)
    }
}

impl Evaluator for Remote<'_> {
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> svgp::Result<DataTerms> {
        let last = marginals == Marginals::LastChecked;
        self.call_terms(model, scope, last)
            .map_err(|e| self.fail(e))
    }

    fn candidates<'a>(&'a mut self, _model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare) {
        let Remote {
            shards,
            scale,
            spare,
            error,
            ..
        } = self;
        let term = move |qs: &[VariationalQ]| {
            let call = || -> PyResult<f64> {
                let parts: Vec<f64> = shards
                    .call_method1("data_term", (qs_to_py(shards.py(), qs)?, *scale))?
                    .extract()?;
                Ok(parts.iter().sum())
            };
            call().map_err(|e| {
                let reason = e.to_string();
                *error = Some(e);
                SvgpError::Shard { reason }
            })
        };
        (Box::new(term), spare)
    }

    fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}

/// The library's trainer on the driver, stepping on the sum of remote shards' terms.
#[pyclass(module = "svgp._svgp")]
pub struct ShardedTrainer {
    trainer: Trainer,
    saved: SavedModel,
    reports: Vec<IterReport>,
    /// The minibatch ELBOs of a resumed run's earlier iterations.
    earlier: Vec<f64>,
    num_data: u64,
    settings: String,
}

#[pymethods]
impl ShardedTrainer {
    /// A trainer of the model in `model_json` (the initial model file text) with `settings`,
    /// over `num_data` rows in all; continues from `resume` (a checkpoint it wrote) if given.
    #[new]
    #[pyo3(signature = (model_json, settings, num_data, resume=None))]
    fn new(
        model_json: &str,
        settings: Settings,
        num_data: u64,
        resume: Option<PathBuf>,
    ) -> PyResult<Self> {
        let saved = SavedModel::from_json(model_json, std::path::Path::new("(initial model)"))
            .map_err(to_py)?;
        let options = settings.options(num_data as usize)?;
        // A resumed run must start from the same initial model with the same settings.
        let text = format!("{}\n{model_json}", settings_of(&options));
        let mut trainer = build_trainer(&options, saved.model.clone(), num_data).map_err(to_py)?;
        let mut earlier = Vec::new();
        if let Some(path) = resume {
            let checkpoint = Checkpoint::load(&path).map_err(to_py)?;
            let columns = (saved.feature_names.clone(), saved.target_name.clone());
            checkpoint
                .check_matches(&text, &columns, num_data)
                .map_err(to_py)?;
            trainer.restore(&checkpoint.trainer).map_err(to_py)?;
            earlier = checkpoint.elbo_trace;
        }
        Ok(ShardedTrainer {
            trainer,
            saved,
            reports: Vec::new(),
            earlier,
            num_data,
            settings: text,
        })
    }

    /// Iterations completed.
    #[getter]
    fn iteration(&self) -> u64 {
        self.trainer.iteration()
    }

    /// The hyperparameters (kernel, likelihood, Z) the workers set their batch for.
    fn hyper<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.trainer.model.hyper_params().as_slice())
    }

    /// One iteration on the global batch whose shards `shards` evaluates (each set by its
    /// worker's `begin` for this iteration), with the ELBO's scale N/B. Returns (minibatch
    /// ELBO, γ or None, halvings). On failure the model and optimisers are unchanged, so the
    /// iteration can be retried; the shards' exception is raised.
    fn step(&mut self, shards: Bound<'_, PyAny>, scale: f64) -> PyResult<(f64, Option<f64>, u32)> {
        let m = self.trainer.model.num_inducing();
        let mut remote = Remote {
            shards,
            scale,
            m,
            spare: Spare::new(),
            error: None,
        };
        match self.trainer.step_with(&mut remote) {
            Ok(report) => {
                let out = (report.elbo, report.update.gamma(), report.update.halvings());
                self.reports.push(report);
                Ok(out)
            }
            Err(e) => Err(remote.error.take().unwrap_or_else(|| to_py(e))),
        }
    }

    /// Writes a checkpoint (atomically) that `resume` continues from exactly.
    fn save_checkpoint(&self, path: PathBuf) -> PyResult<()> {
        let checkpoint = Checkpoint::new(
            self.settings.clone(),
            (
                self.saved.feature_names.clone(),
                self.saved.target_name.clone(),
            ),
            self.num_data,
            self.trainer.state(),
            self.earlier
                .iter()
                .copied()
                .chain(self.reports.iter().map(|r| r.elbo))
                .collect(),
        );
        checkpoint.save(&path).map_err(to_py)
    }

    /// The q's as (m, L) pairs, for the workers' full-data terms.
    fn qs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        qs_to_py(py, self.trainer.model.qs())
    }

    /// The trained model with the initial model's scalings, features and labels, and its
    /// full-data ELBO in the targets' units from the shards' full-data terms `parts` (None
    /// leaves it NaN, as for an interrupted fit).
    #[pyo3(signature = (parts=None))]
    fn fitted(&self, parts: Option<Vec<f64>>) -> Fitted {
        let saved = SavedModel {
            model: self.trainer.model.clone(),
            ..self.saved.clone()
        };
        let log_scale = saved
            .target_scaling
            .as_ref()
            .map_or(0.0, |s| s.scale[0].ln());
        let elbo = parts.map_or(f64::NAN, |p| {
            p.iter().sum::<f64>() - total_kl(saved.model.qs()) - self.num_data as f64 * log_scale
        });
        Fitted::trained(saved, self.reports.clone(), StopReason::Iterations, elbo)
    }
}

/// The initial model file text of a sharded fit with `settings`: inputs standardised by the
/// global column means and population standard deviations (`input_moments`, from every shard),
/// targets too for a regression likelihood (`target_moments`), Z placed by k-means++ on the
/// raw `sample_x` rows drawn from the shards, the initial kernel and likelihood of a
/// single-process fit; `sample_y` holds class indices for a multiclass likelihood.
#[pyfunction]
pub fn initial_model(
    settings: Settings,
    sample_x: Matrix<'_>,
    sample_y: Vector<'_>,
    input_moments: (Vec<f64>, Vec<f64>),
    target_moments: (f64, f64),
    feature_names: Vec<String>,
) -> PyResult<String> {
    let (x, y) = (sample_x.to_dmatrix(), sample_y.to_dvector());
    let options = settings.options(x.nrows())?;
    let inputs = Standardiser::from_moments(&input_moments.0, &input_moments.1);
    if inputs.mean.len() != x.ncols() || feature_names.len() != x.ncols() {
        return Err(value_error(format!(
            "{} input moments and {} feature names for {} columns",
            inputs.mean.len(),
            feature_names.len(),
            x.ncols()
        )));
    }
    let classes = match options.likelihood.is_multiclass() {
        true => settings.classes.as_ref().map(Vec::len).or(classes_of(&y)),
        false => None,
    };
    let likelihood = options.likelihood.build(classes).map_err(to_py)?;
    let xs = inputs.transform(&x);
    let z = InducingInit::default()
        .choose(&xs, options.num_inducing, options.seed)
        .map_err(to_py)?;
    let kernel = initial_kernel(options.kernel, x.ncols()).map_err(to_py)?;
    let model = Svgp::new(kernel, likelihood, z).map_err(to_py)?;
    let targets = options.likelihood.standardises_targets();
    let saved = SavedModel {
        model,
        feature_names,
        target_name: "y".into(),
        extra_targets: Vec::new(),
        input_scaling: Some(inputs),
        target_scaling: targets
            .then(|| Standardiser::from_moments(&[target_moments.0], &[target_moments.1])),
        classes: settings.classes.clone(),
    };
    saved.to_json().map_err(to_py)
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

//! The driver of data-parallel training: [`fit_sharded`] fits through the library's one fitting
//! path (`svgp::tabular::fit_data`: the trainer's run loop, its checkpoints and observers, the
//! full-data ELBO) over [`ShardedData`], rows held by workers that a Python object reaches
//! (`svgp.distributed`): every minibatch evaluation is the sum of the shards' `DataTerms`.
//!
//! An iteration asks the workers twice in the common case: `evaluate` sets each worker's part
//! of the batch at the hyperparameters and returns ∇_η terms at the current q, and `check`
//! returns the data term at the natural step's candidate together with the hyperparameter
//! terms there, which the Adam step uses when the candidate is accepted. The Adam step needs
//! the sum of terms at the accepted q, so two exchanges are the least for the alternating
//! algorithm. q's travel once per iteration, packed (`crate::wire`), with the candidate: the
//! next `evaluate` names them by their token instead of sending them again.
//!
//! A worker that dies (a Ray actor error) is waited for and the call retried: the evaluations
//! are pure functions of (iteration, hyperparameters, q's), so a retried call answers as the
//! first would have. A worker that cannot come back raises `svgp.distributed.WorkerLost`
//! naming the iteration, the shard and the checkpoint written on the way out.

use crate::arrays::Matrix;
use crate::errors::{to_py, value_error};
use crate::fitted::Fitted;
use crate::settings::Settings;
use crate::watch::{Flag, Watch};
use crate::wire::{pack_qs, same_qs, scope_name, terms_of_tuple, TermsIn};
use nalgebra::DMatrix;
use pyo3::prelude::*;
use std::cell::RefCell;
use std::path::PathBuf;
use svgp::data::Moments;
use svgp::model::{total_kl, DataTerms, GradScope, Marginals, Metrics, Svgp};
use svgp::optim::{CandidateTerm, Evaluator, IterReport, Steps, Trainer};
use svgp::tabular::{fit_data, Checkpointing, SavedModel, Scalings, TrainingData};
use svgp::variational::{Spare, VariationalQ};
use svgp::SvgpError;

/// What the driver knows the workers hold, across iterations.
#[derive(Default)]
struct Link {
    /// The token and q's last sent to every worker; None after a failure.
    held: Option<(u64, Vec<VariationalQ>)>,
    /// Tokens given out so far.
    tokens: u64,
    /// This iteration's last checked candidate: its q's, its data term, and the sum of the
    /// workers' hyperparameter terms there.
    checked: Option<(Vec<VariationalQ>, f64, Option<DataTerms>)>,
}

impl Link {
    /// The token of `qs` and, when the workers do not hold them, the q's to send under it.
    fn send<'q>(&mut self, qs: &'q [VariationalQ]) -> (u64, Option<&'q [VariationalQ]>) {
        match &self.held {
            Some((token, held)) if same_qs(held, qs) => (*token, None),
            _ => (self.give(qs), Some(qs)),
        }
    }

    /// A new token for `qs`, which the workers hold once they are sent.
    fn give(&mut self, qs: &[VariationalQ]) -> u64 {
        self.tokens += 1;
        self.held = Some((self.tokens, qs.to_vec()));
        self.tokens
    }

    /// Forgets what the workers hold (a worker was restarted); tokens stay unique.
    fn forget(&mut self) {
        self.held = None;
        self.checked = None;
    }
}

/// The sum of the shards' terms, in shard order.
fn sum_terms(parts: Vec<TermsIn<'_>>, m: usize, latents: usize) -> PyResult<DataTerms> {
    let mut parts = parts.into_iter().map(|t| terms_of_tuple(t, m));
    let mut total = parts
        .next()
        .ok_or_else(|| value_error("no shard answered".into()))??;
    for part in parts {
        total.add(&part?).map_err(to_py)?;
    }
    let got = total.d_m.as_ref().map_or(latents, Vec::len);
    if got != latents {
        return Err(value_error(format!(
            "the shards returned terms for {got} latents; the model has {latents}"
        )));
    }
    Ok(total)
}

/// How worker failures are met: at most `max` retries per iteration, each after waiting up to
/// `timeout` seconds for the workers; the checkpoint a `WorkerLost` names.
struct Retry {
    max: u32,
    timeout: f64,
    checkpoint: Option<PathBuf>,
}

/// Whether `e` is a worker's death (a Ray actor error: Ray restarts the actor).
fn is_worker_failure(py: Python<'_>, e: &PyErr) -> bool {
    py.import("ray.exceptions")
        .and_then(|m| m.getattr("RayActorError"))
        .is_ok_and(|class| e.matches(py, class).unwrap_or(false))
}

/// The calls of one iteration to the workers (a Python object whose methods answer for every
/// worker, in shard order).
struct Calls<'a, 'py> {
    workers: &'a Bound<'py, PyAny>,
    iteration: u64,
    /// The hyperparameters the iteration's batch is set at.
    hyper: Vec<f64>,
    /// Whether every worker has set its part of this iteration's batch.
    begun: bool,
    failures: u32,
    retry: &'a Retry,
    link: &'a mut Link,
    m: usize,
}

impl Calls<'_, '_> {
    /// `call` until it succeeds, after each worker failure waiting for the workers (see
    /// [`Calls::recover`]).
    fn retrying<T>(&mut self, mut call: impl FnMut(&mut Self) -> PyResult<T>) -> PyResult<T> {
        loop {
            match call(self) {
                Err(e) if is_worker_failure(self.workers.py(), &e) => self.recover(e)?,
                other => return other,
            }
        }
    }

    /// After the worker failure `e`: waits for the workers (`wait_ready`) and forgets what they
    /// held, or raises `WorkerLost` when the retries are used up or a worker cannot come back.
    fn recover(&mut self, e: PyErr) -> PyResult<()> {
        let py = self.workers.py();
        if self.failures == self.retry.max {
            let what = format!("a worker failed {} times", self.failures + 1);
            return Err(self.lost(py, what, e)?);
        }
        self.failures += 1;
        if let Err(e) = self
            .workers
            .call_method1("wait_ready", (self.retry.timeout,))
        {
            if !e.matches(py, worker_lost(py)?)? {
                return Err(e);
            }
            let what = e.value(py).str()?.to_string();
            return Err(self.lost(py, what, e)?);
        }
        self.link.forget();
        self.begun = false;
        Ok(())
    }

    /// `WorkerLost` naming this iteration, `what` happened and the checkpoint, caused by `e`.
    fn lost(&self, py: Python<'_>, what: String, e: PyErr) -> PyResult<PyErr> {
        let place = self.retry.checkpoint.as_ref();
        let place = place.map_or(String::new(), |p| {
            format!("; checkpoint at {}", p.display())
        });
        let message = format!("iteration {}: {what}{place}", self.iteration);
        let error = PyErr::from_value(worker_lost(py)?.call1((message,))?);
        error.set_cause(py, Some(e));
        Ok(error)
    }

    /// The sum of the shards' terms at `model`'s q's: the first call of an iteration sets the
    /// batch (`evaluate`); q's a restarted worker lacks are sent again, once.
    fn terms(&mut self, model: &Svgp, scope: GradScope, last: bool) -> PyResult<DataTerms> {
        self.retrying(|calls| calls.terms_once(model, scope, last))
    }

    /// [`Calls::terms`] without retries.
    fn terms_once(&mut self, model: &Svgp, scope: GradScope, last: bool) -> PyResult<DataTerms> {
        let py = self.workers.py();
        for _ in 0..2 {
            let (token, qs) = self.link.send(model.qs());
            let packed = qs.map(|qs| pack_qs(py, qs)).transpose()?;
            let answer = match self.begun {
                false => {
                    let hyper = self.hyper.clone();
                    let args = (self.iteration, hyper, packed, token, scope_name(scope));
                    self.workers.call_method1("evaluate", args)?
                }
                true => {
                    let args = (packed, token, scope_name(scope), last);
                    self.workers.call_method1("terms", args)?
                }
            };
            let parts: Vec<Option<TermsIn>> = answer.extract()?;
            self.begun = true;
            match parts.into_iter().collect::<Option<Vec<_>>>() {
                Some(parts) => return sum_terms(parts, self.m, model.num_latent()),
                None => self.link.held = None,
            }
        }
        Err(value_error(
            "a worker lost the q's it was sent, twice in one call".into(),
        ))
    }

    /// The data term at candidate `qs`, with the hyperparameter terms there kept for the Adam
    /// step; the same `qs` again answer from what was kept.
    fn check(&mut self, qs: &[VariationalQ]) -> PyResult<f64> {
        self.retrying(|calls| calls.check_once(qs))
    }

    /// [`Calls::check`] without retries; sets the batch first when the workers were restarted.
    fn check_once(&mut self, qs: &[VariationalQ]) -> PyResult<f64> {
        if let Some((checked, value, _)) = &self.link.checked {
            if same_qs(checked, qs) {
                return Ok(*value);
            }
        }
        if !self.begun {
            let args = (self.iteration, self.hyper.clone());
            self.workers.call_method1("begin", args)?;
            self.begun = true;
        }
        self.link.checked = None;
        let token = self.link.give(qs);
        let packed = pack_qs(self.workers.py(), qs)?;
        let parts: Vec<(f64, Option<TermsIn>)> = self
            .workers
            .call_method1("check", (packed, token, true))?
            .extract()?;
        let value = parts.iter().map(|p| p.0).sum();
        let hyper: Option<Vec<TermsIn>> = parts.into_iter().map(|p| p.1).collect();
        let hyper = hyper.map(|h| sum_terms(h, self.m, qs.len())).transpose()?;
        self.link.checked = Some((qs.to_vec(), value, hyper));
        Ok(value)
    }
}

/// `svgp.distributed.WorkerLost`.
fn worker_lost(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("svgp.distributed")?.getattr("WorkerLost")
}

/// The driver's side of one global minibatch, an [`Evaluator`] over the workers' calls.
struct Remote<'a, 'py> {
    calls: Calls<'a, 'py>,
    spare: Spare,
    error: Option<PyErr>,
}

impl Evaluator for Remote<'_, '_> {
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> svgp::Result<DataTerms> {
        let last = marginals == Marginals::LastChecked;
        if self.calls.begun && scope == GradScope::Hyper && last {
            if let Some((qs, _, Some(terms))) = self.calls.link.checked.take() {
                if same_qs(&qs, model.qs()) {
                    return Ok(terms);
                }
            }
        }
        self.calls
            .terms(model, scope, last)
            .map_err(|e| fail(&mut self.error, e))
    }

    fn candidates<'a>(&'a mut self, _model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare) {
        let Remote {
            calls,
            spare,
            error,
        } = self;
        let term = move |qs: &[VariationalQ]| calls.check(qs).map_err(|e| fail(error, e));
        (Box::new(term), spare)
    }

    fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}

/// `SvgpError::Shard` for a Python exception, kept in `error` to raise.
fn fail(error: &mut Option<PyErr>, e: PyErr) -> SvgpError {
    let reason = e.to_string();
    *error = Some(e);
    SvgpError::Shard { reason }
}

/// The iterations of a sharded fit: each one [`Trainer::step_with`] on the sum of the workers'
/// parts of its batch, which they draw themselves by the iteration's number (so a resumed run
/// needs no skipping).
struct ShardSteps<'d, 'py> {
    data: &'d ShardedData<'py>,
    /// ΣB_k, the rows of a global batch.
    rows: u64,
    link: Link,
}

impl Steps for ShardSteps<'_, '_> {
    fn step(&mut self, trainer: &mut Trainer) -> svgp::Result<Option<(IterReport, u64)>> {
        // What was checked belongs to the last iteration's batch.
        self.link.checked = None;
        let mut remote = Remote {
            calls: Calls {
                workers: &self.data.workers,
                iteration: trainer.iteration() + 1,
                hyper: trainer.model.hyper_params().as_slice().to_vec(),
                begun: false,
                failures: 0,
                retry: &self.data.retry,
                link: &mut self.link,
                m: trainer.model.num_inducing(),
            },
            spare: Spare::new(),
            error: None,
        };
        match trainer.step_with(&mut remote) {
            Ok(report) => Ok(Some((report, self.rows))),
            Err(e) => {
                if let Some(error) = remote.error.take() {
                    self.data.error.replace(Some(error));
                }
                self.link.forget();
                Err(e)
            }
        }
    }
}

/// The rows of a sharded fit, held by workers a Python object reaches (`start`, `begin`,
/// `evaluate`, `terms`, `check`, `full_data_term`, `wait_ready`), with what the driver knows
/// of them from the shards' summaries.
pub struct ShardedData<'py> {
    workers: Bound<'py, PyAny>,
    /// Feature names (D) and the target's name, "y".
    columns: (Vec<String>, String),
    num_train: u64,
    scalings: Scalings,
    /// Raw rows drawn from the shards, to place Z among.
    sample: DMatrix<f64>,
    num_classes: Option<usize>,
    single_class: bool,
    labels: Option<Vec<String>>,
    retry: Retry,
    /// The Python exception behind the last `SvgpError::Shard`, to raise.
    error: RefCell<Option<PyErr>>,
}

impl ShardedData<'_> {
    /// `SvgpError::Shard` for `e`, kept to raise.
    fn fail(&self, e: PyErr) -> SvgpError {
        fail(&mut self.error.borrow_mut(), e)
    }

    /// The model file text a worker builds its model and scalings from.
    fn worker_model(&self, model: &Svgp) -> svgp::Result<String> {
        SavedModel {
            model: model.clone(),
            feature_names: self.columns.0.clone(),
            target_name: self.columns.1.clone(),
            extra_targets: Vec::new(),
            input_scaling: Some(self.scalings.inputs.clone()),
            target_scaling: self.scalings.targets.clone(),
            classes: self.labels.clone(),
        }
        .to_json()
    }
}

impl TrainingData for ShardedData<'_> {
    fn path(&self) -> &str {
        "(shards)"
    }
    fn columns(&self) -> (Vec<String>, String) {
        self.columns.clone()
    }
    fn target_column(&self) -> String {
        self.columns.1.clone()
    }
    fn single_class(&self) -> bool {
        self.single_class
    }
    fn num_train(&self) -> u64 {
        self.num_train
    }
    fn scalings(&self) -> &Scalings {
        &self.scalings
    }
    fn inducing_candidates(&self, _count: usize, _seed: u64) -> svgp::Result<DMatrix<f64>> {
        Ok(self.scalings.inputs.transform(&self.sample))
    }
    /// Starts the workers (`start`: shard k draws its part B_k of every batch of `batch_size`
    /// rows with seed `seed` + k).
    fn steps(
        &self,
        model: &Svgp,
        batch_size: usize,
        seed: u64,
        _done: u64,
    ) -> svgp::Result<Box<dyn Steps + '_>> {
        let text = self.worker_model(model)?;
        let parts: Vec<u64> = self
            .workers
            .call_method1("start", (text, batch_size, seed))
            .and_then(|parts| parts.extract())
            .map_err(|e| self.fail(e))?;
        Ok(Box::new(ShardSteps {
            data: self,
            rows: parts.iter().sum(),
            link: Link::default(),
        }))
    }
    /// Σ over the shards of Σᵢ veᵢ over their rows (`full_data_term`), minus the KL.
    fn elbo(&self, model: &Svgp) -> svgp::Result<f64> {
        let py = self.workers.py();
        let hyper = model.hyper_params().as_slice().to_vec();
        let qs = pack_qs(py, model.qs()).map_err(|e| self.fail(e))?;
        let parts: Vec<f64> = self
            .workers
            .call_method1("full_data_term", (hyper, qs))
            .and_then(|parts| parts.extract())
            .map_err(|e| self.fail(e))?;
        Ok(parts.iter().sum::<f64>() - total_kl(model.qs()))
    }
    fn test_metrics(&self, _saved: &SavedModel) -> svgp::Result<Option<Metrics>> {
        Ok(None)
    }
    fn num_classes(&self) -> svgp::Result<Option<usize>> {
        Ok(self.num_classes)
    }
    fn class_labels(&self) -> Option<Vec<String>> {
        self.labels.clone()
    }
}

/// One shard's column moments as its worker computes them (`column_moments`): rows, means and
/// sums of squared deviations.
type ShardMoments = (u64, Vec<f64>, Vec<f64>);

/// What the shards' summaries tell the driver, as `svgp.distributed` passes it.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Summary<'py> {
    /// Each shard's input moments.
    x_moments: Vec<ShardMoments>,
    /// Each shard's target moments (one column).
    y_moments: Vec<ShardMoments>,
    /// Raw rows drawn from the shards (Z is placed among them).
    sample: Matrix<'py>,
    feature_names: Vec<String>,
    /// C for class targets (counted over every shard).
    num_classes: Option<usize>,
    /// Whether the targets hold one value only (for class targets).
    single_class: bool,
}

/// The moments of every shard's rows together.
fn merged(parts: &[ShardMoments]) -> PyResult<Moments> {
    let moments = parts.iter().map(|(count, mean, m2)| Moments {
        count: *count,
        mean: mean.clone().into(),
        m2: m2.clone().into(),
    });
    let mut moments = moments;
    let first = moments
        .next()
        .ok_or_else(|| value_error("no shard summaries".into()))?;
    moments.try_fold(first, |a, b| a.merge(&b)).map_err(to_py)
}

/// How a sharded fit checkpoints and meets worker failures, as `svgp.distributed` passes it.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Run {
    checkpoint: Option<PathBuf>,
    checkpoint_every: u64,
    resume: Option<PathBuf>,
    max_retries: u32,
    restart_timeout: f64,
}

/// Fits a model to the rows of the shards `workers` reach (see [`ShardedData`]) with
/// `settings`, through the library's fitting path: scalings from the shards' merged moments
/// (`summary`), Z by k-means++ on the sampled rows, training, checkpoints and worker retries
/// as `run` says, `callback(iteration, elbo, gamma, halvings)` after each iteration (returning
/// `False` stops training, as in `svgp.Model.fit`), then the full-data ELBO from the workers.
/// Returns the fitted model and the exception that stopped training early (a
/// `KeyboardInterrupt`, or the callback's), for the caller to raise; a failure (a worker
/// lost, a bad shard) is raised here, after the checkpoint is written.
#[pyfunction]
#[pyo3(signature = (workers, summary, settings, run, callback=None))]
pub fn fit_sharded<'py>(
    workers: Bound<'py, PyAny>,
    summary: Summary<'py>,
    settings: Settings,
    run: Run,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Fitted, Option<PyErr>)> {
    let x = merged(&summary.x_moments)?;
    let num_train = x.count;
    let options = settings.options(num_train as usize)?;
    let scalings = Scalings {
        inputs: x.standardiser(),
        targets: match options.likelihood.standardises_targets() {
            true => Some(merged(&summary.y_moments)?.standardiser()),
            false => None,
        },
    };
    let data = ShardedData {
        workers,
        columns: (summary.feature_names, "y".into()),
        num_train,
        scalings,
        sample: summary.sample.to_dmatrix(),
        num_classes: settings
            .classes
            .as_ref()
            .map(Vec::len)
            .or(summary.num_classes),
        single_class: summary.single_class,
        labels: settings.classes.clone(),
        retry: Retry {
            max: run.max_retries,
            timeout: run.restart_timeout,
            checkpoint: run.checkpoint.clone(),
        },
        error: RefCell::new(None),
    };
    let flag = Flag::take();
    let options = svgp::tabular::FitOptions {
        checkpoint: run.checkpoint.map(|path| Checkpointing {
            path,
            every: run.checkpoint_every,
        }),
        resume: run.resume,
        interrupt: Some(flag.0),
        ..options
    };
    let mut watch = Watch::new(flag.0, callback.as_ref(), false, options.iterations);
    match fit_data(&data, &options, options.iterations, &mut [&mut watch]) {
        Ok(report) => Ok((Fitted::new(report, watch.reports), watch.error.take())),
        Err(e) => Err(data.error.take().unwrap_or_else(|| to_py(e))),
    }
}

//! The driver of data-parallel training: [`ShardedTrainer`] is the library's `Trainer`, whose
//! every minibatch evaluation is the sum of the shards' `DataTerms`, asked of a Python object
//! that reaches the workers (`svgp.distributed`).
//!
//! An iteration asks the workers twice in the common case: `evaluate` sets each worker's part
//! of the batch at the hyperparameters and returns ∇_η terms at the current q, and `check`
//! returns the data term at the natural step's candidate together with the hyperparameter
//! terms there, which the Adam step uses when the candidate is accepted. The Adam step needs
//! the sum of terms at the accepted q, so two exchanges are the least for the alternating
//! algorithm. q's travel once per iteration, packed (`crate::wire`), with the candidate: the
//! next `evaluate` names them by their token instead of sending them again.

use crate::errors::{to_py, value_error};
use crate::fitted::Fitted;
use crate::settings::Settings;
use crate::wire::{pack_qs, same_qs, scope_name, terms_of_tuple, TermsIn};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::path::PathBuf;
use svgp::model::{total_kl, DataTerms, GradScope, Marginals, Svgp};
use svgp::optim::{CandidateTerm, Evaluator, IterReport, StopReason, Trainer};
use svgp::tabular::{build_trainer, settings_of, Checkpoint, SavedModel};
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

/// The driver's side of one global minibatch: a Python object whose `evaluate`, `terms` and
/// `check` return every shard's answer, in shard order.
struct Remote<'a, 'py> {
    shards: Bound<'py, PyAny>,
    iteration: u64,
    begun: bool,
    link: &'a mut Link,
    m: usize,
    spare: Spare,
    error: Option<PyErr>,
}

impl Remote<'_, '_> {
    /// The sum of the shards' terms at `model`'s q's: the first call of an iteration sets the
    /// batch (`evaluate`); q's a restarted worker lacks are sent again, once.
    fn call_terms(&mut self, model: &Svgp, scope: GradScope, last: bool) -> PyResult<DataTerms> {
        let py = self.shards.py();
        for _ in 0..2 {
            let (token, qs) = self.link.send(model.qs());
            let packed = qs.map(|qs| pack_qs(py, qs)).transpose()?;
            let answer = match self.begun {
                false => {
                    let hyper = model.hyper_params().as_slice().to_vec();
                    let args = (self.iteration, hyper, packed, token, scope_name(scope));
                    self.shards.call_method1("evaluate", args)?
                }
                true => {
                    let args = (packed, token, scope_name(scope), last);
                    self.shards.call_method1("terms", args)?
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
    fn check(
        shards: &Bound<'_, PyAny>,
        link: &mut Link,
        m: usize,
        qs: &[VariationalQ],
    ) -> PyResult<f64> {
        if let Some((checked, value, _)) = &link.checked {
            if same_qs(checked, qs) {
                return Ok(*value);
            }
        }
        link.checked = None;
        let token = link.give(qs);
        let packed = pack_qs(shards.py(), qs)?;
        let parts: Vec<(f64, Option<TermsIn>)> = shards
            .call_method1("check", (packed, token, true))?
            .extract()?;
        let value = parts.iter().map(|p| p.0).sum();
        let hyper: Option<Vec<TermsIn>> = parts.into_iter().map(|p| p.1).collect();
        let hyper = hyper.map(|h| sum_terms(h, m, qs.len())).transpose()?;
        link.checked = Some((qs.to_vec(), value, hyper));
        Ok(value)
    }
}

impl Evaluator for Remote<'_, '_> {
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> svgp::Result<DataTerms> {
        let last = marginals == Marginals::LastChecked;
        if self.begun && scope == GradScope::Hyper && last {
            if let Some((qs, _, Some(terms))) = self.link.checked.take() {
                if same_qs(&qs, model.qs()) {
                    return Ok(terms);
                }
            }
        }
        self.call_terms(model, scope, last)
            .map_err(|e| fail(&mut self.error, e))
    }

    fn candidates<'a>(&'a mut self, _model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare) {
        let Remote {
            shards,
            link,
            m,
            spare,
            error,
            ..
        } = self;
        let term = move |qs: &[VariationalQ]| {
            Remote::check(shards, link, *m, qs).map_err(|e| fail(error, e))
        };
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
    link: Link,
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
            link: Link::default(),
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

    /// One iteration on the global batch whose shards `shards` evaluates (`evaluate`,
    /// `terms` and `check`, each answering for every worker in shard order; each worker's data
    /// term is scaled by its own N_k / B_k). Returns (minibatch ELBO, γ or None, halvings). On
    /// failure the model and optimisers are unchanged, so the iteration can be retried (the
    /// retry sends the q's again); the shards' exception is raised.
    fn step(&mut self, shards: Bound<'_, PyAny>) -> PyResult<(f64, Option<f64>, u32)> {
        // What was checked belongs to the last iteration's batch.
        self.link.checked = None;
        let mut remote = Remote {
            shards,
            iteration: self.trainer.iteration() + 1,
            begun: false,
            link: &mut self.link,
            m: self.trainer.model.num_inducing(),
            spare: Spare::new(),
            error: None,
        };
        match self.trainer.step_with(&mut remote) {
            Ok(report) => {
                let out = (report.elbo, report.update.gamma(), report.update.halvings());
                self.reports.push(report);
                Ok(out)
            }
            Err(e) => {
                let error = remote.error.take();
                self.link = Link::default();
                Err(error.unwrap_or_else(|| to_py(e)))
            }
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

    /// The q's packed (`crate::wire`), for the workers' full-data terms.
    fn qs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        pack_qs(py, self.trainer.model.qs())
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

//! The training loop of Salimbeni et al. (2018): each iteration draws a minibatch, takes one
//! natural-gradient step on q(v) in the chosen ξ, then one Adam step on the hyperparameters and Z
//! with q held fixed. An Adam-only mode (Adam on m and L too) is there for comparison.

use super::adam::AdamState;
use super::hyper::{resolve, HyperSettings, LogPrior};
use super::{
    Adam, AdamConfig, Evaluator, InvalidStepPolicy, IterReport, LatentSteps, NatGrad, QUpdate,
    Schedule,
};
use crate::error::{Result, SvgpError};
use crate::model::{total_kl, ElboGrad, GradScope, Marginals, Svgp, Workspace};
use crate::parallel::Parallelism;
use crate::variational::{
    Coords, Expectation, MeanCholesky, Natural, Parametrisation, Spare, VariationalQ,
};
use nalgebra::{DMatrix, DVector};
use std::time::Duration;

/// A natural-gradient step rule on the q(vₗ) of every latent (object-safe form of [`NatGrad`]).
pub trait QStep: Send + Sync {
    /// The parametrisation's name.
    fn name(&self) -> &'static str;
    /// One checked step from `qs` in the directions ∇_ηₗ L (`d_etas`, one per latent) with one
    /// step size γ, halving γ also while `accept` refuses the candidates; buffers come from and
    /// go back to `spare`.
    ///
    /// # Errors
    /// As [`NatGrad::step_latents_in`].
    fn step(
        &self,
        qs: &[VariationalQ],
        d_etas: &[Coords],
        gamma: f64,
        accept: &mut dyn FnMut(&[VariationalQ]) -> bool,
        spare: &mut Spare,
    ) -> Result<LatentSteps>;
}

impl<P: Parametrisation + Send + Sync> QStep for NatGrad<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn step(
        &self,
        qs: &[VariationalQ],
        d_etas: &[Coords],
        gamma: f64,
        accept: &mut dyn FnMut(&[VariationalQ]) -> bool,
        spare: &mut Spare,
    ) -> Result<LatentSteps> {
        self.step_latents_in(qs, d_etas, gamma, accept, spare)
    }
}

/// The parametrisation ξ of the natural step, among the three built in (a user-defined ξ is
/// passed as `Box::new(NatGrad::<MyXi>::default())` in [`QTraining::NatGrad`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Xi {
    /// θ, the natural parameters (the default: one γ = 1 step is exact for a Gaussian likelihood).
    #[default]
    Natural,
    /// η, the expectation parameters.
    Expectation,
    /// (m, L), the mean and Cholesky factor.
    MeanCholesky,
}

impl Xi {
    /// The step rule in this parametrisation, with `policy` for steps that leave S not positive
    /// definite.
    pub fn step_rule(self, policy: InvalidStepPolicy) -> Box<dyn QStep> {
        match self {
            Xi::Natural => Box::new(NatGrad::<Natural>::new(policy)),
            Xi::Expectation => Box::new(NatGrad::<Expectation>::new(policy)),
            Xi::MeanCholesky => Box::new(NatGrad::<MeanCholesky>::new(policy)),
        }
    }

    /// The symbol used in reports: θ, η or (m, L).
    pub fn symbol(self) -> &'static str {
        match self {
            Xi::Natural => "θ",
            Xi::Expectation => "η",
            Xi::MeanCholesky => "(m, L)",
        }
    }
}

/// Relative slack of the ascent check: a step may lower the minibatch ELBO by this fraction
/// (rounding), not more.
pub const ASCENT_SLACK: f64 = 1e-10;

/// How q(v) is trained.
pub enum QTraining {
    /// Natural-gradient steps with a step-size schedule (the paper's method).
    NatGrad {
        /// The step rule, e.g. [`Xi::step_rule`] or `Box::new(NatGrad::<MyXi>::default())`.
        step: Box<dyn QStep>,
        /// γ_t.
        schedule: Schedule,
    },
    /// Adam on m and the lower-triangular entries of L, with the hyperparameters' Adam constants.
    Adam,
}

impl QTraining {
    /// Natural steps in a built-in ξ with `schedule`, halving γ up to 10 times when a step
    /// leaves the positive-definite cone.
    pub fn natural(xi: Xi, schedule: Schedule) -> Self {
        QTraining::NatGrad {
            step: xi.step_rule(InvalidStepPolicy::default()),
            schedule,
        }
    }
}

/// How the hyperparameters (kernel, likelihood) and Z are trained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HyperTraining {
    /// Adam with these constants, one step per iteration after the q step.
    Adam(AdamConfig),
    /// Held fixed.
    Frozen,
}

/// Whether a natural step may lower the minibatch ELBO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AscentCheck {
    /// A step that would lower it (beyond [`ASCENT_SLACK`]) is shortened by halving γ, like one
    /// that leaves the positive-definite cone (the default).
    #[default]
    On,
    /// The plain algorithm of Salimbeni et al. (2018), guarded only against invalid S.
    Off,
}

/// Trains an [`Svgp`]: one [`Trainer::step`] per minibatch, or [`Trainer::run`] over a
/// [`super::BatchSource`] ([`Trainer::run_steps`] over any [`super::Steps`]). Every iteration
/// spreads its work over threads as the model's [`Parallelism`] says
/// ([`Trainer::with_parallelism`]), whichever way it is entered, and leaves no thread working
/// when it returns.
pub struct Trainer {
    /// The model being trained.
    pub model: Svgp,
    q_rule: QRule,
    pub(super) hyper: Option<Adam>,
    settings: HyperSettings,
    log_prior: LogPrior,
    fixed: Vec<usize>,
    ascent_check: AscentCheck,
    pub(super) iteration: u64,
    ws: Workspace,
}

/// The q optimiser with its state.
enum QRule {
    NatGrad {
        step: Box<dyn QStep>,
        schedule: Schedule,
    },
    Adam(Adam),
}

/// A q step proposed and not yet committed.
struct QProposal {
    qs: Vec<VariationalQ>,
    update: QUpdate,
    adam_state: Option<AdamState>,
}

impl Trainer {
    /// A trainer for `model`: q by `q_training`, the hyperparameters and Z by `hyper`, with the
    /// ascent check on.
    pub fn new(model: Svgp, q_training: QTraining, hyper: HyperTraining) -> Self {
        let (m, latents) = (model.num_inducing(), model.num_latent());
        let (hyper, q_constants) = match hyper {
            HyperTraining::Adam(c) => (Some(Adam::new(c, model.hyper_params().len())), c),
            HyperTraining::Frozen => (None, AdamConfig::default()),
        };
        let q_rule = match q_training {
            QTraining::NatGrad { step, schedule } => QRule::NatGrad { step, schedule },
            QTraining::Adam => QRule::Adam(Adam::new(q_constants, latents * (m + m * (m + 1) / 2))),
        };
        Trainer {
            model,
            q_rule,
            hyper,
            settings: HyperSettings::default(),
            log_prior: LogPrior::default(),
            fixed: Vec::new(),
            ascent_check: AscentCheck::On,
            iteration: 0,
            ws: Workspace::new(),
        }
    }

    /// Sets how the model's evaluations, and so every iteration, spread their work over
    /// threads (default [`Parallelism::Threads`]; [`Parallelism::Sequential`] beside a caller's
    /// own parallel work). Results are bitwise the same under every policy.
    pub fn with_parallelism(mut self, par: Parallelism) -> Self {
        self.model.set_parallelism(par);
        self
    }

    /// How the iterations spread their work over threads: the model's policy.
    pub fn parallelism(&self) -> Parallelism {
        self.model.parallelism()
    }

    /// Sets the ascent check of the natural step (see [`AscentCheck`]).
    pub fn with_ascent_check(mut self, check: AscentCheck) -> Self {
        self.ascent_check = check;
        self
    }

    /// Sets the priors and the fixed hyperparameters (default: none). With priors, the Adam step
    /// ascends the MAP objective ELBO + Σ [log p(θ) + log|dθ/dp|] ([`LogPrior`]); fixed
    /// hyperparameters keep their values bit for bit (their gradient entries are zeroed, so
    /// their Adam moments stay zero). Reports keep the ELBO and give the log prior beside it.
    /// The natural step's ascent check compares ELBOs at the same hyperparameters, where the log
    /// prior is a constant, so it checks the MAP objective too.
    ///
    /// # Errors
    /// As [`LogPrior::new`] and [`super::fixed_positions`]: an unknown name (with the closest ones),
    /// a prior on a Z entry or with bad parameters.
    pub fn with_hyper_settings(mut self, settings: HyperSettings) -> Result<Self> {
        let resolved = resolve(&settings, &self.model)?;
        self.settings = settings;
        self.set_resolved(resolved);
        Ok(self)
    }

    /// Adopts a resolution of this trainer's settings.
    pub(super) fn set_resolved(&mut self, (log_prior, fixed): (LogPrior, Vec<usize>)) {
        self.log_prior = log_prior;
        self.fixed = fixed;
    }

    /// The priors and fixed hyperparameters (see [`Trainer::with_hyper_settings`]).
    pub fn hyper_settings(&self) -> &HyperSettings {
        &self.settings
    }

    /// The log prior Σ [log p(θ) + log|dθ/dp|] at the model's hyperparameters (0 without
    /// priors).
    pub fn log_prior(&self) -> f64 {
        self.log_prior.value(self.model.hyper_params().as_slice())
    }

    /// The objective the hyperparameter step ascends at the batch (`x`: B×D, `y`: B, scale
    /// c = N/B) and the model's current state: (ELBO, log prior, ∇ of their sum with respect
    /// to the unconstrained hyperparameters in [`Svgp::hyper_params`] order, fixed ones
    /// included).
    ///
    /// # Errors
    /// As [`Svgp::elbo_grad`].
    pub fn map_objective(
        &self,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
    ) -> Result<(f64, f64, DVector<f64>)> {
        let g = self.model.elbo_grad(x, y, scale, GradScope::Hyper)?;
        let d_hyper = g
            .d_hyper
            .expect("scope Hyper computes the hyperparameter gradient");
        let (log_prior, grad) = self.map_gradient(&self.model.hyper_params(), d_hyper);
        Ok((g.elbo, log_prior, grad))
    }

    /// The log prior at `params` and ∇(ELBO + log prior) from the ELBO's gradient `d_elbo`.
    fn map_gradient(&self, params: &DVector<f64>, d_elbo: DVector<f64>) -> (f64, DVector<f64>) {
        let (log_prior, grad) = self.log_prior.value_and_grad(params.as_slice());
        (log_prior, d_elbo + grad)
    }

    /// Iterations completed so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// Adam on q, in the Adam-only mode.
    pub(super) fn q_adam(&self) -> Option<&Adam> {
        match &self.q_rule {
            QRule::Adam(adam) => Some(adam),
            QRule::NatGrad { .. } => None,
        }
    }

    /// Replaces Adam's state on q; only in the Adam-only mode (elsewhere `adam` is `None`).
    pub(super) fn set_q_adam(&mut self, adam: Option<Adam>) {
        if let (QRule::Adam(current), Some(adam)) = (&mut self.q_rule, adam) {
            *current = adam;
        }
    }

    /// One iteration on the batch (`x`: B×D, `y`: B) with scale c = N/B. On error the model and
    /// the optimiser states are unchanged.
    ///
    /// # Errors
    /// `NonFiniteTraining { iteration, quantity }` for a non-finite ELBO or gradient;
    /// `StepRejected` when the natural step cannot be made valid; `InvalidTarget` naming the
    /// batch row of a target outside the likelihood's domain; shape and Kuu errors.
    pub fn step(&mut self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<IterReport> {
        // An iteration that hands work to other threads runs on one of the pool's threads, so
        // that its hand-offs stay inside the pool (from outside it each parallel call waits on
        // a hand-off into the pool); one without runs here.
        let (m, b) = (self.model.num_inducing(), x.nrows());
        if self.parallelism().hands_off_work(m, b) {
            rayon::scope(|_| self.step_here(x, y, scale))
        } else {
            self.step_here(x, y, scale)
        }
    }

    /// [`Trainer::step`] on the calling thread: the batch into the trainer's workspace, then
    /// [`Trainer::step_with`] on it.
    fn step_here(&mut self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<IterReport> {
        let mut ws = std::mem::take(&mut self.ws);
        let report = ws
            .set_batch(&self.model, x, y, scale)
            .and_then(|()| self.step_with(&mut ws));
        self.ws = ws;
        report
    }

    /// One iteration on the batch `eval` holds, set for the model's current hyperparameters and
    /// Z (a [`Workspace`], or the shards of a batch spread over workers): the q step, then the
    /// hyperparameter step at the new q with the same conditional, then the commit. On error the
    /// model and the optimiser states are unchanged. A workspace spreads its work as the model
    /// it was set for says: the trainer's policy when it was set for [`Trainer::model`].
    ///
    /// # Errors
    /// As [`Trainer::step`], and the evaluator's.
    pub fn step_with(&mut self, eval: &mut dyn Evaluator) -> Result<IterReport> {
        let t = self.iteration + 1;
        let scope = match self.q_rule {
            QRule::NatGrad { .. } => GradScope::Eta,
            QRule::Adam(_) => GradScope::Q,
        };
        let before = eval
            .data_terms(&self.model, scope, Marginals::Compute)?
            .into_elbo_grad(self.model.qs(), self.model.parallelism());
        let d_eta_finite = |d: &Vec<Coords>| d.iter().all(Coords::is_finite);
        if !before.elbo.is_finite() || !before.d_eta.as_ref().is_some_and(d_eta_finite) {
            return Err(nonfinite(t, "ELBO or its gradient with respect to q"));
        }
        let proposal = self.propose_q(t, &before, eval)?;
        let mut candidate = self.model.clone_with_qs(proposal.qs)?;
        // With the ascent check, the accepted q is the last candidate it evaluated.
        let marginals = match (proposal.update, self.ascent_check) {
            (QUpdate::Natural { .. }, AscentCheck::On) => Marginals::LastChecked,
            _ => Marginals::Compute,
        };
        let (elbo, log_prior, hyper_state) =
            self.propose_hyper(t, &mut candidate, marginals, eval)?;
        self.commit(candidate, before, hyper_state, proposal.adam_state, eval);
        Ok(IterReport {
            iteration: t,
            elbo,
            log_prior,
            update: proposal.update,
            elapsed: Duration::ZERO,
        })
    }

    /// The q step of iteration `t` from the gradients `before` at the current q.
    fn propose_q(
        &mut self,
        t: u64,
        before: &ElboGrad,
        eval: &mut dyn Evaluator,
    ) -> Result<QProposal> {
        let (Some(d_eta), Some(dl_dm)) = (&before.d_eta, &before.dl_dm) else {
            unreachable!("the q scopes compute ∇_η L and ∂L/∂m");
        };
        let (step, schedule) = match &self.q_rule {
            QRule::NatGrad { step, schedule } => (step, schedule),
            QRule::Adam(adam) => {
                let dl_dl = before.dl_dl.as_ref().expect("scope Q computes ∂L/∂L");
                let (qs, state) = adam_q_step(adam, self.model.qs(), dl_dm, dl_dl)?;
                return Ok(QProposal {
                    qs,
                    update: QUpdate::Adam,
                    adam_state: Some(state),
                });
            }
        };
        // Rounding slack: at the optimum a step is a no-op up to ~1e-12 relative.
        let floor = before.elbo - ASCENT_SLACK * before.elbo.abs().max(1.0);
        let check = self.ascent_check;
        let (mut data_term, spare) = eval.candidates(&self.model);
        let mut accept = |qs: &[VariationalQ]| {
            check == AscentCheck::Off || data_term(qs).is_ok_and(|ve| ve - total_kl(qs) >= floor)
        };
        let qs = self.model.qs();
        let (qs, update) = match step.step(qs, d_eta, schedule.gamma(t), &mut accept, spare) {
            Ok(s) => (
                s.qs,
                QUpdate::Natural {
                    gamma: s.gamma,
                    halvings: s.halvings,
                },
            ),
            // Every allowed γ gave a valid q that lowers the batch ELBO: keep q this iteration
            // rather than stop training.
            Err(SvgpError::StepRejected {
                pivot: None,
                attempts,
                ..
            }) => (
                qs.to_vec(),
                QUpdate::Kept {
                    halvings: attempts.saturating_sub(1) as u32,
                },
            ),
            Err(e) => return Err(e),
        };
        Ok(QProposal {
            qs,
            update,
            adam_state: None,
        })
    }

    /// The hyperparameter step of iteration `t` at the candidate's new q, applied to the
    /// candidate: Adam up the MAP objective's gradient, fixed entries held. Returns the
    /// minibatch ELBO and the log prior before it, and Adam's uncommitted state.
    fn propose_hyper(
        &mut self,
        t: u64,
        candidate: &mut Svgp,
        marginals: Marginals,
        eval: &mut dyn Evaluator,
    ) -> Result<(f64, f64, Option<AdamState>)> {
        let params = candidate.hyper_params();
        let Some(adam) = &self.hyper else {
            // With the hyperparameters frozen only the new ELBO is needed.
            let ve = eval.candidates(&self.model).0(candidate.qs())?;
            let elbo = finite(t, ve - total_kl(candidate.qs()), "ELBO")?;
            return Ok((elbo, self.log_prior.value(params.as_slice()), None));
        };
        let after = eval
            .data_terms(candidate, GradScope::Hyper, marginals)?
            .into_elbo_grad(candidate.qs(), candidate.parallelism());
        finite(t, after.elbo, "ELBO")?;
        let d_elbo = after
            .d_hyper
            .expect("scope Hyper computes the hyperparameter gradient");
        let (log_prior, mut d_hyper) = self.map_gradient(&params, d_elbo);
        finite(t, log_prior, "log prior")?;
        if !d_hyper.iter().all(|g| g.is_finite()) {
            return Err(nonfinite(t, "hyperparameter gradient"));
        }
        for &i in &self.fixed {
            d_hyper[i] = 0.0;
        }
        let (mut new, state) = adam.propose(&params, &d_hyper)?;
        for &i in &self.fixed {
            new[i] = params[i];
        }
        candidate
            .set_hyper_params(new.as_slice())
            .map_err(|_| nonfinite(t, "hyperparameters after the Adam step"))?;
        Ok((after.elbo, log_prior, Some(state)))
    }

    /// Makes the candidate the model and commits the optimisers' states; the old q's and the q
    /// gradient's buffers serve the next natural step.
    fn commit(
        &mut self,
        candidate: Svgp,
        before: ElboGrad,
        hyper_state: Option<AdamState>,
        q_state: Option<AdamState>,
        eval: &mut dyn Evaluator,
    ) {
        let old = std::mem::replace(&mut self.model, candidate);
        let spare = eval.spare();
        old.into_qs().into_iter().for_each(|q| spare.keep_q(q));
        for d_eta in before.d_eta.into_iter().flatten() {
            spare.keep_coords(d_eta);
        }
        if let (Some(adam), Some(state)) = (&mut self.hyper, hyper_state) {
            adam.commit(state);
        }
        if let (QRule::Adam(adam), Some(state)) = (&mut self.q_rule, q_state) {
            adam.commit(state);
        }
        self.iteration += 1;
    }
}

fn nonfinite(iteration: u64, quantity: &'static str) -> SvgpError {
    SvgpError::NonFiniteTraining {
        iteration,
        quantity,
    }
}

/// `value` if finite, else `NonFiniteTraining` naming `quantity`.
fn finite(iteration: u64, value: f64, quantity: &'static str) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(nonfinite(iteration, quantity))
    }
}

/// Adam on every latent's (m, lower entries of L), concatenated in latent order. A diagonal
/// entry of L pushed to ≤ 0 would leave the canonical (m, L) form, so the iteration fails with
/// `StepRejected` (γ reported as Adam's learning rate) and the model is unchanged.
fn adam_q_step(
    adam: &Adam,
    qs: &[VariationalQ],
    dl_dm: &[DVector<f64>],
    dl_dl: &[DMatrix<f64>],
) -> Result<(Vec<VariationalQ>, AdamState)> {
    let n = qs[0].num_inducing();
    let positions: Vec<(usize, usize)> = (0..n).flat_map(|j| (j..n).map(move |i| (i, j))).collect();
    let per_latent = n + positions.len();
    let flat = |m: &DVector<f64>, l: &DMatrix<f64>| {
        m.iter()
            .copied()
            .chain(positions.iter().map(|&ij| l[ij]))
            .collect::<Vec<_>>()
    };
    let params = qs.iter().flat_map(|q| flat(q.m(), q.l()));
    let params = DVector::from_iterator(qs.len() * per_latent, params);
    let grad = dl_dm.iter().zip(dl_dl).flat_map(|(m, l)| flat(m, l));
    let grad = DVector::from_iterator(params.len(), grad);
    let (new, state) = adam.propose(&params, &grad)?;
    let unflat = |chunk: &[f64]| {
        let mut l = DMatrix::zeros(n, n);
        for (k, &ij) in positions.iter().enumerate() {
            l[ij] = chunk[n + k];
        }
        VariationalQ::new(DVector::from_column_slice(&chunk[..n]), l)
    };
    let qs = new.as_slice().chunks_exact(per_latent).map(unflat);
    let qs = qs.collect::<Result<Vec<_>>>().map_err(|e| match e {
        SvgpError::NotPositiveDefinite { pivot, .. } => SvgpError::StepRejected {
            gamma: adam.config.learning_rate,
            attempts: 1,
            pivot: Some(pivot),
        },
        other => other,
    })?;
    Ok((qs, state))
}

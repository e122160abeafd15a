//! The training loop of Salimbeni et al. (2018): each iteration draws a minibatch, takes one
//! natural-gradient step on q(v) in the chosen ξ, then one Adam step on the hyperparameters and Z
//! with q held fixed. An Adam-only mode (Adam on m and L too) is there for comparison.

use super::adam::AdamState;
use super::{Adam, AdamConfig, BatchPlan, Batches, NatGradStep, Observer, Schedule};
use crate::error::{Result, SvgpError};
use crate::likelihood::VarExp;
use crate::linalg::reshape_buffer;
use crate::model::{BatchMarginals, Conditional, GradBuffers, GradScope, Svgp};
use crate::variational::{Coords, Parametrisation, Spare, VariationalQ};
use nalgebra::{DMatrix, DVector};
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A natural-gradient step rule on q(v) (object-safe form of [`super::NatGrad`]).
pub trait QStep: Send + Sync {
    /// The parametrisation's name.
    fn name(&self) -> &'static str;
    /// One checked step from q in the direction ∇_η L with step size γ, halving γ also while
    /// `accept` refuses the candidate; buffers come from and go back to `spare`.
    ///
    /// # Errors
    /// As [`super::NatGrad::step_checked`].
    fn step(
        &self,
        q: &VariationalQ,
        d_eta: &Coords,
        gamma: f64,
        accept: &dyn Fn(&VariationalQ) -> bool,
        spare: &mut Spare,
    ) -> Result<NatGradStep>;
}

impl<P: Parametrisation + Send + Sync> QStep for super::NatGrad<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn step(
        &self,
        q: &VariationalQ,
        d_eta: &Coords,
        gamma: f64,
        accept: &dyn Fn(&VariationalQ) -> bool,
        spare: &mut Spare,
    ) -> Result<NatGradStep> {
        self.step_checked_in(q, d_eta, gamma, accept, spare)
    }
}

/// Relative slack of the ascent check: a step may lower the minibatch ELBO by this fraction
/// (rounding), not more.
pub const ASCENT_SLACK: f64 = 1e-10;

/// How q(v) is trained.
pub enum QTraining {
    /// Natural-gradient steps with a step-size schedule (the paper's method).
    NatGrad {
        /// The step rule, e.g. `Box::new(NatGrad::<Natural>::default())`.
        step: Box<dyn QStep>,
        /// γ_t.
        schedule: Schedule,
    },
    /// Adam on m and the lower-triangular entries of L, with the hyperparameters' Adam constants.
    Adam,
}

/// When to stop besides the iteration budget.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StopRules {
    /// Stop when the mean ELBO of the last `window` iterations differs from that of the `window`
    /// before by less than `tolerance` (absolute, nats).
    pub elbo_tolerance: Option<(f64, u64)>,
    /// Stop after this much wall time.
    pub time_limit: Option<Duration>,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The iteration budget was used.
    Iterations,
    /// The ELBO changed by less than the tolerance.
    ElboConverged,
    /// The time limit was reached.
    TimeLimit,
    /// An explicit batch list ran out.
    BatchesExhausted,
}

/// What one iteration did.
#[derive(Debug, Clone, PartialEq)]
pub struct IterReport {
    /// 1-based iteration.
    pub iteration: u64,
    /// Minibatch ELBO after the q step, at the hyperparameters Adam then moves from.
    pub elbo: f64,
    /// γ used by the natural step (`None` in Adam-only mode; 0 when every γ tried was refused by
    /// the ascent check and q was kept).
    pub gamma: Option<f64>,
    /// Times γ was halved to keep S positive definite, or (with the ascent check) the minibatch
    /// ELBO from falling; 0 when the step was taken as asked.
    pub halvings: u32,
    /// Wall time since training started.
    pub elapsed: Duration,
}

/// The outcome of [`Trainer::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Why it stopped.
    pub reason: StopReason,
    /// Iterations completed.
    pub iterations: u64,
    /// The last iteration's minibatch ELBO (NaN if none ran).
    pub last_elbo: f64,
    /// Wall time of the loop.
    pub elapsed: Duration,
    /// Iterations whose natural step was shortened (γ halved at least once).
    pub shortened_steps: u64,
}

/// Trains an [`Svgp`] on (x: N×D, y: N).
pub struct Trainer {
    /// The model being trained.
    pub model: Svgp,
    q_rule: QRule,
    hyper: Option<Adam>,
    ascent_check: bool,
    iteration: u64,
    buffers: Workspace,
}

/// What one iteration leaves for the next to reuse: with the same M and B, a steady-state
/// iteration with natural steps in θ allocates no O(M·B) or O(M²) matrix (other
/// parametrisations allocate their own maps' matrices).
struct Workspace {
    /// The batch conditional.
    cond: Conditional,
    /// Batch marginals of the model's q.
    marg: BatchMarginals,
    /// Batch marginals of the last candidate q the ascent check evaluated, its m and L, and the
    /// likelihood's expectations there (`None`: no candidate evaluated this iteration).
    checked: BatchMarginals,
    checked_m: DVector<f64>,
    checked_l: DMatrix<f64>,
    checked_vexp: Option<VarExp>,
    /// Temporaries of the gradients.
    grad: GradBuffers,
}

/// The q optimiser with its state.
enum QRule {
    NatGrad {
        step: Box<dyn QStep>,
        schedule: Schedule,
    },
    Adam(Adam),
}

impl Trainer {
    /// A trainer for `model`: q by `q_training`, hyperparameters and Z by Adam with `adam`
    /// constants, or frozen when `train_hyper` is false.
    pub fn new(model: Svgp, q_training: QTraining, adam: AdamConfig, train_hyper: bool) -> Self {
        let hyper = train_hyper.then(|| Adam::new(adam, model.hyper_params().len()));
        let m = model.num_inducing();
        let q_rule = match q_training {
            QTraining::NatGrad { step, schedule } => QRule::NatGrad { step, schedule },
            QTraining::Adam => QRule::Adam(Adam::new(adam, m + m * (m + 1) / 2)),
        };
        Trainer {
            model,
            q_rule,
            hyper,
            ascent_check: true,
            iteration: 0,
            buffers: Workspace {
                cond: Conditional::empty(),
                marg: BatchMarginals::empty(),
                checked: BatchMarginals::empty(),
                checked_m: DVector::zeros(0),
                checked_l: DMatrix::zeros(0, 0),
                checked_vexp: None,
                grad: GradBuffers::new(),
            },
        }
    }

    /// Whether a natural step must not lower the minibatch ELBO (on by default). When on, a
    /// step that would lower it is shortened by halving γ, like a step that leaves the
    /// positive-definite cone, and counted in [`IterReport::halvings`]. Off gives the plain
    /// algorithm of Salimbeni et al. (2018), guarded only against invalid S.
    pub fn with_ascent_check(mut self, on: bool) -> Self {
        self.ascent_check = on;
        self
    }

    /// Iterations completed so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// One iteration on the batch (`x`: B×D, `y`: B) with scale c = N/B. On error the model and
    /// the optimiser states are unchanged.
    ///
    /// # Errors
    /// `NonFiniteTraining { iteration, quantity }` for a non-finite ELBO or gradient;
    /// `StepRejected` when the natural step cannot be made valid; shape and Kuu errors.
    pub fn step(&mut self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<IterReport> {
        // An iteration with parallel parts (kernel matrices of ≥ 2¹⁸ entries, products of
        // ≥ 5·10⁷ flops) runs on one of rayon's threads, so that those parts hand work to the
        // other threads cheaply (from outside the pool each parallel call waits on a hand-off);
        // one without them stays here.
        let (m, b) = (self.model.num_inducing(), x.nrows());
        let has_parallel_parts = m * b >= crate::kernel::PARALLEL_MIN_ENTRIES
            || m * m * b.max(m) >= crate::linalg::PARALLEL_MIN_FLOPS;
        if has_parallel_parts && rayon::current_num_threads() > 1 {
            rayon::scope(|_| self.step_here(x, y, scale))
        } else {
            self.step_here(x, y, scale)
        }
    }

    /// [`Trainer::step`] on the calling thread.
    fn step_here(&mut self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<IterReport> {
        let t = self.iteration + 1;
        let ws = &mut self.buffers;
        self.model.conditional_into(x, &mut ws.cond)?;
        let cond = &ws.cond;
        let nonfinite = |quantity| SvgpError::NonFiniteTraining {
            iteration: t,
            quantity,
        };

        // 1. q step: a natural step needs ∇_η L only, Adam on q also ∂L/∂L.
        let first_scope = match self.q_rule {
            QRule::NatGrad { .. } => GradScope::Eta,
            QRule::Adam(_) => GradScope::Q,
        };
        cond.batch_marginals_into(self.model.q(), &mut ws.marg);
        let before = self.model.elbo_grad_in(
            cond,
            &mut ws.marg,
            None,
            x,
            y,
            scale,
            first_scope,
            &mut ws.grad,
        )?;
        if !before.d_eta.is_finite() || !before.elbo.is_finite() {
            return Err(nonfinite("ELBO or its gradient with respect to q"));
        }
        // The batch marginals and the likelihood's expectations of the last candidate the ascent
        // check evaluated, with its q: when that candidate is the accepted one, the
        // hyperparameter step reuses them.
        ws.checked_vexp = None;
        let checked = RefCell::new((
            &mut ws.checked,
            &mut ws.checked_m,
            &mut ws.checked_l,
            &mut ws.checked_vexp,
        ));
        let (q_new, gamma, halvings, q_adam_state) = match &self.q_rule {
            QRule::NatGrad { step, schedule } => {
                let model = &self.model;
                let check = self.ascent_check;
                // Rounding slack: at the optimum a step is a no-op up to ~1e-12 relative.
                let floor = before.elbo - ASCENT_SLACK * before.elbo.abs().max(1.0);
                let accept = |q: &VariationalQ| {
                    if !check {
                        return true;
                    }
                    let mut guard = checked.borrow_mut();
                    let (marg, m, l, vexp) = &mut *guard;
                    let (elbo, v) = model.elbo_and_marginals_into(cond, y, scale, q, marg);
                    **vexp = Some(v);
                    let n = q.num_inducing();
                    if m.len() != n {
                        **m = DVector::zeros(n);
                    }
                    m.copy_from(q.m());
                    reshape_buffer(l, n, n);
                    l.copy_from(q.l());
                    elbo >= floor
                };
                let gamma = schedule.gamma(t);
                match step.step(model.q(), &before.d_eta, gamma, &accept, ws.grad.spare()) {
                    Ok(s) => (s.q, Some(s.gamma), s.halvings, None),
                    // Every allowed γ gave a valid q that lowers the batch ELBO: keep q this
                    // iteration (γ reported as 0) rather than stop training.
                    Err(SvgpError::StepRejected {
                        pivot: None,
                        attempts,
                        ..
                    }) => (model.q().clone(), Some(0.0), attempts as u32, None),
                    Err(e) => return Err(e),
                }
            }
            QRule::Adam(adam) => {
                let (q, state) = adam_q_step(adam, self.model.q(), &before.dl_dm, &before.dl_dl)?;
                (q, None, 0, Some(state))
            }
        };

        // 2. Hyperparameter step with the new q and the same conditional.
        let mut candidate = self.model.clone_with_q(q_new)?;
        let mut hyper_state = None;
        let after_elbo = match &self.hyper {
            Some(adam) => {
                let (checked, checked_m, checked_l, checked_vexp) = checked.into_inner();
                let same_q = |q: &VariationalQ| q.m() == &*checked_m && q.l() == &*checked_l;
                let (marg, vexp) = match checked_vexp.take() {
                    Some(vexp) if same_q(candidate.q()) => (checked, Some(vexp)),
                    _ => {
                        cond.batch_marginals_into(candidate.q(), &mut ws.marg);
                        (&mut ws.marg, None)
                    }
                };
                let after = candidate.elbo_grad_in(
                    cond,
                    marg,
                    vexp,
                    x,
                    y,
                    scale,
                    GradScope::Hyper,
                    &mut ws.grad,
                )?;
                if !after.elbo.is_finite() {
                    return Err(nonfinite("ELBO"));
                }
                if !after.d_hyper.iter().all(|g| g.is_finite()) {
                    return Err(nonfinite("hyperparameter gradient"));
                }
                let (params, state) = adam.propose(&candidate.hyper_params(), &after.d_hyper)?;
                candidate
                    .set_hyper_params(params.as_slice())
                    .map_err(|_| nonfinite("hyperparameters after the Adam step"))?;
                hyper_state = Some(state);
                after.elbo
            }
            // With the hyperparameters frozen only the new ELBO is needed.
            None => {
                let q = candidate.q();
                let (elbo, _) = candidate.elbo_and_marginals_into(cond, y, scale, q, &mut ws.marg);
                if !elbo.is_finite() {
                    return Err(nonfinite("ELBO"));
                }
                elbo
            }
        };

        // 3. Commit; the old q's and the q gradient's buffers serve the next natural step.
        let old = std::mem::replace(&mut self.model, candidate);
        let spare = self.buffers.grad.spare();
        spare.keep_q(old.into_q());
        spare.keep_coords(before.d_eta);
        if let (Some(adam), Some(state)) = (&mut self.hyper, hyper_state) {
            adam.commit(state);
        }
        if let (QRule::Adam(adam), Some(state)) = (&mut self.q_rule, q_adam_state) {
            adam.commit(state);
        }
        self.iteration = t;
        Ok(IterReport {
            iteration: t,
            elbo: after_elbo,
            gamma,
            halvings,
            elapsed: Duration::ZERO,
        })
    }

    /// Trains on (x: N×D, y: N) for at most `iterations`, drawing batches by `plan`, until a
    /// stop rule fires; observers see every iteration.
    ///
    /// # Errors
    /// Any error of [`Trainer::step`] or of an observer; the model keeps its last good state.
    pub fn run(
        &mut self,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        plan: BatchPlan,
        iterations: u64,
        rules: StopRules,
        observers: &mut [&mut dyn Observer],
    ) -> Result<RunSummary> {
        crate::error::check_shape(
            "training targets",
            crate::error::Shape::new(x.nrows(), 1),
            crate::error::Shape::new(y.len(), 1),
        )?;
        self.model.likelihood().check_targets(y)?;
        let mut batches = Batches::new(plan, x.nrows())?;
        for o in observers.iter_mut() {
            o.on_start(&self.model)?;
        }
        let start = Instant::now();
        let mut elbos = Vec::new();
        let mut shortened_steps = 0;
        let mut reason = StopReason::Iterations;
        for _ in 0..iterations {
            let Some(rows) = batches.next_batch() else {
                reason = StopReason::BatchesExhausted;
                break;
            };
            let xb = x.select_rows(rows.iter());
            let yb = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
            let scale = x.nrows() as f64 / rows.len() as f64;
            let mut report = self.step(&xb, &yb, scale)?;
            report.elapsed = start.elapsed();
            elbos.push(report.elbo);
            shortened_steps += u64::from(report.halvings > 0);
            for o in observers.iter_mut() {
                o.on_iter(&self.model, &report)?;
            }
            if let Some((tol, window)) = rules.elbo_tolerance {
                if converged(&elbos, tol, window as usize) {
                    reason = StopReason::ElboConverged;
                    break;
                }
            }
            if rules
                .time_limit
                .is_some_and(|limit| report.elapsed >= limit)
            {
                reason = StopReason::TimeLimit;
                break;
            }
        }
        for o in observers.iter_mut() {
            o.on_finish(&self.model, reason)?;
        }
        Ok(RunSummary {
            reason,
            iterations: elbos.len() as u64,
            last_elbo: elbos.last().copied().unwrap_or(f64::NAN),
            elapsed: start.elapsed(),
            shortened_steps,
        })
    }
}

/// |mean(last w) − mean(previous w)| < tol, once 2w values exist.
fn converged(elbos: &[f64], tol: f64, window: usize) -> bool {
    let w = window.max(1);
    if elbos.len() < 2 * w {
        return false;
    }
    let n = elbos.len();
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    (mean(&elbos[n - w..]) - mean(&elbos[n - 2 * w..n - w])).abs() < tol
}

/// Adam on (m, lower entries of L). A diagonal entry of L pushed to ≤ 0 would leave the
/// canonical (m, L) form, so the iteration fails with `StepRejected` (γ reported as Adam's
/// learning rate) and the model is unchanged.
fn adam_q_step(
    adam: &Adam,
    q: &VariationalQ,
    dl_dm: &DVector<f64>,
    dl_dl: &DMatrix<f64>,
) -> Result<(VariationalQ, AdamState)> {
    let n = q.num_inducing();
    let positions: Vec<(usize, usize)> = (0..n).flat_map(|j| (j..n).map(move |i| (i, j))).collect();
    let lower = |l: &DMatrix<f64>| positions.iter().map(|&ij| l[ij]).collect::<Vec<_>>();
    let params = DVector::from_iterator(
        n + positions.len(),
        q.m().iter().copied().chain(lower(q.l())),
    );
    let grad = DVector::from_iterator(params.len(), dl_dm.iter().copied().chain(lower(dl_dl)));
    let (new, state) = adam.propose(&params, &grad)?;
    let m = new.rows(0, n).into_owned();
    let mut l = DMatrix::zeros(n, n);
    for (k, &ij) in positions.iter().enumerate() {
        l[ij] = new[n + k];
    }
    let q = VariationalQ::new(m, l).map_err(|e| match e {
        SvgpError::NotPositiveDefinite { pivot, .. } => SvgpError::StepRejected {
            gamma: adam.config.learning_rate,
            attempts: 1,
            pivot: Some(pivot),
        },
        other => other,
    })?;
    Ok((q, state))
}

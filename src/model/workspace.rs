//! [`Workspace`]: one minibatch prepared for evaluation, and every buffer its evaluations reuse.
//!
//! A training iteration evaluates one batch several times: the gradients at q, the ELBO of each
//! candidate the natural step proposes, the hyperparameter gradient at the accepted q. The batch
//! conditional (the O(M²B + M³) part) depends only on the hyperparameters and is computed once
//! per batch; the rest runs in buffers kept between iterations, so a steady-state iteration with
//! a fixed batch size allocates no O(M·B) or O(M²) matrix but the returned gradients.

use super::grad::{gradients, BatchView, GradBuffers};
use super::{BatchMarginals, Conditional, ElboGrad, GradScope, Svgp};
use crate::error::{check_shape, Result, Shape};
use crate::likelihood::VarExp;
use crate::linalg::reshape_buffer;
use crate::variational::{prior_kl, Spare, VariationalQ};
use nalgebra::{DMatrix, DVector};

/// Which batch marginals [`Workspace::grad`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marginals {
    /// Compute the marginals of the model's q.
    Compute,
    /// Reuse those of the last q given to [`Candidates::elbo`] since the batch was set, which the
    /// caller vouches is the model's q (the natural step accepts the last candidate it checks);
    /// computed afresh when there is none.
    LastChecked,
}

/// One minibatch (inputs B×D, targets B, scale c = N/B), its conditional at the hyperparameters
/// of the model it was set for, and reusable buffers.
///
/// Invariant: evaluations are of the model given to [`Workspace::set_batch`] (or one with the
/// same hyperparameters and Z and another q); set the batch again after changing them.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: BatchData,
    marg: BatchMarginals,
    checked: Checked,
    buffers: GradBuffers,
    spare: Spare,
}

/// The batch and its conditional.
#[derive(Debug, Clone)]
struct BatchData {
    x: DMatrix<f64>,
    y: DVector<f64>,
    scale: f64,
    cond: Conditional,
}

impl BatchData {
    fn view(&self) -> BatchView<'_> {
        BatchView {
            cond: &self.cond,
            x: &self.x,
            y: &self.y,
            scale: self.scale,
        }
    }
}

/// The batch marginals and likelihood expectations of the last candidate q evaluated.
#[derive(Debug, Clone)]
struct Checked {
    marg: BatchMarginals,
    vexp: Option<VarExp>,
}

/// The ELBO of candidate q's at a workspace's batch, remembering the last one's marginals (see
/// [`Marginals::LastChecked`]); from [`Workspace::candidates`].
pub struct Candidates<'a> {
    model: &'a Svgp,
    batch: BatchView<'a>,
    checked: &'a mut Checked,
}

impl Candidates<'_> {
    /// The minibatch ELBO at `q` with the batch's conditional: O(M²B).
    ///
    /// # Errors
    /// `ShapeMismatch` unless q has the M inducing points the batch was set for.
    pub fn elbo(&mut self, q: &VariationalQ) -> Result<f64> {
        check_inducing(self.batch.cond, q.num_inducing())?;
        let (elbo, vexp) = elbo_into(self.model, &self.batch, q, &mut self.checked.marg);
        self.checked.vexp = Some(vexp);
        Ok(elbo)
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// An empty workspace (no allocation until the first batch).
    pub fn new() -> Self {
        Workspace {
            batch: BatchData {
                x: DMatrix::zeros(0, 0),
                y: DVector::zeros(0),
                scale: 1.0,
                cond: Conditional::empty(),
            },
            marg: BatchMarginals::empty(),
            checked: Checked {
                marg: BatchMarginals::empty(),
                vexp: None,
            },
            buffers: GradBuffers::new(),
            spare: Spare::new(),
        }
    }

    /// Takes a copy of the batch (`x`: B×D, `y`: B, `scale` c = N/B) and computes its
    /// conditional at `model`'s hyperparameters.
    ///
    /// # Errors
    /// `ShapeMismatch` if x is not B×D or y does not have B entries; `NotPositiveDefinite` for
    /// Kuu. On error the workspace holds no valid batch.
    pub fn set_batch(
        &mut self,
        model: &Svgp,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
    ) -> Result<()> {
        check_shape(
            "batch targets",
            Shape::new(x.nrows(), 1),
            Shape::new(y.len(), 1),
        )?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(crate::error::SvgpError::InvalidParameter {
                name: "scale".into(),
                value: scale,
                reason: "the ELBO's scale N/B must be finite and positive",
            });
        }
        self.checked.vexp = None;
        let batch = &mut self.batch;
        batch.y = DVector::zeros(0); // no valid batch until the conditional is computed
        if let Err(e) = model.conditional_into(x, &mut batch.cond) {
            batch.cond = Conditional::empty(); // no batch: later evaluations are refused
            return Err(e);
        }
        reshape_buffer(&mut batch.x, x.nrows(), x.ncols());
        batch.x.copy_from(x);
        batch.y = y.clone();
        batch.scale = scale;
        Ok(())
    }

    /// B, the rows of the current batch (0 before the first).
    pub fn batch_size(&self) -> usize {
        self.batch.y.len()
    }

    /// The minibatch ELBO c Σᵢ veᵢ − KL at the model's q.
    ///
    /// # Errors
    /// `ShapeMismatch` if no batch was set, or the model's M differs from the one it was set for.
    pub fn elbo(&mut self, model: &Svgp) -> Result<f64> {
        check_inducing(&self.batch.cond, model.num_inducing())?;
        Ok(elbo_into(model, &self.batch.view(), model.q(), &mut self.marg).0)
    }

    /// The ELBO at the model's q and the gradients `scope` asks for, starting from `marginals`.
    ///
    /// # Errors
    /// `ShapeMismatch` if the model's M differs from the one the batch was set for.
    pub fn grad(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<ElboGrad> {
        check_inducing(&self.batch.cond, model.num_inducing())?;
        let batch = self.batch.view();
        let (marg, vexp) = match (marginals, self.checked.vexp.take()) {
            (Marginals::LastChecked, Some(vexp)) => (&mut self.checked.marg, vexp),
            _ => {
                let vexp = elbo_into(model, &batch, model.q(), &mut self.marg).1;
                (&mut self.marg, vexp)
            }
        };
        let elbo = batch.scale * vexp.ve.sum() - prior_kl(model.q());
        let pair = (marg, &vexp);
        let spare = &mut self.spare;
        Ok(gradients(
            model,
            &batch,
            pair,
            (elbo, scope),
            &mut self.buffers,
            spare,
        ))
    }

    /// Splits the workspace into the evaluation of candidate q's for `model` at this batch and
    /// the pool of spare matrices a natural step builds in.
    pub fn candidates<'a>(&'a mut self, model: &'a Svgp) -> (Candidates<'a>, &'a mut Spare) {
        let candidates = Candidates {
            model,
            batch: self.batch.view(),
            checked: &mut self.checked,
        };
        (candidates, &mut self.spare)
    }

    /// The pool of spare M×M matrices and M-vectors shared by the gradients and the natural
    /// step: a caller done with an [`ElboGrad`] or an old q may give their buffers back here.
    pub fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}

/// `ShapeMismatch` unless `cond` is for `m` inducing points (a workspace with no batch set has a
/// conditional for none).
fn check_inducing(cond: &Conditional, m: usize) -> Result<()> {
    check_shape(
        "inducing points of the evaluated q (is a batch set?)",
        Shape::new(cond.lz.nrows(), 1),
        Shape::new(m, 1),
    )
}

/// The ELBO at `q` with the batch's conditional, the marginals written into `marg`, and the
/// likelihood's expectations there.
fn elbo_into(
    model: &Svgp,
    batch: &BatchView,
    q: &VariationalQ,
    marg: &mut BatchMarginals,
) -> (f64, VarExp) {
    batch.cond.batch_marginals_into(q, marg);
    let vexp = model
        .likelihood()
        .variational_expectations(batch.y, &marg.mu, &marg.var);
    (batch.scale * vexp.ve.sum() - prior_kl(q), vexp)
}

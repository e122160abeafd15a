//! [`Workspace`]: one minibatch prepared for evaluation, and every buffer its evaluations reuse.
//!
//! A training iteration evaluates one batch several times: the gradients at q, the ELBO of each
//! candidate the natural step proposes, the hyperparameter gradient at the accepted q. The batch
//! conditional (the O(M²B + M³) part) depends only on the hyperparameters and is computed once
//! per batch; the rest runs in buffers kept between iterations, so a steady-state iteration with
//! a fixed batch size allocates no O(M·B) or O(M²) matrix but the returned gradients.

use super::batch::{BatchView, LatentMarginals};
use super::grad::{data_terms, total_kl, GradBuffers};
use super::gram::{gram_into, uses_gram};
use super::{Conditional, DataTerms, ElboGrad, GradScope, Svgp};
use crate::error::{check_shape, check_targets_shape, Result, Shape};
use crate::likelihood::VarExp;
use crate::linalg::reshape_buffer;
use crate::parallel::splits_columns;
use crate::variational::{Spare, VariationalQ};
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

/// One minibatch (inputs B×D, targets B, scale c = N/B), its conditionals (one per kernel) at the
/// hyperparameters of the model it was set for, and reusable buffers.
///
/// Invariant: evaluations are of the model given to [`Workspace::set_batch`] (or one with the
/// same hyperparameters and Z and another q); set the batch again after changing them.
#[derive(Debug, Clone)]
pub struct Workspace {
    batch: BatchData,
    marg: LatentMarginals,
    checked: Checked,
    buffers: GradBuffers,
    spare: Spare,
}

/// The batch and its conditionals.
#[derive(Debug, Clone)]
struct BatchData {
    x: DMatrix<f64>,
    /// B×P targets, column-major; empty while no batch is valid.
    y: DVector<f64>,
    /// B (0 while no batch is valid).
    rows: usize,
    scale: f64,
    conds: Vec<Conditional>,
    /// W = A Aᵀ (M×M) of each conditional when the batch is trained from its Gram matrix (a
    /// conjugate likelihood and B ≥ M, [`super::gram`]); empty otherwise.
    grams: Vec<DMatrix<f64>>,
    /// Whether the batch's two independent branches run side by side on two threads, as the
    /// model's policy decides ([`crate::Parallelism::joins_branches`]).
    join: bool,
    /// M×M scratch of the Gram matrices formed in column halves.
    gram_scratch: DMatrix<f64>,
}

impl BatchData {
    fn view(&self) -> BatchView<'_> {
        BatchView {
            conds: &self.conds,
            x: &self.x,
            y: &self.y,
            scale: self.scale,
            grams: &self.grams,
            join: self.join,
        }
    }

    /// Computes (or drops) the Gram matrices of the conditionals for `model`'s likelihood.
    fn set_grams(&mut self, model: &Svgp) {
        let m = model.num_inducing();
        let wanted = model.likelihood().is_conjugate() && uses_gram(m, self.rows);
        let column_halves = splits_columns(m, self.rows).then_some(self.join);
        self.grams
            .resize_with(if wanted { self.conds.len() } else { 0 }, || {
                DMatrix::zeros(0, 0)
            });
        for (cond, gram) in self.conds.iter().zip(self.grams.iter_mut()) {
            gram_into(
                &cond.a,
                gram,
                &mut self.gram_scratch,
                column_halves,
                cond.par,
            );
        }
    }
}

/// The batch marginals and likelihood expectations of the last candidate q's evaluated.
#[derive(Debug, Clone)]
struct Checked {
    marg: LatentMarginals,
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
    /// The minibatch ELBO at `qs` (one q per latent) with the batch's conditionals: O(L M²B).
    ///
    /// # Errors
    /// `ShapeMismatch` unless there is one q per latent, each with the M inducing points the
    /// batch was set for.
    pub fn elbo(&mut self, qs: &[VariationalQ]) -> Result<f64> {
        Ok(self.data_term(qs)? - total_kl(qs))
    }

    /// The data term c Σᵢ veᵢ at `qs` (this batch's share when it is one shard of a larger one):
    /// O(L M²B).
    ///
    /// # Errors
    /// As [`Candidates::elbo`].
    pub fn data_term(&mut self, qs: &[VariationalQ]) -> Result<f64> {
        check_qs(&self.batch, self.model, qs)?;
        let (ve, vexp) = data_term_into(self.model, &self.batch, qs, &mut self.checked.marg);
        self.checked.vexp = Some(vexp);
        Ok(ve)
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
                rows: 0,
                scale: 1.0,
                conds: Vec::new(),
                grams: Vec::new(),
                join: false,
                gram_scratch: DMatrix::zeros(0, 0),
            },
            marg: LatentMarginals::empty(),
            checked: Checked {
                marg: LatentMarginals::empty(),
                vexp: None,
            },
            buffers: GradBuffers::new(),
            spare: Spare::new(),
        }
    }

    /// Takes a copy of the batch (`x`: B×D, `y`: B×P column-major, `scale` c = N/B) and computes
    /// its conditionals at `model`'s hyperparameters, its work (and that of the evaluations
    /// that follow) spread over threads as the model's [`crate::Parallelism`] says.
    ///
    /// # Errors
    /// `ShapeMismatch` if x is not B×D or y does not have B·P entries (P the likelihood's
    /// outputs); `InvalidTarget` naming the batch row of the first target outside the
    /// likelihood's domain (a class index ≥ C, negative or fractional; a NaN);
    /// `NotPositiveDefinite` for Kuu. On error the workspace holds no valid batch.
    pub fn set_batch(
        &mut self,
        model: &Svgp,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
    ) -> Result<()> {
        let outputs = model.likelihood().num_outputs();
        check_targets_shape("batch targets", x.nrows(), outputs, y.len())?;
        // The likelihoods index by class target: one outside 0..C−1 must never reach them.
        model.likelihood().check_targets(y)?;
        check_scale(scale)?;
        self.checked.vexp = None;
        let batch = &mut self.batch;
        (batch.y, batch.rows) = (DVector::zeros(0), 0); // no valid batch until the conditional is computed
        batch.join = model
            .parallelism()
            .joins_branches(model.num_inducing(), x.nrows());
        if let Err(e) = model.conditionals_into(x, &mut batch.conds) {
            batch.conds.clear(); // no batch: later evaluations are refused
            return Err(e);
        }
        reshape_buffer(&mut batch.x, x.nrows(), x.ncols());
        batch.x.copy_from(x);
        (batch.y, batch.rows) = (y.clone(), x.nrows());
        batch.scale = scale;
        batch.set_grams(model);
        Ok(())
    }

    /// Sets the batch's scale c (for a shard whose whole batch's size is known only after the
    /// shard was set).
    ///
    /// # Errors
    /// `InvalidParameter { name: "scale" }` unless c is finite and positive.
    pub fn set_scale(&mut self, scale: f64) -> Result<()> {
        check_scale(scale)?;
        self.batch.scale = scale;
        Ok(())
    }

    /// Drops the batch's Gram matrices, so that it is evaluated by the per-point path (for tests
    /// comparing the two).
    #[cfg(test)]
    pub(super) fn drop_grams(&mut self) {
        self.batch.grams.clear();
    }

    /// Whether the batch is evaluated from its Gram matrices ([`super::gram`]).
    #[cfg(test)]
    pub(super) fn uses_grams(&self) -> bool {
        !self.batch.grams.is_empty()
    }

    /// B, the rows of the current batch (0 before the first).
    pub fn batch_size(&self) -> usize {
        self.batch.rows
    }

    /// The minibatch ELBO c Σᵢ veᵢ − Σₗ KLₗ at the model's q's.
    ///
    /// # Errors
    /// `ShapeMismatch` if no batch was set, or the model's M or kernels differ from those it was
    /// set for.
    pub fn elbo(&mut self, model: &Svgp) -> Result<f64> {
        Ok(self.data_term(model)? - total_kl(model.qs()))
    }

    /// The data term c Σᵢ veᵢ at the model's q's: the batch's share of an ELBO summed over
    /// chunks of rows ([`super::ElboSum`]).
    ///
    /// # Errors
    /// As [`Workspace::elbo`].
    pub fn data_term(&mut self, model: &Svgp) -> Result<f64> {
        let batch = self.batch.view();
        check_qs(&batch, model, model.qs())?;
        Ok(data_term_into(model, &batch, model.qs(), &mut self.marg).0)
    }

    /// The ELBO at the model's q's and the gradients `scope` asks for, starting from `marginals`:
    /// this batch's [`DataTerms`] with the KL terms added.
    ///
    /// # Errors
    /// `ShapeMismatch` if the model's M or kernels differ from those the batch was set for.
    pub fn grad(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<ElboGrad> {
        Ok(self
            .data_terms(model, scope, marginals)?
            .into_elbo_grad(model.qs(), model.parallelism()))
    }

    /// The data term c Σᵢ veᵢ at the model's q's and its gradients `scope` asks for, starting
    /// from `marginals`: this batch's share when the batch is one shard of a larger one (set
    /// with that batch's scale), to be added to the other shards' before
    /// [`DataTerms::into_elbo_grad`].
    ///
    /// # Errors
    /// `ShapeMismatch` if the model's M or kernels differ from those the batch was set for.
    pub fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<DataTerms> {
        let batch = self.batch.view();
        check_qs(&batch, model, model.qs())?;
        let (marg, vexp) = match (marginals, self.checked.vexp.take()) {
            (Marginals::LastChecked, Some(vexp)) => (&mut self.checked.marg, vexp),
            _ => {
                let vexp = data_term_into(model, &batch, model.qs(), &mut self.marg).1;
                (&mut self.marg, vexp)
            }
        };
        let pair = (marg, &vexp);
        Ok(data_terms(
            model,
            &batch,
            pair,
            scope,
            &mut self.buffers,
            &mut self.spare,
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

/// `InvalidParameter { name: "scale" }` unless the ELBO's scale c = N/B is finite and positive.
pub(super) fn check_scale(scale: f64) -> Result<()> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(crate::error::SvgpError::InvalidParameter {
            name: "scale".into(),
            value: scale,
            reason: "the ELBO's scale N/B must be finite and positive",
        });
    }
    Ok(())
}

/// `ShapeMismatch` unless the batch's conditionals are for the model's kernels (one each) and
/// `qs` are one per latent, each with the M inducing points of the conditionals (a workspace with
/// no batch set has no conditionals).
fn check_qs(batch: &BatchView, model: &Svgp, qs: &[VariationalQ]) -> Result<()> {
    if !batch.grams.is_empty() && !model.likelihood().is_conjugate() {
        // The Gram path is exact only for a conjugate likelihood (super::gram).
        return Err(crate::error::SvgpError::InvalidParameter {
            name: "likelihood".into(),
            value: f64::NAN,
            reason: "the batch was set for a conjugate likelihood; set it again for this model",
        });
    }
    check_shape(
        "conditionals of the batch, one per kernel (is a batch set?)",
        Shape::new(model.kernels().len(), 1),
        Shape::new(batch.conds.len(), 1),
    )?;
    check_shape(
        "q(v), one per latent",
        Shape::new(model.num_latent(), 1),
        Shape::new(qs.len(), 1),
    )?;
    let m = batch.conds[0].lz.nrows();
    for q in qs {
        check_shape(
            "inducing points of the evaluated q",
            Shape::new(m, 1),
            Shape::new(q.num_inducing(), 1),
        )?;
    }
    Ok(())
}

/// The data term c Σᵢ veᵢ at `qs` with the batch's conditionals, the marginals written into
/// `marg`, and the likelihood's expectations there.
fn data_term_into(
    model: &Svgp,
    batch: &BatchView,
    qs: &[VariationalQ],
    marg: &mut LatentMarginals,
) -> (f64, VarExp) {
    marg.compute(batch, qs);
    let vexp = model
        .likelihood()
        .variational_expectations(batch.y, &marg.mu, &marg.var);
    (batch.scale * vexp.ve.sum(), vexp)
}

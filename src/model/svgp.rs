//! The whitened SVGP: inducing inputs Z, a kernel, a likelihood and q(v) = N(m, L Lᵀ), with its
//! hyperparameter vector and batch conditional. Its ELBO and gradients are evaluated in a
//! [`Workspace`] (`workspace.rs`, `grad.rs`).

use super::{Conditional, ElboGrad, GradScope, Marginals, Workspace};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::kernel::Kernel;
use crate::likelihood::Likelihood;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};

/// Default jitter added to Kuu's diagonal: 1e-6, as GPflow's `default_jitter`.
pub const DEFAULT_JITTER: f64 = 1e-6;

/// A sparse variational GP with whitened inducing variables u = Lz v, q(v) = N(m, L Lᵀ).
///
/// Invariants: `z` is M×D with D = `kernel.input_dim()`, q has M inducing points, all finite.
/// The hyperparameter vector (see [`Svgp::hyper_params`]) is the kernel's unconstrained
/// parameters, then the likelihood's, then Z column by column (all M entries of dimension 0, …).
#[derive(Debug, Clone)]
pub struct Svgp {
    kernel: Box<dyn Kernel>,
    likelihood: Box<dyn Likelihood>,
    z: DMatrix<f64>,
    q: VariationalQ,
    jitter: f64,
}

impl Svgp {
    /// A model with inducing inputs `z` (M×D) and q(v) = N(0, I).
    ///
    /// # Errors
    /// `ShapeMismatch` if Z has no rows or its width is not the kernel's input dimension;
    /// `InvalidParameter` for a non-finite Z entry or a negative or non-finite jitter.
    pub fn new(
        kernel: Box<dyn Kernel>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
    ) -> Result<Self> {
        let q = VariationalQ::standard(z.nrows());
        Self::with_q(kernel, likelihood, z, q, DEFAULT_JITTER)
    }

    /// A model with a given q(v) and Kuu jitter.
    ///
    /// # Errors
    /// As [`Svgp::new`], and `ShapeMismatch` if q does not have M inducing points.
    pub fn with_q(
        kernel: Box<dyn Kernel>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
        q: VariationalQ,
        jitter: f64,
    ) -> Result<Self> {
        check_shape(
            "inducing inputs Z",
            Shape::new(z.nrows().max(1), kernel.input_dim()),
            Shape::new(z.nrows(), z.ncols()),
        )?;
        check_finite_matrix("Z", &z)?;
        check_shape(
            "q(v)",
            Shape::new(z.nrows(), 1),
            Shape::new(q.num_inducing(), 1),
        )?;
        if !(jitter.is_finite() && jitter >= 0.0) {
            return Err(SvgpError::InvalidParameter {
                name: "jitter".into(),
                value: jitter,
                reason: "must be finite and non-negative",
            });
        }
        Ok(Svgp {
            kernel,
            likelihood,
            z,
            q,
            jitter,
        })
    }

    /// The kernel.
    pub fn kernel(&self) -> &dyn Kernel {
        self.kernel.as_ref()
    }

    /// The likelihood.
    pub fn likelihood(&self) -> &dyn Likelihood {
        self.likelihood.as_ref()
    }

    /// Inducing inputs Z, M×D.
    pub fn z(&self) -> &DMatrix<f64> {
        &self.z
    }

    /// q(v).
    pub fn q(&self) -> &VariationalQ {
        &self.q
    }

    /// Replaces q(v).
    ///
    /// # Errors
    /// `ShapeMismatch` if q does not have M inducing points.
    pub fn set_q(&mut self, q: VariationalQ) -> Result<()> {
        self.check_q(&q)?;
        self.q = q;
        Ok(())
    }

    /// `ShapeMismatch` unless q has M inducing points.
    fn check_q(&self, q: &VariationalQ) -> Result<()> {
        check_shape(
            "q(v)",
            Shape::new(self.num_inducing(), 1),
            Shape::new(q.num_inducing(), 1),
        )
    }

    /// A copy of the model with q(v) replaced (the current q is not copied).
    ///
    /// # Errors
    /// `ShapeMismatch` if q does not have M inducing points.
    pub fn clone_with_q(&self, q: VariationalQ) -> Result<Self> {
        self.check_q(&q)?;
        Ok(Svgp {
            kernel: self.kernel.clone(),
            likelihood: self.likelihood.clone(),
            z: self.z.clone(),
            q,
            jitter: self.jitter,
        })
    }

    /// The model's q, the rest dropped (to reuse q's buffers, [`crate::variational::Spare::keep_q`]).
    pub fn into_q(self) -> VariationalQ {
        self.q
    }

    /// The jitter added to Kuu's diagonal.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// M.
    pub fn num_inducing(&self) -> usize {
        self.z.nrows()
    }

    /// D.
    pub fn input_dim(&self) -> usize {
        self.z.ncols()
    }

    /// Kernel parameters, likelihood parameters, then Z column-major (all unconstrained).
    pub fn hyper_params(&self) -> DVector<f64> {
        let k = self.kernel.params();
        let l = self.likelihood.params();
        DVector::from_iterator(
            k.len() + l.len() + self.z.len(),
            k.into_iter().chain(l).chain(self.z.iter().copied()),
        )
    }

    /// Names for [`Svgp::hyper_params`]: `kernel.…`, `likelihood.…`, `z[i,d]`.
    pub fn hyper_param_names(&self) -> Vec<String> {
        let (m, d) = (self.num_inducing(), self.input_dim());
        let kernel = self
            .kernel
            .param_names()
            .into_iter()
            .map(|n| format!("kernel.{n}"));
        let lik = self
            .likelihood
            .param_names()
            .into_iter()
            .map(|n| format!("likelihood.{n}"));
        let z = (0..d).flat_map(move |j| (0..m).map(move |i| format!("z[{i},{j}]")));
        kernel.chain(lik).chain(z).collect()
    }

    /// Sets every hyperparameter at once, in the order of [`Svgp::hyper_params`]; on error the model
    /// is unchanged.
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong length; `InvalidParameter` naming the first non-finite entry.
    pub fn set_hyper_params(&mut self, params: &[f64]) -> Result<()> {
        let (nk, nl) = (self.kernel.num_params(), self.likelihood.num_params());
        check_shape(
            "hyperparameters",
            Shape::new(nk + nl + self.z.len(), 1),
            Shape::new(params.len(), 1),
        )?;
        if params.iter().any(|p| !p.is_finite()) {
            // names are built only to report the first non-finite entry
            crate::transform::check_finite(&self.hyper_param_names(), params)?;
        }
        let mut kernel = self.kernel.clone();
        let mut likelihood = self.likelihood.clone();
        kernel.set_params(&params[..nk])?;
        likelihood.set_params(&params[nk..nk + nl])?;
        self.kernel = kernel;
        self.likelihood = likelihood;
        self.z.as_mut_slice().copy_from_slice(&params[nk + nl..]);
        Ok(())
    }

    /// The batch conditional (Lz, A, kff) at the current hyperparameters; `x`: B×D.
    ///
    /// # Errors
    /// `ShapeMismatch` if x is not B×D; `NotPositiveDefinite` for Kuu.
    pub fn conditional(&self, x: &DMatrix<f64>) -> Result<Conditional> {
        check_shape(
            "batch inputs",
            Shape::new(x.nrows(), self.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        Conditional::new(self.kernel.as_ref(), &self.z, x, self.jitter)
    }

    /// As [`Svgp::conditional`], in the buffers of `cond` (see [`Conditional::recompute`]).
    ///
    /// # Errors
    /// As [`Svgp::conditional`]; on error `cond`'s contents are unspecified.
    pub(crate) fn conditional_into(&self, x: &DMatrix<f64>, cond: &mut Conditional) -> Result<()> {
        check_shape(
            "batch inputs",
            Shape::new(x.nrows(), self.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        cond.recompute(self.kernel.as_ref(), &self.z, x, self.jitter)
    }

    /// The minibatch ELBO c Σᵢ veᵢ − KL at the batch (`x`: B×D, `y`: B), `scale` c = N/B.
    /// Allocates its buffers; a training loop uses a [`Workspace`] instead.
    ///
    /// # Errors
    /// As [`Svgp::conditional`], and `ShapeMismatch` if y does not have B entries.
    pub fn elbo(&self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<f64> {
        let mut ws = Workspace::new();
        ws.set_batch(self, x, y, scale)?;
        ws.elbo(self)
    }

    /// The ELBO and the gradients `scope` asks for at the batch (`x`: B×D, `y`: B), scale
    /// c = N/B. Allocates its buffers; a training loop uses a [`Workspace`] instead.
    ///
    /// # Errors
    /// As [`Svgp::elbo`].
    pub fn elbo_grad(
        &self,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
        scope: GradScope,
    ) -> Result<ElboGrad> {
        let mut ws = Workspace::new();
        ws.set_batch(self, x, y, scale)?;
        ws.grad(self, scope, Marginals::Compute)
    }
}

/// `InvalidParameter { name }` for the first non-finite entry of a matrix.
fn check_finite_matrix(name: &str, a: &DMatrix<f64>) -> Result<()> {
    match a.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(SvgpError::InvalidParameter {
            name: name.to_string(),
            value: *v,
            reason: "entries must be finite",
        }),
        None => Ok(()),
    }
}

//! The whitened SVGP: inducing inputs Z, a kernel, a likelihood and q(v) = N(m, L Lᵀ), with its
//! hyperparameter vector and batch conditional. Its ELBO and gradients are evaluated in a
//! [`Workspace`] (`workspace.rs`, `grad.rs`).

use super::{Conditional, ElboGrad, GradScope, Marginals, Workspace};
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::kernel::Kernel;
use crate::likelihood::Likelihood;
use crate::parallel::Parallelism;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};

/// Default jitter added to Kuu's diagonal: 1e-6, as GPflow's `default_jitter`.
pub const DEFAULT_JITTER: f64 = 1e-6;

/// A sparse variational GP with L ≥ 1 latent functions sharing the inducing inputs Z, each
/// whitened, uₗ = Lz vₗ, with q(vₗ) = N(mₗ, Lₗ Lₗᵀ) independent across latents.
///
/// Invariants: `z` is M×D with D the kernels' input dimension; there is one kernel shared by all
/// latents or one per latent; L = the likelihood's `num_latent()` q's, each with M inducing
/// points; all finite. The hyperparameter vector (see [`Svgp::hyper_params`]) is each kernel's
/// unconstrained parameters in turn, then the likelihood's, then Z column by column (all M
/// entries of dimension 0, …). Its evaluations (conditionals, ELBO, gradients, predictions)
/// spread their work over threads as its [`Parallelism`] says, with the same results under
/// every policy.
#[derive(Debug, Clone)]
pub struct Svgp {
    kernels: Vec<Box<dyn Kernel>>,
    likelihood: Box<dyn Likelihood>,
    z: DMatrix<f64>,
    qs: Vec<VariationalQ>,
    jitter: f64,
    parallelism: Parallelism,
}

impl Svgp {
    /// A model with inducing inputs `z` (M×D), one kernel shared by the likelihood's L latents
    /// and every q(vₗ) = N(0, I).
    ///
    /// # Errors
    /// `ShapeMismatch` if Z has no rows or its width is not the kernel's input dimension;
    /// `InvalidParameter` for a non-finite Z entry.
    pub fn new(
        kernel: Box<dyn Kernel>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
    ) -> Result<Self> {
        Self::with_kernels(vec![kernel], likelihood, z)
    }

    /// A model whose latents have the given kernels: one shared by all, or one per latent (in
    /// latent order), with every q(vₗ) = N(0, I).
    ///
    /// # Errors
    /// As [`Svgp::new`], for every kernel; `ShapeMismatch` unless there are 1 or L kernels.
    pub fn with_kernels(
        kernels: Vec<Box<dyn Kernel>>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
    ) -> Result<Self> {
        let qs = vec![VariationalQ::standard(z.nrows()); likelihood.num_latent()];
        Self::with_qs(kernels, likelihood, z, qs, DEFAULT_JITTER)
    }

    /// A single-latent model with a given q(v) and Kuu jitter.
    ///
    /// # Errors
    /// As [`Svgp::with_qs`].
    pub fn with_q(
        kernel: Box<dyn Kernel>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
        q: VariationalQ,
        jitter: f64,
    ) -> Result<Self> {
        Self::with_qs(vec![kernel], likelihood, z, vec![q], jitter)
    }

    /// A model with the given kernels (1 or L), q's (one per latent, each with M inducing points)
    /// and Kuu jitter.
    ///
    /// # Errors
    /// As [`Svgp::with_kernels`]; `ShapeMismatch` unless there are L q's, each with M inducing
    /// points; `InvalidParameter` for a negative or non-finite jitter.
    pub fn with_qs(
        kernels: Vec<Box<dyn Kernel>>,
        likelihood: Box<dyn Likelihood>,
        z: DMatrix<f64>,
        qs: Vec<VariationalQ>,
        jitter: f64,
    ) -> Result<Self> {
        let latents = likelihood.num_latent();
        check_kernel_count(kernels.len(), latents)?;
        for kernel in &kernels {
            check_shape(
                "inducing inputs Z",
                Shape::new(z.nrows().max(1), kernel.input_dim()),
                Shape::new(z.nrows(), z.ncols()),
            )?;
        }
        check_finite_matrix("Z", &z)?;
        check_qs(&qs, latents, z.nrows())?;
        if !(jitter.is_finite() && jitter >= 0.0) {
            return Err(SvgpError::InvalidParameter {
                name: "jitter".into(),
                value: jitter,
                reason: "must be finite and non-negative",
            });
        }
        Ok(Svgp {
            kernels,
            likelihood,
            z,
            qs,
            jitter,
            parallelism: Parallelism::default(),
        })
    }

    /// The same model, its evaluations spread over threads as `par` says (default:
    /// [`Parallelism::Threads`]).
    pub fn with_parallelism(mut self, par: Parallelism) -> Self {
        self.parallelism = par;
        self
    }

    /// How the model's evaluations spread their work over threads.
    pub fn parallelism(&self) -> Parallelism {
        self.parallelism
    }

    /// Sets how the model's evaluations spread their work over threads.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.parallelism = par;
    }

    /// The first kernel: the one shared by every latent, or latent 0's.
    pub fn kernel(&self) -> &dyn Kernel {
        self.kernels[0].as_ref()
    }

    /// The kernels: one shared by every latent, or one per latent.
    pub fn kernels(&self) -> &[Box<dyn Kernel>] {
        &self.kernels
    }

    /// Whether one kernel serves every latent (always true with one latent).
    pub fn shares_kernel(&self) -> bool {
        self.kernels.len() == 1
    }

    /// The index into [`Svgp::kernels`] of latent `l`'s kernel.
    pub fn kernel_index(&self, l: usize) -> usize {
        if self.shares_kernel() {
            0
        } else {
            l
        }
    }

    /// The likelihood.
    pub fn likelihood(&self) -> &dyn Likelihood {
        self.likelihood.as_ref()
    }

    /// Inducing inputs Z, M×D.
    pub fn z(&self) -> &DMatrix<f64> {
        &self.z
    }

    /// L, the number of latent functions.
    pub fn num_latent(&self) -> usize {
        self.qs.len()
    }

    /// q(v₀): the only q of a single-latent model, the first latent's otherwise.
    pub fn q(&self) -> &VariationalQ {
        &self.qs[0]
    }

    /// q(vₗ) for each latent l, in latent order.
    pub fn qs(&self) -> &[VariationalQ] {
        &self.qs
    }

    /// Replaces q(v) of a single-latent model.
    ///
    /// # Errors
    /// `ShapeMismatch` if the model has several latents or q does not have M inducing points.
    pub fn set_q(&mut self, q: VariationalQ) -> Result<()> {
        self.set_qs(vec![q])
    }

    /// Replaces every q(vₗ).
    ///
    /// # Errors
    /// `ShapeMismatch` unless there are L q's, each with M inducing points.
    pub fn set_qs(&mut self, qs: Vec<VariationalQ>) -> Result<()> {
        check_qs(&qs, self.num_latent(), self.num_inducing())?;
        self.qs = qs;
        Ok(())
    }

    /// A copy of the model with every q(vₗ) replaced (the current q's are not copied).
    ///
    /// # Errors
    /// `ShapeMismatch` unless there are L q's, each with M inducing points.
    pub fn clone_with_qs(&self, qs: Vec<VariationalQ>) -> Result<Self> {
        check_qs(&qs, self.num_latent(), self.num_inducing())?;
        Ok(Svgp {
            kernels: self.kernels.clone(),
            likelihood: self.likelihood.clone(),
            z: self.z.clone(),
            qs,
            jitter: self.jitter,
            parallelism: self.parallelism,
        })
    }

    /// The model's q's, the rest dropped (to reuse their buffers,
    /// [`crate::variational::Spare::keep_q`]).
    pub fn into_qs(self) -> Vec<VariationalQ> {
        self.qs
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

    /// Each kernel's parameters, the likelihood's, then Z column-major (all unconstrained).
    pub fn hyper_params(&self) -> DVector<f64> {
        let kernels = self.kernels.iter().flat_map(|k| k.params());
        let lik = self.likelihood.params();
        let n = self.kernels.iter().map(|k| k.num_params()).sum::<usize>() + lik.len();
        DVector::from_iterator(
            n + self.z.len(),
            kernels.chain(lik).chain(self.z.iter().copied()),
        )
    }

    /// Names for [`Svgp::hyper_params`]: `kernel.…` (`kernel[l].…` with a kernel per latent),
    /// `likelihood.…`, `z[i,d]`.
    pub fn hyper_param_names(&self) -> Vec<String> {
        let (m, d) = (self.num_inducing(), self.input_dim());
        let shared = self.shares_kernel();
        let kernels = self.kernels.iter().enumerate().flat_map(|(l, k)| {
            let prefix = if shared {
                "kernel".to_string()
            } else {
                format!("kernel[{l}]")
            };
            k.param_names()
                .into_iter()
                .map(move |n| format!("{prefix}.{n}"))
        });
        let lik = self
            .likelihood
            .param_names()
            .into_iter()
            .map(|n| format!("likelihood.{n}"));
        let z = (0..d).flat_map(move |j| (0..m).map(move |i| format!("z[{i},{j}]")));
        kernels.chain(lik).chain(z).collect()
    }

    /// Sets every hyperparameter at once, in the order of [`Svgp::hyper_params`]; on error the model
    /// is unchanged.
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong length; `InvalidParameter` naming the first non-finite entry.
    pub fn set_hyper_params(&mut self, params: &[f64]) -> Result<()> {
        let nk: usize = self.kernels.iter().map(|k| k.num_params()).sum();
        let nl = self.likelihood.num_params();
        check_shape(
            "hyperparameters",
            Shape::new(nk + nl + self.z.len(), 1),
            Shape::new(params.len(), 1),
        )?;
        if params.iter().any(|p| !p.is_finite()) {
            // names are built only to report the first non-finite entry
            crate::transform::check_finite(&self.hyper_param_names(), params)?;
        }
        let mut kernels = self.kernels.clone();
        let mut start = 0;
        for kernel in &mut kernels {
            let n = kernel.num_params();
            kernel.set_params(&params[start..start + n])?;
            start += n;
        }
        let mut likelihood = self.likelihood.clone();
        likelihood.set_params(&params[nk..nk + nl])?;
        self.kernels = kernels;
        self.likelihood = likelihood;
        self.z.as_mut_slice().copy_from_slice(&params[nk + nl..]);
        Ok(())
    }

    /// The batch conditional (Lz, A, kff) of each kernel (see [`Svgp::kernels`]) at the current
    /// hyperparameters; `x`: B×D.
    ///
    /// # Errors
    /// `ShapeMismatch` if x is not B×D; `NotPositiveDefinite` for a Kuu.
    pub fn conditionals(&self, x: &DMatrix<f64>) -> Result<Vec<Conditional>> {
        let mut conds = Vec::new();
        self.conditionals_into(x, &mut conds)?;
        Ok(conds)
    }

    /// As [`Svgp::conditionals`], in the buffers of `conds` (see [`Conditional::recompute`]),
    /// which is resized to the number of kernels.
    ///
    /// # Errors
    /// As [`Svgp::conditionals`]; on error the contents of `conds` are unspecified.
    pub(crate) fn conditionals_into(
        &self,
        x: &DMatrix<f64>,
        conds: &mut Vec<Conditional>,
    ) -> Result<()> {
        check_shape(
            "batch inputs",
            Shape::new(x.nrows(), self.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        conds.resize_with(self.kernels.len(), Conditional::empty);
        for (kernel, cond) in self.kernels.iter().zip(conds.iter_mut()) {
            cond.recompute(kernel.as_ref(), &self.z, x, self.jitter, self.parallelism)?;
        }
        Ok(())
    }

    /// The ELBO c Σᵢ veᵢ − Σₗ KLₗ at the rows `x` (B×D) with targets `y` (B×P column-major),
    /// `scale` c = N/B (1 for all the rows), summed over chunks of [`Svgp::chunk_rows`] rows
    /// ([`super::ElboSum`]): its memory is bounded by a chunk, not by B·M. Allocates its
    /// buffers; a training loop uses a [`Workspace`] instead.
    ///
    /// # Errors
    /// `InvalidParameter { name: "scale" }` unless c is finite and positive; as
    /// [`Svgp::conditionals`]; `ShapeMismatch` if y does not have B·P entries; `InvalidTarget`
    /// naming the row of the first target outside the likelihood's domain.
    pub fn elbo(&self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<f64> {
        super::workspace::check_scale(scale)?;
        let mut sum = super::ElboSum::new(self);
        sum.add(x, y)?;
        sum.elbo(scale)
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

/// `ShapeMismatch` unless there is one kernel or one per latent.
fn check_kernel_count(kernels: usize, latents: usize) -> Result<()> {
    if kernels == 1 {
        return Ok(());
    }
    check_shape(
        "kernels (one shared, or one per latent)",
        Shape::new(latents, 1),
        Shape::new(kernels, 1),
    )
}

/// `ShapeMismatch` unless there are `latents` q's, each with `m` inducing points.
fn check_qs(qs: &[VariationalQ], latents: usize, m: usize) -> Result<()> {
    check_shape(
        "q(v), one per latent",
        Shape::new(latents, 1),
        Shape::new(qs.len(), 1),
    )?;
    for q in qs {
        check_shape("q(v)", Shape::new(m, 1), Shape::new(q.num_inducing(), 1))?;
    }
    Ok(())
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

//! The whitened SVGP: inducing inputs Z, a kernel, a likelihood and q(v) = N(m, L Lᵀ); its
//! minibatch ELBO and the exact gradients of that ELBO with respect to q (MATH.md §2) and, by
//! hand-derived reverse mode, to every kernel and likelihood parameter and every entry of Z (§4).

use super::conditional::BatchMarginals;
use super::Conditional;
use crate::error::{check_shape, Result, Shape, SvgpError};
use crate::kernel::{Kernel, PARALLEL_MIN_ENTRIES};
use crate::likelihood::{Likelihood, VarExp};
use crate::linalg::{
    lower_mul_into, lower_of_matmul_nt_into, matmul, mirror_lower_in_place, phi, reshape_buffer,
    solve_lower_transpose_in_place, symmetrise_in_place, transpose_in_place, zero_upper_in_place,
};
use crate::variational::{
    eta_gradient, prior_kl, prior_kl_grad_l, sub_prior_kl_grad_s, Coords, Spare, VariationalQ,
};
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

/// Which gradients [`Svgp::elbo_grad_with`] computes; what is not asked for is left empty
/// (length 0), and its O(M³) work is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradScope {
    /// The ELBO, ∇_η L and ∂L/∂m: what a natural step needs.
    Eta,
    /// Also ∂L/∂L: what Adam on q needs.
    Q,
    /// The ELBO and the hyperparameter and Z gradients only: what the Adam step on them needs.
    Hyper,
    /// Everything.
    All,
}

/// Scratch buffers for [`Svgp::elbo_grad_in`]: one M×B and one M×M matrix, reshaped on first
/// use and reused while M and B stay the same, and a [`Spare`] pool from which ∂L/∂S is built.
/// Their contents between calls mean nothing.
#[derive(Debug, Clone)]
pub struct GradBuffers {
    /// M×B: A diag(g_σ) for the q gradients, then Ā and K̄uf = Lz⁻ᵀ Ā.
    mb: DMatrix<f64>,
    /// M×M: tril(Ā Aᵀ), then K̄uu.
    mm: DMatrix<f64>,
    /// Where ∂L/∂S (returned in [`ElboGrad::d_eta`]) is built; a caller done with an
    /// [`ElboGrad`] may give its matrices back here.
    spare: Spare,
}

impl GradBuffers {
    /// Empty buffers (no allocation until first use).
    pub fn new() -> Self {
        GradBuffers {
            mb: DMatrix::zeros(0, 0),
            mm: DMatrix::zeros(0, 0),
            spare: Spare::new(),
        }
    }

    /// The pool of spare matrices, shared with whatever else the caller builds (a natural step).
    pub fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}

impl Default for GradBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// The minibatch ELBO and all its gradients at one state, from one [`Conditional`].
#[derive(Debug, Clone)]
pub struct ElboGrad {
    /// ELBO = c Σᵢ veᵢ − KL (MATH.md §1).
    pub elbo: f64,
    /// ∇_η L = (∂L/∂η₁, ∂L/∂η₂), the direction of every natural gradient (MATH.md §2).
    pub d_eta: Coords,
    /// ∂L/∂m, length M.
    pub dl_dm: DVector<f64>,
    /// ∂L/∂L for the lower-triangular entries of L (strict upper triangle zero), M×M.
    pub dl_dl: DMatrix<f64>,
    /// ∂L/∂(hyperparameters), in the order of [`Svgp::hyper_params`].
    pub d_hyper: DVector<f64>,
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

    /// The model's q, the rest dropped (to reuse q's buffers, [`Spare::keep_q`]).
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
    pub fn conditional_into(&self, x: &DMatrix<f64>, cond: &mut Conditional) -> Result<()> {
        check_shape(
            "batch inputs",
            Shape::new(x.nrows(), self.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        cond.recompute(self.kernel.as_ref(), &self.z, x, self.jitter)
    }

    /// The minibatch ELBO c Σᵢ veᵢ − KL at the batch (`x`: B×D, `y`: B), `scale` c = N/B.
    ///
    /// # Errors
    /// As [`Svgp::conditional`], and `ShapeMismatch` if y does not have B entries.
    pub fn elbo(&self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<f64> {
        let cond = self.conditional(x)?;
        check_shape(
            "batch targets",
            Shape::new(x.nrows(), 1),
            Shape::new(y.len(), 1),
        )?;
        Ok(self.elbo_at(&cond, y, scale, &self.q))
    }

    /// The minibatch ELBO at another q(v), reusing this batch's conditional (only the marginals
    /// and the KL are recomputed: O(M²B)). `y` must have B entries.
    pub fn elbo_at(
        &self,
        cond: &Conditional,
        y: &DVector<f64>,
        scale: f64,
        q: &VariationalQ,
    ) -> f64 {
        self.elbo_and_marginals_at(cond, y, scale, q).0
    }

    /// As [`Svgp::elbo_at`], also returning the batch marginals of that q and the likelihood's
    /// expectations at them and `y`, which [`Svgp::elbo_grad_from`] reuses once q is the model's.
    pub fn elbo_and_marginals_at(
        &self,
        cond: &Conditional,
        y: &DVector<f64>,
        scale: f64,
        q: &VariationalQ,
    ) -> (f64, BatchMarginals, VarExp) {
        let mut marg = BatchMarginals::empty();
        let (elbo, vexp) = self.elbo_and_marginals_into(cond, y, scale, q, &mut marg);
        (elbo, marg, vexp)
    }

    /// As [`Svgp::elbo_and_marginals_at`], with the marginals written into `marg`'s buffers.
    pub fn elbo_and_marginals_into(
        &self,
        cond: &Conditional,
        y: &DVector<f64>,
        scale: f64,
        q: &VariationalQ,
        marg: &mut BatchMarginals,
    ) -> (f64, VarExp) {
        cond.batch_marginals_into(q, marg);
        let vexp = self
            .likelihood
            .variational_expectations(y, &marg.mu, &marg.var);
        (scale * vexp.ve.sum() - prior_kl(q), vexp)
    }

    /// The ELBO and every gradient at the batch (`x`: B×D, `y`: B), scale c = N/B.
    ///
    /// # Errors
    /// As [`Svgp::elbo`].
    pub fn elbo_grad(&self, x: &DMatrix<f64>, y: &DVector<f64>, scale: f64) -> Result<ElboGrad> {
        let cond = self.conditional(x)?;
        self.elbo_grad_with(&cond, x, y, scale, GradScope::All)
    }

    /// As [`Svgp::elbo_grad`] (for the gradients `scope` asks for), reusing a conditional computed for this batch at the current
    /// hyperparameters (it does not depend on q, so a natural step on q may come in between).
    ///
    /// # Errors
    /// `ShapeMismatch` if y does not have B entries or `cond` is for another batch size.
    pub fn elbo_grad_with(
        &self,
        cond: &Conditional,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
        scope: GradScope,
    ) -> Result<ElboGrad> {
        let marg = cond.batch_marginals(&self.q);
        self.elbo_grad_from(cond, marg, None, x, y, scale, scope)
    }

    /// As [`Svgp::elbo_grad_with`], from the batch marginals of the model's current q at `cond`
    /// (from [`Svgp::elbo_and_marginals_at`] or [`Conditional::batch_marginals`]); marginals of
    /// another q give the gradients of a different ELBO. The marginals are consumed: their Lᵀ A
    /// buffer is reused. `vexp`, when given, must be the likelihood's expectations at these
    /// marginals and `y` (as [`Svgp::elbo_and_marginals_at`] returns them); else they are computed.
    ///
    /// # Errors
    /// As [`Svgp::elbo_grad_with`]; `ShapeMismatch` if `marg` is not for B points and M
    /// inducing points, or `vexp` not for B points.
    #[allow(clippy::too_many_arguments)]
    pub fn elbo_grad_from(
        &self,
        cond: &Conditional,
        mut marg: BatchMarginals,
        vexp: Option<VarExp>,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
        scope: GradScope,
    ) -> Result<ElboGrad> {
        let mut buffers = GradBuffers::new();
        self.elbo_grad_in(cond, &mut marg, vexp, x, y, scale, scope, &mut buffers)
    }

    /// As [`Svgp::elbo_grad_from`], with the marginals borrowed (their Lᵀ A is overwritten) and
    /// every O(M·B) and O(M²) temporary of the hyperparameter gradients in `buffers`: in a loop
    /// with a fixed batch size, this allocates no matrix but the returned gradients.
    ///
    /// # Errors
    /// As [`Svgp::elbo_grad_from`].
    #[allow(clippy::too_many_arguments)]
    pub fn elbo_grad_in(
        &self,
        cond: &Conditional,
        marg: &mut BatchMarginals,
        vexp: Option<VarExp>,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
        scale: f64,
        scope: GradScope,
        buffers: &mut GradBuffers,
    ) -> Result<ElboGrad> {
        let b = cond.a.ncols();
        check_shape("batch targets", Shape::new(b, 1), Shape::new(y.len(), 1))?;
        check_shape(
            "batch inputs",
            Shape::new(b, self.input_dim()),
            Shape::new(x.nrows(), x.ncols()),
        )?;
        check_shape(
            "batch marginals Lᵀ A",
            Shape::new(self.num_inducing(), b),
            Shape::new(marg.lta.nrows(), marg.lta.ncols()),
        )?;
        let (mu, var) = (&marg.mu, &marg.var);
        let vexp = match vexp {
            Some(v) => {
                check_shape(
                    "variational expectations",
                    Shape::new(b, 1),
                    Shape::new(v.ve.len(), 1),
                )?;
                v
            }
            None => self.likelihood.variational_expectations(y, mu, var),
        };
        let elbo = scale * vexp.ve.sum() - prior_kl(&self.q);
        let want_hyper = matches!(scope, GradScope::Hyper | GradScope::All);

        // Gradients with respect to q (MATH.md §2).
        let m = self.q.m();
        let (d_eta, dl_dm, dl_dl) = if scope == GradScope::Hyper {
            let empty = Coords {
                vector: DVector::zeros(0),
                matrix: DMatrix::zeros(0, 0),
            };
            (empty, DVector::zeros(0), DMatrix::zeros(0, 0))
        } else {
            // c A diag(g_σ) Aᵀ, M×M: a symmetric rank-B update, lower half then mirrored
            let a_gvar = &mut buffers.mb;
            reshape_buffer(a_gvar, cond.a.nrows(), b);
            a_gvar.copy_from(&cond.a);
            scale_columns(a_gvar, &vexp.g_var); // A diag(g_σ), M×B
            let mut dl_ds = buffers.spare.matrix(m.len(), m.len());
            lower_of_matmul_nt_into(a_gvar, &cond.a, &mut dl_ds);
            dl_ds *= scale;
            mirror_lower_in_place(&mut dl_ds);
            let dl_dm = &cond.a * &vexp.g_mu * scale - m; // c A g_μ − ∂KL/∂m
            let dl_dl = if matches!(scope, GradScope::Q | GradScope::All) {
                let mut dl_dl = matmul(&dl_ds, self.q.l()) * 2.0; // 2 (∂L/∂S)_data L
                zero_upper_in_place(&mut dl_dl);
                dl_dl - prior_kl_grad_l(&self.q)
            } else {
                DMatrix::zeros(0, 0)
            };
            sub_prior_kl_grad_s(&self.q, &mut dl_ds); // c A diag(g_σ) Aᵀ − ½ I + ½ S⁻¹
            (eta_gradient(&dl_dm, dl_ds, m), dl_dm, dl_dl)
        };
        if !want_hyper {
            return Ok(ElboGrad {
                elbo,
                d_eta,
                dl_dm,
                dl_dl,
                d_hyper: DVector::zeros(0),
            });
        }

        // Reverse mode through A, Lz, Kuu, Kuf and kff (MATH.md §4).
        // (S − I) A diag(g_σ) = L (Lᵀ A diag(g_σ)) − A diag(g_σ): one triangular product, no S.
        let lta_gvar = &mut marg.lta;
        scale_columns(lta_gvar, &vexp.g_var); // Lᵀ A diag(g_σ)
        let GradBuffers {
            mb: a_bar,
            mm: kuu_bar_g,
            ..
        } = buffers;
        lower_mul_into(self.q.l(), lta_gvar, a_bar); // S A diag(g_σ)
        let (m_s, g_mu, g_var) = (m.as_slice(), vexp.g_mu.as_slice(), vexp.g_var.as_slice());
        let columns = a_bar
            .as_mut_slice()
            .chunks_exact_mut(m_s.len())
            .zip(cond.a.as_slice().chunks_exact(m_s.len()));
        for ((col, a_j), (&g_mu_j, &g_var_j)) in columns.zip(g_mu.iter().zip(g_var)) {
            // Ā = c (m g_μᵀ + 2 (S − I) A diag(g_σ)), M×B, in one pass over plain slices
            for ((v, &mi), &aij) in col.iter_mut().zip(m_s).zip(a_j) {
                *v = scale * (mi * g_mu_j + 2.0 * (*v - aij * g_var_j));
            }
        }
        let kff_bar = &vexp.g_var * scale;
        // K̄uu from G = tril(Ā Aᵀ), taken before Ā becomes K̄uf (see kuu_bar_in_place)
        let kuu_bar = kuu_bar_g;
        lower_of_matmul_nt_into(a_bar, &cond.a, kuu_bar);
        let (kernel, z) = (self.kernel.as_ref(), &self.z);
        let kuf_vjp = move || {
            let kuf_bar = a_bar; // becomes Lz⁻ᵀ Ā
            solve_lower_transpose_in_place(&cond.lz, kuf_bar);
            kernel.vjp_given_matrix(z, x, &cond.kuf, kuf_bar)
        };
        let kuu_vjp = move || {
            let kuu_bar = kuu_bar; // moved in: the closure runs once
            kuu_bar_in_place(&cond.lz, kuu_bar);
            kernel.vjp_given_matrix(z, z, &cond.kuu, kuu_bar)
        };
        // The two branches are independent: one on each core when Kuf is large enough to pay
        // for the hand-off (the kernels' threshold; at M = 100, B = 256 a join was slower, README).
        let ((d_kuf, z_bar_uf), (d_kuu, z_bar_uu)) = if cond.kuf.len() >= PARALLEL_MIN_ENTRIES {
            rayon::join(kuf_vjp, kuu_vjp)
        } else {
            (kuf_vjp(), kuu_vjp())
        };
        let d_kernel = d_kuu + d_kuf + kernel.vjp_diag_params(x, &kff_bar);
        let d_lik = self
            .likelihood
            .vjp_params(y, mu, var, &DVector::from_element(b, scale));
        let d_z = z_bar_uu * 2.0 + z_bar_uf; // Kuu = k(Z, Z) is symmetric: twice its first-argument VJP
        let d_hyper = DVector::from_iterator(
            d_kernel.len() + d_lik.len() + d_z.len(),
            d_kernel
                .iter()
                .chain(d_lik.iter())
                .chain(d_z.iter())
                .copied(),
        );
        Ok(ElboGrad {
            elbo,
            d_eta,
            dl_dm,
            dl_dl,
            d_hyper,
        })
    }
}

/// A ← A diag(w): column j of `a` (M×B) scaled by wⱼ (B), in place.
fn scale_columns(a: &mut DMatrix<f64>, w: &DVector<f64>) {
    let rows = a.nrows().max(1); // chunks of one column (a column-major buffer)
    for (col, &wj) in a.as_mut_slice().chunks_exact_mut(rows).zip(w.iter()) {
        col.iter_mut().for_each(|v| *v *= wj);
    }
}

/// K̄uu from G = tril(Ā Aᵀ) (M×M, lower, in `w`, overwritten by the symmetric K̄uu), Lz: M×M.
///
/// MATH.md §4 chains L̄z = −tril(Lz⁻ᵀ Ā Aᵀ) = −tril(Lz⁻ᵀ G) into the Cholesky adjoint
/// P = Φ(Lzᵀ L̄z), W = Lz⁻ᵀ P Lz⁻¹, K̄uu = ½ (W + Wᵀ) (Murray 2016). Since
/// Lzᵀ tril(Lz⁻ᵀ G) = G − Lzᵀ striu(Lz⁻ᵀ G) and Lzᵀ times a strictly upper triangular matrix
/// is strictly upper triangular, the lower triangle of Lzᵀ L̄z is that of −G: P = −Φ(G), and
/// neither L̄z nor the M³ product Lzᵀ L̄z is formed.
fn kuu_bar_in_place(lz: &DMatrix<f64>, w: &mut DMatrix<f64>) {
    *w = phi(std::mem::replace(w, DMatrix::zeros(0, 0))); // Φ(G), in its buffer
    w.neg_mut(); // P = Φ(Lzᵀ L̄z) = −Φ(G)
    solve_lower_transpose_in_place(lz, w); // Lz⁻ᵀ P
    transpose_in_place(w);
    solve_lower_transpose_in_place(lz, w); // Lz⁻ᵀ (Lz⁻ᵀ P)ᵀ = Wᵀ
    symmetrise_in_place(w);
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

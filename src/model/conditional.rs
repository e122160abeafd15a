//! The batch conditional: Kuu, its factor Lz, A = Lz⁻¹ Kuf and diag Kff (MATH.md §1).
//!
//! These depend on the hyperparameters, Z and the batch, never on q, so one `Conditional` serves
//! the ELBO, the natural gradient and the hyperparameter gradients of a training iteration.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::linalg::{
    cholesky_with_jitter_into, dot, lower_tr_mul_into, reshape_buffer,
    solve_lower_in_column_halves, solve_lower_in_place,
};
use crate::parallel::{splits_columns, Parallelism};
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector, DVectorViewMut};

/// Kuu (M×M), Kuf (M×B), Lz = chol(Kuu + jitter·I) (M×M), A = Lz⁻¹ Kuf (M×B) and
/// kff = diag k(X, X) (B) for one batch.
#[derive(Debug, Clone)]
pub struct Conditional {
    /// Kuu = k(Z, Z), without the jitter (M×M); the kernel VJP may reuse it.
    pub kuu: DMatrix<f64>,
    /// Kuf = k(Z, X) (M×B); the kernel VJP may reuse it.
    pub kuf: DMatrix<f64>,
    /// Lz, lower Cholesky factor of Kuu (M×M).
    pub lz: DMatrix<f64>,
    /// A = Lz⁻¹ Kuf (M×B).
    pub a: DMatrix<f64>,
    /// diag k(X, X) (B).
    pub kff_diag: DVector<f64>,
    /// The policy these were computed under, which the marginals at this batch follow too.
    pub(super) par: Parallelism,
}

impl Conditional {
    /// One Cholesky of Kuu and one triangular solve for A. `z`: M×D, `x`: B×D; the work is
    /// spread over threads as `par` says (the same bits under every policy).
    ///
    /// # Errors
    /// `NotPositiveDefinite { matrix: "Kuu", pivot, jitter }` if Kuu + jitter·I is not positive
    /// definite (for example two coincident inducing inputs with a tiny jitter).
    pub fn new(
        kernel: &dyn Kernel,
        z: &DMatrix<f64>,
        x: &DMatrix<f64>,
        jitter: f64,
        par: Parallelism,
    ) -> Result<Self> {
        let mut cond = Conditional::empty();
        cond.recompute(kernel, z, x, jitter, par)?;
        Ok(cond)
    }

    /// A conditional for no inducing points and no batch: a workspace for
    /// [`Conditional::recompute`].
    pub fn empty() -> Self {
        Conditional {
            kuu: DMatrix::zeros(0, 0),
            kuf: DMatrix::zeros(0, 0),
            lz: DMatrix::zeros(0, 0),
            a: DMatrix::zeros(0, 0),
            kff_diag: DVector::zeros(0),
            par: Parallelism::default(),
        }
    }

    /// As [`Conditional::new`], in this conditional's buffers: no allocation when they already
    /// have the shapes of `z` (M×D) and `x` (B×D), as in a training loop with a fixed batch size.
    /// Kuu and its factorisation run beside Kuf, and the two column halves of A side by side
    /// where its solve is split ([`splits_columns`]), when `par` joins the batch's branches.
    ///
    /// # Errors
    /// As [`Conditional::new`]; on error the contents are unspecified (recompute before use).
    pub fn recompute(
        &mut self,
        kernel: &dyn Kernel,
        z: &DMatrix<f64>,
        x: &DMatrix<f64>,
        jitter: f64,
        par: Parallelism,
    ) -> Result<()> {
        let (m, b) = (z.nrows(), x.nrows());
        let join = par.joins_branches(m, b);
        self.par = par;
        let (kuu, lz, kuf) = (&mut self.kuu, &mut self.lz, &mut self.kuf);
        let factor = move || {
            let (kuu, lz) = (kuu, lz); // moved in: the closure runs once
            kernel.matrix_into(z, z, kuu, par); // M×M
            cholesky_with_jitter_into(kuu, jitter, "Kuu", lz, par)
        };
        let cross = move || {
            let kuf = kuf;
            kernel.matrix_into(z, x, kuf, par) // M×B
        };
        // Kuu and its factorisation run on one core and Kuf beside it when joined.
        let (factored, ()) = Parallelism::join(join, factor, cross);
        factored?;
        reshape_buffer(&mut self.a, self.kuf.nrows(), self.kuf.ncols());
        self.a.copy_from(&self.kuf);
        // A = Lz⁻¹ Kuf, in halves of its columns side by side when joined
        if splits_columns(m, b) {
            solve_lower_in_column_halves(&self.lz, &mut self.a, join);
        } else {
            solve_lower_in_place(&self.lz, &mut self.a, par);
        }
        self.kff_diag = kernel.diag(x); // length B: small
        Ok(())
    }

    /// Marginals of q(f) at the batch (MATH.md §1): μ = Aᵀ m and
    /// σ²ᵢ = kffᵢ − ‖aᵢ‖² + ‖Lᵀaᵢ‖² (clamped at 0 against rounding), each of length B.
    pub fn marginals(&self, q: &VariationalQ) -> (DVector<f64>, DVector<f64>) {
        let BatchMarginals { mu, var, .. } = self.batch_marginals(q);
        (mu, var)
    }

    /// As [`Conditional::marginals`], keeping the product Lᵀ A (M×B) for the hyperparameter
    /// gradients of the same q.
    pub fn batch_marginals(&self, q: &VariationalQ) -> BatchMarginals {
        let mut marg = BatchMarginals::empty();
        self.batch_marginals_into(q, &mut marg);
        marg
    }

    /// As [`Conditional::batch_marginals`], into `out`'s buffers (no allocation when they
    /// already have this batch's shapes).
    pub fn batch_marginals_into(&self, q: &VariationalQ, out: &mut BatchMarginals) {
        let b = self.a.ncols();
        if out.mu.len() != b {
            out.mu = DVector::zeros(b);
            out.var = DVector::zeros(b);
        }
        let BatchMarginals { mu, var, lta } = out;
        self.marginals_into(q, mu.column_mut(0), var.column_mut(0), lta);
    }

    /// The marginals of q at this batch written into `mu` and `var` (length B each, for example
    /// one latent's column of B×L matrices), and Lᵀ A (M×B) into `lta`.
    pub(crate) fn marginals_into(
        &self,
        q: &VariationalQ,
        mu: DVectorViewMut<f64>,
        var: DVectorViewMut<f64>,
        lta: &mut DMatrix<f64>,
    ) {
        whitened_marginals_into(&self.a, &self.kff_diag, q, (mu, var, lta), self.par);
    }
}

/// μ = Aᵀ m into `mu` and σ²ᵢ = kffᵢ − ‖aᵢ‖² + ‖Lᵀaᵢ‖² (clamped at 0 against rounding) into
/// `var` (length B each) from A = Lz⁻¹ Kuf (M×B) and kff (B); Lᵀ A (M×B) into `lta`, under
/// `par`.
pub(crate) fn whitened_marginals_into(
    a: &DMatrix<f64>,
    kff_diag: &DVector<f64>,
    q: &VariationalQ,
    (mut mu, mut var, lta): (DVectorViewMut<f64>, DVectorViewMut<f64>, &mut DMatrix<f64>),
    par: Parallelism,
) {
    a.tr_mul_to(q.m(), &mut mu); // Aᵀ m
    lower_tr_mul_into(q.l(), a, lta, par); // Lᵀ A, M×B (triangular product)
    for (i, v) in var.iter_mut().enumerate() {
        let (a_i, lta_i) = (a.column(i), lta.column(i));
        let (a_i, lta_i) = (a_i.as_slice(), lta_i.as_slice());
        *v = (kff_diag[i] - dot(a_i, a_i) + dot(lta_i, lta_i)).max(0.0);
    }
}

/// The marginals of q(f) at one batch for one q(v), with the product they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchMarginals {
    /// μ = Aᵀ m, length B.
    pub mu: DVector<f64>,
    /// σ²ᵢ = kffᵢ − ‖aᵢ‖² + ‖Lᵀaᵢ‖², length B.
    pub var: DVector<f64>,
    /// Lᵀ A, M×B.
    pub lta: DMatrix<f64>,
}

impl BatchMarginals {
    /// Marginals of no points: a workspace for [`Conditional::batch_marginals_into`].
    pub fn empty() -> Self {
        BatchMarginals {
            mu: DVector::zeros(0),
            var: DVector::zeros(0),
            lta: DMatrix::zeros(0, 0),
        }
    }
}

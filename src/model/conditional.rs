//! The batch conditional: Kuu, its factor Lz, A = Lz⁻¹ Kuf and diag Kff (MATH.md §1).
//!
//! These depend on the hyperparameters, Z and the batch, never on q, so one `Conditional` serves
//! the ELBO, the natural gradient and the hyperparameter gradients of a training iteration.

use crate::error::Result;
use crate::kernel::Kernel;
use crate::linalg::{cholesky_with_jitter, lower_tr_mul, solve_lower_in_place};
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};

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
}

impl Conditional {
    /// One Cholesky of Kuu and one triangular solve for A. `z`: M×D, `x`: B×D.
    ///
    /// # Errors
    /// `NotPositiveDefinite { matrix: "Kuu", pivot, jitter }` if Kuu + jitter·I is not positive
    /// definite (for example two coincident inducing inputs with a tiny jitter).
    pub fn new(
        kernel: &dyn Kernel,
        z: &DMatrix<f64>,
        x: &DMatrix<f64>,
        jitter: f64,
    ) -> Result<Self> {
        let kuu = kernel.matrix(z, z); // M×M
        let lz = cholesky_with_jitter(&kuu, jitter, "Kuu")?;
        let kuf = kernel.matrix(z, x); // M×B
        let mut a = kuf.clone();
        solve_lower_in_place(&lz, &mut a); // A = Lz⁻¹ Kuf
        Ok(Conditional {
            kuu,
            kuf,
            lz,
            a,
            kff_diag: kernel.diag(x),
        })
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
        let mu = self.a.tr_mul(q.m()); // Aᵀ m
        let lta = lower_tr_mul(q.l(), &self.a); // Lᵀ A, M×B (triangular product)
        let var = DVector::from_fn(self.a.ncols(), |i, _| {
            let v =
                self.kff_diag[i] - self.a.column(i).norm_squared() + lta.column(i).norm_squared();
            v.max(0.0)
        });
        BatchMarginals { mu, var, lta }
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

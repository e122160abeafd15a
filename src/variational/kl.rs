//! KL[q(v) ‖ p(v)] for the whitened prior p(v) = N(0, I), and its gradients (MATH.md §1–2).

use super::VariationalQ;
use crate::linalg::{dot, log_det_from_factor};
use nalgebra::{DMatrix, DVector};

/// KL = ½ (tr S + mᵀm − M − log|S|), with tr S = ‖L‖²_F and log|S| = 2 Σⱼ log Lⱼⱼ.
pub fn prior_kl(q: &VariationalQ) -> f64 {
    let num_inducing = q.num_inducing() as f64;
    let trace_s = lower_norm_squared(q.l());
    0.5 * (trace_s + q.m().norm_squared() - num_inducing - log_det_from_factor(q.l()))
}

/// ‖L‖²_F of a lower-triangular `l` (N×N) from its lower triangle only, a vectorised sum per
/// column: half the reads of a sum over every entry.
fn lower_norm_squared(l: &DMatrix<f64>) -> f64 {
    let n = l.nrows().max(1);
    let columns = l.as_slice().chunks_exact(n).enumerate();
    columns.map(|(j, col)| dot(&col[j..], &col[j..])).sum()
}

/// Gradients of [`prior_kl`]: with respect to m (length M), S (symmetric M×M) and L (lower M×M).
#[derive(Debug, Clone, PartialEq)]
pub struct KlGrad {
    /// ∂KL/∂m = m.
    pub dm: DVector<f64>,
    /// ∂KL/∂S = ½ (I − S⁻¹), symmetric.
    pub ds: DMatrix<f64>,
    /// ∂KL/∂L = tril(L − L⁻ᵀ), for L's lower-triangular entries.
    pub dl: DMatrix<f64>,
}

/// ∂KL/∂m, ∂KL/∂S and ∂KL/∂L at q.
pub fn prior_kl_grad(q: &VariationalQ) -> KlGrad {
    let n = q.num_inducing();
    let mut ds = DMatrix::zeros(n, n);
    sub_prior_kl_grad_s(q, &mut ds);
    ds.neg_mut(); // exact: the entries of ∂KL/∂S as computed there
    KlGrad {
        dm: q.m().clone(),
        ds,
        dl: prior_kl_grad_l(q),
    }
}

/// g ← g − ∂KL/∂S in place, for an M×M `g`; ∂KL/∂S = ½ (I − S⁻¹) is formed entry by entry
/// (no M×M temporary).
pub fn sub_prior_kl_grad_s(q: &VariationalQ, g: &mut DMatrix<f64>) {
    let n = q.num_inducing();
    let entries = g.as_mut_slice().iter_mut().zip(q.s_inv().as_slice());
    entries.for_each(|(gk, &s_inv)| *gk -= s_inv * -0.5);
    for j in 0..n {
        g[(j, j)] -= 0.5; // ½ I: the entries on the diagonal are ½ (1 − S⁻¹ⱼⱼ)
    }
}

/// ∂KL/∂L = 2 (∂KL/∂S) L = L − L⁻ᵀ for L's lower-triangular entries: L − diag(1/Lⱼⱼ), M×M.
pub fn prior_kl_grad_l(q: &VariationalQ) -> DMatrix<f64> {
    let mut dl = q.l().clone();
    for j in 0..q.num_inducing() {
        dl[(j, j)] -= 1.0 / q.l()[(j, j)];
    }
    dl
}

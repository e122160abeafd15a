//! KL[q(v) ‖ p(v)] for the whitened prior p(v) = N(0, I), and its gradients (MATH.md §1–2).

use super::VariationalQ;
use crate::linalg::log_det_from_factor;
use nalgebra::{DMatrix, DVector};

/// KL = ½ (tr S + mᵀm − M − log|S|), with tr S = ‖L‖²_F and log|S| = 2 Σⱼ log Lⱼⱼ.
pub fn prior_kl(q: &VariationalQ) -> f64 {
    let num_inducing = q.num_inducing() as f64;
    0.5 * (q.l().norm_squared() + q.m().norm_squared() - num_inducing - log_det_from_factor(q.l()))
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
    let mut ds = q.s_inv() * -0.5;
    for i in 0..n {
        ds[(i, i)] += 0.5;
    }
    // ∂KL/∂L = 2 (∂KL/∂S) L = L − L⁻ᵀ, whose lower triangle is L − diag(1/Lⱼⱼ).
    let mut dl = q.l().clone();
    for j in 0..n {
        dl[(j, j)] -= 1.0 / q.l()[(j, j)];
    }
    KlGrad {
        dm: q.m().clone(),
        ds,
        dl,
    }
}

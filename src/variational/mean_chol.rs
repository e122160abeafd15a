//! ξ = (m, L), the mean and the lower Cholesky factor of S (MATH.md §1, §3).

use super::{chol_s_from_theta2, Coords, Parametrisation, VariationalQ};
use crate::error::{Result, SvgpError};
use crate::linalg::{is_positive, matmul, matmul_tn, phi, zero_upper_in_place, Scalar};

/// The mean + Cholesky parametrisation (m, L): L lower triangular with positive diagonal.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeanCholesky;

impl Parametrisation for MeanCholesky {
    const NAME: &'static str = "meansqrt";

    /// L = chol((−2θ₂)⁻¹), m = L Lᵀ θ₁.
    fn from_theta<T: Scalar>(theta: &Coords<T>) -> Result<Coords<T>> {
        let l = chol_s_from_theta2(&theta.matrix)?;
        let m = &l * l.tr_mul(&theta.vector);
        Ok(Coords {
            vector: m,
            matrix: l,
        })
    }

    /// The identity, after checking that L has a positive diagonal (its strict upper triangle
    /// is dropped: tangents of L are lower triangular, so it is zero on every valid path).
    fn to_mean_chol<T: Scalar>(xi: &Coords<T>) -> Result<Coords<T>> {
        let n = xi.num_inducing();
        if let Some(pivot) = (0..n).find(|&i| !is_positive(xi.matrix[(i, i)])) {
            return Err(SvgpError::NotPositiveDefinite {
                matrix: "L",
                pivot,
                jitter: 0.0,
            });
        }
        let mut l = xi.matrix.clone();
        zero_upper_in_place(&mut l);
        Ok(Coords {
            vector: xi.vector.clone(),
            matrix: l,
        })
    }

    fn from_q(q: &VariationalQ) -> Result<Coords> {
        Ok(q.mean_chol())
    }

    /// Tangent rules (MATH.md §3) with dS = 2 S v₂ S: dm = 2 S v₂ m + S v₁ and
    /// dL = L Φ(L⁻¹ dS L⁻ᵀ) = L Φ(2 Lᵀ v₂ L).
    fn natural_gradient(q: &VariationalQ, d_eta: &Coords) -> Result<Coords> {
        let l = q.l();
        let s = q.s();
        let dm = s * (&d_eta.matrix * q.m() * 2.0 + &d_eta.vector);
        let inner = matmul_tn(l, &matmul(&d_eta.matrix, l, super::Q_MAPS), super::Q_MAPS) * 2.0; // 2 Lᵀ v₂ L, M×M
        let dl = matmul(l, &phi(inner), super::Q_MAPS);
        Ok(Coords {
            vector: dm,
            matrix: dl,
        })
    }
}

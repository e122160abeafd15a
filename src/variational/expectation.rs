//! ξ = η, the expectation parameters η₁ = m, η₂ = S + m mᵀ (MATH.md §1, §3).

use super::{chol_s_from_theta2, Coords, Parametrisation, VariationalQ};
use crate::error::Result;
use crate::linalg::{cholesky, matmul, outer_factor, symmetrise_in_place, Scalar};

/// The expectation parametrisation η = (η₁, η₂) (η₂ stored in full, symmetric).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expectation;

impl Parametrisation for Expectation {
    const NAME: &'static str = "expectation";

    /// S = (−2θ₂)⁻¹, m = S θ₁, η = (m, S + m mᵀ).
    fn from_theta<T: Scalar>(theta: &Coords<T>) -> Result<Coords<T>> {
        let l = chol_s_from_theta2(&theta.matrix)?;
        let s = outer_factor(&l, super::Q_MAPS);
        let m = &s * &theta.vector;
        let eta2 = s + &m * m.transpose();
        Ok(Coords {
            vector: m,
            matrix: eta2,
        })
    }

    /// S = η₂ − η₁η₁ᵀ, L = chol(S), m = η₁.
    fn to_mean_chol<T: Scalar>(eta: &Coords<T>) -> Result<Coords<T>> {
        let mut s = &eta.matrix - &eta.vector * eta.vector.transpose();
        symmetrise_in_place(&mut s);
        let l = cholesky(&s, "S = η₂ − η₁η₁ᵀ", super::Q_MAPS)?;
        Ok(Coords {
            vector: eta.vector.clone(),
            matrix: l,
        })
    }

    fn from_q(q: &VariationalQ) -> Result<Coords> {
        let eta2 = q.s() + q.m() * q.m().transpose();
        Ok(Coords {
            vector: q.m().clone(),
            matrix: eta2,
        })
    }

    /// Tangent rules (MATH.md §3): dS = 2 S v₂ S, dm = 2 S v₂ m + S v₁,
    /// dη₂ = dS + dm mᵀ + m dmᵀ.
    fn natural_gradient(q: &VariationalQ, d_eta: &Coords) -> Result<Coords> {
        let s = q.s();
        let sv2 = matmul(s, &d_eta.matrix, super::Q_MAPS); // M×M, S v₂
        let mut ds = matmul(&sv2, s, super::Q_MAPS) * 2.0;
        symmetrise_in_place(&mut ds);
        let dm = &sv2 * q.m() * 2.0 + s * &d_eta.vector;
        let cross = &dm * q.m().transpose(); // dm mᵀ
        let deta2 = ds + &cross + cross.transpose();
        Ok(Coords {
            vector: dm,
            matrix: deta2,
        })
    }
}

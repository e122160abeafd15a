//! ξ = θ, the natural parameters θ₁ = S⁻¹ m, θ₂ = −½ S⁻¹ (MATH.md §1, §3).
//!
//! The natural gradient in θ is ∇_η L itself, so a step is θ ← θ + γ ∇_η L.

use super::{chol_s_from_theta2, Coords, Parametrisation, VariationalQ};
use crate::error::Result;
use crate::linalg::{
    cholesky_of_inverse, solve_lower_in_place, solve_lower_transpose_in_place, Scalar,
};
use nalgebra::{DMatrix, DVector};

/// The natural parametrisation θ = (θ₁, θ₂) (θ₂ stored in full, symmetric).
#[derive(Debug, Clone, Copy, Default)]
pub struct Natural;

impl Parametrisation for Natural {
    const NAME: &'static str = "natural";

    fn from_theta<T: Scalar>(theta: &Coords<T>) -> Result<Coords<T>> {
        Ok(theta.clone())
    }

    /// L = chol((−2θ₂)⁻¹), m = S θ₁ = L (Lᵀ θ₁).
    fn to_mean_chol<T: Scalar>(theta: &Coords<T>) -> Result<Coords<T>> {
        let l = chol_s_from_theta2(&theta.matrix)?;
        Ok(mean_chol_from_factor(l, &theta.vector))
    }

    /// q with S⁻¹ = −2θ₂ cached: the precision L was factored from, so the next KL gradient and
    /// θ(q) need no inverse.
    fn to_q(theta: &Coords) -> Result<VariationalQ> {
        let s_inv = &theta.matrix * -2.0; // −2θ₂, as chol_s_from_theta2 forms it
        let l = cholesky_of_inverse(&s_inv, "-2θ₂")?;
        let q = VariationalQ::from_mean_chol(mean_chol_from_factor(l, &theta.vector))?;
        Ok(q.with_s_inv(s_inv))
    }

    /// θ₂ = −½ S⁻¹ (q's cached L⁻ᵀ L⁻¹), θ₁ = L⁻ᵀ (L⁻¹ m) by triangular solves.
    fn from_q(q: &VariationalQ) -> Result<Coords> {
        let mut theta1 = DMatrix::from_column_slice(q.num_inducing(), 1, q.m().as_slice());
        solve_lower_in_place(q.l(), &mut theta1);
        solve_lower_transpose_in_place(q.l(), &mut theta1);
        let theta2 = q.s_inv() * -0.5; // S⁻¹ shared with the KL gradient of this q
        Ok(Coords {
            vector: theta1.column(0).into_owned(),
            matrix: theta2,
        })
    }

    /// J = I: the natural gradient in θ is ∇_η L.
    fn natural_gradient(_q: &VariationalQ, d_eta: &Coords) -> Result<Coords> {
        Ok(d_eta.clone())
    }
}

/// (m, L) with m = S θ₁ = L (Lᵀ θ₁), from the factor `l` (M×M) of S and θ₁ (length M).
fn mean_chol_from_factor<T: Scalar>(l: DMatrix<T>, theta1: &DVector<T>) -> Coords<T> {
    Coords {
        vector: &l * l.tr_mul(theta1),
        matrix: l,
    }
}

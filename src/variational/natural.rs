//! ξ = θ, the natural parameters θ₁ = S⁻¹ m, θ₂ = −½ S⁻¹ (MATH.md §1, §3).
//!
//! The natural gradient in θ is ∇_η L itself, so a step is θ ← θ + γ ∇_η L.

use super::{chol_s_from_theta2, Coords, Parametrisation, Spare, VariationalQ};
use crate::error::Result;
use crate::linalg::{
    cholesky_of_inverse_into, mirror_lower_in_place, solve_lower_in_place,
    solve_lower_transpose_in_place, symmetrise_in_place, Scalar,
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
        let mut s_inv = &theta.matrix * -2.0; // −2θ₂, as chol_s_from_theta2 forms it
        symmetrise_in_place(&mut s_inv);
        q_from_precision(s_inv, &theta.vector, &mut Spare::new())
    }

    /// θ₂ = −½ S⁻¹ (q's cached L⁻ᵀ L⁻¹), θ₁ = L⁻ᵀ (L⁻¹ m) by triangular solves.
    fn from_q(q: &VariationalQ) -> Result<Coords> {
        let n = q.num_inducing();
        Ok(theta_in(q, DMatrix::zeros(n, n)))
    }

    /// J = I: the natural gradient in θ is ∇_η L.
    fn natural_gradient(_q: &VariationalQ, d_eta: &Coords) -> Result<Coords> {
        Ok(d_eta.clone())
    }

    /// θ(q) and ∇_η L, their M×M parts in spare buffers.
    fn step_ends(q: &VariationalQ, d_eta: &Coords, spare: &mut Spare) -> Result<(Coords, Coords)> {
        let n = q.num_inducing();
        let theta = theta_in(q, spare.matrix(n, n));
        let mut v2 = spare.matrix(n, n);
        v2.copy_from(&d_eta.matrix);
        let direction = Coords {
            vector: d_eta.vector.clone(),
            matrix: v2,
        };
        Ok((theta, direction))
    }

    /// As `to_q(θ + γ v)`, bit for bit when θ₂ and v₂ are exactly symmetric (as the trainer's
    /// are): S⁻¹ = −2 (θ₂ + γ v₂) formed from their lower triangles and mirrored, and every M×M
    /// buffer (S⁻¹, the factorisation's scratch, L) from `spare`.
    fn to_q_at(
        theta: &Coords,
        gamma: f64,
        direction: &Coords,
        spare: &mut Spare,
    ) -> Result<VariationalQ> {
        let n = theta.num_inducing();
        let mut s_inv = spare.matrix(n, n);
        let columns = s_inv.as_mut_slice().chunks_exact_mut(n.max(1));
        let from = theta.matrix.as_slice().chunks_exact(n.max(1));
        let along = direction.matrix.as_slice().chunks_exact(n.max(1));
        for (j, ((s, t), v)) in columns.zip(from).zip(along).enumerate() {
            let lower = s[j..].iter_mut().zip(&t[j..]).zip(&v[j..]);
            lower.for_each(|((s, &t), &v)| *s = (t + v * gamma) * -2.0);
        }
        mirror_lower_in_place(&mut s_inv);
        let theta1 = theta
            .vector
            .zip_map(&direction.vector, |t, v| t + v * gamma);
        q_from_precision(s_inv, &theta1, spare)
    }
}

/// θ at q with θ₂ = −½ S⁻¹ written into `theta2` (M×M, contents ignored) and θ₁ = L⁻ᵀ (L⁻¹ m).
fn theta_in(q: &VariationalQ, mut theta2: DMatrix<f64>) -> Coords {
    let mut theta1 = DMatrix::from_column_slice(q.num_inducing(), 1, q.m().as_slice());
    solve_lower_in_place(q.l(), &mut theta1, super::Q_MAPS);
    solve_lower_transpose_in_place(q.l(), &mut theta1, super::Q_MAPS);
    let entries = theta2.as_mut_slice().iter_mut().zip(q.s_inv().as_slice());
    entries.for_each(|(t, &s)| *t = s * -0.5); // S⁻¹ shared with the KL gradient of this q
    Coords {
        vector: theta1.column(0).into_owned(),
        matrix: theta2,
    }
}

/// q from its precision S⁻¹ (`s_inv`, M×M, kept as q's cache) and θ₁ = S⁻¹ m: L = chol(S) by
/// [`cholesky_of_inverse_into`] in buffers from `spare`, m = L (Lᵀ θ₁).
///
/// # Errors
/// `NotPositiveDefinite { matrix: "-2θ₂" }`; then the buffers go back to `spare`.
fn q_from_precision(
    s_inv: DMatrix<f64>,
    theta1: &DVector<f64>,
    spare: &mut Spare,
) -> Result<VariationalQ> {
    let n = s_inv.nrows();
    let (mut work, mut l) = (spare.matrix(n, n), spare.matrix(n, n));
    let factored = cholesky_of_inverse_into(&s_inv, "-2θ₂", &mut work, &mut l, super::Q_MAPS);
    spare.keep_matrix(work);
    if let Err(e) = factored {
        spare.keep_matrix(s_inv);
        spare.keep_matrix(l);
        return Err(e);
    }
    let q = VariationalQ::from_mean_chol(mean_chol_from_factor(l, theta1))?;
    Ok(q.with_s_inv(s_inv).with_s_buffer(spare.matrix(n, n)))
}

/// (m, L) with m = S θ₁ = L (Lᵀ θ₁), from the factor `l` (M×M) of S and θ₁ (length M).
fn mean_chol_from_factor<T: Scalar>(l: DMatrix<T>, theta1: &DVector<T>) -> Coords<T> {
    Coords {
        vector: &l * l.tr_mul(theta1),
        matrix: l,
    }
}

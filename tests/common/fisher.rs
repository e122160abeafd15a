//! The Fisher-solve oracle for the natural gradient of a parametrisation ξ (MATH.md §3): F_ξ
//! built from the maps ξ → θ and ξ → η by dual numbers, then F_ξ x = ∇_ξ L solved by LU. The
//! maps ξ → (m, S) here are written from the definitions, independently of the crate's: the three
//! built-in ξ and the log-Cholesky ξ of examples/log_cholesky.rs. Shared by
//! tests/it/natgrad_oracle.rs, tests/it/log_cholesky.rs and benches/natgrad.rs (as the
//! explicit-Fisher baseline).
#![allow(dead_code)] // each user takes what it needs

use nalgebra::{DMatrix, DVector};
use num_dual::{Dual64, DualNum};
use svgp::variational::{
    Coords, Expectation, MeanCholesky, Natural, Parametrisation, VariationalQ,
};

/// Which built-in ξ, and the test's own map from its reduced coordinates to (m, S).
#[derive(Clone, Copy, Debug)]
pub enum Xi {
    /// θ = (θ₁, θ₂)
    Theta,
    /// η = (η₁, η₂)
    Eta,
    /// (m, L)
    MeanChol,
}

/// Lower-triangular positions (i ≥ j) of an n×n matrix, column by column.
pub fn lower_positions(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|j| (j..n).map(move |i| (i, j))).collect()
}

/// Reduced coordinates: the vector part, then the lower-triangular entries of the matrix part.
pub fn reduce(c: &Coords) -> DVector<f64> {
    let n = c.num_inducing();
    let low = lower_positions(n)
        .into_iter()
        .map(|(i, j)| c.matrix[(i, j)]);
    DVector::from_iterator(n + n * (n + 1) / 2, c.vector.iter().copied().chain(low))
}

/// Coordinates from reduced ones; a symmetric matrix part (θ₂, η₂) gets each off-diagonal entry
/// written to both (i, j) and (j, i), a triangular one (L) to (i, j) only.
fn expand(x: &DVector<Dual64>, n: usize, symmetric: bool) -> (DVector<Dual64>, DMatrix<Dual64>) {
    let v = x.rows(0, n).into_owned();
    let mut mat = DMatrix::from_element(n, n, Dual64::from(0.0));
    for (k, (i, j)) in lower_positions(n).into_iter().enumerate() {
        mat[(i, j)] = x[n + k];
        if symmetric {
            mat[(j, i)] = x[n + k];
        }
    }
    (v, mat)
}

/// The test's own maps ξ → (m, S), written from the definitions (MATH.md §1), not the crate's.
fn mean_cov(xi: Xi, x: &DVector<Dual64>, n: usize) -> (DVector<Dual64>, DMatrix<Dual64>) {
    match xi {
        Xi::Theta => {
            let (t1, t2) = expand(x, n, true);
            let s = (t2 * Dual64::from(-2.0))
                .try_inverse()
                .expect("−2θ₂ invertible");
            let m = &s * t1;
            (m, s)
        }
        Xi::Eta => {
            let (e1, e2) = expand(x, n, true);
            let s = e2 - &e1 * e1.transpose();
            (e1, s)
        }
        Xi::MeanChol => {
            let (m, l) = expand(x, n, false);
            let s = &l * l.transpose();
            (m, s)
        }
    }
}

/// The log-Cholesky ξ = (m, lower entries of L with its diagonal stored as logarithms) to
/// (m, S = L Lᵀ), written from that definition.
pub fn log_cholesky_mean_cov(x: &DVector<Dual64>, n: usize) -> (DVector<Dual64>, DMatrix<Dual64>) {
    let (m, mut l) = expand(x, n, false);
    for j in 0..n {
        l[(j, j)] = l[(j, j)].exp();
    }
    let s = &l * l.transpose();
    (m, s)
}

/// t = (θ₁, lower θ₂) and e = (η₁, lower of 2η₂ − diag η₂): the paired sufficient-statistic
/// coordinates of MATH.md §3, in which ∂e/∂t is the (invertible) Fisher matrix.
fn t_and_e(m: &DVector<Dual64>, s: &DMatrix<Dual64>) -> (Vec<Dual64>, Vec<Dual64>) {
    let n = m.len();
    let s_inv = s.clone().try_inverse().expect("S invertible");
    let theta1 = &s_inv * m;
    let theta2 = s_inv * Dual64::from(-0.5);
    let eta2 = s + m * m.transpose();
    let mut t: Vec<Dual64> = theta1.iter().copied().collect();
    let mut e: Vec<Dual64> = m.iter().copied().collect();
    for (i, j) in lower_positions(n) {
        t.push(theta2[(i, j)]);
        e.push(if i == j {
            eta2[(i, j)]
        } else {
            eta2[(i, j)] * Dual64::from(2.0)
        });
    }
    (t, e)
}

/// The oracle: F_ξ = (∂t/∂ξ)ᵀ (∂e/∂ξ) by dual numbers, ∇_ξ L = (∂e/∂ξ)ᵀ ∇_e L for the linear
/// objective L(η) = v₁·η₁ + tr(v₂ η₂) (so ∇_e L = (v₁, lower v₂)), then F_ξ x = ∇_ξ L solved by LU.
pub fn fisher_solve(xi: Xi, at: &DVector<f64>, v: &Coords) -> DVector<f64> {
    fisher_solve_with(|x, n| mean_cov(xi, x, n), at, v)
}

/// As [`fisher_solve`], for any ξ given by its map from reduced coordinates (vector part, then
/// the lower-triangular entries of the matrix part, as [`reduce`] lays them out) to (m, S).
pub fn fisher_solve_with(
    mean_cov: impl Fn(&DVector<Dual64>, usize) -> (DVector<Dual64>, DMatrix<Dual64>),
    at: &DVector<f64>,
    v: &Coords,
) -> DVector<f64> {
    let n = v.num_inducing();
    let dim = at.len();
    let mut dt = DMatrix::zeros(dim, dim);
    let mut de = DMatrix::zeros(dim, dim);
    for k in 0..dim {
        let x = DVector::from_fn(dim, |i, _| {
            Dual64::new(at[i], if i == k { 1.0 } else { 0.0 })
        });
        let (m, s) = mean_cov(&x, n);
        let (t, e) = t_and_e(&m, &s);
        for r in 0..dim {
            dt[(r, k)] = t[r].eps;
            de[(r, k)] = e[r].eps;
        }
    }
    let grad_e = reduce(v);
    let fisher = dt.transpose() * &de;
    let grad_xi = de.transpose() * grad_e;
    fisher
        .lu()
        .solve(&grad_xi)
        .expect("F_ξ invertible in these coordinates")
}

/// ξ at q in the oracle's reduced coordinates.
pub fn reduced_point(xi: Xi, q: &VariationalQ) -> DVector<f64> {
    match xi {
        Xi::Theta => reduce(&Natural::from_q(q).unwrap()),
        Xi::Eta => reduce(&Expectation::from_q(q).unwrap()),
        Xi::MeanChol => reduce(&MeanCholesky::from_q(q).unwrap()),
    }
}

/// Every built-in ξ.
pub const ALL: [Xi; 3] = [Xi::Theta, Xi::Eta, Xi::MeanChol];

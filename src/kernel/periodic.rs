//! The periodic (exp-sine-squared) and cosine kernels: functions of x − x′ through sines and
//! cosines of it.

use super::leaf::LeafKind;
use super::pairwise::{Form, Grads};
use std::f64::consts::PI;

/// Periodic (exp-sine-squared), GPflow's convention:
/// k(x, x′) = σ² exp(−½ Σ_d sin²(π (x_d − x′_d)/p) / ℓ²), one period p and one lengthscale ℓ
/// shared by the D columns. Parameter order: `variance` σ², `period` p, `lengthscale` ℓ (each
/// floor + softplus). scikit-learn's `ExpSineSquared` writes exp(−2 sin²(π d/p)/ℓ_sklearn²)
/// with the Euclidean distance d: for D = 1 the two agree when ℓ_sklearn = 2ℓ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeriodicForm;

impl PeriodicForm {
    /// (k, s) with s = Σ_d sin²(π (x_d − y_d)/p), for vals = [σ², p, ℓ].
    #[inline(always)]
    fn k_s(vals: &[f64], x: &[f64], y: &[f64]) -> (f64, f64) {
        let (var, p, l) = (vals[0], vals[1], vals[2]);
        let s: f64 = x
            .iter()
            .zip(y)
            .map(|(a, b)| (PI * (a - b) / p).sin().powi(2))
            .sum();
        (var * (-0.5 * s / (l * l)).exp(), s)
    }
}

impl Form for PeriodicForm {
    fn kind(&self) -> LeafKind {
        LeafKind::Periodic
    }

    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        Self::k_s(vals, x, y).0
    }

    /// With u_d = π δ_d/p: ∂k/∂σ² = k/σ², ∂k/∂ℓ = k s/ℓ³,
    /// ∂k/∂p = k/(2ℓ²) Σ_d sin(2u_d) u_d/p, ∂k/∂x_d = −k/(2ℓ²) sin(2u_d) π/p.
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads) {
        let (var, p, l) = (vals[0], vals[1], vals[2]);
        let (k, s) = Self::k_s(vals, x, y);
        let w = k_bar * k / (2.0 * l * l);
        let mut dp = 0.0;
        for ((xb, a), b) in g.x.iter_mut().zip(x).zip(y) {
            let u = PI * (a - b) / p;
            let sin2u = (2.0 * u).sin();
            dp += sin2u * u / p;
            *xb -= w * sin2u * PI / p;
        }
        g.vals[0] += k_bar * k / var;
        g.vals[1] += w * dp;
        g.vals[2] += k_bar * k * s / (l * l * l);
    }
}

/// Cosine: k(x, x′) = σ² cos(2π Σ_d (x_d − x′_d)/p_d), ARD periods p_d. It equals
/// σ² (cos ωᵀx cos ωᵀx′ + sin ωᵀx sin ωᵀx′) with ω_d = 2π/p_d, a rank-2 Gram matrix: positive
/// semi-definite. Parameter order: `variance` σ², `period[0]`, …, `period[D-1]` (each floor +
/// softplus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CosineForm;

impl CosineForm {
    /// t = 2π Σ_d (x_d − y_d)/p_d for vals = [σ², p_0, …].
    #[inline(always)]
    fn phase(vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        let sum: f64 = x
            .iter()
            .zip(y)
            .zip(&vals[1..])
            .map(|((a, b), p)| (a - b) / p)
            .sum();
        2.0 * PI * sum
    }
}

impl Form for CosineForm {
    fn kind(&self) -> LeafKind {
        LeafKind::Cosine
    }

    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        vals[0] * Self::phase(vals, x, y).cos()
    }

    /// ∂k/∂σ² = cos t, ∂k/∂p_d = σ² sin t · 2π δ_d/p_d², ∂k/∂x_d = −σ² sin t · 2π/p_d.
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads) {
        let t = Self::phase(vals, x, y);
        let w = k_bar * vals[0] * t.sin() * 2.0 * PI;
        g.vals[0] += k_bar * t.cos();
        for (d, (a, b)) in x.iter().zip(y).enumerate() {
            let p = vals[1 + d];
            g.vals[1 + d] += w * (a - b) / (p * p);
            g.x[d] -= w / p;
        }
    }
}

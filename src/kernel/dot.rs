//! The linear and polynomial kernels, functions of the inner product xᵀx′.

use super::leaf::LeafKind;
use super::pairwise::{Form, Grads};

/// Polynomial of a fixed degree n ≥ 1 (not trained): k(x, x′) = (σ² xᵀx′ + c)^n; n = 1 is the
/// linear kernel σ² xᵀx′ + c. Parameter order: `variance` σ², `offset` c (each floor + softplus,
/// so c > floor; the default floor 1e-6 makes the offset negligible when it shrinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PolynomialForm {
    /// The degree n ≥ 1.
    pub degree: u32,
}

impl PolynomialForm {
    /// (xᵀy, σ² xᵀy + c).
    #[inline(always)]
    fn base(vals: &[f64], x: &[f64], y: &[f64]) -> (f64, f64) {
        let dot: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
        (dot, vals[0] * dot + vals[1])
    }
}

impl Form for PolynomialForm {
    fn kind(&self) -> LeafKind {
        if self.degree == 1 {
            LeafKind::Linear
        } else {
            LeafKind::Polynomial
        }
    }

    fn degree(&self) -> Option<u32> {
        Some(self.degree)
    }

    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        Self::base(vals, x, y).1.powi(self.degree as i32)
    }

    /// With B = σ² xᵀy + c and k = Bⁿ: ∂k/∂σ² = n Bⁿ⁻¹ xᵀy, ∂k/∂c = n Bⁿ⁻¹,
    /// ∂k/∂x_d = n Bⁿ⁻¹ σ² y_d.
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads) {
        let (dot, base) = Self::base(vals, x, y);
        let n = self.degree as i32;
        let w = k_bar * f64::from(self.degree) * base.powi(n - 1);
        g.vals[0] += w * dot;
        g.vals[1] += w;
        for (xb, b) in g.x.iter_mut().zip(y) {
            *xb += w * vals[0] * b;
        }
    }
}

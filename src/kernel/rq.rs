//! The rational quadratic kernel.

use super::leaf::LeafKind;
use super::pairwise::{Form, Grads};

/// Rational quadratic: k(x, x′) = σ² (1 + r²/(2α))^(−α), r² = Σ_d (x_d − x′_d)²/ℓ_d² (ARD),
/// α > 0; the squared exponential is its limit α → ∞. Parameter order: `variance` σ²,
/// `lengthscale[0]`, …, `lengthscale[D-1]`, `alpha` (each floor + softplus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RqForm;

impl RqForm {
    /// (k, r², ln b) with b = 1 + r²/(2α), for vals = [σ², ℓ_0, …, ℓ_{D−1}, α].
    #[inline(always)]
    fn parts(vals: &[f64], x: &[f64], y: &[f64]) -> (f64, f64, f64) {
        let d = x.len();
        let alpha = vals[d + 1];
        let r2: f64 = x
            .iter()
            .zip(y)
            .zip(&vals[1..=d])
            .map(|((a, b), l)| ((a - b) / l).powi(2))
            .sum();
        let ln_b = (r2 / (2.0 * alpha)).ln_1p();
        (vals[0] * (-alpha * ln_b).exp(), r2, ln_b)
    }
}

impl Form for RqForm {
    fn kind(&self) -> LeafKind {
        LeafKind::Rq
    }

    fn value(&self, vals: &[f64], x: &[f64], y: &[f64]) -> f64 {
        Self::parts(vals, x, y).0
    }

    /// ∂k/∂r² = −k/(2b); ∂r²/∂ℓ_d = −2δ_d²/ℓ_d³, ∂r²/∂x_d = 2δ_d/ℓ_d²;
    /// ∂k/∂α = k (r²/(2αb) − ln b); ∂k/∂σ² = k/σ².
    fn grad(&self, vals: &[f64], x: &[f64], y: &[f64], k_bar: f64, g: Grads) {
        let d = x.len();
        let alpha = vals[d + 1];
        let (k, r2, ln_b) = Self::parts(vals, x, y);
        let b = 1.0 + r2 / (2.0 * alpha);
        let dk_dr2 = -k_bar * k / (2.0 * b);
        g.vals[0] += k_bar * k / vals[0];
        for (c, (a, z)) in x.iter().zip(y).enumerate() {
            let (delta, l) = (a - z, vals[1 + c]);
            g.vals[1 + c] += dk_dr2 * (-2.0 * delta * delta / (l * l * l));
            g.x[c] += dk_dr2 * 2.0 * delta / (l * l);
        }
        g.vals[d + 1] += k_bar * k * (r2 / (2.0 * alpha * b) - ln_b);
    }
}

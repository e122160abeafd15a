//! Special functions for the likelihoods: log Φ and the inverse Mills ratio φ/Φ, accurate in
//! the far tails (statrs' erfc is relative-accurate until it underflows near z = −38).

use statrs::function::erf::erfc;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// One standard normal draw by Box–Muller from two uniforms of `rng` (the cosine branch):
/// √(−2 log(1 − u₁)) cos(2π u₂), with 1 − u₁ ∈ (0, 1] so the log is finite.
pub fn standard_normal<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    use rand::RngExt;
    let r = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    r * (2.0 * PI * rng.random::<f64>()).cos()
}

/// log φ(z), the standard normal log density.
pub fn log_normal_pdf(z: f64) -> f64 {
    -0.5 * z * z - 0.5 * (2.0 * PI).ln()
}

/// log N(y; m, v) (MATH.md §2), v floored at the smallest normal f64 so an underflowed variance
/// (a heteroscedastic s(g)² with σ_f² = 0) gives a large finite density, not NaN.
pub fn log_normal_density(y: f64, m: f64, v: f64) -> f64 {
    let v = v.max(f64::MIN_POSITIVE);
    -0.5 * (2.0 * PI * v).ln() - 0.5 * (y - m).powi(2) / v
}

/// Φ(z), the standard normal CDF.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z * FRAC_1_SQRT_2)
}

/// log Φ(z): log(½ erfc(−z/√2)) down to z = −30, below that the asymptotic series
/// log φ(z) − log(−z) + log(1 − 1/z² + 3/z⁴ − 15/z⁶), whose truncation error there is < 1e-10.
pub fn log_normal_cdf(z: f64) -> f64 {
    if z > -30.0 {
        normal_cdf(z).ln()
    } else {
        let z2 = z * z;
        log_normal_pdf(z) - (-z).ln()
            + (1.0 - 1.0 / z2 + 3.0 / (z2 * z2) - 15.0 / (z2 * z2 * z2)).ln()
    }
}

/// (log Φ(z), λ(z)) with λ = φ/Φ the inverse Mills ratio, computed as exp(log φ − log Φ) so it
/// stays finite (≈ −z) for very negative z; one evaluation of log Φ serves both.
pub fn log_cdf_and_inverse_mills(z: f64) -> (f64, f64) {
    let log_cdf = log_normal_cdf(z);
    (log_cdf, (log_normal_pdf(z) - log_cdf).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series and the erfc branch agree where both are accurate (z = −30 ± a little), and
    /// λ(z) → −z − 1/z + … in the tail; Φ(0) = ½.
    #[test]
    fn tails_are_continuous_and_accurate() {
        assert_eq!(normal_cdf(0.0), 0.5);
        let below = log_normal_cdf(-30.0 - 1e-9);
        let above = log_normal_cdf(-30.0 + 1e-9);
        assert!(
            (below - above).abs() < 1e-7 * above.abs(),
            "{below} vs {above}"
        );
        let z: f64 = -50.0;
        assert!((log_cdf_and_inverse_mills(z).1 - (-z - 1.0 / z + 2.0 / z.powi(3))).abs() < 1e-6);
        assert!((log_normal_cdf(3.0) - normal_cdf(3.0).ln()).abs() < 1e-16);
    }
}

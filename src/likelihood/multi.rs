//! Pieces shared by the multi-latent likelihoods ([`super::RobustMax`], [`super::Softmax`],
//! [`super::Heteroscedastic`]): one-dimensional Gauss–Hermite expectations with exact derivatives
//! through the nodes (MATH.md §5), class-target checks, and the 0·∞ convention.
//!
//! Shapes in this family: `y` has length B; `mu`, `var` are B×L (column l is latent l, `var` ≥ 0).

use super::quadrature::GaussHermite;
use super::{check_each, LogProb, LIMIT_BELOW_SD};
use crate::error::Result;
use nalgebra::{DMatrix, DVector};

/// E_{N(f; μ, σ²)}[h(f)] with its exact derivatives in μ and σ².
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expectation {
    /// E[h(f)].
    pub value: f64,
    /// ∂E/∂μ.
    pub d_mu: f64,
    /// ∂E/∂σ².
    pub d_var: f64,
}

/// E[h(f)] = Σₖ wₖ h(fₖ), fₖ = μ + √2 σ xₖ, differentiated through the nodes: ∂/∂μ = Σₖ wₖ h′(fₖ),
/// ∂/∂σ² = Σₖ wₖ h′(fₖ) xₖ/(√2 σ). For σ ≤ 10⁻⁶·max(1, |μ|) the σ² → 0 limit
/// h(μ) + ½σ² h″(μ), with ∂/∂μ = h′(μ) and ∂/∂σ² = ½ h″(μ), exactly as
/// [`super::quadrature_variational_expectations`] does and for the same reason (there the node
/// sum for ∂/∂σ² divides rounding by σ). Where that node sum is ∞ − ∞ (h′ overflowed on both
/// sides of μ), ∂/∂σ² is Price's ½ Σₖ wₖ h″(fₖ), equal to it in exact arithmetic. `h` returns
/// (h, h′, h″) as a [`LogProb`].
pub(crate) fn expect_with_derivatives(
    rule: &GaussHermite,
    mu: f64,
    var: f64,
    mut h: impl FnMut(f64) -> LogProb,
) -> Expectation {
    let v = var.max(0.0);
    let sd = v.sqrt();
    if sd <= LIMIT_BELOW_SD * mu.abs().max(1.0) {
        let at = h(mu);
        return Expectation {
            value: at.value + times(0.5 * v, at.d2),
            d_mu: at.d1,
            d_var: 0.5 * at.d2,
        };
    }
    let node_scale = std::f64::consts::FRAC_1_SQRT_2 / sd; // ∂fₖ/∂σ² = xₖ/(√2 σ)
    let mut out = Expectation {
        value: 0.0,
        d_mu: 0.0,
        d_var: 0.0,
    };
    let mut half_curvature = 0.0;
    for ((f, w), x) in rule.gaussian_points(mu, v).zip(rule.nodes()) {
        let at = h(f);
        out.value += w * at.value;
        out.d_mu += w * at.d1;
        out.d_var += times(x * node_scale, w * at.d1); // a node at 0 adds 0 even if h′ = ±∞
        half_curvature += 0.5 * w * at.d2;
    }
    if out.d_var.is_nan() {
        out.d_var = half_curvature;
    }
    out
}

/// a·b with the convention 0·∞ = 0: `a` is an exact zero (a residual y − μ that vanishes, a
/// variance of 0), so the product is its limit 0 however large `b` has overflowed.
pub(crate) fn times(a: f64, b: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else {
        a * b
    }
}

/// Row i of a B×L matrix, as a vector of length L.
pub(crate) fn row(m: &DMatrix<f64>, i: usize) -> Vec<f64> {
    m.row(i).iter().copied().collect()
}

/// `InvalidTarget` for the first target that is not a class 0, 1, …, C − 1 (an exact integer).
pub(crate) fn check_classes(y: &DVector<f64>, num_classes: usize) -> Result<()> {
    check_each(
        y,
        "class targets must be integers 0, 1, …, C − 1 (C = number of classes)",
        |v| v >= 0.0 && v < num_classes as f64 && v.fract() == 0.0,
    )
}

/// The shape preconditions of the multi-latent methods: `mu`, `var` B×L with B = `y.len()` when
/// `y` is given.
#[track_caller]
pub(crate) fn debug_check_shapes(
    num_latent: usize,
    y: Option<&DVector<f64>>,
    mu: &DMatrix<f64>,
    var: &DMatrix<f64>,
) {
    debug_assert_eq!(mu.ncols(), num_latent, "mu must be B×L");
    debug_assert_eq!(mu.shape(), var.shape(), "mu and var must have one shape");
    if let Some(y) = y {
        debug_assert_eq!(y.len(), mu.nrows(), "y must have length B");
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Central differences and Monte Carlo helpers for the multi-latent likelihood tests.

    use nalgebra::{DMatrix, DVector};

    /// Central-difference step h = 1e-5·max(1, |x|) (STYLE.md: truncation ~h²|f‴| and rounding
    /// ~ε|f|/h, both ~1e-11 at unit scale).
    pub fn step(x: f64) -> f64 {
        1e-5 * x.abs().max(1.0)
    }

    /// abs 1e-6 + rel 1e-5, the room central differences need (STYLE.md).
    pub fn fd_close(analytic: f64, fd: f64) -> bool {
        (analytic - fd).abs() <= 1e-6 + 1e-5 * fd.abs()
    }

    /// Checks g_μ and g_σ (B×L) against central differences of `ve` in every entry of `mu`, `var`.
    pub fn check_gradients(
        ve: impl Fn(&DMatrix<f64>, &DMatrix<f64>) -> DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        g_mu: &DMatrix<f64>,
        g_var: &DMatrix<f64>,
    ) {
        for i in 0..mu.nrows() {
            for l in 0..mu.ncols() {
                let h = step(mu[(i, l)]);
                let (mut up, mut dn) = (mu.clone(), mu.clone());
                up[(i, l)] += h;
                dn[(i, l)] -= h;
                let fd = (ve(&up, var)[i] - ve(&dn, var)[i]) / (2.0 * h);
                assert!(
                    fd_close(g_mu[(i, l)], fd),
                    "g_mu[{i},{l}] {} vs {fd}",
                    g_mu[(i, l)]
                );
                let h = step(var[(i, l)]).min(0.5 * var[(i, l)]);
                let (mut up, mut dn) = (var.clone(), var.clone());
                up[(i, l)] += h;
                dn[(i, l)] -= h;
                let fd = (ve(mu, &up)[i] - ve(mu, &dn)[i]) / (2.0 * h);
                assert!(
                    fd_close(g_var[(i, l)], fd),
                    "g_var[{i},{l}] {} vs {fd}",
                    g_var[(i, l)]
                );
            }
        }
    }

    /// Whether `estimate` is within 4 standard errors of `reference`, the two errors independent.
    pub fn within_4_se(estimate: f64, se_estimate: f64, reference: f64, se_reference: f64) -> bool {
        (estimate - reference).abs() <= 4.0 * se_estimate.hypot(se_reference)
    }

    /// Mean and standard error of a sample given its sum and sum of squares over n draws.
    pub fn mean_and_se(sum: f64, sum_sq: f64, n: usize) -> (f64, f64) {
        let n = n as f64;
        let mean = sum / n;
        let var = (sum_sq / n - mean * mean).max(0.0) * n / (n - 1.0);
        (mean, (var / n).sqrt())
    }
}

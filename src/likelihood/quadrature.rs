//! Gauss–Hermite quadrature for expectations under N(μ, σ²) (MATH.md §5).
//!
//! Nodes and weights for ∫ e^{−x²} h(x) dx by Golub–Welsch: the nodes are the eigenvalues of the
//! symmetric Jacobi matrix of the physicists' Hermite polynomials (off-diagonal √(k/2)), refined
//! by Newton steps, with Christoffel weights (the stable equivalent of √π times the squared first
//! components of its unit eigenvectors). Then
//! E_{N(μ,σ²)}[h(f)] ≈ Σₖ (wₖ/√π) h(μ + √2 σ xₖ), exact for polynomials of degree ≤ 2n − 1.

use crate::error::{Result, SvgpError};
use nalgebra::DMatrix;
use std::f64::consts::PI;
use std::sync::OnceLock;

/// The default order: 20 nodes, as GPflow and GPyTorch use.
pub const DEFAULT_ORDER: usize = 20;

/// The order of [`GaussHermite::fine_rule`].
pub const FINE_ORDER: usize = 200;

/// n-point Gauss–Hermite rule. Invariants: `nodes` ascending, `weights` positive, both length n,
/// weights summing to √π.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussHermite {
    nodes: Vec<f64>,
    weights: Vec<f64>,
}

impl GaussHermite {
    /// The n-point rule (n ≥ 1).
    ///
    /// # Errors
    /// `InvalidParameter { name: "quadrature order" }` for n = 0 or n > 200 (beyond which the
    /// smallest weights underflow and the rule stops being useful in f64).
    pub fn new(n: usize) -> Result<Self> {
        if n == 0 || n > 200 {
            return Err(SvgpError::InvalidParameter {
                name: "quadrature order".into(),
                value: n as f64,
                reason: "must be between 1 and 200",
            });
        }
        let mut jacobi = DMatrix::zeros(n, n);
        for k in 1..n {
            let b = (k as f64 / 2.0).sqrt();
            jacobi[(k, k - 1)] = b;
            jacobi[(k - 1, k)] = b;
        }
        let eig = jacobi.symmetric_eigen();
        // Refine each eigenvalue by Newton on the orthonormal Hermite polynomial p̃ₙ, then take
        // the Christoffel weight 1/Σⱼ<ₙ p̃ⱼ(x)² — a sum of positive terms, accurate to a few ulps
        // where the eigenvectors' first components lose digits.
        let mut pairs: Vec<(f64, f64)> = eig
            .eigenvalues
            .iter()
            .map(|&x0| {
                let mut x = x0;
                for _ in 0..3 {
                    let (p, _) = orthonormal_hermite(n, x);
                    let dp = (2.0 * n as f64).sqrt() * orthonormal_hermite(n - 1, x).0;
                    if dp != 0.0 {
                        x -= p / dp;
                    }
                }
                (x, 1.0 / orthonormal_hermite(n, x).1)
            })
            .collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Symmetrise: the rule is exactly symmetric about 0; averaging mirrored pairs removes the
        // eigen-solver's rounding asymmetry.
        for i in 0..n / 2 {
            let j = n - 1 - i;
            let x = 0.5 * (pairs[j].0 - pairs[i].0);
            let w = 0.5 * (pairs[i].1 + pairs[j].1);
            pairs[i] = (-x, w);
            pairs[j] = (x, w);
        }
        if n % 2 == 1 {
            pairs[n / 2].0 = 0.0;
        }
        Ok(GaussHermite {
            nodes: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1).collect(),
        })
    }

    /// The shared 20-point rule, computed once.
    pub fn default_rule() -> &'static GaussHermite {
        static RULE: OnceLock<GaussHermite> = OnceLock::new();
        RULE.get_or_init(|| GaussHermite::new(DEFAULT_ORDER).expect("20 is a valid order"))
    }

    /// The shared 200-point rule, for evaluation-only expectations (log predictive densities),
    /// where a likelihood peaked on a scale much narrower than σ defeats 20 nodes.
    pub fn fine_rule() -> &'static GaussHermite {
        static RULE: OnceLock<GaussHermite> = OnceLock::new();
        RULE.get_or_init(|| GaussHermite::new(FINE_ORDER).expect("200 is a valid order"))
    }

    /// Nodes xₖ (ascending).
    pub fn nodes(&self) -> &[f64] {
        &self.nodes
    }

    /// Weights wₖ for ∫ e^{−x²} h(x) dx.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The points fₖ = μ + √2 σ xₖ and probability weights wₖ/√π of N(μ, σ²), as pairs.
    pub fn gaussian_points(&self, mu: f64, var: f64) -> impl Iterator<Item = (f64, f64)> + '_ {
        let s = (2.0 * var.max(0.0)).sqrt();
        let norm = 1.0 / PI.sqrt();
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(move |(&x, &w)| (mu + s * x, w * norm))
    }

    /// E_{N(μ, σ²)}[h(f)].
    pub fn expect(&self, mu: f64, var: f64, mut h: impl FnMut(f64) -> f64) -> f64 {
        self.gaussian_points(mu, var).map(|(f, w)| w * h(f)).sum()
    }

    /// log E_{N(μ, σ²)}[exp(h(f))] by log-sum-exp (no underflow for very negative h).
    pub fn log_expect_exp(&self, mu: f64, var: f64, mut h: impl FnMut(f64) -> f64) -> f64 {
        let terms: Vec<f64> = self
            .gaussian_points(mu, var)
            .map(|(f, w)| w.ln() + h(f))
            .collect();
        let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return max;
        }
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }
}

/// (p̃ₖ(x), Σⱼ<ₖ p̃ⱼ(x)²) for the Hermite polynomials orthonormal under e^{−x²}:
/// p̃₀ = π^{−1/4}, p̃ⱼ₊₁ = √(2/(j+1)) x p̃ⱼ − √(j/(j+1)) p̃ⱼ₋₁.
fn orthonormal_hermite(k: usize, x: f64) -> (f64, f64) {
    let mut prev = 0.0;
    let mut cur = PI.powf(-0.25);
    let mut sum_sq = 0.0;
    for j in 0..k {
        sum_sq += cur * cur;
        let next =
            (2.0 / (j + 1) as f64).sqrt() * x * cur - (j as f64 / (j + 1) as f64).sqrt() * prev;
        prev = cur;
        cur = next;
    }
    (cur, sum_sq)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Σₖ wₖ xₖ^deg, the rule's value for ∫ e^{−x²} x^deg dx.
    fn moment(rule: &GaussHermite, deg: usize) -> f64 {
        rule.nodes()
            .iter()
            .zip(rule.weights())
            .map(|(x, w)| w * x.powi(deg as i32))
            .sum()
    }

    /// ∫ e^{−x²} x^{2j} dx = √π (2j−1)!!/2ʲ.
    fn even_moment(j: usize) -> f64 {
        PI.sqrt() * (1..=j).map(|i| (2 * i - 1) as f64 / 2.0).product::<f64>()
    }

    /// ∫ e^{−x²} x^{2j} dx = Γ(j + ½) = √π (2j−1)!!/2ʲ, and odd moments vanish: exact for every
    /// degree ≤ 2n − 1 (1e-12 relative: refined nodes and Christoffel weights carry ~1e-15
    /// rounding), and at degree 2n off by exactly the known remainder (so the test can tell).
    #[test]
    fn integrates_polynomials_up_to_degree_2n_minus_1() {
        for n in [1, 2, 5, 10, 20, 40] {
            let rule = GaussHermite::new(n).unwrap();
            for deg in 0..2 * n {
                let got = moment(&rule, deg);
                // odd moments vanish; scale them by the neighbouring even moment
                let exact = if deg % 2 == 1 {
                    0.0
                } else {
                    even_moment(deg / 2)
                };
                let scale = even_moment(deg / 2);
                assert!(
                    (got - exact).abs() <= 1e-12 * scale,
                    "n={n}, degree {deg}: {got} vs {exact}"
                );
            }
            // Degree 2n is the first one missed, by exactly √π n!/2ⁿ: a relative deficit of
            // n!/(2n−1)!! (1e-11 at n = 40, far above rounding).
            let exact = even_moment(n);
            let measured = (exact - moment(&rule, 2 * n)) / exact;
            let deficit: f64 = (1..=n).map(|i| i as f64 / (2 * i - 1) as f64).product();
            assert!(
                (measured / deficit - 1.0).abs() < 1e-3,
                "n={n}: degree-2n deficit {measured} vs {deficit}"
            );
        }
    }

    #[test]
    fn gaussian_expectations_of_moments() {
        let rule = GaussHermite::default_rule();
        let (mu, var) = (0.7, 2.3);
        assert!((rule.expect(mu, var, |_| 1.0) - 1.0).abs() < 1e-14);
        assert!((rule.expect(mu, var, |f| f) - mu).abs() < 1e-13);
        assert!((rule.expect(mu, var, |f| (f - mu).powi(2)) - var).abs() < 1e-13);
        let lse = rule.log_expect_exp(mu, var, |f| -1000.0 + f);
        assert!((lse - (-1000.0 + mu + var / 2.0)).abs() < 1e-10, "{lse}");
        assert!(GaussHermite::new(0).is_err());
    }
}

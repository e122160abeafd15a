//! Heteroscedastic Gaussian likelihood (GPflow's `HeteroskedasticTFPConditional`; MATH.md §5):
//! L = 2 latents (f, g), y ~ N(f, s(g)²) with s = exp or softplus.
//!
//! With r = (y − μ_f)² + σ_f²,
//! ve = −½ log 2π − E[log s(g)] − ½ r E[s(g)⁻²]:
//! - s = exp, closed form: E[log s] = μ_g, E[s⁻²] = exp(−2μ_g + 2σ_g²);
//! - s = softplus: the f-part closed form, E[log s(g)] and E[s(g)⁻²] by Gauss–Hermite in g
//!   ([`HETEROSCEDASTIC_QUADRATURE_ORDER`] nodes), differentiated exactly through the nodes, with
//!   the σ_g² → 0 limit of `quadrature_variational_expectations`. Accuracy of ve against the
//!   200-node rule (test `softplus_quadrature_accuracy`, μ_g from −3 to 3, relative to
//!   max(1, |ve|)): ~1e-15 for σ_g² ≤ 0.5, ~3e-12 at 1, ~2e-10 at 2, ~6e-8 at 4.
//!
//! Predictive: mean μ_f, variance σ_f² + E[s(g)²] (closed form for exp, the 200-node rule for
//! softplus); log predictive density log E_g[N(y; μ_f, σ_f² + s(g)²)] by the 200-node rule with
//! the Gaussian in f integrated exactly. A product 0·∞ (a residual or variance that is exactly 0
//! times an overflowed E[s⁻²]) is taken as 0, its limit.

use super::multi::{debug_check_shapes, expect_with_derivatives, times, Expectation};
use super::quadrature::GaussHermite;
use super::special::log_normal_density;
use super::{check_each, LogProb};
use super::{Likelihood, LikelihoodBase, LikelihoodSpec, VarExp};
use crate::error::{check_shape, Result, Shape};
use crate::transform::{sigmoid, softplus};
use nalgebra::{DMatrix, DVector};
use std::f64::consts::PI;

/// Gauss–Hermite order of the softplus expectations in g (the crate's default 20).
pub const HETEROSCEDASTIC_QUADRATURE_ORDER: usize = 20;

/// The map s from the noise latent g to the noise standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseLink {
    /// s(g) = exp(g): closed-form expectations.
    Exp,
    /// s(g) = softplus(g) = log(1 + eᵍ): quadrature in g.
    Softplus,
}

/// y ~ N(f, s(g)²) with latents (f, g) in columns 0 and 1; no parameters. Targets: any finite y.
#[derive(Debug, Clone, PartialEq)]
pub struct Heteroscedastic {
    link: NoiseLink,
    rule: GaussHermite,
}

/// A [`Heteroscedastic`] as data, from which [`HeteroscedasticSpec::build`] rebuilds it exactly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeteroscedasticSpec {
    /// The noise link.
    pub link: NoiseLink,
    /// Gauss–Hermite order of the softplus expectations (1 to 200).
    pub quadrature_order: usize,
}

impl HeteroscedasticSpec {
    /// The likelihood described.
    ///
    /// # Errors
    /// `InvalidParameter { name: "quadrature order" }` outside 1 to 200.
    pub fn build(&self) -> Result<Heteroscedastic> {
        Heteroscedastic::new(self.link).with_quadrature_order(self.quadrature_order)
    }
}

/// log softplus(g), without underflow: g − eᵍ/2 below g = −30 (next term e²ᵍ/24 < 1e-27).
fn log_softplus(g: f64) -> f64 {
    if g < -30.0 {
        g - 0.5 * g.exp()
    } else {
        softplus(g).ln()
    }
}

/// (log s, d/dg, d²/dg²) for s = softplus: d/dg = q = sigmoid(g)/softplus(g),
/// d²/dg² = q(1 − sigmoid(g)) − q².
fn log_noise_sd(g: f64) -> LogProb {
    let log_s = log_softplus(g);
    let q = (-softplus(-g) - log_s).exp(); // log sigmoid(g) − log softplus(g)
    LogProb {
        value: log_s,
        d1: q,
        d2: q * sigmoid(-g) - q * q,
    }
}

/// s⁻² = exp(−2 log s) with d/dg = −2q s⁻² and d²/dg² = s⁻²(4q² − 2 (log s)″), from
/// (log s, q, (log s)″).
fn inverse_noise_variance(log_s: LogProb) -> LogProb {
    let h = (-2.0 * log_s.value).exp();
    LogProb {
        value: h,
        d1: -2.0 * log_s.d1 * h,
        d2: h * (4.0 * log_s.d1 * log_s.d1 - 2.0 * log_s.d2),
    }
}

impl Heteroscedastic {
    /// The likelihood with noise link s and the default rule.
    pub fn new(link: NoiseLink) -> Self {
        Heteroscedastic {
            link,
            rule: GaussHermite::default_rule().clone(),
        }
    }

    /// The same likelihood with an n-node rule in g (1 ≤ n ≤ 200; used by the softplus link).
    ///
    /// # Errors
    /// `InvalidParameter { name: "quadrature order" }` outside that range.
    pub fn with_quadrature_order(mut self, n: usize) -> Result<Self> {
        self.rule = GaussHermite::new(n)?;
        Ok(self)
    }

    /// The noise link.
    pub fn link(&self) -> NoiseLink {
        self.link
    }

    /// (E[log s(g)], E[s(g)⁻²]) under N(μ_g, σ_g²), each with its derivatives in μ_g and σ_g².
    fn noise_expectations(&self, mu_g: f64, var_g: f64) -> (Expectation, Expectation) {
        match self.link {
            NoiseLink::Exp => {
                let e2 = (-2.0 * mu_g + 2.0 * var_g.max(0.0)).exp();
                let log_s = Expectation {
                    value: mu_g,
                    d_mu: 1.0,
                    d_var: 0.0,
                };
                let inv = Expectation {
                    value: e2,
                    d_mu: -2.0 * e2,
                    d_var: 2.0 * e2,
                };
                (log_s, inv)
            }
            NoiseLink::Softplus => (
                expect_with_derivatives(&self.rule, mu_g, var_g, log_noise_sd),
                expect_with_derivatives(&self.rule, mu_g, var_g, |g| {
                    inverse_noise_variance(log_noise_sd(g))
                }),
            ),
        }
    }

    /// s(g)².
    fn noise_variance(&self, g: f64) -> f64 {
        match self.link {
            NoiseLink::Exp => (2.0 * g).exp(),
            NoiseLink::Softplus => softplus(g).powi(2),
        }
    }
}

impl LikelihoodBase for Heteroscedastic {
    /// "heteroscedastic-exp" or "heteroscedastic-softplus".
    fn name(&self) -> &'static str {
        match self.link {
            NoiseLink::Exp => "heteroscedastic-exp",
            NoiseLink::Softplus => "heteroscedastic-softplus",
        }
    }

    /// 0: no parameters.
    fn num_params(&self) -> usize {
        0
    }

    /// Empty.
    fn param_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Empty.
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }

    /// Accepts only the empty slice.
    ///
    /// # Errors
    /// `ShapeMismatch` for a non-empty one.
    fn set_params(&mut self, params: &[f64]) -> Result<()> {
        check_shape(
            "heteroscedastic likelihood parameters",
            Shape::new(0, 1),
            Shape::new(params.len(), 1),
        )
    }

    /// Checks that every target is finite.
    ///
    /// # Errors
    /// `InvalidTarget { row, value, reason }` for the first non-finite one (0-based row).
    fn check_targets(&self, y: &DVector<f64>) -> Result<()> {
        check_each(y, "targets must be finite", f64::is_finite)
    }

    /// The serialisable description.
    fn spec(&self) -> LikelihoodSpec {
        LikelihoodSpec::Heteroscedastic(HeteroscedasticSpec {
            link: self.link,
            quadrature_order: self.rule.nodes().len(),
        })
    }
}

impl Likelihood for Heteroscedastic {
    /// L = 2: column 0 is f (the mean), column 1 is g (the noise).
    fn num_latent(&self) -> usize {
        2
    }

    /// (ve, g_μ, g_σ): veᵢ = −½ log 2π − E[log s(g)] − ½ rᵢ E[s(g)⁻²], rᵢ = (yᵢ − μ_f)² + σ_f²
    /// (length B), and its exact derivatives (B×2): ∂/∂μ_f = (y − μ_f) E[s⁻²],
    /// ∂/∂σ_f² = −½ E[s⁻²], ∂/∂μ_g and ∂/∂σ_g² those of the g-expectations (module docs).
    /// `mu`, `var` are B×2 with `var` ≥ 0.
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp {
        debug_check_shapes(2, Some(y), mu, var);
        let b = y.len();
        let (mut ve, mut g_mu, mut g_var) = (
            DVector::zeros(b),
            DMatrix::zeros(b, 2),
            DMatrix::zeros(b, 2),
        );
        for i in 0..b {
            let resid = y[i] - mu[(i, 0)];
            let r = resid * resid + var[(i, 0)].max(0.0);
            let (log_s, inv) = self.noise_expectations(mu[(i, 1)], var[(i, 1)]);
            ve[i] = -0.5 * (2.0 * PI).ln() - log_s.value - 0.5 * times(r, inv.value);
            g_mu[(i, 0)] = times(resid, inv.value);
            g_var[(i, 0)] = -0.5 * inv.value;
            g_mu[(i, 1)] = -log_s.d_mu - 0.5 * times(r, inv.d_mu);
            g_var[(i, 1)] = -log_s.d_var - 0.5 * times(r, inv.d_var);
        }
        VarExp { ve, g_mu, g_var }
    }

    /// Σᵢ v̄eᵢ ∂veᵢ/∂pₖ: empty (no parameters).
    fn vjp_params(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
        _ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(2, Some(y), mu, var);
        DVector::zeros(0)
    }

    /// Mean μ_f and variance σ_f² + E[s(g)²] of y (B×1 each): the mean of e²ᵍ is
    /// exp(2μ_g + 2σ_g²) for exp; the 200-node rule for softplus.
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        debug_check_shapes(2, None, mu, var);
        let b = mu.nrows();
        let mean = DMatrix::from_fn(b, 1, |i, _| mu[(i, 0)]);
        let variance = DMatrix::from_fn(b, 1, |i, _| {
            let (m, v) = (mu[(i, 1)], var[(i, 1)].max(0.0));
            let noise = match self.link {
                NoiseLink::Exp => (2.0 * m + 2.0 * v).exp(),
                NoiseLink::Softplus => {
                    GaussHermite::fine_rule().expect(m, v, |g| self.noise_variance(g))
                }
            };
            var[(i, 0)].max(0.0) + noise
        });
        (mean, variance)
    }

    /// log ∫∫ N(yᵢ; f, s(g)²) q(f) q(g) df dg = log E_g[N(yᵢ; μ_f, σ_f² + s(g)²)] by the 200-node
    /// rule in g with log-sum-exp (length B).
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        debug_check_shapes(2, Some(y), mu, var);
        DVector::from_fn(y.len(), |i, _| {
            let var_f = var[(i, 0)].max(0.0);
            GaussHermite::fine_rule().log_expect_exp(mu[(i, 1)], var[(i, 1)], |g| {
                log_normal_density(y[i], mu[(i, 0)], var_f + self.noise_variance(g))
            })
        })
    }

    fn box_clone(&self) -> Box<dyn Likelihood> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SvgpError;
    use crate::likelihood::multi::test_support::{
        check_gradients, fd_close, mean_and_se, within_4_se,
    };
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// Three points; columns (f, g).
    fn cases() -> (DVector<f64>, DMatrix<f64>, DMatrix<f64>) {
        let y = DVector::from_vec(vec![0.7, -1.5, 2.2]);
        let mu = DMatrix::from_row_slice(3, 2, &[0.2, -0.5, -1.0, 0.3, 2.0, -1.2]);
        let var = DMatrix::from_row_slice(3, 2, &[0.4, 0.3, 1.1, 0.05, 0.2, 0.6]);
        (y, mu, var)
    }

    /// The exp link's closed forms against the shared Gauss–Hermite path with log s = g and
    /// s⁻² = e⁻²ᵍ (20 nodes integrate e^{−2g} to ~1e-30 relative at σ_g² ≤ 0.6): ve, g_μ, g_σ agree
    /// to 1e-12 relative.
    #[test]
    fn exp_closed_form_matches_quadrature() {
        let lik = Heteroscedastic::new(NoiseLink::Exp);
        let (y, mu, var) = cases();
        let VarExp { ve, g_mu, g_var } = lik.variational_expectations(&y, &mu, &var);
        let rule = GaussHermite::default_rule();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        for i in 0..3 {
            let (m, v) = (mu[(i, 1)], var[(i, 1)]);
            let log_s = expect_with_derivatives(rule, m, v, |g| LogProb {
                value: g,
                d1: 1.0,
                d2: 0.0,
            });
            let inv = expect_with_derivatives(rule, m, v, |g| {
                let e = (-2.0 * g).exp();
                LogProb {
                    value: e,
                    d1: -2.0 * e,
                    d2: 4.0 * e,
                }
            });
            let r = (y[i] - mu[(i, 0)]).powi(2) + var[(i, 0)];
            assert!(close(
                ve[i],
                -0.5 * (2.0 * PI).ln() - log_s.value - 0.5 * r * inv.value
            ));
            assert!(close(g_mu[(i, 0)], (y[i] - mu[(i, 0)]) * inv.value));
            assert!(close(g_var[(i, 0)], -0.5 * inv.value));
            assert!(close(g_mu[(i, 1)], -log_s.d_mu - 0.5 * r * inv.d_mu));
            assert!(close(g_var[(i, 1)], -log_s.d_var - 0.5 * r * inv.d_var));
        }
    }

    /// ve, the predictive variance and exp(log predictive density) of both links against 10⁶
    /// seeded draws of (f, g) per point, within 4 standard errors (the quadrature errors, < 1e-8
    /// here, are far below): E[log N(y; f, s(g)²)], E[s(g)²] and E[N(y; f, s(g)²)].
    #[test]
    fn expectations_match_monte_carlo() {
        let (y, mu, var) = cases();
        let mut rng = StdRng::seed_from_u64(41);
        let draws = 1_000_000;
        for link in [NoiseLink::Exp, NoiseLink::Softplus] {
            let lik = Heteroscedastic::new(link);
            let VarExp { ve, .. } = lik.variational_expectations(&y, &mu, &var);
            let (_, pred_var) = lik.predict_y(&mu, &var);
            let lpd = lik.log_predictive_density(&y, &mu, &var);
            for i in 0..3 {
                let mut sums = [(0.0, 0.0); 3];
                for _ in 0..draws {
                    let f = mu[(i, 0)] + var[(i, 0)].sqrt() * rng.sample::<f64, _>(StandardNormal);
                    let g = mu[(i, 1)] + var[(i, 1)].sqrt() * rng.sample::<f64, _>(StandardNormal);
                    let s2 = lik.noise_variance(g);
                    let log_p = log_normal_density(y[i], f, s2);
                    for (s, x) in sums.iter_mut().zip([log_p, s2, log_p.exp()]) {
                        *s = (s.0 + x, s.1 + x * x);
                    }
                }
                let [a, b, c] = sums.map(|(s, s2)| mean_and_se(s, s2, draws));
                assert!(
                    within_4_se(ve[i], 0.0, a.0, a.1),
                    "{link:?} ve {i}: {} vs {a:?}",
                    ve[i]
                );
                let noise = pred_var[(i, 0)] - var[(i, 0)];
                assert!(within_4_se(noise, 0.0, b.0, b.1), "{link:?} E[s²] {i}");
                assert!(within_4_se(lpd[i].exp(), 0.0, c.0, c.1), "{link:?} lpd {i}");
            }
        }
    }

    /// g_μ, g_σ against central differences of ve for both links (abs 1e-6 + rel 1e-5, STYLE.md).
    #[test]
    fn derivatives_match_central_differences() {
        let (y, mu, var) = cases();
        for link in [NoiseLink::Exp, NoiseLink::Softplus] {
            let lik = Heteroscedastic::new(link);
            let VarExp { g_mu, g_var, .. } = lik.variational_expectations(&y, &mu, &var);
            let ve = |m: &DMatrix<f64>, v: &DMatrix<f64>| lik.variational_expectations(&y, m, v).ve;
            check_gradients(ve, &mu, &var, &g_mu, &g_var);
        }
    }

    /// σ_g² = 0 (softplus): the limit's ∂ve/∂σ_g² against a forward difference from 0 with
    /// h = 1e-8 (truncation ~h|∂²ve/∂(σ_g²)²| ≲ 1e-7); σ² = 0 for both latents matches
    /// log p(y | f, g) exactly (1e-14); huge |μ| and σ² give no NaN (an overflowed E[s⁻²] gives
    /// ∓∞, its limit).
    #[test]
    fn limits_and_extremes() {
        let lik = Heteroscedastic::new(NoiseLink::Softplus);
        let y = DVector::from_vec(vec![0.4]);
        let mu = DMatrix::from_row_slice(1, 2, &[-0.1, 0.3]);
        let at =
            |v: [f64; 2]| lik.variational_expectations(&y, &mu, &DMatrix::from_row_slice(1, 2, &v));
        let VarExp {
            ve: ve0, g_var: g0, ..
        } = at([0.5, 0.0]);
        let h = 1e-8;
        let fd = (at([0.5, h]).ve[0] - ve0[0]) / h;
        assert!(fd_close(g0[(0, 1)], fd), "{} vs {fd}", g0[(0, 1)]);
        let exact = log_normal_density(0.4, -0.1, softplus(0.3).powi(2));
        assert!((at([0.0, 0.0]).ve[0] - exact).abs() < 1e-14);
        for link in [NoiseLink::Exp, NoiseLink::Softplus] {
            let lik = Heteroscedastic::new(link);
            for &(m, v) in &[
                (-1e6, 0.0),
                (1e6, 1e8),
                (0.0, 1e8),
                (0.0, 0.0),
                (-800.0, 1.0),
            ] {
                for y0 in [0.0, 3.0] {
                    let y = DVector::from_element(1, y0);
                    let mu = DMatrix::from_row_slice(1, 2, &[0.0, m]);
                    let var = DMatrix::from_row_slice(1, 2, &[0.0, v]);
                    let VarExp { ve, g_mu, g_var } = lik.variational_expectations(&y, &mu, &var);
                    let (pm, pv) = lik.predict_y(&mu, &var);
                    let lpd = lik.log_predictive_density(&y, &mu, &var);
                    for x in ve
                        .iter()
                        .chain(&g_mu)
                        .chain(&g_var)
                        .chain(&pm)
                        .chain(&pv)
                        .chain(&lpd)
                    {
                        assert!(!x.is_nan(), "{link:?} y = {y0}, μ_g = {m}, σ_g² = {v}");
                    }
                }
            }
        }
    }

    /// The 20-node softplus ve against the 200-node rule, relative to max(1, |ve|), for μ_g from
    /// −3 to 3: the module docs' accuracy, with bounds ~5× the worst measured (run with
    /// --nocapture to print it).
    #[test]
    fn softplus_quadrature_accuracy() {
        let coarse = Heteroscedastic::new(NoiseLink::Softplus);
        let fine = coarse.clone().with_quadrature_order(200).unwrap();
        let y = DVector::from_element(1, 0.5);
        for (var_g, bound) in [
            (0.1, 1e-13),
            (0.5, 1e-13),
            (1.0, 2e-11),
            (2.0, 1e-9),
            (4.0, 3e-7),
        ] {
            let mut worst: f64 = 0.0;
            for mu_g in [-3.0, -1.0, 0.0, 1.0, 3.0] {
                let mu = DMatrix::from_row_slice(1, 2, &[0.0, mu_g]);
                let var = DMatrix::from_row_slice(1, 2, &[0.3, var_g]);
                let a = coarse.variational_expectations(&y, &mu, &var).ve[0];
                let b = fine.variational_expectations(&y, &mu, &var).ve[0];
                worst = worst.max((a - b).abs() / b.abs().max(1.0));
            }
            println!("σ_g² = {var_g}: worst relative error {worst:.1e}");
            assert!(worst < bound, "σ_g² = {var_g}: {worst:e}");
        }
    }

    /// Targets must be finite; the spec rebuilds the likelihood exactly through JSON.
    #[test]
    fn validation_and_spec_round_trip() {
        let lik = Heteroscedastic::new(NoiseLink::Softplus)
            .with_quadrature_order(32)
            .unwrap();
        assert!(Heteroscedastic::new(NoiseLink::Exp)
            .with_quadrature_order(201)
            .is_err());
        let bad = lik.check_targets(&DVector::from_vec(vec![1.0, f64::NAN]));
        assert!(matches!(bad, Err(SvgpError::InvalidTarget { row: 1, .. })));
        let json = serde_json::to_string(&lik.spec()).unwrap();
        let rebuilt = serde_json::from_str::<LikelihoodSpec>(&json)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(rebuilt.spec(), lik.spec());
        let mut lik = lik;
        assert!(lik.set_params(&[0.0]).is_err());
        assert_eq!(
            (lik.num_latent(), lik.name(), lik.num_params()),
            (2, "heteroscedastic-softplus", 0)
        );
    }
}

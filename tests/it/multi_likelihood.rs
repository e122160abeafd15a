//! The multi-latent likelihoods through the public API, against the single-latent likelihoods
//! they reduce to: a heteroscedastic Gaussian with known noise is the Gaussian likelihood, a
//! two-class softmax with one latent pinned at 0 is the logit Bernoulli, and a two-class
//! robust-max is the probit link at the standardised difference of the latents (MATH.md §5).

use nalgebra::{DMatrix, DVector};
use svgp::likelihood::quadrature::GaussHermite;
use svgp::likelihood::{
    Bernoulli, BinaryLink, Gaussian, Heteroscedastic, Likelihood, NoiseLink, RobustMax,
    ScalarLikelihood, Softmax, VarExp,
};
use svgp::transform::softplus;

/// |a − b| ≤ tol·max(1, |b|).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// With σ_g² = 0 the noise is known, s(μ_g)², so ve, ∂ve/∂μ_f, ∂ve/∂σ_f², the predictive
/// variance and the log predictive density equal the Gaussian likelihood's with that noise
/// variance, for both links (1e-12 relative: the same formulas in another order; the 200-node rule
/// at σ_g = 0 puts every node at μ_g, its weights summing to 1 within 1e-14).
#[test]
fn heteroscedastic_with_known_noise_is_gaussian() {
    let y = DVector::from_vec(vec![0.3, -1.2, 2.5]);
    let mu_f = DVector::from_vec(vec![0.1, -0.4, 1.0]);
    let var_f = DVector::from_vec(vec![0.2, 1.5, 0.0]);
    let mu_g = [-0.7, 0.2, 1.1];
    for link in [NoiseLink::Exp, NoiseLink::Softplus] {
        let lik = Heteroscedastic::new(link);
        let mu = DMatrix::from_fn(3, 2, |i, l| if l == 0 { mu_f[i] } else { mu_g[i] });
        let var = DMatrix::from_fn(3, 2, |i, l| if l == 0 { var_f[i] } else { 0.0 });
        let VarExp { ve, g_mu, g_var } = lik.variational_expectations(&y, &mu, &var);
        let (_, pred_var) = lik.predict_y(&mu, &var);
        let lpd = lik.log_predictive_density(&y, &mu, &var);
        for i in 0..3 {
            let noise = match link {
                NoiseLink::Exp => (2.0 * mu_g[i]).exp(),
                NoiseLink::Softplus => softplus(mu_g[i]).powi(2),
            };
            let gaussian = Gaussian::new(noise).unwrap();
            let one = |v: f64| DVector::from_element(1, v);
            let (yi, mi, vi) = (one(y[i]), one(mu_f[i]), one(var_f[i]));
            let expected = gaussian.scalar_variational_expectations(&yi, &mi, &vi);
            assert!(close(ve[i], expected.ve[0], 1e-12), "{link:?} ve {i}");
            assert!(
                close(g_mu[(i, 0)], expected.g_mu[0], 1e-12),
                "{link:?} g_mu {i}"
            );
            assert!(
                close(g_var[(i, 0)], expected.g_var[0], 1e-12),
                "{link:?} g_var {i}"
            );
            let (_, v) = gaussian.scalar_predict_y(&mi, &vi);
            assert!(
                close(pred_var[(i, 0)], v[0], 1e-12),
                "{link:?} variance {i}"
            );
            let expected_lpd = gaussian.scalar_log_predictive_density(&yi, &mi, &vi)[0];
            assert!(close(lpd[i], expected_lpd, 1e-12), "{link:?} lpd {i}");
        }
    }
}

/// Two classes, latent 0 pinned at 0 (μ₀ = σ₀² = 0): softmax(f)₁ = σ(f₁), the logit Bernoulli.
/// The fixed-sample ve (S = 4096) is within 4 of its standard errors sd(log σ(f₁))/√S (the
/// antithetic pairs only shrink the error) of the Bernoulli's 20-node quadrature (itself exact to
/// ~1e-10 here); g_μ₁ likewise with sd(σ(−f₁))/√S; the predictive probability within 4 of its
/// standard errors at the predictive sample's size.
#[test]
fn two_class_softmax_with_a_pinned_latent_is_logit_bernoulli() {
    let s = 4096;
    let softmax = Softmax::with_sampling(2, s, 9).unwrap();
    let bernoulli = Bernoulli::new(BinaryLink::Logit);
    let rule = GaussHermite::default_rule();
    for (y, m, v) in [(1.0, 0.4, 0.8), (0.0, -1.0, 2.5), (1.0, 2.0, 0.1)] {
        let mu = DMatrix::from_row_slice(1, 2, &[0.0, m]);
        let var = DMatrix::from_row_slice(1, 2, &[0.0, v]);
        let yv = DVector::from_element(1, y);
        let VarExp { ve, g_mu, g_var: _ } = softmax.variational_expectations(&yv, &mu, &var);
        let one = |x: f64| DVector::from_element(1, x);
        let expected = bernoulli.scalar_variational_expectations(&yv, &one(m), &one(v));
        let sd = |h: &dyn Fn(f64) -> f64| {
            let mean = rule.expect(m, v, h);
            (rule.expect(m, v, |f| h(f).powi(2)) - mean * mean).sqrt()
        };
        let log_p = |f: f64| bernoulli.log_prob(y, f);
        let se_ve = sd(&log_p) / (s as f64).sqrt();
        assert!(
            (ve[0] - expected.ve[0]).abs() < 4.0 * se_ve,
            "ve at {m}, {v}"
        );
        let d_log_p = |f: f64| bernoulli.log_prob_derivatives(y, f).d1;
        let se_g = sd(&d_log_p) / (s as f64).sqrt();
        assert!(
            (g_mu[(0, 1)] - expected.g_mu[0]).abs() < 4.0 * se_g,
            "g_mu at {m}, {v}"
        );
        let (p, _) = softmax.predict_y(&mu, &var);
        let (p_expected, p_var) = bernoulli.scalar_predict_y(&one(m), &one(v));
        let se_p = (p_var[0] / svgp::likelihood::PREDICT_NUM_SAMPLES as f64).sqrt();
        assert!(
            (p[(0, 1)] - p_expected[0]).abs() < 4.0 * se_p,
            "p at {m}, {v}"
        );
    }
}

/// Two classes: P(f₁ > f₀) = Φ((μ₁ − μ₀)/√(σ₀² + σ₁²)), the probit link at the standardised
/// difference of the latents; robust-max mixes it with ε. Predictions agree to 1e-10
/// (the composite rule and the normal CDF's own error), and the log predictive density is its log.
#[test]
fn two_class_robustmax_is_probit_on_the_difference() {
    let eps = 0.01;
    let lik = RobustMax::new(2, eps, false).unwrap();
    let probit = Bernoulli::new(BinaryLink::Probit);
    let mu = DMatrix::from_row_slice(3, 2, &[0.2, -0.3, 1.0, 1.5, -2.0, 0.0]);
    let var = DMatrix::from_row_slice(3, 2, &[0.5, 1.0, 0.01, 3.0, 2.0, 0.0]);
    let (p, _) = lik.predict_y(&mu, &var);
    let y = DVector::from_vec(vec![1.0, 0.0, 1.0]);
    let lpd = lik.log_predictive_density(&y, &mu, &var);
    for i in 0..3 {
        let z = (mu[(i, 1)] - mu[(i, 0)]) / (var[(i, 0)] + var[(i, 1)]).sqrt();
        let big_p = probit.log_prob(1.0, z).exp(); // Φ(z)
        let expected = (1.0 - eps) * big_p + eps * (1.0 - big_p);
        assert!((p[(i, 1)] - expected).abs() < 1e-10, "point {i}");
        assert!((p[(i, 0)] + p[(i, 1)] - 1.0).abs() < 1e-10);
        let c = y[i] as usize;
        assert!((lpd[i] - p[(i, c)].ln()).abs() < 1e-12);
    }
}

//! Every likelihood: variational expectations and their derivatives against central
//! differences, Monte Carlo and closed forms; the σ² → 0 limit; parameter gradients; target
//! checks; and the SVGP's hyperparameter and Z gradients with each likelihood (MATH.md §5).

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use rand_distr::StandardNormal;
use svgp::likelihood::{
    quadrature_variational_expectations, Bernoulli, BinaryLink, Gaussian, Likelihood, Poisson,
    PoissonLink, ScalarLikelihood, StudentT,
};
use svgp::model::Svgp;
use svgp::SvgpError;

/// One likelihood under test: as the model sees it, as its scalar self, its targets from its
/// domain and one value outside it.
type Case = (
    Box<dyn Likelihood>,
    Box<dyn ScalarLikelihood>,
    DVector<f64>,
    f64,
);

fn case<T: ScalarLikelihood + Clone + 'static>(lik: T, y: DVector<f64>, bad: f64) -> Case {
    (Box::new(lik.clone()), Box::new(lik), y, bad)
}

/// Every likelihood the crate ships, with targets from its domain and one value outside it. A new
/// likelihood must be added here, and so gets every test below.
fn every_likelihood() -> Vec<Case> {
    let real = DVector::from_vec(vec![0.3, -1.1, 2.4, 0.0, -0.2]);
    let binary = DVector::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0]);
    let counts = DVector::from_vec(vec![0.0, 3.0, 1.0, 7.0, 2.0]);
    vec![
        case(Gaussian::new(0.3).unwrap(), real.clone(), f64::NAN),
        case(Bernoulli::new(BinaryLink::Probit), binary.clone(), 0.5),
        case(Bernoulli::new(BinaryLink::Logit), binary, -1.0),
        case(
            StudentT::new(0.4, 3.0, false).unwrap(),
            real.clone(),
            f64::INFINITY,
        ),
        case(StudentT::new(0.6, 4.5, true).unwrap(), real, f64::NAN),
        case(Poisson::new(PoissonLink::Exp), counts.clone(), 1.5),
        case(Poisson::new(PoissonLink::Softplus), counts, -2.0),
    ]
}

fn mu_var() -> (DVector<f64>, DVector<f64>) {
    (
        DVector::from_vec(vec![0.2, -0.5, 1.1, 0.7, -1.3]),
        DVector::from_vec(vec![0.4, 0.05, 1.2, 0.3, 0.8]),
    )
}

/// g_μ and g_σ against central differences of ve (h = 1e-5; the 20-point rule is smooth in μ
/// and σ², so truncation ~h² and rounding ~ε/h leave 1e-6 absolute plus 1e-6 relative as room).
#[test]
fn ve_derivatives_match_central_differences() {
    let (mu, var) = mu_var();
    for (_, lik, y, _) in every_likelihood() {
        let got = lik.scalar_variational_expectations(&y, &mu, &var);
        let h = 1e-5;
        for i in 0..y.len() {
            let ve_at = |m: f64, v: f64| {
                let (mut mm, mut vv) = (mu.clone(), var.clone());
                mm[i] = m;
                vv[i] = v;
                lik.scalar_variational_expectations(&y, &mm, &vv).ve[i]
            };
            let fd_mu = (ve_at(mu[i] + h, var[i]) - ve_at(mu[i] - h, var[i])) / (2.0 * h);
            let fd_var = (ve_at(mu[i], var[i] + h) - ve_at(mu[i], var[i] - h)) / (2.0 * h);
            let close = |a: f64, b: f64| (a - b).abs() < 1e-6 + 1e-6 * b.abs();
            assert!(
                close(got.g_mu[i], fd_mu),
                "{}: g_mu[{i}] {} vs {fd_mu}",
                lik.name(),
                got.g_mu[i]
            );
            assert!(
                close(got.g_var[i], fd_var),
                "{}: g_var[{i}] {} vs {fd_var}",
                lik.name(),
                got.g_var[i]
            );
        }
    }
}

/// ve(μ, σ² → 0) → log p(y | μ): at σ² = 1e-12 the quadrature's points sit within ~1e-6 of μ,
/// so the difference is O(σ²·|∂² log p|) ≲ 1e-11.
#[test]
fn ve_tends_to_log_prob_as_variance_vanishes() {
    let (mu, _) = mu_var();
    let tiny = DVector::from_element(mu.len(), 1e-12);
    for (_, lik, y, _) in every_likelihood() {
        let ve = lik.scalar_variational_expectations(&y, &mu, &tiny).ve;
        for i in 0..y.len() {
            let lp = lik.log_prob(y[i], mu[i]);
            assert!(
                (ve[i] - lp).abs() < 1e-9 * lp.abs().max(1.0),
                "{}: {} vs {lp}",
                lik.name(),
                ve[i]
            );
        }
    }
}

/// The σ² → 0 limit of ve and its derivatives from the pointwise log density at μ:
/// (log p + ½σ² ∂²_f log p, ∂_f log p, ½ ∂²_f log p), each to O(σ²) (Gauss–Hermite integrates
/// the Taylor expansion's polynomial terms exactly).
fn zero_variance_limit(lik: &dyn ScalarLikelihood, y: f64, mu: f64, var: f64) -> [f64; 3] {
    let lp = lik.log_prob_derivatives(y, mu);
    [lp.value + 0.5 * var * lp.d2, lp.d1, 0.5 * lp.d2]
}

/// Asserts ve, g_μ, g_σ of `got` at point i are finite and within `tol`·max(1, |limit|) of the
/// zero-variance limit.
fn assert_near_limit(
    what: &str,
    lik: &dyn ScalarLikelihood,
    y: f64,
    mu: f64,
    var: f64,
    got: [f64; 3],
    tol: f64,
) {
    let limit = zero_variance_limit(lik, y, mu, var);
    for ((name, g), e) in ["ve", "g_mu", "g_var"].into_iter().zip(got).zip(limit) {
        assert!(
            g.is_finite() && (g - e).abs() <= tol * e.abs().max(1.0),
            "{} ({what}) at y = {y}, μ = {mu}, σ² = {var:e}: {name} = {g:e}, limit {e:e}",
            lik.name()
        );
    }
}

/// At tiny positive σ² (1e-30 down to the smallest subnormal, and 0) the rule's nodes
/// μ + √2σxₖ all round to μ or a neighbouring double, so g_σ = Σₖ wₖ ∂_f log p(fₖ) xₖ/(√2σ)
/// would divide rounding noise by σ. Value and derivatives must be finite and equal the σ² → 0
/// limit (log p, ∂_f log p, ½ ∂²_f log p at μ), through each likelihood's own method and through
/// the generic rule (for the Gaussian, the rule against its closed form's limit). Tolerance
/// 1e-12 relative: the O(σ²) terms are below 1e-29 here, so only rounding is left.
#[test]
fn ve_and_derivatives_at_tiny_variance_equal_the_zero_variance_limit() {
    let (mut mu, _) = mu_var();
    mu[3] = 0.0; // nodes √2σxₖ exactly representable: no rounding to hide behind
    for var in [1e-30, 1e-100, 1e-300, 5e-324, 0.0] {
        let tiny = DVector::from_element(mu.len(), var);
        for (_, lik, y, _) in every_likelihood() {
            let own = lik.scalar_variational_expectations(&y, &mu, &tiny);
            let quad = quadrature_variational_expectations(lik.as_ref(), &y, &mu, &tiny);
            for (what, r) in [("own method", own), ("generic rule", quad)] {
                for i in 0..y.len() {
                    let got = [r.ve[i], r.g_mu[i], r.g_var[i]];
                    assert_near_limit(what, lik.as_ref(), y[i], mu[i], var, got, 1e-12);
                }
            }
        }
    }
}

/// From σ² = 1e-8 down to 1e-24, across the point where the generic rule hands over to the
/// σ² → 0 limit (σ = 1e-6·max(1, |μ|)), its results agree with the second-order limit to 1e-6
/// relative: above the hand-over the rule's rounding error ~ε(|μ| + |∂_f log p / ∂²_f log p|)/σ
/// is below 1e-8, and the limit's own error O(σ²·|∂⁴_f log p / ∂²_f log p|) at most 2e-7 (at
/// σ² = 1e-8, for the Student-t, whose density bends on its scale 0.4); below it the rule's sum
/// would be off by over 1e-6 from σ² = 1e-20 on. No jump at the hand-over, and no use of the
/// sum where its rounding dominates.
#[test]
fn generic_rule_meets_the_zero_variance_limit_smoothly() {
    let (mu, _) = mu_var();
    for var in [1e-8, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-16, 1e-20, 1e-24] {
        let small = DVector::from_element(mu.len(), var);
        for (_, lik, y, _) in every_likelihood() {
            let quad = quadrature_variational_expectations(lik.as_ref(), &y, &mu, &small);
            for i in 0..y.len() {
                let got = [quad.ve[i], quad.g_mu[i], quad.g_var[i]];
                assert_near_limit("generic rule", lik.as_ref(), y[i], mu[i], var, got, 1e-6);
            }
        }
    }
}

/// Closed forms (Gaussian; Poisson with the exp link) against the generic 20-point quadrature:
/// for the Gaussian ve is a degree-2 polynomial in f (exact for the rule); for Poisson-exp the
/// rule's error on E[eᶠ] at σ² ≤ 1.2 is below 1e-12 relative — 1e-10 is the bound.
#[test]
fn closed_forms_equal_quadrature() {
    let (mu, var) = mu_var();
    for (_, lik, y, _) in every_likelihood() {
        if !matches!(lik.name(), "gaussian" | "poisson-exp") {
            continue;
        }
        let closed = lik.scalar_variational_expectations(&y, &mu, &var);
        let quad = quadrature_variational_expectations(lik.as_ref(), &y, &mu, &var);
        for (a, b) in [
            (&closed.ve, &quad.ve),
            (&closed.g_mu, &quad.g_mu),
            (&closed.g_var, &quad.g_var),
        ] {
            assert!(
                rel_diff(a.as_slice(), b.as_slice()) < 1e-10,
                "{}: {a} vs {b}",
                lik.name()
            );
        }
    }
}

/// ve, g_μ = E[∂_f log p] and g_σ = ½ E[∂²_f log p] against seeded Monte Carlo with 10⁶ draws
/// per point, within 4 standard errors (a 6e-5 two-sided chance per comparison if exact).
#[test]
fn non_conjugate_ve_matches_monte_carlo() {
    let (mu, var) = mu_var();
    let mut rng = rng(99);
    let draws = 1_000_000;
    for (_, lik, y, _) in every_likelihood() {
        if !(lik.name().starts_with("bernoulli") || lik.name() == "student-t") {
            continue;
        }
        let got = lik.scalar_variational_expectations(&y, &mu, &var);
        for i in 0..y.len() {
            let mut sums = [[0.0f64; 2]; 3]; // (Σx, Σx²) for ve, g_mu, g_var
            for _ in 0..draws {
                let f = mu[i] + var[i].sqrt() * rng.sample::<f64, _>(StandardNormal);
                let lp = lik.log_prob_derivatives(y[i], f);
                for (s, x) in sums.iter_mut().zip([lp.value, lp.d1, 0.5 * lp.d2]) {
                    s[0] += x;
                    s[1] += x * x;
                }
            }
            for (k, (s, exact)) in sums
                .iter()
                .zip([got.ve[i], got.g_mu[i], got.g_var[i]])
                .enumerate()
            {
                let mean = s[0] / draws as f64;
                let se = ((s[1] / draws as f64 - mean * mean) / draws as f64).sqrt();
                assert!(
                    (mean - exact).abs() < 4.0 * se + 1e-12,
                    "{} point {i} quantity {k}: MC {mean} ± {se} vs {exact}",
                    lik.name()
                );
            }
        }
    }
}

/// Parameter VJPs against central differences of Σ w ve (abs 1e-6 + rel 1e-5).
#[test]
fn parameter_gradients_match_central_differences() {
    let (mu, var) = mu_var();
    let w = DVector::from_vec(vec![1.0, -0.5, 2.0, 0.3, 1.5]);
    for (boxed, lik, y, _) in every_likelihood() {
        let grad = lik.scalar_vjp_params(&y, &mu, &var, &w);
        assert_eq!(grad.len(), lik.num_params());
        let p0 = lik.params();
        for k in 0..p0.len() {
            let total = |v: f64| {
                // through the model-facing form, whose B×1 columns are the scalar vectors
                let mut l = boxed.box_clone();
                let mut p = p0.clone();
                p[k] = v;
                l.set_params(&p).unwrap();
                let column =
                    |v: &DVector<f64>| DMatrix::from_column_slice(v.len(), 1, v.as_slice());
                l.variational_expectations(&y, &column(&mu), &column(&var))
                    .ve
                    .dot(&w)
            };
            let h = 1e-5 * p0[k].abs().max(1.0);
            let fd = (total(p0[k] + h) - total(p0[k] - h)) / (2.0 * h);
            assert!(
                (grad[k] - fd).abs() < 1e-6 + 1e-5 * fd.abs(),
                "{} param {k}: {} vs {fd}",
                lik.name(),
                grad[k]
            );
        }
    }
}

/// ∫ h(f) N(f; μ, σ²) df by composite Simpson on μ ± 12σ with 40 000 panels: an oracle
/// independent of Gauss–Hermite (its error, ~(24σ/4e4)⁴·|h⁗|, is far below the tolerances).
fn simpson_expect(mu: f64, var: f64, h: impl Fn(f64) -> f64) -> f64 {
    let sd = var.sqrt();
    let (a, panels) = (mu - 12.0 * sd, 40_000usize);
    let step = 24.0 * sd / panels as f64;
    let g = |f: f64| {
        h(f) * (-(f - mu).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
    };
    let inner: f64 = (1..panels)
        .map(|k| if k % 2 == 1 { 4.0 } else { 2.0 } * g(a + k as f64 * step))
        .sum();
    (g(a) + inner + g(a + panels as f64 * step)) * step / 3.0
}

/// The log predictive density (200-point rule) and the predictive mean against the Simpson
/// oracle. Measured: every likelihood but the Student-t within 3.4e-10 relative (1e-9 allowed);
/// the Student-t, whose density bends on its scale s = 0.4 against σ up to 1.1, within 4e-8
/// (1e-6 allowed; the 20-point rule was off by 7e-5 there, which is why the density uses 200).
#[test]
fn predictive_density_and_mean_agree_with_an_independent_quadrature() {
    let (mu, var) = mu_var();
    for (_, lik, y, _) in every_likelihood() {
        let tol = if lik.name() == "student-t" {
            1e-6
        } else {
            1e-9
        };
        let lpd = lik.scalar_log_predictive_density(&y, &mu, &var);
        let (mean, _) = lik.scalar_predict_y(&mu, &var);
        for i in 0..y.len() {
            let p = simpson_expect(mu[i], var[i], |f| lik.log_prob(y[i], f).exp());
            assert!(
                (lpd[i] - p.ln()).abs() < tol * p.ln().abs().max(1.0),
                "{}: lpd {} vs {}",
                lik.name(),
                lpd[i],
                p.ln()
            );
            // mean of y given f: f (Gaussian, Student-t), p(y=1|f) (Bernoulli), λ(f) (Poisson)
            let cond_mean = |f: f64| match lik.name() {
                "bernoulli-probit" | "bernoulli-logit" => lik.log_prob(1.0, f).exp(),
                "poisson-exp" => f.exp(),
                "poisson-softplus" => f.exp().ln_1p(),
                _ => f,
            };
            let m = simpson_expect(mu[i], var[i], cond_mean);
            assert!(
                (mean[i] - m).abs() < 1e-9 * m.abs().max(1.0),
                "{}: mean {} vs {m}",
                lik.name(),
                mean[i]
            );
        }
    }
}

#[test]
fn targets_outside_the_domain_are_refused_with_their_row() {
    for (_, lik, y, bad) in every_likelihood() {
        lik.check_targets(&y).unwrap();
        let mut wrong = y.clone();
        wrong[3] = bad;
        match lik.check_targets(&wrong) {
            Err(SvgpError::InvalidTarget { row: 3, .. }) => {}
            other => panic!(
                "{}: expected InvalidTarget at row 3, got {other:?}",
                lik.name()
            ),
        }
    }
}

/// The SVGP's hyperparameter (kernel, likelihood) and Z gradients with every likelihood against
/// central differences (abs 1e-6 + rel 1e-5, STYLE.md), M = 5, D = 2, B < N.
#[test]
fn elbo_gradients_match_central_differences_for_every_likelihood() {
    let mut rng = rng(17);
    let (n, batch) = (30, 12);
    let x = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let z = DMatrix::from_fn(5, 2, |_, _| rng.random_range(-2.0..2.0));
    for (lik, _, y_domain, _) in every_likelihood() {
        let y = DVector::from_fn(n, |i, _| y_domain[i % y_domain.len()]);
        let kernel = svgp::kernel::SquaredExponential::new(1.1, vec![0.8, 1.3]).unwrap();
        let model = Svgp::with_q(
            Box::new(kernel),
            lik.box_clone(),
            z.clone(),
            random_q(&mut rng, 5),
            1e-6,
        )
        .unwrap();
        let xb = x.rows(0, batch).into_owned();
        let yb = y.rows(0, batch).into_owned();
        let scale = n as f64 / batch as f64;
        let g = all_grads(&model, &xb, &yb, scale);
        let hp = model.hyper_params();
        let names = model.hyper_param_names();
        for k in 0..hp.len() {
            let f = |v: f64| {
                let mut p = hp.clone();
                p[k] = v;
                let mut m = model.clone();
                m.set_hyper_params(p.as_slice()).unwrap();
                m.elbo(&xb, &yb, scale).unwrap()
            };
            let h = 1e-5 * hp[k].abs().max(1.0);
            let fd = (f(hp[k] + h) - f(hp[k] - h)) / (2.0 * h);
            let tol = 1e-6 + 1e-5 * fd.abs() + 1e-10 * g.elbo.abs();
            assert!(
                (g.d_hyper[k] - fd).abs() < tol,
                "{}: {} analytic {} vs FD {fd}",
                lik.name(),
                names[k],
                g.d_hyper[k]
            );
        }
    }
}

//! The SVGP model: one natural step is exact for a Gaussian likelihood, every parametrisation
//! reaches the same optimum, all gradients match central differences, the minibatch ELBO is
//! unbiased, Z = X recovers the exact GP (MATH.md §1–4).

use crate::common::exactness::{assert_one_step_exact, gaussian_model};
use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::RngExt;
use svgp::kernel::{Kernel, SquaredExponential};
use svgp::likelihood::Gaussian;
use svgp::model::{sgpr_bound, GradScope, Marginals, Svgp, Workspace};
use svgp::optim::{InvalidStepPolicy, NatGrad};
use svgp::variational::{Expectation, MeanCholesky, Natural, Parametrisation, VariationalQ};
use svgp::SvgpError;

/// N points in [−3, 3]^D and y = Σ sin(x_d) + N(0, 0.1²) noise.
fn data(rng: &mut StdRng, n: usize, d: usize) -> (DMatrix<f64>, DVector<f64>) {
    let x = DMatrix::from_fn(n, d, |_, _| rng.random_range(-3.0..3.0));
    let noise = normal_vector(rng, n) * 0.1;
    let y = DVector::from_fn(n, |i, _| {
        x.row(i).iter().map(|v: &f64| v.sin()).sum::<f64>()
    }) + noise;
    (x, y)
}

fn se(d: usize) -> Box<dyn Kernel> {
    Box::new(SquaredExponential::new(1.2, vec![0.9; d]).unwrap())
}

/// MATH.md §3 exactness check (see `common::exactness`) with the SE kernel on D = 2.
#[test]
fn one_natural_step_reaches_the_sgpr_bound_and_optimum() {
    let mut rng = rng(1);
    let (x, y) = data(&mut rng, 60, 2);
    let z = x.rows(0, 12).into_owned();
    assert_one_step_exact("SE", &|| se(2), &x, &y, &z, 0.1, 1e-6, &mut rng);
}

/// η and (m, L) are first-order in θ, so they need many small steps: with γ = 0.05 the error in θ
/// contracts by about (1 − γ) per step and 800 steps leave 0.95⁸⁰⁰ ≈ 2e-18 of the start, so the
/// tolerance 1e-8 on q is set by rounding alone. The data (N = 10, σₙ² = 1) keep the curvature
/// A Aᵀ/σₙ² ≲ 12 so that γ·curvature < 1 and no step leaves the cone (the steps are refused, not
/// halved, so the test would notice).
#[test]
fn every_parametrisation_reaches_the_same_optimum_with_small_steps() {
    let mut rng = rng(2);
    let (x, y) = data(&mut rng, 10, 1);
    let z = x.rows(0, 6).into_owned();
    let fit = sgpr_bound(se(1).as_ref(), 1.0, &z, &x, &y, 1e-6).unwrap();
    fn run<P: Parametrisation>(model: &Svgp, x: &DMatrix<f64>, y: &DVector<f64>) -> VariationalQ {
        let ng = NatGrad::<P>::new(InvalidStepPolicy::Refuse);
        let mut m = model.clone();
        for _ in 0..800 {
            let g = all_grads(&m, x, y, 1.0);
            let q = ng.step(m.q(), &g.d_eta, 0.05).unwrap().q;
            m.set_q(q).unwrap();
        }
        m.q().clone()
    }
    let model = gaussian_model(se(1), z, VariationalQ::standard(6), 1.0, 1e-6);
    for (name, q) in [
        ("natural", run::<Natural>(&model, &x, &y)),
        ("expectation", run::<Expectation>(&model, &x, &y)),
        ("meansqrt", run::<MeanCholesky>(&model, &x, &y)),
    ] {
        let em = rel_diff(q.m().as_slice(), fit.q.m().as_slice());
        let es = rel_diff(q.s().as_slice(), fit.q.s().as_slice());
        assert!(em < 1e-8 && es < 1e-8, "{name}: m {em:e}, S {es:e}");
    }
}

/// Central difference of f at x along one coordinate, h = 1e-5·max(1, |x|) (STYLE.md).
fn central(f: &mut dyn FnMut(f64) -> f64, x: f64) -> f64 {
    let h = 1e-5 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// abs 1e-6 + rel 1e-5 on the gradient, plus rounding of an ELBO of size |L|: ε|L|/h.
fn assert_close(what: &str, got: f64, fd: f64, elbo: f64) {
    let tol = 1e-6 + 1e-5 * fd.abs() + 1e-16 * elbo.abs() / 1e-5 * 10.0;
    assert!((got - fd).abs() < tol, "{what}: analytic {got} vs FD {fd}");
}

/// Every gradient of the minibatch ELBO — each kernel and likelihood parameter, each entry of
/// Z, m and L — against central differences, for M ∈ {1, 5, 30}, D ∈ {1, 3}, B < N and B = N,
/// and every kernel. Jitter 1e-4 keeps Kuu's condition number ≲ 1e5 at M = 30, so FD rounding
/// stays far inside the tolerance; the gradients are exact for any jitter.
#[test]
fn elbo_gradients_match_central_differences() {
    let mut rng = rng(3);
    for d in [1, 3] {
        for m in [1, 5, 30] {
            let n = 40;
            let (x, y) = data(&mut rng, n, d);
            let z = DMatrix::from_fn(m, d, |_, _| rng.random_range(-3.0..3.0));
            for (batch, label) in [(n, "B = N"), (15, "B < N")] {
                let xb = x.rows(0, batch).into_owned();
                let yb = y.rows(0, batch).into_owned();
                let scale = n as f64 / batch as f64;
                for (name, kernel) in every_kernel(d) {
                    let q = random_q(&mut rng, m);
                    let model = gaussian_model(kernel, z.clone(), q, 0.3, 1e-4);
                    let g = all_grads(&model, &xb, &yb, scale);
                    let ctx = format!("{name}, M={m}, D={d}, {label}");
                    let hp = model.hyper_params();
                    let names = model.hyper_param_names();
                    for k in 0..hp.len() {
                        let mut f = |v: f64| {
                            let mut p = hp.clone();
                            p[k] = v;
                            let mut mm = model.clone();
                            mm.set_hyper_params(p.as_slice()).unwrap();
                            mm.elbo(&xb, &yb, scale).unwrap()
                        };
                        assert_close(
                            &format!("{ctx}: {}", names[k]),
                            g.d_hyper[k],
                            central(&mut f, hp[k]),
                            g.elbo,
                        );
                    }
                    for i in 0..m {
                        let mut f = |v: f64| {
                            let mut mv = model.q().m().clone();
                            mv[i] = v;
                            let mut mm = model.clone();
                            mm.set_q(VariationalQ::new(mv, model.q().l().clone()).unwrap())
                                .unwrap();
                            mm.elbo(&xb, &yb, scale).unwrap()
                        };
                        assert_close(
                            &format!("{ctx}: m[{i}]"),
                            g.dl_dm[i],
                            central(&mut f, model.q().m()[i]),
                            g.elbo,
                        );
                    }
                    // L: every lower entry for M ≤ 5, the first column and the diagonal at M = 30.
                    let entries: Vec<(usize, usize)> = if m <= 5 {
                        (0..m).flat_map(|j| (j..m).map(move |i| (i, j))).collect()
                    } else {
                        (0..m)
                            .map(|i| (i, 0))
                            .chain((1..m).map(|i| (i, i)))
                            .collect()
                    };
                    for (i, j) in entries {
                        let mut f = |v: f64| {
                            let mut l = model.q().l().clone();
                            l[(i, j)] = v;
                            let mut mm = model.clone();
                            mm.set_q(VariationalQ::new(model.q().m().clone(), l).unwrap())
                                .unwrap();
                            mm.elbo(&xb, &yb, scale).unwrap()
                        };
                        assert_close(
                            &format!("{ctx}: L[{i},{j}]"),
                            g.dl_dl[(i, j)],
                            central(&mut f, model.q().l()[(i, j)]),
                            g.elbo,
                        );
                    }
                }
            }
        }
    }
}

/// One [`Workspace`] reused across batches of other sizes, other q and other M gives bit for
/// bit what a fresh one gives, and the marginals the candidate check kept
/// ([`Marginals::LastChecked`]) give the same gradients as computing them: stale buffer contents
/// never leak into a result.
#[test]
fn reused_buffers_give_the_same_gradients_as_fresh_ones() {
    let mut rng = rng(11);
    let (d, n) = (3, 40);
    let (x, y) = data(&mut rng, n, d);
    let mut ws = Workspace::new();
    for (round, (batch, m)) in [(40, 12), (15, 12), (15, 5), (40, 12), (7, 12)]
        .into_iter()
        .enumerate()
    {
        let z = DMatrix::from_fn(m, d, |_, _| rng.random_range(-3.0..3.0));
        let xb = x.rows(0, batch).into_owned();
        let yb = y.rows(0, batch).into_owned();
        let scale = n as f64 / batch as f64;
        let model = gaussian_model(se(d), z, random_q(&mut rng, m), 0.3, 1e-6);
        let fresh = all_grads(&model, &xb, &yb, scale);
        ws.set_batch(&model, &xb, &yb, scale).unwrap();
        let marginals = if round % 2 == 0 {
            let (mut candidates, _) = ws.candidates(&model);
            assert_eq!(
                candidates.elbo(model.qs()).unwrap(),
                fresh.elbo,
                "candidate ELBO"
            );
            Marginals::LastChecked
        } else {
            Marginals::Compute
        };
        let reused = ws.grad(&model, GradScope::All, marginals).unwrap();
        let ctx = format!("round {round}, B = {batch}, M = {m}");
        assert_eq!(reused.elbo, fresh.elbo, "{ctx}: ELBO");
        assert_eq!(reused.d_eta, Some(vec![fresh.d_eta]), "{ctx}: ∇_η L");
        assert_eq!(reused.dl_dm, Some(vec![fresh.dl_dm]), "{ctx}: ∂L/∂m");
        assert_eq!(reused.dl_dl, Some(vec![fresh.dl_dl]), "{ctx}: ∂L/∂L");
        assert_eq!(
            reused.d_hyper,
            Some(fresh.d_hyper),
            "{ctx}: hyperparameters"
        );
    }
}

/// The scopes compute what they promise and nothing else: `Eta` gives ∇_η L and ∂L/∂m, `Q`
/// also ∂L/∂L, `Hyper` only the hyperparameter gradient, each equal to `All`'s.
#[test]
fn gradient_scopes_return_what_they_ask_for() {
    let mut rng = rng(12);
    let (x, y) = data(&mut rng, 20, 2);
    let model = gaussian_model(
        se(2),
        x.rows(0, 6).into_owned(),
        random_q(&mut rng, 6),
        0.3,
        1e-6,
    );
    let all = all_grads(&model, &x, &y, 1.0);
    let grad = |scope| model.elbo_grad(&x, &y, 1.0, scope).unwrap();
    let eta = grad(GradScope::Eta);
    assert_eq!(
        (eta.d_eta, eta.dl_dm),
        (Some(vec![all.d_eta.clone()]), Some(vec![all.dl_dm.clone()]))
    );
    assert!(eta.dl_dl.is_none() && eta.d_hyper.is_none());
    let q = grad(GradScope::Q);
    assert_eq!(q.dl_dl, Some(vec![all.dl_dl]));
    assert!(q.d_hyper.is_none());
    let hyper = grad(GradScope::Hyper);
    assert_eq!(hyper.d_hyper, Some(all.d_hyper));
    assert!(hyper.d_eta.is_none() && hyper.dl_dm.is_none() && hyper.dl_dl.is_none());
    assert_eq!(hyper.elbo, all.elbo);
}

/// Averaged over a fixed partition of the data into K batches with c = N/B = K, the minibatch
/// ELBO equals the full-batch ELBO: (1/K) Σₖ (K Σ_{i∈k} veᵢ − KL) = Σᵢ veᵢ − KL. Only summation
/// order differs, so 1e-10 relative is generous.
#[test]
fn minibatch_elbo_is_unbiased_over_a_partition() {
    let mut rng = rng(4);
    let (x, y) = data(&mut rng, 60, 2);
    let model = gaussian_model(
        se(2),
        x.rows(0, 8).into_owned(),
        random_q(&mut rng, 8),
        0.2,
        1e-6,
    );
    let full = model.elbo(&x, &y, 1.0).unwrap();
    let k = 4;
    let mean: f64 = (0..k)
        .map(|b| {
            let xb = x.rows(b * 15, 15).into_owned();
            let yb = y.rows(b * 15, 15).into_owned();
            model.elbo(&xb, &yb, k as f64).unwrap()
        })
        .sum::<f64>()
        / k as f64;
    assert!((mean - full).abs() < 1e-10 * full.abs(), "{mean} vs {full}");
    // and one batch alone is not the full ELBO (so the check has teeth)
    let one = model
        .elbo(
            &x.rows(0, 15).into_owned(),
            &y.rows(0, 15).into_owned(),
            k as f64,
        )
        .unwrap();
    assert!((one - full).abs() > 1e-3);
}

/// With Z = X and full batch, the optimal SVGP equals the exact GP up to the jitter j on Kuu.
/// Its effect, stated: the bound's trace term Σ λᵢ j/(λᵢ + j)/(2σₙ²) ≤ N j/(2σₙ²) (= 150 j here)
/// dominates the ELBO gap (measured 47 j); predictive variances move by O(j) (measured 7.6 j) and
/// means by O(j^¾) (measured 5.9e-6 at j = 1e-8, through cond(K) ≈ 1e12 on this 0.2-spaced grid).
/// So we assert the ELBO bound at every j, and that mean and variance errors fall at least 10×
/// per 100× less jitter and are below 1e-6 at j = 1e-10: a real discrepancy would not vanish.
#[test]
fn z_equal_x_recovers_the_exact_gp() {
    let n = 30;
    let x = DMatrix::from_fn(n, 1, |i, _| -3.0 + 0.2 * i as f64);
    let y = DVector::from_fn(n, |i, _| {
        (x[(i, 0)]).sin() + 0.1 * ((i * 7 % 5) as f64 - 2.0)
    });
    let noise = 0.1;
    let kernel = se(1);

    // exact GP: log N(y | 0, K + σₙ² I) and its predictions, by a direct Cholesky
    let kyy = kernel.matrix(&x, &x) + DMatrix::identity(n, n) * noise;
    let chol = kyy.clone().cholesky().unwrap();
    let alpha = chol.solve(&y);
    let exact = -0.5 * y.dot(&alpha)
        - chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>()
        - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let xs = DMatrix::from_fn(25, 1, |i, _| -3.5 + 0.29 * i as f64);
    let ksx = kernel.matrix(&xs, &x);
    let mean_exact = &ksx * &alpha;
    let kss = kernel.diag(&xs);
    let var_exact = DVector::from_fn(25, |i, _| {
        let k = ksx.row(i).transpose();
        kss[i] - k.dot(&chol.solve(&k))
    });

    let mut previous: Option<(f64, f64)> = None;
    for jitter in [1e-6, 1e-8, 1e-10] {
        let fit = sgpr_bound(kernel.as_ref(), noise, &x, &x, &y, jitter).unwrap();
        let model = gaussian_model(kernel.clone(), x.clone(), fit.q.clone(), noise, jitter);
        let elbo = model.elbo(&x, &y, 1.0).unwrap();
        let bound = n as f64 * jitter / (2.0 * noise);
        assert!(
            (elbo - exact).abs() <= bound,
            "j={jitter:e}: ELBO {elbo} vs exact {exact}"
        );
        let (mean, var) = model.predict_f(&xs).unwrap();
        let (em, ev) = ((&mean - &mean_exact).amax(), (&var - &var_exact).amax());
        if let Some((pm, pv)) = previous {
            assert!(
                em < pm / 10.0 && ev < pv / 10.0,
                "j={jitter:e}: errors {em:e}, {ev:e} did not shrink"
            );
        }
        previous = Some((em, ev));
        let (_, var_y) = model.predict_y(&xs).unwrap();
        assert!((&var_y - var.add_scalar(noise)).amax() < 1e-15);
    }
    let (em, ev) = previous.unwrap();
    assert!(
        em < 1e-6 && ev < 1e-6,
        "at j = 1e-10: mean {em:e}, var {ev:e}"
    );
}

/// The full predictive covariance has predict_f's variances on its diagonal, is symmetric and
/// positive semi-definite (its smallest eigenvalue ≥ −1e-10 of its largest); evaluate's RMSE and
/// NLPD equal direct formulas from predict_y and log_predictive_density.
#[test]
fn full_covariance_and_metrics_agree_with_marginals() {
    let mut rng = rng(6);
    let (x, _) = data(&mut rng, 50, 2);
    let model = gaussian_model(
        se(2),
        x.rows(0, 10).into_owned(),
        random_q(&mut rng, 10),
        0.2,
        1e-6,
    );
    let (xs, ys) = data(&mut rng, 40, 2);
    let (mean, var) = model.predict_f(&xs).unwrap();
    let (mean_full, cov) = model.predict_f_full_cov(&xs, 0).unwrap();
    assert!((mean.column(0) - &mean_full).amax() < 1e-14);
    assert!((cov.diagonal() - var.column(0)).amax() < 1e-12);
    assert_eq!(cov, cov.transpose());
    let eig = cov.clone().symmetric_eigen().eigenvalues;
    assert!(
        eig.min() >= -1e-10 * eig.max(),
        "smallest eigenvalue {}",
        eig.min()
    );

    let metrics = model.evaluate(&xs, &ys).unwrap();
    let (my, _) = model.predict_y(&xs).unwrap();
    let rmse = ((my.column(0) - &ys).norm_squared() / 40.0).sqrt();
    let nlpd = -model.log_predictive_density(&xs, &ys).unwrap().sum() / 40.0;
    assert!((metrics.rmse.unwrap() - rmse).abs() < 1e-14 && (metrics.nlpd - nlpd).abs() < 1e-14);
    assert!(metrics.accuracy.is_none() && metrics.brier.is_none());
}

/// A workspace refuses, with a typed error and no panic, to evaluate before a batch is set, a q
/// of another M, or a batch whose scale N/B is not finite and positive.
#[test]
fn workspace_misuse_is_an_error_not_a_panic() {
    let mut rng = rng(13);
    let (x, y) = data(&mut rng, 20, 2);
    let model = gaussian_model(
        se(2),
        x.rows(0, 6).into_owned(),
        random_q(&mut rng, 6),
        0.3,
        1e-6,
    );
    let mut ws = Workspace::new();
    assert!(matches!(
        ws.elbo(&model),
        Err(SvgpError::ShapeMismatch { .. })
    ));
    assert!(ws.grad(&model, GradScope::All, Marginals::Compute).is_err());
    for scale in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        let err = ws.set_batch(&model, &x, &y, scale).unwrap_err();
        assert!(
            matches!(err, SvgpError::InvalidParameter { .. }),
            "{scale}: {err}"
        );
    }
    ws.set_batch(&model, &x, &y, 1.0).unwrap();
    assert!(ws.elbo(&model).unwrap().is_finite());
    let (mut candidates, _) = ws.candidates(&model);
    let other = random_q(&mut rng, 5);
    assert!(matches!(
        candidates.elbo(std::slice::from_ref(&other)),
        Err(SvgpError::ShapeMismatch { .. })
    ));
}

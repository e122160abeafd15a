//! Several latent GPs sharing Z (MATH.md §1–§4 per latent): the multi-latent ELBO's gradients in
//! every hyperparameter, mₗ and Lₗ against central differences, ∇_ηₗ L against central
//! differences in η coordinates, the joint natural step against per-latent steps and the
//! Fisher-solve oracle, and training with natural steps and with Adam.
//!
//! The likelihood here is a closed-form test double of L latents, y ~ N(Σₗ wₗ fₗ, σ²), whose
//! expectations are exact, so every tolerance below measures the model's gradients alone.

use crate::common::fisher::{fisher_solve, reduce, reduced_point, Xi};
use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use svgp::kernel::{Kernel, Matern32, SquaredExponential};
use svgp::likelihood::{Likelihood, LikelihoodBase, LikelihoodSpec, VarExp};
use svgp::model::{GradScope, Svgp};
use svgp::optim::{
    AdamConfig, BatchPlan, HyperTraining, InMemory, NatGrad, QTraining, Schedule, StopRules,
    Trainer, Xi as StepXi,
};
use svgp::variational::{Expectation, Natural, Parametrisation, Spare, VariationalQ};

/// y ~ N(Σₗ wₗ fₗ, σ²) with fixed weights w and noise σ² (no parameters):
/// ve = −½ log 2πσ² − ((y − Σ wₗ μₗ)² + Σ wₗ² σ²ₗ)/(2σ²).
#[derive(Debug, Clone)]
struct WeightedSum {
    weights: Vec<f64>,
    noise: f64,
}

impl LikelihoodBase for WeightedSum {
    fn name(&self) -> &'static str {
        "weighted-sum (test)"
    }
    fn num_params(&self) -> usize {
        0
    }
    fn param_names(&self) -> Vec<String> {
        Vec::new()
    }
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }
    fn set_params(&mut self, params: &[f64]) -> svgp::Result<()> {
        assert!(params.is_empty());
        Ok(())
    }
    fn check_targets(&self, _y: &DVector<f64>) -> svgp::Result<()> {
        Ok(())
    }
    fn spec(&self) -> LikelihoodSpec {
        unreachable!("the test likelihood is never saved")
    }
}

impl WeightedSum {
    fn residual(&self, y: f64, mu: &DMatrix<f64>, i: usize) -> f64 {
        y - (0..self.weights.len())
            .map(|l| self.weights[l] * mu[(i, l)])
            .sum::<f64>()
    }
}

impl Likelihood for WeightedSum {
    fn num_latent(&self) -> usize {
        self.weights.len()
    }
    fn variational_expectations(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> VarExp {
        let (b, l) = mu.shape();
        let s2 = self.noise;
        let w = &self.weights;
        let ve = DVector::from_fn(b, |i, _| {
            let spread: f64 = (0..l).map(|k| w[k] * w[k] * var[(i, k)]).sum();
            -0.5 * (2.0 * std::f64::consts::PI * s2).ln()
                - (self.residual(y[i], mu, i).powi(2) + spread) / (2.0 * s2)
        });
        let g_mu = DMatrix::from_fn(b, l, |i, k| w[k] * self.residual(y[i], mu, i) / s2);
        let g_var = DMatrix::from_fn(b, l, |_, k| -w[k] * w[k] / (2.0 * s2));
        VarExp { ve, g_mu, g_var }
    }
    fn vjp_params(
        &self,
        _y: &DVector<f64>,
        _mu: &DMatrix<f64>,
        _var: &DMatrix<f64>,
        _ve_bar: &DVector<f64>,
    ) -> DVector<f64> {
        DVector::zeros(0)
    }
    fn log_predictive_density(
        &self,
        y: &DVector<f64>,
        mu: &DMatrix<f64>,
        var: &DMatrix<f64>,
    ) -> DVector<f64> {
        let (mean, v) = self.predict_y(mu, var);
        DVector::from_fn(y.len(), |i, _| {
            let t = v[(i, 0)];
            -0.5 * (2.0 * std::f64::consts::PI * t).ln() - (y[i] - mean[(i, 0)]).powi(2) / (2.0 * t)
        })
    }
    fn predict_y(&self, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> (DMatrix<f64>, DMatrix<f64>) {
        let w = DVector::from_column_slice(&self.weights);
        let w2 = w.map(|v| v * v);
        let mean = mu * w;
        let v = (var * w2).add_scalar(self.noise);
        (
            DMatrix::from_column_slice(mean.len(), 1, mean.as_slice()),
            DMatrix::from_column_slice(v.len(), 1, v.as_slice()),
        )
    }
    fn box_clone(&self) -> Box<dyn Likelihood> {
        Box::new(self.clone())
    }
}

/// A model of `latents` latents on D = 2 inputs with M = 5 random Z and random q's: one shared
/// squared-exponential kernel, or one kernel per latent (SE and Matérn-3/2 alternating).
fn model(seed: u64, latents: usize, per_latent_kernels: bool) -> Svgp {
    let mut rng = rng(seed);
    let z = DMatrix::from_fn(5, 2, |_, _| rng.random_range(-2.0..2.0));
    let kernel = |l: usize| -> Box<dyn Kernel> {
        let scale = 1.0 + 0.3 * l as f64;
        match l % 2 {
            0 => Box::new(SquaredExponential::new(scale, vec![0.8, 1.3]).unwrap()),
            _ => Box::new(Matern32::new(scale, vec![1.1, 0.7]).unwrap()),
        }
    };
    let kernels = match per_latent_kernels {
        true => (0..latents).map(kernel).collect(),
        false => vec![kernel(0)],
    };
    let weights = (0..latents).map(|l| 1.0 - 0.4 * l as f64).collect();
    let lik = WeightedSum {
        weights,
        noise: 0.3,
    };
    let qs = (0..latents).map(|_| random_q(&mut rng, 5)).collect();
    Svgp::with_qs(kernels, Box::new(lik), z, qs, 1e-6).unwrap()
}

fn batch(seed: u64, n: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng(seed);
    let x = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| (2.0f64 * x[(i, 0)]).sin() + 0.5 * x[(i, 1)]);
    (x, y)
}

fn central(f: &mut dyn FnMut(f64) -> f64, x: f64) -> f64 {
    let h = 1e-5 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Tolerance abs 1e-6 + rel 1e-5 + 1e-10 |ELBO| (STYLE.md): central differences with h = 1e-5
/// have truncation ~h²|f‴| ≈ 1e-10 and rounding ~ε|ELBO|/h ≈ 1e-11 |ELBO|.
fn assert_close(what: &str, got: f64, fd: f64, elbo: f64) {
    let tol = 1e-6 + 1e-5 * fd.abs() + 1e-10 * elbo.abs();
    assert!((got - fd).abs() < tol, "{what}: analytic {got} vs FD {fd}");
}

/// A copy of `model` with latent l's q replaced.
fn with_latent_q(model: &Svgp, l: usize, q: VariationalQ) -> Svgp {
    let mut qs = model.qs().to_vec();
    qs[l] = q;
    model.clone_with_qs(qs).unwrap()
}

/// Every hyperparameter (each kernel's, then Z), every mₗ entry and every lower Lₗ entry against
/// central differences, with a shared kernel (L = 3) and one kernel per latent (L = 2), B < N.
#[test]
fn multi_latent_gradients_match_central_differences() {
    let (x, y) = batch(5, 12);
    let scale = 30.0 / 12.0;
    for (latents, per_latent) in [(3, false), (2, true)] {
        let model = model(4, latents, per_latent);
        let g = model.elbo_grad(&x, &y, scale, GradScope::All).unwrap();
        let ctx = format!("L = {latents}, per-latent kernels {per_latent}");
        let (hp, names) = (model.hyper_params(), model.hyper_param_names());
        let d_hyper = g.d_hyper.as_ref().unwrap();
        for k in 0..hp.len() {
            let mut f = |v: f64| {
                let mut p = hp.clone();
                p[k] = v;
                let mut m = model.clone();
                m.set_hyper_params(p.as_slice()).unwrap();
                m.elbo(&x, &y, scale).unwrap()
            };
            let fd = central(&mut f, hp[k]);
            assert_close(&format!("{ctx}: {}", names[k]), d_hyper[k], fd, g.elbo);
        }
        let (dl_dm, dl_dl) = (g.dl_dm.as_ref().unwrap(), g.dl_dl.as_ref().unwrap());
        for (l, q) in model.qs().iter().enumerate() {
            for i in 0..5 {
                let mut f = |v: f64| {
                    let mut m = q.m().clone();
                    m[i] = v;
                    let q = VariationalQ::new(m, q.l().clone()).unwrap();
                    with_latent_q(&model, l, q).elbo(&x, &y, scale).unwrap()
                };
                let fd = central(&mut f, q.m()[i]);
                assert_close(&format!("{ctx}: m{l}[{i}]"), dl_dm[l][i], fd, g.elbo);
                for j in 0..=i {
                    let mut f = |v: f64| {
                        let mut lm = q.l().clone();
                        lm[(i, j)] = v;
                        let q = VariationalQ::new(q.m().clone(), lm).unwrap();
                        with_latent_q(&model, l, q).elbo(&x, &y, scale).unwrap()
                    };
                    let fd = central(&mut f, q.l()[(i, j)]);
                    let what = format!("{ctx}: L{l}[{i},{j}]");
                    assert_close(&what, dl_dl[l][(i, j)], fd, g.elbo);
                }
            }
        }
    }
}

/// ∇_ηₗ L of each latent against central differences of the ELBO in latent l's expectation
/// parameters η = (m, S + m mᵀ), each coordinate of η₁ and each lower entry of η₂ (an
/// off-diagonal moving (i, j) and (j, i) together, so its derivative is twice the symmetric
/// gradient's entry); tolerance as [`assert_close`].
#[test]
fn eta_gradients_match_central_differences_in_eta() {
    let (x, y) = batch(6, 10);
    let model = model(7, 3, false);
    let g = model.elbo_grad(&x, &y, 2.0, GradScope::Eta).unwrap();
    for (l, q) in model.qs().iter().enumerate() {
        let eta = Expectation::from_q(q).unwrap();
        let d_eta = &g.d_eta.as_ref().unwrap()[l];
        let elbo_at = |e: &svgp::variational::Coords| {
            let q = Expectation::to_q(e).unwrap();
            with_latent_q(&model, l, q).elbo(&x, &y, 2.0).unwrap()
        };
        for i in 0..5 {
            let mut f = |v: f64| {
                let mut e = eta.clone();
                e.vector[i] = v;
                elbo_at(&e)
            };
            let fd = central(&mut f, eta.vector[i]);
            assert_close(&format!("η₁ {l}[{i}]"), d_eta.vector[i], fd, g.elbo);
            for j in 0..=i {
                let mut f = |v: f64| {
                    let mut e = eta.clone();
                    e.matrix[(i, j)] = v;
                    e.matrix[(j, i)] = v;
                    elbo_at(&e)
                };
                let fd = central(&mut f, eta.matrix[(i, j)]);
                let factor = if i == j { 1.0 } else { 2.0 };
                let what = format!("η₂ {l}[{i},{j}]");
                assert_close(&what, factor * d_eta.matrix[(i, j)], fd, g.elbo);
            }
        }
    }
}

/// The joint natural step (one γ for every latent) is each latent's own step, bit for bit (the
/// Fisher matrix is block-diagonal over latents), and each latent's natural gradient in θ equals
/// the Fisher-solve oracle for its ∇_ηₗ L to 1e-8 relative (the oracle's LU solve is exact up to
/// rounding at these condition numbers, tests/it/natgrad_oracle.rs).
#[test]
fn joint_natural_step_is_per_latent_and_matches_the_fisher_oracle() {
    let (x, y) = batch(8, 10);
    let model = model(9, 3, true);
    let g = model.elbo_grad(&x, &y, 2.0, GradScope::Eta).unwrap();
    let d_etas = g.d_eta.unwrap();
    let rule = NatGrad::<Natural>::default();
    let mut accept = |_: &[VariationalQ]| true;
    let joint = rule
        .step_latents_in(model.qs(), &d_etas, 0.3, &mut accept, &mut Spare::new())
        .unwrap();
    assert_eq!((joint.gamma, joint.halvings), (0.3, 0));
    for (l, (q, d_eta)) in model.qs().iter().zip(&d_etas).enumerate() {
        let own = rule.step(q, d_eta, 0.3).unwrap();
        assert_eq!(joint.qs[l], own.q, "latent {l}");
        let fast = reduce(&Natural::natural_gradient(q, d_eta).unwrap());
        let oracle = fisher_solve(Xi::Theta, &reduced_point(Xi::Theta, q), d_eta);
        let err = rel_diff(fast.as_slice(), oracle.as_slice());
        assert!(err < 1e-8, "latent {l}: rel err {err:e}");
    }
}

/// Training three latents (shared kernel) on a fixed batch: natural steps in θ with the ascent
/// check never lower the minibatch ELBO; Adam on q and the hyperparameters raises it too; both
/// end finite and above the start.
#[test]
fn trainer_raises_the_elbo_of_several_latents() {
    let (x, y) = batch(10, 40);
    let start = model(11, 3, false).elbo(&x, &y, 1.0).unwrap();
    for q_training in [
        QTraining::natural(StepXi::Natural, Schedule::Constant(0.5)),
        QTraining::Adam,
    ] {
        let natural = matches!(q_training, QTraining::NatGrad { .. });
        let adam = HyperTraining::Adam(AdamConfig::default());
        let mut trainer = Trainer::new(model(11, 3, false), q_training, adam);
        let plan = BatchPlan::Seeded {
            batch_size: 40,
            seed: 1,
        };
        let mut source = InMemory::new(&x, &y, plan).unwrap();
        let mut last = f64::NEG_INFINITY;
        for _ in 0..30 {
            let elbo = trainer.step(&x, &y, 1.0).unwrap().elbo;
            if natural {
                // the reported ELBO is at the new q before the hyperparameter step
                assert!(elbo >= last - 1e-9 * elbo.abs(), "{elbo} after {last}");
            }
            last = trainer.model.elbo(&x, &y, 1.0).unwrap();
        }
        let summary = trainer
            .run(&mut source, 5, StopRules::default(), &mut [])
            .unwrap();
        let end = trainer.model.elbo(&x, &y, 1.0).unwrap();
        assert!(
            summary.last_elbo.is_finite() && end > start,
            "{start} → {end}"
        );
    }
}

/// The shipped multi-latent likelihoods in the model: every hyperparameter (robust-max's ε
/// learned, so its gradient is checked too; each output's noise of the multi-output Gaussian) and
/// every mₗ entry against central differences, with tolerance as [`assert_close`]; targets are
/// classes 0..C−1, reals, or 3 real outputs (B×3 column-major).
#[test]
fn shipped_multi_latent_likelihoods_have_exact_model_gradients() {
    use svgp::likelihood::{Heteroscedastic, MultiGaussian, NoiseLink, RobustMax, Softmax};
    let (x, y_real) = batch(12, 12);
    let classes = DVector::from_fn(12, |i, _| (i % 3) as f64);
    let outputs = DVector::from_fn(36, |k, _| y_real[k % 12] * (1.0 + (k / 12) as f64) - 0.3);
    let cases: Vec<(Box<dyn Likelihood>, &DVector<f64>)> = vec![
        (Box::new(RobustMax::new(3, 0.05, true).unwrap()), &classes),
        (Box::new(Softmax::new(3).unwrap()), &classes),
        (Box::new(Heteroscedastic::new(NoiseLink::Exp)), &y_real),
        (Box::new(Heteroscedastic::new(NoiseLink::Softplus)), &y_real),
        (
            Box::new(MultiGaussian::new(&[0.2, 0.5, 1.1]).unwrap()),
            &outputs,
        ),
    ];
    let mut rng = rng(13);
    for (lik, y) in cases {
        let name = lik.name();
        let latents = lik.num_latent();
        let z = DMatrix::from_fn(4, 2, |_, _| rng.random_range(-2.0..2.0));
        let kernel: Box<dyn Kernel> =
            Box::new(SquaredExponential::new(1.2, vec![0.9, 1.4]).unwrap());
        let qs = (0..latents).map(|_| random_q(&mut rng, 4)).collect();
        let model = Svgp::with_qs(vec![kernel], lik, z, qs, 1e-6).unwrap();
        let g = model.elbo_grad(&x, y, 2.5, GradScope::All).unwrap();
        let (hp, names) = (model.hyper_params(), model.hyper_param_names());
        let d_hyper = g.d_hyper.as_ref().unwrap();
        for k in 0..hp.len() {
            let mut f = |v: f64| {
                let mut p = hp.clone();
                p[k] = v;
                let mut m = model.clone();
                m.set_hyper_params(p.as_slice()).unwrap();
                m.elbo(&x, y, 2.5).unwrap()
            };
            let fd = central(&mut f, hp[k]);
            assert_close(&format!("{name}: {}", names[k]), d_hyper[k], fd, g.elbo);
        }
        for (l, q) in model.qs().iter().enumerate() {
            for i in 0..4 {
                let mut f = |v: f64| {
                    let mut m = q.m().clone();
                    m[i] = v;
                    let q = VariationalQ::new(m, q.l().clone()).unwrap();
                    with_latent_q(&model, l, q).elbo(&x, y, 2.5).unwrap()
                };
                let fd = central(&mut f, q.m()[i]);
                let got = g.dl_dm.as_ref().unwrap()[l][i];
                assert_close(&format!("{name}: m{l}[{i}]"), got, fd, g.elbo);
            }
        }
    }
}

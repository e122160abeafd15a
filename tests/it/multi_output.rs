//! Several Gaussian outputs (MultiGaussian, P target columns, latent p for output p): one γ = 1
//! natural step in θ reaches each output's collapsed SGPR bound, minibatches carry all P targets
//! of their rows, training learns each output's noise, and metrics are reported per output.

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use svgp::kernel::{Kernel, Matern32, SquaredExponential};
use svgp::likelihood::{Gaussian, LikelihoodBase, MultiGaussian};
use svgp::model::{sgpr_bound, GradScope, Svgp};
use svgp::optim::{
    AdamConfig, BatchPlan, BatchSource, HyperTraining, InMemory, NatGrad, QTraining, Schedule,
    StopRules, Trainer,
};
use svgp::variational::Natural;
use svgp::SvgpError;

const NOISE_SD: [f64; 3] = [0.1, 0.3, 0.05];

/// N points on [−3, 3]², and P = 3 outputs yₚ = sin((p + 1)x₀/2) + x₁/(p + 1) + N(0, sdₚ²),
/// column-major N×3 (length 3N).
fn data(seed: u64, n: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng(seed);
    let x = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-3.0..3.0));
    let noise = normal_vector(&mut rng, 3 * n);
    let y = DVector::from_fn(3 * n, |k, _| {
        let (p, i) = (k / n, k % n);
        let scale = (p + 1) as f64;
        (scale * x[(i, 0)] / 2.0).sin() + x[(i, 1)] / scale + NOISE_SD[p] * noise[k]
    });
    (x, y)
}

fn se() -> Box<dyn Kernel> {
    Box::new(SquaredExponential::new(1.2, vec![0.9, 1.4]).unwrap())
}

fn kernel(p: usize) -> Box<dyn Kernel> {
    match p {
        1 => Box::new(Matern32::new(0.8, vec![1.1, 0.7]).unwrap()),
        _ => Box::new(SquaredExponential::new(1.2 + 0.1 * p as f64, vec![0.9, 1.4]).unwrap()),
    }
}

/// MATH.md §3 for several outputs: from random q's, one γ = 1 natural step in θ per latent lands
/// every latent on its own output's SGPR optimum, so the ELBO equals Σₚ SGPR boundₚ, with one
/// kernel shared and one kernel per output. Tolerance 1e-8 relative (the bound): both
/// sides are O(M³) evaluations of the same closed form, rounding ~1e-13.
#[test]
fn one_natural_step_reaches_every_outputs_sgpr_bound() {
    let (x, y) = data(1, 50);
    let z = x.rows(0, 10).into_owned();
    let variances = [0.02, 0.3, 0.05];
    for per_output in [false, true] {
        let kernels: Vec<_> = match per_output {
            true => (0..3).map(kernel).collect(),
            false => vec![se()],
        };
        let bound: f64 = (0..3)
            .map(|p| {
                let k = if per_output { &kernels[p] } else { &kernels[0] };
                let y_p = y.rows(50 * p, 50).into_owned();
                sgpr_bound(k.as_ref(), variances[p], &z, &x, &y_p, 1e-6)
                    .unwrap()
                    .bound
            })
            .sum();
        let mut r = rng(2);
        let qs = (0..3).map(|_| random_q(&mut r, 10)).collect();
        let lik = Box::new(MultiGaussian::new(&variances).unwrap());
        let model = Svgp::with_qs(kernels, lik, z.clone(), qs, 1e-6).unwrap();
        let g = model.elbo_grad(&x, &y, 1.0, GradScope::Eta).unwrap();
        assert!(
            (g.elbo - bound).abs() > 1.0,
            "start must differ from the optimum"
        );
        let rule = NatGrad::<Natural>::default();
        let qs = model
            .qs()
            .iter()
            .zip(g.d_eta.as_ref().unwrap())
            .map(|(q, d)| rule.step(q, d, 1.0).unwrap().q)
            .collect();
        let elbo = model.clone_with_qs(qs).unwrap().elbo(&x, &y, 1.0).unwrap();
        let err = (elbo - bound).abs() / bound.abs();
        assert!(
            err < 1e-8,
            "per-output kernels {per_output}: {elbo} vs {bound} ({err:e})"
        );
    }
}

/// A minibatch of an N×P table holds all P targets of its rows, column-major, in row order.
#[test]
fn minibatches_carry_every_output_of_their_rows() {
    let (x, y) = data(3, 20);
    let plan = BatchPlan::Explicit(vec![vec![4, 17, 0]]);
    let batch = InMemory::new(&x, &y, plan)
        .unwrap()
        .next_batch()
        .unwrap()
        .unwrap();
    let want: Vec<f64> = (0..3)
        .flat_map(|p| [4, 17, 0].map(|i| y[20 * p + i]))
        .collect();
    assert_eq!(batch.y.as_slice(), want.as_slice());
    assert_eq!(batch.x.nrows(), 3);
    let short = DVector::zeros(59);
    assert!(matches!(
        InMemory::new(&x, &short, BatchPlan::Explicit(vec![vec![0]])),
        Err(SvgpError::ShapeMismatch { .. })
    ));
}

/// Targets of the wrong length are refused by the model (naming B×P), and a non-finite target
/// names its row.
#[test]
fn wrong_targets_are_refused() {
    let (x, mut y) = data(4, 10);
    let lik = Box::new(MultiGaussian::new(&[0.1, 0.1, 0.1]).unwrap());
    let model = Svgp::new(se(), lik, x.rows(0, 4).into_owned()).unwrap();
    let err = model
        .elbo(&x, &y.rows(0, 20).into_owned(), 1.0)
        .unwrap_err();
    assert!(err.to_string().contains("10×3"), "{err}");
    y[23] = f64::INFINITY;
    match model.likelihood().check_targets(&y) {
        Err(SvgpError::InvalidTarget { row: 3, .. }) => {}
        other => panic!("expected row 3, got {other:?}"),
    }
}

/// Training on minibatches (natural steps + Adam, 300 iterations, seeded) learns each output's
/// noise: the learned σₚ are within 25 % of the true 0.1, 0.3, 0.05 (N = 400 gives each a
/// sampling error of ~4 %; the rest is the sparse approximation), each output's test RMSE is
/// below 1.5 σₚ + 0.02, and the pooled RMSE is the root mean of the outputs' squares.
#[test]
fn training_learns_each_outputs_noise() {
    let (x, y) = data(5, 400);
    let lik = Box::new(MultiGaussian::new(&[0.5, 0.5, 0.5]).unwrap());
    let model = Svgp::new(se(), lik, x.rows(0, 30).into_owned()).unwrap();
    let q = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(0.5),
    };
    let adam = AdamConfig {
        learning_rate: 0.03,
        ..AdamConfig::default()
    };
    let mut trainer = Trainer::new(model, q, HyperTraining::Adam(adam));
    let plan = BatchPlan::Seeded {
        batch_size: 100,
        seed: 6,
    };
    let mut source = InMemory::new(&x, &y, plan).unwrap();
    trainer
        .run(&mut source, 300, StopRules::default(), &mut [])
        .unwrap();
    let model = &trainer.model;
    let lik = model.likelihood();
    let sds: Vec<f64> = lik.params().iter().map(|&p| softplus_sd(p)).collect();
    for (p, (&got, &want)) in sds.iter().zip(&NOISE_SD).enumerate() {
        assert!(
            (got / want - 1.0).abs() < 0.25,
            "output {p}: σ {got} vs {want}"
        );
    }
    let (xt, yt) = data(7, 300);
    let metrics = model.evaluate(&xt, &yt).unwrap();
    assert_eq!(metrics.outputs.len(), 3);
    for (p, o) in metrics.outputs.iter().enumerate() {
        assert!(
            o.rmse < 1.5 * NOISE_SD[p] + 0.02,
            "output {p}: RMSE {}",
            o.rmse
        );
    }
    let mean_sq = metrics.outputs.iter().map(|o| o.rmse.powi(2)).sum::<f64>() / 3.0;
    assert!((metrics.rmse.unwrap() - mean_sq.sqrt()).abs() < 1e-12);
    let nlpd: f64 = metrics.outputs.iter().map(|o| o.nlpd).sum();
    assert!(
        (metrics.nlpd - nlpd).abs() < 1e-9,
        "{} vs {nlpd}",
        metrics.nlpd
    );
}

/// σ from an unconstrained noise variance (softplus with the Gaussian's default floor 1e-6).
fn softplus_sd(p: f64) -> f64 {
    let mut g = Gaussian::new(1.0).unwrap();
    g.set_params(&[p]).unwrap();
    g.noise_variance().sqrt()
}

/// A saved several-output model evaluated on targets of one column (a binary table's) or of a
/// length that is no multiple of N is refused as a shape mismatch, not a panic; with all P
/// columns it reports each output.
#[test]
fn tabular_evaluate_checks_the_outputs() {
    use svgp::data::Table;
    use svgp::tabular::{evaluate, fit, FitOptions};
    let (x, y) = data(8, 60);
    let table = Table {
        x: x.clone(),
        y: y.clone(),
        feature_names: vec!["a".into(), "b".into()],
        target_name: "y0".into(),
        extra_targets: vec!["y1".into(), "y2".into()],
        path: "(test)".into(),
        lines: (2..62).collect(),
        target_column: 3,
        rows_dropped: 0,
        classes: None,
    };
    let options = FitOptions {
        num_inducing: 8,
        iterations: 20,
        test_fraction: 0.0,
        ..FitOptions::default()
    };
    let saved = fit(&table, &options, &mut []).unwrap().saved;
    assert_eq!(saved.extra_targets, ["y1", "y2"]);
    for len in [60, 61] {
        // 61 entries would index a fourth output's scaling without the check
        match evaluate(&saved, &x, &y.rows(0, len).into_owned()) {
            Err(SvgpError::ShapeMismatch { .. }) => {}
            other => panic!("{len} targets: expected a shape mismatch, got {other:?}"),
        }
    }
    assert_eq!(evaluate(&saved, &x, &y).unwrap().outputs.len(), 3);
}

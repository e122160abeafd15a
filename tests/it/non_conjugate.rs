//! Non-conjugate inference end to end (Salimbeni et al. 2018): natural gradients with the ramped
//! step size against Adam on banana; Student-t against Gaussian under outliers; Poisson
//! intensity recovery; the safeguard where GPflow and GPyTorch fail; no refused steps with the
//! default schedule on four classification sets.

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use svgp::data::{read_csv, train_test_split, Standardiser};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::{
    Bernoulli, BinaryLink, Gaussian, Likelihood, Poisson, PoissonLink, StudentT,
};
use svgp::model::inducing::InducingInit;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, AscentCheck, BatchPlan, ElboCheckpoints, HyperTraining, InMemory, NatGrad,
    QTraining, Schedule, StopRules, Trace, Trainer,
};
use svgp::transform::Positive;
use svgp::variational::Natural;

fn rows(x: &DMatrix<f64>, y: &DVector<f64>, idx: &[usize]) -> (DMatrix<f64>, DVector<f64>) {
    (
        x.select_rows(idx.iter()),
        DVector::from_iterator(idx.len(), idx.iter().map(|&i| y[i])),
    )
}

fn model(x: &DMatrix<f64>, lik: Box<dyn Likelihood>, m: usize) -> Svgp {
    let z = InducingInit::default().choose(x, m, 0).unwrap();
    let kernel = SquaredExponential::new(1.0, vec![1.0; x.ncols()]).unwrap();
    Svgp::new(Box::new(kernel), lik, z).unwrap()
}

fn natgrad_default(model: &Svgp, full_batch: bool) -> QTraining {
    QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::default_for(model.likelihood(), full_batch),
    }
}

/// A standardised 80/20 split of a shipped classification set.
fn split(path: &str, seed: u64) -> (DMatrix<f64>, DVector<f64>, DMatrix<f64>, DVector<f64>) {
    let t = read_csv(path, None, None).unwrap();
    let (train, test) = train_test_split(t.x.nrows(), 0.2, seed);
    let (xtr, ytr) = rows(&t.x, &t.y, &train);
    let (xte, yte) = rows(&t.x, &t.y, &test);
    let s = Standardiser::fit(&xtr);
    (s.transform(&xtr), ytr, s.transform(&xte), yte)
}

/// banana_5300, seeded 80/20 split, M = 50, B = 256, probit, Adam learning rate 0.001 for both
/// runs: Adam alone for 1000 iterations reaches some full-training ELBO; natgrad (default ramp) with
/// Adam must reach it within 333 iterations (checked every 10), and after 1000 iterations
/// classify the test set with accuracy ≥ 0.88. (With Adam at 0.01 the hyperparameters, not q,
/// limit both runs and Adam alone catches up: `cargo run --release --example banana` reaches Adam
/// alone's 1000-iteration ELBO after 20 natgrad iterations at 0.001 and after 640 at 0.01.)
#[test]
fn banana_natgrad_reaches_adams_objective_three_times_sooner() {
    let (xtr, ytr, xte, yte) = split("datasets/banana_5300.csv", 0);
    let base = model(&xtr, Box::new(Bernoulli::new(BinaryLink::Probit)), 50);
    let plan = || BatchPlan::Seeded {
        batch_size: 256,
        seed: 1,
    };
    let adam_config = AdamConfig {
        learning_rate: 0.001,
        ..AdamConfig::default()
    };

    let mut adam = Trainer::new(
        base.clone(),
        QTraining::Adam,
        HyperTraining::Adam(adam_config),
    );
    adam.run(
        &mut InMemory::new(&xtr, &ytr, plan()).unwrap(),
        1000,
        StopRules::default(),
        &mut [],
    )
    .unwrap();
    let target = adam.model.elbo(&xtr, &ytr, 1.0).unwrap();

    let mut nat = Trainer::new(
        base.clone(),
        natgrad_default(&base, false),
        HyperTraining::Adam(adam_config),
    );
    // One continuous run (the batch stream carries on), the full ELBO checked every 10 its.
    let mut checkpoints = ElboCheckpoints::new(&xtr, &ytr, 0, 10, 1000);
    nat.run(
        &mut InMemory::new(&xtr, &ytr, plan()).unwrap(),
        1000,
        StopRules::default(),
        &mut [&mut checkpoints],
    )
    .unwrap();
    let reached = checkpoints.first_at_least(target);
    assert!(
        reached.is_some_and(|it| it <= 333),
        "natgrad reached Adam's 1000-iteration ELBO {target} at {reached:?}"
    );
    let accuracy = nat.model.evaluate(&xte, &yte).unwrap().accuracy.unwrap();
    assert!(accuracy >= 0.88, "test accuracy {accuracy}");
}

/// y = sin(x) + N(0, 0.1²) on x ~ U(0, 10), with 15% of the targets (train and test alike)
/// replaced by outliers ±U(2, 4): the Student-t (ν = 3) fit has a lower test NLPD than the
/// Gaussian one, after the same 600 full-batch iterations.
#[test]
fn student_t_beats_gaussian_under_outliers() {
    let mut rng = rng(21);
    let n = 300;
    let x: DMatrix<f64> = DMatrix::from_fn(n, 1, |_, _| rng.random_range(0.0..10.0));
    let mut y = DVector::from_fn(n, |i, _| x[(i, 0)].sin()) + normal_vector(&mut rng, n) * 0.1;
    for i in 0..n {
        if rng.random::<f64>() < 0.15 {
            let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
            y[i] += sign * rng.random_range(2.0..4.0);
        }
    }
    let (train, test) = train_test_split(n, 0.3, 5);
    let (xtr, ytr) = rows(&x, &y, &train);
    let (xte, yte) = rows(&x, &y, &test);
    let fit = |lik: Box<dyn Likelihood>| {
        let m = model(&xtr, lik, 20);
        let mut t = Trainer::new(
            m.clone(),
            natgrad_default(&m, false),
            HyperTraining::Adam(AdamConfig::default()),
        );
        let plan = BatchPlan::Seeded {
            batch_size: xtr.nrows(),
            seed: 0,
        };
        t.run(
            &mut InMemory::new(&xtr, &ytr, plan).unwrap(),
            600,
            StopRules::default(),
            &mut [],
        )
        .unwrap();
        t.model.evaluate(&xte, &yte).unwrap().nlpd
    };
    let nlpd_t = fit(Box::new(StudentT::new(0.3, 3.0, false).unwrap()));
    let nlpd_g = fit(Box::new(Gaussian::new(0.3).unwrap()));
    eprintln!("outliers: test NLPD Student-t {nlpd_t:.4}, Gaussian {nlpd_g:.4}");
    assert!(
        nlpd_t < nlpd_g - 0.1,
        "Student-t NLPD {nlpd_t} vs Gaussian {nlpd_g}"
    );
}

/// Counts y ~ Poisson(λ(x)), λ(x) = exp(1 + sin x), x on a grid of 400 points in [0, 10]: the
/// posterior mean rate E[λ] on a test grid recovers the true λ within 15% on average (the
/// counts' own noise is √λ/λ ≈ 30% per point; 400 points pooled by the GP do much better).
#[test]
fn poisson_recovers_a_known_intensity() {
    let mut rng = rng(8);
    let n = 400;
    let x = DMatrix::from_fn(n, 1, |i, _| 10.0 * i as f64 / (n - 1) as f64);
    let rate = |x: f64| (1.0 + x.sin()).exp();
    let y = DVector::from_fn(n, |i, _| {
        let poisson = rand_distr::Poisson::new(rate(x[(i, 0)])).unwrap();
        rng.sample(poisson)
    });
    let m = model(&x, Box::new(Poisson::new(PoissonLink::Exp)), 20);
    let mut t = Trainer::new(
        m.clone(),
        natgrad_default(&m, true),
        HyperTraining::Adam(AdamConfig::default()),
    );
    t.run(
        &mut InMemory::new(
            &x,
            &y,
            BatchPlan::Seeded {
                batch_size: n,
                seed: 0,
            },
        )
        .unwrap(),
        800,
        StopRules::default(),
        &mut [],
    )
    .unwrap();
    let grid = DMatrix::from_fn(50, 1, |i, _| 0.1 + 9.8 * i as f64 / 49.0);
    let (mean, _) = t.model.predict_y(&grid).unwrap();
    let err: f64 = (0..50)
        .map(|i| (mean[i] / rate(grid[(i, 0)]) - 1.0).abs())
        .sum::<f64>()
        / 50.0;
    eprintln!("Poisson: mean relative error of the recovered intensity {err:.4}");
    assert!(
        err < 0.15,
        "mean relative error of the recovered intensity {err}"
    );
}

/// The peers' Student-t run with γ = 0.1 constant, where GPflow 2.11 and GPyTorch 1.15 both stop
/// at iteration 2 with a non-positive-definite precision (benches/peers/README.md): svgp's
/// safeguard halves the step where needed, completes all 200 iterations, reports the shortened
/// steps, and ends at a full ELBO at least as high as the peers' γ = 0.01 run (−521.17).
#[test]
fn safeguard_carries_student_t_through_where_the_peers_fail() {
    let (x, y) = read_xy("tests/data/peers_studentt_1d_train.csv");
    let batches: Vec<Vec<usize>> =
        std::fs::read_to_string("tests/data/peers_studentt_1d_B256_seed0_it200.csv")
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
    let run = |ascent_check: AscentCheck| {
        let kernel =
            SquaredExponential::with_transform(1.0, vec![1.0], Positive::with_floor(0.0)).unwrap();
        let lik = StudentT::new(0.3, 3.0, false).unwrap();
        let m = Svgp::new(Box::new(kernel), Box::new(lik), x.rows(0, 100).into_owned()).unwrap();
        let q_training = QTraining::NatGrad {
            step: Box::new(NatGrad::<Natural>::default()),
            schedule: Schedule::Constant(0.1),
        };
        let mut t = Trainer::new(m, q_training, HyperTraining::Adam(AdamConfig::default()))
            .with_ascent_check(ascent_check);
        let mut trace = Trace::default();
        let summary = t
            .run(
                &mut InMemory::new(&x, &y, BatchPlan::Explicit(batches.clone())).unwrap(),
                200,
                StopRules::default(),
                &mut [&mut trace],
            )
            .unwrap();
        assert_eq!(summary.iterations, 200);
        let shortened = trace
            .reports
            .iter()
            .filter(|r| r.update.shortened())
            .count();
        (t.model.elbo(&x, &y, 1.0).unwrap(), shortened)
    };
    let (elbo, shortened) = run(AscentCheck::On);
    eprintln!("Student-t γ = 0.1: final ELBO {elbo:.3} with {shortened} steps shortened");
    assert!(
        shortened > 0,
        "the safeguard was never needed: the test lost its point"
    );
    assert!(
        elbo >= -521.17,
        "final ELBO {elbo}; {shortened} steps shortened"
    );
    // Guarding positive definiteness alone (the peers' failure, avoided) is not enough here:
    // without the ascent check the run survives but ends far lower.
    let (plain, plain_shortened) = run(AscentCheck::Off);
    eprintln!("  without the ascent check: {plain:.3} ({plain_shortened} shortened for positive definiteness)");
    assert!(
        plain < elbo - 100.0,
        "without the ascent check: {plain} ({plain_shortened} shortened) vs {elbo}"
    );
}

/// The default schedule (ramp 1e-4 → 1e-1 over 10 iterations) on four classification sets,
/// standardised, M = 50, B = min(256, N), 300 iterations: no step is refused or shortened.
#[test]
fn default_schedule_needs_no_shortened_steps_on_classification_sets() {
    for path in [
        "datasets/banana_5300.csv",
        "datasets/breast_cancer_wdbc.csv",
        "datasets/pima_diabetes.csv",
        "datasets/sonar.csv",
    ] {
        let (xtr, ytr, _, _) = split(path, 0);
        let m = model(&xtr, Box::new(Bernoulli::new(BinaryLink::Probit)), 50);
        let mut t = Trainer::new(
            m.clone(),
            natgrad_default(&m, false),
            HyperTraining::Adam(AdamConfig::default()),
        );
        let mut trace = Trace::default();
        let plan = BatchPlan::Seeded {
            batch_size: 256.min(xtr.nrows()),
            seed: 0,
        };
        t.run(
            &mut InMemory::new(&xtr, &ytr, plan).unwrap(),
            300,
            StopRules::default(),
            &mut [&mut trace],
        )
        .unwrap();
        let halvings: u32 = trace.reports.iter().map(|r| r.update.halvings()).sum();
        eprintln!("{path}: {halvings} halvings in 300 iterations");
        assert_eq!(halvings, 0, "{path}: {halvings} halvings");
    }
}

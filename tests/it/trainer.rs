//! The alternating trainer: stop reasons, failure on non-finite values or a Kuu that cannot be
//! factorised without losing the last good state, every step refused by the ascent check,
//! bitwise repeatability for a seed, and the Adam-only comparison mode.

use crate::common::*;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use svgp::kernel::Matern52;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, BatchPlan, ElboCheckpoints, HyperTraining, InMemory, IterReport, LatentSteps,
    NatGrad, Observer, QStep, QTraining, QUpdate, RunSummary, Schedule, StopReason, StopRules,
    Trace, Trainer,
};
use svgp::variational::{Coords, Expectation, Natural, Spare, VariationalQ};
use svgp::SvgpError;

fn problem(seed: u64) -> (DMatrix<f64>, DVector<f64>, Svgp) {
    let mut rng = rng(seed);
    let n = 120;
    let x: DMatrix<f64> = DMatrix::from_fn(n, 2, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(n, |i, _| (2.0 * x[(i, 0)]).sin() * x[(i, 1)])
        + normal_vector(&mut rng, n) * 0.1;
    let kernel = Matern52::new(1.0, vec![1.0, 1.0]).unwrap();
    let model = Svgp::new(
        Box::new(kernel),
        Box::new(Gaussian::new(0.5).unwrap()),
        x.rows(0, 15).into_owned(),
    )
    .unwrap();
    (x, y, model)
}

fn natgrad(gamma: f64) -> QTraining {
    QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(gamma),
    }
}

fn run(seed: u64, iterations: u64) -> (Trainer, Trace) {
    let (x, y, model) = problem(1);
    let mut trainer = Trainer::new(
        model,
        natgrad(0.5),
        HyperTraining::Adam(AdamConfig::default()),
    );
    let mut trace = Trace::default();
    let plan = BatchPlan::Seeded {
        batch_size: 32,
        seed,
    };
    trainer
        .run(
            &mut InMemory::new(&x, &y, plan).unwrap(),
            iterations,
            StopRules::default(),
            &mut [&mut trace],
        )
        .unwrap();
    (trainer, trace)
}

/// Same seed: the ELBO trace and every parameter are bitwise identical. (Results do not depend
/// on the thread count either; `thread_count_does_not_change_results` checks that at sizes where
/// the parallel paths run.) A different seed must give a different trace.
#[test]
fn same_seed_gives_bitwise_identical_runs() {
    let (a, ta) = run(7, 60);
    let (b, tb) = run(7, 60);
    let elbos = |t: &Trace| {
        t.reports
            .iter()
            .map(|r| r.elbo.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(elbos(&ta), elbos(&tb));
    assert_eq!(a.model.hyper_params(), b.model.hyper_params());
    assert_eq!(a.model.q(), b.model.q());
    let (_, tc) = run(8, 60);
    assert_ne!(elbos(&ta), elbos(&tc));
}

/// `rows` seeded rows of 3 inputs in U(−2, 2)³ with y = sin x₁ + x₂x₃ (no noise).
fn smooth_rows(seed: u64, rows: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng(seed);
    let x: DMatrix<f64> = DMatrix::from_fn(rows, 3, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(rows, |i, _| x[(i, 0)].sin() + x[(i, 1)] * x[(i, 2)]);
    (x, y)
}

/// `steps` trainer steps (natural steps γ = 0.5, Adam on the hyperparameters and Z) on the
/// first B rows of (x, y), scale 10, Z the first M rows, in a rayon pool of `threads`: each
/// iteration's ELBO bits, the hyperparameters and q at the end.
fn steps_on_threads(
    (x, y): (&DMatrix<f64>, &DVector<f64>),
    threads: usize,
    (b, m, steps): (usize, usize, usize),
) -> (Vec<u64>, DVector<f64>, VariationalQ) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let (xb, yb) = (x.rows(0, b).into_owned(), y.rows(0, b).into_owned());
    pool.install(|| {
        let kernel = Matern52::new(1.0, vec![1.0; x.ncols()]).unwrap();
        let model = Svgp::new(
            Box::new(kernel),
            Box::new(Gaussian::new(0.5).unwrap()),
            x.rows(0, m).into_owned(),
        )
        .unwrap();
        let mut trainer = Trainer::new(
            model,
            natgrad(0.5),
            HyperTraining::Adam(AdamConfig::default()),
        );
        let elbos: Vec<u64> = (0..steps)
            .map(|_| trainer.step(&xb, &yb, 10.0).unwrap().elbo.to_bits())
            .collect();
        (
            elbos,
            trainer.model.hyper_params(),
            trainer.model.q().clone(),
        )
    })
}

/// One, two and three rayon threads give bitwise the same iterations: at M = 300, B = 900, where
/// kernel matrices and VJPs run in chunks on rayon and the large products and solves run on
/// faer's parallel kernels (the chunk split is fixed and faer's parallel products and solves
/// equal its sequential ones bit for bit), at M = 100, B = 400, where only the iteration's
/// two branches are joined (`parallel::BRANCH_JOIN_MIN_ENTRIES`), and at M = 100, B = 200,
/// where A's columns are split in two but no branch is joined.
#[test]
fn thread_count_does_not_change_results() {
    let (x, y) = smooth_rows(11, 900);
    for case in [(900, 300, 3), (400, 100, 3), (200, 100, 24)] {
        let one = steps_on_threads((&x, &y), 1, case);
        assert_eq!(
            one,
            steps_on_threads((&x, &y), 2, case),
            "B, M, steps = {case:?}"
        );
        assert_eq!(
            one,
            steps_on_threads((&x, &y), 3, case),
            "B, M, steps = {case:?}"
        );
    }
}

/// One and two rayon threads give bitwise the same iterations at M = 1000, B = 200: there the
/// Cholesky factorisations (from M = 966) and the triangular inverses (from M = 449) run on
/// faer's parallel kernels too, which must equal the sequential ones bit for bit. Two
/// iterations, so that the second starts from a q the first natural step made (S⁻¹ known).
#[test]
fn thread_count_does_not_change_results_at_m_1000() {
    let (x, y) = smooth_rows(12, 1000);
    let case = (200, 1000, 2);
    let one = steps_on_threads((&x, &y), 1, case);
    assert_eq!(one, steps_on_threads((&x, &y), 2, case));
}

#[test]
fn training_improves_the_full_batch_elbo() {
    let (x, y, model) = problem(1);
    let before = model.elbo(&x, &y, 1.0).unwrap();
    let (trainer, trace) = run(3, 200);
    let after = trainer.model.elbo(&x, &y, 1.0).unwrap();
    assert!(after > before + 50.0, "{before} → {after}");
    assert!(trace.reports.iter().all(|r| r.update
        == QUpdate::Natural {
            gamma: 0.5,
            halvings: 0
        }));
}

/// A target whose square overflows (1e200) makes the ELBO non-finite: the step fails with the
/// iteration and the quantity, and the model keeps its last finite state. A NaN target is
/// refused before the step, naming its row.
#[test]
fn non_finite_values_stop_training_and_keep_the_last_state() {
    let (x, y, model) = problem(1);
    let mut trainer = Trainer::new(
        model,
        natgrad(0.5),
        HyperTraining::Adam(AdamConfig::default()),
    );
    let xb = x.rows(0, 32).into_owned();
    let yb = y.rows(0, 32).into_owned();
    trainer.step(&xb, &yb, 120.0 / 32.0).unwrap();
    let (q, hyper) = (trainer.model.q().clone(), trainer.model.hyper_params());
    let mut bad = yb.clone();
    bad[5] = f64::NAN;
    match trainer.step(&xb, &bad, 120.0 / 32.0) {
        Err(SvgpError::InvalidTarget { row: 5, .. }) => {}
        other => panic!("expected InvalidTarget at row 5, got {other:?}"),
    }
    bad[5] = 1e200;
    match trainer.step(&xb, &bad, 120.0 / 32.0) {
        Err(SvgpError::NonFiniteTraining { iteration: 2, .. }) => {}
        other => panic!("expected NonFiniteTraining at iteration 2, got {other:?}"),
    }
    assert_eq!(trainer.model.q(), &q);
    assert_eq!(trainer.model.hyper_params(), hyper);
    assert_eq!(trainer.iteration(), 1);
    // the same bad target given to `run` is refused before any training, naming its row
    let mut y_bad = y.clone();
    y_bad[17] = f64::INFINITY;
    let err = trainer.run(
        &mut InMemory::new(
            &x,
            &y_bad,
            BatchPlan::Seeded {
                batch_size: 32,
                seed: 1,
            },
        )
        .unwrap(),
        5,
        StopRules::default(),
        &mut [],
    );
    assert!(
        matches!(err, Err(SvgpError::InvalidTarget { row: 17, .. })),
        "{err:?}"
    );
}

/// Runs `t` on seeded minibatches of `batch_size` (seed 0) for at most `iterations`.
fn run_seeded(
    t: &mut Trainer,
    (x, y): (&DMatrix<f64>, &DVector<f64>),
    batch_size: usize,
    iterations: u64,
    rules: StopRules,
    observers: &mut [&mut dyn Observer],
) -> RunSummary {
    let plan = BatchPlan::Seeded {
        batch_size,
        seed: 0,
    };
    let mut source = InMemory::new(x, y, plan).unwrap();
    t.run(&mut source, iterations, rules, observers).unwrap()
}

fn adam_trainer(model: Svgp) -> Trainer {
    Trainer::new(
        model,
        natgrad(0.1),
        HyperTraining::Adam(AdamConfig::default()),
    )
}

#[test]
fn elbo_tolerance_stops_a_converged_run() {
    let (x, y, model) = problem(1);
    // Full batch, γ = 1, hyperparameters frozen: the first step reaches the optimum, so the ELBO
    // stops changing at once.
    let mut t = Trainer::new(model, natgrad(1.0), HyperTraining::Frozen);
    let rules = StopRules {
        elbo_tolerance: Some((1e-9, 2)),
        ..StopRules::default()
    };
    let s = run_seeded(&mut t, (&x, &y), 1000, 100, rules, &mut []);
    assert_eq!(s.reason, StopReason::ElboConverged);
    assert!(s.iterations <= 6, "{} iterations", s.iterations);
}

#[test]
fn a_zero_time_limit_stops_after_one_iteration() {
    let (x, y, model) = problem(1);
    let mut t = adam_trainer(model);
    let rules = StopRules {
        time_limit: Some(Duration::ZERO),
        ..StopRules::default()
    };
    let s = run_seeded(&mut t, (&x, &y), 16, 100, rules, &mut []);
    assert_eq!((s.reason, s.iterations), (StopReason::TimeLimit, 1));
}

#[test]
fn iteration_count_and_interrupt_end_training_with_their_reason() {
    let (x, y, model) = problem(1);
    let mut t = adam_trainer(model);
    let s = run_seeded(&mut t, (&x, &y), 16, 7, StopRules::default(), &mut []);
    assert_eq!((s.reason, s.iterations), (StopReason::Iterations, 7));

    // The interrupt flag, set by an observer at the run's third iteration (the trainer's tenth),
    // stops the run before its fourth.
    static STOP: AtomicBool = AtomicBool::new(false);
    struct SetAtTen;
    impl Observer for SetAtTen {
        fn on_iter(&mut self, _: &Svgp, report: &IterReport) -> svgp::Result<()> {
            STOP.store(report.iteration == 10, Ordering::SeqCst);
            Ok(())
        }
    }
    let rules = StopRules {
        interrupt: Some(&STOP),
        ..StopRules::default()
    };
    let s = run_seeded(&mut t, (&x, &y), 16, 100, rules, &mut [&mut SetAtTen]);
    assert_eq!(
        (s.reason, s.iterations, t.iteration()),
        (StopReason::Interrupted, 3, 10)
    );
}

/// Adam on (m, L) as well also trains, but more slowly than natural gradients: after 100
/// full-batch iterations with hyperparameters frozen, natgrad (θ, γ = 1) sits at the optimum
/// while Adam (lr 0.01) is still below it.
#[test]
fn adam_only_mode_trains_q_more_slowly_than_natural_gradients() {
    let (x, y, model) = problem(1);
    let plan = || BatchPlan::Seeded {
        batch_size: 1000,
        seed: 0,
    };
    let mut nat = Trainer::new(model.clone(), natgrad(1.0), HyperTraining::Frozen);
    nat.run(
        &mut InMemory::new(&x, &y, plan()).unwrap(),
        100,
        StopRules::default(),
        &mut [],
    )
    .unwrap();
    let mut adam = Trainer::new(model.clone(), QTraining::Adam, HyperTraining::Frozen);
    let mut trace = Trace::default();
    adam.run(
        &mut InMemory::new(&x, &y, plan()).unwrap(),
        100,
        StopRules::default(),
        &mut [&mut trace],
    )
    .unwrap();
    let start = model.elbo(&x, &y, 1.0).unwrap();
    let e_nat = nat.model.elbo(&x, &y, 1.0).unwrap();
    let e_adam = adam.model.elbo(&x, &y, 1.0).unwrap();
    assert!(
        e_adam > start + 10.0,
        "Adam made progress: {start} → {e_adam}"
    );
    assert!(e_nat > e_adam + 1.0, "natgrad {e_nat} vs Adam {e_adam}");
    assert!(trace.reports.iter().all(|r| r.update == QUpdate::Adam));
}

/// Any ξ can drive the trainer; η with a small γ also converges on the conjugate problem.
#[test]
fn trainer_accepts_any_parametrisation() {
    let (x, y, model) = problem(1);
    let q_training = QTraining::NatGrad {
        step: Box::new(NatGrad::<Expectation>::default()),
        schedule: Schedule::Constant(0.05),
    };
    let mut t = Trainer::new(model.clone(), q_training, HyperTraining::Frozen);
    t.run(
        &mut InMemory::new(
            &x,
            &y,
            BatchPlan::Seeded {
                batch_size: 1000,
                seed: 0,
            },
        )
        .unwrap(),
        300,
        StopRules::default(),
        &mut [],
    )
    .unwrap();
    let mut exact = Trainer::new(model, natgrad(1.0), HyperTraining::Frozen);
    exact
        .run(
            &mut InMemory::new(
                &x,
                &y,
                BatchPlan::Seeded {
                    batch_size: 1000,
                    seed: 0,
                },
            )
            .unwrap(),
            1,
            StopRules::default(),
            &mut [],
        )
        .unwrap();
    let (a, b) = (
        t.model.elbo(&x, &y, 1.0).unwrap(),
        exact.model.elbo(&x, &y, 1.0).unwrap(),
    );
    assert!((a - b).abs() < 1e-6 * b.abs(), "{a} vs {b}");
}

/// `ElboCheckpoints` records the full-data ELBO at t ≤ first, at multiples of `every` and at
/// the last iteration, each equal to the ELBO of the model at that point (recomputed here by
/// replaying the same seeded run up to it), and finds the first checkpoint reaching a target.
#[test]
fn elbo_checkpoints_record_the_full_elbo_at_their_iterations() {
    let (x, y, model) = problem(1);
    let plan = BatchPlan::Seeded {
        batch_size: 32,
        seed: 4,
    };
    let mut trainer = Trainer::new(
        model.clone(),
        natgrad(0.5),
        HyperTraining::Adam(AdamConfig::default()),
    );
    let mut checkpoints = ElboCheckpoints::new(&x, &y, 3, 10, 25);
    trainer
        .run(
            &mut InMemory::new(&x, &y, plan.clone()).unwrap(),
            25,
            StopRules::default(),
            &mut [&mut checkpoints],
        )
        .unwrap();
    let at: Vec<u64> = checkpoints.points.iter().map(|r| r.iteration).collect();
    assert_eq!(at, vec![1, 2, 3, 10, 20, 25]);
    for point in &checkpoints.points {
        let mut replay = Trainer::new(
            model.clone(),
            natgrad(0.5),
            HyperTraining::Adam(AdamConfig::default()),
        );
        replay
            .run(
                &mut InMemory::new(&x, &y, plan.clone()).unwrap(),
                point.iteration,
                StopRules::default(),
                &mut [],
            )
            .unwrap();
        assert_eq!(replay.model.elbo(&x, &y, 1.0).unwrap(), point.elbo);
    }
    let third = checkpoints.points[2].elbo;
    let expected = checkpoints
        .points
        .iter()
        .find(|r| r.elbo >= third)
        .map(|r| r.iteration);
    assert_eq!(checkpoints.first_at_least(third), expected);
    assert_eq!(checkpoints.first_at_least(f64::INFINITY), None);
}

/// A natural step in the direction opposite to ∇_η L: every γ lowers the minibatch ELBO.
struct Descent(NatGrad<Natural>);

impl QStep for Descent {
    fn name(&self) -> &'static str {
        "descent"
    }
    fn step(
        &self,
        qs: &[VariationalQ],
        d_etas: &[Coords],
        gamma: f64,
        accept: &mut dyn FnMut(&[VariationalQ]) -> bool,
        spare: &mut Spare,
    ) -> svgp::Result<LatentSteps> {
        let uphill: Vec<Coords> = d_etas
            .iter()
            .map(|d| Coords::new(-&d.vector, -&d.matrix).unwrap())
            .collect();
        self.0.step_latents_in(qs, &uphill, gamma, accept, spare)
    }
}

/// When the ascent check refuses every γ the policy allows (γ, γ/2, …, γ/2¹⁰), q is kept, the
/// iteration reports `Kept` with exactly the 10 halvings tried, the hyperparameter step still
/// runs, and training goes on.
#[test]
fn every_refused_step_keeps_q_and_reports_its_halvings() {
    let (x, y, model) = problem(21);
    let q_before = model.q().clone();
    let hyper_before = model.hyper_params();
    let q_training = QTraining::NatGrad {
        step: Box::new(Descent(NatGrad::default())),
        schedule: Schedule::Constant(0.1),
    };
    let adam = HyperTraining::Adam(AdamConfig::default());
    let mut trainer = Trainer::new(model, q_training, adam);
    let mut trace = Trace::default();
    let plan = BatchPlan::Seeded {
        batch_size: 40,
        seed: 2,
    };
    let mut source = InMemory::new(&x, &y, plan).unwrap();
    let summary = trainer
        .run(&mut source, 3, StopRules::default(), &mut [&mut trace])
        .unwrap();
    assert_eq!(summary.iterations, 3);
    assert_eq!(summary.shortened_steps, 3);
    for r in &trace.reports {
        assert_eq!(r.update, QUpdate::Kept { halvings: 10 });
        assert_eq!(r.update.gamma(), None);
        assert!(r.elbo.is_finite());
    }
    assert_eq!(trainer.model.q(), &q_before, "q is kept");
    assert_ne!(
        trainer.model.hyper_params(),
        hyper_before,
        "Adam still stepped"
    );
}

/// A Kuu that cannot be factorised inside training (every inducing input moved onto one point,
/// no jitter) stops the run with `NotPositiveDefinite { matrix: "Kuu" }`, leaves the model and
/// the iteration count as they were before the failing iteration, and the trainer goes on once
/// Z is valid again.
#[test]
fn a_kuu_failure_in_training_is_typed_and_keeps_the_last_good_model() {
    let (x, y, model) = problem(22);
    let model = Svgp::with_q(
        model.kernel().box_clone(),
        model.likelihood().box_clone(),
        model.z().clone(),
        model.q().clone(),
        0.0,
    )
    .unwrap();
    let adam = HyperTraining::Adam(AdamConfig::default());
    let mut trainer = Trainer::new(model, natgrad(0.5), adam);
    let plan = || BatchPlan::Seeded {
        batch_size: 40,
        seed: 3,
    };
    let rules = StopRules::default();
    let mut source = InMemory::new(&x, &y, plan()).unwrap();
    trainer.run(&mut source, 5, rules, &mut []).unwrap();
    let good_z = trainer.model.z().clone();
    let mut params = trainer.model.hyper_params();
    let nz = good_z.len();
    let start = params.len() - nz;
    params.rows_mut(start, nz).fill(0.25); // every inducing input at (0.25, 0.25)
    trainer.model.set_hyper_params(params.as_slice()).unwrap();
    let last_good = trainer.model.clone();

    let err = trainer.run(&mut source, 5, rules, &mut []).unwrap_err();
    assert!(
        matches!(err, SvgpError::NotPositiveDefinite { matrix: "Kuu", .. }),
        "{err}"
    );
    assert_eq!(trainer.iteration(), 5);
    assert_eq!(trainer.model.hyper_params(), last_good.hyper_params());
    assert_eq!(trainer.model.q(), last_good.q());

    params
        .rows_mut(start, nz)
        .copy_from_slice(good_z.as_slice());
    trainer.model.set_hyper_params(params.as_slice()).unwrap();
    trainer.run(&mut source, 2, rules, &mut []).unwrap();
    assert_eq!(trainer.iteration(), 7);
}

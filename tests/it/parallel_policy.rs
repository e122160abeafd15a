//! The trainer's parallelism policy: it changes how an iteration is spread over threads, never
//! its results, and nothing keeps running once training returns.

use crate::common::rng;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use std::time::Duration;
use svgp::kernel::Matern52;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, BatchPlan, HyperTraining, InMemory, NatGrad, QTraining, Schedule, StopRules,
    Trainer,
};
use svgp::variational::{Natural, VariationalQ};
use svgp::Parallelism;

/// `rows` seeded rows of 3 inputs in U(−2, 2)³ with y = sin x₁ + x₂x₃ (no noise).
fn smooth_rows(seed: u64, rows: usize) -> (DMatrix<f64>, DVector<f64>) {
    let mut rng = rng(seed);
    let x: DMatrix<f64> = DMatrix::from_fn(rows, 3, |_, _| rng.random_range(-2.0..2.0));
    let y = DVector::from_fn(rows, |i, _| x[(i, 0)].sin() + x[(i, 1)] * x[(i, 2)]);
    (x, y)
}

/// A Matérn-5/2 model with Gaussian noise, Z the first M rows of `x`, and its trainer (natural
/// steps γ = 0.5 in θ, Adam on the hyperparameters and Z).
fn trainer(x: &DMatrix<f64>, m: usize) -> Trainer {
    let model = Svgp::new(
        Box::new(Matern52::new(1.0, vec![1.0; x.ncols()]).unwrap()),
        Box::new(Gaussian::new(0.5).unwrap()),
        x.rows(0, m).into_owned(),
    )
    .unwrap();
    let q = QTraining::NatGrad {
        step: Box::new(NatGrad::<Natural>::default()),
        schedule: Schedule::Constant(0.5),
    };
    Trainer::new(model, q, HyperTraining::Adam(AdamConfig::default()))
}

/// Where a run takes place: a policy, and the rayon pool it runs in (`None`: the global pool).
type Setting = (Parallelism, Option<usize>);

/// Sequential, the default policy in the global pool, and the default policy in pools of one
/// and of two threads.
const SETTINGS: [Setting; 4] = [
    (Parallelism::Sequential, Some(2)),
    (Parallelism::Threads, None),
    (Parallelism::Threads, Some(1)),
    (Parallelism::Threads, Some(2)),
];

/// What a run produced, as bits: each iteration's ELBO, the hyperparameters and q at the end,
/// and the predictive means and variances at the first 300 rows.
#[derive(Debug, PartialEq)]
struct Outcome {
    elbos: Vec<u64>,
    hyper: Vec<u64>,
    q: VariationalQ,
    predictions: Vec<u64>,
}

/// `steps` trainer steps on the first B rows of (x, y) (scale 10) with M inducing points, then
/// a prediction, under `setting`.
fn outcome(
    (x, y): (&DMatrix<f64>, &DVector<f64>),
    (m, b, steps): (usize, usize, usize),
    (par, threads): Setting,
) -> Outcome {
    let (xb, yb) = (x.rows(0, b).into_owned(), y.rows(0, b).into_owned());
    let x_new = x.rows(0, 300).into_owned();
    let go = || {
        let mut trainer = trainer(x, m).with_parallelism(par);
        assert_eq!(trainer.parallelism(), par);
        let elbos = (0..steps)
            .map(|_| trainer.step(&xb, &yb, 10.0).unwrap().elbo.to_bits())
            .collect();
        let (mean, var) = trainer.model.predict_f(&x_new).unwrap();
        Outcome {
            elbos,
            hyper: trainer
                .model
                .hyper_params()
                .iter()
                .map(|v| v.to_bits())
                .collect(),
            q: trainer.model.q().clone(),
            predictions: mean.iter().chain(var.iter()).map(|v| v.to_bits()).collect(),
        }
    };
    match threads {
        None => go(),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap();
            pool.install(go)
        }
    }
}

/// Every setting gives the outcome of the first, bit for bit, at (M, B, steps).
fn settings_agree(seed: u64, case: (usize, usize, usize)) {
    let (x, y) = smooth_rows(seed, case.0.max(case.1).max(300));
    let first = outcome((&x, &y), case, SETTINGS[0]);
    for setting in &SETTINGS[1..] {
        let other = outcome((&x, &y), case, *setting);
        assert!(
            first == other,
            "M, B, steps = {case:?}: {setting:?} differs"
        );
    }
}

/// M = 100, B = 256: below the branch join, A and W formed in column halves.
#[test]
fn the_policy_and_the_threads_do_not_change_results_at_m_100() {
    settings_agree(31, (100, 256, 4));
}

/// M = 500, B = 1024: branches joined, kernel matrices in parallel chunks, the large products,
/// solves and triangular inverses on faer's parallel kernels.
#[test]
fn the_policy_and_the_threads_do_not_change_results_at_m_500() {
    settings_agree(32, (500, 1024, 3));
}

/// M = 1000, B = 256: the Cholesky factorisations on faer's parallel kernel too. Two
/// iterations, so that the second starts from a q the first natural step made.
#[test]
fn the_policy_and_the_threads_do_not_change_results_at_m_1000() {
    settings_agree(33, (1000, 256, 2));
}

/// The pool threads' names: `PROBE` and their index.
const PROBE: &str = "policy-probe";

/// The CPU time the threads named [`PROBE`]… have used so far, from the first field of
/// /proc/self/task/TID/schedstat (nanoseconds on a CPU). Other tests of this binary run beside
/// this one in other threads: only the probe pool's threads are counted.
fn probe_cpu_time() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    let ns: u64 = tasks
        .map(|task| task.unwrap().path())
        .filter(|task| {
            let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            comm.starts_with(PROBE)
        })
        .filter_map(|task| std::fs::read_to_string(task.join("schedstat")).ok())
        .map(|stat| {
            stat.split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    Duration::from_nanos(ns)
}

/// Once `Trainer::run` has returned, no thread of its pool keeps working: over 300 ms of sleep
/// after a run on a two-thread pool (M = 200, B = 256: the iterations' two independent branches
/// run side by side), the pool's threads use less than 20 ms of CPU. One thread spinning
/// through the sleep would use up to 300 ms, and still tens of milliseconds when the machine's
/// cores are shared with several other busy processes; an idle rayon thread only polls for
/// work for some microseconds before it sleeps.
#[test]
fn no_thread_keeps_working_after_a_run() {
    let (x, y) = smooth_rows(21, 2048);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .thread_name(|i| format!("{PROBE}-{i}"))
        .build()
        .unwrap();
    let mut trainer = trainer(&x, 200);
    let plan = BatchPlan::Seeded {
        batch_size: 256,
        seed: 4,
    };
    let mut source = InMemory::new(&x, &y, plan).unwrap();
    pool.install(|| {
        trainer
            .run(&mut source, 40, StopRules::default(), &mut [])
            .unwrap()
    });
    let before = probe_cpu_time();
    assert!(
        before > Duration::ZERO,
        "the probe pool's threads are not found"
    );
    std::thread::sleep(Duration::from_millis(300));
    let grown = probe_cpu_time() - before;
    assert!(
        grown < Duration::from_millis(20),
        "{grown:?} of CPU time while asleep"
    );
}

//! The crate's side of the peer harness (`benches/peers/run.py`; BENCHMARKS.md, How to run):
//! trains an SVGP on the same task as the GPflow and GPyTorch scripts there and prints one JSON
//! line with the time per iteration and the final test metrics.
//!
//! The setup is the peers': SE-ARD kernel with variance 1 and lengthscales 1 (softplus, no
//! floor), Gaussian likelihood with noise variance 0.1 (softplus + 1e-6), whitened q(v) = N(0, I),
//! inputs and targets as given (not standardised), the inducing inputs Z and the minibatch row
//! indices read from files the harness writes, and per iteration one natural step in θ with
//! constant γ followed by one Adam step (ε = 1e-7 as Keras) on the kernel, the noise and Z.
//! A timed iteration is the gather of the batch rows plus `Trainer::step`, as the peers time
//! theirs (numpy gather and host-to-tensor copy included).
//!
//! Run: `cargo run --release --example peer_timing -- --train T.csv --test V.csv --z Z.csv
//! --batches B.csv` (CSVs with a header row; the last column of T and V is y).
//!
//! Time to accuracy (`benches/peers/time_to_accuracy.py`): `--eval-every K` evaluates the test
//! NLPD before the first iteration and after every K-th, with the clock stopped (the curve is the
//! JSON's `curve`, rows of iteration, training seconds, NLPD and training CPU seconds; the clocks
//! leave out the first iteration, as the peers' scripts do); `--max-seconds` and
//! `--target-nlpd` end the run on the training clock or at the first evaluation at or below the
//! target; `--max-iters` runs past the end of the batch file by starting it again; `--adam-only`
//! trains q by Adam (on m and L) with the hyperparameters' constants instead of natural steps.

use clap::Parser;
use nalgebra::{DMatrix, DVector};
use serde_json::json;
use std::error::Error;
use std::time::Instant;
use svgp::data::{read_csv, Table};
use svgp::kernel::SquaredExponential;
use svgp::likelihood::Gaussian;
use svgp::model::Svgp;
use svgp::optim::{AdamConfig, AscentCheck, HyperTraining, NatGrad, QTraining, Schedule, Trainer};
use svgp::transform::Positive;
use svgp::variational::Natural;

#[derive(Parser)]
struct Args {
    /// Training CSV (header row, features then y).
    #[arg(long)]
    train: String,
    /// Test CSV, same layout.
    #[arg(long)]
    test: String,
    /// Inducing inputs: CSV with a header row, one row per inducing input (M × D).
    #[arg(long)]
    z: String,
    /// Minibatches: one line per iteration, comma-separated 0-based training row indices.
    #[arg(long)]
    batches: String,
    /// Constant natural-gradient step size γ.
    #[arg(long, default_value_t = 0.1)]
    gamma: f64,
    /// Adam learning rate for the kernel, the noise and Z.
    #[arg(long, default_value_t = 0.01)]
    adam_lr: f64,
    /// Iterations left out of the timing statistics.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Keep the crate's ascent check on natural steps (off: the plain algorithm the peers run).
    #[arg(long)]
    ascent_check: bool,
    /// Train q by Adam (m and the lower triangle of L, the hyperparameters' constants) instead
    /// of natural steps; `--gamma` is then unused.
    #[arg(long)]
    adam_only: bool,
    /// Evaluate the test NLPD before the first iteration and after every K-th (0: only at the
    /// end); evaluation time is not on the training clock.
    #[arg(long, default_value_t = 0)]
    eval_every: usize,
    /// Stop once the training clock (the timed iterations, evaluations excluded) reaches this.
    #[arg(long)]
    max_seconds: Option<f64>,
    /// Stop at the first evaluation whose test NLPD is at or below this.
    #[arg(long)]
    target_nlpd: Option<f64>,
    /// Iterations to run (default: one per line of the batch file); the batch file is started
    /// again from its first line when it runs out.
    #[arg(long)]
    max_iters: Option<usize>,
}

/// The process's CPU time (user + system, all threads) from `/proc/self/stat`, in seconds
/// (Linux's 100 ticks a second); 0 where it cannot be read.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name: state is the 3rd field, utime the 14th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The row indices of each minibatch, one batch per iteration.
type Batches = Vec<Vec<usize>>;

/// The inducing inputs (M×D) and the minibatches' row indices, read from the harness's files.
fn read_z_and_batches(args: &Args, d: usize) -> Result<(DMatrix<f64>, Batches), Box<dyn Error>> {
    let z_rows: Vec<Vec<f64>> = std::fs::read_to_string(&args.z)?
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(str::parse).collect())
        .collect::<Result<_, _>>()?;
    let batches: Batches = std::fs::read_to_string(&args.batches)?
        .lines()
        .map(|line| line.split(',').map(str::parse).collect())
        .collect::<Result<_, _>>()?;
    let m = z_rows.len();
    let b = batches.first().map_or(0, Vec::len);
    if m == 0 || z_rows.iter().any(|r| r.len() != d) || b == 0 || batches.len() <= args.warmup {
        return Err(format!(
            "Z needs at least one row of {d} values, and at least {} non-empty batches are needed",
            args.warmup + 1
        )
        .into());
    }
    Ok((DMatrix::from_fn(m, d, |i, j| z_rows[i][j]), batches))
}

/// The peers' model and optimisers at inducing inputs `z`.
fn peer_trainer(args: &Args, z: DMatrix<f64>) -> Result<Trainer, Box<dyn Error>> {
    let d = z.ncols();
    let kernel = SquaredExponential::with_transform(1.0, vec![1.0; d], Positive::with_floor(0.0))?;
    let model = Svgp::new(Box::new(kernel), Box::new(Gaussian::new(0.1)?), z)?;
    let q_training = if args.adam_only {
        QTraining::Adam
    } else {
        QTraining::NatGrad {
            step: Box::new(NatGrad::<Natural>::default()),
            schedule: Schedule::Constant(args.gamma),
        }
    };
    let adam = AdamConfig {
        learning_rate: args.adam_lr,
        epsilon: 1e-7,
        ..AdamConfig::default()
    };
    let ascent_check = if args.ascent_check {
        AscentCheck::On
    } else {
        AscentCheck::Off
    };
    Ok(Trainer::new(model, q_training, HyperTraining::Adam(adam)).with_ascent_check(ascent_check))
}

/// What the timed loop recorded.
#[derive(Default)]
struct Record {
    /// Milliseconds of each iteration, the first included.
    iter_ms: Vec<f64>,
    /// Natural steps that were shortened.
    shortened_steps: u32,
    /// (iteration, training seconds, test NLPD, training CPU seconds), evaluated with the
    /// clocks stopped.
    curve: Vec<(usize, f64, f64, f64)>,
    /// Training seconds on the clock (the first iteration left out).
    clock: f64,
    /// Why the run stopped early, if it failed.
    error: Option<String>,
    /// Whether an evaluation reached `--target-nlpd`.
    reached_target: bool,
}

/// Runs the timed iterations over `batches` (started again when they run out), evaluating on
/// `test` every `--eval-every` iterations with the clocks stopped, until `--max-iters`,
/// `--max-seconds`, `--target-nlpd` or a failure.
fn timed_loop(
    args: &Args,
    trainer: &mut Trainer,
    (train, test): (&Table, &Table),
    batches: &[Vec<usize>],
) -> Result<Record, Box<dyn Error>> {
    let (x, y, n) = (&train.x, &train.y, train.x.nrows());
    let mut record = Record::default();
    // The CPU clock (the process's, all threads) is read around what is left out.
    let (cpu_start, mut cpu_off) = (cpu_seconds(), 0.0);
    if args.eval_every > 0 {
        let nlpd = trainer.model.evaluate(&test.x, &test.y)?.nlpd;
        record.curve.push((0, 0.0, nlpd, 0.0));
    }
    for it in 0..args.max_iters.unwrap_or(batches.len()) {
        let rows = &batches[it % batches.len()];
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let xb = x.select_rows(rows.iter());
        let yb = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
        let report = match trainer.step(&xb, &yb, n as f64 / rows.len() as f64) {
            Ok(report) => report,
            Err(e) => {
                record.error = Some(format!("iteration {}: {e}", it + 1));
                break;
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        if it > 0 {
            // The first iteration (warm-up) is reported (`first_iter_s`), not clocked, as the
            // peers' (whose first includes tracing).
            record.clock += secs;
        } else {
            cpu_off += cpu_seconds() - c0;
        }
        record.iter_ms.push(secs * 1e3);
        record.shortened_steps += u32::from(report.update.shortened());
        if args.eval_every > 0 && (it + 1) % args.eval_every == 0 {
            let c1 = cpu_seconds();
            let nlpd = trainer.model.evaluate(&test.x, &test.y)?.nlpd;
            let cpu = c1 - cpu_start - cpu_off;
            record.curve.push((it + 1, record.clock, nlpd, cpu));
            cpu_off += cpu_seconds() - c1;
            if args.target_nlpd.is_some_and(|target| nlpd <= target) {
                record.reached_target = true;
                break;
            }
            if !nlpd.is_finite() {
                record.error = Some(format!("iteration {}: test NLPD {nlpd}", it + 1));
                break;
            }
        }
        if args.max_seconds.is_some_and(|limit| record.clock >= limit) {
            break;
        }
    }
    Ok(record)
}

/// The JSON line of a finished run: timing quantiles past `--warmup`, the test metrics, the
/// hyperparameters and the curve.
fn summary(
    args: &Args,
    model: &Svgp,
    (train, test): (&Table, &Table),
    b: usize,
    train_s: f64,
    record: Record,
) -> Result<serde_json::Value, Box<dyn Error>> {
    let (n, d, m) = (train.x.nrows(), train.x.ncols(), model.z().nrows());
    let mut timed = record.iter_ms[args.warmup..].to_vec();
    timed.sort_by(f64::total_cmp);
    let quantile = |p: f64| timed[((timed.len() - 1) as f64 * p).round() as usize];
    let metrics = model.evaluate(&test.x, &test.y)?;
    let params = model.hyper_params();
    let kernel_param = |i: usize| Positive::with_floor(0.0).forward(params[i]);
    Ok(json!({
        "library": "svgp",
        "version": env!("CARGO_PKG_VERSION"),
        "N": n, "D": d, "M": m, "B": b,
        "iters": record.iter_ms.len(),
        "gamma": args.gamma,
        "adam_lr": args.adam_lr,
        "adam_only": args.adam_only,
        "ascent_check": args.ascent_check,
        "ms_per_iter_median": quantile(0.5),
        "ms_per_iter_p10": quantile(0.1),
        "ms_per_iter_p90": quantile(0.9),
        "first_iter_s": record.iter_ms[0] / 1e3,
        "timed_iters": timed.len(),
        "train_s": train_s,
        "train_clock_s": record.clock,
        "reached_target": record.reached_target,
        "shortened_steps": record.shortened_steps,
        "final_elbo": model.elbo(&train.x, &train.y, 1.0)?,
        "test_rmse": metrics.rmse,
        "test_nlpd": metrics.nlpd,
        "hyper": {
            "kernel_variance": kernel_param(0),
            "lengthscales": (1..=d).map(kernel_param).collect::<Vec<_>>(),
            "noise_variance": Positive::default().forward(params[d + 1]),
        },
        "curve": record.curve,
        "iter_ms": if args.eval_every > 0 { Vec::new() } else { record.iter_ms },
    }))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let train = read_csv(&args.train, None, None)?;
    let test = read_csv(&args.test, None, None)?;
    let (z, batches) = read_z_and_batches(&args, train.x.ncols())?;
    let (m, b) = (z.nrows(), batches[0].len());
    let mut trainer = peer_trainer(&args, z)?;
    let start = Instant::now();
    let record = timed_loop(&args, &mut trainer, (&train, &test), &batches)?;
    let train_s = start.elapsed().as_secs_f64();
    if let Some(error) = record.error {
        let line = json!({
            "library": "svgp", "M": m, "B": b, "gamma": args.gamma, "adam_lr": args.adam_lr,
            "adam_only": args.adam_only, "error": error, "iters": record.iter_ms.len(),
            "train_clock_s": record.clock, "curve": record.curve,
        });
        println!("{line}");
        return Err(error.into());
    }
    if record.iter_ms.len() <= args.warmup {
        return Err(format!(
            "only {} iterations ran, not more than --warmup",
            record.iter_ms.len()
        )
        .into());
    }
    let line = summary(&args, &trainer.model, (&train, &test), b, train_s, record)?;
    println!("{line}");
    Ok(())
}

//! The crate's side of the multi-latent GPflow comparison (`benches/peers/multilatent/`,
//! README.md there): reruns one recorded GPflow 2.11 case on identical inputs and prints the
//! crate's test metrics beside GPflow's.
//!
//! Inputs, all from `benches/peers/multilatent/data/`: the train/test split, the standardisation
//! (`<set>_standardise.json`, applied to the inputs, and to the target for the regression cases),
//! the inducing inputs Z (standardised units) and the minibatch row indices in order
//! (`BatchPlan::Explicit`; the `_full` cases use every row in file order every iteration).
//! Settings as GPflow's: SE-ARD kernels with variance 1 and lengthscales 1 (softplus, no floor;
//! one shared by the 3 robust-max latents, one per latent for the heteroscedastic model), q = N(0,
//! I) per latent, robust-max ε = 1e-3 fixed, Gaussian noise variance 0.1 at the start, per
//! iteration one natural step in θ with γ ramped log-linearly from 1e-4 to γ over 50 iterations
//! (GPflow's t = 0…50 is the crate's t = 1…51, so `Schedule::LogLinear { steps: 51 }`), then one
//! Adam step (lr 0.01, β 0.9/0.999, ε 1e-7 as tf_keras) on the kernels, the likelihood and Z.
//!
//! Run: `cargo run --release --example peer_multilatent -- CASE [--ascent-check on|off]
//! [--iterations T]`, CASE one of the file names in `results/` (e.g. `wine_robustmax`,
//! `hetero1d_hetero_full`). Prints one JSON line.

use clap::Parser;
use nalgebra::{DMatrix, DVector};
use serde_json::{json, Value};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;
use svgp::data::read_csv;
use svgp::kernel::{Kernel, SquaredExponential};
use svgp::likelihood::{Gaussian, Heteroscedastic, Likelihood, NoiseLink, RobustMax};
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, AscentCheck, BatchPlan, HyperTraining, InMemory, QTraining, Schedule, StopRules,
    Trainer, Xi,
};
use svgp::transform::Positive;

type Res<T> = Result<T, Box<dyn Error>>;

#[derive(Parser)]
struct Args {
    /// The case: a `results/<case>.json` of the GPflow runs.
    case: String,
    /// The comparison's directory.
    #[arg(long, default_value = "benches/peers/multilatent")]
    dir: PathBuf,
    /// The crate's ascent check on natural steps (off: the plain algorithm GPflow runs).
    #[arg(long, default_value = "off")]
    ascent_check: String,
    /// Train for this many iterations instead of GPflow's (at most the batch file's lines).
    #[arg(long)]
    iterations: Option<usize>,
}

/// One case's inputs, standardised.
struct Case {
    x: DMatrix<f64>,
    y: DVector<f64>,
    x_test: DMatrix<f64>,
    y_test: DVector<f64>,
    z: DMatrix<f64>,
    batches: Vec<Vec<usize>>,
    /// The target's sd (1 for classification): NLPD and RMSE in original units use it.
    y_sd: f64,
}

fn read_rows(path: &Path, skip_header: bool) -> Res<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(usize::from(skip_header))
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect())
}

fn parse_rows<T: std::str::FromStr>(rows: Vec<Vec<String>>) -> Res<Vec<Vec<T>>>
where
    T::Err: Error + 'static,
{
    rows.into_iter()
        .map(|r| {
            r.iter()
                .map(|c| c.parse::<T>().map_err(Into::into))
                .collect()
        })
        .collect()
}

fn floats(v: &Value, key: &str) -> Res<Vec<f64>> {
    v[key]
        .as_array()
        .ok_or(format!("{key} missing"))?
        .iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| format!("{key}: not a number").into())
        })
        .collect()
}

/// Reads the case's data, standardises it with the recorded map and loads Z and the batches.
fn load_case(dir: &Path, set: &str, reference: &Value, regression: bool) -> Res<Case> {
    let data = dir.join("data");
    let train = read_csv(data.join(format!("{set}_train.csv")), None, None)?;
    let test = read_csv(data.join(format!("{set}_test.csv")), None, None)?;
    let map: Value = serde_json::from_str(&std::fs::read_to_string(
        data.join(format!("{set}_standardise.json")),
    )?)?;
    let (mean, sd) = (floats(&map, "x_mean")?, floats(&map, "x_sd")?);
    let standardise = |x: &DMatrix<f64>| {
        DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| (x[(i, j)] - mean[j]) / sd[j])
    };
    let (y_mean, y_sd) = if regression {
        (
            map["y_mean"].as_f64().ok_or("y_mean")?,
            map["y_sd"].as_f64().ok_or("y_sd")?,
        )
    } else {
        (0.0, 1.0)
    };
    let m = reference["M"].as_u64().ok_or("M")?;
    let z_rows: Vec<Vec<f64>> =
        parse_rows(read_rows(&data.join(format!("{set}_Z_M{m}.csv")), true)?)?;
    let z = DMatrix::from_fn(z_rows.len(), train.x.ncols(), |i, j| z_rows[i][j]);
    let (b, iters) = (
        reference["B"].as_u64().ok_or("B")? as usize,
        reference["iters"].as_u64().ok_or("iters")? as usize,
    );
    let n = train.x.nrows();
    let batches = if b >= n {
        vec![(0..n).collect(); iters]
    } else {
        let file = data.join(format!("batches/{set}_B{b}_seed0_it{iters}.csv"));
        parse_rows(read_rows(&file, false)?)?
    };
    Ok(Case {
        x: standardise(&train.x),
        y: train.y.map(|v| (v - y_mean) / y_sd),
        x_test: standardise(&test.x),
        y_test: test.y.map(|v| (v - y_mean) / y_sd),
        z,
        batches,
        y_sd,
    })
}

fn se_kernel(d: usize) -> Res<Box<dyn Kernel>> {
    Ok(Box::new(SquaredExponential::with_transform(
        1.0,
        vec![1.0; d],
        Positive::with_floor(0.0),
    )?))
}

/// The model of the case's likelihood: kernels, likelihood, Z, q = N(0, I).
fn build_model(likelihood: &str, case: &Case) -> Res<Svgp> {
    let d = case.x.ncols();
    let (kernels, lik): (Vec<Box<dyn Kernel>>, Box<dyn Likelihood>) = match likelihood {
        "robustmax" => {
            let classes = case.y.iter().fold(0.0f64, |a, &b| a.max(b)) as usize + 1;
            (
                vec![se_kernel(d)?],
                Box::new(RobustMax::new(classes, 1e-3, false)?),
            )
        }
        "hetero" => (
            vec![se_kernel(d)?, se_kernel(d)?],
            Box::new(Heteroscedastic::new(NoiseLink::Exp)),
        ),
        "gaussian" => (vec![se_kernel(d)?], Box::new(Gaussian::new(0.1)?)),
        other => return Err(format!("unknown likelihood {other}").into()),
    };
    Ok(Svgp::with_kernels(kernels, lik, case.z.clone())?)
}

fn main() -> Res<()> {
    let args = Args::parse();
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(
        args.dir.join(format!("results/{}.json", args.case)),
    )?)?;
    let likelihood = reference["likelihood"]
        .as_str()
        .ok_or("likelihood")?
        .to_string();
    let set = reference["data"].as_str().ok_or("data")?.to_string();
    let regression = likelihood != "robustmax";
    let mut case = load_case(&args.dir, &set, &reference, regression)?;
    if let Some(t) = args.iterations {
        case.batches.truncate(t);
    }
    let gamma = reference["gamma"].as_f64().ok_or("gamma")?;
    let adam = AdamConfig {
        learning_rate: reference["adam_lr"].as_f64().ok_or("adam_lr")?,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
    };
    let schedule = Schedule::LogLinear {
        start: 1e-4,
        end: gamma,
        steps: 51,
    };
    let check = match args.ascent_check.as_str() {
        "on" => AscentCheck::On,
        "off" => AscentCheck::Off,
        other => return Err(format!("--ascent-check on|off, not {other}").into()),
    };
    let model = build_model(&likelihood, &case)?;
    let mut trainer = Trainer::new(
        model,
        QTraining::natural(Xi::Natural, schedule),
        HyperTraining::Adam(adam),
    )
    .with_ascent_check(check);
    let iterations = case.batches.len() as u64;
    let mut source = InMemory::new(&case.x, &case.y, BatchPlan::Explicit(case.batches.clone()))?;
    let start = Instant::now();
    let summary = trainer.run(&mut source, iterations, StopRules::default(), &mut [])?;
    let train_s = start.elapsed().as_secs_f64();
    report(
        &args,
        &reference,
        &trainer.model,
        &case,
        summary.iterations,
        summary.shortened_steps,
        train_s,
    )
}

/// Prints the crate's metrics beside GPflow's as one JSON line.
fn report(
    args: &Args,
    reference: &Value,
    model: &Svgp,
    case: &Case,
    iterations: u64,
    shortened: u64,
    train_s: f64,
) -> Res<()> {
    let metrics = model.evaluate(&case.x_test, &case.y_test)?;
    let log_sd = case.y_sd.ln();
    let nlpd = metrics.nlpd + log_sd;
    let elbo = model.elbo(&case.x, &case.y, 1.0)?;
    let gp_nlpd = reference["test_nlpd"].as_f64().unwrap_or(f64::NAN);
    // the kernels' and the likelihood's parameters, not Z
    let hyper: serde_json::Map<String, Value> = model
        .hyper_param_names()
        .into_iter()
        .zip(model.hyper_params().iter())
        .filter(|(name, _)| !name.starts_with("z["))
        .map(|(name, v)| (name, json!(v)))
        .collect();
    let line = json!({
        "case": args.case,
        "library": "svgp",
        "ascent_check": args.ascent_check,
        "iterations": iterations,
        "shortened_steps": shortened,
        "train_s": train_s,
        "ms_per_iter": train_s * 1e3 / iterations.max(1) as f64,
        "test_nlpd": nlpd,
        "test_acc": metrics.accuracy,
        "test_rmse": metrics.rmse.map(|r| r * case.y_sd),
        "final_elbo": elbo,
        "final_elbo_original_units": elbo - case.x.nrows() as f64 * log_sd,
        "gpflow": {
            "test_nlpd": gp_nlpd,
            "test_acc": reference["test_acc"],
            "test_rmse": reference["test_rmse"],
            "final_elbo": reference["final_elbo"],
        },
        "delta_nlpd": nlpd - gp_nlpd,
        "hyper_unconstrained": hyper,
    });
    println!("{line}");
    Ok(())
}

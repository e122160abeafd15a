//! Part (g): the banana discrepancy. GPJax's natural-gradients example (pull requests #714 and
//! #729 of thomaspinder/GPJax) reports natgrad + Adam reaching Adam-alone's final ELBO early on
//! a banana set, where part (b) finds it never does. Both settings are run here at the
//! example's sizes, and each factor in which they differ (and a few in which they do not) is
//! changed one at a time.

use super::sets::{self, Split};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::Path;
use svgp::error::{Result, SvgpError};
use svgp::kernel::KernelFamily;
use svgp::model::inducing::InducingInit;
use svgp::model::Svgp;
use svgp::optim::{
    AdamConfig, AscentCheck, BatchPlan, Batches, HyperTraining, QTraining, Schedule, Trainer, Xi,
    DEFAULT_RAMP_STEPS,
};
use svgp::tabular::{initial_kernel, LikelihoodChoice};
use svgp::variational::VariationalQ;

/// Iterations of the trailing mean of the minibatch ELBO (the example's smoothing window).
pub(super) const SMOOTHING_WINDOW: usize = 25;

/// The data a setting trains on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Data {
    /// The example's synthetic banana, inputs on [−3, 3]² as drawn.
    Published,
    /// The shipped banana_5300, subsampled to the same size, inputs standardised.
    Shipped,
}

/// Where the inducing inputs start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Inducing {
    /// A (M/5) × 5 grid on [−2.8, 2.8]² (10 × 5 at M = 50, as in the example).
    Grid,
    /// k-means++ on the training inputs (as in part (b)).
    KMeans,
}

/// Where q starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum InitialQ {
    /// q(u) = N(0, I): the example's unwhitened default, here q(v) = N(0, Kuu⁻¹).
    UnitU,
    /// q(v) = N(0, I), i.e. q(u) is the prior (as in part (b)).
    Prior,
}

/// How minibatches are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stream {
    /// B rows drawn with replacement, independently each iteration (as in the example).
    WithReplacement,
    /// Seeded shuffles each epoch, consecutive chunks (as in part (b)).
    Epochs,
}

/// Everything in which the two settings can differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Setting {
    /// The data.
    pub data: Data,
    /// The initial Z.
    pub inducing: Inducing,
    /// K of the log-linear γ ramp 1e-4 → 1e-1 (γ = 1e-1 from iteration K on).
    pub ramp_steps: u64,
    /// The ascent check of the natural step.
    pub ascent: AscentCheck,
    /// Whether Adam moves Z (it always moves the kernel's parameters).
    pub train_z: bool,
    /// Adam's learning rate.
    pub adam_lr: f64,
    /// The initial q.
    pub initial_q: InitialQ,
    /// The batch stream.
    pub stream: Stream,
}

/// The example's setting: its schedule `exponential_decay(1e-4, 100, 1000, end 1e-1)` reaches
/// 1e-1 at its (0-based) iteration 100, our 1-based iteration 101.
pub(super) const PUBLISHED: Setting = Setting {
    data: Data::Published,
    inducing: Inducing::Grid,
    ramp_steps: 101,
    ascent: AscentCheck::Off,
    train_z: true,
    adam_lr: 0.01,
    initial_q: InitialQ::UnitU,
    stream: Stream::WithReplacement,
};

/// Part (b)'s setting.
pub(super) const REPORT: Setting = Setting {
    data: Data::Shipped,
    inducing: Inducing::KMeans,
    ramp_steps: DEFAULT_RAMP_STEPS,
    ascent: AscentCheck::On,
    train_z: true,
    adam_lr: 0.01,
    initial_q: InitialQ::Prior,
    stream: Stream::Epochs,
};

/// Sizes of part (g).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// Rows drawn (a fifth held out), M, B and iterations.
    pub rows: usize,
    pub m: usize,
    pub b: usize,
    pub iterations: u64,
}

/// One run: the full-data ELBO after each iteration and the minibatch ELBO before each step.
#[derive(Debug, Clone)]
pub(super) struct BananaRun {
    /// Full-data ELBO after iteration t (index t − 1).
    pub full: Vec<f64>,
    /// Minibatch ELBO (scaled by N/B) at the start of iteration t, before any step.
    pub minibatch: Vec<f64>,
    /// Iterations whose natural step was shortened.
    pub shortened: u64,
    /// Why the run stopped early, if it did.
    pub failure: Option<String>,
}

impl BananaRun {
    /// The full-data ELBO as iteration reports (for the ELBO figure).
    pub fn reports(&self) -> Vec<svgp::optim::IterReport> {
        self.full
            .iter()
            .enumerate()
            .map(|(i, &elbo)| svgp::optim::IterReport {
                iteration: i as u64 + 1,
                elbo,
                log_prior: 0.0,
                update: svgp::optim::QUpdate::Adam,
                elapsed: std::time::Duration::ZERO,
            })
            .collect()
    }

    /// The last full-data ELBO (NaN if no iteration completed).
    pub fn final_elbo(&self) -> f64 {
        self.full.last().copied().unwrap_or(f64::NAN)
    }

    /// The trailing means of the minibatch ELBO over [`SMOOTHING_WINDOW`] iterations, each with
    /// the iteration it ends at.
    pub fn smoothed(&self) -> Vec<(u64, f64)> {
        self.minibatch
            .windows(SMOOTHING_WINDOW)
            .enumerate()
            .map(|(i, w)| {
                let t = (i + SMOOTHING_WINDOW) as u64;
                (t, w.iter().sum::<f64>() / w.len() as f64)
            })
            .collect()
    }
}

/// The two runs of one setting, and where natgrad reaches Adam's final value.
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    /// The setting changed: "published setting" or "report's setting".
    pub base: &'static str,
    /// What this row changes in it (`None`: nothing).
    pub change: Option<String>,
    /// The setting run.
    pub setting: Setting,
    /// Adam alone.
    pub adam: BananaRun,
    /// Natural steps in θ with Adam on the hyperparameters.
    pub natural: BananaRun,
}

impl Comparison {
    /// The row's label: the base, and the change if any.
    pub fn label(&self) -> String {
        match &self.change {
            Some(c) => format!("{}, {c}", self.base),
            None => self.base.to_string(),
        }
    }

    /// The first iteration after which natgrad's full-data ELBO is at least Adam's final one.
    pub fn reaches_full(&self) -> Option<u64> {
        let target = self.adam.final_elbo();
        let t = self.natural.full.iter().position(|&e| e >= target)?;
        Some(t as u64 + 1)
    }

    /// The first iteration at which natgrad's trailing-mean minibatch ELBO is at least Adam's
    /// final trailing mean (the example's criterion).
    pub fn reaches_smoothed(&self) -> Option<u64> {
        let target = self.adam.smoothed().last()?.1;
        self.natural
            .smoothed()
            .into_iter()
            .find(|&(_, e)| e >= target)
            .map(|(t, _)| t)
    }
}

/// The data of a setting: the example's synthetic banana, or banana_5300 subsampled to the same
/// size (a fifth held out, inputs standardised).
///
/// # Errors
/// A missing or malformed banana_5300.csv.
pub(super) fn data(dir: &Path, which: Data, rows: usize, seed: u64) -> Result<Split> {
    match which {
        Data::Published => Ok(sets::published_banana(rows, seed)),
        Data::Shipped => sets::load(dir, "banana_5300", rows, 0.2, false, seed),
    }
}

/// The initial Z of a setting: M inducing inputs.
fn inducing(which: Inducing, x: &DMatrix<f64>, m: usize, seed: u64) -> Result<DMatrix<f64>> {
    match which {
        Inducing::KMeans => InducingInit::default().choose(x, m, seed),
        Inducing::Grid => {
            let (nx, ny) = (m.div_ceil(5), 5.min(m));
            let at = |i: usize, n: usize| -2.8 + 5.6 * i as f64 / (n.max(2) - 1) as f64;
            let points: Vec<[f64; 2]> = (0..ny)
                .flat_map(|j| (0..nx).map(move |i| [at(i, nx), at(j, ny)]))
                .take(m)
                .collect();
            Ok(DMatrix::from_fn(points.len(), 2, |r, c| points[r][c]))
        }
    }
}

/// q(v) = N(0, Lz⁻¹ Lz⁻ᵀ) = N(0, Kuu⁻¹), so that q(u) = N(0, I) (Kuu with the model's jitter).
fn unit_u(model: &Svgp) -> Result<VariationalQ> {
    let m = model.num_inducing();
    let mut kuu = model.kernel().matrix(model.z(), model.z());
    for i in 0..m {
        kuu[(i, i)] += model.jitter();
    }
    let not_pd = |what: &'static str| SvgpError::InvalidParameter {
        name: what.into(),
        value: f64::NAN,
        reason: "not positive definite",
    };
    let lz = kuu.cholesky().ok_or_else(|| not_pd("Kuu"))?.l();
    let lz_inv = lz
        .solve_lower_triangular(&DMatrix::identity(m, m))
        .ok_or_else(|| not_pd("Lz"))?;
    let s = &lz_inv * lz_inv.transpose();
    let l = s.cholesky().ok_or_else(|| not_pd("Kuu⁻¹"))?.l();
    VariationalQ::new(DVector::zeros(m), l)
}

/// The batch stream of a setting over `n` rows.
fn batches(stream: Stream, n: usize, sizes: &Sizes, seed: u64) -> Result<Batches> {
    let plan = match stream {
        Stream::Epochs => BatchPlan::Seeded {
            batch_size: sizes.b,
            seed,
        },
        Stream::WithReplacement => {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x7e91_ace5);
            BatchPlan::Explicit(
                (0..sizes.iterations)
                    .map(|_| (0..sizes.b).map(|_| rng.random_range(0..n)).collect())
                    .collect(),
            )
        }
    };
    Batches::new(plan, n)
}

/// The model of a setting: SE-ARD (variance 1, lengthscales 1), probit Bernoulli, Z and q as
/// the setting says.
fn model(split: &Split, setting: &Setting, m: usize, seed: u64) -> Result<Svgp> {
    let z = inducing(setting.inducing, &split.x, m, seed)?;
    let kernel = initial_kernel(KernelFamily::SquaredExponential, split.x.ncols())?;
    let mut model = Svgp::new(kernel, LikelihoodChoice::Bernoulli.build(None)?, z)?;
    if setting.initial_q == InitialQ::UnitU {
        let q = unit_u(&model)?;
        model.set_q(q)?;
    }
    Ok(model)
}

/// Trains one setting by Adam alone (`natural` false) or by natural steps in θ with Adam on the
/// hyperparameters, recording the minibatch ELBO before each step and the full-data ELBO after
/// it. With `train_z` off, Z is put back after each Adam step: Adam works entry by entry, so the
/// kernel's trajectory is the one Adam would follow with Z excluded.
///
/// # Errors
/// Errors before training (data, inducing inputs, model); a failing step ends the run and is
/// recorded in it.
pub(super) fn train(
    split: &Split,
    setting: &Setting,
    natural: bool,
    sizes: &Sizes,
    seed: u64,
) -> Result<BananaRun> {
    let (x, y) = (&split.x, &split.y);
    let model = model(split, setting, sizes.m, seed)?;
    let z_start = model.hyper_params().len() - model.z().len();
    let z0: Vec<f64> = model.z().iter().copied().collect();
    let q_training = if natural {
        QTraining::natural(Xi::Natural, Schedule::paper_ramp(setting.ramp_steps))
    } else {
        QTraining::Adam
    };
    let adam = AdamConfig {
        learning_rate: setting.adam_lr,
        ..AdamConfig::default()
    };
    let mut trainer = Trainer::new(model, q_training, HyperTraining::Adam(adam))
        .with_ascent_check(setting.ascent);
    let mut stream = batches(setting.stream, x.nrows(), sizes, seed)?;
    let scale = x.nrows() as f64 / sizes.b.min(x.nrows()) as f64;
    let mut run = BananaRun {
        full: Vec::new(),
        minibatch: Vec::new(),
        shortened: 0,
        failure: None,
    };
    while let Some(rows) = stream
        .next_batch()
        .filter(|_| trainer.iteration() < sizes.iterations)
    {
        let xb = x.select_rows(rows.iter());
        let yb = DVector::from_iterator(rows.len(), rows.iter().map(|&i| y[i]));
        let before = trainer.model.elbo(&xb, &yb, scale)?;
        match trainer.step(&xb, &yb, scale) {
            Ok(report) => run.shortened += u64::from(report.update.shortened()),
            Err(e) => {
                run.failure = Some(format!(
                    "stopped at iteration {}: {e}",
                    trainer.iteration() + 1
                ));
                break;
            }
        }
        if !setting.train_z {
            let mut params = trainer.model.hyper_params();
            params.as_mut_slice()[z_start..].copy_from_slice(&z0);
            trainer.model.set_hyper_params(params.as_slice())?;
        }
        run.minibatch.push(before);
        run.full.push(trainer.model.elbo(x, y, 1.0)?);
    }
    Ok(run)
}

/// One factor of the table, with the published and the report's value described.
#[derive(Debug, Clone, Copy)]
struct Factor {
    /// What it is.
    name: &'static str,
    /// `setting` with the factor taken from `from`.
    take: fn(setting: &mut Setting, from: &Setting),
    /// The value in a setting, in words.
    describe: fn(setting: &Setting) -> String,
}

/// The factors in which the two settings differ.
const FACTORS: [Factor; 6] = [
    Factor {
        name: "data",
        take: |s, f| s.data = f.data,
        describe: |s| match s.data {
            Data::Published => "the example's synthetic banana".into(),
            Data::Shipped => "banana_5300, standardised".into(),
        },
    },
    Factor {
        name: "initial Z",
        take: |s, f| s.inducing = f.inducing,
        describe: |s| match s.inducing {
            Inducing::Grid => "a grid".into(),
            Inducing::KMeans => "k-means++".into(),
        },
    },
    Factor {
        name: "γ schedule",
        take: |s, f| s.ramp_steps = f.ramp_steps,
        describe: |s| format!("ramp to 1e-1 at iteration {}", s.ramp_steps),
    },
    Factor {
        name: "ascent check",
        take: |s, f| s.ascent = f.ascent,
        describe: |s| match s.ascent {
            AscentCheck::On => "on".into(),
            AscentCheck::Off => "off".into(),
        },
    },
    Factor {
        name: "initial q",
        take: |s, f| s.initial_q = f.initial_q,
        describe: |s| match s.initial_q {
            InitialQ::UnitU => "q(u) = N(0, I)".into(),
            InitialQ::Prior => "q(v) = N(0, I)".into(),
        },
    },
    Factor {
        name: "batch stream",
        take: |s, f| s.stream = f.stream,
        describe: |s| match s.stream {
            Stream::WithReplacement => "drawn with replacement".into(),
            Stream::Epochs => "epoch shuffles".into(),
        },
    },
];

/// The settings of the table: each base, then the base with one factor changed (towards the
/// other base, or to a value neither uses: Z frozen, Adam's learning rate).
fn table_settings() -> Vec<(&'static str, Option<String>, Setting)> {
    let mut rows = Vec::new();
    for (base_name, base, other) in [
        (PUBLISHED_NAME, PUBLISHED, REPORT),
        (REPORT_NAME, REPORT, PUBLISHED),
    ] {
        rows.push((base_name, None, base));
        for factor in FACTORS {
            let mut s = base;
            (factor.take)(&mut s, &other);
            let change = format!("{}: {}", factor.name, (factor.describe)(&s));
            rows.push((base_name, Some(change), s));
        }
        let frozen = Setting {
            train_z: false,
            ..base
        };
        rows.push((base_name, Some("Z frozen".into()), frozen));
        for lr in [1e-3, 1e-1] {
            let s = Setting {
                adam_lr: lr,
                ..base
            };
            rows.push((base_name, Some(format!("Adam lr {lr}")), s));
        }
    }
    rows
}

/// The name of the example's setting in the table.
pub(super) const PUBLISHED_NAME: &str = "published setting";
/// The name of part (b)'s setting in the table.
pub(super) const REPORT_NAME: &str = "report's setting";

/// Part (g): both runs of every setting of the table; `progress` is told each row.
///
/// # Errors
/// As [`train`].
pub(super) fn discrepancy(
    dir: &Path,
    sizes: &Sizes,
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Comparison>> {
    let published = data(dir, Data::Published, sizes.rows, seed)?;
    let shipped = data(dir, Data::Shipped, sizes.rows, seed)?;
    let mut out: Vec<Comparison> = Vec::new();
    for (base, change, setting) in table_settings() {
        progress(&format!(
            "{base}{}",
            change
                .as_deref()
                .map_or(String::new(), |c| format!(", {c}"))
        ));
        let split = match setting.data {
            Data::Published => &published,
            Data::Shipped => &shipped,
        };
        // Adam alone does not see the natural step's schedule or ascent check.
        let adam_twin = out.iter().find(|c| {
            Setting {
                ramp_steps: 0,
                ascent: AscentCheck::On,
                ..c.setting
            } == Setting {
                ramp_steps: 0,
                ascent: AscentCheck::On,
                ..setting
            }
        });
        let adam = match adam_twin {
            Some(c) => c.adam.clone(),
            None => train(split, &setting, false, sizes, seed)?,
        };
        let natural = train(split, &setting, true, sizes, seed)?;
        out.push(Comparison {
            base,
            change,
            setting,
            adam,
            natural,
        });
    }
    Ok(out)
}

//! `svgp reproduce`: regenerates the evidence of Salimbeni, Eleftheriadis & Hensman (2018) on the
//! shipped datasets and writes `DIR/REPORT.md` with its figures:
//! (a) one-step exactness against the SGPR bound on every shipped regression set,
//! (b) full-data ELBO against iterations for Adam alone and natural gradients in θ, η and (m, L)
//!     on a Gaussian, a Student-t, a Bernoulli and a Poisson case, with iterations to a target,
//! (c) stability over a γ grid for each parametrisation,
//! (d) the paper's findings beside these numbers,
//! (e) an ill-conditioned posterior, Adam alone against natural steps,
//! (g) the banana discrepancy with GPJax's natural-gradients example, one factor at a time.
//!
//! Every random choice is seeded and no wall-clock time enters the report, so two runs with the
//! same seed (and thread count) write the same REPORT.md. `timing` writes the wall-clock
//! counterpart, `DIR/TIMING.md`, instead.

mod banana;
mod banana_report;
mod curves;
mod exactness;
mod report;
mod sets;
mod timing;

use curves::{Case, Method, Run};
use exactness::ExactRow;
use std::path::PathBuf;
use svgp::error::{Result, SvgpError};
use svgp::optim::{AscentCheck, Xi};
use svgp::tabular::LikelihoodChoice;

/// What `reproduce` runs and where it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproduceOptions {
    /// Output directory (created if missing): REPORT.md and the PNG figures.
    pub out_dir: PathBuf,
    /// Where the shipped CSV sets are (the repository's `datasets/`).
    pub datasets_dir: PathBuf,
    /// Small budgets (well under a minute, run in CI) instead of the full ones (minutes).
    pub quick: bool,
    /// Seed of every subsample, split, k-means++ start and batch order.
    pub seed: u64,
    /// Write the wall-clock record `TIMING.md` (and its figures) instead of REPORT.md.
    pub timing: bool,
}

/// What `reproduce` wrote and its headline numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ReproduceSummary {
    /// The report file (TIMING.md with `timing`).
    pub report: PathBuf,
    /// The figures written beside it.
    pub figures: Vec<PathBuf>,
    /// The largest relative gap between the SVGP ELBO after one γ = 1 step in θ and the SGPR
    /// bound, over the regression sets (NaN with `timing`, which does not run part (a)).
    pub worst_exactness_gap: f64,
}

/// Sizes of the runs.
#[derive(Debug, Clone, Copy)]
struct Budget {
    /// Rows per regression set in the exactness check, and its M.
    exact_rows: usize,
    exact_m: usize,
    /// Row caps of the curve cases (Gaussian, Student-t, Bernoulli, Poisson, multiclass,
    /// heteroscedastic), M, B and iterations.
    case_rows: [usize; 6],
    case_m: usize,
    case_b: usize,
    case_iterations: u64,
    /// Evenly spaced full-data ELBO checkpoints of those runs.
    case_checkpoints: u64,
    /// Constant step sizes of the stability grid and its iteration budget.
    gammas: &'static [f64],
    stability_iterations: u64,
    /// Rows, M and full-batch iterations of the ill-conditioned case (e).
    ill_rows: usize,
    ill_m: usize,
    ill_iterations: u64,
    /// Sizes of part (g).
    banana: banana::Sizes,
}

const FULL: Budget = Budget {
    exact_rows: 2000,
    exact_m: 100,
    case_rows: [10_000, 1030, 5300, 2000, 342, 1000],
    case_m: 100,
    case_b: 256,
    case_iterations: 2000,
    case_checkpoints: 50,
    gammas: &[1e-3, 1e-2, 0.1, 0.3, 1.0],
    stability_iterations: 150,
    ill_rows: 1000,
    ill_m: 100,
    ill_iterations: 2000,
    banana: banana::Sizes {
        rows: 2000,
        m: 50,
        b: 256,
        iterations: 1000,
    },
};

const QUICK: Budget = Budget {
    exact_rows: 2000,
    exact_m: 100,
    case_rows: [1000, 300, 1000, 500, 342, 400],
    case_m: 30,
    case_b: 128,
    case_iterations: 100,
    case_checkpoints: 15,
    gammas: &[1e-3, 1e-2, 0.1, 1.0],
    stability_iterations: 25,
    ill_rows: 300,
    ill_m: 30,
    ill_iterations: 100,
    banana: banana::Sizes {
        rows: 600,
        m: 20,
        b: 64,
        iterations: 120,
    },
};

/// Results of part (b) for one case.
struct CaseResult {
    case: Case,
    runs: Vec<Run>,
    figure: String,
}

/// Results of part (c) for one case: one run per (ascent check, ξ, γ), in that nesting.
struct StabilityResult {
    title: String,
    gammas: &'static [f64],
    rows: Vec<(AscentCheck, Xi, Vec<Run>)>,
}

/// Runs the reproduction and writes `opts.out_dir/REPORT.md` and its figures; `progress` is
/// told each stage as it starts.
///
/// # Errors
/// A missing or malformed dataset (naming the file), an unwritable output directory, a plot
/// error; a failing training run is reported in the tables, not returned.
pub fn reproduce(
    opts: &ReproduceOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ReproduceSummary> {
    let budget = if opts.quick { QUICK } else { FULL };
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| SvgpError::Io {
        path: opts.out_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    if opts.timing {
        return write_timing(opts, &budget, progress);
    }

    let exact = exactness_rows(opts, &budget, progress)?;
    let curves = elbo_curves(opts, &budget, progress)?;
    let stability = stability_grids(&curves, &budget, opts.seed, progress)?;
    progress("(e) an ill-conditioned posterior");
    let ill = ill_conditioned(opts, &budget)?;
    let banana = banana::discrepancy(&opts.datasets_dir, &budget.banana, opts.seed, &mut |row| {
        progress(&format!("(g) the banana discrepancy: {row}"))
    })?;
    let banana_figure = banana_figure(opts, &banana)?;
    let figures = curves
        .iter()
        .chain([&ill])
        .map(|r| r.figure.as_str())
        .chain([banana_figure.as_str()])
        .map(|f| opts.out_dir.join(f))
        .collect();
    let parts = report::Parts {
        exact: &exact,
        curves: &curves,
        stability: &stability,
        ill: &ill,
        banana: &banana,
        banana_sizes: &budget.banana,
        banana_figure: &banana_figure,
    };
    let text = report::render(opts, &parts);
    let report_path = opts.out_dir.join("REPORT.md");
    svgp::data::write_atomically(&report_path, |f| {
        std::io::Write::write_all(f, text.as_bytes())
    })?;
    Ok(ReproduceSummary {
        report: report_path,
        figures,
        worst_exactness_gap: worst_gap(&exact),
    })
}

/// Part (a): one γ = 1 step against the SGPR bound on every shipped regression set.
///
/// # Errors
/// A missing or malformed dataset; model errors before training.
fn exactness_rows(
    opts: &ReproduceOptions,
    budget: &Budget,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<ExactRow>> {
    progress("(a) one-step exactness on the regression sets");
    let mut exact = Vec::new();
    for name in sets::REGRESSION_SETS {
        let split = sets::load(
            &opts.datasets_dir,
            name,
            budget.exact_rows,
            0.0,
            true,
            opts.seed,
        )?;
        exact.push(exactness::check(name, &split, budget.exact_m, opts.seed)?);
    }
    Ok(exact)
}

/// Part (b): each case trained by Adam alone and by natural steps in each ξ, with its figure.
///
/// # Errors
/// A missing or malformed dataset; a plot error.
fn elbo_curves(
    opts: &ReproduceOptions,
    budget: &Budget,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<CaseResult>> {
    let mut curves = Vec::new();
    for case in cases(opts, budget)? {
        progress(&format!("(b) ELBO against iterations: {}", case.title));
        let adam = Method::Adam {
            learning_rate: curves::ADAM_LEARNING_RATE,
        };
        let mut runs = vec![curves::train(&case, adam, opts.seed)?];
        for xi in exactness::XIS {
            let method = Method::NatGrad {
                xi,
                gamma: None,
                ascent_check: AscentCheck::On,
            };
            runs.push(curves::train(&case, method, opts.seed)?);
        }
        let figure = elbo_figure(opts, case.key, &runs)?;
        curves.push(CaseResult { case, runs, figure });
    }
    Ok(curves)
}

/// Part (c) on the non-conjugate cases of part (b).
///
/// # Errors
/// As [`stability_grid`].
fn stability_grids(
    curves: &[CaseResult],
    budget: &Budget,
    seed: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<StabilityResult>> {
    let non_conjugate = |r: &&CaseResult| {
        matches!(
            r.case.key,
            "bernoulli" | "student_t" | "multiclass" | "heteroscedastic"
        )
    };
    let mut stability = Vec::new();
    for result in curves.iter().filter(non_conjugate) {
        progress(&format!("(c) stability over γ: {}", result.case.title));
        stability.push(stability_grid(&result.case, budget, seed)?);
    }
    Ok(stability)
}

/// Writes `elbo_<key>.png` (full-data ELBO against iterations of each run) and returns its name.
fn elbo_figure(opts: &ReproduceOptions, key: &str, runs: &[Run]) -> Result<String> {
    let figure = format!("elbo_{key}.png");
    let labelled: Vec<(String, &[svgp::optim::IterReport])> = runs
        .iter()
        .map(|r| (r.method.label(), r.checkpoints.as_slice()))
        .collect();
    let borrowed: Vec<(&str, &[svgp::optim::IterReport])> =
        labelled.iter().map(|(l, c)| (l.as_str(), *c)).collect();
    svgp::plot::elbo_traces(opts.out_dir.join(&figure), &borrowed, true)?;
    Ok(figure)
}

/// Adam's learning rates tried alone in part (e).
const ILL_ADAM_RATES: [f64; 3] = [1e-3, 1e-2, 1e-1];

/// Part (e): a near-noiseless set (noise variance 1e-6) with many inducing inputs per
/// lengthscale, full batch: Adam alone at three learning rates against natural steps in θ
/// (γ = 1) with Adam on the hyperparameters.
fn ill_conditioned(opts: &ReproduceOptions, budget: &Budget) -> Result<CaseResult> {
    let case = ill_case(opts, budget);
    let mut runs = Vec::new();
    for learning_rate in ILL_ADAM_RATES {
        runs.push(curves::train(
            &case,
            Method::Adam { learning_rate },
            opts.seed,
        )?);
    }
    let natural = Method::NatGrad {
        xi: Xi::Natural,
        gamma: None,
        ascent_check: AscentCheck::On,
    };
    runs.push(curves::train(&case, natural, opts.seed)?);
    let figure = elbo_figure(opts, case.key, &runs)?;
    Ok(CaseResult { case, runs, figure })
}

/// The case of part (e).
fn ill_case(opts: &ReproduceOptions, budget: &Budget) -> Case {
    let split = sets::synthetic_near_noiseless(budget.ill_rows, opts.seed);
    let n = split.x.nrows();
    Case {
        key: "ill_conditioned",
        title: format!(
            "Gaussian likelihood, near-noiseless synthetic set y = sin x + sin(3x)/2 + \
             N(0, 1e-6), x ∈ [0, 10] (N = {n} training / {} test rows, D = 1)",
            split.x_test.nrows()
        ),
        split,
        likelihood: LikelihoodChoice::Gaussian,
        m: budget.ill_m,
        b: n,
        iterations: budget.ill_iterations,
        checkpoints: budget.case_checkpoints,
        noise_variance: Some(2e-6),
    }
}

/// The largest θ-step gap over the exactness rows (infinite if a θ step was refused).
fn worst_gap(rows: &[ExactRow]) -> f64 {
    rows.iter()
        .map(|r| r.relative_gap(0).unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max)
}

/// Each case of part (b) but its data: key, likelihood, description and the largest M.
const CASES: [(&str, LikelihoodChoice, &str, usize); 6] = [
    (
        "gaussian",
        LikelihoodChoice::Gaussian,
        "Gaussian likelihood, kin40k",
        usize::MAX,
    ),
    (
        "student_t",
        LikelihoodChoice::StudentT,
        "Student-t likelihood (ν = 3), concrete",
        usize::MAX,
    ),
    (
        "bernoulli",
        LikelihoodChoice::Bernoulli,
        "Bernoulli likelihood (probit), banana_5300",
        usize::MAX,
    ),
    (
        "poisson",
        LikelihoodChoice::Poisson,
        "Poisson likelihood (exp link), synthetic counts y ~ Poisson(exp(1 + sin 2x))",
        50,
    ),
    (
        "multiclass",
        LikelihoodChoice::RobustMax,
        "Robust-max likelihood (3 classes, ε = 10⁻³), penguins species from 4 measurements",
        50,
    ),
    (
        "heteroscedastic",
        LikelihoodChoice::Heteroscedastic,
        "Heteroscedastic Gaussian y ~ N(f, exp(g)²), synthetic y = sin 1.5x + 0.3x + noise \
         whose sd grows tenfold over x ∈ [−5, 5]",
        50,
    ),
];

/// The data of the cases of part (b), in the order of [`CASES`].
///
/// # Errors
/// A missing or malformed dataset, naming the file.
fn case_splits(opts: &ReproduceOptions, budget: &Budget) -> Result<[sets::Split; 6]> {
    let dir = &opts.datasets_dir;
    let [rows_gauss, rows_t, rows_bern, rows_pois, rows_classes, rows_hetero] = budget.case_rows;
    Ok([
        sets::load(dir, "kin40k", rows_gauss, 0.1, true, opts.seed)?,
        sets::load(dir, "concrete", rows_t, 0.1, true, opts.seed)?,
        sets::load(dir, "banana_5300", rows_bern, 0.1, false, opts.seed)?,
        sets::synthetic_counts(rows_pois, opts.seed),
        sets::load_classes(dir, "penguins", "species", rows_classes, opts.seed)?,
        sets::synthetic_heteroscedastic(rows_hetero, opts.seed),
    ])
}

/// The cases of part (b).
///
/// # Errors
/// As [`case_splits`].
fn cases(opts: &ReproduceOptions, budget: &Budget) -> Result<Vec<Case>> {
    let splits = case_splits(opts, budget)?;
    let case = |((key, likelihood, what, max_m), split): (_, sets::Split)| Case {
        key,
        title: format!(
            "{what} (N = {} training / {} test rows, D = {})",
            split.x.nrows(),
            split.x_test.nrows(),
            split.x.ncols()
        ),
        split,
        likelihood,
        m: budget.case_m.min(max_m),
        b: budget.case_b,
        iterations: budget.case_iterations,
        checkpoints: budget.case_checkpoints,
        noise_variance: None,
    };
    Ok(CASES.into_iter().zip(splits).map(case).collect())
}

/// Part (c) on one case: constant γ over the grid, each ξ, without and with the ascent check.
fn stability_grid(case: &Case, budget: &Budget, seed: u64) -> Result<StabilityResult> {
    let short = Case {
        iterations: budget.stability_iterations,
        checkpoints: 0,
        ..case.clone()
    };
    let mut rows = Vec::new();
    for ascent_check in [AscentCheck::Off, AscentCheck::On] {
        for xi in exactness::XIS {
            let mut runs = Vec::new();
            for &gamma in budget.gammas {
                let method = Method::NatGrad {
                    xi,
                    gamma: Some(gamma),
                    ascent_check,
                };
                runs.push(curves::train(&short, method, seed)?);
            }
            rows.push((ascent_check, xi, runs));
        }
    }
    Ok(StabilityResult {
        title: case.title.clone(),
        gammas: budget.gammas,
        rows,
    })
}

/// `reproduce --timing`: the cases of (b) and (e) timed, written to `DIR/TIMING.md` with one
/// SVG figure per case.
fn write_timing(
    opts: &ReproduceOptions,
    budget: &Budget,
    progress: &mut dyn FnMut(&str),
) -> Result<ReproduceSummary> {
    let start_load = timing::load_average();
    let mut timed = Vec::new();
    let adam = [curves::ADAM_LEARNING_RATE];
    for case in cases(opts, budget)? {
        progress(&format!("(f) wall clock: {}", case.title));
        timed.push(timing::time_case(&opts.out_dir, &case, &adam, opts.seed)?);
    }
    let case = ill_case(opts, budget);
    progress(&format!("(f) wall clock: {}", case.title));
    timed.push(timing::time_case(
        &opts.out_dir,
        &case,
        &ILL_ADAM_RATES,
        opts.seed,
    )?);
    let text = timing::render(
        &timed,
        &timing::machine(),
        (&start_load, &timing::load_average()),
    );
    let path = opts.out_dir.join("TIMING.md");
    svgp::data::write_atomically(&path, |f| std::io::Write::write_all(f, text.as_bytes()))?;
    Ok(ReproduceSummary {
        report: path,
        figures: timed.iter().map(|t| opts.out_dir.join(&t.figure)).collect(),
        worst_exactness_gap: f64::NAN,
    })
}

/// Writes `elbo_banana.png`: full-data ELBO against iterations of both runs in the published
/// setting and in the report's (the first rows of each half of part (g)), and returns its name.
fn banana_figure(opts: &ReproduceOptions, rows: &[banana::Comparison]) -> Result<String> {
    let figure = "elbo_banana.png".to_string();
    let bases: Vec<&banana::Comparison> = rows
        .iter()
        .filter(|c| c.setting == banana::PUBLISHED || c.setting == banana::REPORT)
        .take(2)
        .collect();
    let mut labelled: Vec<(String, Vec<svgp::optim::IterReport>)> = Vec::new();
    for c in bases {
        for (name, run) in [("Adam alone", &c.adam), ("natgrad θ + Adam", &c.natural)] {
            labelled.push((format!("{name}, {}", c.label()), run.reports()));
        }
    }
    let borrowed: Vec<(&str, &[svgp::optim::IterReport])> = labelled
        .iter()
        .map(|(l, r)| (l.as_str(), r.as_slice()))
        .collect();
    svgp::plot::elbo_traces(opts.out_dir.join(&figure), &borrowed, true)?;
    Ok(figure)
}

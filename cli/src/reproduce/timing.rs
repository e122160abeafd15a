//! `reproduce --timing`: the full-data ELBO against training seconds for Adam alone and natural
//! steps in θ with Adam, on the cases of parts (b) and (e), written to `DIR/TIMING.md` with its
//! figures. Wall-clock time varies by machine and by run, so none of it enters REPORT.md.

use super::curves::{self, Case, Method, Run};
use nalgebra::{DMatrix, DVector};
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use svgp::error::Result;
use svgp::model::Svgp;
use svgp::optim::{AscentCheck, IterReport, Observer, Xi};
use svgp::plot::{line_chart, LineChart, Scale, Series};

/// Full-data ELBO evaluations per timed run, besides each of the first ten iterations.
const TIMED_POINTS: u64 = 200;

/// Records (training seconds, full-data ELBO) at checkpoints; the seconds leave out the time
/// spent evaluating those ELBOs.
struct TimedCheckpoints<'a> {
    x: &'a DMatrix<f64>,
    y: &'a DVector<f64>,
    every: u64,
    evaluating: Duration,
    points: Vec<(f64, f64)>,
    /// The last iteration seen and its training seconds, and whether it was recorded.
    last: (u64, f64, bool),
}

impl Observer for TimedCheckpoints<'_> {
    fn on_iter(&mut self, model: &Svgp, report: &IterReport) -> Result<()> {
        let t = report.iteration;
        let training = report.elapsed.saturating_sub(self.evaluating);
        let due = t <= 10 || t.is_multiple_of(self.every);
        self.last = (t, training.as_secs_f64(), due);
        if due {
            let start = Instant::now();
            let elbo = model.elbo(self.x, self.y, 1.0)?;
            self.evaluating += start.elapsed();
            self.points.push((training.as_secs_f64(), elbo));
        }
        Ok(())
    }
}

/// One timed run.
pub(super) struct TimedRun {
    /// The run (its checkpoints hold only the last iteration).
    pub run: Run,
    /// (training seconds, full-data ELBO) at the timed checkpoints.
    pub points: Vec<(f64, f64)>,
}

impl TimedRun {
    /// The first timed checkpoint's seconds at which the ELBO is at least `target`.
    pub fn seconds_to(&self, target: f64) -> Option<f64> {
        self.points.iter().find(|p| p.1 >= target).map(|p| p.0)
    }

    /// Training seconds of the whole run (to its last checkpoint).
    pub fn seconds(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }
}

/// The timed runs of one case: Adam alone (first), then natural steps in θ.
pub(super) struct TimedCase {
    /// The case.
    pub case: Case,
    /// Its runs.
    pub runs: Vec<TimedRun>,
    /// Its figure's file name.
    pub figure: String,
}

/// Trains `case` by each method with the wall-clock record on, and draws its figure in `out`.
///
/// # Errors
/// As [`curves::train`]; a plot error.
pub(super) fn time_case(
    out: &Path,
    case: &Case,
    adam_rates: &[f64],
    seed: u64,
) -> Result<TimedCase> {
    let quiet = Case {
        checkpoints: 0,
        ..case.clone()
    };
    let natural = Method::NatGrad {
        xi: Xi::Natural,
        gamma: None,
        ascent_check: AscentCheck::On,
    };
    let methods = adam_rates
        .iter()
        .map(|&learning_rate| Method::Adam { learning_rate })
        .chain([natural]);
    let mut runs = Vec::new();
    for method in methods {
        let mut observer = TimedCheckpoints {
            x: &case.split.x,
            y: &case.split.y,
            every: (case.iterations / TIMED_POINTS).max(1),
            evaluating: Duration::ZERO,
            points: Vec::new(),
            last: (0, 0.0, true),
        };
        let run = curves::train_observed(&quiet, method, seed, Some(&mut observer))?;
        // A run that stopped between checkpoints: its last iteration, at its final ELBO.
        let mut points = observer.points;
        if let (_, seconds, false) = observer.last {
            points.push((seconds, run.final_elbo));
        }
        runs.push(TimedRun { run, points });
    }
    let figure = format!("timing_{}.svg", case.key);
    let series: Vec<Series> = runs
        .iter()
        .map(|r| Series {
            label: r.run.method.label(),
            points: r.points.clone(),
            marked: Vec::new(),
        })
        .collect();
    let chart = LineChart {
        title: &format!("{}: ELBO against training seconds", case.key),
        x_label: "training seconds",
        y_label: "full-data ELBO",
        x_scale: Scale::Linear,
        series: &series,
    };
    line_chart(out.join(&figure), &chart)?;
    Ok(TimedCase {
        case: case.clone(),
        runs,
        figure,
    })
}

/// The machine, from /proc/cpuinfo: CPU model, its widest vector extension, logical cores.
pub(super) fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| "unknown CPU".into());
    let flags = field("flags").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let vector = if has("avx512f") {
        "AVX-512"
    } else if has("avx2") {
        "AVX2 (no AVX-512)"
    } else {
        "neither AVX2 nor AVX-512"
    };
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}; {vector}; {cores} logical cores ({threads} available to this process)")
}

/// The 1-minute load average, from /proc/loadavg.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// TIMING.md: the machine, then per case its figure and a table.
pub(super) fn render(cases: &[TimedCase], machine: &str, loads: (&str, &str)) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Natural gradients in practice: wall-clock time\n\n\
         Written by `svgp reproduce --timing`. **These numbers vary from run to run and from \
         machine to machine** (other work on the machine, frequency scaling, thread count); \
         REPORT.md holds only what is reproducible, and this file is kept apart from it.\n\n\
         Machine: {machine}. Load average (1 min) at the start: {}, at the end: {}.\n\n\
         The runs are those of parts (b) and (e) of REPORT.md with the same seeds. Seconds are \
         training time only: the full-data ELBO is evaluated at {TIMED_POINTS} evenly spaced \
         iterations (and each of the first ten), and the time spent evaluating it is left out. \
         \"Seconds to target\" is the first such checkpoint at which the full-data ELBO is at \
         least Adam-alone's (learning rate 0.01) final one.\n",
        loads.0, loads.1
    );
    for timed in cases {
        case_section(&mut out, timed);
    }
    summary(&mut out, cases);
    out
}

/// One case: its figure and table.
fn case_section(out: &mut String, timed: &TimedCase) {
    let c = &timed.case;
    let _ = writeln!(
        out,
        "## {}\n\nM = {}, B = {}, {} iterations.\n\n![ELBO against seconds]({})\n\n\
         | method | iterations | training seconds | ms per iteration | final ELBO | \
         seconds to target | ratio to Adam |\n|---|---|---|---|---|---|---|",
        c.title, c.m, c.b, c.iterations, timed.figure
    );
    let target = adam_target(timed);
    let adam_seconds = timed.runs.iter().find_map(|r| match r.run.method {
        Method::Adam { learning_rate } if learning_rate == curves::ADAM_LEARNING_RATE => {
            r.seconds_to(target)
        }
        _ => None,
    });
    for r in &timed.runs {
        let to = r.seconds_to(target);
        let _ = writeln!(
            out,
            "| {} | {} | {:.2} | {:.3} | {:.2} | {} | {} |",
            r.run.method.label(),
            r.run.completed,
            r.seconds(),
            1e3 * r.seconds() / r.run.completed.max(1) as f64,
            r.run.final_elbo,
            to.map_or("not reached".into(), |s| format!("{s:.3}")),
            to.zip(adam_seconds)
                .map_or("–".into(), |(a, b)| format!("{:.3}", a / b)),
        );
    }
    out.push('\n');
}

/// Adam-alone's (learning rate 0.01) final full-data ELBO in a case.
fn adam_target(timed: &TimedCase) -> f64 {
    timed
        .runs
        .iter()
        .find(|r| {
            r.run.method
                == Method::Adam {
                    learning_rate: curves::ADAM_LEARNING_RATE,
                }
        })
        .map_or(f64::NAN, |r| r.run.final_elbo)
}

/// The closing list: seconds to Adam-alone's final ELBO per case and method.
fn summary(out: &mut String, cases: &[TimedCase]) {
    out.push_str("## Summary\n\nSeconds of training to reach Adam-alone's final ELBO:\n\n");
    for timed in cases {
        let target = adam_target(timed);
        let cells: Vec<String> = timed
            .runs
            .iter()
            .map(|r| {
                let s = r
                    .seconds_to(target)
                    .map_or("not reached".into(), |s| format!("{s:.3} s"));
                format!("{} {s} (of {:.2} s)", r.run.method.label(), r.seconds())
            })
            .collect();
        let _ = writeln!(out, "- {}: {}.", timed.case.key, cells.join("; "));
    }
}

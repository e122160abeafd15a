//! The `svgp` command line: fit, predict and evaluate sparse variational GPs on CSV files.
//! Thin: every option maps to a library call; errors are printed with their chain and exit 1
//! (2 for a usage error, from clap).

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use nalgebra::DMatrix;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use svgp::data::{Categorical, ClassLabels, CsvOptions, Missing};
use svgp::kernel::KernelFamily;
use svgp::model::{Metrics, Svgp};
use svgp::optim::Xi;
use svgp::optim::{IterReport, Observer, QUpdate, StopReason, Trace};
use svgp::plot;
use svgp::tabular::SavedModel;
use svgp::tabular::{self, Checkpointing, FitOptions, LikelihoodChoice, StreamOptions};
use svgp_cli::reproduce::ReproduceOptions;

mod cells;
mod stop;

#[derive(Parser)]
#[command(
    name = "svgp",
    version,
    about = "Sparse variational Gaussian processes trained by natural gradients"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a model to a CSV file (header row; target column default `y` or the last), or stream
    /// a binary table written by `svgp convert`.
    ///
    /// Every cell read must be a number unless options say otherwise: a file with text or
    /// missing cells is refused at the first one, with every text column and the rows with
    /// missing cells of the whole file, and the options that read them (--categorical,
    /// --missing drop, --target with --likelihood for class labels).
    Fit(FitArgs),
    /// Convert a CSV file to the binary table `svgp fit` streams (one row in memory at a time).
    Convert(ConvertArgs),
    /// Predict with a saved model: mean and variance (or class probability) per row.
    Predict {
        /// Model file written by `svgp fit --output`.
        #[arg(long)]
        model: PathBuf,
        /// CSV with the model's feature columns (a target column, if present, is ignored).
        #[arg(long)]
        data: PathBuf,
        /// Write predictions here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        format: CsvFormat,
    },
    /// Evaluate a saved model on a labelled CSV file.
    Evaluate {
        /// Model file written by `svgp fit --output`.
        #[arg(long)]
        model: PathBuf,
        /// CSV with the model's feature and target columns.
        #[arg(long)]
        data: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Rows with a missing cell in a used column: refuse the file, or leave them out.
        #[arg(long, value_enum, default_value = "refuse")]
        missing: MissingArg,
        #[command(flatten)]
        format: CsvFormat,
    },
    /// Regenerate the evidence of Salimbeni et al. (2018) on the shipped datasets: writes
    /// DIR/REPORT.md (exactness, natgrad vs Adam, stability over γ, comparison with the paper)
    /// and its figures.
    Reproduce {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Small budgets (under a minute) instead of the full run (minutes).
        #[arg(long)]
        quick: bool,
        /// Seed of every subsample, split, inducing-input start and batch order.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Directory holding the shipped CSV datasets.
        #[arg(long, default_value = "datasets")]
        datasets: PathBuf,
        /// Write DIR/TIMING.md (ELBO against wall-clock seconds, which vary by run) and its
        /// figures instead of REPORT.md.
        #[arg(long)]
        timing: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LikelihoodArg {
    Gaussian,
    Bernoulli,
    StudentT,
    Poisson,
    /// C classes (from the data), one latent GP each, robust-max (GPflow's MultiClass).
    Robustmax,
    /// C classes (from the data), one latent GP each, softmax.
    Softmax,
    /// Gaussian noise whose scale is a second latent GP: y ~ N(f, exp(g)²).
    Heteroscedastic,
}

#[derive(Clone, Copy, ValueEnum)]
enum KernelArg {
    Se,
    Matern12,
    Matern32,
    Matern52,
}

#[derive(Clone, Copy, ValueEnum)]
enum XiArg {
    Natural,
    Expectation,
    Meansqrt,
}

/// How a CSV file's cells are separated.
#[derive(clap::Args)]
struct CsvFormat {
    /// Field delimiter: one character such as `,` `;` `|`, or `tab` (default: detected from
    /// the header line, `;` or tab when unambiguous, else `,`).
    #[arg(long, value_parser = parse_delimiter)]
    delimiter: Option<u8>,
}

/// The byte of a `--delimiter` value: one ASCII character, or `tab` / `\t`.
fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err("expected one character such as , ; | or tab".to_string()),
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum MissingArg {
    /// Refuse a file with a missing cell, naming its line and column.
    Refuse,
    /// Leave out rows with a missing cell in a used column, and report how many.
    Drop,
}

/// The library's choice for missing cells.
fn missing(arg: MissingArg) -> Missing {
    match arg {
        MissingArg::Refuse => Missing::Refuse,
        MissingArg::Drop => Missing::Drop,
    }
}

/// Which CSV columns are the target and the features, and how the file is read.
#[derive(clap::Args)]
struct Columns {
    /// Target column (default: `y`, else the last column); several, comma-separated or
    /// repeated, for several outputs (Gaussian, CSV only).
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// Feature columns, comma-separated (default: all but the target).
    #[arg(long, value_delimiter = ',')]
    features: Option<Vec<String>>,
    /// Cells that are empty, `NA`, `N/A`, `NaN` or `?` in a used column: refuse the file, or
    /// drop their rows.
    #[arg(long, value_enum, default_value = "refuse")]
    missing: MissingArg,
    /// Text feature columns to one-hot encode, comma-separated (one indicator `column=level`
    /// per level), or `auto` for every feature column with no numeric cell.
    #[arg(long)]
    categorical: Option<String>,
    #[command(flatten)]
    format: CsvFormat,
}

impl Columns {
    /// The library's CSV options.
    fn options(&self) -> CsvOptions {
        CsvOptions {
            target: self.target.first().cloned(),
            extra_targets: self.target.iter().skip(1).cloned().collect(),
            features: self.features.clone(),
            delimiter: self.format.delimiter,
            missing: missing(self.missing),
            categorical: match self.categorical.as_deref() {
                None => Categorical::None,
                Some("auto") => Categorical::Auto,
                Some(list) => Categorical::Columns(list.split(',').map(str::to_string).collect()),
            },
            classes: ClassLabels::None,
        }
    }
}

#[derive(clap::Args)]
struct ConvertArgs {
    /// The CSV file.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    columns: Columns,
    /// The binary table to write (atomically), conventionally `*.svgpb`.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct FitArgs {
    /// Training CSV file, or a binary table from `svgp convert` (recognised by its first bytes),
    /// which is streamed from disk in shuffled blocks.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    columns: Columns,
    #[arg(long, value_enum, default_value = "gaussian")]
    likelihood: LikelihoodArg,
    #[arg(long, value_enum, default_value = "se")]
    kernel: KernelArg,
    /// One kernel per latent GP (each class, the heteroscedastic mean and noise, each output)
    /// instead of one shared by all.
    #[arg(long)]
    kernel_per_latent: bool,
    /// Number of inducing inputs M (k-means++ on the training inputs).
    #[arg(long, default_value_t = 50)]
    inducing: usize,
    /// Minibatch size B (the full batch when ≥ N).
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    #[arg(long, default_value_t = 1000)]
    iterations: u64,
    /// Binary tables only: train for this many passes over the training rows instead of
    /// `--iterations`.
    #[arg(long)]
    epochs: Option<u64>,
    /// Parametrisation of the natural-gradient step.
    #[arg(long, value_enum, default_value = "natural")]
    parametrisation: XiArg,
    /// Constant natural-gradient step size (default: 1 for Gaussian full batch, else a ramp 1e-4 → 0.1).
    #[arg(long)]
    gamma: Option<f64>,
    /// Adam learning rate for the hyperparameters and Z.
    #[arg(long, default_value_t = 0.01)]
    adam_lr: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of rows held out for test metrics.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Write plots here (PNG): the ELBO trace, and the fit (1-D), the class probabilities (2-D
    /// classification), a calibration diagram (classification with other input counts) or
    /// predicted vs observed (regression with more inputs).
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Save the trained model here (atomically).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Write a checkpoint here (atomically) every `--checkpoint-every` iterations and when
    /// training stops; `--resume` continues from it exactly.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Iterations between checkpoints.
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// Continue from a checkpoint written with the same data and options; `--iterations`
    /// (or `--epochs`) counts from the start of the original fit.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Print one JSON object on standard output instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// An indicatif bar on stderr showing iteration, ELBO and γ.
struct Progress(ProgressBar);

impl Observer for Progress {
    fn on_iter(&mut self, _model: &Svgp, report: &IterReport) -> svgp::Result<()> {
        self.0.set_position(report.iteration);
        let gamma = match report.update {
            QUpdate::Natural { gamma, .. } => format!("{gamma:.2e}"),
            QUpdate::Kept { .. } => "kept".to_string(),
            QUpdate::Adam => "adam".to_string(),
        };
        self.0
            .set_message(format!("ELBO {:.3}  γ {gamma}", report.elbo));
        Ok(())
    }
    fn on_finish(&mut self, _model: &Svgp, _reason: StopReason) -> svgp::Result<()> {
        self.0.finish_and_clear();
        Ok(())
    }
}

fn metric_fields(m: &Metrics) -> Vec<(&'static str, f64)> {
    let mut out = Vec::new();
    if let Some(r) = m.rmse {
        out.push(("test_rmse", r));
    }
    if let Some(a) = m.accuracy {
        out.push(("test_accuracy", a));
    }
    out.push(("test_nlpd", m.nlpd));
    if let Some(b) = m.brier {
        out.push(("test_brier", b));
    }
    out
}

/// Each output's test metrics, for several outputs: `test_outputs`, one object per output with
/// its target name, RMSE and NLPD (in the target's units).
fn output_fields(m: &Metrics, saved: &SavedModel) -> Option<(&'static str, serde_json::Value)> {
    if m.outputs.is_empty() {
        return None;
    }
    let names = std::iter::once(&saved.target_name).chain(&saved.extra_targets);
    let objects = names
        .zip(&m.outputs)
        .map(|(name, o)| serde_json::json!({ "target": name, "rmse": o.rmse, "nlpd": o.nlpd }));
    Some(("test_outputs", objects.collect()))
}

/// The target column's name, or every target's for several outputs.
fn target_field(saved: &SavedModel) -> serde_json::Value {
    match saved.extra_targets.is_empty() {
        true => saved.target_name.clone().into(),
        false => std::iter::once(&saved.target_name)
            .chain(&saved.extra_targets)
            .map(|t| serde_json::Value::from(t.as_str()))
            .collect(),
    }
}

/// The library's likelihood choice for the command line's.
fn fit_options_likelihood(arg: LikelihoodArg) -> LikelihoodChoice {
    match arg {
        LikelihoodArg::Gaussian => LikelihoodChoice::Gaussian,
        LikelihoodArg::Bernoulli => LikelihoodChoice::Bernoulli,
        LikelihoodArg::StudentT => LikelihoodChoice::StudentT,
        LikelihoodArg::Poisson => LikelihoodChoice::Poisson,
        LikelihoodArg::Robustmax => LikelihoodChoice::RobustMax,
        LikelihoodArg::Softmax => LikelihoodChoice::Softmax,
        LikelihoodArg::Heteroscedastic => LikelihoodChoice::Heteroscedastic,
    }
}

/// The library's options from the command line's, stopping at the iteration boundary after
/// `stop` is set.
fn fit_options(args: &FitArgs, stop: &stop::StopFlags) -> FitOptions {
    FitOptions {
        likelihood: fit_options_likelihood(args.likelihood),
        kernel: match args.kernel {
            KernelArg::Se => KernelFamily::SquaredExponential,
            KernelArg::Matern12 => KernelFamily::Matern12,
            KernelArg::Matern32 => KernelFamily::Matern32,
            KernelArg::Matern52 => KernelFamily::Matern52,
        },
        kernel_per_latent: args.kernel_per_latent,
        num_inducing: args.inducing,
        batch_size: args.batch_size,
        iterations: args.iterations,
        xi: match args.parametrisation {
            XiArg::Natural => Xi::Natural,
            XiArg::Expectation => Xi::Expectation,
            XiArg::Meansqrt => Xi::MeanCholesky,
        },
        gamma: args.gamma,
        adam_learning_rate: args.adam_lr,
        seed: args.seed,
        test_fraction: args.test_fraction,
        checkpoint: args.checkpoint.clone().map(|path| Checkpointing {
            path,
            every: args.checkpoint_every.max(1),
        }),
        resume: args.resume.clone(),
        interrupt: Some(stop.stop),
    }
}

/// `Ok` for a fit that ran to its end, else the exit code of a signal's stop (its files are
/// written and its summary printed by then).
fn finished(
    report: &tabular::FitReport,
    stop: &stop::StopFlags,
) -> Result<(), Box<dyn std::error::Error>> {
    match report.stop_reason {
        StopReason::Interrupted => Err(Box::new(stop::Interrupted {
            code: stop.exit_code(),
        })),
        _ => Ok(()),
    }
}

/// The progress bar of `fit` (hidden with `--quiet` or when stderr is not a terminal).
fn progress(args: &FitArgs, iterations: u64) -> Result<Progress, Box<dyn std::error::Error>> {
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        ProgressBar::new(iterations)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise}]")
            .map_err(|e| e.to_string())?,
    );
    Ok(Progress(bar))
}
/// The fields `fit` prints, in order.
fn fit_fields(report: &tabular::FitReport, seconds: f64) -> Vec<(&'static str, serde_json::Value)> {
    let mut fields: Vec<(&str, serde_json::Value)> = vec![
        ("iterations", report.iterations.into()),
        ("elbo", report.elbo.into()),
        ("seconds", seconds.into()),
        ("train_seconds", report.train_seconds.into()),
        ("num_data", report.num_data.into()),
        ("num_inducing", report.saved.model.num_inducing().into()),
        ("target", target_field(&report.saved)),
        ("features", report.saved.feature_names.clone().into()),
        ("shortened_steps", report.shortened_steps.into()),
        ("stop_reason", format!("{:?}", report.stop_reason).into()),
    ];
    if let Some(path) = &report.checkpoint {
        fields.push(("checkpoint", path.display().to_string().into()));
    }
    if let Some(m) = &report.test {
        fields.extend(metric_fields(m).into_iter().map(|(k, v)| (k, v.into())));
        fields.extend(output_fields(m, &report.saved));
    }
    fields
}

/// Prints `fields` as one JSON object or as aligned text (strings unquoted), then the saved
/// model's path.
///
/// # Errors
/// A failed write to standard output (a closed pipe is handled in `main`).
fn print_fields(
    fields: Vec<(&str, serde_json::Value)>,
    json: bool,
    saved: Option<&PathBuf>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        writeln!(out, "{}", serde_json::Value::Object(object))?;
    } else {
        for (k, v) in fields {
            match v {
                serde_json::Value::String(text) => writeln!(out, "{k:>16}: {text}")?,
                serde_json::Value::Array(items) if items.iter().all(|i| i.is_object()) => {
                    for item in items {
                        writeln!(out, "{k:>16}: {}", object_text(&item))?
                    }
                }
                serde_json::Value::Array(items) => {
                    let texts: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().map_or(i.to_string(), str::to_string))
                        .collect();
                    writeln!(out, "{k:>16}: {}", texts.join(","))?
                }
                v => writeln!(out, "{k:>16}: {v}")?,
            }
        }
        if let Some(path) = saved {
            writeln!(out, "{:>16}: {}", "saved", path.display())?;
        }
    }
    out.flush()
}

/// A JSON object as `key=value` pairs (strings unquoted), `target` first.
fn object_text(item: &serde_json::Value) -> String {
    let mut entries: Vec<_> = item.as_object().into_iter().flatten().collect();
    entries.sort_by_key(|(k, _)| k.as_str() != "target");
    let pairs = entries.into_iter().map(|(k, v)| match v {
        serde_json::Value::String(text) => format!("{k}={text}"),
        v => format!("{k}={v}"),
    });
    pairs.collect::<Vec<_>>().join(" ")
}

fn fit(args: FitArgs) -> Result<(), Box<dyn std::error::Error>> {
    if svgp::data::is_binary_file(&args.data)? {
        return fit_streamed(args);
    }
    if args.epochs.is_some() {
        return Err(
            "--epochs applies to binary tables (from `svgp convert`); use --iterations".into(),
        );
    }
    let start = Instant::now();
    let mut csv = args.columns.options();
    if fit_options_likelihood(args.likelihood).is_multiclass() {
        csv.classes = ClassLabels::Auto; // labels as they are, classes in sorted order
    }
    let table = (csv.read(&args.data)).map_err(|e| cells::explained(e, &csv, &args.data))?;
    let stop = stop::install()?;
    let options = fit_options(&args, &stop);
    let mut progress = progress(&args, args.iterations)?;
    let mut trace = Trace::default();
    let report = tabular::fit(&table, &options, &mut [&mut progress, &mut trace])?;
    if let Some(path) = &args.output {
        report.saved.save(path)?;
    }
    let plots = match &args.plots {
        Some(dir) => write_plots(dir, &report.saved, &table, &whole_trace(&report, trace))?,
        None => Vec::new(),
    };
    let seconds = start.elapsed().as_secs_f64();
    let mut fields = fit_fields(&report, seconds);
    fields.push(("rows_dropped", table.rows_dropped.into()));
    if args.json && !plots.is_empty() {
        let names: Vec<String> = plots.iter().map(|p| p.display().to_string()).collect();
        fields.push(("plots", names.into()));
    }
    print_fields(fields, args.json, args.output.as_ref())?;
    if !args.json {
        let mut out = std::io::stdout().lock();
        for path in &plots {
            writeln!(out, "{:>16}: {}", "plot", path.display())?;
        }
    }
    finished(&report, &stop)
}

/// The trace of the whole fit: after a resume, the iterations before it come from the
/// checkpoint's ELBO trace (their step sizes are not kept, so none is marked as shortened).
fn whole_trace(report: &tabular::FitReport, resumed: Trace) -> Trace {
    let first = resumed
        .reports
        .first()
        .map_or(report.iterations + 1, |r| r.iteration);
    let earlier = report
        .elbo_trace
        .iter()
        .take(first.saturating_sub(1) as usize);
    let mut reports: Vec<IterReport> = earlier
        .enumerate()
        .map(|(i, &elbo)| IterReport {
            iteration: i as u64 + 1,
            elbo,
            update: QUpdate::Natural {
                gamma: f64::NAN,
                halvings: 0,
            },
            elapsed: std::time::Duration::ZERO,
        })
        .collect();
    reports.extend(resumed.reports);
    Trace { reports }
}

/// Writes the ELBO trace and the plots that apply to the data into `dir` (created if missing):
/// the fit with ±2σ bands (one input, regression; the heteroscedastic panel for that
/// likelihood), the class-probability map (two inputs, binary classification), predicted
/// against observed (regression, more inputs) or a calibration diagram (binary classification,
/// other input counts); for C-class models, the confusion matrix and, with two inputs, the class
/// map. Returns the files written.
fn write_plots(
    dir: &std::path::Path,
    saved: &SavedModel,
    table: &svgp::data::Table,
    trace: &Trace,
) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let elbo = dir.join("elbo.png");
    plot::elbo_traces(&elbo, &[("natgrad + Adam", &trace.reports)], false)?;
    let (x, y) = (&table.x, &table.y);
    let kind = plot::DataPlot::choose(saved, x.ncols());
    let mut plots = vec![dir.join(kind.file_name())];
    kind.draw(&plots[0], saved, x, y)?;
    if kind == plot::DataPlot::ClassMap2d {
        let confusion = plot::DataPlot::Confusion;
        plots.push(dir.join(confusion.file_name()));
        confusion.draw(&plots[1], saved, x, y)?;
    }
    plots.push(elbo);
    Ok(plots)
}

/// `fit` on a binary table: streamed training, then the same report (with rows per second) and
/// the same model file as for a CSV.
fn fit_streamed(args: FitArgs) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let file = svgp::data::BinaryFile::open(&args.data)?;
    let header = file.header();
    if let Some(t) = (args.columns.target.iter()).find(|t| **t != header.target_name) {
        return Err(format!(
            "--target {t:?}: {} is a binary table whose target is {:?}; choose columns when converting",
            args.data.display(),
            header.target_name
        )
        .into());
    }
    let c = &args.columns;
    let csv_only = c.features.is_some()
        || args.plots.is_some()
        || c.format.delimiter.is_some()
        || c.categorical.is_some()
        || matches!(c.missing, MissingArg::Drop);
    if csv_only {
        return Err(format!(
            "--features, --plots, --delimiter, --categorical and --missing apply to CSV files; \
             {} is a binary table (choose columns and drop rows when converting)",
            args.data.display()
        )
        .into());
    }
    let stop = stop::install()?;
    let options = fit_options(&args, &stop);
    let stream = StreamOptions {
        epochs: args.epochs,
        ..StreamOptions::default()
    };
    let mut progress = progress(&args, tabular::planned_iterations(&file, &options, &stream))?;
    let report = tabular::fit_binary(&file, &options, &stream, &mut [&mut progress])?;
    if let Some(path) = &args.output {
        report.saved.save(path)?;
    }
    let mut fields = fit_fields(&report, start.elapsed().as_secs_f64());
    fields.push(("rows_trained", report.rows_trained.into()));
    fields.push((
        "rows_per_second",
        (report.rows_trained as f64 / report.train_seconds).into(),
    ));
    print_fields(fields, args.json, args.output.as_ref())?;
    finished(&report, &stop)
}

/// `convert`: CSV → binary table, one row in memory at a time.
fn convert(args: ConvertArgs) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let converted = args.columns.options().convert(&args.data, &args.out)?;
    let header = &converted.header;
    let fields: Vec<(&str, serde_json::Value)> = vec![
        ("rows", header.num_rows.into()),
        ("features", header.num_features().into()),
        ("target", header.target_name.clone().into()),
        ("rows_dropped", converted.rows_dropped.into()),
        ("seconds", start.elapsed().as_secs_f64().into()),
        ("written", args.out.display().to_string().into()),
    ];
    print_fields(fields, args.json, None)?;
    Ok(())
}

/// The predictions a model makes for a data file, handed to a sink a chunk at a time.
type PredictionSink<'a> = dyn FnMut(&DMatrix<f64>, &DMatrix<f64>) -> svgp::Result<()> + 'a;

/// `predict`: reads the data (a binary table, or CSV with the model's feature columns) a chunk
/// at a time and writes rows as they are made: `mean,variance` (regression),
/// `probability,variance` (binary), one probability column per class headed by its label and
/// the most probable label (C classes), or `<target>_mean,<target>_variance` per output.
fn predict(
    model: PathBuf,
    data: PathBuf,
    output: Option<PathBuf>,
    format: CsvFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    let saved = SavedModel::load(&model)?;
    let binary_table = svgp::data::is_binary_file(&data)?;
    let options = CsvOptions {
        delimiter: format.delimiter,
        ..CsvOptions::default()
    };
    let produce = |sink: &mut PredictionSink| match binary_table {
        true => {
            let file = svgp::data::BinaryFile::open(&data)?;
            tabular::predict_binary(&saved, &file, STREAM_CHUNK_ROWS, sink)
        }
        false => tabular::predict_csv(&saved, &options, &data, STREAM_CHUNK_ROWS, sink),
    };
    let layout = PredictionLayout::of(&saved);
    match output {
        Some(path) => {
            let file =
                std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let written = write_predictions(std::io::BufWriter::new(file), &layout, produce);
            if written.is_err() {
                let _ = std::fs::remove_file(&path); // no partial predictions left behind
            }
            written
        }
        None => write_predictions(std::io::stdout().lock(), &layout, produce),
    }
}

/// The columns `predict` writes for a model.
enum PredictionLayout {
    /// `mean,variance` or `probability,variance`: one predictive mean and variance per row.
    Scalar(&'static str),
    /// One probability per class, then the most probable class's label.
    Classes(Vec<String>),
    /// `<target>_mean,<target>_variance` for each of several outputs.
    Outputs(Vec<String>),
}

impl PredictionLayout {
    fn of(saved: &SavedModel) -> Self {
        match saved.model.likelihood().num_classes() {
            Some(2) if saved.model.num_latent() == 1 => Self::Scalar("probability,variance"),
            Some(c) => Self::Classes(
                saved
                    .classes
                    .clone()
                    .unwrap_or_else(|| (0..c).map(|k| k.to_string()).collect()),
            ),
            None if saved.extra_targets.is_empty() => Self::Scalar("mean,variance"),
            None => Self::Outputs(
                std::iter::once(&saved.target_name)
                    .chain(&saved.extra_targets)
                    .cloned()
                    .collect(),
            ),
        }
    }

    fn header(&self) -> String {
        match self {
            Self::Scalar(header) => header.to_string(),
            Self::Classes(labels) => {
                let mut fields: Vec<String> = labels.iter().map(|l| csv_field(l)).collect();
                fields.push("predicted".into());
                fields.join(",")
            }
            Self::Outputs(names) => (names.iter())
                .map(|n| {
                    format!(
                        "{},{}",
                        csv_field(&format!("{n}_mean")),
                        csv_field(&format!("{n}_variance"))
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Row i of a chunk's predictions (`mean`, `var`: b×P).
    fn row(&self, mean: &DMatrix<f64>, var: &DMatrix<f64>, i: usize) -> String {
        match self {
            Self::Scalar(_) => format!("{},{}", mean[(i, 0)], var[(i, 0)]),
            Self::Classes(labels) => {
                let p = mean.row(i);
                let best = p.transpose().argmax().0;
                let mut fields: Vec<String> = p.iter().map(|v| v.to_string()).collect();
                fields.push(csv_field(&labels[best]));
                fields.join(",")
            }
            Self::Outputs(_) => (0..mean.ncols())
                .map(|p| format!("{},{}", mean[(i, p)], var[(i, p)]))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes the layout's header, then one line per prediction `produce` hands over. A write error
/// stops `produce` and is returned as it is (a closed pipe ends quietly).
fn write_predictions(
    mut out: impl Write,
    layout: &PredictionLayout,
    produce: impl FnOnce(&mut PredictionSink) -> svgp::Result<()>,
) -> Result<(), Box<dyn std::error::Error>> {
    writeln!(out, "{}", layout.header())?;
    let mut failed: Option<std::io::Error> = None;
    let produced = produce(&mut |mean, var| {
        let written =
            (0..mean.nrows()).try_for_each(|i| writeln!(out, "{}", layout.row(mean, var, i)));
        written.map_err(|e| {
            let stop = svgp::SvgpError::Io {
                path: "the predictions".into(),
                reason: e.to_string(),
            };
            failed = Some(e);
            stop
        })
    });
    if let Some(e) = failed {
        return Err(Box::new(e));
    }
    produced?;
    out.flush()?;
    Ok(())
}

/// Rows per chunk when `predict` and `evaluate` read their data.
const STREAM_CHUNK_ROWS: usize = 8192;

fn reproduce(options: ReproduceOptions) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let summary = svgp_cli::reproduce::reproduce(&options, &mut |stage| {
        eprintln!("[{:>6.1} s] {stage}", start.elapsed().as_secs_f64());
    })?;
    eprintln!("[{:>6.1} s] done", start.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    writeln!(out, "report: {}", summary.report.display())?;
    for figure in &summary.figures {
        writeln!(out, "figure: {}", figure.display())?;
    }
    // NaN with --timing, which does not run the exactness check
    if !summary.worst_exactness_gap.is_nan() {
        writeln!(
            out,
            "largest one-step exactness gap (θ): {:.1e}",
            summary.worst_exactness_gap
        )?;
    }
    Ok(())
}

fn evaluate(
    model: PathBuf,
    data: PathBuf,
    json: bool,
    missing: MissingArg,
    format: CsvFormat,
) -> Result<(), Box<dyn std::error::Error>> {
    let saved = SavedModel::load(&model)?;
    let (metrics, rows_dropped) = if svgp::data::is_binary_file(&data)? {
        let file = svgp::data::BinaryFile::open(&data)?;
        (
            tabular::evaluate_binary(&saved, &file, STREAM_CHUNK_ROWS)?,
            0,
        )
    } else {
        let options = CsvOptions {
            delimiter: format.delimiter,
            missing: self::missing(missing),
            classes: saved
                .classes
                .clone()
                .map_or(ClassLabels::None, ClassLabels::Given),
            ..CsvOptions::default()
        };
        tabular::evaluate_csv(&saved, &options, &data, STREAM_CHUNK_ROWS)?
    };
    let mut fields: Vec<(&str, serde_json::Value)> = metric_fields(&metrics)
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    fields.extend(output_fields(&metrics, &saved));
    if rows_dropped > 0 {
        fields.push(("rows_dropped", rows_dropped.into()));
    }
    print_fields(fields, json, None)?;
    Ok(())
}

/// The flag of `svgp fit` that sets a field of the library's [`FitOptions`].
fn flag_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "num_inducing" => "--inducing",
        "batch_size" => "--batch-size",
        "iterations" => "--iterations",
        "adam_learning_rate" => "--adam-lr",
        "test_fraction" => "--test-fraction",
        "gamma" => "--gamma",
        "resume" => "--resume",
        "seed" => "--seed",
        "delimiter" => "--delimiter",
        "categorical" => "--categorical",
        _ => return None,
    })
}

/// The error's message, with a library parameter the command line sets named by its flag.
fn with_flag_names(e: &(dyn std::error::Error + 'static)) -> String {
    match e.downcast_ref::<svgp::SvgpError>() {
        Some(svgp::SvgpError::InvalidParameter {
            name,
            value,
            reason,
        }) => match flag_of(name) {
            Some(flag) => format!("invalid value {value} for {flag}: {reason}"),
            None => e.to_string(),
        },
        Some(svgp::SvgpError::TooFewRows {
            path,
            name,
            value,
            rows,
        }) => match flag_of(name) {
            Some(flag) => format!(
                "{path}: {flag} {value} exceeds the number of training rows, {rows} (after the test hold-out)"
            ),
            None => e.to_string(),
        },
        _ => e.to_string(),
    }
}

/// Whether `e` is a write to a standard output whose reader has gone.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fit(args) => fit(args),
        Command::Convert(args) => convert(args),
        Command::Predict {
            model,
            data,
            output,
            format,
        } => predict(model, data, output, format),
        Command::Evaluate {
            model,
            data,
            json,
            missing,
            format,
        } => evaluate(model, data, json, missing, format),
        Command::Reproduce {
            out,
            quick,
            seed,
            datasets,
            timing,
        } => reproduce(ReproduceOptions {
            out_dir: out,
            datasets_dir: datasets,
            quick,
            seed,
            timing,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<stop::Interrupted>() => {
            let code = e
                .downcast_ref::<stop::Interrupted>()
                .map_or(130, |i| i.code);
            ExitCode::from(code)
        }
        // A reader that stops early (`svgp fit … | head -3`) is not a failure.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", with_flag_names(e.as_ref()));
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

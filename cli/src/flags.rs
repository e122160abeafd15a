//! The flags of every command: clap argument groups; the settings the library names
//! (likelihood, kernel, ξ) read with its parser and defaults (`tabular::FitOptions`); the
//! command line's own value types (missing cells, delimiter) and their mapping to the library's
//! options; and the flag behind each library parameter for error messages. The commands read
//! their settings only through this file.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::ValueEnum;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use svgp::data::{Categorical, ClassLabels, CsvOptions, Missing};
use svgp::kernel::KernelFamily;
use svgp::optim::Xi;
use svgp::tabular::{
    accepted_names, parse_name, Checkpointing, FitOptions, LikelihoodChoice, Named, SavedModel,
};
use svgp_cli::reproduce::ReproduceOptions;

/// The value parser of a setting the library chooses by name: reads with [`parse_name`], and the
/// help and a refusal list [`accepted_names`] (the names, then their aliases).
fn named<T: Named + Send + Sync>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(accepted_names::<T>()).try_map(|name| parse_name::<T>(&name))
}

/// `--missing`: what to do with rows that have a missing cell.
#[derive(Clone, Copy, ValueEnum)]
pub enum MissingArg {
    /// Refuse a file with a missing cell, naming its line and column.
    Refuse,
    /// Leave out rows with a missing cell in a used column, and report how many.
    Drop,
}

impl From<MissingArg> for Missing {
    fn from(arg: MissingArg) -> Self {
        match arg {
            MissingArg::Refuse => Self::Refuse,
            MissingArg::Drop => Self::Drop,
        }
    }
}

/// How a CSV file's cells are separated.
#[derive(clap::Args)]
pub struct CsvFormat {
    /// Field delimiter: one character such as `,` `;` `|`, or `tab` (default: detected from
    /// the header line, `;` or tab when unambiguous, else `,`).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
}

/// The byte of a `--delimiter` value: one ASCII character, or `tab` / `\t`.
fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err("expected one character such as , ; | or tab".to_string()),
    }
}

/// Which CSV columns are the target and the features, and how the file is read.
#[derive(clap::Args)]
pub struct Columns {
    /// Target column (default: `y`, else the last column); several, comma-separated or
    /// repeated, for several outputs (Gaussian, CSV only).
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
    /// Feature columns, comma-separated (default: all but the target).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Cells that are empty, `NA`, `N/A`, `NaN` or `?` in a used column: refuse the file, or
    /// drop their rows.
    #[arg(long, value_enum, default_value = "refuse")]
    pub missing: MissingArg,
    /// Text feature columns to one-hot encode, comma-separated (one indicator `column=level`
    /// per level), or `auto` for every feature column with no numeric cell.
    #[arg(long)]
    pub categorical: Option<String>,
    #[command(flatten)]
    pub format: CsvFormat,
}

impl Columns {
    /// The library's CSV options.
    pub fn options(&self) -> CsvOptions {
        CsvOptions {
            target: self.target.first().cloned(),
            extra_targets: self.target.iter().skip(1).cloned().collect(),
            features: self.features.clone(),
            delimiter: self.format.delimiter,
            missing: self.missing.into(),
            categorical: match self.categorical.as_deref() {
                None => Categorical::None,
                Some("auto") => Categorical::Auto,
                Some(list) => Categorical::Columns(list.split(',').map(str::to_string).collect()),
            },
            classes: ClassLabels::None,
        }
    }

    /// Whether a flag is set that only a CSV file can use: features, delimiter, categories or
    /// dropping rows (a binary table's columns and rows are chosen when converting).
    pub fn csv_only(&self) -> bool {
        self.features.is_some()
            || self.format.delimiter.is_some()
            || self.categorical.is_some()
            || matches!(self.missing, MissingArg::Drop)
    }
}

/// The flags of `svgp fit`.
#[derive(clap::Args)]
pub struct FitArgs {
    /// Training CSV file, or a binary table from `svgp convert` (recognised by its first bytes),
    /// which is streamed from disk in shuffled blocks.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub columns: Columns,
    /// The likelihood: `robustmax` and `softmax` fit C classes (from the data), one latent GP
    /// each, robust-max (GPflow's MultiClass) or softmax; `heteroscedastic` is Gaussian noise
    /// whose scale is a second latent GP, y ~ N(f, exp(g)²).
    #[arg(long, value_parser = named::<LikelihoodChoice>(), default_value_t = FitOptions::default().likelihood)]
    pub likelihood: LikelihoodChoice,
    #[arg(long, value_parser = named::<KernelFamily>(), default_value_t = FitOptions::default().kernel)]
    pub kernel: KernelFamily,
    /// One kernel per latent GP (each class, the heteroscedastic mean and noise, each output)
    /// instead of one shared by all.
    #[arg(long)]
    pub kernel_per_latent: bool,
    /// Number of inducing inputs M (k-means++ on the training inputs).
    #[arg(long, default_value_t = FitOptions::default().num_inducing)]
    pub inducing: usize,
    /// Minibatch size B (the full batch when ≥ N).
    #[arg(long, default_value_t = FitOptions::default().batch_size)]
    pub batch_size: usize,
    #[arg(long, default_value_t = FitOptions::default().iterations)]
    pub iterations: u64,
    /// Binary tables only: train for this many passes over the training rows instead of
    /// `--iterations`.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Parametrisation of the natural-gradient step.
    #[arg(long, value_parser = named::<Xi>(), default_value_t = FitOptions::default().xi)]
    pub parametrisation: Xi,
    /// Constant natural-gradient step size (default: 1 for Gaussian full batch, else a ramp 1e-4 → 0.1).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Adam learning rate for the hyperparameters and Z.
    #[arg(long, default_value_t = FitOptions::default().adam_learning_rate)]
    pub adam_lr: f64,
    #[arg(long, default_value_t = FitOptions::default().seed)]
    pub seed: u64,
    /// Fraction of rows held out for test metrics.
    #[arg(long, default_value_t = FitOptions::default().test_fraction)]
    pub test_fraction: f64,
    /// Write plots here (PNG): the ELBO trace, and the fit (1-D), the class probabilities (2-D
    /// classification), a calibration diagram (classification with other input counts) or
    /// predicted vs observed (regression with more inputs).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Save the trained model here (atomically).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Write a checkpoint here (atomically) every `--checkpoint-every` iterations and when
    /// training stops; `--resume` continues from it exactly.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Iterations between checkpoints.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    /// Continue from a checkpoint written with the same data and options; `--iterations`
    /// (or `--epochs`) counts from the start of the original fit.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Print one JSON object on standard output instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl FitArgs {
    /// The library's options, stopping at the iteration boundary after `interrupt` is set.
    pub fn options(&self, interrupt: &'static AtomicBool) -> FitOptions {
        FitOptions {
            likelihood: self.likelihood,
            kernel: self.kernel,
            kernel_per_latent: self.kernel_per_latent,
            num_inducing: self.inducing,
            batch_size: self.batch_size,
            iterations: self.iterations,
            xi: self.parametrisation,
            gamma: self.gamma,
            adam_learning_rate: self.adam_lr,
            seed: self.seed,
            test_fraction: self.test_fraction,
            checkpoint: self.checkpoint.clone().map(|path| Checkpointing {
                path,
                every: self.checkpoint_every.max(1),
            }),
            resume: self.resume.clone(),
            interrupt: Some(interrupt),
            ..FitOptions::default()
        }
    }

    /// The library's CSV options: the columns', with class labels read as they are (classes
    /// in sorted order) for a C-class likelihood.
    pub fn csv_options(&self) -> CsvOptions {
        let mut csv = self.columns.options();
        if self.likelihood.is_multiclass() {
            csv.classes = ClassLabels::Auto;
        }
        csv
    }
}

/// The flags of `svgp convert`.
#[derive(clap::Args)]
pub struct ConvertArgs {
    /// The CSV file.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub columns: Columns,
    /// The binary table to write (atomically), conventionally `*.svgpb`.
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The flags of `svgp predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model file written by `svgp fit --output`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with the model's feature columns (a target column, if present, is ignored).
    #[arg(long)]
    pub data: PathBuf,
    /// Write predictions here instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Also write K joint samples of y (Gaussian likelihoods), drawn from the full predictive
    /// covariance over all rows (noise included): columns sample_1 … sample_K, or
    /// <target>_sample_1 … per output, after the other columns. Every row is then read into
    /// memory and each output's N×N covariance takes 8·N² bytes (3.2 GB at the limit of
    /// 20 000 rows); more rows, or K·N·P above 20 000², are refused.
    #[arg(long, value_name = "K")]
    pub samples: Option<usize>,
    /// Seed of the samples: the same seed writes the same samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub format: CsvFormat,
}

impl PredictArgs {
    /// The library's CSV options: the delimiter.
    pub fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.format.delimiter,
            ..CsvOptions::default()
        }
    }
}

/// The flags of `svgp evaluate`.
#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// Model file written by `svgp fit --output`.
    #[arg(long)]
    pub model: PathBuf,
    /// CSV with the model's feature and target columns.
    #[arg(long)]
    pub data: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Rows with a missing cell in a used column: refuse the file, or leave them out.
    #[arg(long, value_enum, default_value = "refuse")]
    pub missing: MissingArg,
    #[command(flatten)]
    pub format: CsvFormat,
}

impl EvaluateArgs {
    /// The library's CSV options: the delimiter, the missing-cell rule and the saved model's
    /// class labels.
    pub fn csv_options(&self, saved: &SavedModel) -> CsvOptions {
        CsvOptions {
            delimiter: self.format.delimiter,
            missing: self.missing.into(),
            classes: (saved.classes.clone()).map_or(ClassLabels::None, ClassLabels::Given),
            ..CsvOptions::default()
        }
    }
}

/// The flags of `svgp reproduce`.
#[derive(clap::Args)]
pub struct ReproduceArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Small budgets (under a minute) instead of the full run (minutes).
    #[arg(long)]
    pub quick: bool,
    /// Seed of every subsample, split, inducing-input start and batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory holding the shipped CSV datasets.
    #[arg(long, default_value = "datasets")]
    pub datasets: PathBuf,
    /// Write DIR/TIMING.md (ELBO against wall-clock seconds, which vary by run) and its
    /// figures instead of REPORT.md.
    #[arg(long)]
    pub timing: bool,
}

impl From<ReproduceArgs> for ReproduceOptions {
    fn from(args: ReproduceArgs) -> Self {
        ReproduceOptions {
            out_dir: args.out,
            datasets_dir: args.datasets,
            quick: args.quick,
            seed: args.seed,
            timing: args.timing,
        }
    }
}

/// The flag of `svgp fit` that sets a field of the library's [`FitOptions`] or [`CsvOptions`].
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
pub fn with_flag_names(e: &(dyn std::error::Error + 'static)) -> String {
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

#[cfg(test)]
mod tests {
    use super::parse_delimiter;

    #[test]
    fn a_delimiter_is_one_ascii_character_or_a_name_for_tab() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        for tab in ["tab", "\\t", "\t"] {
            assert_eq!(parse_delimiter(tab), Ok(b'\t'));
        }
        for bad in ["", ";;", "é"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }
}

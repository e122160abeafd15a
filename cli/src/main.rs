//! The `svgp` command line: fit, predict and evaluate sparse variational GPs on CSV files.
//! Thin: every option maps to a library call; errors are printed with their chain and exit 1
//! (2 for a usage error, from clap). This file parses and dispatches: each command is a module,
//! the flags are in `flags.rs`.

use clap::{Parser, Subcommand};
use std::error::Error;
use std::process::ExitCode;

mod cells;
mod convert;
mod data_file;
mod evaluate;
mod fit;
mod flags;
mod output;
mod plots;
mod predict;
mod progress;
mod reproduce_command;
mod samples;
mod stop;
mod stream_fit;

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
    Fit(flags::FitArgs),
    /// Convert a CSV file to the binary table `svgp fit` streams (one row in memory at a time).
    Convert(flags::ConvertArgs),
    /// Predict with a saved model: mean and variance (or class probability) per row.
    Predict(flags::PredictArgs),
    /// Evaluate a saved model on a labelled CSV file.
    Evaluate(flags::EvaluateArgs),
    /// Regenerate the evidence of Salimbeni et al. (2018) on the shipped datasets: writes
    /// DIR/REPORT.md (exactness, natgrad vs Adam, stability over γ, comparison with the paper)
    /// and its figures.
    Reproduce(flags::ReproduceArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Fit(args) => fit::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Reproduce(args) => reproduce_command::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_code(e.as_ref()),
    }
}

/// The exit code of a command that failed: a signal's (a fit it stopped), success for a reader
/// that stopped early (`svgp fit … | head -3`), else 1 after printing the error and its chain
/// (a library parameter named by its flag).
fn exit_code(e: &(dyn Error + 'static)) -> ExitCode {
    if let Some(interrupted) = e.downcast_ref::<stop::Interrupted>() {
        return ExitCode::from(interrupted.code);
    }
    let broken_pipe = e.downcast_ref::<std::io::Error>();
    if broken_pipe.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", flags::with_flag_names(e));
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
    ExitCode::FAILURE
}

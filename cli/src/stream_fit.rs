//! `svgp fit` on a binary table written by `svgp convert`: streamed training, then the same
//! model file and summary as for a CSV file, with the rows trained and rows per second.

use crate::flags::FitArgs;
use crate::output::{fit_fields, print_fields};
use crate::progress::Progress;
use crate::stop;
use std::error::Error;
use svgp::data::{BinaryFile, BinaryHeader};
use svgp::tabular::{self, StreamOptions};

/// Streams the binary table `args.data` through training.
///
/// # Errors
/// Flags that apply to CSV files only, a `--target` other than the table's; the library's and
/// the files' errors; [`stop::Interrupted`] after a signal's stop.
pub fn run(args: FitArgs) -> Result<(), Box<dyn Error>> {
    let start = std::time::Instant::now();
    let file = BinaryFile::open(&args.data)?;
    check_flags(&args, file.header())?;
    let stop = stop::install()?;
    let options = args.options(stop.stop);
    let stream = StreamOptions {
        epochs: args.epochs,
        ..StreamOptions::default()
    };
    let iterations = tabular::planned_iterations(&file, &options, &stream);
    let mut progress = Progress::new(iterations, args.quiet)?;
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
    let saved: Vec<_> = args.output.iter().map(|p| ("saved", p.as_path())).collect();
    print_fields(fields, args.json, &saved)?;
    Ok(stop.outcome(report.stop_reason)?)
}

/// Refuses a `--target` other than the table's, and the flags that choose columns and rows of
/// a CSV file or plot it (a binary table's are chosen when converting).
fn check_flags(args: &FitArgs, header: &BinaryHeader) -> Result<(), Box<dyn Error>> {
    if let Some(t) = (args.columns.target.iter()).find(|t| **t != header.target_name) {
        return Err(format!(
            "--target {t:?}: {} is a binary table whose target is {:?}; choose columns when converting",
            args.data.display(),
            header.target_name
        )
        .into());
    }
    if args.columns.csv_only() || args.plots.is_some() {
        return Err(format!(
            "--features, --plots, --delimiter, --categorical and --missing apply to CSV files; \
             {} is a binary table (choose columns and drop rows when converting)",
            args.data.display()
        )
        .into());
    }
    Ok(())
}

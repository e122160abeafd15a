//! `svgp fit` on a CSV file, read into memory: training, then the model file, the plots and
//! the summary. A binary table goes to [`crate::stream_fit`].

use crate::data_file::DataFormat;
use crate::flags::FitArgs;
use crate::output::{fit_fields, print_fields};
use crate::progress::Progress;
use crate::{cells, plots, stop, stream_fit};
use std::error::Error;
use std::path::Path;
use std::time::Instant;
use svgp::optim::Trace;
use svgp::tabular;

/// Runs `svgp fit`: streamed for a binary table, else in memory.
///
/// # Errors
/// The data's, the library's and the files' errors; [`stop::Interrupted`] after a signal's stop.
pub fn run(args: FitArgs) -> Result<(), Box<dyn Error>> {
    match DataFormat::of(&args.data)? {
        DataFormat::BinaryTable => stream_fit::run(args),
        DataFormat::Csv => fit_csv(args),
    }
}

/// `svgp fit` on a CSV file: the summary adds the rows dropped and, as JSON, the plots.
fn fit_csv(args: FitArgs) -> Result<(), Box<dyn Error>> {
    if args.epochs.is_some() {
        return Err(
            "--epochs applies to binary tables (from `svgp convert`); use --iterations".into(),
        );
    }
    let start = Instant::now();
    let csv = args.csv_options();
    let table = (csv.read(&args.data)).map_err(|e| cells::explained(e, &csv, &args.data))?;
    let stop = stop::install()?;
    let options = args.options(stop.stop);
    let mut progress = Progress::new(args.iterations, args.quiet)?;
    let mut trace = Trace::default();
    let report = tabular::fit(&table, &options, &mut [&mut progress, &mut trace])?;
    if let Some(path) = &args.output {
        report.saved.save(path)?;
    }
    let plots = match &args.plots {
        Some(dir) => {
            let trace = plots::whole_trace(&report, trace);
            plots::write(dir, &report.saved, &table, &trace)?
        }
        None => Vec::new(),
    };
    let mut fields = fit_fields(&report, start.elapsed().as_secs_f64());
    fields.push(("rows_dropped", table.rows_dropped.into()));
    if args.json && !plots.is_empty() {
        let names: Vec<String> = plots.iter().map(|p| p.display().to_string()).collect();
        fields.push(("plots", names.into()));
    }
    let saved = args.output.iter().map(|p| ("saved", p.as_path()));
    let files: Vec<(&str, &Path)> = saved
        .chain(plots.iter().map(|p| ("plot", p.as_path())))
        .collect();
    print_fields(fields, args.json, &files)?;
    Ok(stop.outcome(report.stop_reason)?)
}

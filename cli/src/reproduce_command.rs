//! `svgp reproduce`: runs [`svgp_cli::reproduce`], its stages timed on standard error, and
//! prints the files it wrote.

use crate::flags::ReproduceArgs;
use std::error::Error;
use std::io::Write;
use std::time::Instant;
use svgp_cli::reproduce::{reproduce, ReproduceOptions};

/// Writes the report and its figures, then prints their paths and the largest one-step
/// exactness gap (not with `--timing`, which does not run the exactness check).
///
/// # Errors
/// The runs' and the files' errors; a failed write.
pub fn run(args: ReproduceArgs) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let summary = reproduce(&ReproduceOptions::from(args), &mut |stage| {
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

//! `svgp convert`: a CSV file to the binary table `svgp fit` streams.

use crate::flags::ConvertArgs;
use crate::output::{print_fields, Field};
use std::error::Error;
use std::time::Instant;

/// Converts `args.data` to `args.out`, one row in memory at a time, and prints what it wrote.
///
/// # Errors
/// The CSV reader's errors (file, line and column); a failed write.
pub fn run(args: ConvertArgs) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let converted = args.columns.options().convert(&args.data, &args.out)?;
    let header = &converted.header;
    let fields: Vec<Field> = vec![
        ("rows", header.num_rows.into()),
        ("features", header.num_features().into()),
        ("target", header.target_name.clone().into()),
        ("rows_dropped", converted.rows_dropped.into()),
        ("seconds", start.elapsed().as_secs_f64().into()),
        ("written", args.out.display().to_string().into()),
    ];
    print_fields(fields, args.json, &[])?;
    Ok(())
}

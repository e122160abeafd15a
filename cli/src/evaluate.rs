//! `svgp evaluate`: a saved model's test metrics on a labelled data file.

use crate::data_file::{DataFormat, CHUNK_ROWS};
use crate::flags::EvaluateArgs;
use crate::output::{print_fields, test_fields};
use std::error::Error;
use svgp::data::BinaryFile;
use svgp::tabular::{self, SavedModel};

/// Reads the data (a binary table, or CSV with the model's feature and target columns) a chunk
/// at a time and prints the metrics, and the rows dropped for missing cells if any.
///
/// # Errors
/// The model file's, the data's and the library's errors; a failed write.
pub fn run(args: EvaluateArgs) -> Result<(), Box<dyn Error>> {
    let saved = SavedModel::load(&args.model)?;
    let (metrics, rows_dropped) = match DataFormat::of(&args.data)? {
        DataFormat::BinaryTable => {
            let file = BinaryFile::open(&args.data)?;
            (tabular::evaluate_binary(&saved, &file, CHUNK_ROWS)?, 0)
        }
        DataFormat::Csv => {
            let options = args.csv_options(&saved);
            tabular::evaluate_csv(&saved, &options, &args.data, CHUNK_ROWS)?
        }
    };
    let mut fields = test_fields(&metrics, &saved);
    if rows_dropped > 0 {
        fields.push(("rows_dropped", rows_dropped.into()));
    }
    print_fields(fields, args.json, &[])?;
    Ok(())
}

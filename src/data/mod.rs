//! Data readers: CSV loading with exact error locations (and a survey of a whole file's text
//! and missing cells, so that one message can name every option a file needs),
//! standardisation, seeded splits, the `.svgpb` binary table streamed in shuffled minibatches
//! for data larger than memory, and atomic file writes.

mod atomic;
mod binary;
mod csv_categories;
mod csv_classes;
mod csv_file;
mod csv_lines;
mod csv_options;
mod csv_survey;
mod scale;
mod stream;

pub use atomic::write_atomically;
pub use binary::{
    convert_csv, is_binary_file, write_binary_file, BinaryFile, BinaryHeader, BinaryWriter,
    Converted, BINARY_VERSION, MAGIC,
};
pub use csv_classes::ClassLabels;
pub use csv_file::{read_csv, read_csv_from, CsvRows, Table};
pub use csv_lines::is_missing;
pub use csv_options::{Categorical, CsvOptions, Missing};
pub use csv_survey::{CellAt, CellSurvey, TextColumn};
pub use scale::{train_test_split, Moments, Standardiser};
pub use stream::{sample_rows, scan_rows, Batch, BatchStream, Holdout, RowSet, StreamConfig};

/// Rows `rows` of the N×P targets `y` (column-major, length N·P), as B×P column-major.
pub fn select_target_rows(
    y: &nalgebra::DVector<f64>,
    n: usize,
    rows: &[usize],
) -> nalgebra::DVector<f64> {
    let outputs = y.len() / n.max(1);
    nalgebra::DVector::from_iterator(
        rows.len() * outputs,
        (0..outputs).flat_map(|p| rows.iter().map(move |&i| y[p * n + i])),
    )
}

//! How `fit`, `predict` and `evaluate` tell the two data formats apart, and how many rows
//! `predict` and `evaluate` read at a time.

use std::path::Path;

/// Rows per chunk when `predict` and `evaluate` read their data.
pub const CHUNK_ROWS: usize = 8192;

/// The format of a data file, told by its first bytes.
pub enum DataFormat {
    /// A binary table written by `svgp convert`, read a block of rows at a time.
    BinaryTable,
    /// A CSV file with a header row.
    Csv,
}

impl DataFormat {
    /// The format of the file at `path`.
    ///
    /// # Errors
    /// `Io` naming the file when it cannot be opened or read.
    pub fn of(path: &Path) -> svgp::Result<Self> {
        Ok(match svgp::data::is_binary_file(path)? {
            true => Self::BinaryTable,
            false => Self::Csv,
        })
    }
}

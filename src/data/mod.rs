//! Tabular data: CSV loading with exact error locations.

mod csv_file;

pub use csv_file::{read_csv, Table};

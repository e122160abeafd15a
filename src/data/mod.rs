//! Tabular data: CSV loading with exact error locations, standardisation, seeded splits.

mod csv_file;
mod scale;

pub use csv_file::{read_csv, read_csv_from, Table};
pub use scale::{train_test_split, Standardiser};

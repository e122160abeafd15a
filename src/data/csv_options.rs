//! How a CSV file is to be read: the target and feature columns, the delimiter, what to do with
//! a missing cell, which columns are one-hot encoded and whether the target is a class label.
//! The readers (csv_file.rs, csv_survey.rs, binary.rs) and the one-hot encoding
//! (csv_categories.rs) take these settings and add their methods to [`CsvOptions`].

use super::csv_classes::ClassLabels;

/// What to do with a row holding a missing cell (empty, `NA`, `N/A`, `NaN` or `?`) in a chosen
/// column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Refuse the file, naming the line and column of the first missing cell (the default).
    #[default]
    Refuse,
    /// Leave the row out and count it ([`super::Table::rows_dropped`]).
    Drop,
}

/// Which feature columns are one-hot encoded when a table is read into memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Categorical {
    /// None: every feature cell must be a number (the default).
    #[default]
    None,
    /// Every feature column with at least one non-missing cell and no cell that reads as a
    /// number.
    Auto,
    /// The named columns.
    Columns(Vec<String>),
}

/// How a CSV file is read: which columns, which delimiter, what to do with missing cells.
/// `Default` reads as [`super::read_csv`] with no column named: target `y` (else the last
/// column), every other column a feature, the delimiter detected, missing cells refused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvOptions {
    /// The target column (default: `y` if present, else the last column).
    pub target: Option<String>,
    /// Further target columns, read as numbers after `target` (several outputs, in memory only;
    /// default none).
    pub extra_targets: Vec<String>,
    /// The feature columns, in order (default: every column but the target).
    pub features: Option<Vec<String>>,
    /// The field delimiter, one ASCII byte other than `"`, `\r` and `\n`. `None` detects it
    /// from the header line: `;` or tab when the header splits into two or more fields on that
    /// byte alone among `,`, `;` and tab; `,` otherwise.
    pub delimiter: Option<u8>,
    /// Missing cells: refused (default) or their rows dropped.
    pub missing: Missing,
    /// Feature columns one-hot encoded (default none), when reading into memory
    /// ([`CsvOptions::read`]): each becomes one indicator column `column=level` per level, in
    /// sorted order. A feature or target named `column=level` reads as that indicator in any
    /// case (how a saved model's features are read for prediction; a level not among a
    /// column's indicator features is an error).
    pub categorical: Categorical,
    /// Whether the target is a number (default) or a class label read as its class 0..C−1:
    /// labels found in the file ([`ClassLabels::Auto`], in memory only) or given in class order.
    pub classes: ClassLabels,
}

impl CsvOptions {
    /// Options choosing `target` and `features` (as [`super::read_csv`] takes them), the rest
    /// default.
    pub fn columns(target: Option<&str>, features: Option<&[&str]>) -> Self {
        CsvOptions {
            target: target.map(str::to_string),
            features: features.map(|f| f.iter().map(|s| s.to_string()).collect()),
            ..CsvOptions::default()
        }
    }
}

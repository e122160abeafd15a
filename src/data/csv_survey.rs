//! A survey of a whole CSV file for the cells a reading would refuse: every column read as
//! numbers that holds text, and the rows with a missing cell. Reading stops at the first such
//! cell; the survey lets one message name every option a file needs (a command line's
//! categorical columns, its dropping of rows with missing cells, a target of class labels).

use super::csv_lines::is_missing;
use super::csv_options::{Categorical, CsvOptions, Missing};
use crate::error::{Result, SvgpError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A cell of a CSV file: where it is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellAt {
    /// Its column's name in the header.
    pub name: String,
    /// Its text, trimmed.
    pub text: String,
    /// 1-based line where it starts (the header is line 1).
    pub line: u64,
    /// 1-based column.
    pub column: usize,
}

/// A column read as numbers that holds text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextColumn {
    /// Its first cell of text (neither a number nor missing).
    pub first: CellAt,
    /// Whether it is the target or a further target (text there is a class label, not a
    /// category of a feature).
    pub is_target: bool,
    /// Whether other cells of it read as numbers: a column of numbers with stray text, which
    /// [`Categorical::Auto`] leaves as numbers.
    pub has_numbers: bool,
}

/// What a CSV file holds, read as [`CsvOptions`] read it, that a reading into numbers refuses
/// ([`CsvOptions::survey`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CellSurvey {
    /// The name of the target column as chosen.
    pub target: String,
    /// Every column read as numbers that holds text in a row that is read, in file order. Feature
    /// columns the options one-hot encode are not listed: those named in
    /// [`Categorical::Columns`], and under [`Categorical::Auto`] those with no number.
    pub text_columns: Vec<TextColumn>,
    /// Rows with a missing cell (empty, `NA`, `N/A`, `NaN`, `?`) in a chosen column.
    pub rows_with_missing: u64,
    /// The first missing cell in a chosen column, in reading order.
    pub first_missing: Option<CellAt>,
}

impl CellSurvey {
    /// Whether the cell at `line`, `column` is one a reading stops at: the first text cell of a
    /// listed column, or the first missing cell.
    pub fn locates(&self, line: u64, column: usize) -> bool {
        let at = |cell: &CellAt| cell.line == line && cell.column == column;
        self.text_columns.iter().any(|t| at(&t.first))
            || self.first_missing.as_ref().is_some_and(at)
    }
}

/// A chosen cell of a record as [`CsvOptions::survey`] sees it.
#[derive(Debug, Clone)]
pub(super) struct Cell {
    /// Where it is and what it holds.
    pub(super) at: CellAt,
    /// Whether it is read as a number (not an indicator, nor a class label).
    pub(super) number: bool,
    /// Whether its column is the target or a further target.
    pub(super) target: bool,
}

impl CsvOptions {
    /// Surveys the file at `path` as these options read it: the columns read as numbers that
    /// hold text, and the rows with a missing cell in a chosen column. Under [`Missing::Drop`]
    /// the cells of those rows are not searched for text, as the reading leaves them out.
    ///
    /// # Errors
    /// `Io` if the file cannot be read; as [`CsvOptions::rows`] for the header (labels found in
    /// the file allowed); `Csv { line }` for a record the CSV parser refuses.
    pub fn survey(&self, path: impl AsRef<Path>) -> Result<CellSurvey> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| SvgpError::Io {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        self.survey_from(file, &name)
    }

    /// [`CsvOptions::survey`] of any reader; `name` is the file name used in messages.
    fn survey_from(&self, source: impl std::io::Read, name: &str) -> Result<CellSurvey> {
        let mut rows = self.open_rows(source, name)?;
        let mut survey = CellSurvey {
            target: rows.target_name.clone(),
            ..CellSurvey::default()
        };
        let mut found: BTreeMap<usize, TextColumn> = BTreeMap::new();
        let mut numeric: BTreeSet<usize> = BTreeSet::new();
        while let Some(cells) = rows.next_cells()? {
            if let Some(missing) = cells.iter().find(|c| is_missing(&c.at.text)) {
                survey.rows_with_missing += 1;
                survey
                    .first_missing
                    .get_or_insert_with(|| missing.at.clone());
                if self.missing == Missing::Drop {
                    continue;
                }
            }
            for cell in cells.iter().filter(|c| c.number && !is_missing(&c.at.text)) {
                if cell.at.text.parse::<f64>().is_ok() {
                    numeric.insert(cell.at.column);
                } else {
                    found.entry(cell.at.column).or_insert_with(|| TextColumn {
                        first: cell.at.clone(),
                        is_target: cell.target,
                        has_numbers: false,
                    });
                }
            }
        }
        for (column, text) in found.iter_mut() {
            text.has_numbers = numeric.contains(column);
        }
        survey.text_columns = (found.into_values())
            .filter(|t| t.is_target || !self.encodes(t))
            .collect();
        Ok(survey)
    }

    /// Whether [`CsvOptions::categorical`] one-hot encodes the feature column `text`.
    fn encodes(&self, text: &TextColumn) -> bool {
        match &self.categorical {
            Categorical::None => false,
            Categorical::Auto => !text.has_numbers,
            Categorical::Columns(list) => list.contains(&text.first.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "kind,x,size,y\n\
                         a,1,2,3\n\
                         b,NA,huge,4\n\
                         a,2,big,5\n\
                         \"c\nd\",3,4,six\n";

    fn survey(options: &CsvOptions) -> CellSurvey {
        options.survey_from(TABLE.as_bytes(), "t.csv").unwrap()
    }

    fn names(s: &CellSurvey) -> Vec<(&str, u64, usize, bool, bool)> {
        (s.text_columns.iter())
            .map(|t| {
                let f = &t.first;
                (
                    f.name.as_str(),
                    f.line,
                    f.column,
                    t.is_target,
                    t.has_numbers,
                )
            })
            .collect()
    }

    #[test]
    fn every_text_column_and_the_missing_cells_are_found() {
        let s = survey(&CsvOptions::default());
        assert_eq!(
            names(&s),
            [
                ("kind", 2, 1, false, false),
                ("size", 3, 3, false, true),
                ("y", 6, 4, true, true)
            ]
        );
        assert_eq!((s.target.as_str(), s.rows_with_missing), ("y", 1));
        let missing = s.first_missing.as_ref().unwrap();
        assert_eq!(
            (missing.text.as_str(), missing.line, missing.column),
            ("NA", 3, 2)
        );
        assert!(s.locates(2, 1) && s.locates(3, 2) && s.locates(3, 3));
        assert!(!s.locates(3, 1) && !s.locates(4, 3));
    }

    #[test]
    fn encoded_columns_labels_and_dropped_rows_are_not_listed() {
        let auto = CsvOptions {
            categorical: Categorical::Auto,
            classes: super::super::ClassLabels::Auto,
            missing: Missing::Drop,
            ..CsvOptions::default()
        };
        // `kind` is encoded, `y` holds labels; `size` mixes numbers and text, its first text in
        // the row left out for its missing cell.
        assert_eq!(names(&survey(&auto)), [("size", 4, 3, false, true)]);
        let named = CsvOptions {
            categorical: Categorical::Columns(vec!["size".into(), "y".into()]),
            features: Some(vec!["size".into()]),
            ..CsvOptions::default()
        };
        // a categorical target is still read as a number
        assert_eq!(names(&survey(&named)), [("y", 6, 4, true, true)]);
        assert_eq!(survey(&named).first_missing, None);
    }
}

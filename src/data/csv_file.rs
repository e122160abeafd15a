//! Reading a numeric CSV file into inputs X (N×D) and targets y (N), with errors that name the
//! file, the line and the column of the first bad cell.

use crate::error::{Result, SvgpError};
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// A numeric table: inputs, targets and the names of their columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Inputs X, N×D, every entry finite.
    pub x: DMatrix<f64>,
    /// Targets y, length N, every entry finite.
    pub y: DVector<f64>,
    /// Names of X's columns, in order (length D).
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
    /// The file the table was read from, for messages.
    pub path: String,
    /// 1-based file line of each row (header = line 1), for messages.
    pub lines: Vec<u64>,
    /// 1-based column of the target in the file.
    pub target_column: usize,
}

impl Table {
    /// The error for a target outside a likelihood's domain, located in the file: maps
    /// `InvalidTarget { row }` to `Csv { path, line, column }`; other errors pass through.
    pub fn locate(&self, error: SvgpError) -> SvgpError {
        match error {
            SvgpError::InvalidTarget { row, value, reason } if row < self.lines.len() => {
                SvgpError::Csv {
                    path: self.path.clone(),
                    line: self.lines[row],
                    column: self.target_column,
                    reason: format!("target {value}: {reason}"),
                }
            }
            other => other,
        }
    }
}

/// Reads `path`: a header row, then one row per point. The target is the column named
/// `target` (default: `y` if present, else the last column); the features are `features` in
/// the order given (default: every other column).
///
/// # Errors
/// `Io` if the file cannot be read; `EmptyFile` for no data rows; `MissingColumn` for an unknown
/// target or feature name; `Csv { line, column }` for a ragged row, an empty or non-numeric cell;
/// `NonFinite { line, column }` for NaN or ±inf.
pub fn read_csv(
    path: impl AsRef<Path>,
    target: Option<&str>,
    features: Option<&[&str]>,
) -> Result<Table> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| SvgpError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    read_csv_from(file, &path.display().to_string(), target, features)
}

/// As [`read_csv`], from any reader; `name` is the file name used in error messages.
///
/// # Errors
/// As [`read_csv`].
pub fn read_csv_from(
    source: impl std::io::Read,
    name: &str,
    target: Option<&str>,
    features: Option<&[&str]>,
) -> Result<Table> {
    let mut rows = CsvRows::new(source, name, target, features)?;
    let mut values: Vec<f64> = Vec::new();
    let mut targets: Vec<f64> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    while let Some((target, line)) = rows.next_row(&mut values)? {
        targets.push(target);
        lines.push(line);
    }
    if targets.is_empty() {
        return Err(SvgpError::EmptyFile {
            path: name.to_string(),
        });
    }
    Ok(Table {
        x: DMatrix::from_row_slice(targets.len(), rows.feature_names.len(), &values),
        y: DVector::from_vec(targets),
        feature_names: rows.feature_names,
        target_name: rows.target_name,
        path: name.to_string(),
        lines,
        target_column: rows.target_column,
    })
}

/// A CSV file read one row at a time (memory independent of its length): the header is parsed
/// and the columns chosen on construction, then [`CsvRows::next_row`] validates and returns each
/// data row. [`read_csv`] collects these rows; `svgp convert` writes them out as it reads them.
pub struct CsvRows<R: std::io::Read> {
    reader: csv::Reader<R>,
    record: csv::StringRecord,
    name: String,
    header: Vec<String>,
    feature_cols: Vec<usize>,
    target_col: usize,
    /// Names of the chosen feature columns, in order (length D).
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
    /// 1-based column of the target in the file.
    pub target_column: usize,
}

impl<R: std::io::Read> CsvRows<R> {
    /// Parses the header of `source` (named `name` in messages) and chooses the columns as
    /// [`read_csv`] does.
    ///
    /// # Errors
    /// `EmptyFile` for no header; `Csv { line: 1, column }` for an empty or duplicate column
    /// name; `MissingColumn` for an unknown target or feature name.
    pub fn new(
        source: R,
        name: &str,
        target: Option<&str>,
        features: Option<&[&str]>,
    ) -> Result<Self> {
        let name = name.to_string();
        let csv_err = |line: u64, column: usize, reason: String| SvgpError::Csv {
            path: name.clone(),
            line,
            column,
            reason,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(source);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_err(1, 0, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        if header.is_empty() || header.iter().all(|h| h.is_empty()) {
            return Err(SvgpError::EmptyFile { path: name });
        }
        if let Some(c) = header.iter().position(|h| h.is_empty()) {
            return Err(csv_err(
                1,
                c + 1,
                "empty column name in the header".to_string(),
            ));
        }
        if let Some(c) = (1..header.len()).find(|&c| header[..c].contains(&header[c])) {
            return Err(csv_err(
                1,
                c + 1,
                format!("duplicate column name {:?}", header[c]),
            ));
        }
        let find = |col: &str| {
            header
                .iter()
                .position(|h| h == col)
                .ok_or_else(|| SvgpError::MissingColumn {
                    path: name.clone(),
                    column: col.to_string(),
                    available: header.join(","),
                })
        };
        let target_col = match target {
            Some(t) => find(t)?,
            None => header
                .iter()
                .position(|h| h == "y")
                .unwrap_or(header.len() - 1),
        };
        let feature_cols: Vec<usize> = match features {
            Some(list) => list.iter().map(|f| find(f)).collect::<Result<_>>()?,
            None => (0..header.len()).filter(|&c| c != target_col).collect(),
        };
        Ok(CsvRows {
            reader,
            record: csv::StringRecord::new(),
            feature_names: feature_cols.iter().map(|&c| header[c].clone()).collect(),
            target_name: header[target_col].clone(),
            target_column: target_col + 1,
            name,
            header,
            feature_cols,
            target_col,
        })
    }

    /// The next data row: appends its D feature values to `features` and returns its target and
    /// its 1-based file line, or `None` at the end of the file. Blank lines are skipped.
    ///
    /// # Errors
    /// `Csv { line, column }` for a ragged row, an empty or non-numeric cell; `NonFinite { line,
    /// column }` for NaN or ±inf. `features` may then hold part of the row.
    pub fn next_row(&mut self, features: &mut Vec<f64>) -> Result<Option<(f64, u64)>> {
        let csv_err = |line: u64, column: usize, reason: String| SvgpError::Csv {
            path: self.name.clone(),
            line,
            column,
            reason,
        };
        loop {
            let more = self.reader.read_record(&mut self.record).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                csv_err(line, 0, e.to_string())
            })?;
            if !more {
                return Ok(None);
            }
            if !(self.record.len() == 1 && self.record[0].is_empty()) {
                break; // not a blank line
            }
        }
        let (record, header) = (&self.record, &self.header);
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            return Err(csv_err(
                line,
                record.len().min(header.len()) + 1,
                format!("expected {} cells, found {}", header.len(), record.len()),
            ));
        }
        let cell = |c: usize| -> Result<f64> {
            let text = &record[c];
            if text.is_empty() {
                return Err(csv_err(
                    line,
                    c + 1,
                    format!("missing value in column {:?}", header[c]),
                ));
            }
            let v: f64 = text.parse().map_err(|_| {
                csv_err(
                    line,
                    c + 1,
                    format!("{text:?} is not a number (column {:?})", header[c]),
                )
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(SvgpError::NonFinite {
                    path: self.name.clone(),
                    line,
                    column: c + 1,
                })
            }
        };
        for &c in &self.feature_cols {
            features.push(cell(c)?);
        }
        Ok(Some((cell(self.target_col)?, line)))
    }
}

//! Reading a numeric CSV file into inputs X (N×D) and targets y (N), with errors that name the
//! file, the line and the column of the first bad cell. Lines are counted exactly whatever the
//! line endings (`\n`, `\r\n`, a lone `\r`) and across quoted fields spanning lines; a UTF-8
//! byte-order mark is skipped; the delimiter is given or detected from the header line. A target
//! of class labels is read as classes 0..C−1, the labels found in a file ordered numerically
//! when every one is a number (`2` < `10`), else byte-lexicographically ([`ClassLabels`]).

use super::csv_categories::{expanded_features, resolve, Column};
use super::csv_classes::{ClassLabels, Classes};
use super::csv_lines::{detect_delimiter, is_missing, line_breaks, LineCounter, Peeked};
use super::csv_options::{Categorical, CsvOptions, Missing};
use super::csv_survey::{Cell, CellAt};
use crate::error::{Result, SvgpError};
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// A numeric table: inputs, targets and the names of their columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Inputs X, N×D, every entry finite.
    pub x: DMatrix<f64>,
    /// Targets y, every entry finite: length N, or N×P column-major (length N·P) with
    /// P = 1 + `extra_targets.len()` several-output targets.
    pub y: DVector<f64>,
    /// Names of X's columns, in order (length D).
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
    /// Names of further target columns (several outputs), in order after `target_name`.
    pub extra_targets: Vec<String>,
    /// The file the table was read from, for messages.
    pub path: String,
    /// 1-based file line where each row starts (the first line of the file is 1), for messages.
    pub lines: Vec<u64>,
    /// 1-based column of the target in the file.
    pub target_column: usize,
    /// Data rows left out for a missing cell ([`Missing::Drop`]; 0 otherwise).
    pub rows_dropped: u64,
    /// The class labels in class order when the target was read as labels
    /// ([`CsvOptions::classes`] `Auto` or `Given`): `y` holds each row's class 0..C−1 as f64.
    /// `None` when the target is a number.
    pub classes: Option<Vec<String>>,
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

impl CsvOptions {
    /// Reads the table at `path`.
    ///
    /// # Errors
    /// As [`read_csv`]; `InvalidParameter { name: "delimiter" }` for a delimiter that cannot
    /// separate fields.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| SvgpError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.read_from(file, &path.display().to_string())
    }

    /// Reads a table from any reader; `name` is the file name used in error messages. With
    /// categorical columns the source is held in memory and read twice (levels, then rows).
    ///
    /// # Errors
    /// As [`CsvOptions::read`].
    pub fn read_from(&self, mut source: impl std::io::Read, name: &str) -> Result<Table> {
        if self.categorical != Categorical::None {
            let mut bytes = Vec::new();
            source.read_to_end(&mut bytes).map_err(|e| SvgpError::Io {
                path: name.to_string(),
                reason: e.to_string(),
            })?;
            let features = expanded_features(&bytes, name, self)?;
            let options = CsvOptions {
                features: features.or_else(|| self.features.clone()),
                categorical: Categorical::None,
                ..self.clone()
            };
            return options.read_from(&bytes[..], name);
        }
        let mut rows = self.open_rows(source, name)?;
        let mut values: Vec<f64> = Vec::new();
        let mut targets: Vec<f64> = Vec::new();
        let mut lines: Vec<u64> = Vec::new();
        let mut extra: Vec<Vec<f64>> = vec![Vec::new(); rows.extra_target_names.len()];
        while let Some((target, line)) = rows.next_row(&mut values)? {
            targets.push(target);
            lines.push(line);
            for (column, v) in extra.iter_mut().zip(rows.extra_values()) {
                column.push(*v);
            }
        }
        if targets.is_empty() {
            return Err(SvgpError::EmptyFile {
                path: name.to_string(),
            });
        }
        let classes = rows.class_labels(&mut targets)?;
        let n = targets.len();
        targets.extend(extra.into_iter().flatten());
        Ok(Table {
            x: DMatrix::from_row_slice(n, rows.feature_names.len(), &values),
            y: DVector::from_vec(targets),
            feature_names: rows.feature_names,
            target_name: rows.target_name,
            extra_targets: rows.extra_target_names,
            path: name.to_string(),
            lines,
            target_column: rows.target_column,
            rows_dropped: rows.rows_dropped,
            classes,
        })
    }

    /// The rows of `source` (named `name` in messages), one at a time: the header is parsed and
    /// the columns chosen here. `categorical` is not applied (levels need the whole file).
    ///
    /// # Errors
    /// `Io` if the source cannot be read; `InvalidParameter { name: "delimiter" }`;
    /// `InvalidParameter { name: "classes" }` for [`ClassLabels::Auto`] (the class order needs
    /// the whole file: read it with [`CsvOptions::read`], or give the labels), for given labels
    /// that are not distinct trimmed text, and for a target named `column=level`; `EmptyFile`
    /// for no header; `Csv { line, column }` for an empty or duplicate column name;
    /// `MissingColumn` for an unknown target or feature name.
    pub fn rows<R: std::io::Read>(&self, source: R, name: &str) -> Result<CsvRows<R>> {
        if self.classes == ClassLabels::Auto {
            return Err(SvgpError::InvalidParameter {
                name: "classes".into(),
                value: 1.0,
                reason: "class labels found in the file need the whole file read in memory; give the labels in class order to read row by row",
            });
        }
        self.open_rows(source, name)
    }

    /// [`CsvOptions::rows`], [`ClassLabels::Auto`] included (its indices are in order of first
    /// appearance until [`CsvRows::class_labels`]).
    pub(super) fn open_rows<R: std::io::Read>(&self, source: R, name: &str) -> Result<CsvRows<R>> {
        if let Some(d) = self.delimiter {
            if !d.is_ascii() || matches!(d, b'"' | b'\r' | b'\n') {
                return Err(SvgpError::InvalidParameter {
                    name: "delimiter".into(),
                    value: f64::from(d),
                    reason: "must be one ASCII byte other than a quote or a line break",
                });
            }
        }
        let (detected, source) = detect_delimiter(source).map_err(|e| SvgpError::Io {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
        let delimiter = self.delimiter.or(detected).unwrap_or(b',');
        CsvRows::open(source, name, delimiter, self)
    }
}

/// Reads `path`: a header row, then one row per point. The target is the column named
/// `target` (default: `y` if present, else the last column); the features are `features` in
/// the order given (default: every other column). The delimiter is detected and missing cells
/// refused; [`CsvOptions`] chooses otherwise.
///
/// # Errors
/// `Io` if the file cannot be read; `EmptyFile` for no data rows; `MissingColumn` for an unknown
/// target or feature name; `Csv { line, column }` for a ragged row, an empty, missing (`NA`,
/// `?`) or non-numeric cell; `NonFinite { line, column }` for NaN or ±inf.
pub fn read_csv(
    path: impl AsRef<Path>,
    target: Option<&str>,
    features: Option<&[&str]>,
) -> Result<Table> {
    CsvOptions::columns(target, features).read(path)
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
    CsvOptions::columns(target, features).read_from(source, name)
}

/// A CSV file read one row at a time (memory independent of its length): the header is parsed
/// and the columns chosen on construction, then [`CsvRows::next_row`] validates and returns each
/// data row. [`read_csv`] collects these rows; `svgp convert` writes them out as it reads them.
pub struct CsvRows<R: std::io::Read> {
    reader: csv::Reader<LineCounter<Peeked<R>>>,
    record: csv::StringRecord,
    /// Line breaks before the text of each field of `record`, from the record's first line.
    breaks: Vec<u64>,
    name: String,
    header: Vec<String>,
    feature_cols: Vec<Column>,
    target_col: Column,
    /// Further target columns (several outputs).
    extra_cols: Vec<Column>,
    /// The further targets of the row [`CsvRows::next_row`] returned last, in column order.
    extra_values: Vec<f64>,
    /// The levels of each column read as indicator features: (0-based column, levels).
    levels: Vec<(usize, Vec<String>)>,
    missing: Missing,
    /// The target's class labels when it is read as labels.
    classes: Option<Classes>,
    /// Names of the chosen feature columns, in order (length D).
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
    /// Names of the further target columns ([`CsvOptions::extra_targets`]).
    pub extra_target_names: Vec<String>,
    /// 1-based column of the target in the file.
    pub target_column: usize,
    /// Rows left out so far for a missing cell ([`Missing::Drop`]).
    pub rows_dropped: u64,
}

/// The columns chosen in a header: (target, features, further targets).
///
/// # Errors
/// `MissingColumn` for a name not in the header (nor `column=level` of a column in it).
fn choose_columns(
    header: &[String],
    name: &str,
    options: &CsvOptions,
) -> Result<(Column, Vec<Column>, Vec<Column>)> {
    let find = |col: &str| {
        resolve(header, col).ok_or_else(|| SvgpError::MissingColumn {
            path: name.to_string(),
            column: col.to_string(),
            available: header.join(","),
        })
    };
    let target_col = match &options.target {
        Some(t) => find(t)?,
        None => Column::Number(
            header
                .iter()
                .position(|h| h == "y")
                .unwrap_or(header.len() - 1),
        ),
    };
    let extra_cols: Vec<Column> = (options.extra_targets.iter())
        .map(|t| find(t))
        .collect::<Result<_>>()?;
    let is_target = |c: usize| c == target_col.index() || extra_cols.iter().any(|e| e.index() == c);
    let feature_cols: Vec<Column> = match &options.features {
        Some(list) => list.iter().map(|f| find(f)).collect::<Result<_>>()?,
        None => (0..header.len())
            .filter(|&c| !is_target(c))
            .map(Column::Number)
            .collect(),
    };
    Ok((target_col, feature_cols, extra_cols))
}

/// The message for a missing cell `text` (trimmed) of column `name`.
fn missing_reason(text: &str, name: &str) -> String {
    format!("missing value {text:?} in column {name:?}")
}

/// The name of a chosen column: its header name, or `column=level`.
fn column_name(header: &[String], column: &Column) -> String {
    match column {
        Column::Number(c) => header[*c].clone(),
        Column::Indicator(c, level) => format!("{}={level}", header[*c]),
    }
}

/// The levels of each column that `features` read as indicators.
fn indicator_levels(features: &[Column]) -> Vec<(usize, Vec<String>)> {
    let mut levels: Vec<(usize, Vec<String>)> = Vec::new();
    for f in features {
        if let Column::Indicator(c, level) = f {
            match levels.iter_mut().find(|(col, _)| col == c) {
                Some((_, known)) => known.push(level.clone()),
                None => levels.push((*c, vec![level.clone()])),
            }
        }
    }
    levels
}

/// Checks a header (trimmed names) read from line `line`.
///
/// # Errors
/// `EmptyFile` for no names; `Csv { line, column }` for an empty or duplicate name.
fn check_header(header: &[String], name: &str, line: u64) -> Result<()> {
    let csv_err = |column: usize, reason: String| SvgpError::Csv {
        path: name.to_string(),
        line,
        column,
        reason,
    };
    if header.is_empty() || header.iter().all(|h| h.is_empty()) {
        return Err(SvgpError::EmptyFile {
            path: name.to_string(),
        });
    }
    if let Some(c) = header.iter().position(|h| h.is_empty()) {
        return Err(csv_err(
            c + 1,
            "empty column name in the header".to_string(),
        ));
    }
    if let Some(c) = (1..header.len()).find(|&c| header[..c].contains(&header[c])) {
        return Err(csv_err(
            c + 1,
            format!("duplicate column name {:?}", header[c]),
        ));
    }
    Ok(())
}

impl<R: std::io::Read> CsvRows<R> {
    /// Parses the header of `source` (named `name` in messages) and chooses the columns as
    /// [`read_csv`] does.
    ///
    /// # Errors
    /// As [`CsvOptions::rows`].
    pub fn new(
        source: R,
        name: &str,
        target: Option<&str>,
        features: Option<&[&str]>,
    ) -> Result<Self> {
        CsvOptions::columns(target, features).rows(source, name)
    }

    /// [`CsvOptions::rows`] once the delimiter is known.
    fn open(source: Peeked<R>, name: &str, delimiter: u8, options: &CsvOptions) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(LineCounter::new(source));
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
            Err(e) => {
                let line = reader.get_mut().line_from(0).unwrap_or(1);
                return Err(SvgpError::Csv {
                    path: name.to_string(),
                    line,
                    column: 0,
                    reason: e.to_string(),
                });
            }
        };
        let header_line = reader.get_mut().line_from(0).unwrap_or(1);
        check_header(&header, name, header_line)?;
        let (target_col, feature_cols, extra_cols) = choose_columns(&header, name, options)?;
        let classes = Classes::new(&options.classes)?;
        if classes.is_some() && !extra_cols.is_empty() {
            return Err(SvgpError::InvalidParameter {
                name: "classes".into(),
                value: 1.0,
                reason: "class labels are read from one target column; several targets are numbers (several outputs)",
            });
        }
        if classes.is_some() && matches!(target_col, Column::Indicator(..)) {
            return Err(SvgpError::InvalidParameter {
                name: "classes".into(),
                value: 1.0,
                reason: "a target named `column=level` is a 0/1 indicator; name the column itself to read its class labels",
            });
        }
        Ok(CsvRows {
            reader,
            record: csv::StringRecord::new(),
            breaks: Vec::new(),
            feature_names: feature_cols
                .iter()
                .map(|c| column_name(&header, c))
                .collect(),
            target_name: column_name(&header, &target_col),
            extra_target_names: extra_cols.iter().map(|c| column_name(&header, c)).collect(),
            target_column: target_col.index() + 1,
            name: name.to_string(),
            levels: indicator_levels(&feature_cols),
            header,
            feature_cols,
            target_col,
            extra_values: Vec::with_capacity(extra_cols.len()),
            extra_cols,
            missing: options.missing,
            classes,
            rows_dropped: 0,
        })
    }

    /// Reads the next non-blank record into `self.record` (untrimmed) and returns its first line,
    /// with the line breaks before each field in `self.breaks`; `None` at the end of the file.
    fn next_record(&mut self) -> Result<Option<u64>> {
        loop {
            let more = match self.reader.read_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    let byte = e.position().map(|p| p.byte());
                    let line = byte.and_then(|b| self.reader.get_mut().line_from(b));
                    return Err(SvgpError::Csv {
                        path: self.name.clone(),
                        line: line.unwrap_or(0),
                        column: 0,
                        reason: e.to_string(),
                    });
                }
            };
            if !more {
                return Ok(None);
            }
            let start = self.record.position().map_or(0, |p| p.byte());
            let line = self.reader.get_mut().line_from(start);
            self.breaks.clear();
            let mut before = 0;
            for field in self.record.iter() {
                let lead = &field[..field.len() - field.trim_start().len()];
                self.breaks.push(before + line_breaks(lead));
                before += line_breaks(field);
            }
            if !(self.record.len() == 1 && self.record[0].trim().is_empty()) {
                let fallback = self.record.position().map_or(0, |p| p.line());
                return Ok(Some(line.unwrap_or(fallback)));
            }
        }
    }

    /// The next data row: appends its D feature values to `features` and returns its target and
    /// its 1-based file line (its further targets, if any, are then in `extra_values`) (where the row starts), or `None` at the end of the file. Blank
    /// lines are skipped, and so are rows with a missing cell in a chosen column under
    /// [`Missing::Drop`] (counted in `rows_dropped`). A target read as class labels
    /// ([`CsvOptions::classes`]) is its class 0..C−1 as f64.
    ///
    /// # Errors
    /// `Csv { line, column }` for a ragged row, a missing (under [`Missing::Refuse`]) or
    /// non-numeric cell, or a class label not among the given ones, at the line where the cell
    /// starts; `NonFinite { line, column }` for NaN (under [`Missing::Refuse`]) or ±inf.
    /// `features` may then hold part of the row.
    pub fn next_row(&mut self, features: &mut Vec<f64>) -> Result<Option<(f64, u64)>> {
        loop {
            let Some(line) = self.next_record()? else {
                return Ok(None);
            };
            if self.record.len() != self.header.len() {
                return Err(SvgpError::Csv {
                    path: self.name.clone(),
                    line,
                    column: self.record.len().min(self.header.len()) + 1,
                    reason: format!(
                        "expected {} cells, found {}",
                        self.header.len(),
                        self.record.len()
                    ),
                });
            }
            let used = || {
                (self.feature_cols.iter())
                    .chain([&self.target_col])
                    .chain(&self.extra_cols)
            };
            if self.missing == Missing::Drop
                && used().any(|c| is_missing(self.record[c.index()].trim()))
            {
                self.rows_dropped += 1;
                continue;
            }
            for c in &self.feature_cols {
                features.push(self.value(c, line)?);
            }
            let target = match self.label(line)? {
                Some(class) => class,
                None => self.value(&self.target_col, line)?,
            };
            self.extra_values.clear();
            for c in &self.extra_cols {
                let v = self.value(c, line)?;
                self.extra_values.push(v);
            }
            return Ok(Some((target, line)));
        }
    }

    /// The next non-blank record's cells in the chosen columns, unchecked, in the order
    /// [`CsvRows::next_row`] reads them (features, target, further targets; each column once);
    /// `None` at the end of the file. A ragged row gives the cells it has.
    ///
    /// # Errors
    /// `Csv { line }` for a record the CSV parser refuses.
    pub(super) fn next_cells(&mut self) -> Result<Option<Vec<Cell>>> {
        let Some(line) = self.next_record()? else {
            return Ok(None);
        };
        let target = self.target_col.index();
        let chosen = (self.feature_cols.iter())
            .chain([&self.target_col])
            .chain(&self.extra_cols);
        let mut cells: Vec<Cell> = Vec::new();
        for column in chosen {
            let c = column.index();
            let number =
                matches!(column, Column::Number(_)) && !(c == target && self.classes.is_some());
            if let Some(known) = cells.iter_mut().find(|cell| cell.at.column == c + 1) {
                known.number |= number;
            } else if c < self.record.len() {
                cells.push(Cell {
                    at: CellAt {
                        name: self.header[c].clone(),
                        text: self.record[c].trim().to_string(),
                        line: line + self.breaks[c],
                        column: c + 1,
                    },
                    number,
                    target: c == target || self.extra_cols.iter().any(|e| e.index() == c),
                });
            }
        }
        Ok(Some(cells))
    }

    /// The further targets of the row [`CsvRows::next_row`] returned last, in column order.
    pub fn extra_values(&self) -> &[f64] {
        &self.extra_values
    }

    /// The class labels read, in class order (`None` when the target is a number), with
    /// `targets` (the indices [`CsvRows::next_row`] returned, in file order) mapped to their
    /// classes: for labels found in the file, indices are handed out in order of first
    /// appearance and put into class order here.
    ///
    /// # Errors
    /// `Csv { line, column }` at the first cell of a label that reads as the same number as an
    /// earlier one (`1.0` after `1`), when the labels are ordered numerically.
    fn class_labels(&mut self, targets: &mut [f64]) -> Result<Option<Vec<String>>> {
        let Some(classes) = self.classes.take() else {
            return Ok(None);
        };
        let (labels, class_of) = classes.finish(&self.name, self.target_column)?;
        for t in targets.iter_mut() {
            *t = class_of[*t as usize] as f64;
        }
        Ok(Some(labels))
    }

    /// The class of the target label in the current record, which starts on line `line`;
    /// `None` when the target is a number.
    ///
    /// # Errors
    /// `Csv` for a missing cell, or a label not among the given ones (the known ones listed).
    fn label(&mut self, line: u64) -> Result<Option<f64>> {
        let Some(classes) = self.classes.as_mut() else {
            return Ok(None);
        };
        let c = self.target_col.index();
        let (text, line) = (self.record[c].trim(), line + self.breaks[c]);
        let reason = if is_missing(text) {
            missing_reason(text, &self.header[c])
        } else if let Some(k) = classes.index(text, line) {
            return Ok(Some(k as f64));
        } else {
            format!(
                "class label {text:?} of column {:?} is not among the classes (known: {})",
                self.header[c],
                classes.known()
            )
        };
        Err(SvgpError::Csv {
            path: self.name.clone(),
            line,
            column: c + 1,
            reason,
        })
    }

    /// The value of `column` in the current record, which starts on line `line`: its number, or
    /// for an indicator 1 or 0.
    ///
    /// # Errors
    /// As [`CsvRows::next_row`]; `Csv` for a missing cell of an indicator, or a level of an
    /// indicator feature's column that is none of its indicators' levels.
    fn value(&self, column: &Column, line: u64) -> Result<f64> {
        let (c, level) = match column {
            Column::Number(c) => return self.cell(*c, line),
            Column::Indicator(c, level) => (*c, level),
        };
        let text = self.record[c].trim();
        let name = &self.header[c];
        let known = self.levels.iter().find(|(col, _)| *col == c);
        let reason = if is_missing(text) {
            missing_reason(text, name)
        } else if text == level {
            return Ok(1.0);
        } else if known.is_none_or(|(_, levels)| levels.iter().any(|l| l == text)) {
            return Ok(0.0); // a target indicator, or another known level
        } else {
            let levels = known.map(|(_, l)| l.join(", ")).unwrap_or_default();
            format!(
                "category {text:?} of column {name:?} was not seen in training (known: {levels})"
            )
        };
        Err(SvgpError::Csv {
            path: self.name.clone(),
            line: line + self.breaks[c],
            column: c + 1,
            reason,
        })
    }

    /// The value of cell `c` of the current record, which starts on line `line`.
    ///
    /// # Errors
    /// As [`CsvRows::next_row`].
    fn cell(&self, c: usize, line: u64) -> Result<f64> {
        let (text, line, column) = (self.record[c].trim(), line + self.breaks[c], c + 1);
        let csv_err = |reason: String| SvgpError::Csv {
            path: self.name.clone(),
            line,
            column,
            reason,
        };
        let name = &self.header[c];
        if text.is_empty() {
            return Err(csv_err(format!("missing value in column {name:?}")));
        }
        let v: f64 = match text.parse() {
            Ok(v) => v,
            Err(_) if is_missing(text) => return Err(csv_err(missing_reason(text, name))),
            Err(_) => {
                return Err(csv_err(format!(
                    "{text:?} is not a number (column {name:?})"
                )))
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(SvgpError::NonFinite {
                path: self.name.clone(),
                line,
                column,
            })
        }
    }
}

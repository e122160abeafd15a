//! Non-numeric columns of a CSV file as indicator (one-hot) columns. An indicator is named
//! `column=level` and reads 1 where the cell is `level`, else 0; feature names of this form are
//! what a saved model keeps, so prediction encodes a file as training did, and refuses a level
//! training never saw. A target named `column=level` is the 0/1 label "cell is `level`".

use super::csv_lines::{detect_delimiter, is_missing};
use super::csv_options::{Categorical, CsvOptions};
use crate::error::{Result, SvgpError};
use std::collections::BTreeSet;

/// A column as the reader uses it: a number, or the indicator of one level of a text column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Column {
    /// The 0-based column, read as a number.
    Number(usize),
    /// The 0-based column, 1 where its cell is the level, else 0.
    Indicator(usize, String),
}

impl Column {
    /// The 0-based column of the file.
    pub(super) fn index(&self) -> usize {
        match self {
            Column::Number(c) | Column::Indicator(c, _) => *c,
        }
    }
}

/// `name` resolved in `header`: a column name, or `column=level` for a column that exists when
/// no column is named `name` itself.
pub(super) fn resolve(header: &[String], name: &str) -> Option<Column> {
    if let Some(c) = header.iter().position(|h| h == name) {
        return Some(Column::Number(c));
    }
    let (column, level) = name.split_once('=')?;
    let c = header.iter().position(|h| h == column)?;
    Some(Column::Indicator(c, level.to_string()))
}

/// The feature names `options` asks for, with each categorical column replaced by one
/// indicator `column=level` per level found in `bytes` (sorted); `None` when no column is
/// categorical. A scan of the whole file; rows that are malformed are left to the reading that
/// follows, which reports them.
///
/// # Errors
/// `MissingColumn` for a categorical column not in the header; `Io` for an unreadable header.
pub(super) fn expanded_features(
    bytes: &[u8],
    name: &str,
    options: &CsvOptions,
) -> Result<Option<Vec<String>>> {
    if options.categorical == Categorical::None {
        return Ok(None);
    }
    let (detected, source) = detect_delimiter(bytes).map_err(|e| SvgpError::Io {
        path: name.to_string(),
        reason: e.to_string(),
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(options.delimiter.or(detected).unwrap_or(b','))
        .from_reader(source);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(_) => return Ok(None), // reported by the reading that follows
    };
    let Some(target) = target_index(&header, options) else {
        return Ok(None);
    };
    let features: Vec<String> = match &options.features {
        Some(list) => list.clone(),
        None => (0..header.len())
            .filter(|&c| c != target)
            .map(|c| header[c].clone())
            .collect(),
    };
    let mut levels: Vec<BTreeSet<String>> = vec![BTreeSet::new(); header.len()];
    let mut numeric = vec![false; header.len()];
    for record in reader.records().flatten() {
        for (c, cell) in record.iter().enumerate().take(header.len()) {
            let cell = cell.trim();
            if !is_missing(cell) {
                numeric[c] |= cell.parse::<f64>().is_ok();
                levels[c].insert(cell.to_string());
            }
        }
    }
    let chosen = chosen_columns(&header, &features, &numeric, &levels, options, name)?;
    let mut out = Vec::new();
    for f in features {
        match header.iter().position(|h| *h == f).filter(|c| chosen[*c]) {
            Some(c) => out.extend(levels[c].iter().map(|l| format!("{f}={l}"))),
            None => out.push(f),
        }
    }
    Ok(Some(out))
}

/// The 0-based target column as the reader chooses it (`None` if it is not in the header).
fn target_index(header: &[String], options: &CsvOptions) -> Option<usize> {
    match &options.target {
        Some(t) => resolve(header, t).map(|c| c.index()),
        None => Some(
            header
                .iter()
                .position(|h| h == "y")
                .unwrap_or(header.len().saturating_sub(1)),
        ),
    }
}

/// Which columns of `header` are one-hot encoded.
///
/// # Errors
/// `MissingColumn` for a named categorical column not in the header.
fn chosen_columns(
    header: &[String],
    features: &[String],
    numeric: &[bool],
    levels: &[BTreeSet<String>],
    options: &CsvOptions,
    name: &str,
) -> Result<Vec<bool>> {
    let mut chosen = vec![false; header.len()];
    match &options.categorical {
        Categorical::None => {}
        Categorical::Auto => {
            for f in features {
                if let Some(c) = header.iter().position(|h| h == f) {
                    chosen[c] = !numeric[c] && !levels[c].is_empty();
                }
            }
        }
        Categorical::Columns(list) => {
            for col in list {
                let c = header.iter().position(|h| h == col).ok_or_else(|| {
                    SvgpError::MissingColumn {
                        path: name.to_string(),
                        column: col.clone(),
                        available: header.join(","),
                    }
                })?;
                chosen[c] = true;
            }
        }
    }
    Ok(chosen)
}

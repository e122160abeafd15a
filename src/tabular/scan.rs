//! Prediction and evaluation of CSV files of any length: rows are read `chunk_rows` at a time
//! with the same reader (and so the same error locations) as a table read whole, predictions
//! are handed on as they are made, and metrics are pooled over the chunks.

use super::{evaluate, predict, SavedModel};
use crate::data::{ClassLabels, CsvOptions, CsvRows};
use crate::error::{Result, SvgpError};
use crate::model::Metrics;
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// Calls `f` with each chunk of at most `chunk_rows` rows of `rows`: inputs (b×D), targets (b×P
/// column-major, P = 1 + the further target columns) and the 1-based file line of each row.
/// Returns the number of rows read.
fn for_each_chunk<R: std::io::Read>(
    rows: &mut CsvRows<R>,
    chunk_rows: usize,
    mut f: impl FnMut(&DMatrix<f64>, &DVector<f64>, &[u64]) -> Result<()>,
) -> Result<u64> {
    let d = rows.feature_names.len();
    let (mut values, mut targets, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut extra: Vec<Vec<f64>> = vec![Vec::new(); rows.extra_target_names.len()];
    let mut total = 0;
    loop {
        let row = rows.next_row(&mut values)?;
        if let Some((target, line)) = row {
            targets.push(target);
            lines.push(line);
            for (column, v) in extra.iter_mut().zip(rows.extra_values()) {
                column.push(*v);
            }
        }
        let b = lines.len();
        if (b >= chunk_rows.max(1) || row.is_none()) && b > 0 {
            let x = DMatrix::from_row_slice(b, d, &values);
            targets.extend(extra.iter_mut().flat_map(std::mem::take));
            f(&x, &DVector::from_column_slice(&targets), &lines)?;
            total += b as u64;
            values.clear();
            targets.clear();
            lines.clear();
        }
        if row.is_none() {
            return Ok(total);
        }
    }
}

/// Opens the CSV file at `path` with `options`' delimiter and missing-cell rule, choosing the
/// model's target (when `with_target`) and feature columns.
fn open_rows(
    saved: &SavedModel,
    options: &CsvOptions,
    path: &Path,
    with_target: bool,
) -> Result<CsvRows<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| SvgpError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let (target, features) = match (with_target, saved.feature_names.split_first()) {
        (true, _) => (saved.target_name.clone(), saved.feature_names.clone()),
        // Without a target the first feature stands in for it (and is put back in front).
        (false, Some((first, rest))) => (first.clone(), rest.to_vec()),
        (false, None) => {
            return Err(SvgpError::InvalidParameter {
                name: "model feature names".into(),
                value: 0.0,
                reason: "the model has no features",
            })
        }
    };
    let chosen = CsvOptions {
        target: Some(target),
        extra_targets: match with_target {
            true => saved.extra_targets.clone(),
            false => Vec::new(),
        },
        features: Some(features),
        // without a target, the stand-in first feature is a number
        classes: match with_target {
            true => options.classes.clone(),
            false => ClassLabels::None,
        },
        ..options.clone()
    };
    chosen.rows(file, &path.display().to_string())
}

/// Metrics of `saved` on the CSV file at `path` (its target and feature columns found by name),
/// read `chunk_rows` rows at a time; `options` gives the delimiter, the missing-cell rule and how
/// the target is read (a classifier's labels: `ClassLabels::Given`).
/// Returns the metrics and the rows dropped for missing cells.
///
/// # Errors
/// As the CSV reader (file, line and column); `Csv` at the line and column of a target outside
/// the likelihood's domain; `EmptyFile` when no row is left.
pub fn evaluate_csv(
    saved: &SavedModel,
    options: &CsvOptions,
    path: &Path,
    chunk_rows: usize,
) -> Result<(Metrics, u64)> {
    let mut rows = open_rows(saved, options, path, true)?;
    let (name, column) = (path.display().to_string(), rows.target_column);
    let mut parts = Vec::new();
    for_each_chunk(&mut rows, chunk_rows, |x, y, lines| {
        let metrics = evaluate(saved, x, y).map_err(|e| match e {
            SvgpError::InvalidTarget { row, value, reason } => SvgpError::Csv {
                path: name.clone(),
                line: lines[row],
                column,
                reason: format!("target {value}: {reason}"),
            },
            other => other,
        })?;
        parts.push(metrics);
        Ok(())
    })?;
    let metrics = Metrics::pool(&parts).ok_or(SvgpError::EmptyFile { path: name })?;
    Ok((metrics, rows.rows_dropped))
}

/// Predictions of `saved` (as [`super::predict`]: N×P means and variances) for every row of
/// the CSV file at `path` (its feature columns found by name; other columns ignored), in file
/// order, handed to `sink` `chunk_rows` rows at a time.
///
/// # Errors
/// As [`inputs_csv`]; `sink`'s errors.
pub fn predict_csv(
    saved: &SavedModel,
    options: &CsvOptions,
    path: &Path,
    chunk_rows: usize,
    mut sink: impl FnMut(&DMatrix<f64>, &DMatrix<f64>) -> Result<()>,
) -> Result<()> {
    inputs_csv(saved, options, path, chunk_rows, |x| {
        let (mean, var) = predict(saved, x)?;
        sink(&mean, &var)
    })
}

/// The model's feature columns (b×D, raw units, in `feature_names` order) of every row of the
/// CSV file at `path` (found by name; other columns ignored), in file order, handed to `sink`
/// `chunk_rows` rows at a time.
///
/// # Errors
/// As the CSV reader; `EmptyFile` for no data rows; `sink`'s errors.
pub fn inputs_csv(
    saved: &SavedModel,
    options: &CsvOptions,
    path: &Path,
    chunk_rows: usize,
    mut sink: impl FnMut(&DMatrix<f64>) -> Result<()>,
) -> Result<()> {
    let mut rows = open_rows(saved, options, path, false)?;
    let d = saved.feature_names.len();
    let read = for_each_chunk(&mut rows, chunk_rows, |rest, first, _| {
        // the first feature came as the target: put it back in front
        let x = DMatrix::from_fn(first.len(), d, |i, j| match j {
            0 => first[i],
            _ => rest[(i, j - 1)],
        });
        sink(&x)
    })?;
    if read == 0 {
        return Err(SvgpError::EmptyFile {
            path: path.display().to_string(),
        });
    }
    Ok(())
}

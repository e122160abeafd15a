//! The message of `svgp fit` for a CSV file it cannot read as numbers: the first cell at fault,
//! then, from a survey of the whole file, every option the file needs (text columns read as
//! categories, rows with missing cells left out, a target of class labels), so that a first
//! run on a table as users have it takes one more try, not one per column.

use std::path::Path;
use svgp::data::{Categorical, CellAt, CellSurvey, CsvOptions, Missing, TextColumn};
use svgp::SvgpError;

/// `error` followed by the options the file at `path` needs, when `error` is at a text or
/// missing cell that the survey of the file finds; otherwise `error` unchanged.
pub fn explained(
    error: SvgpError,
    options: &CsvOptions,
    path: &Path,
) -> Box<dyn std::error::Error> {
    let (line, column) = match &error {
        SvgpError::Csv { line, column, .. } | SvgpError::NonFinite { line, column, .. } => {
            (*line, *column)
        }
        _ => return error.into(),
    };
    match options.survey(path) {
        Ok(survey) if survey.locates(line, column) => {
            remedies(&error.to_string(), &survey, options).into()
        }
        _ => error.into(),
    }
}

/// The message: `first` (the error at the first cell), then one line per remedy.
fn remedies(first: &str, survey: &CellSurvey, options: &CsvOptions) -> String {
    let mut lines = vec![first.to_string(), "to read the whole file:".to_string()];
    let (targets, features): (Vec<&TextColumn>, Vec<&TextColumn>) =
        survey.text_columns.iter().partition(|t| t.is_target);
    let (mixed, text): (Vec<&TextColumn>, Vec<&TextColumn>) =
        features.into_iter().partition(|t| t.has_numbers);
    if !text.is_empty() {
        let cells: Vec<String> = text.iter().map(|t| at(&t.first)).collect();
        lines.push(format!(
            "  - text in {} {}: read {} as categories with --categorical {} (or --categorical auto)",
            either(cells.len() as u64, "column", "columns"),
            cells.join(", "),
            either(cells.len() as u64, "it", "them"),
            categorical_list(&text, &options.categorical)
        ));
    }
    for t in mixed {
        lines.push(format!(
            "  - numbers and text in column {}: correct the cell, or name the column in --categorical to read it as categories",
            at(&t.first)
        ));
    }
    for t in targets {
        lines.push(format!(
            "  - text in the target column {}: for its classes add --likelihood softmax (or robustmax); for one class against the rest, --target {}={} --likelihood bernoulli",
            at(&t.first),
            t.first.name,
            t.first.text
        ));
    }
    if let (Missing::Refuse, Some(cell)) = (options.missing, &survey.first_missing) {
        lines.push(format!(
            "  - missing cells in {} {}, the first in {}: leave {} out with --missing drop",
            survey.rows_with_missing,
            either(survey.rows_with_missing, "row", "rows"),
            at(cell),
            either(survey.rows_with_missing, "it", "them")
        ));
    }
    if options.target.is_none() && !survey.text_columns.is_empty() {
        lines.push(format!(
            "  - the target is {:?} (no --target given: the column y, else the last); to predict the classes of a text column, name it with --target and add --likelihood softmax (or robustmax)",
            survey.target
        ));
    }
    lines.join("\n")
}

/// A cell for a message: `"name" ("text", line L, column C)`.
fn at(cell: &CellAt) -> String {
    format!(
        "{:?} ({:?}, line {}, column {})",
        cell.name, cell.text, cell.line, cell.column
    )
}

/// The value of `--categorical` that reads the columns of `text` as categories as well as
/// those `given` already names.
fn categorical_list(text: &[&TextColumn], given: &Categorical) -> String {
    let mut names: Vec<&str> = match given {
        Categorical::Columns(list) => list.iter().map(String::as_str).collect(),
        Categorical::None | Categorical::Auto => Vec::new(),
    };
    names.extend(text.iter().map(|t| t.first.name.as_str()));
    names.join(",")
}

/// `one` for a count of 1, else `many`.
fn either(count: u64, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

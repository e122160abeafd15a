//! CSV loading: the shipped Snelson data reads bit-exactly, and every bad file gives a typed
//! error naming the file, the line (header = line 1) and the column (1-based).

use svgp::data::read_csv;
use svgp::SvgpError;

const BAD: &str = "tests/data/bad";

#[test]
fn snelson_reads_with_default_columns() {
    let t = read_csv("datasets/snelson1d.csv", None, None).unwrap();
    assert_eq!((t.x.nrows(), t.x.ncols(), t.y.len()), (200, 1, 200));
    assert_eq!(
        (t.feature_names.as_slice(), t.target_name.as_str()),
        (&["x".to_string()][..], "y")
    );
    // first row of the file: 5.7007757,-0.4536778 (shortest round-trip decimals)
    assert_eq!((t.x[(0, 0)], t.y[0]), (5.7007757, -0.4536778));
}

#[test]
fn chosen_target_and_features() {
    let t = read_csv(
        format!("{BAD}/../../../datasets/snelson1d.csv"),
        Some("x"),
        Some(&["y"]),
    )
    .unwrap();
    assert_eq!((t.x[(0, 0)], t.y[0]), (-0.4536778, 5.7007757));
    let e = read_csv("datasets/snelson1d.csv", Some("target"), None).unwrap_err();
    assert!(
        matches!(&e, SvgpError::MissingColumn { column, .. } if column == "target"),
        "{e}"
    );
}

fn error_of(file: &str) -> SvgpError {
    read_csv(format!("{BAD}/{file}"), None, None).unwrap_err()
}

#[test]
fn missing_cell_names_line_and_column() {
    let e = error_of("missing_value.csv");
    assert!(
        matches!(
            e,
            SvgpError::Csv {
                line: 3,
                column: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("missing_value.csv, line 3, column 2"),
        "{e}"
    );
}

#[test]
fn non_numeric_cell_names_line_and_column() {
    assert!(matches!(
        error_of("non_numeric.csv"),
        SvgpError::Csv {
            line: 3,
            column: 2,
            ..
        }
    ));
}

#[test]
fn nan_and_inf_are_refused_where_they_are() {
    assert!(matches!(
        error_of("nan.csv"),
        SvgpError::NonFinite {
            line: 3,
            column: 2,
            ..
        }
    ));
    assert!(matches!(
        error_of("inf.csv"),
        SvgpError::NonFinite {
            line: 3,
            column: 3,
            ..
        }
    ));
}

#[test]
fn ragged_row_is_refused() {
    assert!(matches!(
        error_of("ragged.csv"),
        SvgpError::Csv {
            line: 3,
            column: 3,
            ..
        }
    ));
}

#[test]
fn empty_files_are_refused() {
    assert!(matches!(error_of("empty.csv"), SvgpError::EmptyFile { .. }));
    assert!(matches!(
        error_of("header_only.csv"),
        SvgpError::EmptyFile { .. }
    ));
    assert!(matches!(
        error_of("does_not_exist.csv"),
        SvgpError::Io { .. }
    ));
}

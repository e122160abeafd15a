//! CSV loading: the shipped Snelson data reads bit-exactly, and every bad file gives a typed
//! error naming the file, the line (header = line 1) and the column (1-based).

use svgp::data::{read_csv, Categorical, CsvOptions, Missing};
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

/// The (line, column) of a `Csv` or `NonFinite` error, or the error itself.
fn location(e: &SvgpError) -> (u64, usize) {
    match e {
        SvgpError::Csv { line, column, .. } | SvgpError::NonFinite { line, column, .. } => {
            (*line, *column)
        }
        other => panic!("not a located error: {other}"),
    }
}

/// Every line ending counts one line: `\r\n` (with a blank line before the bad row), a lone
/// `\r`, quoted fields spanning lines (in the header too), a BOM, blank lines before the header.
#[test]
fn line_numbers_are_exact_for_every_line_ending() {
    for (file, expected) in [
        ("crlf_bad_cell.csv", (5, 2)),
        ("cr_only_bad_cell.csv", (4, 3)),
        ("quoted_multiline.csv", (8, 1)),
        ("quoted_multiline_cell.csv", (4, 2)),
        ("bom_crlf_ragged.csv", (3, 3)),
        ("blank_lines_then_header.csv", (3, 2)),
        ("unterminated_quote.csv", (3, 3)),
    ] {
        let e = error_of(file);
        assert_eq!(location(&e), expected, "{file}: {e}");
    }
}

#[test]
fn rows_after_multiline_fields_keep_their_lines() {
    let t = read_csv("tests/data/good/cr_only.csv", None, None).unwrap();
    assert_eq!(t.lines, vec![2, 3, 4, 5]);
    // line 1: header (CRLF); row 1 spans lines 2–3 (a quoted CRLF); line 4 is blank (LF);
    // row 2 spans lines 5–6 (a quoted lone CR); row 3 is line 7.
    let text = b"a,b\r\n\"1\r\n\",2\n\n3,\"\r4\"\r5,6\r\n";
    let t = svgp::data::read_csv_from(&text[..], "mixed.csv", None, None).unwrap();
    assert_eq!(t.lines, vec![2, 5, 7]);
    assert_eq!(
        (t.x.as_slice(), t.y.as_slice()),
        (&[1.0, 3.0, 5.0][..], &[2.0, 4.0, 6.0][..])
    );
}

#[test]
fn semicolon_and_tab_files_are_detected_or_chosen() {
    let good = "tests/data/good";
    for file in ["semicolon.csv", "tab.tsv"] {
        let t = read_csv(format!("{good}/{file}"), None, None).unwrap();
        assert_eq!(t.feature_names, vec!["x1", "x2"], "{file}");
        assert_eq!(
            (t.x[(1, 1)], t.y.as_slice()),
            (-2.0, &[0.0, 1.0, 0.0, 1.0][..])
        );
        assert_eq!(t.lines, vec![2, 3, 4, 5]);
    }
    // Given explicitly, the delimiter wins: read with ',' the semicolon file has one column.
    let comma = CsvOptions {
        delimiter: Some(b','),
        ..CsvOptions::default()
    };
    let t = comma.read(format!("{good}/semicolon.csv"));
    assert!(
        matches!(
            t,
            Err(SvgpError::Csv {
                line: 2,
                column: 1,
                ..
            })
        ),
        "{t:?}"
    );
    let quote = CsvOptions {
        delimiter: Some(b'"'),
        ..CsvOptions::default()
    };
    let e = quote.read(format!("{good}/semicolon.csv")).unwrap_err();
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "delimiter"),
        "{e}"
    );
    // A header splitting on both ',' and ';' is read with ','.
    let e = error_of("ambiguous_delimiter.csv");
    assert!(
        matches!(
            e,
            SvgpError::Csv {
                line: 2,
                column: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("expected 2 cells, found 1"), "{e}");
}

#[test]
fn missing_cells_are_refused_where_they_are_by_default() {
    let e = error_of("na_cell.csv");
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
    assert!(e.to_string().contains("missing value \"NA\""), "{e}");
    let e = error_of("question_mark_cell.csv");
    assert!(
        matches!(
            e,
            SvgpError::Csv {
                line: 3,
                column: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn missing_cells_drop_their_rows_when_asked() {
    let drop = CsvOptions {
        missing: Missing::Drop,
        ..CsvOptions::default()
    };
    // NA, empty, ?, NaN and n/a rows (lines 3–6 and 8) go; lines 2 and 7 stay.
    let t = drop.read("tests/data/good/missing_cells.csv").unwrap();
    assert_eq!((t.rows_dropped, t.lines.clone()), (5, vec![2, 7]));
    assert_eq!(t.y.as_slice(), &[3.0, 18.0]);
    // Only the chosen columns count: without x2, the rows missing only x2 stay.
    let x1_only = CsvOptions {
        features: Some(vec!["x1".into()]),
        ..drop.clone()
    };
    let t = x1_only.read("tests/data/good/missing_cells.csv").unwrap();
    assert_eq!((t.rows_dropped, t.lines), (2, vec![2, 4, 6, 7, 8]));
    // Every row dropped: no data rows.
    let e = drop.read(format!("{BAD}/na_only_rows.csv")).unwrap_err();
    assert!(matches!(e, SvgpError::EmptyFile { .. }), "{e}");
    assert!(read_csv("tests/data/good/missing_cells.csv", None, None).is_err());
}

/// Text columns become indicators `column=level` (levels sorted), named or detected; a target
/// `column=level` is the 0/1 label; a level not among a model's indicators is refused where it is.
#[test]
fn categorical_columns_are_one_hot_encoded() {
    let file = "tests/data/good/categorical.csv";
    let named = CsvOptions {
        categorical: Categorical::Columns(vec!["colour".into()]),
        missing: Missing::Drop,
        ..CsvOptions::default()
    };
    let auto = CsvOptions {
        categorical: Categorical::Auto,
        ..named.clone()
    };
    for options in [named, auto] {
        let t = options.read(file).unwrap();
        assert_eq!(
            t.feature_names,
            vec!["colour=blue", "colour=green", "colour=red", "x"]
        );
        assert_eq!((t.rows_dropped, t.lines.clone()), (1, vec![2, 3, 4, 5, 7]));
        // row 2 (line 3) is green, x = 2
        assert_eq!(
            t.x.row(1).iter().copied().collect::<Vec<_>>(),
            vec![0.0, 1.0, 0.0, 2.0]
        );
    }
    // Without the option, the text column is an error at its first cell.
    let e = read_csv(file, None, None).unwrap_err();
    assert!(
        matches!(
            e,
            SvgpError::Csv {
                line: 2,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    // A target `colour=red`: 1 for red rows, 0 for the others.
    let red = CsvOptions {
        target: Some("colour=red".into()),
        features: Some(vec!["x".into()]),
        missing: Missing::Drop,
        ..CsvOptions::default()
    };
    let t = red.read(file).unwrap();
    assert_eq!(
        (t.target_name.as_str(), t.y.as_slice()),
        ("colour=red", &[1.0, 0.0, 0.0, 1.0, 0.0][..])
    );
    // The indicators a model was trained on: "violet" (line 3) is none of them.
    let model_features = CsvOptions::columns(None, Some(&["colour=blue", "colour=red", "x"]));
    let e = model_features
        .read(format!("{BAD}/unknown_category.csv"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            SvgpError::Csv {
                line: 3,
                column: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains(
            "\"violet\" of column \"colour\" was not seen in training (known: blue, red)"
        ),
        "{e}"
    );
}

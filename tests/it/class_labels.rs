//! Class labels in the target column (`CsvOptions::classes`): labels found in a file are put in
//! class order (numerically ascending when every label is a number, else byte-lexicographic),
//! given labels are matched exactly, and every refused cell is named by file, line and column.
//! Fixtures: tests/data/labels/.

use svgp::data::{BinaryFile, Categorical, ClassLabels, CsvOptions, Missing, Table};
use svgp::SvgpError;

const LABELS: &str = "tests/data/labels";

fn auto() -> CsvOptions {
    CsvOptions {
        classes: ClassLabels::Auto,
        ..CsvOptions::default()
    }
}

fn given(labels: &[&str]) -> CsvOptions {
    CsvOptions {
        classes: ClassLabels::Given(labels.iter().map(|l| l.to_string()).collect()),
        ..CsvOptions::default()
    }
}

fn read(options: &CsvOptions, file: &str) -> svgp::Result<Table> {
    options.read(format!("{LABELS}/{file}"))
}

/// The classes and targets of a table read with labels.
fn classes_and_y(t: &Table) -> (Vec<&str>, Vec<f64>) {
    let classes = t.classes.as_ref().expect("read with labels");
    (
        classes.iter().map(String::as_str).collect(),
        t.y.iter().copied().collect(),
    )
}

/// The (line, column) of a `Csv` error, or the error itself.
fn location(e: &SvgpError) -> (u64, usize) {
    match e {
        SvgpError::Csv { line, column, .. } => (*line, *column),
        other => panic!("not a located error: {other}"),
    }
}

#[test]
fn string_labels_are_classes_in_byte_order() {
    let options = CsvOptions {
        features: Some(vec!["bill_length".into()]),
        ..auto()
    };
    let t = read(&options, "penguins.csv").unwrap();
    assert_eq!(
        classes_and_y(&t),
        (
            vec!["Adelie", "Chinstrap", "Gentoo"],
            vec![0.0, 1.0, 2.0, 0.0, 2.0]
        )
    );
    assert_eq!((t.target_name.as_str(), t.target_column), ("species", 3));
    assert_eq!(t.x.as_slice(), &[39.1, 46.5, 50.0, 38.9, 49.1]);
    // One-hot features and class labels together.
    let both = CsvOptions {
        categorical: Categorical::Auto,
        ..auto()
    };
    let t = read(&both, "penguins.csv").unwrap();
    assert_eq!(
        t.feature_names,
        [
            "bill_length",
            "island=Biscoe",
            "island=Dream",
            "island=Torgersen"
        ]
    );
    assert_eq!(classes_and_y(&t).1, vec![0.0, 1.0, 2.0, 0.0, 2.0]);
}

#[test]
fn integer_labels_order_numerically() {
    // 10, 2, " 1", 2, 10: classes 1 < 2 < 10 (not "10" < "2"); labels are trimmed.
    let t = read(&auto(), "integers.csv").unwrap();
    assert_eq!(
        classes_and_y(&t),
        (vec!["1", "2", "10"], vec![2.0, 1.0, 0.0, 1.0, 2.0])
    );
}

#[test]
fn text_and_numbers_order_as_bytes() {
    let t = read(&auto(), "mixed.csv").unwrap();
    assert_eq!(
        classes_and_y(&t),
        (vec!["10", "2", "B", "cat"], vec![0.0, 3.0, 1.0, 2.0, 0.0])
    );
}

#[test]
fn two_texts_of_one_number_are_refused_naming_both() {
    // "1" on line 2, "1.0" on line 4 (column 2)
    let e = read(&auto(), "same_number.csv").unwrap_err();
    assert_eq!(location(&e), (4, 2), "{e}");
    let message = e.to_string();
    assert!(message.contains("same_number.csv, line 4, column 2"), "{e}");
    assert!(
        message.contains("\"1.0\" and \"1\" (line 2) are the same number"),
        "{e}"
    );
}

#[test]
fn given_labels_set_the_class_order() {
    let options = CsvOptions {
        features: Some(vec!["bill_length".into()]),
        ..given(&["Gentoo", "Chinstrap", "Adelie"])
    };
    let t = read(&options, "penguins.csv").unwrap();
    assert_eq!(
        classes_and_y(&t),
        (
            vec!["Gentoo", "Chinstrap", "Adelie"],
            vec![2.0, 1.0, 0.0, 2.0, 0.0]
        )
    );
}

#[test]
fn an_unknown_given_label_is_refused_where_it_is() {
    let options = CsvOptions {
        features: Some(vec!["bill_length".into()]),
        ..given(&["Adelie", "Gentoo"])
    };
    let e = read(&options, "penguins.csv").unwrap_err();
    assert_eq!(location(&e), (3, 3), "{e}");
    assert!(
        e.to_string().contains(
            "penguins.csv, line 3, column 3: class label \"Chinstrap\" of column \"species\" \
             is not among the classes (known: \"Adelie\", \"Gentoo\")"
        ),
        "{e}"
    );
}

#[test]
fn missing_labels_are_refused_or_dropped() {
    // Line 3 holds a quoted label of spaces only: missing, like NA, empty, spaces and ?.
    let e = read(&auto(), "missing.csv").unwrap_err();
    assert_eq!(location(&e), (3, 2), "{e}");
    assert!(e.to_string().contains("missing value"), "{e}");
    let drop = CsvOptions {
        missing: Missing::Drop,
        ..auto()
    };
    let t = read(&drop, "missing.csv").unwrap();
    assert_eq!((t.rows_dropped, t.lines.clone()), (5, vec![2, 5, 9]));
    assert_eq!(
        classes_and_y(&t),
        (vec!["Adelie", "Gentoo"], vec![0.0, 1.0, 0.0])
    );
    let e = read(&given(&["Adelie", "Gentoo"]), "missing.csv").unwrap_err();
    assert_eq!(location(&e), (3, 2), "{e}");
}

#[test]
fn quoted_labels_with_commas_in_a_crlf_file() {
    // Lines: 1 header, 2, 3, 4 blank, 5 (" Smith, J. " trimmed), 6–7 a label spanning lines, 8.
    let t = read(&auto(), "quoted_crlf.csv").unwrap();
    assert_eq!(t.lines, vec![2, 3, 5, 6, 8]);
    assert_eq!(
        classes_and_y(&t),
        (
            vec!["Doe, A.", "Smith, J.", "multi\r\nline"],
            vec![1.0, 0.0, 1.0, 2.0, 0.0]
        )
    );
    let e = read(&given(&["Doe, A.", "Smith, J."]), "quoted_crlf.csv").unwrap_err();
    assert_eq!(location(&e), (6, 2), "{e}");
}

#[test]
fn numbers_read_without_labels_as_before() {
    let t = read(&CsvOptions::default(), "integers.csv").unwrap();
    assert_eq!(t.classes, None);
    assert_eq!(t.y.as_slice(), &[10.0, 2.0, 1.0, 2.0, 10.0]);
    let e = read(&CsvOptions::default(), "mixed.csv").unwrap_err();
    assert_eq!(location(&e), (3, 2), "{e}");
}

#[test]
fn options_that_cannot_hold_are_refused() {
    let is_classes =
        |e: &SvgpError| matches!(e, SvgpError::InvalidParameter { name, .. } if name == "classes");
    // Row by row, labels found in the file have no order yet.
    let file = std::fs::File::open(format!("{LABELS}/penguins.csv")).unwrap();
    let e = auto().rows(file, "penguins.csv").err().unwrap();
    assert!(is_classes(&e), "{e}");
    // A target `column=level` is already a 0/1 indicator.
    let indicator = CsvOptions {
        target: Some("species=Adelie".into()),
        ..auto()
    };
    let e = read(&indicator, "penguins.csv").unwrap_err();
    assert!(is_classes(&e), "{e}");
    for bad in [&[][..], &["a", "a"], &["NA"], &[" a"]] {
        let e = read(&given(bad), "penguins.csv").unwrap_err();
        assert!(is_classes(&e), "{bad:?}: {e}");
    }
}

#[test]
fn convert_writes_classes_of_given_labels_and_refuses_auto() {
    let dir = std::env::temp_dir().join(format!("svgp-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("penguins.svgpb");
    let options = CsvOptions {
        features: Some(vec!["bill_length".into()]),
        ..given(&["Gentoo", "Chinstrap", "Adelie"])
    };
    let converted = options
        .convert(format!("{LABELS}/penguins.csv"), &out)
        .unwrap();
    assert_eq!(converted.header.num_rows, 5);
    let mut rows = Vec::new();
    BinaryFile::open(&out)
        .unwrap()
        .read_rows(0, 5, &mut rows)
        .unwrap();
    let targets: Vec<f64> = rows.chunks(2).map(|r| r[1]).collect();
    assert_eq!(targets, vec![2.0, 1.0, 0.0, 2.0, 0.0]);
    let unknown = CsvOptions {
        features: Some(vec!["bill_length".into()]),
        ..given(&["Adelie"])
    };
    let e = unknown
        .convert(format!("{LABELS}/penguins.csv"), &out)
        .unwrap_err();
    assert_eq!(location(&e), (3, 3), "{e}");
    let e = auto()
        .convert(format!("{LABELS}/penguins.csv"), &out)
        .unwrap_err();
    assert!(
        matches!(&e, SvgpError::InvalidParameter { name, .. } if name == "classes"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

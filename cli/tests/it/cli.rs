//! The `svgp` binary end to end: fit → predict → evaluate on shipped datasets, save/load
//! round trips, and the corpus of bad files in tests/data/bad/, each of which must fail with a
//! message naming the file and the line/column (or the option or field), never a panic.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary from the workspace root, where `datasets/` and `tests/data/` are.
pub(crate) fn svgp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svgp"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "exactly one JSON object on stdout: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn regression_fit_predict_evaluate() {
    let model = scratch("snelson.json");
    let m = model.to_str().unwrap();
    let fit = json(&svgp(&[
        "fit",
        "--data",
        "datasets/snelson1d.csv",
        "--inducing",
        "20",
        "--iterations",
        "300",
        "--output",
        m,
        "--json",
    ]));
    for key in [
        "iterations",
        "elbo",
        "seconds",
        "train_seconds",
        "num_data",
        "num_inducing",
        "test_rmse",
        "test_nlpd",
    ] {
        assert!(fit.get(key).is_some(), "missing {key} in {fit}");
    }
    assert_eq!(
        (
            fit["iterations"].as_u64(),
            fit["num_data"].as_u64(),
            fit["num_inducing"].as_u64()
        ),
        (Some(300), Some(180), Some(20))
    );
    // Snelson's targets have sd 0.84 and noise sd ≈ 0.28: a fit must predict far better than the mean.
    let rmse = fit["test_rmse"].as_f64().unwrap();
    assert!(rmse > 0.1 && rmse < 0.5, "test RMSE {rmse}");
    assert!(fit["train_seconds"].as_f64().unwrap() <= fit["seconds"].as_f64().unwrap());

    let eval = json(&svgp(&[
        "evaluate",
        "--model",
        m,
        "--data",
        "datasets/snelson1d.csv",
        "--json",
    ]));
    assert!(
        eval["test_rmse"].as_f64().unwrap() < 0.5 && eval["test_nlpd"].as_f64().unwrap() < 1.0,
        "{eval}"
    );

    let preds = scratch("preds.csv");
    let out = svgp(&[
        "predict",
        "--model",
        m,
        "--data",
        "datasets/snelson1d_test_inputs.csv",
        "--output",
        preds.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&preds).unwrap();
    assert_eq!(text.lines().next(), Some("mean,variance"));
    assert_eq!(text.lines().count(), 302);
    assert!(text.lines().skip(1).all(|l| l
        .split(',')
        .all(|v| v.parse::<f64>().is_ok_and(f64::is_finite))));
}

#[test]
fn classification_fit_and_evaluate() {
    let model = scratch("banana.json");
    let m = model.to_str().unwrap();
    let fit = json(&svgp(&[
        "fit",
        "--data",
        "datasets/banana_400.csv",
        "--likelihood",
        "bernoulli",
        "--inducing",
        "20",
        "--iterations",
        "300",
        "--output",
        m,
        "--json",
        "--test-fraction",
        "0.25",
    ]));
    let accuracy = fit["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "banana test accuracy {accuracy}");
    assert!(fit["test_nlpd"].as_f64().unwrap() < 0.5);
    let eval = json(&svgp(&[
        "evaluate",
        "--model",
        m,
        "--data",
        "datasets/banana_400.csv",
        "--json",
    ]));
    assert!(eval["test_accuracy"].as_f64().unwrap() > 0.8 && eval.get("test_nlpd").is_some());
    let out = svgp(&["predict", "--model", m, "--data", "datasets/banana_400.csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("probability,variance"));
    assert!(text.lines().skip(1).all(|l| l
        .split(',')
        .next()
        .unwrap()
        .parse::<f64>()
        .is_ok_and(|p| (0.0..=1.0).contains(&p))));
}

/// save → load → predict is bitwise identical to predicting from the file written first.
#[test]
fn saved_models_predict_bitwise_identically() {
    let model = scratch("repeat.json");
    let m = model.to_str().unwrap();
    assert!(svgp(&[
        "fit",
        "--data",
        "datasets/snelson1d.csv",
        "--inducing",
        "10",
        "--iterations",
        "50",
        "--output",
        m,
        "--quiet"
    ])
    .status
    .success());
    let first = svgp(&[
        "predict",
        "--model",
        m,
        "--data",
        "datasets/snelson1d_test_inputs.csv",
    ])
    .stdout;
    let saved = svgp::tabular::SavedModel::load(&model).unwrap();
    let again = scratch("repeat2.json");
    saved.save(&again).unwrap();
    let second = svgp(&[
        "predict",
        "--model",
        again.to_str().unwrap(),
        "--data",
        "datasets/snelson1d_test_inputs.csv",
    ])
    .stdout;
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap(),
        "re-saving changes nothing"
    );
}

#[test]
fn crlf_line_endings_and_a_utf8_bom_are_read() {
    let out = svgp(&[
        "fit",
        "--data",
        "tests/data/good/bom_crlf.csv",
        "--inducing",
        "5",
        "--iterations",
        "20",
        "--json",
    ]);
    assert_eq!(json(&out)["num_data"].as_u64(), Some(54));
}

/// Runs `svgp` and checks: non-zero exit, no panic, and every fragment in the message.
pub(crate) fn refused(args: &[&str], fragments: &[&str]) {
    let out = svgp(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for f in fragments {
        assert!(err.contains(f), "{args:?}: {f:?} not in {err:?}");
    }
}

fn bad(name: &str) -> String {
    format!("tests/data/bad/{name}")
}

/// `svgp fit` on the bad CSV `file` with M = 2 is refused naming the file and every fragment.
fn refused_csv(file: &str, fragments: &[&str]) {
    let path = bad(file);
    let mut all = vec![file];
    all.extend_from_slice(fragments);
    refused(
        &[
            "fit",
            "--data",
            &path,
            "--inducing",
            "2",
            "--iterations",
            "3",
        ],
        &all,
    );
}

#[test]
fn bad_csv_files_are_refused_with_their_location() {
    refused_csv(
        "missing_value.csv",
        &[
            "line 3, column 2",
            "missing value",
            "missing cells in 1 row, the first in \"x2\" (\"\", line 3, column 2): leave it out with --missing drop",
        ],
    );
    refused_csv("blank_cell.csv", &["line 3, column 2", "missing value"]);
    refused_csv(
        "non_numeric.csv",
        &[
            "line 3, column 2",
            "not a number",
            "numbers and text in column \"x2\" (\"abc\", line 3, column 2): correct the cell",
        ],
    );
    refused_csv("quoted_text.csv", &["line 3, column 2", "not a number"]);
    refused_csv("nan.csv", &["line 3, column 2", "not finite"]);
    refused_csv("inf.csv", &["line 3, column 3", "not finite"]);
    refused_csv("neg_inf.csv", &["line 3, column 2", "not finite"]);
    refused_csv("exponent_overflow.csv", &["line 3, column 1", "not finite"]);
    refused_csv("nan_target.csv", &["line 3, column 2", "not finite"]);
    refused_csv("very_long_line.csv", &["line 3, column 1", "not finite"]);
    refused_csv("ragged.csv", &["line 3", "expected 3 cells, found 2"]);
    refused_csv("ragged_long.csv", &["line 3", "expected 3 cells, found 4"]);
    refused_csv("empty.csv", &["no data rows"]);
    refused_csv("only_newline.csv", &["no data rows"]);
    refused_csv("header_only.csv", &["no data rows"]);
    refused_csv("bom_header_only.csv", &["no data rows"]);
    refused_csv(
        "duplicate_columns.csv",
        &["line 1, column 2", "duplicate column name"],
    );
    refused_csv(
        "empty_column_name.csv",
        &["line 1, column 2", "empty column name"],
    );
    refused_csv("invalid_utf8.csv", &["line 3"]);
}

#[test]
fn missing_columns_and_paths_are_refused_naming_them() {
    refused(
        &[
            "fit",
            "--data",
            &bad("no_target_column.csv"),
            "--target",
            "y",
        ],
        &["no_target_column.csv", "no column named \"y\""],
    );
    refused(
        &[
            "fit",
            "--data",
            &bad("no_target_column.csv"),
            "--target",
            "b",
            "--features",
            "a,zz",
        ],
        &["no column named \"zz\""],
    );
    refused(
        &["fit", "--data", &bad("does_not_exist.csv")],
        &["does_not_exist.csv"],
    );
    refused(&["fit", "--data", "tests/data/bad"], &["tests/data/bad"]);
}

/// `svgp fit` on a bad file with a likelihood and M = 3 is refused with every fragment.
fn refused_fit(file: &str, likelihood: &str, fragments: &[&str]) {
    let path = bad(file);
    let mut all = vec![file];
    all.extend_from_slice(fragments);
    refused(
        &[
            "fit",
            "--data",
            &path,
            "--likelihood",
            likelihood,
            "--inducing",
            "3",
        ],
        &all,
    );
}

#[test]
fn targets_and_options_outside_their_domain_are_refused() {
    refused_fit(
        "label_outside.csv",
        "bernoulli",
        &["line 22, column 3", "0 or 1"],
    );
    refused_fit("one_class.csv", "bernoulli", &["column 3", "both classes"]);
    refused_fit(
        "negative_count.csv",
        "poisson",
        &["line 22, column 2", "non-negative integers"],
    );
    refused_fit("fractional_count.csv", "poisson", &["line 22, column 2"]);
    let p = bad("few_rows.csv");
    refused(&["fit", "--data", &p, "--inducing", "50"], &["--inducing"]);
    refused(
        &[
            "fit",
            "--data",
            &p,
            "--inducing",
            "2",
            "--test-fraction",
            "1.5",
        ],
        &["--test-fraction"],
    );
    refused(
        &["fit", "--data", &p, "--inducing", "2", "--gamma=-1"],
        &["gamma"],
    );
    refused(
        &["fit", "--data", &p, "--inducing", "2", "--batch-size", "0"],
        &["--batch-size"],
    );
    refused(
        &["fit", "--data", &p, "--inducing", "2", "--adam-lr", "0"],
        &["--adam-lr"],
    );
    refused(
        &["fit", "--data", &p, "--likelihood", "nonsense"],
        &["nonsense"],
    );
}

#[test]
fn bad_model_files_are_refused_naming_the_fault() {
    let data = "datasets/snelson1d.csv";
    for (file, fragment) in [
        ("model_wrong_version.json", "format version 99"),
        ("model_truncated.json", "not JSON"),
        ("model_not_object.json", "not an svgp model file"),
        ("missing_value.csv", "not JSON"),
    ] {
        let p = bad(file);
        refused(
            &["evaluate", "--model", &p, "--data", data],
            &[file, fragment],
        );
        refused(
            &["predict", "--model", &p, "--data", data],
            &[file, fragment],
        );
    }
    // A real model, altered: wrong shapes or values are named.
    let model = scratch("to_break.json");
    let m = model.to_str().unwrap();
    assert!(svgp(&[
        "fit",
        "--data",
        data,
        "--inducing",
        "4",
        "--iterations",
        "5",
        "--output",
        m,
        "--quiet"
    ])
    .status
    .success());
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    let cases = broken_models(&original);
    for (k, (value, fragment)) in cases.into_iter().enumerate() {
        let path = scratch(&format!("broken{k}.json"));
        std::fs::write(&path, value.to_string()).unwrap();
        refused(
            &[
                "evaluate",
                "--model",
                path.to_str().unwrap(),
                "--data",
                data,
            ],
            &[&format!("broken{k}.json"), fragment],
        );
    }
    // predict on a file lacking the model's feature column
    refused(
        &[
            "predict",
            "--model",
            m,
            "--data",
            &bad("no_target_column.csv"),
        ],
        &["no column named \"x\""],
    );
}

/// Copies of the saved model `original`, each altered in one field, with the fragment its refusal
/// names.
fn broken_models(original: &serde_json::Value) -> Vec<(serde_json::Value, &'static str)> {
    let mut cases: Vec<(serde_json::Value, &'static str)> = Vec::new();
    let mut v = original.clone();
    v["latents"][0]["m"].as_array_mut().unwrap().pop();
    cases.push((v, "latent 0: m has 3 entries"));
    let mut v = original.clone();
    v["latents"][0]["l"][0][0] = (-1.0).into();
    cases.push((v, "latent 0 q(v)"));
    let mut v = original.clone();
    v["latents"] = serde_json::json!([]);
    cases.push((v, "q(v), one per latent"));
    let mut v = original.clone();
    v["classes"] = serde_json::json!(["a", "b"]);
    cases.push((v, "2 class labels for a likelihood of no classes"));
    let mut v = original.clone();
    v["jitter"] = (-1.0).into();
    cases.push((v, "jitter"));
    let mut v = original.clone();
    v["z"][1] = serde_json::json!([1.0, 2.0]);
    cases.push((v, "z row 1 has 2 entries"));
    let mut v = original.clone();
    v["feature_names"] = serde_json::json!(["x", "w"]);
    cases.push((v, "z row 0 has 1 entries, expected 2"));
    let mut v = original.clone();
    v["input_scaling"]["scale"] = serde_json::json!([0.0]);
    cases.push((v, "input_scaling"));
    cases
}

/// `--plots DIR` writes the ELBO trace and the plot that applies: the 1-D fit for Snelson, the
/// probability map for 2-D banana, the calibration diagram for 8-D Pima; each a real PNG (signature, and larger than a blank image
/// compresses to).
#[test]
fn plots_are_written_for_regression_and_classification() {
    for (data, extra, plot) in [
        ("datasets/snelson1d.csv", vec![], "fit.png"),
        (
            "datasets/banana_400.csv",
            vec!["--likelihood", "bernoulli"],
            "classification.png",
        ),
        (
            "datasets/pima_diabetes.csv",
            vec!["--likelihood", "bernoulli"],
            "calibration.png",
        ),
    ] {
        let dir = scratch(&format!("plots-{plot}"));
        let mut args = vec![
            "fit",
            "--data",
            data,
            "--inducing",
            "10",
            "--iterations",
            "50",
            "--quiet",
            "--plots",
            dir.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = svgp(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for name in ["elbo.png", plot] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name} is a PNG");
            assert!(bytes.len() > 10_000, "{name}: {} bytes", bytes.len());
        }
    }
}

/// `svgp … | head` closes the pipe early: every printing subcommand exits quietly (status 0, no
/// panic) instead of panicking with "failed printing to stdout".
#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let model = scratch("pipe.json");
    let m = model.to_str().unwrap();
    let fit = [
        "fit",
        "--data",
        "datasets/snelson1d.csv",
        "--inducing",
        "10",
        "--iterations",
        "200",
        "--quiet",
    ];
    fn with<'a>(fit: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = fit.to_vec();
        args.extend_from_slice(extra);
        args
    }
    assert!(svgp(&with(&fit, &["--output", m])).status.success());
    let predict = ["predict", "--model", m, "--data", "datasets/snelson1d.csv"];
    let evaluate = ["evaluate", "--model", m, "--data", "datasets/snelson1d.csv"];
    for args in [
        with(&fit, &[]),
        with(&fit, &["--json"]),
        predict.to_vec(),
        evaluate.to_vec(),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_svgp"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes before anything is written
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
    }
}

/// The summary names the columns used: the target (here the last column, by default) and the
/// features, in text and in JSON, and the rows dropped.
#[test]
fn the_fit_summary_names_the_columns_used() {
    let args = [
        "fit",
        "--data",
        "tests/data/good/semicolon.csv",
        "--inducing",
        "2",
        "--iterations",
        "5",
        "--test-fraction",
        "0",
        "--quiet",
    ];
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let fit = json(&svgp(&with_json));
    assert_eq!(fit["target"], "y");
    assert_eq!(fit["features"], serde_json::json!(["x1", "x2"]));
    assert_eq!(
        (fit["num_data"].as_u64(), fit["rows_dropped"].as_u64()),
        (Some(4), Some(0))
    );
    let text = String::from_utf8(svgp(&args).stdout).unwrap();
    assert!(text.contains("          target: y\n"), "{text}");
    assert!(text.contains("        features: x1,x2\n"), "{text}");
    // No `y` column: the last one is the target, and the summary says so.
    let fit = json(&svgp(&[
        "fit",
        "--data",
        "tests/data/bad/no_target_column.csv",
        "--inducing",
        "2",
        "--iterations",
        "5",
        "--json",
    ]));
    assert_eq!(
        (
            fit["target"].as_str(),
            fit["features"].as_array().map(Vec::len)
        ),
        (Some("b"), Some(1))
    );
}

/// `--delimiter` reads a file whose delimiter is not detected, and is refused when it cannot be
/// one.
#[test]
fn delimiter_option() {
    let pipe = scratch("pipe.csv");
    std::fs::write(&pipe, "x|y\n0|0\n1|1\n2|4\n3|9\n").unwrap();
    let p = pipe.to_str().unwrap();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--data",
            p,
            "--inducing",
            "2",
            "--iterations",
            "5",
            "--json",
        ];
        args.extend_from_slice(extra);
        svgp(&args)
    };
    let out = fit(&["--delimiter", "|", "--test-fraction", "0"]);
    assert_eq!(json(&out)["num_data"].as_u64(), Some(4));
    refused(
        &["fit", "--data", p, "--inducing", "2"],
        &["pipe.csv", "line 2, column 1"],
    );
    refused(&["fit", "--data", p, "--delimiter", "ab"], &["--delimiter"]);
    refused(&["fit", "--data", p, "--delimiter", "\""], &["--delimiter"]);
    let tab = "tests/data/good/tab.tsv";
    let out = svgp(&[
        "fit",
        "--data",
        tab,
        "--delimiter",
        "tab",
        "--inducing",
        "2",
        "--iterations",
        "5",
        "--json",
    ]);
    assert_eq!(json(&out)["features"], serde_json::json!(["x1", "x2"]));
}

/// `--missing drop` leaves out (and counts) the rows with a missing cell, in `fit` and `convert`;
/// without it a missing cell is refused with its location.
#[test]
fn missing_option() {
    let missing = "tests/data/good/missing_cells.csv";
    refused(
        &["fit", "--data", missing, "--inducing", "2"],
        &[
            "missing_cells.csv",
            "line 3, column 1",
            "missing value \"NA\"",
        ],
    );
    let out = svgp(&[
        "fit",
        "--data",
        missing,
        "--missing",
        "drop",
        "--inducing",
        "2",
        "--iterations",
        "5",
        "--test-fraction",
        "0",
        "--json",
    ]);
    let fit = json(&out);
    assert_eq!(
        (fit["num_data"].as_u64(), fit["rows_dropped"].as_u64()),
        (Some(2), Some(5))
    );
    let out = scratch("missing.svgpb");
    let converted = json(&svgp(&[
        "convert",
        "--data",
        missing,
        "--missing",
        "drop",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(
        (
            converted["rows"].as_u64(),
            converted["rows_dropped"].as_u64()
        ),
        (Some(2), Some(5))
    );
}

/// Too few rows for the inducing inputs: the message names the file, the flag and the count.
#[test]
fn too_few_rows_names_the_file_and_the_count() {
    let one = scratch("one_row.csv");
    std::fs::write(&one, "x,y\n1,2\n").unwrap();
    refused(
        &["fit", "--data", one.to_str().unwrap()],
        &["one_row.csv", "--inducing 50", "training rows, 1"],
    );
    refused(
        &["fit", "--data", &bad("few_rows.csv"), "--inducing", "50"],
        &["few_rows.csv", "--inducing 50", "training rows, 9"],
    );
}

/// Every file of the bad-input corpus is refused naming the file (and, where a cell or line is
/// at fault, the line), never with a panic.
#[test]
fn the_whole_bad_corpus_is_refused_without_a_panic() {
    let whole_file = [
        "empty.csv",
        "only_newline.csv",
        "header_only.csv",
        "bom_header_only.csv",
        "na_only_rows.csv",
        "no_target_column.csv",
        "few_rows.csv",
        "one_class.csv",
    ];
    let mut count = 0;
    for entry in std::fs::read_dir("../tests/data/bad").unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let path = bad(&name);
        let inducing = if name == "few_rows.csv" { "50" } else { "2" };
        let mut args = vec![
            "fit",
            "--data",
            &path,
            "--inducing",
            inducing,
            "--iterations",
            "3",
        ];
        match name.as_str() {
            "label_outside.csv" | "one_class.csv" => args.extend(["--likelihood", "bernoulli"]),
            "negative_count.csv" | "fractional_count.csv" => {
                args.extend(["--likelihood", "poisson"])
            }
            "no_target_column.csv" => args.extend(["--target", "y"]),
            "na_only_rows.csv" => args.extend(["--missing", "drop"]),
            n if n.ends_with(".json") => {
                args = vec![
                    "evaluate",
                    "--model",
                    &path,
                    "--data",
                    "datasets/snelson1d.csv",
                ]
            }
            _ => {}
        }
        let mut fragments = vec![name.as_str()];
        if name.ends_with(".csv") && !whole_file.contains(&name.as_str()) {
            fragments.push("line ");
        }
        refused(&args, &fragments);
        count += 1;
    }
    assert!(count >= 40, "{count} files in the corpus");
}

/// The penguins table as users have it: a text target (Gentoo against the other species), text
/// features one-hot encoded, `NA` rows dropped and counted; the saved model encodes a new file
/// as in training and refuses an island it never saw.
#[test]
fn penguins_with_a_text_target_categorical_columns_and_missing_cells() {
    let model = scratch("penguins.json");
    let m = model.to_str().unwrap();
    let fit = fit_gentoo(m);
    assert_eq!(fit["target"], "species=Gentoo");
    let features: Vec<&str> = fit["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        features,
        [
            "island=Biscoe",
            "island=Dream",
            "island=Torgersen",
            "bill_length_mm",
            "bill_depth_mm",
            "flipper_length_mm",
            "body_mass_g",
            "sex=female",
            "sex=male",
            "year"
        ]
    );
    // 344 rows, 11 with an NA cell; 333 − round(0.25 · 333) = 250 train.
    assert_eq!(
        (fit["rows_dropped"].as_u64(), fit["num_data"].as_u64()),
        (Some(11), Some(250))
    );
    let accuracy = fit["test_accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.95,
        "Gentoo against the rest, test accuracy {accuracy}"
    );
    let eval = json(&svgp(&[
        "evaluate",
        "--model",
        m,
        "--data",
        "datasets/penguins.csv",
        "--missing",
        "drop",
        "--json",
    ]));
    assert_eq!(eval["rows_dropped"].as_u64(), Some(11));
    assert!(eval["test_accuracy"].as_f64().unwrap() > 0.95, "{eval}");
    refuses_an_unseen_island(m);
}

/// Fits Gentoo against the other penguins, the island and sex one-hot encoded, to `model`;
/// returns the `--json` summary.
fn fit_gentoo(model: &str) -> serde_json::Value {
    json(&svgp(&[
        "fit",
        "--data",
        "datasets/penguins.csv",
        "--target",
        "species=Gentoo",
        "--likelihood",
        "bernoulli",
        "--categorical",
        "island,sex",
        "--missing",
        "drop",
        "--inducing",
        "20",
        "--iterations",
        "200",
        "--test-fraction",
        "0.25",
        "--output",
        model,
        "--json",
    ]))
}

/// `predict` with the penguins `model` refuses a row from an island it never saw, naming the cell.
fn refuses_an_unseen_island(model: &str) {
    let atlantis = scratch("atlantis.csv");
    let text = std::fs::read_to_string("../datasets/penguins.csv").unwrap();
    let mut lines: Vec<&str> = text.lines().take(3).collect();
    lines.push("Adelie,Atlantis,39.1,18.7,181,3750,male,2007");
    std::fs::write(&atlantis, lines.join("\n")).unwrap();
    refused(
        &[
            "predict",
            "--model",
            model,
            "--data",
            atlantis.to_str().unwrap(),
        ],
        &[
            "atlantis.csv, line 4, column 2",
            "\"Atlantis\" of column \"island\" was not seen in training",
        ],
    );
}

/// A first run on the penguins table as users have it, with no option: one message that locates
/// the first text cell and names every option the whole file needs (each text column, the rows
/// with missing cells, the target); the options it names then read the file.
#[test]
fn penguins_without_options_are_refused_naming_every_option_needed() {
    let run = ["fit", "--data", "datasets/penguins.csv", "--inducing", "5"];
    let fit = |extra: &[&str]| svgp(&[&run[..], extra, &["--iterations", "5"]].concat());
    let first = fit(&[]);
    let message = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "fitted: {message}");
    for fragment in [
        "datasets/penguins.csv, line 2, column 1: \"Adelie\" is not a number (column \"species\")",
        "text in columns \"species\" (\"Adelie\", line 2, column 1), \"island\" (\"Torgersen\", line 2, column 2), \"sex\" (\"male\", line 2, column 7)",
        "--categorical species,island,sex (or --categorical auto)",
        "missing cells in 11 rows, the first in \"bill_length_mm\" (\"NA\", line 5, column 3)",
        "--missing drop",
        "the target is \"year\"",
        "--target",
        "--likelihood softmax",
    ] {
        assert!(message.contains(fragment), "{fragment:?} not in {message}");
    }
    // The target named: its text is class labels, the other text columns categories.
    let species = fit(&["--target", "species"]);
    let message = String::from_utf8_lossy(&species.stderr);
    for fragment in [
        "line 2, column 2: \"Torgersen\" is not a number",
        "text in the target column \"species\" (\"Adelie\", line 2, column 1)",
        "--likelihood softmax (or robustmax)",
        "--target species=Adelie --likelihood bernoulli",
        "--categorical island,sex (or --categorical auto)",
        "--missing drop",
    ] {
        assert!(message.contains(fragment), "{fragment:?} not in {message}");
    }
    assert!(!message.contains("the target is"), "{message}");
    // The options the messages name read the file.
    let categorical = message
        .split("--categorical ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    let out = fit(&[
        "--target",
        "species",
        "--likelihood",
        "softmax",
        "--categorical",
        categorical,
        "--missing",
        "drop",
        "--json",
    ]);
    let fitted = json(&out);
    assert_eq!(
        (fitted["target"].as_str(), fitted["rows_dropped"].as_u64()),
        (Some("species"), Some(11))
    );
}

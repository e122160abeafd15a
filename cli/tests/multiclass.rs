//! A 10-class, 64-feature problem with constant columns from the command line (issue 14):
//! `svgp fit --likelihood robustmax` on `datasets/digits.csv` (three pixel columns are always 0)
//! trains with no error and no NaN, classifies far above chance, and `svgp predict` writes one
//! probability column per class headed 0..9 and the predicted label.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary from the workspace root, where `datasets/` is.
fn svgp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svgp"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-cli-multiclass-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The one JSON object the command printed, after checking it succeeded.
fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The number under `key`, which must be present and finite.
fn finite(value: &serde_json::Value, key: &str) -> f64 {
    let x = value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {value}"));
    assert!(x.is_finite(), "{key} = {x} in {value}");
    x
}

#[test]
fn ten_class_digits_with_constant_columns() {
    let model = scratch("digits.json");
    let m = model.to_str().unwrap();
    let fit = json(&svgp(&[
        "fit",
        "--data",
        "datasets/digits.csv",
        "--likelihood",
        "robustmax",
        "--inducing",
        "20",
        "--batch-size",
        "128",
        "--iterations",
        "150",
        "--test-fraction",
        "0.25",
        "--seed",
        "1",
        "--output",
        m,
        "--json",
    ]));
    finite(&fit, "elbo");
    let nlpd = finite(&fit, "test_nlpd");
    let accuracy = finite(&fit, "test_accuracy");
    // chance is 0.1 (and −log 0.1 = 2.30 nats)
    assert!(accuracy > 0.5, "digits test accuracy {accuracy}: {fit}");
    assert!(nlpd < 2.3, "digits test NLPD {nlpd}: {fit}");

    let out = svgp(&["predict", "--model", m, "--data", "datasets/digits.csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let expected: Vec<String> = (0..10)
        .map(|c| c.to_string())
        .chain(["predicted".to_string()])
        .collect();
    assert_eq!(header, expected);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1797);
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 11, "{row}");
        let p: Vec<f64> = cells[..10].iter().map(|c| c.parse().unwrap()).collect();
        assert!(p.iter().all(|p| (0.0..=1.0).contains(p)), "{row}");
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{row}");
        let label: usize = cells[10].parse().unwrap();
        assert!(label < 10, "{row}");
    }
}

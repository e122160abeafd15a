//! Several latent GPs from the command line (issue 14). A 10-class, 64-feature problem with
//! constant columns: `svgp fit --likelihood robustmax` on `datasets/digits.csv` (three pixel
//! columns are always 0) trains with no error and no NaN, classifies far above chance, and
//! `svgp predict` writes one probability column per class headed 0..9 and the predicted label.
//! Several outputs: `--target body_mass_g,flipper_length_mm` on `datasets/penguins.csv` fits one
//! Gaussian output per target, and `fit`, `evaluate` and `predict` report each output.

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
        // Each class's probability is its own composite-rule integral, each within 1e-10
        // (robustmax.rs), so a row of 10 adds to 1 within 1e-9 (measured: 4.5e-11).
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{row}");
        let label: usize = cells[10].parse().unwrap();
        assert!(label < 10, "{row}");
    }
}

/// The penguins with two real targets (body mass and flipper length from the bill, species and
/// sex), the rows with a missing cell dropped.
const TWO_TARGETS: [&str; 10] = [
    "--data",
    "datasets/penguins.csv",
    "--target",
    "body_mass_g,flipper_length_mm",
    "--features",
    "bill_length_mm,bill_depth_mm,species,sex",
    "--categorical",
    "species,sex",
    "--missing",
    "drop",
];

/// Two real targets of the penguins: each output's test RMSE is well below its spread (sd ≈ 800 g
/// and 14 mm; the fit reaches ≈ 300 g and ≈ 5 mm), `evaluate` reports both outputs in their units,
/// `predict` writes `<target>_mean,<target>_variance` per output, and the plot is predicted
/// against observed.
#[test]
fn two_outputs_penguins() {
    let model = scratch("penguins_outputs.json");
    let m = model.to_str().unwrap();
    fit_two_outputs(m);
    evaluate_and_predict_two_outputs(m);
}

/// Fits the two-target penguins to `model` and checks the per-output test figures and the plot.
fn fit_two_outputs(model: &str) {
    let plots = scratch("penguins_plots");
    let mut args = vec!["fit"];
    args.extend(TWO_TARGETS);
    args.extend(["--inducing", "40", "--iterations", "400", "--seed", "1"]);
    args.extend(["--test-fraction", "0.25", "--output", model, "--json"]);
    args.extend(["--plots", plots.to_str().unwrap()]);
    let fit = json(&svgp(&args));
    assert_eq!(
        fit["target"],
        serde_json::json!(["body_mass_g", "flipper_length_mm"])
    );
    let outputs = fit["test_outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    for (o, (name, limit)) in outputs
        .iter()
        .zip([("body_mass_g", 400.0), ("flipper_length_mm", 7.0)])
    {
        assert_eq!(o["target"], name);
        let rmse = finite(o, "rmse");
        assert!(rmse < limit, "{name}: test RMSE {rmse} in {fit}");
        finite(o, "nlpd");
    }
    assert!(plots.join("predicted_vs_observed.png").exists());
}

/// `evaluate` and `predict` with the two-output `model`: both outputs, one mean/variance pair each.
fn evaluate_and_predict_two_outputs(model: &str) {
    let eval = json(&svgp(&[
        "evaluate",
        "--model",
        model,
        "--data",
        "datasets/penguins.csv",
        "--missing",
        "drop",
        "--json",
    ]));
    assert_eq!(eval["test_outputs"].as_array().unwrap().len(), 2);
    let out = svgp(&[
        "predict",
        "--model",
        model,
        "--data",
        "datasets/penguins.csv",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "body_mass_g_mean,body_mass_g_variance,flipper_length_mm_mean,flipper_length_mm_variance"
    );
}

/// `--kernel-per-latent` gives each of the two penguin outputs its own kernel.
#[test]
fn two_outputs_penguins_kernel_per_latent() {
    let per_output = scratch("penguins_per_output.json");
    let mut args = vec![
        "fit",
        "--kernel-per-latent",
        "--iterations",
        "50",
        "--inducing",
        "20",
    ];
    args.extend(TWO_TARGETS);
    args.extend(["--output", per_output.to_str().unwrap(), "--json"]);
    json(&svgp(&args));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&per_output).unwrap()).unwrap();
    assert_eq!(
        file["kernels"].as_array().unwrap().len(),
        2,
        "one kernel per output"
    );
}

/// Two targets with a non-Gaussian likelihood, or converted to a binary table, are refused with a
/// message.
#[test]
fn two_outputs_penguins_refusals() {
    let mut args = vec!["fit", "--likelihood", "student-t"];
    args.extend(TWO_TARGETS);
    let refused = svgp(&args);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && message.contains("Gaussian"),
        "{message}"
    );
    let binary = scratch("penguins.svgpb");
    let mut args = vec!["convert", "--out", binary.to_str().unwrap()];
    args.extend(TWO_TARGETS[..4].iter().copied());
    let refused = svgp(&args);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && message.contains("one target"),
        "{message}"
    );
}

//! `svgp convert` and `svgp fit` on binary tables through the binary: a seeded CSV converted,
//! streamed for two epochs, the model predicting; bad inputs refused with exit code 1 and the
//! file, line and column on stderr.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the binary from the workspace root, where `tests/data/` is.
fn svgp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svgp"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(args)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("svgp-stream-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A seeded CSV of `n` rows: three features U(−2, 2), y = sin x₁ + x₂/2 − x₃/5 + noise
/// (uniform, sd 0.1).
fn write_csv(path: &PathBuf, n: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::from("a,b,c,y\n");
    for _ in 0..n {
        let x: [f64; 3] = std::array::from_fn(|_| rng.random_range(-2.0..2.0));
        let e = 0.1 * 3f64.sqrt() * rng.random_range(-1.0..1.0);
        let y = x[0].sin() + 0.5 * x[1] - 0.2 * x[2] + e;
        text.push_str(&format!("{},{},{},{y}\n", x[0], x[1], x[2]));
    }
    std::fs::write(path, text).unwrap();
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cli_fits_a_binary_table_and_the_model_predicts() {
    let csv = scratch("cli.csv");
    write_csv(&csv, 3000, 6);
    let data = scratch("cli.svgpb");
    let (csv, data_s) = (csv.to_str().unwrap(), data.to_str().unwrap());
    ok(&svgp(&["convert", "--data", csv, "--out", data_s]));
    let model = scratch("cli_model.json");
    let model_s = model.to_str().unwrap();
    let out = svgp(&[
        "fit",
        "--data",
        data_s,
        "--epochs",
        "2",
        "--inducing",
        "15",
        "--json",
        "--output",
        model_s,
    ]);
    ok(&out);
    let fit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = fit["num_data"].as_u64().unwrap();
    assert!(
        (2600..2800).contains(&n),
        "about 90 % of 3000 rows train: {n}"
    );
    assert_eq!(fit["iterations"].as_u64(), Some(2 * n.div_ceil(256)));
    assert_eq!(fit["rows_trained"].as_u64(), Some(2 * n));
    assert!(fit["rows_per_second"].as_f64().unwrap() > 0.0);
    assert!(fit["test_rmse"].as_f64().unwrap() < 0.5, "{fit}");

    let inputs = scratch("cli_inputs.csv");
    std::fs::write(&inputs, "a,b,c\n0,0,0\n1,-1,0.5\n").unwrap();
    let out = svgp(&[
        "predict",
        "--model",
        model_s,
        "--data",
        inputs.to_str().unwrap(),
    ]);
    ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);

    // predict and evaluate stream the binary table: the same rows as the CSV, the same numbers
    // (each row's prediction does not depend on the chunking, up to rounding: 1e-12 relative).
    let lines = |out: &Output| String::from_utf8_lossy(&out.stdout).to_string();
    let from_binary = svgp(&["predict", "--model", model_s, "--data", data_s]);
    let from_csv = svgp(&["predict", "--model", model_s, "--data", csv]);
    ok(&from_binary);
    ok(&from_csv);
    let (b, c) = (lines(&from_binary), lines(&from_csv));
    assert_eq!(b.lines().count(), 3001);
    for (lb, lc) in b.lines().zip(c.lines()).skip(1) {
        let parse = |l: &str| -> Vec<f64> { l.split(',').map(|v| v.parse().unwrap()).collect() };
        for (x, y) in parse(lb).into_iter().zip(parse(lc)) {
            assert!((x - y).abs() <= 1e-12 * y.abs().max(1.0), "{lb} vs {lc}");
        }
    }
    let metrics = |data: &str| {
        let out = svgp(&["evaluate", "--model", model_s, "--data", data, "--json"]);
        ok(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (mb, mc) = (metrics(data_s), metrics(csv));
    for key in ["test_nlpd", "test_rmse"] {
        let (x, y) = (mb[key].as_f64().unwrap(), mc[key].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-12 * y.abs(), "{key}: {x} vs {y}");
    }

    // Options that only apply to CSV files are refused, naming the file.
    let out = svgp(&["fit", "--data", data_s, "--features", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cli.svgpb"));
}

/// A bad CSV given to `convert`: exit code 1, the location on stderr, nothing written.
#[test]
fn convert_refuses_a_bad_csv_naming_file_line_and_column() {
    let out_path = scratch("bad.svgpb");
    let run = svgp(&[
        "convert",
        "--data",
        "tests/data/bad/missing_value.csv",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("missing_value.csv, line 3, column 2"),
        "{stderr}"
    );
    assert!(!out_path.exists());
}

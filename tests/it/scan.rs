//! CSV files predicted and evaluated a chunk at a time (`tabular::predict_csv`,
//! `evaluate_csv`) give what reading the whole file gives, and a bad cell or label is reported
//! at its own line however the chunks fall.

use std::path::PathBuf;
use svgp::data::{read_csv, CsvOptions};
use svgp::prelude::*;
use svgp::tabular::{self, evaluate_csv, predict_csv};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model(path: &str, likelihood: LikelihoodChoice) -> SavedModel {
    let table = read_csv(root().join(path), None, None).unwrap();
    let options = FitOptions {
        likelihood,
        num_inducing: 10,
        iterations: 30,
        ..FitOptions::default()
    };
    tabular::fit(&table, &options, &mut []).unwrap().saved
}

/// Chunks of 7 rows (not dividing N = 200) against the whole file: the same predictions and
/// metrics up to rounding (1e-12 relative: each row's prediction is the same formula whatever
/// the chunk, and the pooled metrics are size-weighted means of the same terms; variances to
/// 1e-11 relative: the triangular product in σ² = kff − 2 kᵀ Φ(Q) k is blocked by the chunk's
/// width, and the subtraction cancels, measured 3.2e-12).
#[test]
fn chunked_predictions_and_metrics_equal_whole_file_ones() {
    let saved = model("datasets/snelson1d.csv", LikelihoodChoice::Gaussian);
    let path = root().join("datasets/snelson1d.csv");
    let table = read_csv(&path, None, None).unwrap();
    let (mean, var) = tabular::predict(&saved, &table.x).unwrap();
    let (mut means, mut vars): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    predict_csv(&saved, &CsvOptions::default(), &path, 7, |m, v| {
        means.extend(m.iter());
        vars.extend(v.iter());
        Ok(())
    })
    .unwrap();
    assert_eq!(means.len(), 200);
    for i in 0..200 {
        assert!((means[i] - mean[i]).abs() <= 1e-12 * mean[i].abs().max(1.0));
        assert!((vars[i] - var[i]).abs() <= 1e-11 * var[i]);
    }
    let whole = tabular::evaluate(&saved, &table.x, &table.y).unwrap();
    let (chunked, dropped) = evaluate_csv(&saved, &CsvOptions::default(), &path, 7).unwrap();
    assert_eq!((chunked.num_points, dropped), (200, 0));
    assert!((chunked.nlpd - whole.nlpd).abs() <= 1e-12 * whole.nlpd.abs());
    let (a, b) = (chunked.rmse.unwrap(), whole.rmse.unwrap());
    assert!((a - b).abs() <= 1e-12 * b);
}

/// A label outside the likelihood's domain in the 12th data row (line 13) is reported at that
/// line and the target's column, from the chunk holding it.
#[test]
fn a_bad_label_is_reported_at_its_line() {
    let saved = model("datasets/banana_400.csv", LikelihoodChoice::Bernoulli);
    let text = std::fs::read_to_string(root().join("datasets/banana_400.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[12] = lines[12]
        .rsplit_once(',')
        .map(|(x, _)| format!("{x},2"))
        .unwrap();
    let bad = std::env::temp_dir().join(format!("svgp-scan-{}.csv", std::process::id()));
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let err = evaluate_csv(&saved, &CsvOptions::default(), &bad, 5).unwrap_err();
    assert!(
        matches!(
            err,
            SvgpError::Csv {
                line: 13,
                column: 3,
                ..
            }
        ),
        "{err}"
    );
}

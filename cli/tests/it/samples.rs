//! `svgp predict --samples K --seed S`: K joint samples of y per output after the other
//! columns, the same for a seed, and a bad K (or a model or file it cannot serve) refused
//! naming `--samples`.

use super::cli::{refused, scratch, svgp};

/// Fits Snelson's data (M = 10, 50 iterations) once per call and returns the model's path.
fn snelson_model(name: &str) -> String {
    let model = scratch(name);
    let m = model.to_str().unwrap().to_string();
    let args = [
        "fit",
        "--data",
        "datasets/snelson1d.csv",
        "--inducing",
        "10",
    ];
    let out = svgp(&[&args[..], &["--iterations", "50", "--output", &m]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    m
}

/// `svgp predict` on Snelson's data with `extra` flags: standard output's lines.
fn predict(model: &str, extra: &[&str]) -> Vec<String> {
    let args = [
        "predict",
        "--model",
        model,
        "--data",
        "datasets/snelson1d.csv",
    ];
    let out = svgp(&[&args[..], extra].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().map(str::to_string).collect()
}

/// Three sample columns follow mean and variance, which are those of a plain `predict`
/// (the same text); every sample lies within 6 predictive standard deviations of its row's
/// mean (a N(0, 1) draw beyond 6 has probability 2e-9; a sample of the wrong scale or place
/// fails); the same seed writes the same file and another seed other samples.
#[test]
fn samples_are_written_beside_the_predictions_and_fixed_by_the_seed() {
    let model = snelson_model("samples.json");
    let plain = predict(&model, &[]);
    let sampled = predict(&model, &["--samples", "3", "--seed", "1"]);
    assert_eq!(sampled[0], "mean,variance,sample_1,sample_2,sample_3");
    assert_eq!((sampled.len(), plain.len()), (201, 201));
    for (row, base) in sampled.iter().zip(&plain).skip(1) {
        let fields: Vec<f64> = row.split(',').map(|v| v.parse().unwrap()).collect();
        assert!(
            row.starts_with(&format!("{base},")) && fields.len() == 5,
            "{row}"
        );
        let (mean, sd) = (fields[0], fields[1].sqrt());
        assert!(
            fields[2..].iter().all(|s| (s - mean).abs() < 6.0 * sd),
            "{row}"
        );
    }
    assert_eq!(sampled, predict(&model, &["--samples", "3", "--seed", "1"]));
    let other = predict(&model, &["--samples", "3", "--seed", "2"]);
    assert_ne!(sampled[1], other[1]);
    assert_eq!(
        sampled[1].split(',').take(2).collect::<Vec<_>>(),
        other[1].split(',').take(2).collect::<Vec<_>>()
    );
}

/// Two outputs get `<target>_sample_k` columns, output by output.
#[test]
fn several_outputs_get_named_sample_columns() {
    let data = scratch("two_outputs.csv");
    let rows: Vec<String> = (0..60)
        .map(|i| {
            let x = i as f64 / 10.0;
            format!("{x},{},{}", x.sin(), 5.0 * x.cos())
        })
        .collect();
    std::fs::write(&data, format!("x,y0,y1\n{}\n", rows.join("\n"))).unwrap();
    let (d, model) = (data.to_str().unwrap(), scratch("two_outputs.json"));
    let m = model.to_str().unwrap();
    let fit = ["fit", "--data", d, "--target", "y0,y1", "--inducing", "8"];
    assert!(
        svgp(&[&fit[..], &["--iterations", "20", "--output", m]].concat())
            .status
            .success()
    );
    let out = svgp(&["predict", "--model", m, "--data", d, "--samples", "2"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let header = "y0_mean,y0_variance,y1_mean,y1_variance,y0_sample_1,y0_sample_2,y1_sample_1,\
                  y1_sample_2";
    assert_eq!(text.lines().next(), Some(header));
    assert!(text.lines().skip(1).all(|l| l.split(',').count() == 8));
}

/// K = 0, a K whose samples outgrow the bound, a classifier (y has no joint Gaussian law) and
/// more than 20 000 rows are refused naming `--samples`, without a panic.
#[test]
fn bad_sample_requests_are_refused_naming_the_flag() {
    let model = snelson_model("samples_refused.json");
    let predict = [
        "predict",
        "--model",
        &model,
        "--data",
        "datasets/snelson1d.csv",
    ];
    refused(
        &[&predict[..], &["--samples", "0"]].concat(),
        &["--samples 0", "at least 1"],
    );
    let huge = [&predict[..], &["--samples", "10000000"]].concat();
    refused(&huge, &["--samples 10000000", "200 rows", "above"]);
    let big = scratch("big.csv");
    let rows: Vec<String> = (0..20_001)
        .map(|i| format!("{},0", i as f64 * 1e-3))
        .collect();
    std::fs::write(&big, format!("x,y\n{}\n", rows.join("\n"))).unwrap();
    let big_args = [
        "predict",
        "--model",
        &model,
        "--data",
        big.to_str().unwrap(),
    ];
    refused(
        &[&big_args[..], &["--samples", "1"]].concat(),
        &["--samples", "more than 20000 rows"],
    );
    let classifier = scratch("samples_banana.json");
    let c = classifier.to_str().unwrap();
    let fit = [
        "fit",
        "--data",
        "datasets/banana_400.csv",
        "--likelihood",
        "bernoulli",
    ];
    let out = svgp(
        &[
            &fit[..],
            &["--inducing", "5", "--iterations", "5", "--output", c],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = [
        "predict",
        "--model",
        c,
        "--data",
        "datasets/banana_400.csv",
        "--samples",
        "2",
    ];
    refused(&args, &["--samples", "Gaussian likelihood", "bernoulli"]);
}
